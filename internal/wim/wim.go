// Package wim reads the header and the XML metadata of a Windows imaging
// file (install.wim, or install.esd, whose XML is stored uncompressed
// too): the image count and the editions with their index, names,
// edition ID, architecture and version. It reads only the header and the
// XML resource, so it is fast on multi-GB files; it never decompresses.
//
// The files come from the internet: sizes and offsets are checked against
// the file and against fixed limits before anything is allocated.
package wim

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Layout of the header (PRODUCT.md §2.4).
const (
	headerSize     = 0xD0
	offImageCount  = 0x2C
	offXMLResource = 0x48 // 7-byte stored size, then the flags byte at 0x4F
	offXMLOffset   = 0x50
	offXMLOrigSize = 0x58
	offFlags       = 0x10
	offVersion     = 0x0C

	maxXMLBytes = 32 << 20
	maxImages   = 1 << 12
)

// Resource flags that mean the bytes are not the plain XML.
const (
	resCompressed = 0x04
	resSpanned    = 0x08
	resSolid      = 0x10
)

// Info is what the header and the XML say.
type Info struct {
	ImageCount  int       // from the header
	Compression string    // "none", "XPRESS", "LZX", "LZMS" or "XPRESS2"
	Solid       bool      // an ESD-style solid archive (version 0xE00)
	Editions    []Edition // one per IMAGE element, in index order
}

// Edition is one image of the file.
type Edition struct {
	Index        int      `json:"index"`
	Name         string   `json:"name"`
	DisplayName  string   `json:"displayName,omitempty"`
	Description  string   `json:"description,omitempty"`
	EditionID    string   `json:"editionId,omitempty"`
	Flags        string   `json:"flags,omitempty"`
	Architecture string   `json:"architecture,omitempty"`
	Version      string   `json:"version,omitempty"` // major.minor.build[.spbuild]
	Build        int      `json:"build,omitempty"`
	Languages    []string `json:"languages,omitempty"`
}

// Read parses the header and the XML metadata of a WIM/ESD of size bytes.
func Read(r io.ReaderAt, size int64) (*Info, error) {
	if size < headerSize {
		return nil, fmt.Errorf("wim: file of %d bytes is shorter than the %d-byte header", size, headerSize)
	}
	h := make([]byte, headerSize)
	if _, err := r.ReadAt(h, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("wim: read header: %w", err)
	}
	switch string(h[:8]) {
	case "MSWIM\x00\x00\x00":
	case "WLPWM\x00\x00\x00":
		return nil, errors.New("wim: a pipable WIM (WLPWM) keeps its XML at the end of a stream; not supported")
	default:
		return nil, fmt.Errorf("wim: not a WIM or ESD file (magic %q)", bytes.TrimRight(h[:8], "\x00"))
	}
	if hs := binary.LittleEndian.Uint32(h[8:12]); hs < headerSize {
		return nil, fmt.Errorf("wim: header size %d, expected at least %d", hs, headerSize)
	}
	info := &Info{
		ImageCount:  int(binary.LittleEndian.Uint32(h[offImageCount:])),
		Compression: compression(binary.LittleEndian.Uint32(h[offFlags:])),
		Solid:       binary.LittleEndian.Uint32(h[offVersion:]) == 0xE00,
	}
	if info.ImageCount > maxImages || info.ImageCount < 0 {
		return nil, fmt.Errorf("wim: header says %d images (limit %d)", info.ImageCount, maxImages)
	}
	var sz [8]byte
	copy(sz[:7], h[offXMLResource:offXMLResource+7])
	stored := binary.LittleEndian.Uint64(sz[:])
	flags := h[offXMLResource+7]
	off := binary.LittleEndian.Uint64(h[offXMLOffset:])
	orig := binary.LittleEndian.Uint64(h[offXMLOrigSize:])
	if flags&(resCompressed|resSpanned|resSolid) != 0 {
		return nil, fmt.Errorf("wim: the XML resource is stored compressed, spanned or solid (flags %#x); only plain XML is read", flags)
	}
	if stored == 0 {
		return nil, errors.New("wim: the header has no XML resource")
	}
	if stored != orig {
		return nil, fmt.Errorf("wim: XML resource sizes differ (stored %d, original %d) although it is not compressed", stored, orig)
	}
	if stored > maxXMLBytes {
		return nil, fmt.Errorf("wim: XML resource of %d bytes (limit %d)", stored, maxXMLBytes)
	}
	if off > uint64(size) || stored > uint64(size)-off {
		return nil, fmt.Errorf("wim: truncated file: XML resource at %d..%d is past its end (%d bytes)", off, off+stored, size)
	}
	raw := make([]byte, stored)
	if _, err := r.ReadAt(raw, int64(off)); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("wim: read XML resource: %w", err)
	}
	eds, err := ParseXML(raw)
	if err != nil {
		return nil, err
	}
	info.Editions = eds
	return info, nil
}

func compression(flags uint32) string {
	if flags&0x02 == 0 {
		return "none"
	}
	switch {
	case flags&0x00020000 != 0:
		return "XPRESS"
	case flags&0x00040000 != 0:
		return "LZX"
	case flags&0x00080000 != 0:
		return "LZMS"
	case flags&0x00200000 != 0:
		return "XPRESS2"
	}
	return "unknown"
}

type xmlWIM struct {
	Images []xmlImage `xml:"IMAGE"`
}

type xmlImage struct {
	Index              string `xml:"INDEX,attr"`
	Name               string `xml:"NAME"`
	Description        string `xml:"DESCRIPTION"`
	DisplayName        string `xml:"DISPLAYNAME"`
	DisplayDescription string `xml:"DISPLAYDESCRIPTION"`
	Flags              string `xml:"FLAGS"`
	Windows            struct {
		Arch      string `xml:"ARCH"`
		EditionID string `xml:"EDITIONID"`
		Version   struct {
			Major   string `xml:"MAJOR"`
			Minor   string `xml:"MINOR"`
			Build   string `xml:"BUILD"`
			SPBuild string `xml:"SPBUILD"`
		} `xml:"VERSION"`
		Languages struct {
			Language []string `xml:"LANGUAGE"`
		} `xml:"LANGUAGES"`
	} `xml:"WINDOWS"`
}

// ParseXML decodes the XML resource (UTF-16LE, with or without a byte
// order mark) into editions sorted by index.
func ParseXML(raw []byte) ([]Edition, error) {
	if len(raw)%2 != 0 {
		return nil, fmt.Errorf("wim: XML resource has an odd length %d (UTF-16LE expected)", len(raw))
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(raw[2*i:])
	}
	if len(u) > 0 && u[0] == 0xFEFF {
		u = u[1:]
	}
	text := string(utf16.Decode(u))
	var doc xmlWIM
	dec := xml.NewDecoder(strings.NewReader(text))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("wim: XML metadata: %w", err)
	}
	if len(doc.Images) == 0 {
		return nil, errors.New("wim: XML metadata lists no images")
	}
	if len(doc.Images) > maxImages {
		return nil, fmt.Errorf("wim: XML metadata lists %d images (limit %d)", len(doc.Images), maxImages)
	}
	seen := map[int]bool{}
	out := make([]Edition, 0, len(doc.Images))
	for i, im := range doc.Images {
		idx, err := strconv.Atoi(strings.TrimSpace(im.Index))
		if err != nil || idx < 1 {
			return nil, fmt.Errorf("wim: XML metadata: IMAGE %d has INDEX %q, not a positive number", i+1, im.Index)
		}
		if seen[idx] {
			return nil, fmt.Errorf("wim: XML metadata: INDEX %d appears twice", idx)
		}
		seen[idx] = true
		e := Edition{
			Index:        idx,
			Name:         strings.TrimSpace(im.Name),
			DisplayName:  strings.TrimSpace(im.DisplayName),
			Description:  strings.TrimSpace(im.Description),
			EditionID:    strings.TrimSpace(im.Windows.EditionID),
			Flags:        strings.TrimSpace(im.Flags),
			Architecture: arch(strings.TrimSpace(im.Windows.Arch)),
			Languages:    im.Windows.Languages.Language,
		}
		v := im.Windows.Version
		if v.Major != "" || v.Build != "" {
			parts := []string{cmpOr(v.Major, "0"), cmpOr(v.Minor, "0"), cmpOr(v.Build, "0")}
			if v.SPBuild != "" {
				parts = append(parts, v.SPBuild)
			}
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			e.Version = strings.Join(parts, ".")
			e.Build, _ = strconv.Atoi(strings.TrimSpace(v.Build))
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Edition) int { return a.Index - b.Index })
	return out, nil
}

func cmpOr(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}

// arch names the PROCESSOR_ARCHITECTURE numbers the XML uses.
func arch(s string) string {
	switch s {
	case "":
		return ""
	case "0":
		return "x86"
	case "5":
		return "arm"
	case "6":
		return "ia64"
	case "9":
		return "amd64"
	case "12":
		return "arm64"
	}
	return "unknown(" + s + ")"
}

// Find returns the edition with that name (case-insensitive, matching
// NAME or DISPLAYNAME), or an error that lists the editions there are.
func Find(eds []Edition, name string) (Edition, error) {
	for _, e := range eds {
		if strings.EqualFold(e.Name, name) {
			return e, nil
		}
	}
	for _, e := range eds {
		if e.DisplayName != "" && strings.EqualFold(e.DisplayName, name) {
			return e, nil
		}
	}
	return Edition{}, fmt.Errorf("edition %q is not in the image; it has: %s", name, List(eds))
}

// FindIndex returns the edition with that index, or an error listing them.
func FindIndex(eds []Edition, index int) (Edition, error) {
	for _, e := range eds {
		if e.Index == index {
			return e, nil
		}
	}
	return Edition{}, fmt.Errorf("image index %d is not in the image; it has: %s", index, List(eds))
}

// List names the editions as "1 \"Windows 11 Home\", 2 \"Windows 11 Pro\"".
func List(eds []Edition) string {
	parts := make([]string, len(eds))
	for i, e := range eds {
		parts[i] = fmt.Sprintf("%d %q", e.Index, e.Name)
	}
	return strings.Join(parts, ", ")
}
