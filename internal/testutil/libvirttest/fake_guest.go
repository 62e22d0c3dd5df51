package libvirttest

import (
	"context"
	"fmt"
	"github.com/deskvm/deskvm/internal/libvirt"
)

// fakeGuest is the Fake's view of what is inside its running guests.
type fakeGuest struct {
	addrs       map[libvirt.AddressSource][]libvirt.GuestInterface
	stats       map[string]uint64
	statsPeriod int
}

func (f *Fake) guest(name string) *fakeGuest {
	if f.guests == nil {
		f.guests = map[string]*fakeGuest{}
	}
	g := f.guests[name]
	if g == nil {
		g = &fakeGuest{addrs: map[libvirt.AddressSource][]libvirt.GuestInterface{}}
		f.guests[name] = g
	}
	return g
}

// SetGuestAddresses sets what InterfaceAddresses returns for a domain and
// source. With AddressesFromAgent and nil, the agent is absent.
func (f *Fake) SetGuestAddresses(name string, src libvirt.AddressSource, ifaces []libvirt.GuestInterface) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.guest(name).addrs[src] = ifaces
}

// SetMemoryStats sets what MemoryStats returns for a running domain
// (instead of the fixed actual/rss pair).
func (f *Fake) SetMemoryStats(name string, stats map[string]uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.guest(name).stats = stats
}

// InterfaceAddresses implements the vm verbs' address lookup.
func (f *Fake) InterfaceAddresses(ctx context.Context, name string, src libvirt.AddressSource) ([]libvirt.GuestInterface, error) {
	d, err := f.Domain(ctx, name)
	if err != nil {
		return nil, err
	}
	op := fmt.Sprintf("addresses (%s) of domain %q", src, name)
	if !d.Active {
		return nil, fmt.Errorf("%s: %w: domain is not running", op, libvirt.ErrInvalid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ifaces := f.guest(name).addrs[src]
	if src == libvirt.AddressesFromAgent && ifaces == nil {
		return nil, fmt.Errorf("%s: %w: QEMU guest agent is not connected", op, libvirt.ErrNoAgent)
	}
	return append([]libvirt.GuestInterface(nil), ifaces...), nil
}

// SetMemoryStatsPeriod implements the vm verbs' statistics period change.
func (f *Fake) SetMemoryStatsPeriod(ctx context.Context, name string, seconds int, scope libvirt.MemoryScope) error {
	return f.domainChange("SetMemoryStatsPeriod", name, fmt.Sprintf("%ds", seconds), func(d *libvirt.Domain) error {
		if scope&libvirt.MemoryLive != 0 && !d.Active {
			return fmt.Errorf("%w: domain is not running", libvirt.ErrInvalid)
		}
		return nil
	}).andThen(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.guest(name).statsPeriod = seconds
	})
}
