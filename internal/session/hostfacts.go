package session

import (
	"context"
	"fmt"
	"net/url"

	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/libvirt"
)

// IsRemoteURI reports whether the libvirt URI names a host (qemu+ssh://box/system), so
// this machine's facts cannot stand in for the VM host's.
func IsRemoteURI(uri string) bool { return RemoteHost(uri) != "" }

// RemoteHost is the host of a remote libvirt URI (qemu+ssh://HOST/system),
// "" for a local one.
func RemoteHost(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return ""
	}
	if h := u.Hostname(); h != "" {
		return h
	}
	return u.Host
}

// CapsConn is what a remote host's facts are read through; *libvirt.Conn
// has it.
type CapsConn interface {
	Capabilities(ctx context.Context) (string, error)
	DomainCapabilities(ctx context.Context, virtType string) (string, error)
	LibVersion(ctx context.Context) (uint64, error)
	HypervisorVersion(ctx context.Context) (uint64, error)
	Close() error
}

type CapsDialFunc func(ctx context.Context, uri string) (CapsConn, error)

func DialCaps(ctx context.Context, uri string) (CapsConn, error) {
	return libvirt.Dial(ctx, uri, libvirt.Options{})
}

// remoteFacts reads the facts of the host behind c from its libvirt
// capabilities (hostfacts.FromCapabilities), with the versions libvirt
// reports.
func remoteFacts(ctx context.Context, c CapsConn) (*hostfacts.Facts, error) {
	caps, err := c.Capabilities(ctx)
	if err != nil {
		return nil, err
	}
	f, err := hostfacts.FromCapabilities(caps, "")
	if err != nil {
		return nil, err
	}
	virtType := "qemu"
	if f.KVM {
		virtType = "kvm"
	}
	dcaps, err := c.DomainCapabilities(ctx, virtType)
	if err != nil {
		return nil, err
	}
	if f, err = hostfacts.FromCapabilities(caps, dcaps); err != nil {
		return nil, err
	}
	// Versions only refine messages; a failure leaves them unknown (0).
	f.LibvirtVersion, _ = c.LibVersion(ctx)
	f.QEMUVersion, _ = c.HypervisorVersion(ctx)
	return f, nil
}

// ProbeFunc reads host facts.
type ProbeFunc func(ctx context.Context) (*hostfacts.Facts, error)

// FactsProbe reads the facts of the VM host at uri: this machine for a
// local URI (local, which may skip what it does not need), the host
// behind a remote URI through its libvirt (dial).
func FactsProbe(uri string, local ProbeFunc, dial CapsDialFunc) ProbeFunc {
	if !IsRemoteURI(uri) {
		return local
	}
	return func(ctx context.Context) (*hostfacts.Facts, error) {
		c, err := dial(ctx, uri)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		f, err := remoteFacts(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("host facts of %s: %w", uri, err)
		}
		return f, nil
	}
}
