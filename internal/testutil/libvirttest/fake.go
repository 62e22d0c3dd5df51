package libvirttest

import (
	"context"
	"encoding/xml"
	"fmt"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/google/uuid"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Call is one recorded Client call: the method and what it was about
// (domain name, "pool/volume", …) plus a short detail.
type Call struct {
	Method string
	Target string
	Detail string
}

func (c Call) String() string {
	s := c.Method + " " + c.Target
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	return s
}

// Fake is an in-memory Client for unit tests. It behaves like libvirt
// where deskvm depends on it: define keyed by name and UUID (with
// libvirt's "already exists with uuid" refusal), redefining a running
// domain changes only its inactive XML, undefining a running domain makes
// it transient, volumes never shrink. It records every changing call.
type Fake struct {
	mu      sync.Mutex
	domains map[string]*libvirt.Domain
	pools   map[string]*libvirt.Pool
	volumes map[string]map[string]*libvirt.Volume // pool -> name -> volume
	calls   []Call
	guests  map[string]*fakeGuest // see fake_guest.go

	// Fail, when set, is asked before every changing call; a non-nil
	// error is returned instead of doing it (for rollback tests).
	Fail func(c Call) error
	// Version is what LibVersion returns (default 9000000).
	Version uint64
}

var _ libvirt.Client = (*Fake)(nil)

// NewFake returns an empty fake libvirt.
func NewFake() *Fake {
	return &Fake{domains: map[string]*libvirt.Domain{}, pools: map[string]*libvirt.Pool{},
		volumes: map[string]map[string]*libvirt.Volume{}}
}

// Changes returns the changing calls made so far, in order.
func (f *Fake) Changes() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// ResetChanges forgets the recorded calls.
func (f *Fake) ResetChanges() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// AddDomain puts a domain in place as if defined by someone else (e.g. by
// hand with virsh). UUID is taken from the XML when d.UUID is empty.
func (f *Fake) AddDomain(d libvirt.Domain) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d.UUID == "" {
		d.UUID = xmlUUID(d.InactiveXML)
	}
	if d.UUID == "" {
		d.UUID = randomUUID()
	}
	if d.State == "" {
		d.State = libvirt.StateShutoff
		if d.Active {
			d.State = libvirt.StateRunning
		}
	}
	if d.Active && d.LiveXML == "" {
		d.LiveXML = d.InactiveXML
	}
	f.domains[d.Name] = &d
}

// AddPool puts a pool in place.
func (f *Fake) AddPool(p libvirt.Pool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pools[p.Name] = &p
	if f.volumes[p.Name] == nil {
		f.volumes[p.Name] = map[string]*libvirt.Volume{}
	}
}

// AddVolume puts a volume in place (its pool must exist).
func (f *Fake) AddVolume(v libvirt.Volume) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v.Path == "" {
		if p := f.pools[v.Pool]; p != nil {
			v.Path = filepath.Join(p.Path, v.Name)
		}
	}
	f.volumes[v.Pool][v.Name] = &v
}

func (f *Fake) change(method, target, detail string) error {
	c := Call{Method: method, Target: target, Detail: detail}
	if f.Fail != nil {
		if err := f.Fail(c); err != nil {
			return err
		}
	}
	f.calls = append(f.calls, c)
	return nil
}

// URI implements Client.
func (f *Fake) URI() string { return "fake:///" }

// Close implements Client.
func (f *Fake) Close() error { return nil }

// LibVersion implements Client.
func (f *Fake) LibVersion(context.Context) (uint64, error) {
	if f.Version == 0 {
		return 9000000, nil
	}
	return f.Version, nil
}

// Domains implements Client.
func (f *Fake) Domains(ctx context.Context) ([]libvirt.Domain, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]libvirt.Domain, 0, len(f.domains))
	for _, d := range f.domains {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Domain implements Client.
func (f *Fake) Domain(ctx context.Context, name string) (libvirt.Domain, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.domains[name]
	if !ok {
		return libvirt.Domain{}, fmt.Errorf("look up domain %q: %w", name, libvirt.ErrNotFound)
	}
	return *d, nil
}

// DefineDomain implements Client.
func (f *Fake) DefineDomain(ctx context.Context, x string) error {
	var probe struct {
		Name string `xml:"name"`
		UUID string `xml:"uuid"`
	}
	if err := xmlUnmarshal(x, &probe); err != nil || probe.Name == "" {
		return fmt.Errorf("define domain: %w: bad XML (%v)", libvirt.ErrInvalid, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	op := fmt.Sprintf("define domain %q", probe.Name)
	if d, ok := f.domains[probe.Name]; ok && !strings.EqualFold(d.UUID, probe.UUID) {
		return fmt.Errorf("%s: %w: domain '%s' already exists with uuid %s", op, libvirt.ErrExists, d.Name, d.UUID)
	}
	for _, d := range f.domains {
		if probe.UUID != "" && strings.EqualFold(d.UUID, probe.UUID) && d.Name != probe.Name {
			return fmt.Errorf("%s: %w: domain '%s' is already defined with uuid %s", op, libvirt.ErrExists, d.Name, d.UUID)
		}
	}
	if err := f.change("DefineDomain", probe.Name, ""); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	d, ok := f.domains[probe.Name]
	if !ok {
		u := probe.UUID
		if u == "" {
			u = randomUUID()
		}
		d = &libvirt.Domain{Name: probe.Name, UUID: strings.ToLower(u), State: libvirt.StateShutoff}
		f.domains[probe.Name] = d
	}
	d.Persistent = true
	d.InactiveXML = x
	return nil
}

// domainChange checks and records a change to a domain; the returned
// result runs the state update only when the check passed.
func (f *Fake) domainChange(method, name, detail string, check func(d *libvirt.Domain) error) result {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := fmt.Sprintf("%s %q", strings.ToLower(method), name)
	d, ok := f.domains[name]
	if !ok {
		return result{fmt.Errorf("%s: %w", op, libvirt.ErrNotFound)}
	}
	if err := check(d); err != nil {
		return result{fmt.Errorf("%s: %w", op, err)}
	}
	if err := f.change(method, name, detail); err != nil {
		return result{fmt.Errorf("%s: %w", op, err)}
	}
	return result{}
}

// UndefineDomain implements Client.
func (f *Fake) UndefineDomain(ctx context.Context, name string, opts libvirt.UndefineOptions) error {
	detail := "keep nvram, keep tpm"
	switch {
	case opts.RemoveNVRAM && opts.RemoveTPM:
		detail = "remove nvram, remove tpm"
	case opts.RemoveNVRAM:
		detail = "remove nvram, keep tpm"
	case opts.RemoveTPM:
		detail = "keep nvram, remove tpm"
	}
	return f.domainChange("UndefineDomain", name, detail, func(d *libvirt.Domain) error {
		if !d.Persistent {
			return fmt.Errorf("%w: cannot undefine transient domain", libvirt.ErrInvalid)
		}
		return nil
	}).andThen(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		d := f.domains[name]
		if d.Active {
			d.Persistent, d.InactiveXML, d.Autostart = false, "", false
		} else {
			delete(f.domains, name)
		}
	})
}

// StartDomain implements Client.
func (f *Fake) StartDomain(ctx context.Context, name string) error {
	return f.domainChange("StartDomain", name, "", func(d *libvirt.Domain) error {
		if d.Active {
			return fmt.Errorf("%w: domain is already running", libvirt.ErrInvalid)
		}
		return nil
	}).andThen(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		d := f.domains[name]
		d.Active, d.State, d.LiveXML = true, libvirt.StateRunning, d.InactiveXML
	})
}

func (f *Fake) stop(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.domains[name]
	d.Active, d.State, d.LiveXML = false, libvirt.StateShutoff, ""
	if !d.Persistent {
		delete(f.domains, name)
	}
}

// ShutdownDomain implements Client. The fake guest obeys at once.
func (f *Fake) ShutdownDomain(ctx context.Context, name string) error {
	return f.domainChange("ShutdownDomain", name, "", requireActive).andThen(func() { f.stop(name) })
}

// DestroyDomain implements Client.
func (f *Fake) DestroyDomain(ctx context.Context, name string) error {
	return f.domainChange("DestroyDomain", name, "", requireActive).andThen(func() { f.stop(name) })
}

func requireActive(d *libvirt.Domain) error {
	if !d.Active {
		return fmt.Errorf("%w: domain is not running", libvirt.ErrInvalid)
	}
	return nil
}

// SetAutostart implements Client.
func (f *Fake) SetAutostart(ctx context.Context, name string, on bool) error {
	return f.domainChange("SetAutostart", name, fmt.Sprint(on), func(d *libvirt.Domain) error {
		if !d.Persistent {
			return fmt.Errorf("%w: cannot set autostart for transient domain", libvirt.ErrInvalid)
		}
		return nil
	}).andThen(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.domains[name].Autostart = on
	})
}

// MemoryStats implements Client.
func (f *Fake) MemoryStats(ctx context.Context, name string) (map[string]uint64, error) {
	d, err := f.Domain(ctx, name)
	if err != nil {
		return nil, err
	}
	if !d.Active {
		return nil, fmt.Errorf("memory stats of domain %q: %w: domain is not running", name, libvirt.ErrInvalid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.guests[name]; g != nil && g.stats != nil {
		out := make(map[string]uint64, len(g.stats))
		for k, v := range g.stats {
			out[k] = v
		}
		return out, nil
	}
	return map[string]uint64{"actual": 1 << 20, "rss": 1 << 19}, nil
}

// SetMemory implements Client.
func (f *Fake) SetMemory(ctx context.Context, name string, kib uint64, scope libvirt.MemoryScope) error {
	return f.domainChange("SetMemory", name, fmt.Sprintf("%d KiB", kib), func(d *libvirt.Domain) error {
		if scope&libvirt.MemoryLive != 0 && !d.Active {
			return fmt.Errorf("%w: domain is not running", libvirt.ErrInvalid)
		}
		return nil
	}).err
}

// Pools implements Client.
func (f *Fake) Pools(ctx context.Context) ([]libvirt.Pool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]libvirt.Pool, 0, len(f.pools))
	for _, p := range f.pools {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Pool implements Client.
func (f *Fake) Pool(ctx context.Context, name string) (libvirt.Pool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pools[name]
	if !ok {
		return libvirt.Pool{}, fmt.Errorf("look up pool %q: %w", name, libvirt.ErrNotFound)
	}
	return *p, nil
}

// DefineDirPool implements Client.
func (f *Fake) DefineDirPool(ctx context.Context, name, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.pools[name]; ok {
		return fmt.Errorf("define pool %q: %w", name, libvirt.ErrExists)
	}
	if err := f.change("DefineDirPool", name, path); err != nil {
		return fmt.Errorf("define pool %q: %w", name, err)
	}
	f.pools[name] = &libvirt.Pool{Name: name, UUID: randomUUID(), Type: "dir", Path: path, Persistent: true}
	f.volumes[name] = map[string]*libvirt.Volume{}
	return nil
}

func (f *Fake) poolChange(method, name, detail string, fn func(p *libvirt.Pool) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := fmt.Sprintf("%s %q", strings.ToLower(method), name)
	p, ok := f.pools[name]
	if !ok {
		return fmt.Errorf("%s: %w", op, libvirt.ErrNotFound)
	}
	if err := f.change(method, name, detail); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := fn(p); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// BuildPool implements Client.
func (f *Fake) BuildPool(ctx context.Context, name string) error {
	return f.poolChange("BuildPool", name, "", func(p *libvirt.Pool) error { return nil })
}

// StartPool implements Client.
func (f *Fake) StartPool(ctx context.Context, name string) error {
	return f.poolChange("StartPool", name, "", func(p *libvirt.Pool) error {
		if p.Active {
			return fmt.Errorf("%w: pool is already active", libvirt.ErrInvalid)
		}
		p.Active = true
		return nil
	})
}

// SetPoolAutostart implements Client.
func (f *Fake) SetPoolAutostart(ctx context.Context, name string, on bool) error {
	return f.poolChange("SetPoolAutostart", name, fmt.Sprint(on), func(p *libvirt.Pool) error {
		p.Autostart = on
		return nil
	})
}

// RefreshPool implements Client (not a change: it only rescans).
func (f *Fake) RefreshPool(ctx context.Context, name string) error {
	_, err := f.Pool(ctx, name)
	return err
}

// UndefinePool implements Client.
func (f *Fake) UndefinePool(ctx context.Context, name string) error {
	err := f.poolChange("UndefinePool", name, "", func(p *libvirt.Pool) error {
		if p.Active {
			return fmt.Errorf("%w: pool is still active", libvirt.ErrInvalid)
		}
		return nil
	})
	if err == nil {
		f.mu.Lock()
		delete(f.pools, name)
		delete(f.volumes, name)
		f.mu.Unlock()
	}
	return err
}

// StopPool implements Client.
func (f *Fake) StopPool(ctx context.Context, name string) error {
	return f.poolChange("StopPool", name, "", func(p *libvirt.Pool) error {
		p.Active = false
		return nil
	})
}

// Volumes implements Client.
func (f *Fake) Volumes(ctx context.Context, pool string) ([]libvirt.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs, ok := f.volumes[pool]
	if !ok {
		return nil, fmt.Errorf("list volumes of pool %q: %w", pool, libvirt.ErrNotFound)
	}
	out := make([]libvirt.Volume, 0, len(vs))
	for _, v := range vs {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Volume implements Client.
func (f *Fake) Volume(ctx context.Context, pool, name string) (libvirt.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.volumes[pool][name]
	if !ok {
		return libvirt.Volume{}, fmt.Errorf("look up volume %q in pool %q: %w", name, pool, libvirt.ErrNotFound)
	}
	return *v, nil
}

// CreateVolume implements Client.
func (f *Fake) CreateVolume(ctx context.Context, pool string, spec libvirt.VolumeSpec) (libvirt.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := fmt.Sprintf("create volume %q in pool %q", spec.Name, pool)
	p, ok := f.pools[pool]
	if !ok {
		return libvirt.Volume{}, fmt.Errorf("%s: %w", op, libvirt.ErrNotFound)
	}
	if !p.Active {
		return libvirt.Volume{}, fmt.Errorf("%s: %w: pool is not active", op, libvirt.ErrInvalid)
	}
	if _, ok := f.volumes[pool][spec.Name]; ok {
		return libvirt.Volume{}, fmt.Errorf("%s: %w", op, libvirt.ErrExists)
	}
	if err := f.change("CreateVolume", pool+"/"+spec.Name, fmt.Sprintf("%d bytes", spec.Capacity)); err != nil {
		return libvirt.Volume{}, fmt.Errorf("%s: %w", op, err)
	}
	format := spec.Format
	if format == "" {
		format = "qcow2"
	}
	v := &libvirt.Volume{Pool: pool, Name: spec.Name, Path: filepath.Join(p.Path, spec.Name), Format: format,
		Capacity: spec.Capacity, Allocation: 196608, BackingPath: spec.BackingPath}
	f.volumes[pool][spec.Name] = v
	return *v, nil
}

// ResizeVolume implements Client.
func (f *Fake) ResizeVolume(ctx context.Context, pool, name string, capacity uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := fmt.Sprintf("resize volume %q in pool %q", name, pool)
	v, ok := f.volumes[pool][name]
	if !ok {
		return fmt.Errorf("%s: %w", op, libvirt.ErrNotFound)
	}
	if capacity < v.Capacity {
		return fmt.Errorf("%s from %d to %d bytes: %w", op, v.Capacity, capacity, libvirt.ErrShrink)
	}
	if err := f.change("ResizeVolume", pool+"/"+name, fmt.Sprintf("%d bytes", capacity)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	v.Capacity = capacity
	return nil
}

// DeleteVolume implements Client.
func (f *Fake) DeleteVolume(ctx context.Context, pool, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := fmt.Sprintf("delete volume %q in pool %q", name, pool)
	if _, ok := f.volumes[pool][name]; !ok {
		return fmt.Errorf("%s: %w", op, libvirt.ErrNotFound)
	}
	if err := f.change("DeleteVolume", pool+"/"+name, ""); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	delete(f.volumes[pool], name)
	return nil
}

// ResizeDomainDisk implements Client: the fake grows the volume whose
// name is the domain's system disk (<name>.qcow2) in any pool.
func (f *Fake) ResizeDomainDisk(ctx context.Context, name, dev string, bytes uint64) error {
	err := f.domainChange("ResizeDomainDisk", name, fmt.Sprintf("%s %d bytes", dev, bytes), func(d *libvirt.Domain) error {
		return requireActive(d)
	}).err
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, vols := range f.volumes {
		if v, ok := vols[name+".qcow2"]; ok && bytes > v.Capacity {
			v.Capacity = bytes
		}
	}
	return nil
}

// result lets a fake method run a follow-up step only on success.
type result struct{ err error }

func (r result) andThen(fn func()) error {
	if r.err == nil {
		fn()
	}
	return r.err
}

func xmlUnmarshal(doc string, v any) error { return xml.Unmarshal([]byte(doc), v) }

func xmlUUID(doc string) string {
	var probe struct {
		UUID string `xml:"uuid"`
	}
	if xmlUnmarshal(doc, &probe) != nil {
		return ""
	}
	return strings.ToLower(probe.UUID)
}

func randomUUID() string { return uuid.NewString() }
