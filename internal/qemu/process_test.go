package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/testutil"
)

// sockDir is a short temporary directory: unix socket paths must stay
// under 108 bytes and t.TempDir() can be longer.
func sockDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "qemu-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func qemuImg(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
}

// TestStartAcceptsWindowsDevices starts QEMU with the device set the
// Windows builder uses (secure-boot OVMF, swtpm TPM, AHCI CDs, an
// answer CD on virtio-scsi, VNC on loopback, USB tablet) and checks that
// QEMU accepts it, answers QMP, takes send-key and a VNC password, and
// serves VNC on 127.0.0.1 only.
func TestStartAcceptsWindowsDevices(t *testing.T) {
	testutil.RequiresQEMU(t)
	testutil.RequiresCommand(t, "qemu-img")
	testutil.RequiresCommand(t, "swtpm")
	dir := sockDir(t)
	const secCode, msVars = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
	for _, f := range []string{secCode, msVars} {
		if _, err := os.Stat(f); err != nil {
			testutil.Missing(t, "OVMF secure-boot firmware (ovmf): "+err.Error())
		}
	}
	vars := filepath.Join(dir, "efivars.fd")
	if err := CopyVars(msVars, vars); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(dir, "disk.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", disk, "1G")
	iso := filepath.Join(dir, "cd.iso")
	if err := os.WriteFile(iso, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tpmDir := filepath.Join(dir, "tpm")
	if err := os.Mkdir(tpmDir, 0o700); err != nil {
		t.Fatal(err)
	}
	tpmSock := filepath.Join(dir, "tpm.sock")
	swtpm := SwtpmCommand(ctx, tpmDir, tpmSock)
	if err := swtpm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { swtpm.Process.Kill(); swtpm.Wait() })
	waitForFile(t, tpmSock)

	display := 90 + os.Getpid()%100
	port, _ := FreeLocalPort()
	m := Machine{
		Name: "deskvm-test-qemu-win", CPUs: 2, Cores: 2, MemoryMiB: 512, VGA: "std",
		Firmware: Firmware{UEFI: true, SecureBoot: true, Code: secCode, Vars: vars},
		Drives: []Drive{
			{ID: "disk", File: disk, Interface: IfSATA, BootIndex: 2},
			{ID: "setup", File: iso, Interface: IfCDROM, BootIndex: 1},
			{ID: "answer", File: iso, Interface: IfSCSICD},
		},
		NICs:      []NIC{{Model: "e1000e", Forwards: []Forward{{HostPort: port, GuestPort: 3389}}}},
		VNC:       &VNC{Display: display, Password: true},
		TPMSocket: tpmSock, USBInput: true,
		QMP: QMP{Path: filepath.Join(dir, "qmp.sock")}, SerialLog: filepath.Join(dir, "serial.log"),
	}
	p, err := Start(ctx, m, nil)
	if errors.Is(err, ErrPortInUse) {
		t.Skipf("port taken meanwhile: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if st, err := p.QMP.Status(ctx); err != nil || st != "running" {
		t.Fatalf("status = %q, %v", st, err)
	}
	if err := p.QMP.SendKey(ctx, []string{"ret"}, 0); err != nil {
		t.Fatalf("send-key: %v", err)
	}
	if err := p.QMP.SendKey(ctx, []string{"ctrl", "alt", "delete"}, 50*time.Millisecond); err != nil {
		t.Fatalf("send-key chord: %v", err)
	}
	if err := p.QMP.SendKey(ctx, []string{"no-such-key"}, 0); err == nil {
		t.Fatal("send-key with an unknown key name succeeded")
	}
	if err := p.QMP.SetVNCPassword(ctx, "s3cret"); err != nil {
		t.Fatalf("vnc password: %v", err)
	}
	raw, err := p.QMP.Execute(ctx, "query-vnc", nil)
	if err != nil {
		t.Fatal(err)
	}
	var vnc struct{ Host, Service string }
	if err := json.Unmarshal(raw, &vnc); err != nil {
		t.Fatal(err)
	}
	if vnc.Host != "127.0.0.1" || vnc.Service != strconv.Itoa(5900+display) {
		t.Errorf("query-vnc = %s, want host 127.0.0.1 port %d", raw, 5900+display)
	}
	if strings.Contains(strings.Join(p.Argv, " "), "s3cret") {
		t.Error("the VNC password is on the command line")
	}
	if err := p.QMP.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("qemu exit after quit: %v (%s)", err, p.Stderr())
	}
	if _, err := os.Stat(m.QMP.Path); err == nil {
		p.Kill()
		if _, err := os.Stat(m.QMP.Path); err == nil {
			t.Error("qmp socket file left after Kill")
		}
	}
}

func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStartPortInUse: a forward onto a port someone listens on is
// ErrPortInUse, QEMU is gone and the socket file removed.
func TestStartPortInUse(t *testing.T) {
	testutil.RequiresQEMU(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	dir := sockDir(t)
	m := Machine{NICs: []NIC{{Forwards: []Forward{{HostPort: port, GuestPort: 22}}}}, QMP: QMP{Path: filepath.Join(dir, "qmp.sock")}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Start(ctx, m, nil)
	if err == nil {
		p.Kill()
		t.Fatal("Start succeeded with the forwarded port in use")
	}
	if !errors.Is(err, ErrPortInUse) || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("error = %v, want ErrPortInUse naming port %d", err, port)
	}
	if _, err := os.Stat(m.QMP.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("qmp socket left behind: %v", err)
	}
}

// TestPowerdownEndsQEMU boots the tiny guest (no -no-reboot: QEMU must
// survive reboots) and shows the ACPI power button over QMP makes the
// guest power off and QEMU exit, with a SHUTDOWN event.
func TestPowerdownEndsQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a guest")
	}
	testutil.RequiresQEMU(t)
	files := testutil.TinyGuest(t)
	dir := sockDir(t)
	serial := filepath.Join(dir, "serial.log")
	m := Machine{
		MemoryMiB: 256, SerialLog: serial, QMP: QMP{Path: filepath.Join(dir, "qmp.sock")},
		NICs:  []NIC{{}},
		Extra: []string{"-kernel", files.Kernel, "-initrd", files.Initrd, "-append", "console=ttyS0 panic=-1"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := Start(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	// The guest handles the power button once its init runs; press it
	// until QEMU reports the shutdown.
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-p.QMP.Events():
			if ok && ev.Name == "SHUTDOWN" {
				var d struct{ Guest bool }
				if json.Unmarshal(ev.Data, &d); !d.Guest {
					t.Errorf("shutdown not by the guest: %s", ev.Data)
				}
				if err := p.Wait(ctx); err != nil {
					t.Fatalf("qemu exit: %v", err)
				}
				log, _ := os.ReadFile(serial)
				if len(log) == 0 {
					t.Error("serial log is empty")
				}
				return
			}
		case <-tick.C:
			if err := p.QMP.Powerdown(ctx); err != nil {
				t.Fatalf("powerdown: %v", err)
			}
		case <-ctx.Done():
			log, _ := os.ReadFile(serial)
			t.Fatalf("no guest shutdown: %v\nserial:\n%s", ctx.Err(), log)
		}
	}
}

// TestDetectAccelBootsWhatItSays: the accelerator DetectAccel picks runs a
// machine (a KVM device that cannot set up a vCPU must give tcg).
func TestDetectAccelBootsWhatItSays(t *testing.T) {
	testutil.RequiresQEMU(t)
	a := DetectAccel()
	t.Logf("accel %s", a)
	dir := sockDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Start(ctx, Machine{Accel: a, QMP: QMP{Path: filepath.Join(dir, "qmp.sock")}}, nil)
	if err != nil {
		t.Fatalf("accel %s: %v", a, err)
	}
	defer p.Kill()
	if st, err := p.QMP.Status(ctx); err != nil || st != "running" {
		t.Fatalf("accel %s: status %q, %v", a, st, err)
	}
}
