package cli

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/testutil"
)

const planPassword = `pl&n<"pass'>`

func writeWindowsRecipe(t *testing.T, dir, extra string) string {
	m := testutil.WindowsMediaFixture(t)
	recipe := filepath.Join(dir, "win11.yaml")
	os.WriteFile(filepath.Join(dir, "pw.txt"), []byte(planPassword+"\n"), 0o600)
	data := "name: win11\nkind: windows\nwindowsIso: {path: " + m.WindowsISO + "}\nvirtioDriversIso: {path: " + m.VirtioISO +
		"}\nusername: agent\npasswordFile: pw.txt\nsshPort: 2299\nrdpPort: 3399\n" + extra
	if err := os.WriteFile(recipe, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return recipe
}

// image plan for kind windows reads the fixture ISOs, selects the
// edition, writes autounattend.xml and the answer ISO and prints the QEMU
// command line; nothing is booted and the password is nowhere in the
// output (only in the answer media, 0600).
func TestImagePlanWindows(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	recipe := writeWindowsRecipe(t, dir, "edition: windows 11 pro\n")
	out := filepath.Join(dir, "plan")
	code, stdout, stderr := cfgRun(t, "", "image", "plan", recipe, "--out", out, "--accel", "tcg")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`edition: 2 "Windows 11 Pro" (build 26100, drivers w11)`, "windowsIso: ", "virtioDriversIso: ",
		"1. fetch inputs", "4. start swtpm", "6. wait for ssh", filepath.Join(out, "autounattend.xml"), filepath.Join(out, "win11.answer.iso"),
		"qemu-system-x86_64 ", "accel=tcg", "-device tpm-crb,tpmdev=tpm0", "OVMF_CODE_4M.ms.fd", "hostfwd=tcp:127.0.0.1:2299-:22",
		"hostfwd=tcp:127.0.0.1:3399-:3389", "ide-cd,drive=answer", "-vnc 127.0.0.1:0",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "-no-reboot") {
		t.Errorf("-no-reboot in the command line:\n%s", stdout)
	}
	xml, err := os.ReadFile(filepath.Join(out, "autounattend.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// encoding/xml escaped the password; the file is private.
	if !strings.Contains(string(xml), "pl&amp;n&lt;&#34;pass&#39;&gt;") || !strings.Contains(string(xml), "<Value>Windows 11 Pro</Value>") {
		t.Errorf("autounattend.xml:\n%s", xml)
	}
	if st, _ := os.Stat(filepath.Join(out, "autounattend.xml")); st.Mode().Perm() != 0o600 {
		t.Errorf("autounattend.xml mode %v", st.Mode())
	}
	if xmllint, err := exec.LookPath("xmllint"); err == nil {
		if b, err := exec.Command(xmllint, "--noout", filepath.Join(out, "autounattend.xml")).CombinedOutput(); err != nil {
			t.Errorf("xmllint: %v %s", err, b)
		}
	}
	for _, s := range []string{stdout, stderr} {
		if strings.Contains(s, planPassword) || strings.Contains(s, "pl&amp;n") {
			t.Errorf("the password is in the output:\n%s", s)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "win11.qcow2")); !os.IsNotExist(err) {
		t.Error("plan made a disk")
	}
}

// An edition that is not on the ISO is an error at the recipe's edition
// key that lists the ones that are; a broken automation script stops the
// plan (it is never swallowed).
func TestImagePlanWindowsRefuses(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	recipe := writeWindowsRecipe(t, dir, "edition: Windows 11 Enterprise\n")
	code, stdout, stderr := cfgRun(t, "", "image", "plan", recipe, "--out", filepath.Join(dir, "plan"))
	want := recipe + `:9:10: edition: windows: edition "Windows 11 Enterprise" is not in the image; it has: 1 "Windows 11 Home", 2 "Windows 11 Pro", 3 "Windows 11 Pro for Workstations"`
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant %s\nstdout %s", code, stderr, want, stdout)
	}
	os.WriteFile(filepath.Join(dir, "auto.yaml"), []byte("boot_commands:\n  - bogus: 1\n"), 0o644)
	recipe = writeWindowsRecipe(t, dir, "imageIndex: 1\nautomationConfig: auto.yaml\n")
	code, _, stderr = cfgRun(t, "", "image", "plan", recipe, "--out", filepath.Join(dir, "plan2"))
	if code != 1 || !strings.Contains(stderr, "automationConfig "+filepath.Join(dir, "auto.yaml")) || !strings.Contains(stderr, "auto.yaml:2:") {
		t.Errorf("bad automation script: exit %d, stderr:\n%s", code, stderr)
	}
}

// fakeDMG is a stand-in UDIF image: data fork, an XML plist with a blkx
// key and a koly trailer pointing at both.
func fakeDMG(dataLen int) []byte {
	data := make([]byte, dataLen)
	plist := []byte(`<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>resource-fork</key><dict><key>blkx</key><array/></dict></dict></plist>`)
	out := append(append([]byte{}, data...), plist...)
	k := make([]byte, 512)
	copy(k, "koly")
	be := binary.BigEndian
	be.PutUint32(k[4:], 4)
	be.PutUint32(k[8:], 512)
	be.PutUint64(k[0x20:], uint64(len(data)))
	be.PutUint32(k[0x38:], 1)
	be.PutUint32(k[0x3C:], 1)
	be.PutUint64(k[0xD8:], uint64(len(data)))
	be.PutUint64(k[0xE0:], uint64(len(plist)))
	be.PutUint64(k[0x1EC:], uint64((len(data)+511)/512))
	return append(out, k...)
}

// image plan for kind macos checks the BaseSystem.dmg's UDIF trailer,
// the OpenCore image and the Setup Assistant script, and prints a QEMU
// command line with OpenCore first, then the installer, then the target.
func TestImagePlanMacOS(t *testing.T) {
	qemuImg := testutil.RequiresCommand(t, "qemu-img")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "BaseSystem.dmg"), fakeDMG(100_000), 0o644)
	if b, err := exec.Command(qemuImg, "create", "-q", "-f", "qcow2", filepath.Join(dir, "OpenCore.qcow2"), "64M").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, b)
	}
	script, err := filepath.Abs("../../examples/images/macos-setup-assistant.automation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	recipe := filepath.Join(dir, "mac.yaml")
	os.WriteFile(recipe, []byte("name: sonoma\nkind: macos\nbaseSystem: {path: BaseSystem.dmg}\nopenCore: {path: OpenCore.qcow2}\nautomationConfig: "+script+
		"\nusername: dev\npassword: "+`"`+strings.ReplaceAll(planPassword, `"`, `\"`)+`"`+"\ncpus: 3\n"), 0o644)
	out := filepath.Join(dir, "plan")
	code, stdout, stderr := cfgRun(t, "", "image", "plan", recipe, "--out", out, "--accel", "tcg")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"baseSystem: " + filepath.Join(dir, "BaseSystem.dmg"), "isa-applesmc", "-smp 3,sockets=1,cores=3,threads=1", "usb-tablet", "note: macOS builds are planned only"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}
	argv := stdout[strings.Index(stdout, "qemu-system-x86_64"):]
	oc, inst, target := strings.Index(argv, "id=opencore-dev,bootindex=1"), strings.Index(argv, "id=installer-dev"), strings.Index(argv, "id=macos-dev")
	if oc < 0 || inst < 0 || target < 0 || !(oc < inst && inst < target) {
		t.Errorf("disks not in OpenCore's order (opencore %d, installer %d, target %d):\n%s", oc, inst, target, stdout)
	}
	if strings.Contains(stdout+stderr, planPassword) {
		t.Error("the password is in the output")
	}
	// A file that is not a UDIF image is refused at baseSystem.
	os.WriteFile(filepath.Join(dir, "BaseSystem.dmg"), []byte("not a dmg"), 0o644)
	code, _, stderr = cfgRun(t, "", "image", "plan", recipe, "--out", out)
	if code != 1 || !strings.Contains(stderr, recipe+":3:1: baseSystem: ") || !strings.Contains(stderr, "udif:") {
		t.Errorf("not a dmg: exit %d, stderr:\n%s", code, stderr)
	}
}
