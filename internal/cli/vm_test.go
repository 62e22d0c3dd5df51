package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil/libvirttest"
)

// fakeVMLibvirt is the fake libvirt as the verbs see it; Close is a no-op
// so one fake serves several commands.
type fakeVMLibvirt struct{ *libvirttest.Fake }

func (fakeVMLibvirt) Close() error { return nil }

type vmHarness struct {
	t       *testing.T
	fake    *libvirttest.Fake
	cfg     string
	dialed  []string
	ran     [][]string
	runCode int
	look    map[string]bool
}

const vmUnitConfig = `connect: test:///from-config
accelerator: tcg
vms:
  box:
    memory: 256M
    network: user
    portForwards: [{host: 2222, guest: 22}]
    sshUser: alice
  off:
    memory: 1G
  gone:
    enable: false
`

func managedXML(name, extra string) string {
	return fmt.Sprintf(`<domain type='qemu'><name>%s</name><metadata><d:vm xmlns:d="https://deskvm.dev/xmlns/vm/1"><d:managedBy>deskvm</d:managedBy><d:configHash>h</d:configHash></d:vm></metadata>
<memory unit='KiB'>262144</memory><currentMemory unit='KiB'>262144</currentMemory><vcpu>2</vcpu>
<devices><graphics type='spice' port='5930' listen='127.0.0.1'/><memballoon model='virtio'><stats period='5'/></memballoon>%s</devices>
<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-netdev'/><qemu:arg value='user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22'/><qemu:arg value='-device'/><qemu:arg value='virtio-net-pci,netdev=n0,mac=52:54:00:00:00:09'/></qemu:commandline></domain>`, name, extra)
}

func newVMHarness(t *testing.T) *vmHarness {
	h := &vmHarness{t: t, fake: libvirttest.NewFake(), look: map[string]bool{"ssh": true, "virsh": true}}
	h.cfg = filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(h.cfg, []byte(vmUnitConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	h.fake.AddDomain(libvirt.Domain{Name: "box", Active: true, Persistent: true, InactiveXML: managedXML("box", "")})
	h.fake.AddDomain(libvirt.Domain{Name: "extra", Persistent: true, InactiveXML: managedXML("extra", "")})
	h.fake.AddDomain(libvirt.Domain{Name: "handmade", Persistent: true, InactiveXML: "<domain><name>handmade</name><memory>1024</memory></domain>"})
	return h
}

func (h *vmHarness) deps() *vmDeps {
	return &vmDeps{
		dial: func(ctx context.Context, uri string) (vmLibvirt, error) {
			h.dialed = append(h.dialed, uri)
			return fakeVMLibvirt{h.fake}, nil
		},
		lookPath: func(f string) (string, error) {
			if h.look[f] {
				return "/usr/bin/" + f, nil
			}
			return "", exec.ErrNotFound
		},
		run: func(ctx context.Context, g *globalOptions, argv []string) (int, error) {
			h.ran = append(h.ran, argv)
			return h.runCode, nil
		},
		host: &host.Sys{},
		poll: time.Millisecond,
	}
}

// run executes a command line through a root with the vm and list
// commands made with the fake deps.
func (h *vmHarness) run(args ...string) result {
	h.t.Helper()
	var out, errb bytes.Buffer
	g := &globalOptions{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	root := &cobra.Command{Use: "deskvm", SilenceUsage: true, SilenceErrors: true}
	root.SetOut(&out)
	root.SetErr(&errb)
	addGlobalFlags(root, g)
	root.AddCommand(newVMCmdWith(g, h.deps()), newListCmdWith(g, h.deps()))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	code := 0
	if err != nil {
		code = 1
		var ee *ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		if ee == nil || ee.Err != nil {
			fmt.Fprintln(&errb, "deskvm:", err)
		}
	}
	return result{code, out.String(), errb.String()}
}

func TestScanVMLine(t *testing.T) {
	for _, c := range []struct {
		args             []string
		name, verb, file string
		help             bool
	}{
		{[]string{"box", "status"}, "box", "status", "", false},
		{[]string{"-f", "c.yaml", "box", "stop", "--timeout", "5s"}, "box", "stop", "c.yaml", false},
		{[]string{"box", "--connect", "qemu:///session", "status", "--file=x.yaml"}, "box", "status", "x.yaml", false},
		{[]string{"-fc.yaml", "box", "ssh", "--", "uname", "-r"}, "box", "ssh", "c.yaml", false},
		{[]string{"--", "box"}, "", "", "", false},
		{[]string{"--help"}, "", "", "", true},
		{[]string{"box", "-h"}, "box", "", "", true},
	} {
		l := scanVMLine(c.args)
		if l.name != c.name || l.verb != c.verb || l.configFile != c.file || l.help != c.help {
			t.Errorf("scanVMLine(%q) = %+v", c.args, l)
		}
	}
}

func TestVMUnknownNameAndVerb(t *testing.T) {
	h := newVMHarness(t)
	r := h.run("vm", "nosuch", "status", "-f", h.cfg)
	if r.code != 2 || !strings.Contains(r.stderr, `unknown VM "nosuch"; VMs: box, extra, off`) {
		t.Errorf("unknown VM: %d %q", r.code, r.stderr)
	}
	// A domain deskvm did not define is not a VM of deskvm's.
	r = h.run("vm", "handmade", "status", "-f", h.cfg)
	if r.code != 2 || !strings.Contains(r.stderr, `unknown VM "handmade"`) {
		t.Errorf("unmanaged domain: %d %q", r.code, r.stderr)
	}
	r = h.run("vm", "gone", "status", "-f", h.cfg)
	if r.code != 2 || !strings.Contains(r.stderr, "disabled in the config") {
		t.Errorf("disabled VM: %d %q", r.code, r.stderr)
	}
	r = h.run("vm", "off", "start", "-f", h.cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "not defined in libvirt") || !strings.Contains(r.stderr, "deskvm apply") {
		t.Errorf("undefined VM: %d %q", r.code, r.stderr)
	}
	r = h.run("vm", "box", "fly", "-f", h.cfg)
	if r.code != 2 || !strings.Contains(r.stderr, `unknown verb "fly" for vm box; verbs: start, stop, force-stop, status, view, console, ssh, memstats, setmem`) {
		t.Errorf("unknown verb: %d %q", r.code, r.stderr)
	}
	r = h.run("vm", "box", "-f", h.cfg)
	if r.code != 2 || !strings.Contains(r.stderr, "missing verb") {
		t.Errorf("missing verb: %d %q", r.code, r.stderr)
	}
	r = h.run("vm")
	if r.code != 2 || !strings.Contains(r.stderr, "missing VM name") {
		t.Errorf("missing name: %d %q", r.code, r.stderr)
	}
	if len(h.fake.Changes()) != 0 {
		t.Errorf("changes: %v", h.fake.Changes())
	}
}

func TestVMVerbsFake(t *testing.T) {
	h := newVMHarness(t)
	// --connect anywhere overrides the config's connect.
	r := h.run("vm", "box", "status", "-f", h.cfg, "--connect", "test:///flag")
	if r.code != 0 || h.dialed[len(h.dialed)-1] != "test:///flag" {
		t.Fatalf("status: %d %q %v", r.code, r.stderr, h.dialed)
	}
	for _, want := range []string{"state:            running", "actual 1 GiB, current 256 MiB, max 256 MiB", "vcpus:            2 (not pinned)", "display:          spice://127.0.0.1:5930"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	r = h.run("-f", h.cfg, "vm", "box", "status", "--output", "json")
	var st map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st["state"] != "running" || h.dialed[len(h.dialed)-1] != "test:///from-config" {
		t.Errorf("status json: %v %v %v", err, st, h.dialed)
	}

	// ssh: the user from sshUser, the forward (no agent), args after --.
	r = h.run("vm", "box", "ssh", "-f", h.cfg, "--", "-i", "key", "uname", "-r")
	if len(h.ran) == 0 {
		t.Fatalf("ssh ran nothing: %d %q", r.code, r.stderr)
	}
	got := strings.Join(h.ran[len(h.ran)-1], " ")
	if r.code != 0 || got != "/usr/bin/ssh -p 2222 -o HostKeyAlias=vm-box alice@127.0.0.1 -i key uname -r" {
		t.Errorf("ssh: %d %q %s", r.code, r.stderr, got)
	}
	h.runCode = 255
	r = h.run("vm", "box", "ssh", "--user", "bob", "-f", h.cfg)
	if r.code != 255 || !strings.Contains(strings.Join(h.ran[len(h.ran)-1], " "), "bob@127.0.0.1") {
		t.Errorf("ssh exit status passthrough / --user: %d %v", r.code, h.ran[len(h.ran)-1])
	}
	h.runCode = 0

	// view without any viewer installed: the message names the package.
	r = h.run("vm", "box", "view", "-f", h.cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "neither virt-viewer nor remote-viewer is installed (package virt-viewer); any spice client can connect to spice://127.0.0.1:5930") {
		t.Errorf("view: %d %q", r.code, r.stderr)
	}
	r = h.run("vm", "box", "console", "-f", h.cfg)
	if r.code != 0 || strings.Join(h.ran[len(h.ran)-1], " ") != "/usr/bin/virsh --connect test:///from-config console box" {
		t.Errorf("console: %d %v", r.code, h.ran[len(h.ran)-1])
	}

	r = h.run("vm", "box", "memstats", "-f", h.cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "actual") || !strings.Contains(r.stderr, "only QEMU's side is known") {
		t.Errorf("memstats: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = h.run("vm", "box", "setmem", "1G", "-f", h.cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "setmem refused, nothing changed: 1 GiB is above the maximum memory of vm box (256 MiB)") {
		t.Errorf("setmem above max: %d %q", r.code, r.stderr)
	}
	r = h.run("vm", "box", "setmem", "lots", "-f", h.cfg)
	if r.code != 2 {
		t.Errorf("setmem lots: %d %q", r.code, r.stderr)
	}
	if c := h.fake.Changes(); len(c) != 0 {
		t.Errorf("refused changes were made: %v", c)
	}
	r = h.run("vm", "box", "setmem", "128M", "-f", h.cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "256 MiB → 128 MiB") {
		t.Errorf("setmem: %d %q %q", r.code, r.stdout, r.stderr)
	}

	// The fake guest obeys ACPI at once.
	r = h.run("vm", "box", "stop", "-f", h.cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "powered off") {
		t.Errorf("stop: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = h.run("vm", "box", "stop", "-f", h.cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "not running") {
		t.Errorf("second stop: %d %q", r.code, r.stdout)
	}
	r = h.run("vm", "extra", "start", "-f", h.cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "started") {
		t.Errorf("start of a managed domain outside the config: %d %q %q", r.code, r.stdout, r.stderr)
	}
	want := []string{"SetMemory box (131072 KiB)", "ShutdownDomain box", "StartDomain extra"}
	var changes []string
	for _, c := range h.fake.Changes() {
		changes = append(changes, c.String())
	}
	if strings.Join(changes, "; ") != strings.Join(want, "; ") {
		t.Errorf("changes %v, want %v", changes, want)
	}
}

func TestListFake(t *testing.T) {
	h := newVMHarness(t)
	r := h.run("list", "-f", h.cfg, "--output", "json")
	var rows []listRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("%v: %s %s", err, r.stdout, r.stderr)
	}
	var got []string
	for _, row := range rows {
		got = append(got, fmt.Sprintf("%s:%s:%v:%v", row.Name, row.State, row.InConfig, row.Managed))
	}
	// handmade is neither in the config nor managed: not listed.
	want := "box:running:true:true extra:shutoff:false:true gone:disabled:true:false off:undefined:true:false"
	if strings.Join(got, " ") != want {
		t.Errorf("list rows %v\nwant %s", got, want)
	}
	r = h.run("list", "-f", h.cfg)
	if !strings.Contains(r.stdout, "NAME") || !strings.Contains(r.stdout, "not defined; run deskvm apply") || !strings.Contains(r.stdout, "not in the config; apply removes it") {
		t.Errorf("list text:\n%s", r.stdout)
	}
}

func TestInstallCommands(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(t.TempDir(), "deskvm")
	if err := os.WriteFile(self, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	write := func(s string) {
		if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) result {
		var out, errb bytes.Buffer
		g := &globalOptions{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, configFile: cfg}
		o := &installCommandsOptions{dir: dir, executable: func() (string, error) { return self, nil }}
		for _, a := range args {
			if a == "--dry-run" {
				o.dryRun = true
			}
		}
		err := runInstallCommands(g, o)
		code := 0
		var ee *ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		} else if err != nil {
			code = 1
		}
		return result{code, out.String(), errb.String()}
	}
	links := func() string {
		es, _ := os.ReadDir(dir)
		var out []string
		for _, e := range es {
			target, _ := os.Readlink(filepath.Join(dir, e.Name()))
			out = append(out, e.Name()+"->"+filepath.Base(target))
		}
		return strings.Join(out, " ")
	}
	// Someone else's files and links named vm-* stay untouched.
	os.WriteFile(filepath.Join(dir, "vm-mine"), []byte("x"), 0o755)
	os.Symlink("/usr/bin/true", filepath.Join(dir, "vm-other"))
	os.Symlink("/old/store/bin/deskvm", filepath.Join(dir, "vm-a"))

	write("vms:\n  a: {}\n  b: {}\n  c: {enable: false}\n")
	if r := run("--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "would update") || links() != "vm-a->deskvm vm-mine->. vm-other->true" {
		t.Fatalf("dry run: %d %q %q %s", r.code, r.stdout, r.stderr, links())
	}
	if r := run(); r.code != 0 || links() != "vm-a->deskvm vm-b->deskvm vm-mine->. vm-other->true" {
		t.Fatalf("install: %d %q %q %s", r.code, r.stdout, r.stderr, links())
	}
	if target, _ := os.Readlink(filepath.Join(dir, "vm-a")); target != self {
		t.Errorf("vm-a points to %s, want %s", target, self)
	}
	if r := run(); r.code != 0 || r.stdout != "" {
		t.Errorf("second install changed something: %q", r.stdout)
	}
	// b leaves, other appears in the config: vm-b goes, vm-other is not ours.
	write("vms:\n  a: {}\n  other: {}\n")
	r := run()
	if r.code != 1 || !strings.Contains(r.stderr, "vm-other exists and is not a link to deskvm; left alone") || !strings.Contains(r.stdout, "remove") {
		t.Errorf("stale removal: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if links() != "vm-a->deskvm vm-mine->. vm-other->true" {
		t.Errorf("links after removal: %s", links())
	}
	// A bad config changes nothing.
	write("vms:\n  a: {memory: 12Q}\n")
	if r := run(); r.code != 1 || links() != "vm-a->deskvm vm-mine->. vm-other->true" {
		t.Errorf("bad config: %d %q", r.code, r.stderr)
	}
}

func TestCompletion(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("vms:\n  box: {}\n  web: {}\n  old: {enable: false}\n"), 0o644)
	for shell, want := range map[string]string{
		"bash": "complete -o default -F __start_deskvm deskvm vm-box vm-web\n",
		"zsh":  "compdef _deskvm deskvm vm-box vm-web\n",
		"fish": "complete -c vm-web -n 'not __deskvm_requires_order_preservation",
	} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), []string{"deskvm", "completion", shell, "-f", cfg}, strings.NewReader(""), &out, &errb)
		if code != 0 || !strings.Contains(out.String(), want) || strings.Contains(out.String(), "vm-old") {
			t.Errorf("completion %s: exit %d, %q missing (stderr %q)", shell, code, want, errb.String())
		}
	}
	complete := func(argv ...string) string {
		var out bytes.Buffer
		Main(context.Background(), argv, strings.NewReader(""), &out, &bytes.Buffer{})
		return out.String()
	}
	if got := complete("deskvm", "__complete", "vm", "-f", cfg, ""); !strings.Contains(got, "box\nweb\n") || strings.Contains(got, "old") {
		t.Errorf("VM names:\n%s", got)
	}
	if got := complete("deskvm", "__complete", "vm", "box", "s"); !strings.Contains(got, "start\tStart the VM") || !strings.Contains(got, "ssh\t") || strings.Contains(got, "view") {
		t.Errorf("verbs:\n%s", got)
	}
	if got := complete("vm-box", "__complete", "stop", "--t"); !strings.Contains(got, "--timeout") {
		t.Errorf("verb flags through vm-NAME:\n%s", got)
	}
}

// The verbs and list load the config as plan does (loadCheckedConfig):
// file and validation problems come out as FILE:LINE:COL lines, nothing
// connects to libvirt, and --connect reaches the config.
func TestVMAndListBadConfig(t *testing.T) {
	h := newVMHarness(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("vms:\n  box:\n    colour: blue\n    memory: 16Q\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"vm", "box", "status", "-f", bad}, {"list", "-f", bad}} {
		r := h.run(args...)
		want := []string{bad + `:3:5: error: vms.box.colour: unknown field "colour"`, bad + ":4:13: error: vms.box.memory:", bad + ": 2 errors; fix the config first"}
		for _, w := range want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, w, r.stderr)
			}
		}
		if r.code != 1 || len(h.dialed) != 0 {
			t.Errorf("%v: exit %d, dialed %v; want 1 and no connection", args, r.code, h.dialed)
		}
	}
	r := h.run("list", "-f", h.cfg, "--connect", "test:///flag")
	if r.code != 0 || len(h.dialed) != 1 || h.dialed[0] != "test:///flag" {
		t.Errorf("list --connect: exit %d, dialed %v, stderr %s", r.code, h.dialed, r.stderr)
	}
}
