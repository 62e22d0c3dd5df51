package vmctl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/deskvm/deskvm/internal/libvirt"
)

// UserNetSubnet is the guest network of QEMU user-mode networking (slirp),
// which the host cannot route to: a guest there is reached through a
// host port forward only.
var UserNetSubnet = netip.MustParsePrefix("10.0.2.0/24")

// GuestAddress is one usable guest address and where it was seen.
type GuestAddress struct {
	Addr netip.Addr
	// Iface is the guest's interface name (eth0, enp1s0, …).
	Iface string
	MAC   string
	// OnVMNIC: the interface's MAC is one of the VM's NICs (and not, say,
	// a container bridge inside the guest).
	OnVMNIC bool
	// UserNet: the address is on a QEMU user-mode NIC, unreachable from
	// the host.
	UserNet bool
}

// GuestAddresses picks the usable addresses from what the guest agent or
// a lease reports, best first: addresses on the VM's own NICs (by MAC)
// before others, IPv4 before IPv6, otherwise in the guest's order.
// Loopback (127.0.0.1, ::1), link-local (169.254/16, fe80::/10),
// unspecified and multicast addresses are skipped: the first of them is
// what a naive "first address" picks, and none reaches the guest.
func GuestAddresses(ifaces []libvirt.GuestInterface, info DomainInfo) []GuestAddress {
	vmMAC := map[string]string{} // MAC -> NIC mode
	for _, n := range info.NICs {
		if n.MAC != "" {
			vmMAC[strings.ToLower(n.MAC)] = n.Mode
		}
	}
	var out []GuestAddress
	for _, i := range ifaces {
		mac := strings.ToLower(i.MAC)
		mode, onNIC := vmMAC[mac]
		for _, a := range i.Addrs {
			ip, err := netip.ParseAddr(a.IP)
			if err != nil || !usable(ip) {
				continue
			}
			ip = ip.Unmap()
			ga := GuestAddress{Addr: ip, Iface: i.Name, MAC: mac, OnVMNIC: onNIC}
			switch {
			case onNIC:
				ga.UserNet = mode == "user"
			case len(vmMAC) == 0 || mac == "":
				// Nothing to match on: judge by the address.
				ga.UserNet = info.UserNet() && UserNetSubnet.Contains(ip)
			default:
				ga.UserNet = false
			}
			out = append(out, ga)
		}
	}
	rank := func(g GuestAddress) int {
		r := 0
		if !g.OnVMNIC {
			r += 2
		}
		if !g.Addr.Is4() {
			r++
		}
		return r
	}
	// A stable insertion sort keeps the guest's order within a rank.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && rank(out[j]) < rank(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func usable(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast() &&
		!ip.IsUnspecified() && !ip.IsMulticast() && !ip.IsInterfaceLocalMulticast()
}

// Endpoint is where the host reaches a guest port.
type Endpoint struct {
	Host string
	Port int
	// Via says how it was found, for people (ssh -v, error messages).
	Via string
}

// Addr is host:port.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// AddressLister is what Resolve needs from libvirt.
type AddressLister interface {
	InterfaceAddresses(ctx context.Context, name string, src libvirt.AddressSource) ([]libvirt.GuestInterface, error)
}

// Resolve finds where the host reaches guest TCP port guestPort of the
// running domain name (info read from its live XML):
//
//  1. the guest agent's addresses (GuestAddresses order); the first one
//     the host can reach directly wins;
//  2. an address on a QEMU user-mode NIC (10.0.2.15, say) is not
//     reachable from the host, so it stands for the port forward to
//     guestPort, on the forward's host address (127.0.0.1 by default);
//  3. without an agent: the DHCP lease of a NIC on a libvirt network;
//  4. without either: the port forward of a user-mode NIC.
func Resolve(ctx context.Context, lv AddressLister, name string, info DomainInfo, guestPort int) (Endpoint, error) {
	var notes []string
	fwd, hasFwd := info.ForwardTo(guestPort)
	viaForward := func(why string) (Endpoint, error) {
		if !hasFwd {
			return Endpoint{}, fmt.Errorf("vm %s: %s, and the VM has no port forward to guest port %d; add one, e.g. portForwards: [{host: 2222, guest: %d}]",
				name, why, guestPort, guestPort)
		}
		host := fwd.HostAddr
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		return Endpoint{Host: host, Port: fwd.HostPort,
			Via: fmt.Sprintf("%s; using the port forward %s to guest port %d", why, net.JoinHostPort(host, strconv.Itoa(fwd.HostPort)), guestPort)}, nil
	}

	ifaces, err := lv.InterfaceAddresses(ctx, name, libvirt.AddressesFromAgent)
	switch {
	case err == nil:
		addrs := GuestAddresses(ifaces, info)
		var behindNAT *GuestAddress
		for i, a := range addrs {
			if a.UserNet {
				if behindNAT == nil {
					behindNAT = &addrs[i]
				}
				continue
			}
			return Endpoint{Host: a.Addr.String(), Port: guestPort,
				Via: fmt.Sprintf("guest agent: %s on %s (%s)", a.Addr, a.Iface, macOrUnknown(a.MAC))}, nil
		}
		if behindNAT != nil {
			return viaForward(fmt.Sprintf("guest agent: %s on %s is on QEMU user networking, which the host cannot reach", behindNAT.Addr, behindNAT.Iface))
		}
		notes = append(notes, "guest agent: no address besides loopback and link-local")
	case errors.Is(err, libvirt.ErrNoAgent):
		notes = append(notes, "guest agent: not available (is qemu-guest-agent installed and running in the guest?)")
	default:
		return Endpoint{}, err
	}

	if leases, err := lv.InterfaceAddresses(ctx, name, libvirt.AddressesFromLease); err == nil {
		for _, a := range GuestAddresses(leases, info) {
			if !a.UserNet {
				return Endpoint{Host: a.Addr.String(), Port: guestPort,
					Via: fmt.Sprintf("DHCP lease: %s (%s); %s", a.Addr, macOrUnknown(a.MAC), notes[0])}, nil
			}
		}
		notes = append(notes, "DHCP lease: none")
	} else {
		notes = append(notes, "DHCP lease: "+err.Error())
	}

	if info.UserNet() {
		return viaForward(strings.Join(append(notes, "the VM is on QEMU user networking"), "; "))
	}
	return Endpoint{}, fmt.Errorf("vm %s: no address to reach the guest: %s", name, strings.Join(notes, "; "))
}

func macOrUnknown(mac string) string {
	if mac == "" {
		return "MAC unknown"
	}
	return "MAC " + mac
}
