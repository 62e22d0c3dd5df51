package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/session"
)

// runDeskvm runs deskvm in-process and returns exit status, stdout, stderr.
func cfgRun(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"deskvm"}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func cfgWriteFile(t *testing.T, name, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The bad configs of issue 2 each make `config validate` exit non-zero
// with file:line:col and the field path.
func TestConfigValidateBadConfigs(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown key", "vms:\n  w:\n    colour: blue\n", `:3:5: error: vms.w.colour: unknown field "colour"`},
		{"misspelt key", "vms:\n  w:\n    memballoon:\n      statsIntervall: 5\n", `:4:7: error: vms.w.memballoon.statsIntervall: unknown field "statsIntervall"; did you mean "statsInterval"?`},
		{"bad size", "vms:\n  w:\n    memory: 16Q\n", `:3:13: error: vms.w.memory: invalid size "16Q"`},
		{"bad cpuset", "vms:\n  w:\n    vcpus: 1\n    cpuPinning: [\"1-0\"]\n", `:4:18: error: vms.w.cpuPinning[0]: invalid CPU set "1-0"`},
		{"duplicate VM names", "vms:\n  w: {}\n  w: {}\n", `:3:3: error: vms.w: duplicate VM name "w" (first at line 2:3)`},
		{"VM name with a space", "vms:\n  my vm: {}\n", `:2:3: error: vms.my vm: VM name "my vm" is not usable`},
		{"VM name with a slash", "vms:\n  a/b: {}\n", `:2:3: error: vms.a/b: VM name "a/b" is not usable`},
		{"secureBoot with macos", "vms:\n  m: {osType: macos, secureBoot: true}\n", `:2:34: error: vms.m.secureBoot: secure boot cannot be used with osType macos`},
		{"malformed extraDevices", "vms:\n  w:\n    extraDevices: \"<hostdev>\"\n", `:3:19: error: vms.w.extraDevices: line 1: malformed XML`},
		{"profile sometimes", "profile: sometimes\n", `:1:10: error: profile: profile "sometimes" is not one of occasional, always-on`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cfgWriteFile(t, "config.yaml", tt.doc)
			code, out, errOut := cfgRunValidate(t, cfgFakeProbe(cfgTwoCPUs, nil), "-f", p)
			if code != 1 {
				t.Errorf("exit %d, want 1; stdout %q", code, out)
			}
			if !strings.Contains(errOut, p+tt.want) {
				t.Errorf("stderr lacks %q:\n%s", p+tt.want, errOut)
			}
		})
	}
}

// Several bad fields in one file are all reported in one run.
func TestConfigValidateReportsAllProblems(t *testing.T) {
	p := cfgWriteFile(t, "config.yaml", "profile: sometimes\nvms:\n  w:\n    memroy: 1G\n    memory: 16Q\n    osType: macos\n    secureBoot: true\n  \"x y\": {}\n  w: {}\n")
	code, _, errOut := cfgRun(t, "", "config", "validate", "-f", p)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		p + ":1:10: error: profile:",
		p + ":4:5: error: vms.w.memroy:",
		p + ":5:13: error: vms.w.memory:",
		p + ":7:17: error: vms.w.secureBoot:",
		p + ":8:3: error: vms.x y:",
		p + ":9:3: error: vms.w: duplicate VM name",
		p + ": 6 errors",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(errOut)
	}
	// In file order.
	if strings.Index(errOut, ":1:10:") > strings.Index(errOut, ":9:3:") {
		t.Errorf("problems not in file order:\n%s", errOut)
	}
}

func TestConfigValidateExamples(t *testing.T) {
	for _, f := range []string{"../../examples/desktop.yaml"} {
		code, out, errOut := cfgRun(t, "", "config", "validate", "-f", f)
		if code != 0 || !strings.HasPrefix(out, "config OK: 2 VMs") {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s", f, code, out, errOut)
		}
		if strings.Contains(errOut, "error:") {
			t.Errorf("%s: errors:\n%s", f, errOut)
		}
	}
}

// -f and --connect work anywhere on the line.
func TestConfigFlagsAnywhere(t *testing.T) {
	p := cfgWriteFile(t, "c.yaml", "accelerator: tcg\nvms:\n  a: {}\n")
	for _, args := range [][]string{
		{"-f", p, "config", "defaults", "--connect", "test:///default"},
		{"config", "-f", p, "--connect", "test:///default", "defaults"},
		{"--connect", "test:///default", "config", "defaults", "-f", p},
	} {
		code, out, errOut := cfgRun(t, "", args...)
		if code != 0 || !strings.Contains(out, "connect: test:///default") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// cfgTwoCPUs is a host like the test machine: two CPUs, no KVM.
var cfgTwoCPUs = &hostfacts.Facts{CPUs: []hostfacts.CPU{{ID: 0}, {ID: 1, Core: 1}}, Firmware: hostfacts.Firmware{Code: "c", Vars: "v"}}

func cfgFakeProbe(f *hostfacts.Facts, err error) session.ProbeFunc {
	return func(context.Context) (*hostfacts.Facts, error) { return f, err }
}

// runValidate runs config validate with a fake host.
func cfgRunValidate(t *testing.T, probe session.ProbeFunc, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	g := &globalOptions{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	root := &cobra.Command{Use: "deskvm", SilenceErrors: true, SilenceUsage: true}
	root.PersistentFlags().StringVarP(&g.configFile, "file", "f", "", "")
	root.AddCommand(newConfigValidateCmd(g, probe))
	root.SetArgs(append([]string{"validate"}, args...))
	err := root.ExecuteContext(context.Background())
	var ee *ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.Code, out.String(), errb.String()
	}
	t.Fatalf("validate: %v", err)
	return 0, "", ""
}

// Pinning CPUs 0-7 validates on a 2-CPU machine (validation is pure);
// --host turns the host's objection into an error.
func TestConfigValidatePinningBeyondHost(t *testing.T) {
	p := cfgWriteFile(t, "c.yaml", "accelerator: tcg\nvms:\n  a:\n    vcpus: 8\n    cpuPinning: [\"0-7\"]\n")
	twoCPUs := cfgTwoCPUs

	code, out, errOut := cfgRunValidate(t, cfgFakeProbe(twoCPUs, nil), "-f", p)
	if code != 0 || !strings.Contains(out, "config OK: 1 VM, 2 warnings") {
		t.Errorf("pure: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, p+":5:18: warning: vms.a.cpuPinning[0]: host CPUs 2-7 do not exist; this host has CPUs 0-1") {
		t.Errorf("no host warning:\n%s", errOut)
	}

	code, _, errOut = cfgRunValidate(t, cfgFakeProbe(twoCPUs, nil), "-f", p, "--host")
	if code != 1 || !strings.Contains(errOut, p+":5:18: error: vms.a.cpuPinning[0]: host CPUs 2-7 do not exist") {
		t.Errorf("--host: exit %d, stderr:\n%s", code, errOut)
	}

	// A failing probe is a warning without --host and an error with it.
	code, _, errOut = cfgRunValidate(t, cfgFakeProbe(nil, errors.New("no sysfs")), "-f", p)
	if code != 0 || !strings.Contains(errOut, "warning: host checks skipped: probe host: no sysfs") {
		t.Errorf("probe failure: exit %d, stderr:\n%s", code, errOut)
	}
	code, _, _ = cfgRunValidate(t, cfgFakeProbe(nil, errors.New("no sysfs")), "-f", p, "--host")
	if code != 1 {
		t.Errorf("probe failure with --host: exit %d, want 1", code)
	}
}

// The same with the real probe of this machine: no CPU 8191 exists on any
// host this runs on.
func TestConfigValidateHostRealProbe(t *testing.T) {
	p := cfgWriteFile(t, "c.yaml", "accelerator: tcg\nvms:\n  a:\n    vcpus: 1\n    cpuPinning: [\"8191\"]\n")
	code, out, errOut := cfgRun(t, "", "config", "validate", "-f", p)
	if code != 0 || !strings.Contains(errOut, "warning: vms.a.cpuPinning[0]: host CPUs 8191 do not exist") {
		t.Errorf("pure: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	code, _, errOut = cfgRun(t, "", "config", "validate", "--host", "-f", p)
	if code != 1 || !strings.Contains(errOut, "error: vms.a.cpuPinning[0]: host CPUs 8191 do not exist") {
		t.Errorf("--host: exit %d, stderr:\n%s", code, errOut)
	}
}

func TestConfigDefaults(t *testing.T) {
	p := cfgWriteFile(t, "c.yaml", "profile: always-on\nvms:\n  win: {memory: 16G, osType: windows}\n")
	code, out, errOut := cfgRun(t, "", "config", "defaults", "-f", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"profile: always-on", "count: 8192", "autoStart: true", "autodeflate: false", "freePageReporting: false", "currentMemory: 16G", "uuid: " + config.UUIDFor("win")} {
		if !strings.Contains(out, want) {
			t.Errorf("defaults lack %q:\n%s", want, out)
		}
	}
	// The output is itself a valid config.
	back := cfgWriteFile(t, "back.yaml", out)
	if code, _, errOut := cfgRun(t, "", "config", "validate", "-f", back); code != 0 {
		t.Errorf("defaults output does not validate: %s", errOut)
	}

	code, out, errOut = cfgRun(t, "", "config", "defaults", "-f", p, "--output", "json")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["profile"] != "always-on" {
		t.Errorf("json: exit %d, %q, %s", code, out, errOut)
	}
	if code, _, errOut := cfgRun(t, "", "config", "defaults", "-f", p, "-o", "toml"); code == 0 || !strings.Contains(errOut, `--output "toml": want yaml or json`) {
		t.Errorf("bad --output: exit %d, %s", code, errOut)
	}
	bad := cfgWriteFile(t, "bad.yaml", "vms:\n  w: {memory: 16Q}\n")
	if code, out, errOut := cfgRun(t, "", "config", "defaults", "-f", bad); code != 1 || out != "" || !strings.Contains(errOut, `vms.w.memory: invalid size "16Q"`) {
		t.Errorf("invalid config: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestConfigFromStdinAndJSON(t *testing.T) {
	code, out, errOut := cfgRun(t, `{"accelerator": "tcg", "vms": {"a": {"memory": "2G"}}}`, "config", "validate", "-f", "-")
	if code != 0 || !strings.Contains(out, "config OK: 1 VM") {
		t.Errorf("stdin: exit %d, %q, %s", code, out, errOut)
	}
	code, _, errOut = cfgRun(t, `{"vms": {"a": {"memory": 2}}}`, "config", "validate", "-f", "-")
	if code != 1 || !strings.Contains(errOut, "<stdin>:1:26: error: vms.a.memory: expected a string") {
		t.Errorf("stdin json: exit %d, %s", code, errOut)
	}
}

func TestConfigMissingFile(t *testing.T) {
	code, _, errOut := cfgRun(t, "", "config", "validate", "-f", filepath.Join(t.TempDir(), "nope.yaml"))
	if code != 1 || !strings.Contains(errOut, "read config") {
		t.Errorf("exit %d, %s", code, errOut)
	}
}

func TestConfigDefaultPath(t *testing.T) {
	dir := t.TempDir()
	old := DefaultConfigPaths
	t.Cleanup(func() { DefaultConfigPaths = old })
	DefaultConfigPaths = []string{filepath.Join(dir, "config.yaml"), filepath.Join(dir, "config.json")}
	if code, _, errOut := cfgRun(t, "", "config", "validate"); code != 1 || !strings.Contains(errOut, "no config file: none of") {
		t.Errorf("no file: exit %d, %s", code, errOut)
	}
	if err := os.WriteFile(DefaultConfigPaths[1], []byte(`{"accelerator": "tcg", "vms": {"j": {}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := cfgRun(t, "", "config", "validate"); code != 0 || !strings.Contains(out, "config OK: 1 VM") {
		t.Errorf("config.json: exit %d, %q, %s", code, out, errOut)
	}
	if err := os.WriteFile(DefaultConfigPaths[0], []byte("profile: sometimes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cfgRun(t, "", "config", "validate"); code != 1 || !strings.Contains(errOut, DefaultConfigPaths[0]+":1:10:") {
		t.Errorf("config.yaml first: exit %d, %s", code, errOut)
	}
}

func TestConfigSchemaMatchesDocs(t *testing.T) {
	code, out, _ := cfgRun(t, "", "config", "schema")
	want, err := os.ReadFile("../../docs/config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || out != string(want) {
		t.Errorf("config schema differs from docs/config.schema.json (run make generate)")
	}
}
