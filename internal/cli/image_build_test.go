package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A recipe with mistakes is refused before anything is made: every
// problem at its file:line:col, exit 1, no output directory.
func TestImageBuildBadRecipe(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	recipe := cfgWriteFile(t, "bad.yaml", "name: x\ncloudImage: {url: https://example.org/a.qcow2}\nhostnmae: devbox\ndiskSize: 20GB\n")
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := cfgRun(t, "", "image", "build", recipe, "--out", out)
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{
		recipe + ":2:1: cloudImage.sha256: a download needs its sha256",
		recipe + `:3:1: hostnmae: unknown field "hostnmae"; did you mean "hostname"?`,
		recipe + `:4:11: diskSize: invalid size "20GB"`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output directory made for a bad recipe: %v", err)
	}
}

// image plan writes the seed media and prints the steps and the exact
// QEMU command line, without booting or building anything.
func TestImagePlan(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "local.qcow2"), []byte("not really an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	recipe := filepath.Join(dir, "r.yaml")
	os.WriteFile(recipe, []byte("name: devbox\ncloudImage: {path: local.qcow2}\nhostname: devbox\nusername: dev\nfirmware: bios\nruncmd: [\"touch /x\"]\n"), 0o644)
	out := filepath.Join(dir, "plan")
	code, stdout, stderr := cfgRun(t, "", "image", "plan", recipe, "--out", out, "--accel", "tcg")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"steps:", "5. wait for ssh", "9. generalize", "12. write outputs",
		"cloudImage: " + filepath.Join(dir, "local.qcow2") + " (sha256 ",
		"qemu-system-x86_64 -nodefaults", "accel=tcg", "hostfwd=tcp:127.0.0.1:2222-:22",
		"file=" + filepath.Join(out, "seed.iso"), "virtio-blk-pci,drive=seed",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}
	ud, err := os.ReadFile(filepath.Join(out, "user-data"))
	if err != nil || !strings.Contains(string(ud), "touch /x") || !strings.Contains(string(ud), "dev") {
		t.Errorf("user-data: %v\n%s", err, ud)
	}
	for _, f := range []string{"meta-data", "network-config", "seed.iso"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "devbox.qcow2")); !os.IsNotExist(err) {
		t.Error("plan built an image")
	}
}

func TestImageCheckNeedsManifest(t *testing.T) {
	img := cfgWriteFile(t, "lonely.qcow2", "x")
	code, _, stderr := cfgRun(t, "", "image", "check", img)
	if code != 1 || !strings.Contains(stderr, "lonely.manifest.json") || !strings.Contains(stderr, "needs the manifest") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
