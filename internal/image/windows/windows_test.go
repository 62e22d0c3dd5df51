package windows

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/qemu"
	"github.com/deskvm/deskvm/internal/testutil"
)

func spec(t *testing.T, m testutil.WindowsMedia) Spec {
	return Spec{
		Name: "win11", WindowsISO: m.WindowsISO, VirtioISO: m.VirtioISO, Edition: "windows 11 pro",
		Username: "agent", Password: `pa&ss<"w'>`, ComputerName: "WIN-AGENT", TimeZone: "UTC", Locale: "en-US",
		MemoryMiB: 4096, CPUs: 2, EnableTPM: true, SecureBoot: true, SSHPort: 2222, RDPPort: 3390,
		VNCDisplay: 5, VNCPassword: true, Accel: "kvm", OutDir: t.TempDir(),
	}
}

func TestPrepare(t *testing.T) {
	m := testutil.WindowsMediaFixture(t)
	s := spec(t, m)
	p, err := Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	if p.Edition.Index != 2 || p.Edition.Name != "Windows 11 Pro" || p.WindowsVersion != "w11" {
		t.Errorf("edition %+v version %s", p.Edition, p.WindowsVersion)
	}
	// The answer file names the edition as the image spells it.
	if !strings.Contains(string(p.AnswerFile), "<Value>Windows 11 Pro</Value>") {
		t.Error("MetaData does not carry the image's edition name")
	}
	if _, err := os.Stat(p.AnswerPath); err != nil || filepath.Ext(p.AnswerPath) != ".iso" {
		t.Errorf("answer media %s: %v", p.AnswerPath, err)
	}
	args, err := p.Machine.Args()
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Join(args, " ")
	for _, want := range []string{
		"file=" + OVMFCodeSecure, "smm=on", "-device tpm-crb,tpmdev=tpm0", "path=" + p.TPMSocket,
		"-vnc 127.0.0.1:5,password=on", "hostfwd=tcp:127.0.0.1:2222-:22", "hostfwd=tcp:127.0.0.1:3390-:3389",
		"ide-cd,drive=setup,bus=ide.0,id=setup-dev,bootindex=1", "virtio-blk-pci,drive=disk,id=disk-dev,bootindex=2",
		"ide-cd,drive=answer", "usb-tablet",
	} {
		if !strings.Contains(argv, want) {
			t.Errorf("argv lacks %q:\n%s", want, argv)
		}
	}
	// Setup reboots several times: QEMU must survive them.
	if slices.Contains(args, "-no-reboot") || slices.Contains(args, "-no-shutdown") {
		t.Errorf("argv has -no-reboot/-no-shutdown: %s", argv)
	}
	if strings.Contains(argv, s.Password) {
		t.Error("the password is on the command line")
	}
}

// enableTpm and secureBoot are honoured both ways.
func TestPrepareTPMAndSecureBootOff(t *testing.T) {
	m := testutil.WindowsMediaFixture(t)
	s := spec(t, m)
	s.EnableTPM, s.SecureBoot, s.AnswerMedia = false, false, "floppy"
	p, err := Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	args, _ := p.Machine.Args()
	argv := strings.Join(args, " ")
	if strings.Contains(argv, "tpm") || strings.Contains(argv, "smm=on") || strings.Contains(argv, ".ms.fd") || p.TPMDir != "" {
		t.Errorf("TPM or secure boot although off: %s", argv)
	}
	if !strings.Contains(argv, "isa-fdc,driveA=answer") || filepath.Ext(p.AnswerPath) != ".img" {
		t.Errorf("answer floppy not attached: %s", argv)
	}
}

func TestPrepareRefuses(t *testing.T) {
	m := testutil.WindowsMediaFixture(t)
	cases := map[string]struct {
		mod  func(*Spec)
		want string
	}{
		"edition not on the ISO": {func(s *Spec) { s.Edition = "Windows 11 Enterprise" },
			`edition "Windows 11 Enterprise" is not in the image; it has: 1 "Windows 11 Home", 2 "Windows 11 Pro", 3 "Windows 11 Pro for Workstations"`},
		"index not on the ISO": {func(s *Spec) { s.Edition, s.ImageIndex = "", 9 }, "image index 9 is not in the image; it has: 1 "},
		"no edition":           {func(s *Spec) { s.Edition = "" }, "set edition or imageIndex; "},
		"no install image":     {func(s *Spec) { s.WindowsISO = m.NoInstallISO }, "no sources/install.wim or install.esd"},
		"virtio lacks NetKVM":  {func(s *Spec) { s.VirtioISO = m.VirtioNoNetISO }, `no driver folder NetKVM\w11\amd64`},
		"bad answer media":     {func(s *Spec) { s.AnswerMedia = "usb" }, `answerMedia "usb"`},
		"bad computer name":    {func(s *Spec) { s.ComputerName = "has space" }, "computerName:"},
	}
	for name, c := range cases {
		s := spec(t, m)
		c.mod(&s)
		_, err := Prepare(s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant %q", name, err, c.want)
		}
	}
}

// The prepared machine starts in real QEMU (TCG) with a real swtpm, the
// fixture Windows ISO, virtio-win ISO and answer ISO attached, and keeps
// running while OVMF boots.
func TestPreparedMachineStarts(t *testing.T) {
	testutil.RequiresQEMU(t)
	qemuImg := testutil.RequiresCommand(t, "qemu-img")
	testutil.RequiresCommand(t, "swtpm")
	for _, f := range []string{OVMFCodeSecure, OVMFVarsMS} {
		if _, err := os.Stat(f); err != nil {
			testutil.Missing(t, "OVMF secure-boot firmware: "+err.Error())
		}
	}
	m := testutil.WindowsMediaFixture(t)
	s := spec(t, m)
	dir, err := os.MkdirTemp("", "deskvm-win-") // short path for the sockets
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.OutDir, s.Accel, s.MemoryMiB = dir, "tcg", 1024
	s.SSHPort, s.RDPPort = testutil.FreeTCPPort(t), testutil.FreeTCPPort(t)
	s.VNCDisplay = 200 + os.Getpid()%500
	p, err := Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := qemu.CopyVars(p.VarsTemplate, p.Vars); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd(qemuImg, "create", "-q", "-f", "qcow2", p.Disk, "1G"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	os.MkdirAll(p.TPMDir, 0o700)
	tpm := qemu.SwtpmCommand(ctx, p.TPMDir, p.TPMSocket)
	if err := tpm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tpm.Process.Kill(); tpm.Wait() })
	if err := waitSocket(ctx, p.TPMSocket); err != nil {
		t.Fatal(err)
	}
	proc, err := qemu.Start(ctx, p.Machine, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Kill()
	// Enter every 250 ms for 3 s, through real QMP, as for "Press any key".
	if n, err := PressAnyKey(ctx, proc.QMP, 250*time.Millisecond, 3*time.Second); err != nil || n < 5 {
		t.Fatalf("press any key: %d sent, %v", n, err)
	}
	select {
	case <-proc.Exited():
		t.Fatalf("qemu exited: %s", proc.Stderr())
	default:
	}
	if st, err := proc.QMP.Status(ctx); err != nil || st != "running" {
		t.Fatalf("status %q %v", st, err)
	}
	proc.QMP.Quit(ctx)
	proc.Wait(ctx)
}
