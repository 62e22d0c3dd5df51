package live_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/cli"
	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/testutil/libvirttest"
)

// The end-to-end tests boot the real Debian 12 installer
// (debian-installer-12-netboot-amd64) under libvirt with TCG, defined and
// started by `deskvm apply`, and drive it with the example scripts through
// `deskvm automate --vm`: OCR and keys only, no coordinates.
//
//	go test -run TestE2E -count=1 -v -timeout 20m ./internal/automation/live/
//
// Set DESKVM_E2E_DEBUG=DIR to keep the debug output (screenshots, OCR
// JSON, report.html) in DIR/text and DIR/gtk.

const installerImages = "/usr/lib/debian-installer/images/12/amd64"

func TestE2EDebianInstallerText(t *testing.T) {
	runInstaller(t, installerRun{
		name:    "text",
		script:  "debian12-text.automation.yaml",
		cmdline: "",
	})
}

func TestE2EDebianInstallerGTK(t *testing.T) {
	runInstaller(t, installerRun{
		name:    "gtk",
		script:  "debian12-gtk.automation.yaml",
		cmdline: "vga=788",
		clicks:  true,
	})
}

type installerRun struct {
	name    string // text or gtk: the image directory and the VM name
	script  string // in examples/automation
	cmdline string
	clicks  bool // the script clicks on text (the graphical installer has a mouse)
}

// e2eConfig is a deskvm config with one VM that boots the installer's
// kernel directly; QEMU user networking lets the installer's DHCP succeed
// without any host setup.
const e2eConfig = `accelerator: tcg
defaultStoragePool: ${POOL}
defaultStoragePath: ${DIR}/pool
vms:
  ${VM}:
    memory: 1G
    vcpus: 1
    diskSize: 64M
    firmware: bios
    network: user
    display: vnc
    autoStart: true
    boot:
      kernel: ${IMAGES}/linux
      initrd: ${IMAGES}/initrd.gz
      cmdline: '${CMDLINE}'
`

func runInstaller(t *testing.T, ir installerRun) {
	if testing.Short() {
		t.Skip("boots the Debian installer under TCG (minutes)")
	}
	uri := testutil.RequiresLibvirt(t)
	testutil.RequiresTesseract(t)
	images := filepath.Join(installerImages, ir.name, "debian-installer", "amd64")
	for _, f := range []string{"linux", "initrd.gz"} {
		if _, err := os.Stat(filepath.Join(images, f)); err != nil {
			testutil.Missing(t, "debian-installer-12-netboot-amd64 ("+err.Error()+")")
		}
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "..", "examples", "automation", ir.script))
	if err != nil {
		t.Fatal(err)
	}

	env := newE2EEnv(t, uri)
	vm := env.prefix + ir.name
	cfg := filepath.Join(env.dir, "deskvm.yaml")
	vars := map[string]string{"POOL": env.pool, "DIR": env.dir, "VM": vm, "IMAGES": images, "CMDLINE": ir.cmdline}
	if err := os.WriteFile(cfg, []byte(os.Expand(e2eConfig, func(k string) string { return vars[k] })), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, code := deskvm(t, 3*time.Minute, "apply", "-f", cfg, "--connect", uri); code != 0 {
		t.Fatalf("deskvm apply: exit %d\n%s", code, out)
	}
	t.Logf("%s started by deskvm apply in %s", vm, time.Since(start).Round(time.Millisecond))

	debug := filepath.Join(t.TempDir(), "debug")
	if d := os.Getenv("DESKVM_E2E_DEBUG"); d != "" {
		debug = filepath.Join(d, ir.name)
		os.RemoveAll(debug)
	}
	start = time.Now()
	out, code := deskvm(t, 8*time.Minute, "automate", script, "--vm", vm, "--connect", uri, "--debug", debug)
	t.Logf("deskvm automate: exit %d after %s\n%s", code, time.Since(start).Round(time.Second), out)
	if code != 0 {
		t.Fatalf("the installer script failed (debug output in %s)", debug)
	}
	if !strings.Contains(out, "automation succeeded") {
		t.Errorf("no success line in the output")
	}
	report, err := os.ReadFile(filepath.Join(debug, "report.html"))
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if n := strings.Count(string(report), `class="step step-ok"`); n < 10 {
		t.Errorf("report shows %d passed steps", n)
	}
	if ir.clicks && !strings.Contains(string(report), "clicked at") {
		t.Errorf("report shows no click on text")
	}
	// The screen the script stops at.
	if _, err := os.Stat(filepath.Join(debug, "mirror-country.png")); err != nil {
		t.Errorf("last screen: %v", err)
	}
}

// deskvm runs the CLI in-process and returns its output and exit code.
func deskvm(t *testing.T, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	code := cli.Main(ctx, append([]string{"deskvm"}, args...), strings.NewReader(""), &out, &out)
	return out.String(), code
}

// e2eEnv confines deskvm apply to domains named deskvm-test-e2e-<id>-*, a
// storage pool, lock file and firewall table of the test's own (the
// environment variables the reconcile tests use), all removed in cleanup.
type e2eEnv struct {
	prefix, pool, dir, table string
	conn                     *libvirt.Conn
}

func newE2EEnv(t *testing.T, uri string) *e2eEnv {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	e := &e2eEnv{prefix: "deskvm-test-e2e-" + id + "-", pool: "deskvm-test-e2epool-" + id, dir: t.TempDir(), table: "deskvm_test_e2e_" + id}
	// QEMU runs as its own user and must reach the pool directory.
	for _, d := range []string{e.dir, filepath.Dir(e.dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("DESKVM_LOCK_FILE", filepath.Join(e.dir, "apply.lock"))
	t.Setenv("DESKVM_FIREWALL_TABLE", e.table)
	t.Setenv("DESKVM_DOMAIN_PREFIX", e.prefix)
	c, err := libvirt.Dial(context.Background(), uri, libvirt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.conn = c
	t.Cleanup(func() { e.cleanup(t) })
	return e
}

// cleanup removes the test's domains and pool (libvirttest.Cleanup fails
// the test on a leftover) and its firewall table, which only the e2e
// runs make here.
func (e *e2eEnv) cleanup(t *testing.T) {
	t.Helper()
	defer e.conn.Close()
	libvirttest.Cleanup(t, e.conn, e.prefix, e.pool)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Idempotent ("table ...; delete table ..."); ignored like the other
	// tests that make a table, as it holds only this run's display ports.
	_ = (&host.Sys{}).ApplyFirewall(ctx, host.FirewallScript(e.table, nil))
}
