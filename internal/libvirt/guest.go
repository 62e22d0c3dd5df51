package libvirt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// This file holds what the vm verbs need beyond reconcile's Client: the
// addresses a guest has (from its agent or the DHCP leases) and the
// balloon statistics period. They are methods of Conn and Fake, not of
// Client, so that Client stays the interface reconcile depends on; the
// vm verbs declare their own narrow interface.

// ErrNoAgent: the guest agent is not configured, not running in the
// guest or not answering.
var ErrNoAgent = errors.New("guest agent not available")

// AddressSource says where InterfaceAddresses looks.
type AddressSource int

const (
	// AddressesFromLease reads the DHCP leases of libvirt's own networks
	// (only NICs on a libvirt network such as "default" have one).
	AddressesFromLease AddressSource = iota
	// AddressesFromAgent asks the QEMU guest agent inside the guest.
	AddressesFromAgent
	// AddressesFromARP reads the host's ARP table.
	AddressesFromARP
)

func (s AddressSource) String() string {
	switch s {
	case AddressesFromLease:
		return "DHCP lease"
	case AddressesFromAgent:
		return "guest agent"
	case AddressesFromARP:
		return "ARP table"
	}
	return fmt.Sprintf("source %d", int(s))
}

// GuestInterface is one network interface as the guest (or a lease) sees it.
type GuestInterface struct {
	Name  string      `json:"name"`
	MAC   string      `json:"mac,omitempty"`
	Addrs []GuestAddr `json:"addrs,omitempty"`
}

// GuestAddr is one address of a GuestInterface.
type GuestAddr struct {
	IP     string `json:"ip"`
	Prefix int    `json:"prefix"`
	IPv6   bool   `json:"ipv6,omitempty"`
}

// InterfaceAddresses lists the guest's interfaces and addresses from src.
// With AddressesFromAgent, a missing or silent agent is ErrNoAgent.
func (c *Conn) InterfaceAddresses(ctx context.Context, name string, src AddressSource) ([]GuestInterface, error) {
	var ifaces []golibvirt.DomainInterface
	err := c.domainCall(ctx, "addresses ("+src.String()+") of domain", name, func(d golibvirt.Domain) (err error) {
		ifaces, err = c.l.DomainInterfaceAddresses(d, uint32(src), 0)
		return err
	})
	if err != nil {
		if src == AddressesFromAgent && isAgentError(err) {
			return nil, fmt.Errorf("%w: %w", ErrNoAgent, err)
		}
		return nil, err
	}
	out := make([]GuestInterface, 0, len(ifaces))
	for _, i := range ifaces {
		gi := GuestInterface{Name: i.Name}
		if len(i.Hwaddr) > 0 {
			gi.MAC = i.Hwaddr[0]
		}
		for _, a := range i.Addrs {
			gi.Addrs = append(gi.Addrs, GuestAddr{IP: a.Addr, Prefix: int(a.Prefix),
				IPv6: a.Type == int32(golibvirt.IPAddrTypeIpv6)})
		}
		out = append(out, gi)
	}
	return out, nil
}

// isAgentError tells libvirt's "no agent" answers apart from others: no
// agent channel in the domain, the agent not connected, or not answering.
func isAgentError(err error) bool {
	var le golibvirt.Error
	if !errors.As(err, &le) {
		return false
	}
	switch golibvirt.ErrorNumber(le.Code) {
	case golibvirt.ErrAgentUnresponsive, golibvirt.ErrAgentUnsynced,
		golibvirt.ErrArgumentUnsupported, golibvirt.ErrOperationUnsupported:
		return true
	}
	// libvirt 9 answers "QEMU guest agent is not connected" as an
	// invalid operation on a running domain.
	return golibvirt.ErrorNumber(le.Code) == golibvirt.ErrOperationInvalid && strings.Contains(strings.ToLower(le.Message), "agent")
}

// SetMemoryStatsPeriod sets how often (seconds) the balloon driver
// reports statistics; 0 turns them off.
func (c *Conn) SetMemoryStatsPeriod(ctx context.Context, name string, seconds int, scope MemoryScope) error {
	var flags golibvirt.DomainMemoryModFlags
	if scope&MemoryLive != 0 {
		flags |= golibvirt.DomainMemLive
	}
	if scope&MemoryConfig != 0 {
		flags |= golibvirt.DomainMemConfig
	}
	return c.domainCall(ctx, "set memory stats period of domain", name, func(d golibvirt.Domain) error {
		return c.l.DomainSetMemoryStatsPeriod(d, int32(seconds), flags)
	})
}
