package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/domainxml"
	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/testutil/libvirttest"
	"github.com/deskvm/deskvm/internal/units"
)

type realEnv struct {
	tb     testing.TB
	prefix string
	pool   string
	dir    string
	conn   *libvirt.Conn
	facts  *hostfacts.Facts
	// pw are display passwords by VM name (without the prefix).
	pw map[string]string
}

func newRealEnv(tb testing.TB) *realEnv {
	tb.Helper()
	uri := testutil.RequiresLibvirt(tb)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	dir := tb.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		_ = os.Chmod(d, 0o755) // QEMU's own user reaches the pool
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := libvirt.Dial(ctx, uri, libvirt.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	facts, err := (&hostfacts.Prober{Connect: uri}).Probe(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	e := &realEnv{tb: tb, prefix: "deskvm-test-re" + id + "-", pool: "deskvm-test-repool-" + id, dir: dir, conn: c, facts: facts}
	tb.Cleanup(e.cleanup)
	return e
}

func (e *realEnv) cleanup() {
	libvirttest.Cleanup(e.tb, e.conn, e.prefix, e.pool)
	e.conn.Close()
}

func (e *realEnv) config(vms map[string]*config.VM) *config.Config {
	c := &config.Config{Accelerator: config.AcceleratorTCG, DefaultStoragePool: e.pool,
		DefaultStoragePath: filepath.Join(e.dir, "pool"), VMs: map[string]*config.VM{}}
	for n, vm := range vms {
		c.VMs[e.prefix+n] = vm
	}
	config.FillDefaults(c)
	if ps := config.Validate(c); ps.HasErrors() {
		e.tb.Fatalf("invalid test config: %v", ps.Errors())
	}
	return c
}

func (e *realEnv) reconcile(c *config.Config, lv libvirt.Client, opts Options) (*Plan, error) {
	ctx := context.Background()
	obs, err := Observe(ctx, lv, nil, "")
	if err != nil {
		return nil, err
	}
	obs.Firewall = &host.FirewallState{}
	pw := map[string]string{}
	for n, x := range e.pw {
		pw[e.prefix+n] = x
	}
	p, err := MakePlan(c, e.facts, obs, PlanOptions{DomainPrefix: e.prefix, GraphicsPasswords: pw})
	if err != nil {
		return nil, err
	}
	_, err = Apply(ctx, p, lv, nil, opts)
	return p, err
}

// What libvirt stores for a rendered domain differs from the rendering
// only by libvirt's own additions, which the diff must not show — for the
// main variants of the renderer.
func TestRealLibvirtStoredDomainsDiffEmpty(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	e := newRealEnv(t)
	hasOVMF := e.facts.Firmware.SecureBootCode != "" && e.facts.Firmware.SecureVars != "" && e.facts.Firmware.MSKeys
	vms := map[string]*config.VM{
		"bios-vnc":  {Memory: units.MustParseSize("128M"), DiskSize: units.MustParseSize("64M"), Firmware: config.FirmwareBIOS, Network: "user", Display: config.DisplayVNC},
		"spice-win": {Memory: units.MustParseSize("256M"), DiskSize: units.MustParseSize("64M"), OSType: config.OSWindows, Firmware: config.FirmwareBIOS, Network: "none", Display: config.DisplaySpice, CDROMs: []string{"/dev/null"}},
		"cpu-pin":   {Memory: units.MustParseSize("128M"), VCPUs: 2, DiskSize: units.MustParseSize("64M"), Firmware: config.FirmwareBIOS, Network: "none", Display: config.DisplayNone, CPUPinning: config.CPUPinning{Sets: []string{"0", "1"}}, EmulatorPin: "0"},
	}
	if hasOVMF {
		vms["uefi-sb-tpm"] = &config.VM{Memory: units.MustParseSize("256M"), DiskSize: units.MustParseSize("64M"), SecureBoot: true, TPM: true, Network: "none", Display: config.DisplayVNC}
	} else if testutil.InCI() {
		t.Fatal("OVMF with secure boot missing in CI")
	}
	// Display passwords: libvirt's stored definition (read with the
	// secure flag) must compare equal, or every plan would redefine.
	e.pw = map[string]string{"bios-vnc": "vnc&<pw", "spice-win": "spice\"pw"}
	c := e.config(vms)
	if _, err := e.reconcile(c, e.conn, Options{}); err != nil {
		t.Fatal(err)
	}
	for name := range c.VMs {
		d, err := e.conn.Domain(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		var ropts []domainxml.Option
		if pw, ok := e.pw[strings.TrimPrefix(name, e.prefix)]; ok {
			ropts = append(ropts, domainxml.WithGraphicsPassword(pw))
			if got, err := domainxml.GraphicsPasswords(d.InactiveXML); err != nil || strings.Join(got, "\x00") != pw {
				t.Errorf("%s: libvirt did not keep the display password", name)
			}
		}
		want, err := domainxml.RenderXML(c, name, e.facts, ropts...)
		if err != nil {
			t.Fatal(err)
		}
		diff, err := DomainDiff(name, d.InactiveXML, want)
		if err != nil {
			t.Fatal(err)
		}
		if diff != "" {
			t.Errorf("%s: stored definition differs from the rendering:\n%s", name, diff)
		}
	}
	// And the second pass, through a Recorder around the real adapter,
	// makes no changing call.
	rec := libvirttest.NewRecorder(e.conn)
	p, err := e.reconcile(c, rec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Changes()) != 0 || len(p.Actions) != 0 {
		t.Fatalf("second pass: actions %v, calls %v", p.Actions, rec.Changes())
	}
}

// BenchmarkNoopApply50 measures a no-op apply (observe, plan, apply) with
// 50 managed VMs against the real libvirtd; the baseline in the same run
// is the same pass with 1 VM.
func BenchmarkNoopApply(b *testing.B) {
	for _, n := range []int{1, 50} {
		b.Run(fmt.Sprintf("vms=%d", n), func(b *testing.B) {
			e := newRealEnv(b)
			vms := map[string]*config.VM{}
			for i := 0; i < n; i++ {
				vms[fmt.Sprintf("vm%02d", i)] = &config.VM{Memory: units.MustParseSize("128M"), DiskSize: units.MustParseSize("1M"), Firmware: config.FirmwareBIOS,
					Network: "none", Display: config.DisplayVNC}
			}
			c := e.config(vms)
			if _, err := e.reconcile(c, e.conn, Options{}); err != nil {
				b.Fatal(err)
			}
			rec := libvirttest.NewRecorder(e.conn)
			b.ResetTimer()
			for b.Loop() {
				p, err := e.reconcile(c, rec, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Actions) != 0 {
					b.Fatalf("not a no-op: %v", p.Actions)
				}
			}
			b.StopTimer()
			if len(rec.Changes()) != 0 {
				b.Fatalf("no-op apply changed: %v", rec.Changes())
			}
		})
	}
}
