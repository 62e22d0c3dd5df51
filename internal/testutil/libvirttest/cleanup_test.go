package libvirttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil"
)

// recordTB records Errorf instead of failing, to test refusals.
type recordTB struct {
	testing.TB
	errs []string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCleanupFake(t *testing.T) {
	f := NewFake()
	f.AddDomain(libvirt.Domain{Name: "deskvm-test-x-run", Active: true, Persistent: true, InactiveXML: "<domain/>"})
	f.AddDomain(libvirt.Domain{Name: "deskvm-test-x-off", Persistent: true, InactiveXML: "<domain/>"})
	f.AddDomain(libvirt.Domain{Name: "deskvm-test-x-transient", Active: true, LiveXML: "<domain/>"})
	f.AddDomain(libvirt.Domain{Name: "deskvm-test-y-other", Active: true, Persistent: true, InactiveXML: "<domain/>"})
	f.AddDomain(libvirt.Domain{Name: "win11", Persistent: true, InactiveXML: "<domain/>"})
	f.AddPool(libvirt.Pool{Name: "deskvm-test-xpool", Path: "/p", Active: true, Persistent: true})
	f.AddVolume(libvirt.Volume{Pool: "deskvm-test-xpool", Name: "a.qcow2"})
	f.AddPool(libvirt.Pool{Name: "default", Path: "/var/lib/libvirt/images", Active: true, Persistent: true})
	f.AddVolume(libvirt.Volume{Pool: "default", Name: "win11.qcow2"})

	Cleanup(t, f, "deskvm-test-x-", "deskvm-test-xpool", "deskvm-test-gone")

	ctx := context.Background()
	doms, _ := f.Domains(ctx)
	var left []string
	for _, d := range doms {
		left = append(left, d.Name)
	}
	if strings.Join(left, " ") != "deskvm-test-y-other win11" {
		t.Errorf("domains left: %v", left)
	}
	if _, err := f.Pool(ctx, "deskvm-test-xpool"); !errors.Is(err, libvirt.ErrNotFound) {
		t.Errorf("test pool left: %v", err)
	}
	if _, err := f.Volume(ctx, "default", "win11.qcow2"); err != nil {
		t.Errorf("other pool's volume gone: %v", err)
	}
	var removedNVRAM bool
	for _, c := range f.Changes() {
		if c.String() == "UndefineDomain deskvm-test-x-run (remove nvram, remove tpm)" {
			removedNVRAM = true
		}
	}
	if !removedNVRAM {
		t.Errorf("NVRAM and TPM state not removed: %v", f.Changes())
	}
}

func TestCleanupRefusesOtherNames(t *testing.T) {
	for _, args := range [][]string{{"", "deskvm-test-p"}, {"win", "deskvm-test-p"}, {"deskvm-test-", "deskvm-test-p"}, {"deskvm-test-a-", "default"}} {
		f := NewFake()
		f.AddDomain(libvirt.Domain{Name: "win11", Persistent: true, InactiveXML: "<domain/>"})
		f.AddPool(libvirt.Pool{Name: "default", Path: "/p", Persistent: true})
		r := &recordTB{TB: t}
		Cleanup(r, f, args[0], args[1:]...)
		if len(r.errs) != 1 || len(f.Changes()) != 0 {
			t.Errorf("Cleanup(%q): errors %q, changes %v; want a refusal and no change", args, r.errs, f.Changes())
		}
	}
}

// On the real libvirtd: a running domain with a persistent definition, a
// defined-only one, a pool with a volume — all gone afterwards.
func TestCleanupReal(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	uri := testutil.RequiresLibvirt(t)
	ctx := context.Background()
	c, err := libvirt.Dial(ctx, uri, libvirt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() }) // after the Cleanup below
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	prefix, pool := "deskvm-test-clean"+id+"-", "deskvm-test-cleanpool-"+id
	// Should the test fail half way, its leftovers still go.
	t.Cleanup(func() { Cleanup(t, c, prefix, pool) })

	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		_ = os.Chmod(d, 0o755)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("define pool", c.DefineDirPool(ctx, pool, filepath.Join(dir, "pool")))
	must("build pool", c.BuildPool(ctx, pool))
	must("start pool", c.StartPool(ctx, pool))
	_, err = c.CreateVolume(ctx, pool, libvirt.VolumeSpec{Name: "disk.qcow2", Capacity: 1 << 20})
	must("create volume", err)
	for _, n := range []string{"run", "off"} {
		must("define "+n, c.DefineDomain(ctx, fmt.Sprintf(`<domain type='qemu'><name>%s%s</name><memory unit='MiB'>32</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`, prefix, n)))
	}
	must("start", c.StartDomain(ctx, prefix+"run"))

	Cleanup(t, c, prefix, pool)

	doms, err := c.Domains(ctx)
	must("list domains", err)
	for _, d := range doms {
		if strings.HasPrefix(d.Name, prefix) {
			t.Errorf("domain %s left (active %v)", d.Name, d.Active)
		}
	}
	if _, err := c.Pool(ctx, pool); !errors.Is(err, libvirt.ErrNotFound) {
		t.Errorf("pool %s left: %v", pool, err)
	}
}
