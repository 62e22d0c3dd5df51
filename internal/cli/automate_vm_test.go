package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/testutil/libvirttest"
)

// otherURI is a libvirt URI other than the default qemu:///system that
// reaches a real libvirtd here: qemu:///session when it answers (as root
// it is the privileged daemon's driver under another name), else the
// system daemon through an explicit socket.
func otherURI(t *testing.T) string {
	t.Helper()
	for _, uri := range []string{"qemu:///session", "qemu+unix:///system?socket=/var/run/libvirt/libvirt-sock"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, err := libvirt.Dial(ctx, uri, libvirt.Options{})
		if err == nil {
			_, err = c.Domains(ctx)
			c.Close()
		}
		cancel()
		if err == nil {
			return uri
		}
		t.Logf("%s: %v", uri, err)
	}
	testutil.Missing(t, "a libvirt URI other than qemu:///system that answers")
	return ""
}

// automate --vm NAME (and screenshot --vm NAME) finds the domain's VNC display through the libvirt
// API at the URI of --connect (which beats the config's connect), or of
// the config's connect; a URI that does not answer is named in the error,
// so the default qemu:///system is not used behind the user's back.
func TestVMDisplayConnectURI(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots a domain in libvirt")
	}
	testutil.RequiresLibvirt(t)
	testutil.RequiresTesseract(t)
	uri := otherURI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := libvirt.Dial(ctx, uri, libvirt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "deskvm-test-auto" + randHex(3) + "-"
	t.Cleanup(func() { libvirttest.Cleanup(t, c, prefix); c.Close() })
	name := prefix + "bios"
	// SeaBIOS without a disk: a VNC screen that says "No bootable device".
	xml := fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
<devices><graphics type='vnc' autoport='yes' listen='127.0.0.1'/><video><model type='vga'/></video></devices></domain>`, name)
	if err := c.DefineDomain(ctx, xml); err != nil {
		t.Fatal(err)
	}
	if err := c.StartDomain(ctx, name); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	script := filepath.Join(dir, "bios.automation.yaml")
	if err := os.WriteFile(script, []byte("boot_commands:\n  - wait: {text: 'No bootable device', timeout: 120}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dead := "qemu+unix:///system?socket=" + filepath.Join(dir, "no-libvirtd.sock")
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("connect: "+dead+"\naccelerator: tcg\nvms: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(ctx, append([]string{"deskvm", "automate", script, "--vm", name}, args...), strings.NewReader(""), &out, &errb)
		return code, out.String() + errb.String()
	}

	// --connect with no config file.
	saved := DefaultConfigPaths
	t.Cleanup(func() { DefaultConfigPaths = saved })
	DefaultConfigPaths = []string{filepath.Join(dir, "absent.yaml")}
	code, out := run("--connect", uri, "--debug", filepath.Join(dir, "debug"))
	if code != 0 || !strings.Contains(out, "automation succeeded") || !strings.Contains(out, "on 127.0.0.1:") {
		t.Fatalf("automate --vm %s --connect %s: exit %d\n%s", name, uri, code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "debug", "report.html")); err != nil {
		t.Errorf("report: %v", err)
	}
	// screenshot --vm finds the same display.
	png := filepath.Join(dir, "screen.png")
	var so, se bytes.Buffer
	if code := Main(ctx, []string{"deskvm", "screenshot", "--vm", name, "--connect", uri, "-o", png}, strings.NewReader(""), &so, &se); code != 0 {
		t.Errorf("screenshot --vm: exit %d: %s", code, se.String())
	} else if !strings.HasPrefix(so.String(), png+": 720x400") && !strings.HasPrefix(so.String(), png+": 640x480") {
		t.Errorf("screenshot --vm: %q", so.String())
	}
	// The config's connect is used when --connect is not given ...
	code, out = run("-f", cfg)
	if code != automateExitInvalid || !strings.Contains(out, dead) {
		t.Errorf("config connect %s: exit %d, want %d and the URI named:\n%s", dead, code, automateExitInvalid, out)
	}
	// ... and --connect beats it.
	code, out = run("-f", cfg, "--connect", uri)
	if code != 0 {
		t.Errorf("--connect %s over the config's connect: exit %d\n%s", uri, code, out)
	}
	// A domain the URI's libvirt does not have is named with that URI.
	var o2, e2 bytes.Buffer
	code = Main(ctx, []string{"deskvm", "automate", script, "--vm", prefix + "absent", "--connect", uri}, strings.NewReader(""), &o2, &e2)
	if code != automateExitInvalid || !strings.Contains(e2.String(), uri) || !strings.Contains(e2.String(), prefix+"absent") {
		t.Errorf("absent domain: exit %d: %s", code, e2.String())
	}
}
