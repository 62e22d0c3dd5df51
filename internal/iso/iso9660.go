package iso

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// iso9660 is the primary tree (names from Rock Ridge when the image has
// it) or the Joliet tree of an ISO 9660 image.
type iso9660 struct {
	im       *Image
	joliet   bool
	rr       bool // Rock Ridge NM entries are used for names
	rrSkip   int  // SUSP bytes to skip at the start of each system use area
	rootNode *node
}

const (
	maxCE     = 16   // SUSP continuation areas followed per record
	maxCELen  = 8192 // bytes of one continuation area
	maxRRName = 1024 // bytes of a Rock Ridge name
)

func open9660(im *Image, vd []byte, joliet bool) (*iso9660, error) {
	if bs := le16(vd[128:130]); bs != sectorSize {
		return nil, fmt.Errorf("logical block size %d is not supported (only %d)", bs, sectorSize)
	}
	rec := vd[156 : 156+34]
	if rec[0] < 34 {
		return nil, fmt.Errorf("root directory record has length %d (< 34)", rec[0])
	}
	t := &iso9660{im: im, joliet: joliet}
	root, err := t.recordNode(rec, "")
	if err != nil {
		return nil, fmt.Errorf("root directory: %w", err)
	}
	if !root.dir {
		return nil, errors.New("root directory record is not a directory")
	}
	t.rootNode = root
	if !joliet {
		t.detectRockRidge()
	}
	return t, nil
}

func (t *iso9660) kind() string {
	switch {
	case t.joliet:
		return "Joliet"
	case t.rr:
		return "Rock Ridge"
	}
	return "ISO 9660"
}

func (t *iso9660) root() (*node, error) { return t.rootNode, nil }

func (t *iso9660) resolve(*node) error { return nil }

// detectRockRidge looks for the SUSP "SP" entry in the root's "." record.
func (t *iso9660) detectRockRidge() {
	first := t.rootNode.extents[0]
	if t.rootNode.size < 34 {
		return
	}
	b, err := t.im.read(first.diskOff, 255)
	if err != nil {
		return
	}
	l := int(b[0])
	if l < 34 || int(b[32]) != 1 {
		return
	}
	su := systemUse(b[:l])
	if len(su) >= 7 && su[0] == 'S' && su[1] == 'P' && su[4] == 0xBE && su[5] == 0xEF {
		t.rr = true
		t.rrSkip = int(su[6])
	}
}

// systemUse is the part of a directory record after the name.
func systemUse(rec []byte) []byte {
	nameLen := int(rec[32])
	start := 33 + nameLen
	if nameLen%2 == 0 {
		start++
	}
	if start >= len(rec) {
		return nil
	}
	return rec[start:]
}

// recordNode makes a node of one directory record (length already checked).
func (t *iso9660) recordNode(rec []byte, name string) (*node, error) {
	lba := int64(le32(rec[2:6]))
	size := int64(le32(rec[10:14]))
	flags := rec[25]
	off := lba * sectorSize
	if off > t.im.size || size > t.im.size-off {
		return nil, fmt.Errorf("extent of %q (block %d, %d bytes) is past the end of the image (%d bytes)", name, lba, size, t.im.size)
	}
	n := &node{name: name, dir: flags&0x02 != 0, size: size, resolved: true}
	n.extents = []extent{{fileOff: 0, diskOff: off, length: size}}
	return n, nil
}

func (t *iso9660) list(dir *node) ([]*node, error) {
	data, err := t.im.readExtents(dir, maxDirBytes)
	if err != nil {
		return nil, err
	}
	var out []*node
	var multi *node // a file whose previous record had the multi-extent flag
	for pos := 0; pos < len(data); {
		l := int(data[pos])
		if l == 0 {
			pos = (pos/sectorSize + 1) * sectorSize // records do not cross sectors
			continue
		}
		if l < 34 || pos+l > len(data) {
			return nil, fmt.Errorf("directory record at byte %d has length %d (must be 34..%d)", pos, l, len(data)-pos)
		}
		rec := data[pos : pos+l]
		pos += l
		nameLen := int(rec[32])
		if 33+nameLen > l {
			return nil, fmt.Errorf("directory record at byte %d: name of %d bytes does not fit in %d", pos-l, nameLen, l)
		}
		raw := rec[33 : 33+nameLen]
		if nameLen == 1 && (raw[0] == 0 || raw[0] == 1) {
			continue // "." and ".."
		}
		name, err := t.name(rec, raw)
		if err != nil {
			return nil, fmt.Errorf("directory record at byte %d: %w", pos-l, err)
		}
		n, err := t.recordNode(rec, name)
		if err != nil {
			return nil, err
		}
		if multi != nil && multi.name == name {
			if len(multi.extents) >= maxExtents {
				return nil, fmt.Errorf("%q has more than %d extents", name, maxExtents)
			}
			e := n.extents[0]
			e.fileOff = multi.size
			multi.extents = append(multi.extents, e)
			multi.size += n.size
		} else {
			if len(out) >= maxDirEntries {
				return nil, fmt.Errorf("directory has more than %d entries", maxDirEntries)
			}
			out = append(out, n)
			multi = n
		}
		if rec[25]&0x80 == 0 {
			multi = nil
		}
	}
	return out, nil
}

func (t *iso9660) name(rec, raw []byte) (string, error) {
	if t.joliet {
		return ucs2BE(raw), nil
	}
	if t.rr {
		nm, err := t.rockRidgeName(rec)
		if err != nil {
			return "", err
		}
		if nm != "" {
			return nm, nil
		}
	}
	s := string(raw)
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(s, "."), nil
}

// rockRidgeName collects the NM entries of a record's system use area,
// following CE continuation areas a bounded number of times.
func (t *iso9660) rockRidgeName(rec []byte) (string, error) {
	su := systemUse(rec)
	if t.rrSkip > 0 {
		if t.rrSkip >= len(su) {
			return "", nil
		}
		su = su[t.rrSkip:]
	}
	var name []byte
	for hops := 0; ; hops++ {
		var ce []byte
		for len(su) >= 4 {
			l := int(su[2])
			if l < 4 || l > len(su) {
				break
			}
			e := su[:l]
			su = su[l:]
			switch string(e[:2]) {
			case "NM":
				if l >= 5 && e[4]&0x06 == 0 { // not "." / ".."
					name = append(name, e[5:]...)
					if len(name) > maxRRName {
						return "", fmt.Errorf("rock ridge name longer than %d bytes", maxRRName)
					}
				}
			case "CE":
				if l >= 28 {
					ce = e
				}
			case "ST":
				su = nil
			}
		}
		if ce == nil {
			break
		}
		if hops >= maxCE {
			return "", fmt.Errorf("more than %d rock ridge continuation areas", maxCE)
		}
		block, off, length := int64(le32(ce[4:8])), int64(le32(ce[12:16])), int64(le32(ce[20:24]))
		if length > maxCELen {
			return "", fmt.Errorf("rock ridge continuation area of %d bytes (limit %d)", length, maxCELen)
		}
		b, err := t.im.read(block*sectorSize+off, int(length))
		if err != nil {
			return "", fmt.Errorf("rock ridge continuation area: %w", err)
		}
		su = b
	}
	return string(name), nil
}

func ucs2BE(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	s := string(utf16.Decode(u))
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	return s
}
