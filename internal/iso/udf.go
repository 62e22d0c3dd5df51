package iso

import (
	"errors"
	"fmt"
	"unicode/utf16"
)

// udf is the UDF filesystem of an image (ECMA-167 with the OSTA UDF
// profile; type 1 partition maps, as on DVD-ROM media and Windows ISOs).
type udf struct {
	im        *Image
	parts     []udfPartition // by partition reference number
	rootICB   longAD
	label     string
	rootCache *node
}

type udfPartition struct {
	number uint16
	start  int64 // first sector
	length int64 // sectors
}

// longAD is a UDF long allocation descriptor's address part.
type longAD struct {
	length  uint32
	block   uint32
	partRef uint16
}

// UDF descriptor tag identifiers.
const (
	tagPVD   = 1
	tagAVDP  = 2
	tagVDP   = 3
	tagPD    = 5
	tagLVD   = 6
	tagTD    = 8
	tagFSD   = 256
	tagFID   = 257
	tagAED   = 258
	tagFE    = 261
	tagEFE   = 266
	maxVDS   = 512     // sectors of a volume descriptor sequence
	maxAEDs  = 1 << 12 // allocation extent descriptors followed per file
	maxMaps  = 64      // partition maps
	udfBlock = sectorSize
)

func parseLongAD(b []byte) longAD {
	return longAD{length: le32(b[0:4]), block: le32(b[4:8]), partRef: le16(b[8:10])}
}

// checkTag verifies a descriptor tag's identifier and checksum.
func checkTag(b []byte, want uint16) error {
	if len(b) < 16 {
		return errors.New("descriptor shorter than its tag")
	}
	var sum byte
	for i := 0; i < 16; i++ {
		if i != 4 {
			sum += b[i]
		}
	}
	if sum != b[4] {
		return fmt.Errorf("descriptor tag checksum %#x, computed %#x", b[4], sum)
	}
	if id := le16(b[0:2]); id != want {
		return fmt.Errorf("descriptor tag %d, want %d", id, want)
	}
	return nil
}

func openUDF(im *Image) (*udf, error) {
	var errs []error
	last := im.size/sectorSize - 1
	for _, sec := range []int64{256, last - 256, last} {
		if sec < 0 {
			continue
		}
		u, err := openUDFAnchor(im, sec)
		if err == nil {
			return u, nil
		}
		errs = append(errs, fmt.Errorf("anchor at sector %d: %w", sec, err))
	}
	return nil, fmt.Errorf("udf: %w", errors.Join(errs...))
}

func openUDFAnchor(im *Image, sec int64) (*udf, error) {
	b, err := im.read(sec*sectorSize, 512)
	if err != nil {
		return nil, err
	}
	if err := checkTag(b, tagAVDP); err != nil {
		return nil, fmt.Errorf("anchor volume descriptor pointer: %w", err)
	}
	var errs []error
	for _, ext := range [][]byte{b[16:24], b[24:32]} { // main, then reserve sequence
		u, err := readVDS(im, int64(le32(ext[4:8])), int64(le32(ext[0:4])))
		if err == nil {
			return u, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func readVDS(im *Image, loc, length int64) (*udf, error) {
	n := (length + sectorSize - 1) / sectorSize
	if n > maxVDS {
		return nil, fmt.Errorf("volume descriptor sequence of %d sectors (limit %d)", n, maxVDS)
	}
	u := &udf{im: im}
	var lvd []byte
	var pds [][]byte
	for i := int64(0); i < n; i++ {
		b, err := im.read((loc+i)*sectorSize, sectorSize)
		if err != nil {
			return nil, fmt.Errorf("volume descriptor sequence: %w", err)
		}
		id := le16(b[0:2])
		if err := checkTag(b, id); err != nil {
			return nil, fmt.Errorf("volume descriptor at sector %d: %w", loc+i, err)
		}
		switch id {
		case tagPVD:
			u.label = dstring(b[24:56])
		case tagPD:
			pds = append(pds, b)
		case tagLVD:
			lvd = b
		case tagTD:
			i = n
		case tagVDP:
			return nil, errors.New("volume descriptor pointers (continued sequences) are not supported")
		}
	}
	if lvd == nil {
		return nil, errors.New("no logical volume descriptor")
	}
	if bs := le32(lvd[212:216]); bs != udfBlock {
		return nil, fmt.Errorf("logical block size %d is not supported (only %d)", bs, udfBlock)
	}
	if u.label == "" {
		u.label = dstring(lvd[84:212])
	}
	fsd := parseLongAD(lvd[248:264])
	mapLen, nMaps := le32(lvd[264:268]), le32(lvd[268:272])
	if nMaps == 0 || nMaps > maxMaps || mapLen > sectorSize-440 {
		return nil, fmt.Errorf("logical volume has %d partition maps in %d bytes", nMaps, mapLen)
	}
	maps := lvd[440 : 440+mapLen]
	for i := uint32(0); i < nMaps; i++ {
		if len(maps) < 2 || int(maps[1]) < 2 || int(maps[1]) > len(maps) {
			return nil, fmt.Errorf("partition map %d is truncated", i)
		}
		typ, l := maps[0], int(maps[1])
		if typ != 1 || l != 6 {
			return nil, fmt.Errorf("partition map %d has type %d: only type 1 maps (UDF 1.02, as on install DVDs) are supported", i, typ)
		}
		num := le16(maps[4:6])
		var pd []byte
		for _, p := range pds {
			if le16(p[22:24]) == num {
				pd = p
			}
		}
		if pd == nil {
			return nil, fmt.Errorf("no partition descriptor for partition %d", num)
		}
		start, length := int64(le32(pd[188:192])), int64(le32(pd[192:196]))
		if start*sectorSize > im.size {
			return nil, fmt.Errorf("partition %d starts at sector %d, past the end of the image", num, start)
		}
		u.parts = append(u.parts, udfPartition{number: num, start: start, length: length})
		maps = maps[l:]
	}
	b, err := u.block(fsd.partRef, fsd.block)
	if err != nil {
		return nil, fmt.Errorf("file set descriptor: %w", err)
	}
	if err := checkTag(b, tagFSD); err != nil {
		return nil, fmt.Errorf("file set descriptor: %w", err)
	}
	u.rootICB = parseLongAD(b[400:416])
	return u, nil
}

// addr is the byte offset of a block of a partition, checked.
func (u *udf) addr(partRef uint16, block uint32) (int64, error) {
	if int(partRef) >= len(u.parts) {
		return 0, fmt.Errorf("partition reference %d (the volume has %d)", partRef, len(u.parts))
	}
	p := u.parts[partRef]
	if int64(block) >= p.length {
		return 0, fmt.Errorf("block %d is outside partition %d (%d blocks)", block, p.number, p.length)
	}
	return (p.start + int64(block)) * sectorSize, nil
}

func (u *udf) block(partRef uint16, block uint32) ([]byte, error) {
	off, err := u.addr(partRef, block)
	if err != nil {
		return nil, err
	}
	return u.im.read(off, sectorSize)
}

func (u *udf) kind() string { return "UDF" }

func (u *udf) root() (*node, error) {
	if u.rootCache == nil {
		n := &node{name: "", dir: true, icb: u.rootICB}
		if err := u.resolve(n); err != nil {
			return nil, fmt.Errorf("udf root directory: %w", err)
		}
		u.rootCache = n
	}
	return u.rootCache, nil
}

// resolve reads a file entry: size, type and allocation descriptors.
func (u *udf) resolve(n *node) error {
	if n.resolved {
		return nil
	}
	b, err := u.block(n.icb.partRef, n.icb.block)
	if err != nil {
		return fmt.Errorf("file entry: %w", err)
	}
	id := le16(b[0:2])
	if id != tagFE && id != tagEFE {
		return fmt.Errorf("file entry: descriptor tag %d, want %d or %d", id, tagFE, tagEFE)
	}
	if err := checkTag(b, id); err != nil {
		return fmt.Errorf("file entry: %w", err)
	}
	if strategy := le16(b[20:22]); strategy != 4 {
		return fmt.Errorf("file entry: ICB strategy %d is not supported (only 4)", strategy)
	}
	fileType := b[27]
	adType := le16(b[34:36]) & 7
	size := le64(b[56:64])
	var eaLen, adLen uint32
	var adStart int
	if id == tagFE {
		eaLen, adLen, adStart = le32(b[168:172]), le32(b[172:176]), 176
	} else {
		eaLen, adLen, adStart = le32(b[208:212]), le32(b[212:216]), 216
	}
	if uint64(eaLen)+uint64(adLen) > uint64(sectorSize-adStart) {
		return fmt.Errorf("file entry: extended attributes (%d) and allocation descriptors (%d) do not fit in a block", eaLen, adLen)
	}
	if size > uint64(u.im.size) && adType != 3 {
		return fmt.Errorf("file entry: size %d is larger than the image (%d bytes)", size, u.im.size)
	}
	ads := b[adStart+int(eaLen) : adStart+int(eaLen)+int(adLen)]
	n.dir = fileType == 4
	n.size = int64(size)
	switch adType {
	case 3: // data embedded in the entry
		if size > uint64(len(ads)) {
			return fmt.Errorf("file entry: embedded data of %d bytes in %d", size, len(ads))
		}
		n.inline = append([]byte{}, ads[:size]...)
	case 0, 1:
		exts, err := u.extents(ads, adType, n.icb.partRef, int64(size))
		if err != nil {
			return err
		}
		n.extents = exts
	default:
		return fmt.Errorf("file entry: allocation descriptor type %d is not supported", adType)
	}
	n.resolved = true
	return nil
}

// extents walks short (0) or long (1) allocation descriptors, following
// allocation extent descriptors, until size bytes are covered.
func (u *udf) extents(ads []byte, adType uint16, partRef uint16, size int64) ([]extent, error) {
	adSize := 8
	if adType == 1 {
		adSize = 16
	}
	var out []extent
	var pos int64
	for hops := 0; pos < size; {
		if len(ads) < adSize {
			return nil, fmt.Errorf("allocation descriptors cover %d of %d bytes", pos, size)
		}
		d := ads[:adSize]
		ads = ads[adSize:]
		raw := le32(d[0:4])
		typ, length := raw>>30, int64(raw&0x3FFFFFFF)
		block, part := le32(d[4:8]), partRef
		if adType == 1 {
			part = le16(d[8:10])
		}
		if length == 0 {
			return nil, fmt.Errorf("allocation descriptors end after %d of %d bytes", pos, size)
		}
		if typ == 3 { // next extent of allocation descriptors
			hops++
			if hops > maxAEDs {
				return nil, fmt.Errorf("more than %d allocation extent descriptors", maxAEDs)
			}
			b, err := u.block(part, block)
			if err != nil {
				return nil, fmt.Errorf("allocation extent descriptor: %w", err)
			}
			if err := checkTag(b, tagAED); err != nil {
				return nil, fmt.Errorf("allocation extent descriptor: %w", err)
			}
			l := le32(b[20:24])
			if l > sectorSize-24 {
				return nil, fmt.Errorf("allocation extent descriptor holds %d bytes (limit %d)", l, sectorSize-24)
			}
			ads = b[24 : 24+l]
			continue
		}
		if len(out) >= maxExtents {
			return nil, fmt.Errorf("more than %d extents", maxExtents)
		}
		if length > size-pos {
			length = size - pos
		}
		e := extent{fileOff: pos, length: length, zero: typ != 0}
		if !e.zero {
			off, err := u.addr(part, block)
			if err != nil {
				return nil, fmt.Errorf("extent at file offset %d: %w", pos, err)
			}
			if off+length > u.im.size {
				return nil, fmt.Errorf("truncated image: extent at file offset %d (image bytes %d..%d) is past its end (%d bytes)", pos, off, off+length, u.im.size)
			}
			e.diskOff = off
		}
		out = append(out, e)
		pos += length
	}
	return out, nil
}

func (u *udf) list(dir *node) ([]*node, error) {
	if err := u.resolve(dir); err != nil {
		return nil, err
	}
	data, err := u.im.readExtents(dir, maxDirBytes)
	if err != nil {
		return nil, err
	}
	var out []*node
	for pos := 0; pos < len(data); {
		if len(data)-pos < 38 {
			break // padding at the end of the directory
		}
		b := data[pos:]
		if err := checkTag(b, tagFID); err != nil {
			return nil, fmt.Errorf("file identifier at byte %d: %w", pos, err)
		}
		chars, lfi, liu := b[18], int(b[19]), int(le16(b[36:38]))
		total := (38 + liu + lfi + 3) &^ 3
		if 38+liu+lfi > len(b) {
			return nil, fmt.Errorf("file identifier at byte %d: %d bytes of names in %d", pos, liu+lfi, len(b)-38)
		}
		pos += min(total, len(b))
		if chars&0x0C != 0 { // deleted or parent
			continue
		}
		name, err := dchars(b[38+liu : 38+liu+lfi])
		if err != nil {
			return nil, fmt.Errorf("file identifier at byte %d: %w", pos, err)
		}
		if len(out) >= maxDirEntries {
			return nil, fmt.Errorf("directory has more than %d entries", maxDirEntries)
		}
		out = append(out, &node{name: name, dir: chars&0x02 != 0, icb: parseLongAD(b[20:36])})
	}
	return out, nil
}

// dchars decodes an OSTA compressed Unicode name (8 or 16 bits per char).
func dchars(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	switch b[0] {
	case 8:
		r := make([]rune, len(b)-1)
		for i, c := range b[1:] {
			r[i] = rune(c)
		}
		return string(r), nil
	case 16:
		u := make([]uint16, (len(b)-1)/2)
		for i := range u {
			u[i] = uint16(b[1+2*i])<<8 | uint16(b[2+2*i])
		}
		return string(utf16.Decode(u)), nil
	}
	return "", fmt.Errorf("name compression id %d is not 8 or 16", b[0])
}

// dstring decodes a fixed-size dstring (length in the last byte).
func dstring(b []byte) string {
	l := int(b[len(b)-1])
	if l == 0 || l > len(b)-1 {
		return ""
	}
	s, err := dchars(b[:l])
	if err != nil {
		return ""
	}
	return s
}
