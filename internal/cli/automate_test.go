package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAutomateDryRun(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s.yaml")
	os.WriteFile(script, []byte("boot_wait: 5\nboot_commands:\n  - wait: {text: Welcome, timeout: 120}\n  - type: '${PASSWORD}'\n  - key: enter\nhealth_check: {type: ssh, user: root, password: '${PASSWORD}', port: 2222}\n"), 0o644)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("Sup3rSecret\n"), 0o600)
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"deskvm", "automate", script, "--dry-run", "--password-file", pw}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := script + `: valid, 3 steps, boot_wait 5s
   1  line 3    wait         wait for "Welcome" (timeout 2m0s)
   2  line 4    type         type *** (secret)
   3  line 5    key          key enter
      line 6    health_check ssh root@127.0.0.1:2222 "true"
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	if strings.Contains(out.String()+errb.String(), "Sup3rSecret") {
		t.Error("secret printed")
	}
}

func TestAutomateInvalidScript(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "bad.yaml")
	os.WriteFile(script, []byte("boot_commands:\n  - key: escap\n  - wait: {regex: '('}\n"), 0o644)
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"deskvm", "automate", script, "--vnc", "127.0.0.1:1"}, nil, &out, &errb)
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, want := range []string{"2 problem(s), nothing was sent", script + ":2:10: step 1 (key): unknown key name \"escap\"", script + ":3:19: step 2 (wait): regex: bad regex"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	// Neither --vnc nor --vm: a usage error.
	os.WriteFile(script, []byte("boot_commands:\n  - key: enter\n"), 0o644)
	errb.Reset()
	if code := Main(context.Background(), []string{"deskvm", "automate", script}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--vnc") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}

// A script whose valid first steps are followed by an unknown command, an
// unknown key name and a bad regex is refused before anything connects:
// the VNC address given is a listener that must never see a connection.
func TestAutomateChecksWholeScriptBeforeConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	dir := t.TempDir()
	script := filepath.Join(dir, "late.yaml")
	os.WriteFile(script, []byte(`boot_commands:
  - key: enter
  - type: hello
  - wait: {text: Welcome, timeout: 1}
  - press: enter
  - key: {text: x}
  - hotkey: ctrl+escap
  - wait: {regex: '[a-'}
`), 0o644)
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"deskvm", "automate", script, "--vnc", ln.Addr().String()}, nil, &out, &errb)
	if code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, errb.String())
	}
	for _, want := range []string{
		"nothing was sent",
		script + ":5:5: step 4 (press): unknown command \"press\"",
		script + ":7:13: step 6 (hotkey): unknown key name \"escap\"",
		script + ":6:10: step 5 (key): expected a string, got a mapping",
		script + ":8:19: step 7 (wait): regex: bad regex",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	select {
	case <-accepted:
		t.Error("deskvm connected to the VNC server although the script is invalid")
	case <-time.After(200 * time.Millisecond):
	}
}
