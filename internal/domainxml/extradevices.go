package domainxml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// deviceElements are the children libvirt accepts inside <devices>.
var deviceElements = map[string]bool{
	"disk": true, "controller": true, "lease": true, "filesystem": true,
	"interface": true, "smartcard": true, "serial": true, "parallel": true,
	"console": true, "channel": true, "input": true, "tpm": true,
	"graphics": true, "sound": true, "audio": true, "video": true,
	"hostdev": true, "redirdev": true, "redirfilter": true, "hub": true,
	"watchdog": true, "memballoon": true, "rng": true, "nvram": true,
	"panic": true, "shmem": true, "memory": true, "iommu": true,
	"vsock": true, "crypto": true, "pstore": true,
}

// ParseExtraDevices reads a fragment of device elements (the
// extraDevices option) into libvirtxml structs. It fails on malformed
// XML, on elements that are not devices, and on anything libvirtxml would
// silently drop, so that what reaches libvirt is what the user wrote.
func ParseExtraDevices(fragment string) (*libvirtxml.DomainDeviceList, error) {
	wrapped := "<devices>" + fragment + "</devices>"
	orig, err := xmlFacts(wrapped)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(strings.NewReader(wrapped))
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && (!deviceElements[t.Name.Local] || t.Name.Space != "") {
				line, _ := dec.InputPos()
				return nil, fmt.Errorf("line %d: <%s> is not a libvirt device element", line, t.Name.Local)
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 1 && strings.TrimSpace(string(t)) != "" {
				return nil, fmt.Errorf("text %q outside a device element", strings.TrimSpace(string(t)))
			}
		}
	}
	var list libvirtxml.DomainDeviceList
	if err := xml.Unmarshal([]byte(wrapped), &list); err != nil {
		return nil, fmt.Errorf("parse devices: %w", err)
	}
	// Round-trip check: every element and attribute the user wrote must
	// survive; libvirtxml ignores what it does not know.
	var out strings.Builder
	enc := xml.NewEncoder(&out)
	if err := enc.EncodeElement(&list, xml.StartElement{Name: xml.Name{Local: "devices"}}); err != nil {
		return nil, fmt.Errorf("marshal devices: %w", err)
	}
	if err := enc.Flush(); err != nil {
		return nil, fmt.Errorf("marshal devices: %w", err)
	}
	back, err := xmlFacts(out.String())
	if err != nil {
		return nil, err
	}
	var lost []string
	for k, n := range orig {
		if back[k] < n {
			lost = append(lost, k)
		}
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		return nil, fmt.Errorf("not understood (would be dropped): %s", strings.Join(lost, ", "))
	}
	return &list, nil
}

// xmlFacts counts element paths, attributes (with values) and non-blank
// text (with its value) of a document, to compare two documents without
// caring about element order or formatting.
func xmlFacts(doc string) (map[string]int, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	facts := map[string]int{}
	var stack []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return facts, nil
		}
		if err != nil {
			line, _ := dec.InputPos()
			return nil, fmt.Errorf("malformed xml at line %d: %w", line, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			p := strings.Join(stack, "/")
			facts[p]++
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				facts[p+"@"+a.Name.Local+"="+a.Value]++
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if s := strings.TrimSpace(string(t)); s != "" && len(stack) > 0 {
				facts[strings.Join(stack, "/")+"#"+s]++
			}
		}
	}
}

// mergeDevices appends every device of extra to dst. Single-instance
// devices (memballoon, nvram, vsock, pstore) in extra replace deskvm's.
func mergeDevices(dst, extra *libvirtxml.DomainDeviceList) {
	dst.Disks = append(dst.Disks, extra.Disks...)
	dst.Controllers = append(dst.Controllers, extra.Controllers...)
	dst.Leases = append(dst.Leases, extra.Leases...)
	dst.Filesystems = append(dst.Filesystems, extra.Filesystems...)
	dst.Interfaces = append(dst.Interfaces, extra.Interfaces...)
	dst.Smartcards = append(dst.Smartcards, extra.Smartcards...)
	dst.Serials = append(dst.Serials, extra.Serials...)
	dst.Parallels = append(dst.Parallels, extra.Parallels...)
	dst.Consoles = append(dst.Consoles, extra.Consoles...)
	dst.Channels = append(dst.Channels, extra.Channels...)
	dst.Inputs = append(dst.Inputs, extra.Inputs...)
	dst.TPMs = append(dst.TPMs, extra.TPMs...)
	dst.Graphics = append(dst.Graphics, extra.Graphics...)
	dst.Sounds = append(dst.Sounds, extra.Sounds...)
	dst.Audios = append(dst.Audios, extra.Audios...)
	dst.Videos = append(dst.Videos, extra.Videos...)
	dst.Hostdevs = append(dst.Hostdevs, extra.Hostdevs...)
	dst.RedirDevs = append(dst.RedirDevs, extra.RedirDevs...)
	dst.RedirFilters = append(dst.RedirFilters, extra.RedirFilters...)
	dst.Hubs = append(dst.Hubs, extra.Hubs...)
	dst.Watchdogs = append(dst.Watchdogs, extra.Watchdogs...)
	dst.RNGs = append(dst.RNGs, extra.RNGs...)
	dst.Panics = append(dst.Panics, extra.Panics...)
	dst.Shmems = append(dst.Shmems, extra.Shmems...)
	dst.Memorydevs = append(dst.Memorydevs, extra.Memorydevs...)
	dst.IOMMUs = append(dst.IOMMUs, extra.IOMMUs...)
	dst.Crypto = append(dst.Crypto, extra.Crypto...)
	if extra.MemBalloon != nil {
		dst.MemBalloon = extra.MemBalloon
	}
	if extra.NVRAM != nil {
		dst.NVRAM = extra.NVRAM
	}
	if extra.VSock != nil {
		dst.VSock = extra.VSock
	}
	if extra.PStore != nil {
		dst.PStore = extra.PStore
	}
	if extra.IOMMU != nil && len(extra.IOMMUs) == 0 {
		dst.IOMMUs = append(dst.IOMMUs, *extra.IOMMU)
	}
}
