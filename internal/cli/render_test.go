package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/domainxml"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/session"
)

// twoCPUs is a small machine that is not the VM host.
func twoCPUs(context.Context) (*hostfacts.Facts, error) {
	return &hostfacts.Facts{CPUs: []hostfacts.CPU{
		{ID: 0, Core: 0, Siblings: []int{0}},
		{ID: 1, Core: 1, Siblings: []int{1}},
	}}, nil
}

func runRenderCmd(t *testing.T, probe session.ProbeFunc, file string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	g := &globalOptions{configFile: file, stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	cmd := newRenderCmdWith(g, probe)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	var ee *ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.Code
		if ee.Err != nil {
			errb.WriteString(ee.Err.Error())
		}
	default:
		code = 1
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const pinnedConfig = `accelerator: tcg
vms:
  big:
    memory: 8G
    vcpus: 8
    display: vnc
    graphics:
      passwordFile: PWFILE
    cpuPinning: ["0", "1", "2", "3", "4", "5", "6", "7"]
`

// A config pinning CPUs 0-7 renders on a 2-CPU machine: render is pure,
// host checks are not its business.
func TestRenderOnSmallerHost(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("hunter2\n"), 0o600)
	file := writeConfig(t, strings.Replace(pinnedConfig, "PWFILE", pw, 1))
	out, stderr, code := runRenderCmd(t, twoCPUs, file, "big")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, `<vcpupin vcpu="7" cpuset="7"></vcpupin>`) {
		t.Errorf("pinning of vCPU 7 missing:\n%s", out)
	}
	if strings.Contains(out, "hunter2") {
		t.Error("password printed without --secrets")
	}
	// Exactly what the renderer gives for the same inputs.
	cfg, _, err := config.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	config.FillDefaults(cfg)
	f, _ := twoCPUs(context.Background())
	want, err := domainxml.RenderXML(cfg, "big", f)
	if err != nil {
		t.Fatal(err)
	}
	if out != want {
		t.Errorf("render output differs from domainxml.RenderXML")
	}

	out, _, code = runRenderCmd(t, twoCPUs, file, "big", "--secrets")
	if code != 0 || !strings.Contains(out, `passwd="hunter2"`) {
		t.Errorf("--secrets: exit %d, password missing", code)
	}
}

func TestRenderWithoutHostFacts(t *testing.T) {
	file := writeConfig(t, "vms:\n  w:\n    osType: windows\n    secureBoot: true\n")
	failing := func(context.Context) (*hostfacts.Facts, error) { return nil, errors.New("no sysfs") }
	out, stderr, code := runRenderCmd(t, failing, file, "w")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "without host facts") || !strings.Contains(out, `firmware="efi"`) {
		t.Errorf("stderr %q; want a warning and libvirt-chosen firmware in:\n%s", stderr, out)
	}
}

func TestRenderRejectsInvalidConfig(t *testing.T) {
	file := writeConfig(t, "vms:\n  a:\n    memory: 16Q\n    vcpus: 2\n")
	out, stderr, code := runRenderCmd(t, twoCPUs, file, "a")
	if code == 0 || out != "" {
		t.Fatalf("exit %d, stdout %q; want failure and no XML", code, out)
	}
	if !strings.Contains(stderr, "config.yaml:3:") || !strings.Contains(stderr, "16Q") {
		t.Errorf("stderr lacks file:line and the bad value: %s", stderr)
	}
}

func TestRenderUnknownVM(t *testing.T) {
	file := writeConfig(t, "vms:\n  a: {}\n  b: {}\n")
	_, stderr, code := runRenderCmd(t, twoCPUs, file, "c")
	if code != 1 || !strings.Contains(stderr, `no VM "c"`) || !strings.Contains(stderr, "a, b") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// The examples render through the real command line (Main), as make demo does.
func TestRenderExamplesViaMain(t *testing.T) {
	for _, tc := range []struct{ file, vm string }{
		{"../../examples/demo.yaml", "demo"},
		{"../../examples/desktop.yaml", "my-vm"},
		{"../../examples/desktop.yaml", "my-windows-vm"},
	} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), []string{"deskvm", "render", tc.vm, "-f", tc.file}, strings.NewReader(""), &out, &errb)
		if code != 0 {
			t.Errorf("render %s: exit %d: %s", tc.vm, code, errb.String())
			continue
		}
		if md, ok, err := domainxml.ParseMetadata(out.String()); err != nil || !ok || md.ConfigHash == "" {
			t.Errorf("render %s: no deskvm metadata (%v)", tc.vm, err)
		}
	}
}
