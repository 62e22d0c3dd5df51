package image

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/yamlsrc"
)

const goodRecipe = `name: debian
kind: linux
cloudImage: {url: https://example.org/debian-12-genericcloud-amd64-20250101-1.qcow2, sha256: 5f0c5e3a4f0d1a7b2d4e9c4b8a6f3e2d1c0b9a8f7e6d5c4b3a2918273645f0e1}
hostname: devbox
username: dev
memory: 2048
cpus: 2
diskSize: 20G
firmware: uefi
packages: [htop]
writeFiles: [{path: /etc/motd, content: "hello\n", permissions: "0644"}]
runcmd: ["touch /var/lib/built-by-deskvm"]
finalize: true
health: {command: "systemctl is-system-running --wait || true", timeout: 5m}
`

func TestLoadGoodRecipe(t *testing.T) {
	r, _, err := Load("debian.yaml", []byte(goodRecipe))
	if err != nil {
		t.Fatal(err)
	}
	if r.Memory.MiB != 2048 || r.CPUs != 2 || r.DiskSize.Bytes() != 20<<30 || r.Username != "dev" || !*r.Finalize {
		t.Errorf("loaded %+v", r)
	}
	if r.Health.Timeout.Minutes() != 5 || r.Health.Retries != 2 || r.BootTimeout.Duration != DefaultBootTimeout {
		t.Errorf("health/bootTimeout defaults: %+v %v", r.Health, r.BootTimeout)
	}
	if r.WriteFiles[0].Content != "hello\n" {
		t.Errorf("writeFiles content %q", r.WriteFiles[0].Content)
	}
}

func TestLoadDefaults(t *testing.T) {
	r, _, err := Load("r.yaml", []byte("name: x\ncloudImage: {path: ./x.qcow2}\nhostname: h\nmemory: 3G\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindLinux || r.Memory.MiB != 3072 || r.CPUs != 2 || r.DiskSize.String() != "20G" || r.Username != DefaultUsername ||
		r.Firmware != "uefi" || r.Health.Command != DefaultHealthCommand || !*r.Finalize {
		t.Errorf("defaults: %+v", r)
	}
}

// TestLoadBadRecipes: every mistake is reported at its place in the
// file, all at once.
func TestLoadBadRecipes(t *testing.T) {
	cases := []struct {
		name, data string
		want       []string
	}{
		{"unknown key", "name: x\ncloudImage: {path: a}\nhostname: h\nhostnmae: h\n",
			[]string{`r.yaml:4:1: hostnmae: unknown field "hostnmae"; did you mean "hostname"?`}},
		{"missing cloudImage and hostname", "name: x\n",
			[]string{"r.yaml: cloudImage: a linux recipe needs cloudImage", "r.yaml: hostname: a linux recipe needs a hostname"}},
		{"bad sizes", "name: x\ncloudImage: {path: a}\nhostname: h\ndiskSize: 20GB\nmemory: 2TB\n",
			[]string{`r.yaml:4:11: diskSize: invalid size "20GB": "GB" is a decimal unit`, `r.yaml:5:9: memory: invalid size "2TB"`}},
		{"small disk", "name: x\ncloudImage: {path: a}\nhostname: h\ndiskSize: 512M\n",
			[]string{"r.yaml:4:11: diskSize: 512M is smaller than 1G"}},
		{"url without sha", "name: x\ncloudImage: {url: https://e.org/a.qcow2}\nhostname: h\n",
			[]string{"r.yaml:2:1: cloudImage.sha256: a download needs its sha256"}},
		{"url and path", "name: x\ncloudImage: {url: https://e.org/a, sha256: abc, path: a}\nhostname: h\n",
			[]string{"cloudImage: give url or path, not both", `cloudImage.sha256: "abc": want 64 lower-case hex digits`}},
		{"bad kind", "name: x\nkind: solaris\n", []string{`r.yaml:2:7: kind: "solaris"`}},
		{"bad values", "name: Bad Name\ncloudImage: {path: a}\nhostname: -h\nusername: root\nfirmware: coreboot\ncpus: 100\nsshPort: 70000\n",
			[]string{`r.yaml:1:7: name: "Bad Name"`, `r.yaml:3:11: hostname: "-h"`, `r.yaml:4:11: username: "root"`,
				`r.yaml:5:11: firmware: "coreboot"`, "r.yaml:6:7: cpus: 100", "r.yaml:7:10: sshPort: 70000"}},
		{"writeFiles", "name: x\ncloudImage: {path: a}\nhostname: h\nwriteFiles:\n  - {path: etc/motd, content: a}\n  - {path: /a, content: b, permissions: rw}\n",
			[]string{`r.yaml:5:12: writeFiles[0].path: "etc/motd"`, `r.yaml:6:41: writeFiles[1].permissions: "rw"`}},
		{"wrong type", "name: x\ncloudImage: {path: a}\nhostname: h\npackages: htop\n",
			[]string{"r.yaml:4:11: packages: expected a list"}},
		{"bad duration", "name: x\ncloudImage: {path: a}\nhostname: h\nhealth: {timeout: 5 minutes}\n",
			[]string{`health.timeout: invalid duration "5 minutes"`}},
		{"windows key in a linux recipe", "name: w\ncloudImage: {path: a}\nhostname: h\nwindowsIso: {path: w.iso}\n",
			[]string{"r.yaml:4:1: windowsIso: is a key of kind windows recipes; this recipe is kind linux"}},
		{"syntax", "name: [x\n", []string{"r.yaml:"}},
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
		})
	}
}

func TestUnreadableKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.yaml")
	data := "name: x\ncloudImage: {path: a}\nhostname: h\nsshPublicKey: ./missing.pub\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	r, src, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = readPublicKey(r.SSHPublicKey, src)
	if err == nil || !strings.Contains(err.Error(), path+":4:15: sshPublicKey: cannot read the key file") {
		t.Fatalf("error = %v", err)
	}
	os.WriteFile(filepath.Join(dir, "missing.pub"), []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n"), 0o600)
	if _, err = readPublicKey(r.SSHPublicKey, src); err == nil || !strings.Contains(err.Error(), "is not an SSH public key") {
		t.Fatalf("private key file: error = %v", err)
	}
	k, _ := NewKeyPair("me@host")
	os.WriteFile(filepath.Join(dir, "missing.pub"), []byte(k.Public+"\n"), 0o600)
	if line, err := readPublicKey(r.SSHPublicKey, src); err != nil || line != k.Public {
		t.Fatalf("good key file: %q, %v", line, err)
	}
	if line, err := readPublicKey(k.Public, src); err != nil || line != k.Public {
		t.Fatalf("inline key: %q, %v", line, err)
	}
}

// TestDigestIgnoresSpelling: YAML or JSON, key order, spelt-out defaults
// and the host SSH port give the same recipe digest; a real change does not.
func TestDigestIgnoresSpelling(t *testing.T) {
	digest := func(name, data string) string {
		t.Helper()
		r, src, err := Load(name, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		d, err := r.Digest(src)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := digest("/r/a.yaml", "name: x\ncloudImage: {path: img.qcow2}\nhostname: h\n")
	b := digest("/r/b.json", `{"hostname": "h", "cpus": 2, "memory": 2048, "sshPort": 2200, "cloudImage": {"path": "/r/img.qcow2"}, "name": "x", "firmware": "uefi"}`)
	if a != b {
		t.Errorf("same recipe, different digests: %s %s", a, b)
	}
	if c := digest("/r/a.yaml", "name: x\ncloudImage: {path: img.qcow2}\nhostname: h2\n"); c == a {
		t.Error("a changed hostname kept the digest")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(goodRecipe))
	f.Add([]byte(`{"name": "x", "cloudImage": {"path": "a"}, "hostname": "h", "memory": "2G"}`))
	f.Add([]byte("name: x\nmemory: [1]\nwriteFiles: [{path: /a}]\nhealth: {timeout: 1h}\n"))
	f.Add([]byte(goodWindowsRecipe))
	f.Add([]byte(goodMacOSRecipe))
	f.Add([]byte("name: w\nkind: windows\nhostname: h\nbaseSystem: {release: x}\nenableTpm: false\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _, err := Load("fuzz.yaml", data)
		if err == nil {
			if r.Validate().HasErrors() {
				t.Fatal("Load accepted a recipe Validate refuses")
			}
			if _, err := r.Canonical(nil); err != nil {
				t.Fatal(err)
			}
		}
	})
}
