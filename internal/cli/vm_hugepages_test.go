package cli

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/testutil"
)

// TestVMHugepagesOnDemandRealPool runs hugepages.onDemand on the real 2M
// pool of this machine with a real guest: deskvm vm start grows the pool by
// the VM's 64 pages and QEMU takes them; a stop outside deskvm (virsh
// destroy, as when the guest powers itself off) leaves them free in the
// pool; the next start reuses them instead of growing the pool again; a
// deskvm stop gives them back, also when the VM was already off. The pool
// is put back as it was at the end.
func TestVMHugepagesOnDemandRealPool(t *testing.T) {
	e := newRCEnv(t) // skips in -short mode
	testutil.RequiresHugepages(t)
	virsh := testutil.RequiresCommand(t, "virsh")
	files := testutil.TinyGuest(t).ForLibvirt(t)
	ctx := context.Background()
	host, base := realHugepagePool(t)
	// 20 free pages that are not the VM's (someone's reservation): a start
	// uses them and adds only what is missing, a stop must leave them.
	if got, err := host.SetHugepages(ctx, 2048, base+20); err != nil || got != base+20 {
		t.Fatalf("reserve 20 pages: %d, %v", got, err)
	}
	base += 20
	baseAvail, err := host.HugepagesAvailable(ctx, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pool := func(step string) (total, avail uint64) {
		t.Helper()
		total, err1 := host.Hugepages(ctx, 2048)
		avail, err2 := host.HugepagesAvailable(ctx, 2048)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: read pool: %v %v", step, err1, err2)
		}
		t.Logf("%s: pool %d pages, %d available", step, total, avail)
		return total, avail
	}

	cfg := e.config("hugepages-ondemand", map[string]string{"KERNEL": files.Kernel, "INITRD": files.Initrd})
	name := e.prefix + "huge"
	const pages = 64 // 128M of 2M pages

	e.mustRun("apply", "-f", cfg)
	if total, _ := pool("after apply"); total != base {
		t.Fatalf("apply changed the pool from %d to %d; onDemand reserves nothing for a VM that is off", base, total)
	}
	if x := e.domain("huge").InactiveXML; !strings.Contains(x, `<page size='2048' unit='KiB'`) {
		t.Fatalf("domain has no 2M hugepage backing:\n%s", x)
	}

	e.mustRun("vm", name, "-f", cfg, "start")
	wantTotal := base + pages - min(pages, baseAvail)
	total, avail := pool("after deskvm start")
	if total != wantTotal {
		t.Fatalf("pool after start = %d, want %d", total, wantTotal)
	}
	// QEMU maps its memory from the pool: those pages are reserved or used.
	if avail+pages > total {
		t.Fatalf("QEMU does not hold the VM's %d pages: %d of %d available", pages, avail, total)
	}

	// Stopped behind deskvm's back: the pages stay in the pool, free.
	if out, err := exec.Command(virsh, "-c", testutil.LibvirtURI(), "destroy", name).CombinedOutput(); err != nil {
		t.Fatalf("virsh destroy: %v\n%s", err, out)
	}
	if total, avail := pool("after virsh destroy"); total != wantTotal || avail < pages {
		t.Fatalf("after a stop outside deskvm: pool %d (want %d), %d available (want ≥ %d)", total, wantTotal, avail, pages)
	}

	// Started again: the free pages are reused, the pool does not grow.
	for i := 0; i < 2; i++ {
		e.mustRun("vm", name, "-f", cfg, "start")
		if total, _ := pool("after start again"); total != wantTotal {
			t.Fatalf("start %d after a stop outside deskvm grew the pool to %d (want %d): pages leak", i+2, total, wantTotal)
		}
		if i == 0 {
			if out, err := exec.Command(virsh, "-c", testutil.LibvirtURI(), "destroy", name).CombinedOutput(); err != nil {
				t.Fatalf("virsh destroy: %v\n%s", err, out)
			}
		}
	}

	// deskvm's own stop gives the pages back.
	e.mustRun("vm", name, "-f", cfg, "force-stop")
	if total, _ := pool("after deskvm force-stop"); total != base {
		t.Fatalf("pool after force-stop = %d, want %d (the VM's pages given back)", total, base)
	}

	// Off behind deskvm's back, then deskvm vm stop: "not running", and the
	// pages its start added are given back all the same.
	e.mustRun("vm", name, "-f", cfg, "start")
	if out, err := exec.Command(virsh, "-c", testutil.LibvirtURI(), "destroy", name).CombinedOutput(); err != nil {
		t.Fatalf("virsh destroy: %v\n%s", err, out)
	}
	if r := e.mustRun("vm", name, "-f", cfg, "stop"); !strings.Contains(r.stdout, "not running") {
		t.Errorf("stop of a VM that is off: %q", r.stdout)
	}
	if total, _ := pool("after deskvm stop of a VM already off"); total != base {
		t.Fatalf("pool = %d, want %d: pages of a VM that powered itself off not given back by stop", total, base)
	}
}

// TestApplyHugepagesRealPool: without onDemand, apply sets the real 2M
// pool to the computed hugepages.count (64 pages for a 128M VM), the VM
// starts on those pages, and a second apply changes nothing.
func TestApplyHugepagesRealPool(t *testing.T) {
	e := newRCEnv(t) // skips in -short mode
	testutil.RequiresHugepages(t)
	files := testutil.TinyGuest(t).ForLibvirt(t)
	ctx := context.Background()
	host, _ := realHugepagePool(t)
	cfg := e.config("hugepages-reserved", map[string]string{"KERNEL": files.Kernel, "INITRD": files.Initrd})
	name := e.prefix + "huge"

	r := e.mustRun("apply", "-f", cfg)
	if n, err := host.Hugepages(ctx, 2048); err != nil || n != 64 {
		t.Fatalf("pool after apply = %d, %v; want 64\n%s", n, err, r.stdout)
	}
	if !strings.Contains(r.stdout, "64 pages of 2M") {
		t.Errorf("apply does not say what it did with the pool:\n%s", r.stdout)
	}
	e.mustRun("vm", name, "-f", cfg, "start")
	if avail, err := host.HugepagesAvailable(ctx, 2048); err != nil || avail != 0 {
		t.Fatalf("after start %d of 64 pages are available (%v); QEMU should hold all", avail, err)
	}
	if p := e.planJSON(cfg); len(p.Actions) != 0 {
		t.Fatalf("plan after apply has actions: %+v", p.Actions)
	}
	e.mustRun("vm", name, "-f", cfg, "force-stop")
	if n, _ := host.Hugepages(ctx, 2048); n != 64 {
		t.Fatalf("force-stop without onDemand changed the reserved pool to %d", n)
	}
}

// realHugepagePool is this machine's 2M pool and its size now, which it
// gets back when the test ends. (That cleanup runs before newRCEnv's
// removes the domains: pages a VM left running still holds become surplus
// pages, which the kernel frees when QEMU exits.)
func realHugepagePool(t *testing.T) (*host.Sys, uint64) {
	t.Helper()
	host := &host.Sys{}
	base, err := host.Hugepages(context.Background(), 2048)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := host.SetHugepages(context.Background(), 2048, base); err != nil {
			t.Errorf("put the hugepage pool back to %d: %v", base, err)
		}
	})
	return host, base
}
