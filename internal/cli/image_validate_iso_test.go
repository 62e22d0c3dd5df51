package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/winmedia"
)

func TestValidateISOWindows(t *testing.T) {
	m := testutil.WindowsMediaFixture(t)
	for _, c := range []struct{ iso, install string }{{m.WindowsISO, "sources/install.wim"}, {m.ESDISO, "sources/install.esd"}} {
		code, out, errOut := runDeskvm("image", "validate-iso", c.iso, "--output", "json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s%s", c.iso, code, out, errOut)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if r["valid"] != true || r["installImage"] != c.install || r["volumeLabel"] == "" {
			t.Errorf("%s: %s", c.iso, out)
		}
		if probs, ok := r["problems"].([]any); !ok || len(probs) != 0 {
			t.Errorf("problems %v, want []", r["problems"])
		}
		eds, _ := r["editions"].([]any)
		if len(eds) != len(testutil.WindowsFixtureEditions) {
			t.Fatalf("%d editions: %s", len(eds), out)
		}
		for i, want := range testutil.WindowsFixtureEditions {
			e := eds[i].(map[string]any)
			if e["index"] != float64(want.Index) || e["name"] != want.Name || e["build"] != float64(want.Build) {
				t.Errorf("edition %d: %v", i, e)
			}
		}
	}
	code, out, _ := runDeskvm("image", "validate-iso", m.WindowsISO)
	if code != 0 || !strings.Contains(out, "   2  Windows 11 Pro  (Professional, amd64, 10.0.26100.1742)") || !strings.HasSuffix(out, "valid\n") {
		t.Errorf("text output:\n%s", out)
	}
}

// Media without an install image fail with the reason in words, also in
// the JSON, and exit 1.
func TestValidateISONoInstallImage(t *testing.T) {
	m := testutil.WindowsMediaFixture(t)
	code, out, errOut := runDeskvm("image", "validate-iso", m.NoInstallISO, "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var r winmedia.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Valid || len(r.Problems) != 1 || r.Problems[0] != "no sources/install.wim or install.esd" {
		t.Errorf("%+v", r)
	}
	if !strings.Contains(errOut, "no sources/install.wim or install.esd") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestValidateISOVirtio(t *testing.T) {
	m := testutil.WindowsMediaFixture(t)
	code, out, errOut := runDeskvm("image", "validate-iso", m.VirtioISO)
	if code != 0 || !strings.Contains(out, `driver folder NetKVM\w11\amd64`) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runDeskvm("image", "validate-iso", m.VirtioISO, "--windows-version", "w10", "-o", "json")
	if code != 0 || !strings.Contains(out, `"viostor\\w10\\amd64"`) {
		t.Fatalf("w10: exit %d\n%s", code, out)
	}
	code, _, errOut = runDeskvm("image", "validate-iso", m.VirtioNoNetISO)
	if code != 1 || !strings.Contains(errOut, `no driver folder NetKVM\w11\amd64 on the virtio-win media`) {
		t.Fatalf("nonet: exit %d: %s", code, errOut)
	}
	code, _, errOut = runDeskvm("image", "validate-iso", m.VirtioISO, "--kind", "windows")
	if code != 1 || !strings.Contains(errOut, "no sources/install.wim or install.esd") {
		t.Fatalf("virtio as windows: exit %d: %s", code, errOut)
	}
}

func TestValidateISOBadInput(t *testing.T) {
	junk := filepath.Join(t.TempDir(), "junk.iso")
	os.WriteFile(junk, []byte("not an iso"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{junk}, "not an ISO 9660 or UDF image"},
		{[]string{filepath.Join(t.TempDir(), "missing.iso")}, "no such file"},
		{[]string{junk, "--kind", "floppy"}, `--kind "floppy"`},
		{[]string{junk, "--windows-version", "xp"}, `--windows-version "xp"`},
		{[]string{junk, "-o", "yaml"}, `--output "yaml"`},
	} {
		code, _, errOut := runDeskvm(append([]string{"image", "validate-iso"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}
