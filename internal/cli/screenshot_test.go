package cli

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/vnc/vnctest"
)

func runScreenshotCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code = Main(ctx, append([]string{"deskvm", "screenshot"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestScreenshotBadArguments(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "shot.png")
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no --vnc", []string{"-o", out}, 2, "give exactly one of --vnc HOST:PORT or --vm NAME"},
		{"--vnc and --vm", []string{"--vnc", closed, "--vm", "x", "-o", out}, 2, "give exactly one of --vnc HOST:PORT or --vm NAME"},
		{"no -o", []string{"--vnc", closed}, 2, "-o FILE.png is required"},
		{"missing password file", []string{"--vnc", closed, "-o", out, "--password-file", filepath.Join(dir, "nope")}, 1, "password file"},
		{"nothing listening", []string{"--vnc", closed, "-o", out, "--timeout", "2s"}, 1, "dial " + closed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runScreenshotCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr, tc.code, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("output file exists after a failure (%v)", err)
			}
		})
	}
}

func TestScreenshotQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU; not in -short")
	}
	q := vnctest.Start(t, vnctest.Options{TCP: true, Password: "pw-123"})
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "vnc.pass")
	if err := os.WriteFile(pwFile, []byte("pw-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(dir, "wrong.pass")
	if err := os.WriteFile(wrongFile, []byte("nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "screen.png")

	code, _, stderr := runScreenshotCLI(t, "--vnc", q.Addr, "--password-file", wrongFile, "-o", out)
	if code == 0 || !strings.Contains(stderr, "authentication failed") {
		t.Fatalf("wrong password: exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stderr, "nope") {
		t.Fatalf("stderr shows the password: %q", stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a screenshot was written despite the failed login")
	}

	code, stdout, stderr := runScreenshotCLI(t, "--vnc", q.Addr, "--password-file", pwFile, "-o", out, "--timeout", "30s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("output is not a PNG: %v", err)
	}
	sz := img.Bounds().Size()
	if sz != image.Pt(720, 400) && sz != image.Pt(640, 480) {
		t.Fatalf("screenshot is %v, want a VGA screen", sz)
	}
	if !strings.Contains(stdout, "screen.png: ") {
		t.Errorf("stdout %q", stdout)
	}
	// No temporary files left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left over %s", e.Name())
		}
	}
}
