package libvirt

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/user"
	"strings"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"libvirt.org/go/libvirtxml"
)

// DefaultURI is libvirt's system QEMU daemon.
const DefaultURI = "qemu:///system"

// DefaultCallTimeout bounds one libvirt call when Options.CallTimeout is 0.
const DefaultCallTimeout = 60 * time.Second

// Options tune Dial.
type Options struct {
	// CallTimeout bounds every call (default DefaultCallTimeout). go-libvirt
	// has no context, so when a call overruns (or ctx ends) the connection
	// is closed under it, which makes the call return.
	CallTimeout time.Duration
}

// Conn is the real Client, one RPC connection to libvirtd.
type Conn struct {
	uri     string
	l       *golibvirt.Libvirt
	dialer  *capturingDialer
	timeout time.Duration
}

var _ Client = (*Conn)(nil)

// Dial connects to libvirtd at uri (empty means DefaultURI).
//
// Supported transports, all in pure Go (go-libvirt's dialers):
//   - qemu:///system, qemu:///session: the local unix socket
//     (/var/run/libvirt/libvirt-sock; ?socket=PATH overrides);
//   - qemu+ssh://[user@]host[:port]/system: an SSH connection made by
//     golang.org/x/crypto/ssh that forwards to the remote unix socket. It
//     uses ~/.ssh/known_hosts and the ssh-agent or ~/.ssh/id_* keys, not
//     ~/.ssh/config (no ProxyJump, no Host aliases); ?keyfile=PATH and
//     ?socket=PATH are honoured;
//   - qemu+libssh://, qemu+libssh2:// (same dialer, libvirt's option names),
//     qemu+tcp://, qemu+tls://.
func Dial(ctx context.Context, uri string, opts Options) (*Conn, error) {
	if uri == "" {
		uri = DefaultURI
	}
	u, err := parseURI(uri)
	if err != nil {
		return nil, fmt.Errorf("connect to libvirt %q: bad URI: %w", uri, err)
	}
	d, err := dialerFor(u)
	if err != nil {
		return nil, fmt.Errorf("connect to libvirt %q: %w", uri, err)
	}
	c := &Conn{uri: uri, dialer: &capturingDialer{inner: d}, timeout: opts.CallTimeout}
	if c.timeout <= 0 {
		c.timeout = DefaultCallTimeout
	}
	c.l = golibvirt.NewWithDialer(c.dialer)
	err = c.do(ctx, "connect to libvirt "+uri, func() error {
		return c.l.ConnectToURI(golibvirt.RemoteURI(u))
	})
	if err != nil {
		c.dialer.close()
		return nil, err
	}
	return c, nil
}

func parseURI(uri string) (*url.URL, error) { return url.Parse(uri) }

// dialerFor picks go-libvirt's dialer for the URI's transport. It mirrors
// go-libvirt's own (unexported) choice, because Dial needs the dialer to
// reach the net.Conn for deadlines.
func dialerFor(u *url.URL) (socket.Dialer, error) {
	transport := "unix"
	if s := strings.SplitN(u.Scheme, "+", 2); len(s) == 2 {
		transport = s[1]
	} else if u.Host != "" {
		transport = "tls"
	}
	q := u.Query()
	switch transport {
	case "unix":
		var o []dialers.LocalOption
		if s := q.Get("socket"); s != "" {
			o = append(o, dialers.WithSocket(s))
		}
		return dialers.NewLocal(o...), nil
	case "tcp":
		var o []dialers.RemoteOption
		if p := u.Port(); p != "" {
			o = append(o, dialers.UsePort(p))
		}
		return dialers.NewRemote(u.Hostname(), o...), nil
	case "tls":
		var o []dialers.TLSOption
		if p := u.Port(); p != "" {
			o = append(o, dialers.UseTLSPort(p))
		}
		if p := q.Get("pkipath"); p != "" {
			o = append(o, dialers.UsePKIPath(p))
		}
		return dialers.NewTLS(u.Hostname(), o...), nil
	case "ssh", "libssh", "libssh2":
		var o []dialers.SSHOption
		if transport == "ssh" {
			if cu, err := user.Current(); err == nil {
				o = append(o, dialers.WithSystemSSHDefaults(cu))
			}
		} else if k := q.Get("known_hosts"); k != "" {
			o = append(o, dialers.UseKnownHostsFile(k))
		}
		if p := u.Port(); p != "" {
			o = append(o, dialers.UseSSHPort(p))
		}
		if n := u.User.Username(); n != "" {
			o = append(o, dialers.UseSSHUsername(n))
		}
		if s := q.Get("socket"); s != "" {
			o = append(o, dialers.WithRemoteSocket(s))
		}
		if k := q.Get("keyfile"); k != "" {
			o = append(o, dialers.UseKeyFile(k))
		}
		if q.Get("no_verify") == "1" {
			o = append(o, dialers.WithInsecureIgnoreHostKey())
		}
		return dialers.NewSSH(u.Hostname(), o...), nil
	}
	return nil, fmt.Errorf("unsupported transport %q (use unix, ssh, libssh, tcp or tls)", transport)
}

// capturingDialer remembers the connection so a call can be interrupted.
type capturingDialer struct {
	inner socket.Dialer
	mu    sync.Mutex
	conn  net.Conn
}

func (d *capturingDialer) Dial() (net.Conn, error) {
	c, err := d.inner.Dial()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conn = c
	d.mu.Unlock()
	return c, nil
}

func (d *capturingDialer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		d.conn.Close()
	}
}

// URI implements Client.
func (c *Conn) URI() string { return c.uri }

// Close disconnects. The goodbye to libvirtd is bounded by the call
// timeout like any call, so a hung daemon cannot hang the caller's exit.
func (c *Conn) Close() error {
	err := c.do(context.Background(), "disconnect from libvirt "+c.uri, c.l.Disconnect)
	c.dialer.close()
	return err
}

// do runs one blocking go-libvirt call under ctx and the per-call timeout.
// On expiry it closes the socket, which makes go-libvirt return
// ErrInterrupted; the Conn is unusable afterwards.
func (c *Conn) do(ctx context.Context, op string, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	stop := context.AfterFunc(cctx, c.dialer.close)
	err := fn()
	if !stop() {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		return fmt.Errorf("%s: %w after %s", op, ErrTimeout, c.timeout)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, classify(err))
	}
	return nil
}

// adapterError keeps libvirt's message and adds a sentinel for errors.Is.
type adapterError struct {
	sentinel error
	err      error
}

func (e *adapterError) Error() string   { return e.err.Error() }
func (e *adapterError) Unwrap() []error { return []error{e.sentinel, e.err} }

func classify(err error) error {
	var le golibvirt.Error
	if !errors.As(err, &le) {
		return err
	}
	var s error
	switch golibvirt.ErrorNumber(le.Code) {
	case golibvirt.ErrNoDomain, golibvirt.ErrNoStoragePool, golibvirt.ErrNoStorageVol:
		s = ErrNotFound
	case golibvirt.ErrDomExist, golibvirt.ErrStorageVolExist:
		s = ErrExists
	case golibvirt.ErrOperationInvalid, golibvirt.ErrXMLInvalidSchema, golibvirt.ErrInvalidArg:
		s = ErrInvalid
	default:
		return err
	}
	return &adapterError{sentinel: s, err: err}
}

// LibVersion implements Client.
func (c *Conn) LibVersion(ctx context.Context) (uint64, error) {
	var v uint64
	err := c.do(ctx, "libvirt version", func() (err error) {
		v, err = c.l.ConnectGetLibVersion()
		return err
	})
	return v, err
}

// HypervisorVersion is QEMU's version as libvirt reports it
// (major*1e6+minor*1e3+micro).
func (c *Conn) HypervisorVersion(ctx context.Context) (uint64, error) {
	var v uint64
	err := c.do(ctx, "hypervisor version", func() (err error) {
		v, err = c.l.ConnectGetVersion()
		return err
	})
	return v, err
}

// Capabilities is the host's capabilities XML (virsh capabilities): CPU
// topology, hugepage sizes, the guest types (kvm or only qemu).
func (c *Conn) Capabilities(ctx context.Context) (string, error) {
	var x string
	err := c.do(ctx, "host capabilities", func() (err error) {
		x, err = c.l.ConnectGetCapabilities()
		return err
	})
	return x, err
}

// DomainCapabilities is the domain capabilities XML for x86_64 q35 guests
// of virtType ("kvm" or "qemu"), as virsh domcapabilities gives it: among
// others the firmware images libvirt knows.
func (c *Conn) DomainCapabilities(ctx context.Context, virtType string) (string, error) {
	var x string
	err := c.do(ctx, "domain capabilities", func() (err error) {
		x, err = c.l.ConnectGetDomainCapabilities(nil, golibvirt.OptString{"x86_64"}, golibvirt.OptString{"q35"}, golibvirt.OptString{virtType}, 0)
		return err
	})
	return x, err
}

// --- domains ---

func (c *Conn) lookupDomain(ctx context.Context, op, name string) (golibvirt.Domain, error) {
	var d golibvirt.Domain
	err := c.do(ctx, fmt.Sprintf("%s %q", op, name), func() (err error) {
		d, err = c.l.DomainLookupByName(name)
		return err
	})
	return d, err
}

// Domains implements Client. It lists with a few flag-filtered calls and
// then fetches XML per domain, so a no-op apply stays cheap.
func (c *Conn) Domains(ctx context.Context) ([]Domain, error) {
	var all, transient, auto []golibvirt.Domain
	err := c.do(ctx, "list domains", func() (err error) {
		if all, _, err = c.l.ConnectListAllDomains(1, 0); err != nil {
			return err
		}
		if transient, _, err = c.l.ConnectListAllDomains(1, golibvirt.ConnectListDomainsTransient); err != nil {
			return err
		}
		auto, _, err = c.l.ConnectListAllDomains(1, golibvirt.ConnectListDomainsAutostart)
		return err
	})
	if err != nil {
		return nil, err
	}
	isTransient := uuidSet(transient)
	isAuto := uuidSet(auto)
	out := make([]Domain, 0, len(all))
	for _, d := range all {
		dom := Domain{Name: d.Name, UUID: formatUUID(d.UUID), Active: d.ID > 0,
			Persistent: !isTransient[d.UUID], Autostart: isAuto[d.UUID]}
		if err := c.fillDomain(ctx, d, &dom); err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // vanished between list and read
			}
			return nil, err
		}
		out = append(out, dom)
	}
	return out, nil
}

func (c *Conn) fillDomain(ctx context.Context, d golibvirt.Domain, dom *Domain) error {
	return c.do(ctx, fmt.Sprintf("read domain %q", d.Name), func() error {
		if dom.Persistent {
			x, err := c.l.DomainGetXMLDesc(d, golibvirt.DomainXMLInactive|golibvirt.DomainXMLSecure)
			if err != nil {
				return err
			}
			dom.InactiveXML = x
		}
		if !dom.Active {
			dom.State = StateShutoff
			return nil
		}
		st, _, err := c.l.DomainGetState(d, 0)
		if err != nil {
			return err
		}
		dom.State = stateName(golibvirt.DomainState(st))
		x, err := c.l.DomainGetXMLDesc(d, golibvirt.DomainXMLSecure)
		if err != nil {
			return err
		}
		dom.LiveXML = x
		return nil
	})
}

// Domain implements Client.
func (c *Conn) Domain(ctx context.Context, name string) (Domain, error) {
	d, err := c.lookupDomain(ctx, "look up domain", name)
	if err != nil {
		return Domain{}, err
	}
	dom := Domain{Name: d.Name, UUID: formatUUID(d.UUID), Active: d.ID > 0}
	err = c.do(ctx, fmt.Sprintf("read domain %q", name), func() error {
		p, err := c.l.DomainIsPersistent(d)
		if err != nil {
			return err
		}
		dom.Persistent = p == 1
		a, err := c.l.DomainGetAutostart(d)
		dom.Autostart = a == 1
		return err
	})
	if err != nil {
		return Domain{}, err
	}
	if err := c.fillDomain(ctx, d, &dom); err != nil {
		return Domain{}, err
	}
	return dom, nil
}

// DefineDomain implements Client.
func (c *Conn) DefineDomain(ctx context.Context, doc string) error {
	var probe struct {
		Name string `xml:"name"`
	}
	_ = xml.Unmarshal([]byte(doc), &probe)
	return c.do(ctx, fmt.Sprintf("define domain %q", probe.Name), func() error {
		_, err := c.l.DomainDefineXMLFlags(doc, golibvirt.DomainDefineValidate)
		return err
	})
}

// UndefineDomain implements Client. Managed-save images, snapshot and
// checkpoint metadata go with the definition (libvirt refuses otherwise);
// NVRAM and TPM state stay unless asked.
func (c *Conn) UndefineDomain(ctx context.Context, name string, opts UndefineOptions) error {
	d, err := c.lookupDomain(ctx, "undefine domain", name)
	if err != nil {
		return err
	}
	flags := golibvirt.DomainUndefineManagedSave | golibvirt.DomainUndefineSnapshotsMetadata |
		golibvirt.DomainUndefineCheckpointsMetadata
	if opts.RemoveNVRAM {
		flags |= golibvirt.DomainUndefineNvram
	} else {
		flags |= golibvirt.DomainUndefineKeepNvram
	}
	if opts.RemoveTPM {
		flags |= golibvirt.DomainUndefineTpm
	} else {
		flags |= golibvirt.DomainUndefineKeepTpm
	}
	return c.do(ctx, fmt.Sprintf("undefine domain %q", name), func() error {
		return c.l.DomainUndefineFlags(d, flags)
	})
}

func (c *Conn) domainCall(ctx context.Context, op, name string, fn func(golibvirt.Domain) error) error {
	d, err := c.lookupDomain(ctx, op, name)
	if err != nil {
		return err
	}
	return c.do(ctx, fmt.Sprintf("%s %q", op, name), func() error { return fn(d) })
}

// StartDomain implements Client.
func (c *Conn) StartDomain(ctx context.Context, name string) error {
	return c.domainCall(ctx, "start domain", name, func(d golibvirt.Domain) error {
		return c.l.DomainCreate(d)
	})
}

// ShutdownDomain implements Client.
func (c *Conn) ShutdownDomain(ctx context.Context, name string) error {
	return c.domainCall(ctx, "shut down domain", name, func(d golibvirt.Domain) error {
		return c.l.DomainShutdown(d)
	})
}

// DestroyDomain implements Client.
func (c *Conn) DestroyDomain(ctx context.Context, name string) error {
	return c.domainCall(ctx, "destroy domain", name, func(d golibvirt.Domain) error {
		return c.l.DomainDestroyFlags(d, golibvirt.DomainDestroyDefault)
	})
}

// SetAutostart implements Client.
func (c *Conn) SetAutostart(ctx context.Context, name string, on bool) error {
	return c.domainCall(ctx, "set autostart of domain", name, func(d golibvirt.Domain) error {
		return c.l.DomainSetAutostart(d, boolInt(on))
	})
}

var memStatNames = map[int32]string{
	0: "swap_in", 1: "swap_out", 2: "major_fault", 3: "minor_fault",
	4: "unused", 5: "available", 6: "actual", 7: "rss", 8: "usable",
	9: "last_update", 10: "disk_caches", 11: "hugetlb_pgalloc", 12: "hugetlb_pgfail",
}

// MemoryStats implements Client.
func (c *Conn) MemoryStats(ctx context.Context, name string) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := c.domainCall(ctx, "memory stats of domain", name, func(d golibvirt.Domain) error {
		st, err := c.l.DomainMemoryStats(d, 13, 0)
		for _, s := range st {
			if n, ok := memStatNames[s.Tag]; ok {
				out[n] = s.Val
			}
		}
		return err
	})
	return out, err
}

// SetMemory implements Client.
func (c *Conn) SetMemory(ctx context.Context, name string, kib uint64, scope MemoryScope) error {
	var flags uint32
	if scope&MemoryLive != 0 {
		flags |= uint32(golibvirt.DomainMemLive)
	}
	if scope&MemoryConfig != 0 {
		flags |= uint32(golibvirt.DomainMemConfig)
	}
	return c.domainCall(ctx, "set memory of domain", name, func(d golibvirt.Domain) error {
		return c.l.DomainSetMemoryFlags(d, kib, flags)
	})
}

// --- pools ---

func (c *Conn) lookupPool(ctx context.Context, op, name string) (golibvirt.StoragePool, error) {
	var p golibvirt.StoragePool
	err := c.do(ctx, fmt.Sprintf("%s %q", op, name), func() (err error) {
		p, err = c.l.StoragePoolLookupByName(name)
		return err
	})
	return p, err
}

func (c *Conn) readPool(ctx context.Context, p golibvirt.StoragePool) (Pool, error) {
	out := Pool{Name: p.Name, UUID: formatUUID(p.UUID)}
	err := c.do(ctx, fmt.Sprintf("read pool %q", p.Name), func() error {
		x, err := c.l.StoragePoolGetXMLDesc(p, 0)
		if err != nil {
			return err
		}
		var px libvirtxml.StoragePool
		if err := px.Unmarshal(x); err != nil {
			return fmt.Errorf("parse pool XML: %w", err)
		}
		out.Type = px.Type
		if px.Target != nil {
			out.Path = px.Target.Path
		}
		active, err := c.l.StoragePoolIsActive(p)
		if err != nil {
			return err
		}
		out.Active = active == 1
		pers, err := c.l.StoragePoolIsPersistent(p)
		if err != nil {
			return err
		}
		out.Persistent = pers == 1
		a, err := c.l.StoragePoolGetAutostart(p)
		out.Autostart = a == 1
		return err
	})
	return out, err
}

// Pools implements Client.
func (c *Conn) Pools(ctx context.Context) ([]Pool, error) {
	var ps []golibvirt.StoragePool
	err := c.do(ctx, "list storage pools", func() (err error) {
		ps, _, err = c.l.ConnectListAllStoragePools(1, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Pool, 0, len(ps))
	for _, p := range ps {
		pi, err := c.readPool(ctx, p)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, pi)
	}
	return out, nil
}

// Pool implements Client.
func (c *Conn) Pool(ctx context.Context, name string) (Pool, error) {
	p, err := c.lookupPool(ctx, "look up pool", name)
	if err != nil {
		return Pool{}, err
	}
	return c.readPool(ctx, p)
}

// DefineDirPool implements Client.
func (c *Conn) DefineDirPool(ctx context.Context, name, path string) error {
	x, err := (&libvirtxml.StoragePool{Type: "dir", Name: name,
		Target: &libvirtxml.StoragePoolTarget{Path: path}}).Marshal()
	if err != nil {
		return fmt.Errorf("define pool %q: %w", name, err)
	}
	return c.do(ctx, fmt.Sprintf("define pool %q", name), func() error {
		_, err := c.l.StoragePoolDefineXML(x, 0)
		return err
	})
}

func (c *Conn) poolCall(ctx context.Context, op, name string, fn func(golibvirt.StoragePool) error) error {
	p, err := c.lookupPool(ctx, op, name)
	if err != nil {
		return err
	}
	return c.do(ctx, fmt.Sprintf("%s %q", op, name), func() error { return fn(p) })
}

// BuildPool implements Client.
func (c *Conn) BuildPool(ctx context.Context, name string) error {
	return c.poolCall(ctx, "build pool", name, func(p golibvirt.StoragePool) error {
		return c.l.StoragePoolBuild(p, golibvirt.StoragePoolBuildNew)
	})
}

// StartPool implements Client.
func (c *Conn) StartPool(ctx context.Context, name string) error {
	return c.poolCall(ctx, "start pool", name, func(p golibvirt.StoragePool) error {
		return c.l.StoragePoolCreate(p, 0)
	})
}

// SetPoolAutostart implements Client.
func (c *Conn) SetPoolAutostart(ctx context.Context, name string, on bool) error {
	return c.poolCall(ctx, "set autostart of pool", name, func(p golibvirt.StoragePool) error {
		return c.l.StoragePoolSetAutostart(p, boolInt(on))
	})
}

// RefreshPool implements Client.
func (c *Conn) RefreshPool(ctx context.Context, name string) error {
	return c.poolCall(ctx, "refresh pool", name, func(p golibvirt.StoragePool) error {
		return c.l.StoragePoolRefresh(p, 0)
	})
}

// UndefinePool implements Client.
func (c *Conn) UndefinePool(ctx context.Context, name string) error {
	return c.poolCall(ctx, "undefine pool", name, func(p golibvirt.StoragePool) error {
		return c.l.StoragePoolUndefine(p)
	})
}

// StopPool implements Client.
func (c *Conn) StopPool(ctx context.Context, name string) error {
	return c.poolCall(ctx, "stop pool", name, func(p golibvirt.StoragePool) error {
		return c.l.StoragePoolDestroy(p)
	})
}

// --- volumes ---

func (c *Conn) readVolume(ctx context.Context, pool string, v golibvirt.StorageVol) (Volume, error) {
	out := Volume{Pool: pool, Name: v.Name}
	err := c.do(ctx, fmt.Sprintf("read volume %q in pool %q", v.Name, pool), func() error {
		x, err := c.l.StorageVolGetXMLDesc(v, 0)
		if err != nil {
			return err
		}
		var vx libvirtxml.StorageVolume
		if err := vx.Unmarshal(x); err != nil {
			return fmt.Errorf("parse volume XML: %w", err)
		}
		if vx.Capacity != nil {
			out.Capacity = sizeBytes(vx.Capacity)
		}
		if vx.Allocation != nil {
			out.Allocation = sizeBytes(vx.Allocation)
		}
		if vx.Target != nil {
			out.Path = vx.Target.Path
			if vx.Target.Format != nil {
				out.Format = vx.Target.Format.Type
			}
		}
		if vx.BackingStore != nil {
			out.BackingPath = vx.BackingStore.Path
		}
		return nil
	})
	return out, err
}

// Volumes implements Client.
func (c *Conn) Volumes(ctx context.Context, pool string) ([]Volume, error) {
	p, err := c.lookupPool(ctx, "list volumes of pool", pool)
	if err != nil {
		return nil, err
	}
	var vs []golibvirt.StorageVol
	err = c.do(ctx, fmt.Sprintf("list volumes of pool %q", pool), func() (err error) {
		vs, _, err = c.l.StoragePoolListAllVolumes(p, 1, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Volume, 0, len(vs))
	for _, v := range vs {
		vi, err := c.readVolume(ctx, pool, v)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, vi)
	}
	return out, nil
}

func (c *Conn) lookupVolume(ctx context.Context, op, pool, name string) (golibvirt.StorageVol, error) {
	p, err := c.lookupPool(ctx, op, pool)
	if err != nil {
		return golibvirt.StorageVol{}, err
	}
	var v golibvirt.StorageVol
	err = c.do(ctx, fmt.Sprintf("%s %q in pool %q", op, name, pool), func() (err error) {
		v, err = c.l.StorageVolLookupByName(p, name)
		return err
	})
	return v, err
}

// Volume implements Client.
func (c *Conn) Volume(ctx context.Context, pool, name string) (Volume, error) {
	v, err := c.lookupVolume(ctx, "look up volume", pool, name)
	if err != nil {
		return Volume{}, err
	}
	return c.readVolume(ctx, pool, v)
}

// CreateVolume implements Client.
func (c *Conn) CreateVolume(ctx context.Context, pool string, spec VolumeSpec) (Volume, error) {
	x, err := volumeXML(spec)
	if err != nil {
		return Volume{}, fmt.Errorf("create volume %q in pool %q: %w", spec.Name, pool, err)
	}
	p, err := c.lookupPool(ctx, "create volume in pool", pool)
	if err != nil {
		return Volume{}, err
	}
	var v golibvirt.StorageVol
	err = c.do(ctx, fmt.Sprintf("create volume %q in pool %q", spec.Name, pool), func() (err error) {
		v, err = c.l.StorageVolCreateXML(p, x, 0)
		return err
	})
	if err != nil {
		return Volume{}, err
	}
	return c.readVolume(ctx, pool, v)
}

func volumeXML(spec VolumeSpec) (string, error) {
	if spec.Name == "" {
		return "", errors.New("volume name is empty")
	}
	format := spec.Format
	if format == "" {
		format = "qcow2"
	}
	vx := libvirtxml.StorageVolume{
		Name:     spec.Name,
		Capacity: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: spec.Capacity},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: format}},
	}
	if spec.BackingPath != "" {
		bf := spec.BackingFormat
		if bf == "" {
			bf = "qcow2"
		}
		vx.BackingStore = &libvirtxml.StorageVolumeBackingStore{Path: spec.BackingPath,
			Format: &libvirtxml.StorageVolumeTargetFormat{Type: bf}}
	}
	return vx.Marshal()
}

// ResizeVolume implements Client.
func (c *Conn) ResizeVolume(ctx context.Context, pool, name string, capacity uint64) error {
	v, err := c.lookupVolume(ctx, "resize volume", pool, name)
	if err != nil {
		return err
	}
	cur, err := c.readVolume(ctx, pool, v)
	if err != nil {
		return err
	}
	op := fmt.Sprintf("resize volume %q in pool %q", name, pool)
	if capacity < cur.Capacity {
		return fmt.Errorf("%s from %d to %d bytes: %w", op, cur.Capacity, capacity, ErrShrink)
	}
	return c.do(ctx, op, func() error {
		return c.l.StorageVolResize(v, capacity, 0)
	})
}

// DeleteVolume implements Client.
func (c *Conn) DeleteVolume(ctx context.Context, pool, name string) error {
	v, err := c.lookupVolume(ctx, "delete volume", pool, name)
	if err != nil {
		return err
	}
	return c.do(ctx, fmt.Sprintf("delete volume %q in pool %q", name, pool), func() error {
		return c.l.StorageVolDelete(v, golibvirt.StorageVolDeleteNormal)
	})
}

// ResizeDomainDisk implements Client.
func (c *Conn) ResizeDomainDisk(ctx context.Context, name, dev string, bytes uint64) error {
	return c.domainCall(ctx, fmt.Sprintf("resize disk %s of domain", dev), name, func(d golibvirt.Domain) error {
		return c.l.DomainBlockResize(d, dev, bytes, golibvirt.DomainBlockResizeBytes)
	})
}

// --- helpers ---

func uuidSet(ds []golibvirt.Domain) map[golibvirt.UUID]bool {
	m := make(map[golibvirt.UUID]bool, len(ds))
	for _, d := range ds {
		m[d.UUID] = true
	}
	return m
}

func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func stateName(s golibvirt.DomainState) DomainState {
	switch s {
	case golibvirt.DomainRunning:
		return StateRunning
	case golibvirt.DomainBlocked:
		return StateBlocked
	case golibvirt.DomainPaused:
		return StatePaused
	case golibvirt.DomainShutdown:
		return StateShutdown
	case golibvirt.DomainShutoff:
		return StateShutoff
	case golibvirt.DomainCrashed:
		return StateCrashed
	case golibvirt.DomainPmsuspended:
		return StatePMSuspended
	}
	return StateNoState
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

var unitBytes = map[string]uint64{
	"": 1, "b": 1, "bytes": 1,
	"kb": 1000, "k": 1024, "kib": 1024,
	"mb": 1000 * 1000, "m": 1 << 20, "mib": 1 << 20,
	"gb": 1000 * 1000 * 1000, "g": 1 << 30, "gib": 1 << 30,
	"tb": 1000 * 1000 * 1000 * 1000, "t": 1 << 40, "tib": 1 << 40,
}

func sizeBytes(s *libvirtxml.StorageVolumeSize) uint64 {
	return s.Value * unitBytes[strings.ToLower(s.Unit)]
}
