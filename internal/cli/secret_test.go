package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every password file is read one way (secret.ReadFile): CR/LF line ends
// dropped, the rest kept, an empty file refused with its name.
func TestPasswordFilesReadAlike(t *testing.T) {
	dir := t.TempDir()
	crlf, empty := filepath.Join(dir, "crlf"), filepath.Join(dir, "empty")
	os.WriteFile(crlf, []byte("hunter2\r\n"), 0o600)
	os.WriteFile(empty, []byte("\n"), 0o600)

	file := writeConfig(t, strings.Replace(pinnedConfig, "PWFILE", crlf, 1))
	out, stderr, code := runRenderCmd(t, twoCPUs, file, "big", "--secrets")
	if code != 0 || !strings.Contains(out, `passwd="hunter2"`) {
		t.Errorf("graphics.passwordFile with CRLF: exit %d, stderr %s", code, stderr)
	}
	file = writeConfig(t, strings.Replace(pinnedConfig, "PWFILE", empty, 1))
	_, stderr, code = runRenderCmd(t, twoCPUs, file, "big", "--secrets")
	if want := "vms.big.graphics.passwordFile: password file " + empty + " is empty"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("empty graphics.passwordFile: exit %d, stderr %q; want %q", code, stderr, want)
	}

	script := filepath.Join(dir, "s.yaml")
	os.WriteFile(script, []byte("boot_commands:\n  - type: '${PASSWORD}'\n"), 0o644)
	var o, e bytes.Buffer
	code = Main(context.Background(), []string{"deskvm", "automate", script, "--dry-run", "--password-file", empty}, nil, &o, &e)
	if code == 0 || !strings.Contains(e.String(), "--password-file: password file "+empty+" is empty") {
		t.Errorf("automate --password-file with an empty file: exit %d, stderr %q", code, e.String())
	}
	code, _, stderr = runScreenshotCLI(t, "--vnc", "127.0.0.1:1", "-o", filepath.Join(dir, "x.png"), "--password-file", empty)
	if code != 1 || !strings.Contains(stderr, "password file "+empty+" is empty") {
		t.Errorf("screenshot with an empty file: exit %d, stderr %q", code, stderr)
	}
}
