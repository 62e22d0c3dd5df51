package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The image examples' automation scripts (the macOS Setup Assistant one)
// load and check with `deskvm automate --dry-run`: every step, key name
// and the health check; a wrong key name in a copy is refused at its line.
func TestImageExampleScriptsCheck(t *testing.T) {
	files, _ := filepath.Glob("../../examples/images/*.automation.yaml")
	if len(files) == 0 {
		t.Fatal("no examples/images/*.automation.yaml")
	}
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("s3cret&<pw>\n"), 0o600)
	for _, f := range files {
		code, out, errOut := runDeskvm("automate", f, "--dry-run", "--password-file", pw)
		if code != 0 || !strings.Contains(out, "health_check ssh") {
			t.Errorf("%s: exit %d\n%s%s", f, code, out, errOut)
		}
		if strings.Contains(out, "s3cret") {
			t.Errorf("%s: the password appears in the dry-run output", f)
		}
		b, _ := os.ReadFile(f)
		bad := filepath.Join(t.TempDir(), filepath.Base(f))
		os.WriteFile(bad, []byte(strings.Replace(string(b), "key: enter", "key: entr", 1)), 0o644)
		code, _, errOut = runDeskvm("automate", bad, "--dry-run", "--password-file", pw)
		if code != 2 || !strings.Contains(errOut, "entr") || !strings.Contains(errOut, bad+":") {
			t.Errorf("%s with a bad key: exit %d: %s", f, code, errOut)
		}
	}
}
