// Package iso reads files out of optical-disc images — ISO 9660 (with
// Joliet and Rock Ridge names) and UDF — through an io.ReaderAt, without
// mounting them and without external tools. Windows install media keep
// their files on UDF (the ISO 9660 side may hold only a readme), so a
// lookup tries UDF first, then Joliet, then the primary ISO 9660 tree.
//
// The images come from the internet: every length and offset read from
// the image is checked against the image and against fixed limits, so a
// truncated or hostile image gives an error, never a panic or a large
// allocation.
package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
)

const sectorSize = 2048

// Limits on what one image may make the reader allocate or walk.
const (
	maxDirBytes   = 16 << 20 // one directory's records
	maxDirEntries = 1 << 16
	maxExtents    = 1 << 14 // allocation extents of one file
	maxPathDepth  = 64
	maxVDSectors  = 256 // volume descriptors scanned from sector 16
)

// ErrNotExist is returned (wrapped) when a path is on no filesystem of the
// image; errors.Is(err, fs.ErrNotExist) holds too.
var ErrNotExist = fs.ErrNotExist

// FileInfo describes one file or directory of the image.
type FileInfo struct {
	Name       string // as recorded (Joliet, Rock Ridge or UDF name when present)
	Size       int64
	IsDir      bool
	Filesystem string // "UDF", "Joliet", "Rock Ridge" or "ISO 9660"
}

// Image is an opened disc image.
type Image struct {
	r     io.ReaderAt
	size  int64
	label string
	trees []tree // lookup order
}

// tree is one filesystem of the image.
type tree interface {
	kind() string
	root() (*node, error)
	list(dir *node) ([]*node, error)
	// resolve fills size and extents of a node found by list.
	resolve(n *node) error
}

type node struct {
	name     string
	dir      bool
	size     int64
	extents  []extent
	inline   []byte // UDF data embedded in the file entry
	resolved bool
	icb      longAD // UDF: where the file entry is
}

// extent maps [fileOff, fileOff+length) of a file to diskOff in the image;
// a zero extent reads as zeros (UDF allocated-but-unrecorded space).
type extent struct {
	fileOff, diskOff, length int64
	zero                     bool
}

// Open reads the volume descriptors of an image of the given size.
func Open(r io.ReaderAt, size int64) (*Image, error) {
	im := &Image{r: r, size: size}
	if size < 17*sectorSize {
		return nil, fmt.Errorf("not an ISO 9660 or UDF image: %d bytes is shorter than the volume descriptors at 32 KiB", size)
	}
	var primary, joliet []byte
	hasUDF := false
	for i := 0; i < maxVDSectors; i++ {
		off := int64(16+i) * sectorSize
		if off+sectorSize > size {
			break
		}
		b, err := im.read(off, sectorSize)
		if err != nil {
			return nil, err
		}
		id := string(b[1:6])
		if id == "CD001" {
			switch b[0] {
			case 1:
				if primary == nil {
					primary = b
				}
			case 2:
				esc := string(b[88:91])
				if joliet == nil && (esc == "%/@" || esc == "%/C" || esc == "%/E") {
					joliet = b
				}
			}
			continue
		}
		if id == "BEA01" {
			continue
		}
		if id == "NSR02" || id == "NSR03" {
			hasUDF = true
			continue
		}
		break // TEA01 or anything else ends the recognition sequence
	}
	var errs []error
	if hasUDF {
		u, err := openUDF(im)
		if err != nil {
			errs = append(errs, err)
		} else {
			im.trees = append(im.trees, u)
			im.label = u.label
		}
	}
	if joliet != nil {
		t, err := open9660(im, joliet, true)
		if err != nil {
			errs = append(errs, fmt.Errorf("joliet: %w", err))
		} else {
			im.trees = append(im.trees, t)
		}
	}
	if primary != nil {
		t, err := open9660(im, primary, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("iso 9660: %w", err))
		} else {
			im.trees = append(im.trees, t)
		}
		if im.label == "" {
			im.label = strings.TrimRight(string(primary[40:72]), " \x00")
		}
	}
	if len(im.trees) == 0 {
		if len(errs) > 0 {
			return nil, fmt.Errorf("no readable filesystem in the image: %w", errors.Join(errs...))
		}
		return nil, errors.New("not an ISO 9660 or UDF image: no volume descriptor at sector 16")
	}
	return im, nil
}

// OpenFile opens the image at path; close the returned file when done.
func OpenFile(path string) (*Image, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	im, err := Open(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return im, f, nil
}

// VolumeLabel is the UDF volume identifier, or the ISO 9660 one.
func (im *Image) VolumeLabel() string { return im.label }

// Filesystems names the filesystems found, in lookup order.
func (im *Image) Filesystems() []string {
	var out []string
	for _, t := range im.trees {
		out = append(out, t.kind())
	}
	return out
}

// read returns n bytes at off, or an error naming the missing range.
// Callers bound n.
func (im *Image) read(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > im.size || int64(n) > im.size-off {
		return nil, fmt.Errorf("truncated image: bytes %d..%d are past its end (%d bytes)", off, off+int64(n), im.size)
	}
	b := make([]byte, n)
	if _, err := im.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
		return nil, fmt.Errorf("read image at %d: %w", off, err)
	}
	return b, nil
}

// readExtents reads a whole (small) file or directory through its extents.
func (im *Image) readExtents(n *node, limit int64) ([]byte, error) {
	if n.size > limit || n.size > im.size {
		return nil, fmt.Errorf("%q is %d bytes, more than the %d this reader accepts", n.name, n.size, limit)
	}
	if n.inline != nil {
		return n.inline, nil
	}
	f := &File{im: im, size: n.size, extents: n.extents}
	b := make([]byte, n.size)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

func splitPath(p string) ([]string, error) {
	var parts []string
	for _, s := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		switch s {
		case ".":
			continue
		case "..":
			return nil, fmt.Errorf("path %q: '..' is not supported", p)
		}
		parts = append(parts, s)
	}
	if len(parts) > maxPathDepth {
		return nil, fmt.Errorf("path %q is deeper than %d", p, maxPathDepth)
	}
	return parts, nil
}

// walk finds a path in one tree, comparing names case-insensitively.
func walk(t tree, parts []string) (*node, error) {
	n, err := t.root()
	if err != nil {
		return nil, err
	}
	for i, part := range parts {
		if !n.dir {
			return nil, fmt.Errorf("%s: %w", strings.Join(parts[:i], "/"), fs.ErrNotExist)
		}
		kids, err := t.list(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Join(parts[:i], "/")+"/", err)
		}
		var next *node
		for _, k := range kids {
			if strings.EqualFold(k.name, part) {
				next = k
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("%s: %w", strings.Join(parts[:i+1], "/"), fs.ErrNotExist)
		}
		n = next
	}
	if err := t.resolve(n); err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(parts, "/"), err)
	}
	return n, nil
}

// lookup tries each tree in order and returns the first hit. A tree that
// is damaged on the way counts as a miss when another tree has the file.
func (im *Image) lookup(p string) (*node, tree, error) {
	parts, err := splitPath(p)
	if err != nil {
		return nil, nil, err
	}
	var firstErr error
	for _, t := range im.trees {
		n, err := walk(t, parts)
		if err == nil {
			return n, t, nil
		}
		if firstErr == nil || (errors.Is(firstErr, fs.ErrNotExist) && !errors.Is(err, fs.ErrNotExist)) {
			firstErr = err
		}
	}
	if errors.Is(firstErr, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	return nil, nil, firstErr
}

// Stat describes the file or directory at path p ("/" separated, or "\";
// case-insensitive).
func (im *Image) Stat(p string) (FileInfo, error) {
	n, t, err := im.lookup(p)
	if err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Name: n.name, Size: n.size, IsDir: n.dir, Filesystem: t.kind()}, nil
}

// ReadDir lists the directory at p, sorted by name, from the first
// filesystem that has it.
func (im *Image) ReadDir(p string) ([]FileInfo, error) {
	n, t, err := im.lookup(p)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, fmt.Errorf("%s: not a directory", p)
	}
	kids, err := t.list(n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	out := make([]FileInfo, 0, len(kids))
	for _, k := range kids {
		if !k.dir {
			if err := t.resolve(k); err != nil {
				return nil, fmt.Errorf("%s/%s: %w", p, k.name, err)
			}
		}
		out = append(out, FileInfo{Name: k.name, Size: k.size, IsDir: k.dir, Filesystem: t.kind()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Open returns the file at p for random access.
func (im *Image) Open(p string) (*File, error) {
	n, t, err := im.lookup(p)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, fmt.Errorf("%s: is a directory", p)
	}
	return &File{im: im, info: FileInfo{Name: n.name, Size: n.size, Filesystem: t.kind()}, size: n.size, extents: n.extents, inline: n.inline}, nil
}

// File is a file of the image; it reads through its extents on demand.
type File struct {
	im      *Image
	info    FileInfo
	size    int64
	extents []extent
	inline  []byte
}

// Stat describes the file.
func (f *File) Stat() FileInfo { return f.info }

// Size is the file's length in bytes.
func (f *File) Size() int64 { return f.size }

// ReadAt implements io.ReaderAt over the file's extents.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= f.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > f.size-off {
		p = p[:f.size-off]
	}
	if f.inline != nil {
		n := copy(p, f.inline[off:])
		if n < want {
			return n, io.EOF
		}
		return n, nil
	}
	// First extent that ends after off.
	i := sort.Search(len(f.extents), func(i int) bool {
		e := f.extents[i]
		return e.fileOff+e.length > off
	})
	done := 0
	for done < len(p) {
		if i >= len(f.extents) {
			return done, fmt.Errorf("file offset %d is not covered by any extent", off+int64(done))
		}
		e := f.extents[i]
		pos := off + int64(done)
		if pos < e.fileOff {
			return done, fmt.Errorf("file offset %d is not covered by any extent", pos)
		}
		in := pos - e.fileOff
		n := len(p) - done
		if int64(n) > e.length-in {
			n = int(e.length - in)
		}
		chunk := p[done : done+n]
		if e.zero {
			clear(chunk)
		} else {
			d := e.diskOff + in
			if d+int64(n) > f.im.size {
				return done, fmt.Errorf("truncated image: file data at %d..%d is past its end (%d bytes)", d, d+int64(n), f.im.size)
			}
			if _, err := f.im.r.ReadAt(chunk, d); err != nil && !errors.Is(err, io.EOF) {
				return done, fmt.Errorf("read image at %d: %w", d, err)
			}
		}
		done += n
		i++
	}
	if done < want {
		return done, io.EOF
	}
	return done, nil
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
