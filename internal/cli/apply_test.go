package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"libvirt.org/go/libvirtxml"

	"github.com/deskvm/deskvm/internal/domainxml"
	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/reconcile"
	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/testutil/libvirttest"
)

// rcEnv runs plan/apply in-process against the real libvirtd, confined to
// domains named <prefix>* (DESKVM_DOMAIN_PREFIX) and a pool, lock file
// and firewall table of the test's own, all removed in cleanup.
type rcEnv struct {
	t      *testing.T
	prefix string
	pool   string
	dir    string
	record string
	conn   *libvirt.Conn
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newRCEnv(t *testing.T) *rcEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	uri := testutil.RequiresLibvirt(t)
	id := randHex(3)
	e := &rcEnv{t: t, prefix: "deskvm-test-rc" + id + "-", pool: "deskvm-test-rcpool-" + id, dir: t.TempDir()}
	e.record = filepath.Join(e.dir, "changes.log")
	// QEMU runs as its own user and must reach the disks in the pool.
	for _, d := range []string{e.dir, filepath.Dir(e.dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(envLockFile, filepath.Join(e.dir, "apply.lock"))
	t.Setenv(envFirewallTable, "deskvm_test_"+id)
	t.Setenv(envDomainPrefix, e.prefix)
	t.Setenv(envRecord, e.record)
	c, err := libvirt.Dial(context.Background(), uri, libvirt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.conn = c
	t.Cleanup(e.cleanup)
	return e
}

func (e *rcEnv) cleanup() {
	libvirttest.Cleanup(e.t, e.conn, e.prefix, e.pool)
	_ = (&host.Sys{}).ApplyFirewall(context.Background(), host.FirewallScript(os.Getenv(envFirewallTable), nil))
	e.conn.Close()
}

// config writes testdata/apply/NAME.yaml with ${VAR}s filled in.
func (e *rcEnv) config(name string, vars map[string]string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "apply", name+".yaml"))
	if err != nil {
		e.t.Fatal(err)
	}
	all := map[string]string{"P": e.prefix, "POOL": e.pool, "DIR": e.dir}
	for k, v := range vars {
		all[k] = v
	}
	s := os.Expand(string(b), func(k string) string {
		v, ok := all[k]
		if !ok {
			e.t.Fatalf("%s.yaml: no value for ${%s}", name, k)
		}
		return v
	})
	p := filepath.Join(e.dir, name+"-"+randHex(2)+".yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

type result struct {
	code           int
	stdout, stderr string
}

func (e *rcEnv) run(args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := Main(ctx, append([]string{"deskvm"}, args...), strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func (e *rcEnv) mustRun(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("deskvm %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// changes returns and forgets the changing libvirt calls recorded so far.
func (e *rcEnv) changes() []string {
	e.t.Helper()
	b, err := os.ReadFile(e.record)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	_ = os.Remove(e.record)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (e *rcEnv) domain(name string) libvirt.Domain {
	e.t.Helper()
	d, err := e.conn.Domain(context.Background(), e.prefix+name)
	if err != nil {
		e.t.Fatalf("domain %s: %v", name, err)
	}
	return d
}

func (e *rcEnv) planJSON(cfg string) reconcile.Plan {
	e.t.Helper()
	r := e.mustRun("plan", "-f", cfg, "--output", "json")
	var p reconcile.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		e.t.Fatalf("plan json: %v\n%s", err, r.stdout)
	}
	return p
}

func vmStatus(p reconcile.Plan, name string) reconcile.VMPlan {
	for _, v := range p.VMs {
		if v.Name == name {
			return v
		}
	}
	return reconcile.VMPlan{}
}

func hasMetadata(doc string) bool {
	_, ok, err := domainxml.ParseMetadata(doc)
	return err == nil && ok
}

// One VM that runs, through its whole life: create and start, a no-op
// apply, a memory change while running (pending restart, then --restart),
// autostart off, removal with --restart --delete-disks.
func TestApplyRunningVMLifecycle(t *testing.T) {
	e := newRCEnv(t)
	vars := map[string]string{"MEM": "128M", "AUTO": "true", "ENABLE": "true"}
	cfg := e.config("running", vars)

	r := e.mustRun("apply", "-f", cfg)
	if !strings.Contains(r.stdout, "done: start-domain "+e.prefix+"run") {
		t.Fatalf("apply output:\n%s", r.stdout)
	}
	d := e.domain("run")
	if !d.Active || !d.Autostart || !hasMetadata(d.LiveXML) || !hasMetadata(d.InactiveXML) {
		t.Fatalf("after create: active=%v autostart=%v live metadata=%v", d.Active, d.Autostart, hasMetadata(d.LiveXML))
	}
	e.changes()

	// Second apply: no changing call, says so; plan reports zero actions.
	r = e.mustRun("apply", "-f", cfg)
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("second apply made changing calls: %v", got)
	}
	if !strings.Contains(r.stdout, "Nothing to change.") {
		t.Fatalf("second apply output:\n%s", r.stdout)
	}
	if p := e.planJSON(cfg); len(p.Actions) != 0 || vmStatus(p, e.prefix+"run").Status != reconcile.StatusUnchanged {
		t.Fatalf("plan after apply: %+v", p)
	}

	// Memory change while running: redefined, not restarted.
	vars["MEM"] = "192M"
	cfg = e.config("running", vars)
	e.mustRun("apply", "-f", cfg)
	if got := e.changes(); strings.Join(got, "\n") != "DefineDomain "+e.prefix+"run" {
		t.Fatalf("apply of a memory change made: %v", got)
	}
	d = e.domain("run")
	if !d.Active || !strings.Contains(d.LiveXML, "131072") || !strings.Contains(d.InactiveXML, "196608") {
		t.Fatalf("running VM restarted or not redefined: active=%v", d.Active)
	}
	p := e.planJSON(cfg)
	v := vmStatus(p, e.prefix+"run")
	if v.Status != reconcile.StatusPendingRestart || !v.PendingRestart || !strings.Contains(v.Diff, "196608") {
		t.Fatalf("plan of pending restart: %+v", v)
	}
	r = e.mustRun("plan", "-f", cfg)
	if !strings.Contains(r.stdout, "pending-restart") || !strings.Contains(r.stdout, "[--restart] restart-domain") {
		t.Fatalf("plan text:\n%s", r.stdout)
	}
	e.mustRun("apply", "-f", cfg, "--restart", "--shutdown-timeout", "1s")
	if d = e.domain("run"); !d.Active || !strings.Contains(d.LiveXML, "196608") {
		t.Fatalf("after --restart: active=%v", d.Active)
	}
	if p := e.planJSON(cfg); len(p.Actions) != 0 {
		t.Fatalf("plan after restart: %+v", p.Actions)
	}
	e.changes()

	// autoStart true -> false is applied (and the VM keeps running).
	vars["AUTO"] = "false"
	cfg = e.config("running", vars)
	e.mustRun("apply", "-f", cfg)
	if d = e.domain("run"); d.Autostart || !d.Active {
		t.Fatalf("autostart off: autostart=%v active=%v", d.Autostart, d.Active)
	}
	if got := strings.Join(e.changes(), "\n"); !strings.Contains(got, "SetAutostart "+e.prefix+"run (false)") {
		t.Fatalf("changes: %s", got)
	}

	// Disabled + --restart --delete-disks: powered off, undefined, disk gone.
	disk := filepath.Join(e.dir, "pool", e.prefix+"run.qcow2")
	if _, err := os.Stat(disk); err != nil {
		t.Fatal(err)
	}
	vars["ENABLE"] = "false"
	cfg = e.config("running", vars)
	e.mustRun("apply", "-f", cfg, "--restart", "--delete-disks")
	if _, err := e.conn.Domain(context.Background(), e.prefix+"run"); !errors.Is(err, libvirt.ErrNotFound) {
		t.Fatalf("domain still there: %v", err)
	}
	if _, err := os.Stat(disk); !os.IsNotExist(err) {
		t.Fatalf("disk still there: %v", err)
	}
}

// VMs that never start: redefinition without a uuid, disk growth and a
// refused shrink, removal keeping the disk.
func TestApplyIdleVMs(t *testing.T) {
	e := newRCEnv(t)
	vars := map[string]string{"VCPUS": "1", "DISK": "64M", "ENABLE_B": "true"}
	e.mustRun("apply", "-f", e.config("idle", vars))
	a := e.domain("a")
	if a.Active || a.Autostart || !hasMetadata(a.InactiveXML) {
		t.Fatalf("a: %+v", a)
	}

	// No uuid in the config: a changed VM is redefined in place.
	vars["VCPUS"] = "2"
	r := e.mustRun("apply", "-f", e.config("idle", vars))
	if !strings.Contains(r.stdout, "done: define-domain "+e.prefix+"a") {
		t.Fatalf("redefine:\n%s", r.stdout)
	}
	if a2 := e.domain("a"); a2.UUID != a.UUID || !strings.Contains(a2.InactiveXML, ">2</vcpu>") {
		t.Fatalf("redefined domain: uuid %s -> %s", a.UUID, a2.UUID)
	}

	// diskSize grows -> the volume grows.
	vars["DISK"] = "128M"
	e.mustRun("apply", "-f", e.config("idle", vars))
	vol, err := e.conn.Volume(context.Background(), e.pool, e.prefix+"a.qcow2")
	if err != nil || vol.Capacity != 128<<20 {
		t.Fatalf("grown volume: %+v %v", vol, err)
	}
	e.changes()

	// Shrink -> plan error, nothing changed (not even the other change).
	vars["DISK"] = "64M"
	vars["VCPUS"] = "1"
	cfg := e.config("idle", vars)
	r = e.run("apply", "-f", cfg)
	if r.code == 0 || !strings.Contains(r.stderr, "diskSize: 64M is smaller than the existing disk") ||
		!strings.Contains(r.stderr, "nothing was changed") {
		t.Fatalf("shrink: exit %d\n%s", r.code, r.stderr)
	}
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("shrink changed: %v", got)
	}
	if r := e.run("plan", "-f", cfg); r.code == 0 {
		t.Fatal("plan of a shrink succeeded")
	}

	// Remove b (disabled): undefined, disk kept.
	vars["DISK"] = "128M"
	vars["ENABLE_B"] = "false"
	e.mustRun("apply", "-f", e.config("idle", vars))
	if _, err := e.conn.Domain(context.Background(), e.prefix+"b"); !errors.Is(err, libvirt.ErrNotFound) {
		t.Fatalf("b still defined: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "pool", e.prefix+"b.qcow2")); err != nil {
		t.Fatalf("disk of removed VM: %v", err)
	}
}

// Hand-made domains (no metadata): one with another name survives every
// apply; one with a configured VM's name fails that VM and stays as it was.
func TestApplyNeverTouchesUnmanagedDomains(t *testing.T) {
	e := newRCEnv(t)
	ctx := context.Background()
	hand := `<domain type='qemu'><name>` + e.prefix + `hand</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`
	clash := strings.ReplaceAll(hand, e.prefix+"hand", e.prefix+"clash")
	for _, x := range []string{hand, clash} {
		if err := e.conn.DefineDomain(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	before := map[string]string{"hand": e.domain("hand").InactiveXML, "clash": e.domain("clash").InactiveXML}

	cfg := e.config("clash", nil)
	r := e.run("apply", "-f", cfg, "--restart", "--delete-disks")
	want := `domain "` + e.prefix + `clash" exists and is not managed by deskvm; rename or remove it`
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Fatalf("clash: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	for _, c := range e.changes() {
		if strings.Contains(c, "clash") || strings.Contains(c, "hand") {
			t.Errorf("touched a hand-made domain: %s", c)
		}
	}
	if p := e.planJSON(e.config("idle", map[string]string{"VCPUS": "1", "DISK": "64M", "ENABLE_B": "true"})); vmStatus(p, e.prefix+"hand").Status != "" {
		t.Fatalf("hand-made domain appears in a plan: %+v", p.VMs)
	}
	e.domain("ok") // the other VM was created
	// A config without any of them removes ok, never hand or clash.
	e.mustRun("apply", "-f", e.config("idle", map[string]string{"VCPUS": "1", "DISK": "64M", "ENABLE_B": "true"}), "--restart", "--delete-disks")
	for name, x := range before {
		if got := e.domain(name).InactiveXML; got != x {
			t.Errorf("%s changed:\n%s", name, got)
		}
	}
	if _, err := e.conn.Domain(ctx, e.prefix+"ok"); !errors.Is(err, libvirt.ErrNotFound) {
		t.Fatalf("managed VM ok not removed: %v", err)
	}
}

// Secure boot + TPM: NVRAM file and TPM state survive a redefinition.
func TestApplyKeepsNVRAMAndTPM(t *testing.T) {
	e := newRCEnv(t)
	testutil.RequiresCommand(t, "swtpm")
	vars := map[string]string{"MEM": "256M"}
	e.mustRun("apply", "-f", e.config("secure", vars))
	name := e.prefix + "sb"
	ctx := context.Background()
	// NVRAM and TPM state are made at first start.
	if err := e.conn.StartDomain(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := e.conn.DestroyDomain(ctx, name); err != nil {
		t.Fatal(err)
	}
	d := e.domain("sb")
	nvram := domainxml.NVRAMPath(name)
	tpmDir := filepath.Join("/var/lib/libvirt/swtpm", d.UUID)
	for _, p := range []string{nvram, tpmDir} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("after first start: %v", err)
		}
	}
	vars["MEM"] = "320M"
	r := e.mustRun("apply", "-f", e.config("secure", vars))
	if !strings.Contains(r.stdout, "done: define-domain "+name) {
		t.Fatalf("not redefined:\n%s", r.stdout)
	}
	for _, p := range []string{nvram, tpmDir} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("after redefine: %v", err)
		}
	}
}

// An invalid config exits non-zero before any libvirt connection.
func TestApplyInvalidConfigChangesNothing(t *testing.T) {
	e := newRCEnv(t)
	ctx := context.Background()
	before, err := e.conn.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config("invalid", nil)
	for _, cmd := range [][]string{{"apply", "-f", cfg}, {"plan", "-f", cfg}, {"apply", "-f", cfg, "--dry-run"}} {
		r := e.run(cmd...)
		if r.code == 0 || !strings.Contains(r.stderr, "16Q") || !strings.Contains(r.stderr, "vcpu") {
			t.Fatalf("%v: exit %d\n%s", cmd, r.code, r.stderr)
		}
	}
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("libvirt calls: %v", got)
	}
	after, err := e.conn.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names(before, e.prefix) != names(after, e.prefix) || names(after, e.prefix) != "" {
		t.Fatalf("domains changed: %q -> %q", names(before, e.prefix), names(after, e.prefix))
	}
	if _, err := e.conn.Pool(ctx, e.pool); !errors.Is(err, libvirt.ErrNotFound) {
		t.Fatalf("pool created: %v", err)
	}
}

func names(ds []libvirt.Domain, prefix string) string {
	var n []string
	for _, d := range ds {
		if strings.HasPrefix(d.Name, prefix) {
			n = append(n, d.Name)
		}
	}
	sort.Strings(n)
	return strings.Join(n, ",")
}

// TestHelperDeskvm is not a test: it lets other tests run deskvm as a
// separate process (this test binary with DESKVM_HELPER=1), so that the
// process can be killed half way.
func TestHelperDeskvm(t *testing.T) {
	if os.Getenv("DESKVM_HELPER") != "1" {
		return
	}
	args := []string{"deskvm"}
	for i, a := range os.Args {
		if a == "--" {
			args = append(args, os.Args[i+1:]...)
			break
		}
	}
	os.Exit(Main(context.Background(), args, os.Stdin, os.Stdout, os.Stderr))
}

// An apply SIGKILLed right after its first define, run again, ends where
// one clean apply ends.
func TestApplyKilledHalfWayConverges(t *testing.T) {
	e := newRCEnv(t)
	cfg := e.config("three", nil)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDeskvm$", "--", "apply", "-f", cfg)
	cmd.Env = append(os.Environ(), "DESKVM_HELPER=1", envKillAfter+"=DefineDomain:1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper was not killed: %v\n%s", err, out)
	}
	if got := e.changes(); len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "DefineDomain ") {
		t.Fatalf("killed apply's last change: %v", got)
	}
	// Half way: one VM defined, the others not.
	defined := 0
	for _, n := range []string{"one", "two", "three"} {
		if _, err := e.conn.Domain(context.Background(), e.prefix+n); err == nil {
			defined++
		}
	}
	if defined != 1 {
		t.Fatalf("%d VMs defined after the kill, want 1", defined)
	}

	r := e.mustRun("apply", "-f", cfg)
	if strings.Contains(r.stdout, "create-volume "+e.prefix+"one") && defined == 0 {
		t.Fatalf("second apply:\n%s", r.stdout)
	}
	if p := e.planJSON(cfg); len(p.Actions) != 0 {
		t.Fatalf("not converged: %+v", p.Actions)
	}
	for _, n := range []string{"one", "two", "three"} {
		d := e.domain(n)
		if !hasMetadata(d.InactiveXML) || d.Active || d.Autostart {
			t.Fatalf("%s: %+v", n, d)
		}
		if _, err := e.conn.Volume(context.Background(), e.pool, e.prefix+n+".qcow2"); err != nil {
			t.Fatalf("%s disk: %v", n, err)
		}
	}
	e.changes()
	e.mustRun("apply", "-f", cfg)
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("apply after convergence changed: %v", got)
	}
}

// Dry run prints the nft commands and changes nothing.
func TestApplyDryRunFirewall(t *testing.T) {
	e := newRCEnv(t)
	cfg := e.config("running", map[string]string{"MEM": "128M", "AUTO": "false", "ENABLE": "true"})
	b, _ := os.ReadFile(cfg)
	s := strings.Replace(string(b), "accelerator: tcg", "accelerator: tcg\nfirewallPorts: {vnc: true}", 1)
	s = strings.Replace(s, "display: vnc", "display: vnc\n    graphics: {listen: 0.0.0.0, port: 5987, allowNoPassword: true}", 1)
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.mustRun("apply", "-f", cfg, "--dry-run")
	for _, want := range []string{"would: define-domain", "nft -f - <<'EOF'", "elements = { 5987 }", "Dry run:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("dry run changed libvirt: %v", got)
	}
	if st, err := (&host.Sys{}).Firewall(context.Background(), os.Getenv(envFirewallTable)); err == nil && st.Present {
		t.Fatal("dry run created the firewall table")
	}
	// The real apply opens it, and a no-op apply leaves it.
	e.mustRun("apply", "-f", cfg)
	st, err := (&host.Sys{}).Firewall(context.Background(), os.Getenv(envFirewallTable))
	if err != nil || !st.Present || len(st.Ports) != 1 || st.Ports[0].First != 5987 {
		t.Fatalf("firewall after apply: %+v %v", st, err)
	}
	e.changes()
	if r := e.mustRun("apply", "-f", cfg); !strings.Contains(r.stdout, "Nothing to change.") {
		t.Fatalf("no-op apply:\n%s", r.stdout)
	}
}

// A display password from graphics.passwordFile reaches libvirt but never
// the output of plan (text or JSON) or apply, also when it changes (which
// redefines the VM) and under --dry-run and -v.
func TestApplyDisplayPasswordNeverShown(t *testing.T) {
	e := newRCEnv(t)
	pwFile := filepath.Join(e.dir, "vnc.pass")
	setPW := func(pw string) {
		if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := e.config("idle", map[string]string{"VCPUS": "1", "DISK": "64M", "ENABLE_B": "true"})
	b, _ := os.ReadFile(cfg)
	s := strings.Replace(string(b), "display: vnc", "display: vnc\n    graphics: {passwordFile: "+pwFile+"}", 1)
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	var shown []string
	run := func(args ...string) result {
		r := e.mustRun(append([]string{"-v"}, args...)...)
		shown = append(shown, r.stdout, r.stderr)
		return r
	}
	storedPW := func() string {
		var d libvirtxml.Domain // read with the secure flag
		if err := d.Unmarshal(e.domain("b").InactiveXML); err != nil || d.Devices == nil || len(d.Devices.Graphics) == 0 || d.Devices.Graphics[0].VNC == nil {
			t.Fatalf("no VNC display in b: %v", err)
		}
		return d.Devices.Graphics[0].VNC.Passwd
	}

	setPW("pw-one1")
	run("plan", "-f", cfg)
	run("apply", "-f", cfg)
	if got := storedPW(); got != "pw-one1" {
		t.Fatalf("stored password %q", got)
	}
	if r := run("apply", "-f", cfg); !strings.Contains(r.stdout, "Nothing to change.") {
		t.Fatalf("same password, second apply:\n%s", r.stdout)
	}
	e.changes()

	setPW("pw-two2")
	r := run("plan", "-f", cfg)
	if !strings.Contains(r.stdout, "display password changed") || !strings.Contains(r.stdout, "(redacted, changed)") {
		t.Errorf("plan after a password change:\n%s", r.stdout)
	}
	run("plan", "-f", cfg, "-o", "json")
	run("apply", "-f", cfg, "--dry-run")
	run("apply", "-f", cfg)
	if got := e.changes(); strings.Join(got, "\n") != "DefineDomain "+e.prefix+"b" {
		t.Errorf("password change made: %v", got)
	}
	if got := storedPW(); got != "pw-two2" {
		t.Errorf("stored password %q after the change", got)
	}
	for _, out := range shown {
		if strings.Contains(out, "pw-one1") || strings.Contains(out, "pw-two2") {
			t.Fatalf("a password shows in deskvm's output:\n%s", out)
		}
	}
}
