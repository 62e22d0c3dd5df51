package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/yamlsrc"
)

const goodWindowsRecipe = `name: win11
kind: windows
windowsIso: {path: ./Win11.iso}
virtioDriversIso: {url: https://fedorapeople.org/groups/virt/virtio-win/direct-downloads/archive-virtio/virtio-win-0.1.266-1/virtio-win-0.1.266.iso, sha256: 57b0f6dc8dc92dc2ae8621f8b1bfbd8a873de9bedc788c4c4b305ea28acc77cd}
edition: Windows 11 Pro
username: agent
password: "pa&ss<\"w'>"
computerName: WIN-AGENT
timezone: W. Europe Standard Time
locale: de-DE
productKey: VK7JG-NPHTM-C97JM-9MPGT-3V66T
diskSize: 64G
memory: 4G
cpus: 4
enableTpm: false
secureBoot: true
answerMedia: floppy
automationConfig: ./after-setup.yaml
installTimeout: 90m
sshPort: 2222
rdpPort: 3390
`

const goodMacOSRecipe = `name: sonoma
kind: macos
baseSystem: {release: sonoma}
openCore: {path: ./OpenCore.qcow2}
automationConfig: ./setup-assistant.yaml
username: dev
passwordFile: ./password.txt
diskSize: 64G
memory: 8G
cpus: 4
`

func TestLoadWindowsRecipe(t *testing.T) {
	r, _, err := Load("/r/win.yaml", []byte(goodWindowsRecipe))
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindWindows || r.Edition != "Windows 11 Pro" || r.Username != "agent" || *r.EnableTPM || !*r.SecureBoot ||
		r.AnswerMedia != "floppy" || r.InstallTimeout.Minutes() != 90 || r.RDPPort != 3390 || r.Memory.MiB != 4096 || r.CPUs != 4 ||
		r.Locale != "de-DE" || r.Timezone != "W. Europe Standard Time" || r.WindowsISO.Path != "./Win11.iso" {
		t.Errorf("loaded %+v", r)
	}
	// Defaults of a minimal windows recipe.
	r, _, err = Load("/r/w.yaml", []byte("name: w\nkind: windows\nwindowsIso: {path: w.iso}\nvirtioDriversIso: {path: v.iso}\nimageIndex: 2\npassword: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !*r.EnableTPM || !*r.SecureBoot || r.AnswerMedia != "iso" || r.ComputerName != "WIN-AGENT" || r.Timezone != "UTC" ||
		r.Locale != "en-US" || r.DiskSize.String() != "64G" || r.Memory.MiB != 4096 || r.InstallTimeout.Duration != DefaultInstallTimeout ||
		r.Health.Command != DefaultWindowsHealthCommand || r.Finalize != nil || r.BootTimeout.Duration != 0 {
		t.Errorf("windows defaults: %+v", r)
	}
}

func TestLoadMacOSRecipe(t *testing.T) {
	r, _, err := Load("/r/mac.yaml", []byte(goodMacOSRecipe))
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindMacOS || r.BaseSystem.Release != "sonoma" || r.OpenCore.Path != "./OpenCore.qcow2" || r.Memory.MiB != 8192 {
		t.Errorf("loaded %+v", r)
	}
	r, _, err = Load("/r/m.yaml", []byte("name: m\nkind: macos\nbaseSystem: {path: BaseSystem.dmg}\nopenCore: {path: oc.img}\nautomationConfig: a.yaml\npassword: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.DiskSize.String() != "50G" || r.Memory.MiB != 4096 {
		t.Errorf("macos defaults: %+v", r)
	}
}

// Every mistake in a windows or macos recipe is reported at its place,
// all at once; a key of another kind is refused, not ignored.
func TestLoadBadWindowsAndMacOSRecipes(t *testing.T) {
	const win = "name: w\nkind: windows\nwindowsIso: {path: w.iso}\nvirtioDriversIso: {path: v.iso}\nedition: Windows 11 Pro\npassword: x\n"
	cases := []struct {
		name, data string
		want       []string
	}{
		{"windows without media, edition, password", "name: w\nkind: windows\n", []string{
			"r.yaml: windowsIso: a windows recipe needs windowsIso", "r.yaml: virtioDriversIso: a windows recipe needs virtioDriversIso",
			"r.yaml: edition: a windows recipe needs edition", "r.yaml: password: a windows recipe needs password or passwordFile"}},
		{"linux keys in a windows recipe", win + "hostname: h\npackages: [htop]\nfinalize: false\n", []string{
			"r.yaml:7:11: hostname: is a key of kind linux recipes; this recipe is kind windows",
			"r.yaml:8:1: packages: is a key of kind linux recipes", "r.yaml:9:11: finalize: is a key of kind linux recipes"}},
		{"macos keys in a windows recipe", win + "baseSystem: {release: sonoma}\nopenCore: {path: oc.img}\n", []string{
			"r.yaml:7:1: baseSystem: is a key of kind macos recipes; this recipe is kind windows", "r.yaml:8:1: openCore: is a key of kind macos"}},
		{"windows keys in a macos recipe", "name: m\nkind: macos\nbaseSystem: {release: sonoma}\nopenCore: {path: o}\nautomationConfig: a\npassword: x\nedition: Pro\nenableTpm: true\n", []string{
			"r.yaml:7:10: edition: is a key of kind windows recipes; this recipe is kind macos", "r.yaml:8:12: enableTpm: is a key of kind windows"}},
		{"windows keys in a linux recipe", "name: l\ncloudImage: {path: a}\nhostname: h\npassword: x\nrdpPort: 3389\n", []string{
			"r.yaml:4:11: password: is a key of kind windows and macos recipes; this recipe is kind linux", "r.yaml:5:10: rdpPort: is a key of kind windows"}},
		{"windows bad values", win + "diskSize: 32G\nmemory: 1024\nanswerMedia: usb\ncomputerName: has space\nlocale: english\nimageIndex: 2\nfirmware: bios\nsshPublicKey: ssh-ed25519 AAAA\ninstallTimeout: 1 hour\nproductKey: SECRET-KEY\n", []string{
			"r.yaml:7:11: diskSize: 32G is smaller than the 40G Windows needs", "r.yaml:8:9: memory: 1024 MiB is too little for Windows Setup",
			`r.yaml:9:14: answerMedia: "usb": want iso or floppy`, `r.yaml:10:15: computerName: "has space"`, `r.yaml:11:9: locale: "english"`,
			"r.yaml:5:10: edition: set edition or imageIndex, not both", "r.yaml:13:11: firmware: windows images boot with uefi only",
			"r.yaml:14:15: sshPublicKey: is not supported for kind windows", `r.yaml:15:17: installTimeout: invalid duration "1 hour"`,
			"r.yaml:16:13: productKey: is not five groups"}},
		{"password and passwordFile", win + "passwordFile: p.txt\n", []string{"r.yaml:6:11: password: give password or passwordFile, not both"}},
		{"macos without its keys", "name: m\nkind: macos\npassword: x\n", []string{
			"r.yaml: baseSystem: a macos recipe needs baseSystem", "r.yaml: openCore: a macos recipe needs openCore",
			"r.yaml: automationConfig: a macos recipe needs automationConfig"}},
		{"macos bad baseSystem", "name: m\nkind: macos\nbaseSystem: {release: tiger}\nopenCore: {path: o}\nautomationConfig: a\npassword: x\n",
			[]string{`r.yaml:3:23: baseSystem.release: macOS release "tiger" is not in deskvm's pinned table; known:`}},
		{"macos url without sha", "name: m\nkind: macos\nbaseSystem: {url: https://e.org/BaseSystem.dmg}\nopenCore: {path: o}\nautomationConfig: a\npassword: x\n",
			[]string{"r.yaml:3:1: baseSystem.sha256: a download needs its sha256"}},
		{"macos two sources", "name: m\nkind: macos\nbaseSystem: {release: sonoma, path: b.dmg}\nopenCore: {path: o}\nautomationConfig: a\npassword: x\n",
			[]string{"r.yaml:3:1: baseSystem: give exactly one of release, url (with sha256) and path"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Load("r.yaml", []byte(c.data))
			var ps yamlsrc.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error = %v, want positioned problems", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "SECRET-KEY") {
				t.Errorf("the product key is in the error:\n%v", err)
			}
		})
	}
}

// The password and product key never appear in the canonical recipe (the
// digest's input), in %v/%+v/%#v of the recipe, or in JSON of it; a
// changed password still changes the digest.
func TestSecretsNotShown(t *testing.T) {
	r, src, err := Load("/r/win.yaml", []byte(goodWindowsRecipe))
	if err != nil {
		t.Fatal(err)
	}
	canon, err := r.Canonical(src)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(r)
	for _, text := range []string{string(canon), string(js), fmt.Sprintf("%v %+v %#v", *r, *r, *r)} {
		for _, secret := range []string{`pa&ss<"w'>`, `pa\u0026ss`, "VK7JG-NPHTM"} {
			if strings.Contains(text, secret) {
				t.Errorf("%q shown in %s", secret, text)
			}
		}
	}
	d1, _ := r.Digest(src)
	r.Password = "other"
	if d2, _ := r.Digest(src); d1 == d2 {
		t.Error("a changed password kept the digest")
	}
}

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.yaml")
	os.WriteFile(path, []byte("name: w\nkind: windows\nwindowsIso: {path: w.iso}\nvirtioDriversIso: {path: v.iso}\nimageIndex: 1\npasswordFile: pw.txt\n"), 0o644)
	r, src, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.password(src); err == nil || !strings.Contains(err.Error(), path+":6:15: passwordFile: cannot read it") {
		t.Errorf("missing file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("s3cr&t\r\nignored\n"), 0o600)
	if pw, err := r.password(src); err != nil || pw != "s3cr&t" {
		t.Errorf("password %q, %v", pw, err)
	}
	os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("\n"), 0o600)
	if _, err := r.password(src); err == nil || !strings.Contains(err.Error(), "the first line is empty") {
		t.Errorf("empty file: %v", err)
	}
}

// A macos recipe is planned only: the build refuses it, before the
// output directory is made. (A windows recipe's automationConfig is run:
// TestWindowsBuildStandinSetup, TestWindowsBuildFailingAutomation.)
func TestMacOSBuildIsPlannedOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.yaml")
	os.WriteFile(path, []byte("name: m\nkind: macos\nbaseSystem: {path: BaseSystem.dmg}\nopenCore: {path: oc.img}\nautomationConfig: a.yaml\npassword: x\n"), 0o644)
	r, src, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), r, src, Options{OutDir: filepath.Join(dir, "out")}); err == nil || !strings.Contains(err.Error(), "kind macos is planned only") {
		t.Errorf("macos build: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Error("output directory made")
	}
}

// The windows and macos keys leave a linux recipe's canonical form (and
// so its digest and every existing cache key) as it was.
func TestLinuxCanonicalHasNoOtherKindKeys(t *testing.T) {
	r, src, err := Load("/r/a.yaml", []byte("name: x\ncloudImage: {path: img.qcow2}\nhostname: h\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := r.Canonical(src)
	const want = `{"name":"x","kind":"linux","memory":2048,"cpus":2,"diskSize":"20G","username":"deskvm","firmware":"uefi","health":{"command":"state=$(systemctl is-system-running --wait); echo \"$state\"; [ \"$state\" = running ] || [ \"$state\" = degraded ]","timeout":"5m0s","retries":2},"cloudImage":{"path":"/r/img.qcow2"},"hostname":"h","finalize":true,"bootTimeout":"20m0s"}`
	if string(b) != want {
		t.Errorf("canonical linux recipe changed:\n%s\nwant\n%s", b, want)
	}
}
