// Package vmctl is the logic behind the daily-use verbs (deskvm vm NAME
// VERB, vm-NAME VERB): start, stop with a deadline, status, memory
// statistics and balloon changes, the SSH endpoint of a guest, and the
// viewer and console command lines. It talks to libvirt through the
// narrow Libvirt interface below; reading a domain's XML and choosing an
// address are pure functions. Printing is left to internal/cli.
package vmctl

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/deskvm/deskvm/internal/domainxml"
)

// DomainInfo is what the verbs read from one domain XML document.
type DomainInfo struct {
	MaxMemoryKiB     uint64 // <memory>
	CurrentMemoryKiB uint64 // <currentMemory>: the balloon target
	VCPUs            int
	// Pinning maps a vCPU to its host CPU set (empty: not pinned).
	Pinning     map[int]string
	EmulatorPin string
	// Balloon: a memballoon device other than model none.
	Balloon bool
	// StatsPeriod is the balloon statistics period in seconds (0: off).
	StatsPeriod int
	Hugepages   bool
	Displays    []Display
	// LookingGlass: the domain has the Looking Glass shared memory device.
	LookingGlass bool
	NICs         []NIC
	// Forwards are the host ports forwarded to the guest, from libvirt's
	// <portForward> or from deskvm's QEMU user-mode netdev (hostfwd).
	Forwards []Forward
	// SerialPTY is the host pty of the first serial port of a running
	// domain ("" when none).
	SerialPTY string
	// Managed: the domain carries deskvm's metadata.
	Managed    bool
	ConfigHash string
}

// Display is a graphics server of the domain.
type Display struct {
	Type   string // vnc, spice
	Listen string
	Port   int // 0 or -1 until a running domain has one
}

// URI is the address a viewer connects to (vnc://host:port), empty while
// the port is not known.
func (d Display) URI() string {
	if d.Port <= 0 {
		return ""
	}
	host := d.Listen
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("%s://%s", d.Type, net.JoinHostPort(host, strconv.Itoa(d.Port)))
}

// NIC is a network card of the domain.
type NIC struct {
	MAC string
	// Mode is user, network, bridge, … (libvirt's interface type); "user"
	// also for deskvm's own QEMU user-mode NIC.
	Mode string
}

// Forward is one host-to-guest port forward of user-mode networking.
type Forward struct {
	Protocol  string // tcp, udp
	HostAddr  string
	HostPort  int
	GuestPort int
}

// Inspect reads a domain XML document (live or inactive).
func Inspect(doc string) (DomainInfo, error) {
	var d libvirtxml.Domain
	if err := d.Unmarshal(doc); err != nil {
		return DomainInfo{}, fmt.Errorf("parse domain xml: %w", err)
	}
	info := DomainInfo{Pinning: map[int]string{}}
	if d.Memory != nil {
		info.MaxMemoryKiB = toKiB(uint64(d.Memory.Value), d.Memory.Unit)
	}
	if d.CurrentMemory != nil {
		info.CurrentMemoryKiB = toKiB(uint64(d.CurrentMemory.Value), d.CurrentMemory.Unit)
	} else {
		info.CurrentMemoryKiB = info.MaxMemoryKiB
	}
	if d.VCPU != nil {
		info.VCPUs = int(d.VCPU.Value)
		if d.VCPU.CPUSet != "" {
			for i := 0; i < info.VCPUs; i++ {
				info.Pinning[i] = d.VCPU.CPUSet
			}
		}
	}
	if d.CPUTune != nil {
		for _, p := range d.CPUTune.VCPUPin {
			info.Pinning[int(p.VCPU)] = p.CPUSet
		}
		if d.CPUTune.EmulatorPin != nil {
			info.EmulatorPin = d.CPUTune.EmulatorPin.CPUSet
		}
	}
	info.Hugepages = d.MemoryBacking != nil && d.MemoryBacking.MemoryHugePages != nil
	if d.Devices != nil {
		inspectDevices(d.Devices, &info)
	}
	if d.QEMUCommandline != nil {
		var args []string
		for _, a := range d.QEMUCommandline.Args {
			args = append(args, a.Value)
		}
		inspectQEMUArgs(args, &info)
	}
	md, ok, err := domainxml.ParseMetadata(doc)
	if err != nil {
		return DomainInfo{}, err
	}
	info.Managed = ok && md.ManagedBy == domainxml.ManagedBy
	info.ConfigHash = md.ConfigHash
	return info, nil
}

func inspectDevices(dv *libvirtxml.DomainDeviceList, info *DomainInfo) {
	if b := dv.MemBalloon; b != nil && b.Model != "" && b.Model != "none" {
		info.Balloon = true
		if b.Stats != nil {
			info.StatsPeriod = int(b.Stats.Period)
		}
	}
	for _, g := range dv.Graphics {
		switch {
		case g.VNC != nil:
			info.Displays = append(info.Displays, Display{Type: "vnc", Listen: listenOf(g.VNC.Listen, g.VNC.Listeners), Port: g.VNC.Port})
		case g.Spice != nil:
			info.Displays = append(info.Displays, Display{Type: "spice", Listen: listenOf(g.Spice.Listen, g.Spice.Listeners), Port: g.Spice.Port})
		}
	}
	for _, i := range dv.Interfaces {
		n := NIC{}
		if i.MAC != nil {
			n.MAC = strings.ToLower(i.MAC.Address)
		}
		if s := i.Source; s != nil {
			switch {
			case s.User != nil:
				n.Mode = "user"
			case s.Network != nil:
				n.Mode = "network"
			case s.Bridge != nil:
				n.Mode = "bridge"
			default:
				n.Mode = "other"
			}
		}
		info.NICs = append(info.NICs, n)
		for _, pf := range i.PortForward {
			addr := pf.Address
			for _, r := range pf.Ranges {
				if r.End != 0 && r.End != r.Start {
					continue // a range, not one port: not an SSH endpoint
				}
				to := r.To
				if to == 0 {
					to = r.Start
				}
				info.Forwards = append(info.Forwards, Forward{Protocol: pf.Proto, HostAddr: addr, HostPort: int(r.Start), GuestPort: int(to)})
			}
		}
	}
	for _, m := range dv.Shmems {
		if m.Name == domainxml.LookingGlassShmem {
			info.LookingGlass = true
		}
	}
	for _, s := range dv.Serials {
		if s.Source != nil && s.Source.Pty != nil && s.Source.Pty.Path != "" {
			info.SerialPTY = s.Source.Pty.Path
			break
		}
	}
}

func listenOf(attr string, ls []libvirtxml.DomainGraphicListener) string {
	for _, l := range ls {
		if l.Address != nil && l.Address.Address != "" {
			return l.Address.Address
		}
	}
	return attr
}

// inspectQEMUArgs finds the user-mode NIC that deskvm's renderer passes
// to QEMU directly (-netdev user,…,hostfwd=… and a -device with its MAC),
// because libvirt 9 without passt cannot forward ports itself.
func inspectQEMUArgs(args []string, info *DomainInfo) {
	userNetdevs := map[string]bool{}
	for i := 0; i+1 < len(args); i++ {
		if args[i] != "-netdev" {
			continue
		}
		opts := strings.Split(args[i+1], ",")
		if opts[0] != "user" {
			continue
		}
		for _, o := range opts[1:] {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "id":
				userNetdevs[v] = true
			case "hostfwd":
				if f, ok := parseHostfwd(v); ok {
					info.Forwards = append(info.Forwards, f)
				}
			}
		}
	}
	for i := 0; i+1 < len(args); i++ {
		if args[i] != "-device" {
			continue
		}
		netdev, mac := deviceNetdev(args[i+1])
		if netdev != "" && userNetdevs[netdev] {
			info.NICs = append(info.NICs, NIC{MAC: strings.ToLower(mac), Mode: "user"})
		}
	}
}

// parseHostfwd reads QEMU's hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport.
func parseHostfwd(v string) (Forward, bool) {
	host, guest, ok := strings.Cut(v, "-")
	if !ok {
		return Forward{}, false
	}
	hp := strings.Split(host, ":")
	if len(hp) != 3 {
		return Forward{}, false
	}
	proto := hp[0]
	if proto == "" {
		proto = "tcp"
	}
	hport, err1 := strconv.Atoi(hp[2])
	gi := strings.LastIndex(guest, ":")
	if gi < 0 {
		return Forward{}, false
	}
	gport, err2 := strconv.Atoi(guest[gi+1:])
	if err1 != nil || err2 != nil {
		return Forward{}, false
	}
	return Forward{Protocol: proto, HostAddr: hp[1], HostPort: hport, GuestPort: gport}, true
}

// deviceNetdev reads netdev and mac from a -device argument in either
// QEMU syntax: JSON ({"driver":…,"netdev":…}) or key=value.
func deviceNetdev(arg string) (netdev, mac string) {
	if strings.HasPrefix(arg, "{") {
		var dev struct {
			Netdev string `json:"netdev"`
			MAC    string `json:"mac"`
		}
		if json.Unmarshal([]byte(arg), &dev) != nil {
			return "", ""
		}
		return dev.Netdev, dev.MAC
	}
	for _, kv := range strings.Split(arg, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "netdev":
			netdev = v
		case "mac":
			mac = v
		}
	}
	return netdev, mac
}

// SSHForward is the forward to guest TCP port 22, if any.
func (i DomainInfo) SSHForward() (Forward, bool) {
	return i.ForwardTo(22)
}

// ForwardTo is the TCP forward to a guest port, if any.
func (i DomainInfo) ForwardTo(guestPort int) (Forward, bool) {
	for _, f := range i.Forwards {
		if f.GuestPort == guestPort && (f.Protocol == "" || f.Protocol == "tcp") {
			return f, true
		}
	}
	return Forward{}, false
}

// UserNet reports whether the domain has a QEMU user-mode NIC.
func (i DomainInfo) UserNet() bool {
	for _, n := range i.NICs {
		if n.Mode == "user" {
			return true
		}
	}
	return false
}

// MACs are the domain's NIC MAC addresses, lower case.
func (i DomainInfo) MACs() []string {
	var out []string
	for _, n := range i.NICs {
		if n.MAC != "" {
			out = append(out, n.MAC)
		}
	}
	return out
}

// PinningText is the vCPU pinning for people: "not pinned" or
// "vcpu0→2 vcpu1→3".
func (i DomainInfo) PinningText() string {
	if len(i.Pinning) == 0 {
		return "not pinned"
	}
	ids := make([]int, 0, len(i.Pinning))
	for v := range i.Pinning {
		ids = append(ids, v)
	}
	sort.Ints(ids)
	parts := make([]string, 0, len(ids))
	for _, v := range ids {
		parts = append(parts, fmt.Sprintf("vcpu%d→%s", v, i.Pinning[v]))
	}
	return strings.Join(parts, " ")
}

var unitBytes = map[string]uint64{
	"": 1 << 10, "b": 1, "bytes": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// toKiB converts a libvirt memory value (unit empty means KiB).
func toKiB(v uint64, unit string) uint64 {
	m, ok := unitBytes[strings.ToLower(unit)]
	if !ok {
		m = 1 << 10
	}
	return v * m / 1024
}
