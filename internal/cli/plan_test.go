package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// An invalid config stops plan and apply before they connect to libvirt:
// a socket standing in for libvirtd sees no connection at all.
func TestInvalidConfigNeverConnects(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "libvirt.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	cfg := filepath.Join(dir, "bad.yaml")
	bad := "accelerator: tcg\nvms:\n  x:\n    memory: 16Q\n    diskSize: 1G\n    vcpu: 2\n"
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envLockFile, filepath.Join(dir, "lock"))
	for _, args := range [][]string{{"plan"}, {"apply"}, {"apply", "--dry-run"}, {"plan", "-o", "json"}} {
		var out, errb bytes.Buffer
		argv := append([]string{"deskvm"}, args...)
		argv = append(argv, "-f", cfg, "--connect", "qemu:///system?socket="+sock)
		code := Main(context.Background(), argv, strings.NewReader(""), &out, &errb)
		if code == 0 {
			t.Fatalf("%v: exit 0", args)
		}
		for _, want := range []string{`"16Q"`, "vcpu", "nothing was changed"} {
			if !strings.Contains(errb.String(), want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, errb.String())
			}
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections to libvirt", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "lock")); !os.IsNotExist(err) {
		t.Fatalf("lock file made for an invalid config: %v", err)
	}
}

func TestPlanRejectsBadOutput(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"deskvm", "plan", "-o", "yaml", "-f", "/nonexistent"}, strings.NewReader(""), &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), `--output "yaml"`) {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
