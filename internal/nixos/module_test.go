package nixos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/cli"
	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/testutil"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// evalModule evaluates attr of nix/tests/eval.nix for a NixOS
// configuration module (a file) and decodes the JSON into out.
func evalModule(t *testing.T, configuration, attr string, out any) error {
	t.Helper()
	testutil.RequiresNix(t)
	lib := testutil.NixpkgsLib(t)
	root := repoRoot(t)
	cmd := testutil.NixCommand(t, "nix-instantiate", "--eval", "--strict", "--json",
		filepath.Join(root, "nix", "tests", "eval.nix"),
		"--arg", "lib", "import "+lib, "--arg", "configuration", configuration, "-A", attr)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nix-instantiate -A %s: %v: %s", attr, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("decode %s: %w: %s", attr, err, stdout.String())
	}
	return nil
}

func mustEval(t *testing.T, configuration, attr string, out any) {
	t.Helper()
	if err := evalModule(t, configuration, attr, out); err != nil {
		t.Fatal(err)
	}
}

// writeModule writes a NixOS configuration module to a temp file.
func writeModule(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "configuration.nix")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// deskvm runs the CLI in-process.
func deskvm(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = cli.Main(context.Background(), append([]string{"deskvm"}, args...), strings.NewReader(""), &o, &e)
	return o.String(), e.String(), code
}

// TestNixParse parses every .nix file of the repository.
func TestNixParse(t *testing.T) {
	testutil.RequiresNix(t)
	root := repoRoot(t)
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "vendor" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".nix") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"flake.nix", "nix/module.nix", "nix/options.nix", "nix/images.nix", "nix/tests/eval.nix", "examples/seed-full.nix"} {
		if !contains(files, filepath.Join(root, want)) {
			t.Errorf("%s is missing", want)
		}
	}
	for _, f := range files {
		out, err := testutil.NixCommand(t, "nix-instantiate", "--parse", f).CombinedOutput()
		if err != nil {
			t.Errorf("nix-instantiate --parse %s: %v\n%s", f, err, out)
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

type nixOptionInfo struct {
	HasDefault bool            `json:"hasDefault"`
	Nullable   bool            `json:"nullable"`
	Type       string          `json:"type"`
	Default    json.RawMessage `json:"default"`
	Enum       []string        `json:"enum"`
	Desc       string          `json:"description"`
}

// TestNixOptionsMatchSchema: every option of the Go schema is declared in
// Nix with the same default, enum and description, and there are no
// others beyond the module's package. The top-level enable is the
// module's switch and defaults to false (importing a module must not
// change a system); everything under it keeps Go's meaning.
func TestNixOptionsMatchSchema(t *testing.T) {
	quick := writeModule(t, `{ ... }: { }`)
	var paths []string
	mustEval(t, quick, "options", &paths)
	var info map[string]nixOptionInfo
	mustEval(t, quick, "optionInfo", &info)
	opts, err := config.Options()
	if err != nil {
		t.Fatal(err)
	}
	var goPaths []string
	for _, o := range opts {
		goPaths = append(goPaths, o.Path)
	}
	var nixPaths []string
	for _, p := range paths {
		if p != "package" {
			nixPaths = append(nixPaths, p)
		}
	}
	sort.Strings(goPaths)
	sort.Strings(nixPaths)
	if !reflect.DeepEqual(goPaths, nixPaths) {
		t.Fatalf("option paths differ:\nGo:  %v\nNix: %v", goPaths, nixPaths)
	}
	for _, o := range opts {
		n := info[o.Path]
		if o.Path == "enable" {
			if string(n.Default) != "false" || n.Nullable {
				t.Errorf("enable: the module switch must default to false, got %s", n.Default)
			}
			continue
		}
		if o.Description != "" && n.Desc != o.Description {
			t.Errorf("%s: description differs:\nGo:  %q\nNix: %q", o.Path, o.Description, n.Desc)
		}
		if !reflect.DeepEqual(o.Enum, n.Enum) && (len(o.Enum) > 0 || len(n.Enum) > 0) {
			t.Errorf("%s: enum Go %v, Nix %v", o.Path, o.Enum, n.Enum)
		}
		switch {
		case o.Type == "object" || o.Type == "map" || (o.Items != nil && o.Items.Type == "object"):
			// groups: nothing of their own to compare
		case o.Required:
			if n.HasDefault {
				t.Errorf("%s: required in Go, has a default in Nix", o.Path)
			}
		case o.Default.Kind == config.FixedDefault:
			want, _ := json.Marshal(o.Default.Value)
			if n.Nullable || string(n.Default) != string(want) {
				t.Errorf("%s: default Go %s, Nix %s (nullable %v)", o.Path, want, n.Default, n.Nullable)
			}
		default:
			// Profile-dependent, derived or none: null, so Go decides.
			if !n.Nullable || string(n.Default) != "null" {
				t.Errorf("%s: Go's default is %v: Nix must default to null, got %s", o.Path, o.Default.Kind, n.Default)
			}
		}
	}
}

// examplePair is one config as a NixOS module and as a deskvm YAML file.
type examplePair struct {
	name      string
	nixModule string // path of a configuration module
	yaml      string
}

// examplePairs are the seed's examples (.nix with their YAML twins) and
// every other example config, turned into a module that sets
// virtualisation.desktopVMs from the YAML's options.
func examplePairs(t *testing.T) []examplePair {
	root := repoRoot(t)
	pairs := []examplePair{
		{"seed-quickstart", filepath.Join(root, "examples", "seed-quickstart.nix"), filepath.Join(root, "examples", "seed-quickstart.yaml")},
		{"seed-full", filepath.Join(root, "examples", "seed-full.nix"), filepath.Join(root, "examples", "seed-full.yaml")},
	}
	yamls, _ := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	for _, y := range yamls {
		base := strings.TrimSuffix(filepath.Base(y), ".yaml")
		if _, err := os.Stat(strings.TrimSuffix(y, ".yaml") + ".nix"); err == nil {
			continue // has its own .nix twin above
		}
		cfg, _, err := config.LoadFile(y)
		if err != nil {
			t.Fatalf("load %s: %v", y, err)
		}
		js, err := cfg.MarshalIndentJSON()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "options.json"), js, 0o644); err != nil {
			t.Fatal(err)
		}
		mod := filepath.Join(dir, "configuration.nix")
		text := "{ ... }: { virtualisation.desktopVMs = builtins.fromJSON (builtins.readFile ./options.json) // { enable = true; }; }\n"
		if err := os.WriteFile(mod, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, examplePair{base, mod, y})
	}
	return pairs
}

// TestNixExamplesRenderLikeYAML evaluates each example as a NixOS module,
// checks its config.json with deskvm config validate, and renders every
// VM from the JSON and from the YAML: the XML must be byte-identical.
func TestNixExamplesRenderLikeYAML(t *testing.T) {
	if testing.Short() {
		t.Skip("renders every example VM twice with host facts (about a minute)")
	}
	for _, ex := range examplePairs(t) {
		t.Run(ex.name, func(t *testing.T) {
			var js string
			mustEval(t, ex.nixModule, "configJSON", &js)
			jsonPath := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(jsonPath, []byte(js), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, errOut, code := deskvm("config", "validate", "-f", jsonPath); code != 0 {
				t.Fatalf("config validate of the module's JSON: exit %d\n%s%s\n%s", code, out, errOut, js)
			}
			cfg, _, err := config.LoadFile(ex.yaml)
			if err != nil {
				t.Fatal(err)
			}
			names := cfg.VMNames()
			if len(names) == 0 {
				t.Fatalf("%s has no VMs", ex.yaml)
			}
			for _, vm := range names {
				fromJSON, errJ, codeJ := deskvm("render", vm, "-f", jsonPath)
				fromYAML, errY, codeY := deskvm("render", vm, "-f", ex.yaml)
				if codeJ != 0 || codeY != 0 {
					t.Fatalf("render %s: JSON exit %d (%s), YAML exit %d (%s)", vm, codeJ, errJ, codeY, errY)
				}
				if !strings.Contains(fromJSON, "<domain") {
					t.Fatalf("render %s: no domain XML: %q", vm, fromJSON)
				}
				if fromJSON != fromYAML {
					t.Errorf("VM %s renders differently from the module's JSON and from %s:\nJSON:\n%s\nYAML:\n%s", vm, ex.yaml, fromJSON, fromYAML)
				}
			}
		})
	}
}

// TestNixWrongTypesFail: a wrong type or an unknown option fails the
// evaluation with a message that names the option.
func TestNixWrongTypesFail(t *testing.T) {
	for _, tc := range []struct{ name, vm, want string }{
		{"memory as a number", `memory = 16;`, "virtualisation.desktopVMs.vms.bad.memory"},
		{"display not in the enum", `display = "rdp";`, "virtualisation.desktopVMs.vms.bad.display"},
		{"unknown option", `memroy = "16G";`, "virtualisation.desktopVMs.vms.bad.memroy"},
		{"size without a unit", `memory = "16";`, "virtualisation.desktopVMs.vms.bad.memory"},
		{"vcpus zero", `vcpus = 0;`, "virtualisation.desktopVMs.vms.bad.vcpus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := writeModule(t, fmt.Sprintf("{ ... }: { virtualisation.desktopVMs = { enable = true; vms.bad = { %s }; }; }", tc.vm))
			var js string
			err := evalModule(t, mod, "configJSON", &js)
			if err == nil {
				t.Fatalf("evaluation succeeded: %s", js)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not name %s:\n%v", tc.want, err)
			}
		})
	}
}

// TestNixAssertionsAgreeWithValidator: what the module's assertions catch
// early, deskvm's validator rejects too, at the same option.
func TestNixAssertionsAgreeWithValidator(t *testing.T) {
	for _, tc := range []struct{ name, vms, path string }{
		{"more CPU sets than vCPUs", `a = { vcpus = 2; cpuPinning = [ "0" "1" "2" ]; };`, "vms.a.cpuPinning"},
		{"secure boot on macOS", `a = { osType = "macos"; secureBoot = true; };`, "vms.a.secureBoot"},
		{"secure boot with BIOS", `a = { firmware = "bios"; secureBoot = true; };`, "vms.a.secureBoot"},
		{"port forwards without user networking", `a = { portForwards = [ { host = 2222; guest = 22; } ]; };`, "vms.a.portForwards"},
		{"VM name with a space", `"my vm" = { };`, "vms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := writeModule(t, fmt.Sprintf("{ ... }: { virtualisation.desktopVMs = { enable = true; vms = { %s }; }; }", tc.vms))
			var failed []string
			mustEval(t, mod, "assertions", &failed)
			if len(failed) != 1 || !strings.HasPrefix(failed[0], "virtualisation.desktopVMs."+tc.path) {
				t.Fatalf("want one failing assertion at %s, got %q", tc.path, failed)
			}
			var js string
			mustEval(t, mod, "configJSON", &js)
			p := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
				t.Fatal(err)
			}
			_, errOut, code := deskvm("config", "validate", "-f", p)
			if code == 0 || !strings.Contains(errOut, "error: "+tc.path) {
				t.Fatalf("deskvm config validate: exit %d, want an error at %s:\n%s", code, tc.path, errOut)
			}
		})
	}
	ok := writeModule(t, `{ ... }: { virtualisation.desktopVMs = { enable = true; vms.a = { vcpus = 4; cpuPinning = [ "0" "1" ]; secureBoot = true; }; }; }`)
	var failed []string
	mustEval(t, ok, "assertions", &failed)
	if len(failed) != 0 {
		t.Fatalf("a valid config fails assertions: %q", failed)
	}
}

// TestNixHugepageKernelParams: boot-time hugepages are asked for exactly
// when deskvm would reserve them, with deskvm's page count.
func TestNixHugepageKernelParams(t *testing.T) {
	for _, tc := range []struct{ name, cfg string }{
		{"always-on computes the count", `profile = "always-on"; vms.a.memory = "3G"; vms.b.memory = "1001M"; vms.off = { enable = false; memory = "8G"; };`},
		{"1G pages round up per VM", `profile = "always-on"; hugepages.size = "1G"; vms.a.memory = "1500M"; vms.b = { };`},
		{"explicit count", `hugepages = { enable = true; count = 100; }; vms.a = { };`},
		{"occasional: none", `vms.a.memory = "3G";`},
		{"on demand: none", `profile = "always-on"; hugepages.onDemand = true; vms.a = { };`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := writeModule(t, "{ ... }: { virtualisation.desktopVMs = { enable = true; "+tc.cfg+" }; }")
			var params []string
			mustEval(t, mod, "kernelParams", &params)
			var js string
			mustEval(t, mod, "configJSON", &js)
			cfg, _, err := config.Load("config.json", []byte(js))
			if err != nil {
				t.Fatal(err)
			}
			config.FillDefaults(cfg)
			var want []string
			if cfg.UsesHugepages() && !*cfg.Hugepages.OnDemand {
				want = []string{"hugepagesz=" + cfg.Hugepages.Size.String(), "hugepages=" + strconv.Itoa(cfg.HugepageCount())}
			}
			if !reflect.DeepEqual(params, want) && (len(params) > 0 || len(want) > 0) {
				t.Fatalf("kernel params %q, deskvm wants %q", params, want)
			}
		})
	}
}

// TestNixModuleWiring: what the module turns on and the unit that runs
// deskvm apply.
func TestNixModuleWiring(t *testing.T) {
	mod := filepath.Join(repoRoot(t), "examples", "seed-quickstart.nix")
	var lv struct {
		Libvirtd struct {
			Enable bool `json:"enable"`
			Qemu   struct {
				Swtpm struct {
					Enable bool `json:"enable"`
				} `json:"swtpm"`
				VhostUserPackages []string `json:"vhostUserPackages"`
			} `json:"qemu"`
		} `json:"libvirtd"`
	}
	mustEval(t, mod, "virtualisation", &lv)
	if !lv.Libvirtd.Enable || !lv.Libvirtd.Qemu.Swtpm.Enable || len(lv.Libvirtd.Qemu.VhostUserPackages) != 1 || !strings.HasSuffix(lv.Libvirtd.Qemu.VhostUserPackages[0], "-virtiofsd") {
		t.Errorf("libvirtd settings: %+v", lv)
	}
	var units map[string]struct {
		After           []string          `json:"after"`
		Requires        []string          `json:"requires"`
		WantedBy        []string          `json:"wantedBy"`
		RestartTriggers []string          `json:"restartTriggers"`
		ServiceConfig   map[string]any    `json:"serviceConfig"`
		Environment     map[string]string `json:"environment"`
	}
	mustEval(t, mod, "units", &units)
	u, ok := units["deskvm-apply"]
	if !ok {
		t.Fatalf("no deskvm-apply unit: %v", units)
	}
	if !contains(u.After, "libvirtd.service") || !contains(u.Requires, "libvirtd.service") || !contains(u.WantedBy, "multi-user.target") {
		t.Errorf("deskvm-apply ordering: %+v", u)
	}
	if len(u.RestartTriggers) != 1 || !strings.HasSuffix(u.RestartTriggers[0], "-deskvm-config.json") {
		t.Errorf("deskvm-apply is not restarted by a config change: %v", u.RestartTriggers)
	}
	if es, _ := u.ServiceConfig["ExecStart"].(string); !strings.HasSuffix(es, "/bin/deskvm apply -f /etc/deskvm/config.json") {
		t.Errorf("ExecStart %q", es)
	}
	var checks []string
	mustEval(t, mod, "checks", &checks)
	if !reflect.DeepEqual(checks, []string{"deskvm-config-check"}) {
		t.Errorf("system.checks %v", checks)
	}
	var vmCommands string
	mustEval(t, mod, "vmCommands", &vmCommands)
	if !strings.Contains(vmCommands, "/bin/deskvm $out/bin/vm-my-windows-vm") {
		t.Errorf("vm-NAME links: %s", vmCommands)
	}
	var tmpfiles []string
	mustEval(t, mod, "tmpfiles", &tmpfiles)
	if !contains(tmpfiles, "L+ /run/libvirt/nix-ovmf/OVMF_VARS.ms.fd - - - - /nix/store/00000000000000000000000000000000-OVMF-fd/FV/OVMF_VARS.ms.fd") {
		t.Errorf("no OVMF with Microsoft keys where deskvm looks: %q", tmpfiles)
	}

	off := writeModule(t, `{ ... }: { virtualisation.desktopVMs.vms.a = { }; }`)
	var none map[string]any
	mustEval(t, off, "units", &none)
	if len(none) != 0 {
		t.Errorf("enable = false still defines units: %v", none)
	}
}
