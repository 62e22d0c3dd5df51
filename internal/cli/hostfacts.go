package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/libvirt"
)

// isRemoteURI: the libvirt URI names a host (qemu+ssh://box/system), so
// this machine's facts cannot stand in for the VM host's.
func isRemoteURI(uri string) bool { return remoteHost(uri) != "" }

// remoteHost is the host of a remote libvirt URI (qemu+ssh://HOST/system),
// "" for a local one.
func remoteHost(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return ""
	}
	if h := u.Hostname(); h != "" {
		return h
	}
	return u.Host
}

// capsConn is what a remote host's facts are read through; *libvirt.Conn
// has it.
type capsConn interface {
	Capabilities(ctx context.Context) (string, error)
	DomainCapabilities(ctx context.Context, virtType string) (string, error)
	LibVersion(ctx context.Context) (uint64, error)
	HypervisorVersion(ctx context.Context) (uint64, error)
	Close() error
}

type capsDialFunc func(ctx context.Context, uri string) (capsConn, error)

func dialCaps(ctx context.Context, uri string) (capsConn, error) {
	return libvirt.Dial(ctx, uri, libvirt.Options{})
}

// remoteFacts reads the facts of the host behind c from its libvirt
// capabilities (hostfacts.FromCapabilities), with the versions libvirt
// reports.
func remoteFacts(ctx context.Context, c capsConn) (*hostfacts.Facts, error) {
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

// factsProbe reads the facts of the VM host at uri: this machine for a
// local URI (local, which may skip what it does not need), the host
// behind a remote URI through its libvirt (dial).
func factsProbe(uri string, local probeFunc, dial capsDialFunc) probeFunc {
	if !isRemoteURI(uri) {
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

// warnUnknownFacts says which host facts could not be learned (a remote
// host), and so were neither used nor checked.
func warnUnknownFacts(w io.Writer, uri string, f *hostfacts.Facts) {
	if f == nil || len(f.Unknown) == 0 {
		return
	}
	fmt.Fprintf(w, "warning: host facts of %s come from its libvirt capabilities; unknown there, so not checked: %s (libvirt picks firmware vars and virtiofsd when it defines the VM)\n",
		uri, strings.Join(f.Unknown, ", "))
}
