package hostfacts

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// FromCapabilities makes Facts for a host known only through its libvirt
// (a remote connect URI): the CPU topology, KVM and hugepage pools from
// the capabilities XML (virsh capabilities), the OVMF code images from
// the domain capabilities XML of an x86_64 q35 guest (virsh
// domcapabilities). What those do not tell is listed in Facts.Unknown:
// virtiofsd, free hugepages, the firmware's vars templates, files on the
// host. Versions are not in either document; the caller asks the
// connection. domCapsXML may be empty (no firmware then).
func FromCapabilities(capsXML, domCapsXML string) (*Facts, error) {
	var caps libvirtxml.Caps
	if err := caps.Unmarshal(capsXML); err != nil {
		return nil, fmt.Errorf("parse libvirt capabilities: %w", err)
	}
	f := &Facts{Unknown: []string{UnknownVirtiofsd, UnknownFreeHugepages, UnknownFirmwareVars, UnknownHostFiles}}
	cpus, err := capsCPUs(&caps)
	if err != nil {
		return nil, err
	}
	f.CPUs = cpus
	f.KVM = capsKVM(&caps)
	f.HugepageSizesKiB, f.Hugepages = capsHugepages(&caps)
	if domCapsXML != "" {
		var dc libvirtxml.DomainCaps
		if err := dc.Unmarshal(domCapsXML); err != nil {
			return nil, fmt.Errorf("parse libvirt domain capabilities: %w", err)
		}
		f.Firmware = domCapsFirmware(&dc)
	}
	return f, nil
}

func capsCPUs(caps *libvirtxml.Caps) ([]CPU, error) {
	var out []CPU
	if n := caps.Host.NUMA; n != nil && n.Cells != nil {
		for _, cell := range n.Cells.Cells {
			if cell.CPUS == nil {
				continue
			}
			for _, c := range cell.CPUS.CPUs {
				cpu := CPU{ID: c.ID, Core: c.ID, Siblings: []int{c.ID}}
				if c.CoreID != nil {
					cpu.Core = *c.CoreID
				}
				if c.SocketID != nil {
					cpu.Socket = *c.SocketID
				}
				if c.Siblings != "" {
					sib, err := ParseCPUList(c.Siblings)
					if err != nil {
						return nil, fmt.Errorf("libvirt capabilities: cpu %d siblings: %w", c.ID, err)
					}
					if len(sib) > 0 {
						cpu.Siblings = sib
					}
				}
				out = append(out, cpu)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("libvirt capabilities list no host CPUs (host/topology/cells)")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// capsKVM: libvirt offers a kvm domain type for x86_64 guests only when
// /dev/kvm works.
func capsKVM(caps *libvirtxml.Caps) bool {
	for _, g := range caps.Guests {
		if g.OSType != "hvm" || g.Arch.Name != "x86_64" {
			continue
		}
		for _, d := range g.Arch.Domains {
			if d.Type == "kvm" {
				return true
			}
		}
	}
	return false
}

func pageKiB(size int, unit string) uint64 {
	switch strings.ToLower(unit) {
	case "", "kib", "k":
		return uint64(size)
	case "mib", "m":
		return uint64(size) << 10
	case "gib", "g":
		return uint64(size) << 20
	case "b", "bytes":
		return uint64(size) >> 10
	}
	return uint64(size)
}

// capsHugepages: the host CPU's page sizes except the base page, and per
// size the pages reserved over all NUMA cells. Free counts are not in the
// capabilities (see UnknownFreeHugepages).
func capsHugepages(caps *libvirtxml.Caps) ([]uint64, map[uint64]HugepagePool) {
	if caps.Host.CPU == nil {
		return nil, nil
	}
	var sizes []uint64
	for _, p := range caps.Host.CPU.PageSizes {
		sizes = append(sizes, pageKiB(p.Size, p.Unit))
	}
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)
	if len(sizes) < 2 {
		return nil, nil
	}
	sizes = sizes[1:] // the smallest is the base page
	pools := map[uint64]HugepagePool{}
	for _, s := range sizes {
		pools[s] = HugepagePool{}
	}
	if n := caps.Host.NUMA; n != nil && n.Cells != nil {
		for _, cell := range n.Cells.Cells {
			for _, pi := range cell.PageInfo {
				kib := pageKiB(pi.Size, pi.Unit)
				if p, ok := pools[kib]; ok {
					p.Total += pi.Count
					pools[kib] = p
				}
			}
		}
	}
	return sizes, pools
}

// domCapsFirmware picks the plain and the secure-boot OVMF code image from
// the loader paths libvirt lists (in its firmware descriptors' order).
// The vars templates are not listed, so they stay empty: rendering then
// lets libvirt choose code and vars by feature (enrolled keys for secure
// boot), which it can only do with descriptors that exist on the host.
func domCapsFirmware(dc *libvirtxml.DomainCaps) Firmware {
	var fw Firmware
	if dc.OS == nil || dc.OS.Loader == nil || dc.OS.Loader.Supported == "no" {
		return fw
	}
	secureOK := false
	for _, e := range dc.OS.Loader.Enums {
		if e.Name == "secure" && slices.Contains(e.Values, "yes") {
			secureOK = true
		}
	}
	for _, p := range dc.OS.Loader.Values {
		base := strings.ToLower(path.Base(p))
		switch {
		case strings.Contains(base, "snakeoil") || strings.Contains(base, "sev") ||
			strings.Contains(base, "tdx") || strings.Contains(base, "csm"):
			// test keys, confidential-computing and legacy builds: not for desktops
		case strings.Contains(base, "secboot") || strings.Contains(base, ".ms.") || strings.Contains(base, "secure"):
			if secureOK && fw.SecureBootCode == "" {
				fw.SecureBootCode = p
			}
		default:
			if fw.Code == "" {
				fw.Code = p
			}
		}
	}
	return fw
}
