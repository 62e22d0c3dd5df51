package macos

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// UDIF (.dmg) images end with a 512-byte "koly" trailer (big-endian):
// version 4, header size 512, the data fork's offset and length, the
// offset and length of the XML property list that maps the blocks, and
// the sector count.
const (
	kolySize    = 512
	maxPlistLen = 64 << 20
)

// UDIFTrailer is the part of the koly trailer deskvm checks.
type UDIFTrailer struct {
	Version        uint32
	DataForkOffset uint64
	DataForkLength uint64
	XMLOffset      uint64
	XMLLength      uint64
	SectorCount    uint64
	SegmentCount   uint32
}

// CheckUDIF reads the koly trailer at the end of a .dmg of size bytes and
// checks that its offsets lie inside the file and that the XML property
// list it points to is one (a plist with a blkx table).
func CheckUDIF(r io.ReaderAt, size int64) (UDIFTrailer, error) {
	var t UDIFTrailer
	if size < kolySize {
		return t, fmt.Errorf("udif: %d bytes is shorter than the %d-byte koly trailer", size, kolySize)
	}
	b := make([]byte, kolySize)
	if _, err := r.ReadAt(b, size-kolySize); err != nil && !errors.Is(err, io.EOF) {
		return t, fmt.Errorf("udif: read trailer: %w", err)
	}
	if string(b[0:4]) != "koly" {
		return t, fmt.Errorf("udif: no koly trailer in the last 512 bytes (magic %q): not a UDIF disk image or truncated", b[0:4])
	}
	be := binary.BigEndian
	t.Version = be.Uint32(b[4:8])
	if hs := be.Uint32(b[8:12]); hs != kolySize {
		return t, fmt.Errorf("udif: koly header size %d, want %d", hs, kolySize)
	}
	if t.Version != 4 {
		return t, fmt.Errorf("udif: koly version %d, want 4", t.Version)
	}
	t.DataForkOffset, t.DataForkLength = be.Uint64(b[0x18:]), be.Uint64(b[0x20:])
	t.SegmentCount = be.Uint32(b[0x3C:])
	t.XMLOffset, t.XMLLength = be.Uint64(b[0xD8:]), be.Uint64(b[0xE0:])
	t.SectorCount = be.Uint64(b[0x1EC:])
	body := uint64(size - kolySize)
	inside := func(off, n uint64) bool { return off <= body && n <= body-off }
	if !inside(t.DataForkOffset, t.DataForkLength) {
		return t, fmt.Errorf("udif: data fork %d+%d runs past the trailer at %d: truncated image", t.DataForkOffset, t.DataForkLength, body)
	}
	if t.XMLLength == 0 {
		return t, errors.New("udif: no XML property list (blkx table)")
	}
	if !inside(t.XMLOffset, t.XMLLength) {
		return t, fmt.Errorf("udif: XML property list %d+%d runs past the trailer at %d: truncated image", t.XMLOffset, t.XMLLength, body)
	}
	if t.XMLLength > maxPlistLen {
		return t, fmt.Errorf("udif: XML property list of %d bytes (limit %d)", t.XMLLength, maxPlistLen)
	}
	if t.SectorCount == 0 {
		return t, errors.New("udif: sector count is 0")
	}
	if t.SegmentCount > 1 {
		return t, fmt.Errorf("udif: a segmented image (%d segments) is not supported", t.SegmentCount)
	}
	head := make([]byte, min(t.XMLLength, 4096))
	if _, err := r.ReadAt(head, int64(t.XMLOffset)); err != nil && !errors.Is(err, io.EOF) {
		return t, fmt.Errorf("udif: read XML property list: %w", err)
	}
	s := string(head)
	if !strings.Contains(s, "<plist") {
		return t, errors.New("udif: the XML the trailer points to is not a property list")
	}
	tail := make([]byte, min(t.XMLLength, 64<<10))
	if _, err := r.ReadAt(tail, int64(t.XMLOffset+t.XMLLength)-int64(len(tail))); err != nil && !errors.Is(err, io.EOF) {
		return t, fmt.Errorf("udif: read XML property list: %w", err)
	}
	if !strings.Contains(s, "blkx") && !strings.Contains(string(tail), "blkx") {
		return t, errors.New("udif: the property list has no blkx table")
	}
	return t, nil
}
