package live

import (
	"context"
	"strings"
	"testing"
)

func TestParseDomDisplay(t *testing.T) {
	for in, want := range map[string]string{
		"vnc://127.0.0.1:0\n": "127.0.0.1:5900",
		"vnc://localhost:12":  "localhost:5912",
		"vnc://0.0.0.0:1":     "127.0.0.1:5901",
		"vnc://[::1]:3\n\n":   "[::1]:5903",
		"vnc://192.168.1.5":   "192.168.1.5:5900",
	} {
		got, err := ParseDomDisplay(in)
		if err != nil || got != want {
			t.Errorf("ParseDomDisplay(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "spice://127.0.0.1:0", "vnc://127.0.0.1:x"} {
		if _, err := ParseDomDisplay(bad); err == nil {
			t.Errorf("ParseDomDisplay(%q) accepted", bad)
		}
	}
}

func TestDomDisplayCommand(t *testing.T) {
	cmd := DomDisplayCommand(context.Background(), "qemu:///system", "-weird")
	if got := strings.Join(cmd.Args, " "); got != "virsh -c qemu:///system domdisplay --type vnc -- -weird" {
		t.Errorf("args = %s", got)
	}
}
