package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil/libvirttest"
	"github.com/deskvm/deskvm/internal/units"
)

// fakeHost keeps hugepages and the firewall in memory. MaxPages caps what
// the "kernel" allocates; held counts pages that are in use or reserved
// (by a running VM), which the kernel never takes out of the pool.
type fakeHost struct {
	pages    map[uint64]uint64
	held     map[uint64]uint64
	added    map[string]uint64
	MaxPages uint64
	fw       host.FirewallState
	scripts  []string
}

func newFakeHost() *fakeHost {
	return &fakeHost{pages: map[uint64]uint64{}, held: map[uint64]uint64{}, added: map[string]uint64{}, MaxPages: 1 << 30}
}

func (h *fakeHost) HugepagesAdded(ctx context.Context, kib uint64, name string) (uint64, error) {
	return h.added[fmt.Sprint(kib, name)], nil
}

func (h *fakeHost) SetHugepagesAdded(ctx context.Context, kib uint64, name string, n uint64) error {
	if n == 0 {
		delete(h.added, fmt.Sprint(kib, name))
	} else {
		h.added[fmt.Sprint(kib, name)] = n
	}
	return nil
}

func (h *fakeHost) Hugepages(ctx context.Context, kib uint64) (uint64, error) {
	return h.pages[kib], nil
}

func (h *fakeHost) HugepagesAvailable(ctx context.Context, kib uint64) (uint64, error) {
	return h.pages[kib] - h.held[kib], nil
}

func (h *fakeHost) SetHugepages(ctx context.Context, kib, n uint64) (uint64, error) {
	if n > h.MaxPages {
		n = h.MaxPages
	}
	n = max(n, h.held[kib])
	h.pages[kib] = n
	return n, nil
}

func (h *fakeHost) Firewall(ctx context.Context, table string) (host.FirewallState, error) {
	return h.fw, nil
}

var elemsRE = regexp.MustCompile(`elements = \{ ([^}]*) \}`)

func (h *fakeHost) ApplyFirewall(ctx context.Context, script string) error {
	h.scripts = append(h.scripts, script)
	m := elemsRE.FindStringSubmatch(script)
	if m == nil {
		h.fw = host.FirewallState{}
		return nil
	}
	st := host.FirewallState{Present: true, Intact: true}
	for _, e := range strings.Split(m[1], ", ") {
		var a, b int
		if n, _ := fmt.Sscanf(e, "%d-%d", &a, &b); n == 2 {
			st.Ports = append(st.Ports, host.PortRange{First: a, Last: b})
		} else {
			fmt.Sscanf(e, "%d", &a)
			st.Ports = append(st.Ports, host.PortRange{First: a, Last: a})
		}
	}
	h.fw = st
	return nil
}

type env struct {
	t     *testing.T
	c     *config.Config
	facts *hostfacts.Facts
	lv    *libvirttest.Fake
	host  *fakeHost
	dir   string
	// pw is what the CLI reads from graphics.passwordFile, by VM name.
	pw map[string]string
	// remote is PlanOptions.RemoteHost.
	remote string
}

func ptr[T any](v T) *T { return &v }

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	e := &env{t: t, lv: libvirttest.NewFake(), host: newFakeHost(), dir: dir,
		facts: &hostfacts.Facts{
			CPUs:             []hostfacts.CPU{{ID: 0, Siblings: []int{0}}, {ID: 1, Core: 1, Siblings: []int{1}}},
			HugepageSizesKiB: []uint64{2048, 1048576},
			Hugepages:        map[uint64]hostfacts.HugepagePool{},
		},
		c: &config.Config{
			Accelerator:        config.AcceleratorTCG,
			DefaultStoragePath: filepath.Join(dir, "images"),
			VMs:                map[string]*config.VM{},
		},
	}
	return e
}

func (e *env) vm(name string) *config.VM {
	vm := &config.VM{Memory: units.MustParseSize("256M"), VCPUs: 1, DiskSize: units.MustParseSize("1G"), Network: "none", Display: config.DisplayVNC,
		Firmware: config.FirmwareBIOS}
	e.c.VMs[name] = vm
	return vm
}

// plan defaults + validates a copy of the config, observes the fake and plans.
func (e *env) plan() (*Plan, error) {
	e.t.Helper()
	c := cloneConfig(e.t, e.c)
	config.FillDefaults(c)
	if ps := config.Validate(c); ps.HasErrors() {
		e.t.Fatalf("invalid test config: %v", ps.Errors())
	}
	e.facts.Hugepages[2048] = hostfacts.HugepagePool{Total: e.host.pages[2048], Free: e.host.pages[2048]}
	var h host.Host = e.host
	if e.remote != "" {
		h = nil
	}
	obs, err := Observe(context.Background(), e.lv, h, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return MakePlan(c, e.facts, obs, PlanOptions{GraphicsPasswords: e.pw, RemoteHost: e.remote})
}

func (e *env) mustPlan() *Plan {
	e.t.Helper()
	p, err := e.plan()
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	return p
}

func (e *env) apply(opts Options) (*Plan, *Report, error) {
	e.t.Helper()
	p := e.mustPlan()
	var h host.Host = e.host
	if e.remote != "" {
		h = nil // as the CLI passes for a remote URI
	}
	r, err := Apply(context.Background(), p, e.lv, h, opts)
	return p, r, err
}

func cloneConfig(t *testing.T, c *config.Config) *config.Config {
	out := *c
	out.VMs = map[string]*config.VM{}
	for n, vm := range c.VMs {
		v := *vm
		out.VMs[n] = &v
	}
	return &out
}

func changes(lv *libvirttest.Fake) []string {
	var out []string
	for _, c := range lv.Changes() {
		out = append(out, c.String())
	}
	return out
}

func vmPlan(p *Plan, name string) VMPlan {
	for _, v := range p.VMs {
		if v.Name == name {
			return v
		}
	}
	return VMPlan{}
}

func TestCreateThenIdempotent(t *testing.T) {
	e := newEnv(t)
	e.vm("a").AutoStart = ptr(true)
	e.vm("b")
	p, _, err := e.apply(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if vmPlan(p, "a").Status != StatusCreate || vmPlan(p, "b").Status != StatusCreate {
		t.Fatalf("first plan: %+v", p.VMs)
	}
	got := strings.Join(changes(e.lv), "\n")
	for _, want := range []string{"DefineDirPool default", "StartPool default", "CreateVolume default/a.qcow2",
		"DefineDomain a", "SetAutostart a (true)", "StartDomain a", "DefineDomain b"} {
		if !strings.Contains(got, want) {
			t.Errorf("changes lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "StartDomain b") || strings.Contains(got, "SetAutostart b") {
		t.Errorf("b (autoStart false) was started or autostarted:\n%s", got)
	}
	d, _ := e.lv.Domain(context.Background(), "a")
	if !d.Active || !d.Autostart || !strings.Contains(d.InactiveXML, "configHash") {
		t.Fatalf("domain a: %+v", d)
	}

	e.lv.ResetChanges()
	p, r, err := e.apply(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Changes(false, false); n != 0 || len(p.Actions) != 0 {
		t.Fatalf("second plan has %d actions: %v", n, p.Actions)
	}
	if r.Changed != 0 || len(e.lv.Changes()) != 0 {
		t.Fatalf("second apply changed: %v", changes(e.lv))
	}
	for _, v := range p.VMs {
		if v.Status != StatusUnchanged {
			t.Errorf("%s: %s (%s)", v.Name, v.Status, v.Reason)
		}
	}
}

func TestVMWithoutUUIDRedefined(t *testing.T) {
	e := newEnv(t)
	e.vm("a")
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	e.c.VMs["a"].VCPUs = 2
	p, _, err := e.apply(Options{})
	if err != nil {
		t.Fatalf("redefine without uuid: %v", err)
	}
	v := vmPlan(p, "a")
	if v.Status != StatusUpdate || !strings.Contains(v.Diff, "-") || !strings.Contains(v.Diff, "vcpu") {
		t.Fatalf("update plan: %+v", v)
	}
}

func TestUnmanagedDomainsNeverTouched(t *testing.T) {
	e := newEnv(t)
	hand := `<domain type='qemu'><name>handmade</name><memory>1</memory></domain>`
	clash := `<domain type='qemu'><name>clash</name><memory>1</memory></domain>`
	e.lv.AddDomain(libvirt.Domain{Name: "handmade", Persistent: true, InactiveXML: hand})
	e.lv.AddDomain(libvirt.Domain{Name: "clash", Persistent: true, Active: true, InactiveXML: clash})
	e.vm("clash")
	e.vm("ok")
	p, _, err := e.apply(Options{Restart: true, DeleteDisks: true})
	if err != nil {
		t.Fatal(err)
	}
	v := vmPlan(p, "clash")
	if v.Status != StatusError || !strings.Contains(v.Reason, `domain "clash" exists and is not managed by deskvm; rename or remove it`) {
		t.Fatalf("clash: %+v", v)
	}
	for _, c := range e.lv.Changes() {
		if c.Target == "clash" || c.Target == "handmade" || strings.Contains(c.Target, "clash.qcow2") {
			t.Errorf("touched an unmanaged domain: %s", c)
		}
	}
	if vmPlan(p, "ok").Status != StatusCreate {
		t.Fatalf("the other VM was not created: %+v", p.VMs)
	}
	// An empty config removes deskvm's VMs only.
	delete(e.c.VMs, "ok")
	delete(e.c.VMs, "clash")
	if _, _, err := e.apply(Options{Restart: true, DeleteDisks: true}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"handmade", "clash"} {
		if d, err := e.lv.Domain(context.Background(), n); err != nil || d.InactiveXML == "" {
			t.Errorf("%s gone or changed: %v", n, err)
		}
	}
	if _, err := e.lv.Domain(context.Background(), "ok"); !errors.Is(err, libvirt.ErrNotFound) {
		t.Errorf("managed VM ok not removed: %v", err)
	}
}

func TestRemoveKeepsDiskUnlessDeleteDisks(t *testing.T) {
	e := newEnv(t)
	e.vm("a")
	e.vm("b")
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	e.lv.ResetChanges()
	delete(e.c.VMs, "a")
	e.c.VMs["b"].Enable = ptr(false)
	p, r, err := e.apply(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if vmPlan(p, "a").Status != StatusRemove || vmPlan(p, "b").Status != StatusRemove ||
		!strings.Contains(vmPlan(p, "b").Reason, "disabled") {
		t.Fatalf("plan: %+v", p.VMs)
	}
	got := changes(e.lv)
	want := []string{"UndefineDomain a (keep nvram, keep tpm)", "UndefineDomain b (keep nvram, keep tpm)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	skipped := 0
	for _, ev := range r.Events {
		if ev.Kind == EventSkipped && ev.Action.Kind == ActDeleteVolume {
			skipped++
		}
	}
	if skipped != 2 {
		t.Fatalf("delete-volume actions skipped: %d, want 2", skipped)
	}
	if _, err := e.lv.Volume(context.Background(), "default", "a.qcow2"); err != nil {
		t.Fatalf("disk of removed VM gone: %v", err)
	}

	// With --delete-disks: the disk of a VM removed now goes, NVRAM+TPM too.
	e.c.VMs["c"] = e.vm("c")
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	e.lv.ResetChanges()
	delete(e.c.VMs, "c")
	if _, _, err := e.apply(Options{DeleteDisks: true}); err != nil {
		t.Fatal(err)
	}
	got = changes(e.lv)
	want = []string{"UndefineDomain c (remove nvram, remove tpm)", "DeleteVolume default/c.qcow2"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes with --delete-disks:\n%s", strings.Join(got, "\n"))
	}
	// Disks of VMs removed earlier (no domain left) are not deskvm's to find.
	if _, err := e.lv.Volume(context.Background(), "default", "a.qcow2"); err != nil {
		t.Fatalf("old disk deleted: %v", err)
	}
}

func TestAutostartOnThenOff(t *testing.T) {
	e := newEnv(t)
	e.vm("a").AutoStart = ptr(true)
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	e.lv.ResetChanges()
	e.c.VMs["a"].AutoStart = ptr(false)
	p, _, err := e.apply(Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(changes(e.lv), "\n")
	if !strings.Contains(got, "SetAutostart a (false)") || strings.Contains(got, "Destroy") || strings.Contains(got, "Shutdown") {
		t.Fatalf("changes: %s", got)
	}
	// autoStart is a libvirt flag, not part of the definition: no redefine,
	// and the running VM has no pending restart.
	if vmPlan(p, "a").PendingRestart || strings.Contains(got, "Define") {
		t.Fatalf("autostart change touched the definition: %+v\n%s", vmPlan(p, "a"), got)
	}
	if d, _ := e.lv.Domain(context.Background(), "a"); d.Autostart || !d.Active {
		t.Fatalf("domain: %+v", d)
	}
}

func TestDiskGrowAndShrink(t *testing.T) {
	e := newEnv(t)
	e.vm("a")
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	e.lv.ResetChanges()
	e.c.VMs["a"].DiskSize = units.MustParseSize("2G")
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.lv.Volume(context.Background(), "default", "a.qcow2"); v.Capacity != 2<<30 {
		t.Fatalf("capacity %d", v.Capacity)
	}
	if got := strings.Join(changes(e.lv), "\n"); !strings.HasPrefix(got, "ResizeVolume default/a.qcow2") {
		t.Fatalf("changes: %s", got)
	}
	e.lv.ResetChanges()
	e.c.VMs["a"].DiskSize = units.MustParseSize("1G")
	e.c.VMs["a"].VCPUs = 2 // another change that must not happen either
	_, err := e.plan()
	var pe *PlanError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "vms.a.diskSize: 1G is smaller than the existing disk") {
		t.Fatalf("shrink: %v", err)
	}
}

func TestRunningVMMemoryChangePendingRestart(t *testing.T) {
	e := newEnv(t)
	e.vm("a").AutoStart = ptr(true)
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	e.lv.ResetChanges()
	e.c.VMs["a"].Memory = units.MustParseSize("512M")
	p, _, err := e.apply(Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := vmPlan(p, "a")
	if v.Status != StatusUpdate || !v.PendingRestart || !strings.Contains(v.Diff, "524288") {
		t.Fatalf("plan: %+v", v)
	}
	if got := strings.Join(changes(e.lv), "\n"); got != "DefineDomain a" {
		t.Fatalf("changes without --restart: %s", got)
	}
	p = e.mustPlan()
	v = vmPlan(p, "a")
	if v.Status != StatusPendingRestart || p.Changes(false, false) != 0 || p.Changes(true, false) != 1 {
		t.Fatalf("after apply: %+v actions %v", v, p.Actions)
	}
	e.lv.ResetChanges()
	if _, _, err := e.apply(Options{Restart: true}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(changes(e.lv), "\n"); got != "ShutdownDomain a\nStartDomain a" {
		t.Fatalf("changes with --restart: %s", got)
	}
	if p := e.mustPlan(); vmPlan(p, "a").Status != StatusUnchanged || len(p.Actions) != 0 {
		t.Fatalf("after restart: %+v", p)
	}
}

func TestFailedCreateRollsBack(t *testing.T) {
	e := newEnv(t)
	e.vm("a")
	e.vm("b")
	e.lv.Fail = func(c libvirttest.Call) error {
		if c.Method == "DefineDomain" && c.Target == "a" {
			return errors.New("injected")
		}
		return nil
	}
	_, r, err := e.apply(Options{})
	if err == nil {
		t.Fatal("apply succeeded")
	}
	if _, err := e.lv.Volume(context.Background(), "default", "a.qcow2"); !errors.Is(err, libvirt.ErrNotFound) {
		t.Fatalf("volume of failed VM left behind: %v", err)
	}
	if _, err := e.lv.Domain(context.Background(), "b"); err != nil {
		t.Fatalf("other VM not created: %v", err)
	}
	rolled := 0
	for _, ev := range r.Events {
		if ev.Kind == EventRolledBack {
			rolled++
		}
	}
	if rolled != 1 {
		t.Fatalf("rolled back %d steps, want 1", rolled)
	}
	e.lv.Fail = nil
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	if p := e.mustPlan(); len(p.Actions) != 0 {
		t.Fatalf("not converged: %v", p.Actions)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.vm("a").AutoStart = ptr(true)
	p, r, err := e.apply(Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.lv.Changes()) != 0 || len(r.Events) != len(p.Actions) || r.Events[0].Kind != EventWouldDo {
		t.Fatalf("dry run: changes %v events %v", e.lv.Changes(), r.Events)
	}
}

func TestFirewallOpenedAndRemoved(t *testing.T) {
	e := newEnv(t)
	e.c.FirewallPorts = config.FirewallPorts{VNC: ptr(true), Spice: ptr(true)}
	a := e.vm("a")
	a.Graphics = config.Graphics{Listen: "0.0.0.0", AllowNoPassword: true, Port: 5911}
	b := e.vm("b")
	b.Display = config.DisplaySpice
	b.Graphics = config.Graphics{Listen: "0.0.0.0", AllowNoPassword: true}
	e.vm("c") // loopback: never opened
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	if !e.host.fw.Present || !host.SameRanges(e.host.fw.Ports, []host.PortRange{{First: 5900, Last: 5999}}) {
		t.Fatalf("firewall: %+v", e.host.fw)
	}
	if p := e.mustPlan(); len(p.Actions) != 0 {
		t.Fatalf("firewall not idempotent: %v", p.Actions)
	}
	b.Graphics = config.Graphics{}
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	if !host.SameRanges(e.host.fw.Ports, []host.PortRange{{First: 5911, Last: 5911}}) {
		t.Fatalf("firewall: %+v", e.host.fw)
	}
	a.Graphics = config.Graphics{}
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	if e.host.fw.Present {
		t.Fatalf("table left behind: %+v", e.host.fw)
	}
	last := e.host.scripts[len(e.host.scripts)-1]
	if last != "table inet deskvm\ndelete table inet deskvm\n" {
		t.Fatalf("removal script: %q", last)
	}
}

func TestHugepages(t *testing.T) {
	e := newEnv(t)
	e.c.Hugepages = config.Hugepages{Enable: ptr(true), Size: units.MustParseSize("2M")}
	e.vm("a").Memory = units.MustParseSize("256M")
	e.vm("b").Memory = units.MustParseSize("128M")
	p, _, err := e.apply(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e.host.pages[2048] != 192 {
		t.Fatalf("pool: %d pages, want 192 (plan %v)", e.host.pages[2048], p.Actions)
	}
	if p := e.mustPlan(); len(p.Actions) != 0 {
		t.Fatalf("hugepages not idempotent: %v", p.Actions)
	}
	// The kernel gives fewer: a clear error with both numbers.
	e.vm("c").Memory = units.MustParseSize("256M")
	e.host.MaxPages = 200
	_, _, err = e.apply(Options{})
	if err == nil {
		t.Fatal("no error when the kernel allocated fewer pages")
	}
	e.host.MaxPages = 1 << 30
	_, r, _ := e.apply(Options{})
	_ = r
	e.host.MaxPages = 200
	e.c.Hugepages.Count = 300
	_, r, err = e.apply(Options{})
	if err == nil {
		t.Fatal("no error")
	}
	var msg string
	for _, ev := range r.Events {
		if ev.Kind == EventFailed {
			msg = ev.Err.Error()
		}
	}
	if !strings.Contains(msg, "asked the kernel for 300 pages of 2M, it allocated 200") {
		t.Fatalf("message: %q", msg)
	}
}

func TestHugepages1GTellsKernelCommandLine(t *testing.T) {
	e := newEnv(t)
	e.c.Hugepages = config.Hugepages{Enable: ptr(true), Size: units.MustParseSize("1G")}
	e.vm("a").Memory = units.MustParseSize("2G")
	e.facts.Hugepages[1048576] = hostfacts.HugepagePool{Total: 0}
	p := e.mustPlan()
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "default_hugepagesz=1G hugepagesz=1G hugepages=2") {
		t.Fatalf("notes: %v", p.Notes)
	}
	for _, a := range p.Actions {
		if a.Kind == ActSetHugepages {
			t.Fatalf("1G pages allocated at run time: %v", a)
		}
	}
}

func TestHugepagesOnDemandReservesOnlyRunningVMs(t *testing.T) {
	e := newEnv(t)
	e.c.Hugepages = config.Hugepages{Enable: ptr(true), Size: units.MustParseSize("2M"), OnDemand: ptr(true)}
	e.vm("a").Memory = units.MustParseSize("256M")
	e.vm("b").Memory = units.MustParseSize("128M")
	e.c.VMs["b"].AutoStart = ptr(true)
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	if e.host.pages[2048] != 64 {
		t.Fatalf("onDemand pool %d pages, want 64 (b only)", e.host.pages[2048])
	}
}

// With libvirt on another host, the hugepage pool and firewall of this
// machine are left alone: the plan has no host action, only notes saying
// what that host needs.
func TestRemoteHostGetsNotesNotLocalChanges(t *testing.T) {
	e := newEnv(t)
	e.remote = "box"
	e.c.FirewallPorts = config.FirewallPorts{VNC: ptr(true)}
	e.c.Hugepages = config.Hugepages{Enable: ptr(true), Size: units.MustParseSize("2M")}
	e.vm("a").Graphics = config.Graphics{Listen: "0.0.0.0", AllowNoPassword: true, Port: 5911}
	e.vm("b").Memory = units.MustParseSize("128M")
	p, _, err := e.apply(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Actions {
		if a.Kind == ActSetHugepages || a.Kind == ActFirewall {
			t.Errorf("host action for a remote libvirt: %+v", a)
		}
	}
	if e.host.pages[2048] != 0 || len(e.host.scripts) != 0 {
		t.Errorf("this machine changed: %d pages, nft scripts %q", e.host.pages[2048], e.host.scripts)
	}
	notes := strings.Join(p.Notes, "\n")
	for _, want := range []string{
		"the VMs need 192 pages of 2M on box, which has 0",
		"vm.nr_hugepages = 192 on box",
		"firewall: open TCP 5911 on box for a: vnc on 0.0.0.0 port 5911",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	e.c.Hugepages.OnDemand = ptr(true)
	if notes := strings.Join(e.mustPlan().Notes, "\n"); !strings.Contains(notes, "onDemand: pages are allocated by deskvm only when libvirt runs on the machine deskvm runs on, not on box") {
		t.Errorf("onDemand note missing:\n%s", notes)
	}
}

func TestLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "apply.lock")
	unlock, err := host.Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := host.Lock(path); !errors.Is(err, host.ErrLocked) || !strings.Contains(err.Error(), "held by pid") {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	unlock2, err := host.Lock(path)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

func TestPoolAtWrongPathIsPlanError(t *testing.T) {
	e := newEnv(t)
	e.vm("a")
	e.lv.AddPool(libvirt.Pool{Name: "default", Type: "dir", Path: "/elsewhere", Active: true, Persistent: true, Autostart: true})
	_, err := e.plan()
	if err == nil || !strings.Contains(err.Error(), `storage pool "default" exists at /elsewhere`) {
		t.Fatalf("err = %v", err)
	}
}

func TestVMInOtherPool(t *testing.T) {
	e := newEnv(t)
	e.vm("a").StoragePool = "fast"
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	p, err := e.lv.Pool(context.Background(), "fast")
	if err != nil || p.Path != filepath.Join(e.dir, "fast") || !p.Active {
		t.Fatalf("pool fast: %+v %v", p, err)
	}
	if _, err := e.lv.Volume(context.Background(), "fast", "a.qcow2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lv.Pool(context.Background(), "default"); err != nil {
		t.Fatalf("default pool not created: %v", err)
	}
}

func TestHugepagesOnDemandStartStop(t *testing.T) {
	c := &config.Config{Hugepages: config.Hugepages{Enable: ptr(true), Size: units.MustParseSize("2M"), OnDemand: ptr(true)},
		VMs: map[string]*config.VM{"a": {Memory: units.MustParseSize("256M")}, "b": {Memory: units.MustParseSize("64M")}}}
	config.FillDefaults(c)
	h := newFakeHost()
	// 10 pages of someone else's, in use.
	h.pages[2048], h.held[2048] = 10, 10
	ctx := context.Background()
	pool := func(step string, want uint64) {
		t.Helper()
		if h.pages[2048] != want {
			t.Fatalf("%s: pool %d, want %d", step, h.pages[2048], want)
		}
	}
	if err := host.HugepagesBeforeStart(ctx, h, c, "a"); err != nil {
		t.Fatal(err)
	}
	pool("start a", 138)
	h.held[2048] += 128 // QEMU maps them
	if err := host.HugepagesBeforeStart(ctx, h, c, "b"); err != nil {
		t.Fatal(err)
	}
	pool("start b", 170)
	h.held[2048] += 32

	// a stops: its 128 pages go, b's and the other 10 stay.
	h.held[2048] -= 128
	if err := host.HugepagesAfterStop(ctx, h, c, "a"); err != nil {
		t.Fatal(err)
	}
	pool("stop a", 42)

	// b powers itself off: deskvm does not see it, its 32 pages stay free
	// in the pool. Starting b again reuses them instead of adding 32 more,
	// so a guest that powers off by itself again and again leaks nothing.
	h.held[2048] -= 32
	for i := range 3 {
		if err := host.HugepagesBeforeStart(ctx, h, c, "b"); err != nil {
			t.Fatal(err)
		}
		pool(fmt.Sprintf("restart %d of b after it powered off", i), 42)
	}
	// A stop gives back only what deskvm's starts of that VM added: a
	// second stop of a gives nothing, b's free pages stay until b's stop.
	if err := host.HugepagesAfterStop(ctx, h, c, "a"); err != nil {
		t.Fatal(err)
	}
	pool("stop a again", 42)
	if err := host.HugepagesAfterStop(ctx, h, c, "b"); err != nil {
		t.Fatal(err)
	}
	pool("stop b", 10)
	if len(h.added) != 0 {
		t.Fatalf("records left after every stop: %v", h.added)
	}

	// 100 free pages someone else reserved: a start uses them and adds
	// only the 28 missing; its stop gives back those 28, not the 100.
	h.pages[2048] = 110
	if err := host.HugepagesBeforeStart(ctx, h, c, "a"); err != nil {
		t.Fatal(err)
	}
	pool("start a on a reserved pool", 138)
	h.held[2048] += 128
	h.held[2048] -= 128
	if err := host.HugepagesAfterStop(ctx, h, c, "a"); err != nil {
		t.Fatal(err)
	}
	pool("stop a on a reserved pool", 110)
	h.pages[2048] = 10

	h.MaxPages = 100
	err := host.HugepagesBeforeStart(ctx, h, c, "a")
	if err == nil || !strings.Contains(err.Error(), "needs 128 pages of 2M and 0 are free; asked the kernel for 128 more (138 in all), it allocated 100") {
		t.Fatalf("shortfall: %v", err)
	}
	pool("shortfall put back", 10)
	c.Hugepages.OnDemand = ptr(false)
	if err := host.HugepagesBeforeStart(ctx, h, c, "a"); err != nil {
		t.Fatal(err)
	}
	pool("without onDemand", 10)
}

// A new password in graphics.passwordFile changes no config option, so
// the config hash stays; plan must still redefine the domain (and mark a
// running one pending restart), and the password shows nowhere in the
// plan: not in the diff, the reasons, the actions or the JSON.
func TestDisplayPasswordChangeRedefines(t *testing.T) {
	e := newEnv(t)
	// The files must exist (a host check); their text is e.pw.
	pwFile := filepath.Join(e.dir, "pass")
	if err := os.WriteFile(pwFile, []byte("unused"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.vm("a").Graphics = config.Graphics{PasswordFile: pwFile}
	e.vm("b").AutoStart = ptr(true)
	e.c.VMs["b"].Graphics = config.Graphics{PasswordFile: pwFile}
	e.pw = map[string]string{"a": "old-pw-a", "b": "old-pw-b"}
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	if p := e.mustPlan(); len(p.Actions) != 0 {
		t.Fatalf("same passwords: %v", p.Actions)
	}

	e.pw = map[string]string{"a": "new-pw-a", "b": "new-pw-b"}
	e.lv.ResetChanges()
	p, _, err := e.apply(Options{})
	if err != nil {
		t.Fatal(err)
	}
	va, vb := vmPlan(p, "a"), vmPlan(p, "b")
	if va.Status != StatusUpdate || !strings.Contains(va.Reason, "display password changed") ||
		!strings.Contains(va.Diff, "(redacted, changed)") {
		t.Errorf("a: %+v", va)
	}
	if !vb.PendingRestart || !strings.Contains(vb.Reason, "display password changed") {
		t.Errorf("b (running): %+v", vb)
	}
	got := strings.Join(changes(e.lv), "\n")
	if !strings.Contains(got, "DefineDomain a") || !strings.Contains(got, "DefineDomain b") {
		t.Errorf("changes: %s", got)
	}
	d, _ := e.lv.Domain(context.Background(), "a")
	if !strings.Contains(d.InactiveXML, `passwd="new-pw-a"`) {
		t.Errorf("a not redefined with the new password")
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	shown := string(js)
	for _, act := range p.Actions {
		shown += act.String()
	}
	for _, v := range p.VMs {
		shown += v.Reason + v.Diff
	}
	if strings.Contains(shown, "pw-") {
		t.Errorf("a password shows in the plan: %s", shown)
	}
	// The running VM keeps its old password until it restarts.
	if p := e.mustPlan(); vmPlan(p, "b").Status != StatusPendingRestart || vmPlan(p, "a").Status != StatusUnchanged {
		t.Errorf("after apply: %+v", p.VMs)
	}
}

// disk.baseImage: the VM's disk is a qcow2 overlay of diskSize on it.
func TestDiskOverlayOnBaseImage(t *testing.T) {
	e := newEnv(t)
	base := filepath.Join(e.dir, "base.qcow2")
	if err := os.WriteFile(base, nil, 0o644); err != nil { // a host check wants it to exist
		t.Fatal(err)
	}
	e.vm("a").Disk.BaseImage = base
	p, _, err := e.apply(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var spec *libvirt.VolumeSpec
	for _, a := range p.Actions {
		if a.Kind == ActCreateVolume {
			spec = a.Volume
		}
	}
	if spec == nil || spec.BackingPath != base || spec.BackingFormat != "qcow2" || spec.Format != "qcow2" || spec.Capacity != 1<<30 {
		t.Fatalf("create-volume spec: %+v", spec)
	}
	v, err := e.lv.Volume(context.Background(), "default", "a.qcow2")
	if err != nil || v.BackingPath != base {
		t.Fatalf("volume: %+v %v", v, err)
	}
}

// An auto-pinned VM whose CPUs another VM takes is redefined on the CPUs
// left, although none of its own options changed.
func TestAutoPinnedVMFollowsOtherVMs(t *testing.T) {
	e := newEnv(t) // CPUs 0 and 1, one core each
	e.vm("a").CPUPinning = config.CPUPinning{Auto: true}
	if _, _, err := e.apply(Options{}); err != nil {
		t.Fatal(err)
	}
	d, _ := e.lv.Domain(context.Background(), "a")
	if !strings.Contains(d.InactiveXML, `cpuset="1"`) {
		t.Fatalf("a not on CPU 1:\n%s", d.InactiveXML)
	}
	e.vm("b").CPUPinning = config.CPUPinning{Sets: []string{"1"}}
	p, _, err := e.apply(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v := vmPlan(p, "a"); v.Status != StatusUpdate || !strings.Contains(v.Diff, "vcpupin") {
		t.Fatalf("a after b took CPU 1: %+v", v)
	}
	d, _ = e.lv.Domain(context.Background(), "a")
	if !strings.Contains(d.InactiveXML, `cpuset="0"`) {
		t.Fatalf("a not moved to CPU 0:\n%s", d.InactiveXML)
	}
	if p := e.mustPlan(); len(p.Actions) != 0 {
		t.Fatalf("not idempotent: %v", p.Actions)
	}
}

// Secure boot on a host whose only secure-boot vars lack Microsoft's keys
// stops the plan (a warning in config validate), naming the missing file.
func TestSecureBootWithoutMSKeysIsPlanError(t *testing.T) {
	e := newEnv(t)
	e.facts.Firmware = hostfacts.Firmware{Code: "/usr/share/edk2/x64/OVMF_CODE.4m.fd", Vars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
		SecureBootCode: "/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd", SecureVars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
		MSVarsWanted: "/usr/share/edk2/x64/OVMF_VARS.4m.ms.fd"}
	vm := e.vm("w")
	vm.Firmware, vm.SecureBoot = config.FirmwareUEFI, true
	_, err := e.plan()
	var pe *PlanError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "vms.w.secureBoot") || !strings.Contains(err.Error(), "provide /usr/share/edk2/x64/OVMF_VARS.4m.ms.fd") {
		t.Fatalf("plan: %v; want a plan error naming OVMF_VARS.4m.ms.fd", err)
	}
	e.facts.Firmware.SecureVars, e.facts.Firmware.MSKeys, e.facts.Firmware.MSVarsWanted = "/usr/share/edk2/x64/OVMF_VARS.4m.ms.fd", true, ""
	e.mustPlan()
}
