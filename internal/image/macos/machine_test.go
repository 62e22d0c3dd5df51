package macos

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/qemu"
	"github.com/deskvm/deskvm/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func spec(cpus int) MachineSpec {
	return MachineSpec{
		Name: "deskvm-macos", CPUs: cpus, MemoryMiB: 4096, Accel: "kvm",
		OVMFCode: "/usr/share/OVMF/OVMF_CODE_4M.fd", OVMFVars: "OUT/macos.efivars.fd",
		OpenCore: "OpenCore.qcow2", Installer: "OUT/recovery.img", Target: "OUT/macos.qcow2",
		VNCDisplay: 7, SSHPort: 2222, QMPPath: "OUT/qmp.sock",
	}
}

func TestMachineGolden(t *testing.T) {
	for _, cpus := range []int{1, 2, 3, 4} {
		m, err := Machine(spec(cpus))
		if err != nil {
			t.Fatal(err)
		}
		args, err := m.Args()
		if err != nil {
			t.Fatal(err)
		}
		got := []byte(strings.Join(args, "\n") + "\n")
		path := filepath.Join("testdata", fmt.Sprintf("machine-cpus%d.golden", cpus))
		if *update {
			os.MkdirAll("testdata", 0o755)
			os.WriteFile(path, got, 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs (run with -update):\n%s", path, got)
		}
		smp := fmt.Sprintf("%d,sockets=1,cores=%d,threads=1", cpus, cpus)
		if !strings.Contains(string(got), "\n-smp\n"+smp+"\n") {
			t.Errorf("cpus %d: no -smp %s", cpus, smp)
		}
		// Disks in OpenCore's order: OpenCore (booted), installer, target.
		oc, inst, tgt := strings.Index(string(got), "OpenCore.qcow2"), strings.Index(string(got), "recovery.img"), strings.Index(string(got), "macos.qcow2")
		if !(oc >= 0 && oc < inst && inst < tgt) || !strings.Contains(string(got), "id=opencore-dev,bootindex=1") {
			t.Errorf("disk order wrong:\n%s", got)
		}
	}
	if _, err := Machine(MachineSpec{CPUs: 0, OpenCore: "a", Target: "b"}); err == nil {
		t.Error("cpus 0 accepted")
	}
	if _, err := Machine(MachineSpec{CPUs: 2, CPU: "m1", OpenCore: "a", Target: "b"}); err == nil || !strings.Contains(err.Error(), "penryn or haswell") {
		t.Errorf("cpu m1: %v", err)
	}
}

// QEMU starts with the whole macOS device set (TCG, blank stand-ins for
// the OpenCore and target disks, a real installer disk) and lists every device in its
// tree; the reference's "-smp 1,cores=N" is refused by the same QEMU.
func TestMachineStartsInQEMU(t *testing.T) {
	bin := testutil.RequiresQEMU(t)
	qemuImg := testutil.RequiresCommand(t, "qemu-img")
	const code, varsTemplate = "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"
	for _, f := range []string{code, varsTemplate} {
		if _, err := os.Stat(f); err != nil {
			testutil.Missing(t, "OVMF (ovmf): "+err.Error())
		}
	}
	dir, err := os.MkdirTemp("", "deskvm-macos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := spec(4)
	s.Accel = "tcg"
	s.OVMFCode, s.OVMFVars = code, filepath.Join(dir, "vars.fd")
	s.OpenCore, s.Installer, s.Target = filepath.Join(dir, "OpenCore.qcow2"), filepath.Join(dir, "recovery.img"), filepath.Join(dir, "macos.qcow2")
	s.QMPPath = filepath.Join(dir, "qmp.sock")
	s.SSHPort = testutil.FreeTCPPort(t)
	s.VNCDisplay = 100 + os.Getpid()%500
	if err := qemu.CopyVars(varsTemplate, s.OVMFVars); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{s.OpenCore, s.Target} {
		if out, err := exec.Command(qemuImg, "create", "-q", "-f", "qcow2", d, "64M").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	dmg := makeDMG(1 << 20)
	os.WriteFile(filepath.Join(dir, "BaseSystem.dmg"), dmg, 0o644)
	os.WriteFile(filepath.Join(dir, "BaseSystem.chunklist"), makeChunklist(t, dmg, 1<<19, SignatureRSA2048, signingKey(t)), 0o644)
	if err := WriteRecoveryDisk(s.Installer, filepath.Join(dir, "BaseSystem.dmg"), filepath.Join(dir, "BaseSystem.chunklist")); err != nil {
		t.Fatal(err)
	}
	m, err := Machine(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err := qemu.Start(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if st, err := p.QMP.Status(ctx); err != nil || st != "running" {
		t.Fatalf("status %q %v (%s)", st, err, p.Stderr())
	}
	raw, err := p.QMP.Execute(ctx, "query-cpus-fast", nil)
	if err != nil {
		t.Fatal(err)
	}
	var cpus []json.RawMessage
	json.Unmarshal(raw, &cpus)
	if len(cpus) != 4 {
		t.Errorf("%d vCPUs, want 4", len(cpus))
	}
	raw, err = p.QMP.Execute(ctx, "human-monitor-command", map[string]string{"command-line": "info qtree"})
	if err != nil {
		t.Fatal(err)
	}
	var tree string
	json.Unmarshal(raw, &tree)
	for _, dev := range []string{"isa-applesmc", "usb-kbd", "usb-tablet", "vmxnet3", "vmware-svga", "ide-hd", "qemu-xhci"} {
		if !strings.Contains(tree, "dev: "+dev) {
			t.Errorf("device %s not in QEMU's tree", dev)
		}
	}
	if !strings.Contains(tree, OSK) {
		t.Error("the applesmc OSK is not set")
	}
	// The firmware runs for a few seconds with every device in place.
	select {
	case <-p.Exited():
		t.Fatalf("qemu exited: %s", p.Stderr())
	case <-time.After(3 * time.Second):
	}
	if st, err := p.QMP.Status(ctx); err != nil || st != "running" {
		t.Fatalf("status after 3 s %q %v (%s)", st, err, p.Stderr())
	}
	// Stopping is not what is tested: under TCG with four vCPUs in the
	// firmware QEMU sometimes never answers quit (86 s once), so it
	// gets 15 s and then a kill.
	qctx, qcancel := context.WithTimeout(context.Background(), 15*time.Second)
	if err := p.QMP.Quit(qctx); err != nil {
		t.Logf("qmp quit: %v; killing qemu", err)
		p.Kill()
	}
	p.Wait(qctx)
	qcancel()

	tctx, tcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer tcancel()
	out, err := exec.CommandContext(tctx, bin, "-machine", "q35,accel=tcg", "-smp", "1,cores=4", "-nodefaults", "-display", "none", "-S", "-monitor", "none").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Invalid CPU topology") {
		t.Errorf("the reference's -smp 1,cores=4: err %v, output %s", err, out)
	}
}
