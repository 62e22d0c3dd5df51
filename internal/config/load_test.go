package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// check runs what `config validate` does without the host: load, default,
// validate, locate. It returns every problem as "file:line:col: path: msg".
func check(t *testing.T, name, doc string) []string {
	t.Helper()
	cfg, src, err := Load(name, []byte(doc))
	var ps yamlsrc.Problems
	if err != nil {
		var lps yamlsrc.Problems
		if !errors.As(err, &lps) {
			t.Fatalf("Load: %v is not yamlsrc.Problems", err)
		}
		ps = append(ps, lps...)
	}
	if cfg != nil {
		FillDefaults(cfg)
		ps = append(ps, src.Locate(Validate(cfg))...)
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Severity.String() + " " + p.String()
	}
	return out
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// The bad configs of issue 2, each with the exact position and path.
func TestBadConfigs(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // a substring of one problem line, "severity file:line:col: path: message"
	}{
		{"unknown key", "profile: occasional\nfoo: 1\n",
			`error c.yaml:2:1: foo: unknown field "foo" (valid here: accelerator, connect,`},
		{"misspelt key", "vms:\n  win11:\n    memroy: 16G\n",
			`error c.yaml:3:5: vms.win11.memroy: unknown field "memroy"; did you mean "memory"?`},
		{"misspelt nested key", "vms:\n  win11:\n    memballoon:\n      statsIntervall: 5\n",
			`error c.yaml:4:7: vms.win11.memballoon.statsIntervall: unknown field "statsIntervall"; did you mean "statsInterval"?`},
		{"nix-style key", "vms:\n  w:\n    cpu_pinning: auto\n",
			`error c.yaml:3:5: vms.w.cpu_pinning: unknown field "cpu_pinning"; did you mean "cpuPinning"?`},
		{"bad size", "vms:\n  win11:\n    memory: 16Q\n",
			`error c.yaml:3:13: vms.win11.memory: invalid size "16Q": want a whole number with a binary unit`},
		{"decimal size unit", "vms:\n  w:\n    diskSize: 100GB\n",
			`error c.yaml:3:15: vms.w.diskSize: invalid size "100GB": "GB" is a decimal unit; use G or GiB`},
		{"bad cpuset", "vms:\n  w:\n    vcpus: 2\n    cpuPinning: [\"0-1\", \"3-x\"]\n",
			`error c.yaml:4:25: vms.w.cpuPinning[1]: invalid CPU set "3-x": "x" is not a CPU number`},
		{"backwards cpuset", "vms:\n  w:\n    emulatorPin: \"5-2\"\n",
			`error c.yaml:3:18: vms.w.emulatorPin: invalid CPU set "5-2": range "5-2" runs backwards`},
		{"duplicate VM names", "vms:\n  win11:\n    vcpus: 2\n  win11:\n    vcpus: 4\n",
			`error c.yaml:4:3: vms.win11: duplicate VM name "win11" (first at line 2:3)`},
		{"duplicate key", "vms:\n  w:\n    vcpus: 2\n    vcpus: 4\n",
			`error c.yaml:4:5: vms.w.vcpus: duplicate key "vcpus" (first at line 3:5)`},
		{"VM name with a space", "vms:\n  \"my vm\":\n    vcpus: 2\n",
			`error c.yaml:2:3: vms.my vm: VM name "my vm" is not usable as a libvirt domain name and as the command vm-my vm`},
		{"VM name with a slash", "vms:\n  a/b:\n    vcpus: 2\n",
			`error c.yaml:2:3: vms.a/b: VM name "a/b" is not usable`},
		{"VM name starting with a dot", "vms:\n  .hidden: {}\n",
			`error c.yaml:2:3: vms..hidden: VM name ".hidden" is not usable`},
		{"secureBoot with macos", "vms:\n  mac:\n    osType: macos\n    secureBoot: true\n",
			`error c.yaml:4:17: vms.mac.secureBoot: secure boot cannot be used with osType macos`},
		{"secureBoot with bios", "vms:\n  w:\n    firmware: bios\n    secureBoot: true\n",
			`error c.yaml:4:17: vms.w.secureBoot: secure boot requires firmware: uefi`},
		{"malformed extraDevices", "vms:\n  w:\n    extraDevices: |\n      <hostdev mode=\"subsystem\">\n        <source>\n      </hostdev>\n",
			`error c.yaml:6:7: vms.w.extraDevices: malformed XML: element <source> closed by </hostdev>`},
		{"extraDevices block, line of the wrong element", "vms:\n  w:\n    extraDevices: |\n      <hostdev mode=\"subsystem\"/>\n\n      <os/>\n",
			`error c.yaml:6:7: vms.w.extraDevices: <os> is not a libvirt device element`},
		{"extraDevices block never closed", "vms:\n  w:\n    extraDevices: |-\n      <hostdev mode=\"subsystem\">\n        <source/>\nprofile: always-on\n",
			`error c.yaml:4:7: vms.w.extraDevices: malformed XML: <hostdev> is not closed`},
		{"extraDevices block, element over several lines", "vms:\n  w:\n    extraDevices: |\n      <hostdev/>\n      <os\n        a=\"1\"\n        b=\"2\"/>\n",
			`error c.yaml:5:7: vms.w.extraDevices: <os> is not a libvirt device element`},
		{"extraDevices block, stray text after a comment", "vms:\n  w:\n    extraDevices: |\n      <hostdev/>\n      <!-- x -->\n\n      oops\n      <rng model=\"virtio\"/>\n",
			`error c.yaml:7:7: vms.w.extraDevices: text "oops" outside any element`},
		{"extraDevices folded block keeps the inner line", "vms:\n  w:\n    extraDevices: >\n      <hostdev/>\n      <os/>\n",
			`error c.yaml:3:19: vms.w.extraDevices: line 1: <os> is not a libvirt device element`},
		{"extraDevices in JSON", "{\"vms\": {\"w\": {\"extraDevices\": \"<hostdev/>\\n<os/>\"}}}",
			`error c.yaml:1:32: vms.w.extraDevices: line 2: <os> is not a libvirt device element`},
		{"extraDevices not a device", "vms:\n  w:\n    extraDevices: \"<hostdev/><os/>\"\n",
			`error c.yaml:3:19: vms.w.extraDevices: line 1: <os> is not a libvirt device element`},
		{"extraDevices bad attribute", "vms:\n  w:\n    extraDevices: '<hostdev mode=\"subsystem\" type=\"pci\"><source><address bus=\"zz\"/></source></hostdev>'\n",
			`error c.yaml:3:19: vms.w.extraDevices: libvirt cannot read it:`},
		{"extraDevices text", "vms:\n  w:\n    extraDevices: \"hello <hostdev/>\"\n",
			`vms.w.extraDevices: line 1: text "hello" outside any element`},
		{"profile sometimes", "profile: sometimes\n",
			`error c.yaml:1:10: profile: profile "sometimes" is not one of occasional, always-on`},
		{"wrong type string for int", "vms:\n  w:\n    vcpus: \"4\"\n",
			`error c.yaml:3:12: vms.w.vcpus: expected a whole number, got a string ("4")`},
		{"wrong type int for string", "vms:\n  w:\n    memory: 16384\n",
			`error c.yaml:3:13: vms.w.memory: expected a string, got the number 16384; quote it ("16384") if you mean the text`},
		{"wrong type mapping", "vms: [a, b]\n",
			`error c.yaml:1:6: vms: expected a mapping of options, got a list`},
		{"wrong type bool", "enable: yes\n",
			`error c.yaml:1:9: enable: expected true or false, got a string ("yes")`},
		{"pinning string", "vms:\n  w:\n    cpuPinning: \"0-3\"\n",
			`error c.yaml:3:17: vms.w.cpuPinning: expected "auto" or a list with one CPU set per vCPU`},
		{"more pins than vcpus", "vms:\n  w:\n    vcpus: 1\n    cpuPinning: [\"0\", \"1\"]\n",
			`error c.yaml:4:5: vms.w.cpuPinning: 2 CPU sets for 1 vCPUs: one set per vCPU at most`},
		{"fewer pins than vcpus", "vms:\n  w:\n    vcpus: 4\n    cpuPinning: [\"0\", \"1\"]\n",
			`warning c.yaml:4:5: vms.w.cpuPinning: 2 CPU sets for 4 vCPUs: vCPUs 2-3 are not pinned and float`},
		{"two VMs pinned to one CPU", "vms:\n  a: {vcpus: 1, cpuPinning: [\"2\"]}\n  b: {vcpus: 1, cpuPinning: [\"1-2\"]}\n",
			`warning c.yaml:3:17: vms.b.cpuPinning: host CPUs 2 are also pinned by VM a`},
		{"bad uuid", "vms:\n  w:\n    uuid: 1234\n",
			`error c.yaml:3:11: vms.w.uuid: expected a string`},
		{"bad uuid string", "vms:\n  w:\n    uuid: not-a-uuid\n",
			`error c.yaml:3:11: vms.w.uuid: "not-a-uuid" is not a UUID`},
		{"duplicate uuid", "vms:\n  a: {uuid: 550e8400-e29b-41d4-a716-446655440000}\n  b: {uuid: 550E8400-E29B-41D4-A716-446655440000}\n",
			`error c.yaml:3:13: vms.b.uuid: UUID 550E8400-E29B-41D4-A716-446655440000 is also VM a's`},
		{"bad mac", "vms:\n  w:\n    macAddress: 52:54:00:12:34\n",
			`error c.yaml:3:17: vms.w.macAddress: "52:54:00:12:34" is not a MAC address`},
		{"duplicate mac", "vms:\n  a: {macAddress: 52:54:00:12:34:56}\n  b: {macAddress: 52:54:00:12:34:56}\n",
			`error c.yaml:3:19: vms.b.macAddress: MAC address 52:54:00:12:34:56 is also VM a's`},
		{"enum osType", "vms:\n  w:\n    osType: window\n",
			`error c.yaml:3:13: vms.w.osType: osType "window" is not one of windows, linux, macos; did you mean "windows"?`},
		{"enum display", "vms:\n  w:\n    display: rdp\n",
			`error c.yaml:3:14: vms.w.display: display "rdp" is not one of spice, vnc, looking-glass, none`},
		{"enum accelerator", "accelerator: hvf\n",
			`error c.yaml:1:14: accelerator: accelerator "hvf" is not one of kvm, tcg`},
		{"enum firmware", "vms:\n  w:\n    firmware: efi\n",
			`error c.yaml:3:15: vms.w.firmware: firmware "efi" is not one of uefi, bios`},
		{"enum network", "vms:\n  w:\n    network: nat\n",
			`error c.yaml:3:14: vms.w.network: network "nat" is not one of default, user, bridge:NAME, none`},
		{"enum disk bus", "vms:\n  w:\n    disk: {bus: ide}\n",
			`error c.yaml:3:17: vms.w.disk.bus: disk bus "ide" is not one of virtio, sata, scsi`},
		{"currentMemory over memory", "vms:\n  w:\n    memory: 4G\n    currentMemory: 8G\n",
			`error c.yaml:4:20: vms.w.currentMemory: 8G is more than memory 4G`},
		{"pci syntax", "vms:\n  w:\n    pciDevices: [\"01:00\"]\n",
			`error c.yaml:3:18: vms.w.pciDevices[0]: invalid PCI address "01:00": missing .function`},
		{"port forward without user network", "vms:\n  w:\n    portForwards: [{host: 2222, guest: 22}]\n",
			`error c.yaml:3:5: vms.w.portForwards: port forwards need network: user`},
		{"port forward bad port", "vms:\n  w:\n    network: user\n    portForwards: [{host: 0, guest: 22}]\n",
			`error c.yaml:4:27: vms.w.portForwards[0].host: must be a port from 1 to 65535, got 0`},
		{"hugepage size", "hugepages: {size: 4M}\n",
			`error c.yaml:1:19: hugepages.size: "4M": hugepages are 2M or 1G on x86-64`},
		{"open display without password", "vms:\n  w:\n    graphics: {listen: 0.0.0.0}\n",
			`error c.yaml:3:24: vms.w.graphics.listen: the display listens on 0.0.0.0, beyond loopback, without a password`},
		{"firewall for loopback displays", "firewallPorts: {spice: true}\nvms:\n  w: {}\n",
			`warning c.yaml:1:24: firewallPorts.spice: opens spice ports, but no enabled VM's spice display listens beyond loopback`},
		{"boot without kernel", "vms:\n  w:\n    boot: {cmdline: quiet}\n",
			`error c.yaml:3:5: vms.w.boot.kernel: boot needs a kernel`},
		{"lookingGlass without the display", "vms:\n  w:\n    lookingGlass: {width: 2560}\n",
			`warning c.yaml:3:5: vms.w.lookingGlass: only used with display: looking-glass (display is spice)`},
		{"relative path", "vms:\n  w:\n    cdroms: [installer.iso]\n",
			`error c.yaml:3:14: vms.w.cdroms[0]: "installer.iso" must be an absolute path`},
		{"virtiofs tag too long", "vms:\n  w:\n    sharedFolders: {aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: /srv}\n",
			`error c.yaml:3:21: vms.w.sharedFolders.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: shared folder tag`},
		{"two documents", "vms: {}\n---\nprofile: occasional\n",
			`error c.yaml:3:8: a config file holds one YAML document`},
		{"syntax error", "vms:\n  w: [1, 2\n",
			`error c.yaml:2:`},
		{"top level list", "- a\n",
			`error c.yaml:1:1: expected a mapping of options, got a list`},
		{"unknown alias", "vms:\n  w: *nope\n",
			`error c.yaml:2:`},
		{"json trailing problems", `{"vms": {"a": {"memory": 5}, "a": {}}}`,
			`error c.yaml:1:30: vms.a: duplicate VM name "a" (first at line 1:10)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(t, "c.yaml", tt.doc)
			if !hasLine(got, tt.want) {
				t.Errorf("no problem contains\n  %s\ngot:\n  %s", tt.want, strings.Join(got, "\n  "))
			}
		})
	}
}

// Several bad fields in one file are all reported by one load + validate.
func TestSeveralProblemsInOneRun(t *testing.T) {
	data, err := os.ReadFile("testdata/several-bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := check(t, "testdata/several-bad.yaml", string(data))
	want := []string{
		`error testdata/several-bad.yaml:3:10: profile: profile "sometimes" is not one of occasional, always-on`,
		`error testdata/several-bad.yaml:9:5: vms.win11.memroy: unknown field "memroy"; did you mean "memory"?`,
		`error testdata/several-bad.yaml:11:17: vms.win11.secureBoot: secure boot cannot be used with osType macos`,
		`error testdata/several-bad.yaml:13:13: vms.lab.memory: invalid size "16Q"`,
		`error testdata/several-bad.yaml:14:25: vms.lab.cpuPinning[1]: invalid CPU set "3-1": range "3-1" runs backwards`,
		`error testdata/several-bad.yaml:16:7: vms.lab.extraDevices: malformed XML: <hostdev> is not closed`,
		`error testdata/several-bad.yaml:17:3: vms.my vm: VM name "my vm" is not usable`,
		`error testdata/several-bad.yaml:19:3: vms.lab: duplicate VM name "lab" (first at line 12:3)`,
	}
	for _, w := range want {
		if !hasLine(got, w) {
			t.Errorf("missing %s", w)
		}
	}
	if t.Failed() {
		t.Logf("got:\n  %s", strings.Join(got, "\n  "))
	}
}

func TestLoadExamplesAndTestdata(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	files = append(files, "testdata/full.json", "testdata/anchors.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, src, err := LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			FillDefaults(cfg)
			for _, p := range src.Locate(Validate(cfg)) {
				if p.Severity == yamlsrc.SeverityError {
					t.Errorf("%s", p)
				}
			}
			if len(cfg.VMs) == 0 {
				t.Errorf("no VMs loaded")
			}
		})
	}
}

// The seed's Quick Start and full per-VM example load with the seed's values.
func TestDesktopExampleIsTheSeed(t *testing.T) {
	cfg, src, err := LoadFile("../../examples/desktop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	win := cfg.VMs["my-windows-vm"]
	if win == nil || win.Memory.String() != "16G" || win.VCPUs != 4 || win.OSType != OSWindows || !*win.Enable {
		t.Errorf("my-windows-vm = %+v", win)
	}
	vm := cfg.VMs["my-vm"]
	if vm == nil {
		t.Fatal("no my-vm")
	}
	if vm.UUID != "550e8400-e29b-41d4-a716-446655440000" || vm.Memory.String() != "16G" || vm.VCPUs != 8 ||
		vm.DiskSize.String() != "200G" || vm.StoragePool != "default" || vm.Display != DisplaySpice ||
		vm.OSType != OSWindows || !vm.TPM || !vm.SecureBoot || *vm.AutoStart ||
		!*vm.Memballoon.Enable || !*vm.Memballoon.Autodeflate || !*vm.Memballoon.FreePageReporting ||
		*vm.Memballoon.StatsInterval != 5 {
		t.Errorf("my-vm = %+v", vm)
	}
	if want := []string{"0-1", "2-3", "4-5", "6-7"}; !reflect.DeepEqual(vm.CPUPinning.Sets, want) {
		t.Errorf("cpuPinning = %v, want %v", vm.CPUPinning.Sets, want)
	}
	if want := map[string]string{"projects": "/home/user/projects", "downloads": "/home/user/Downloads"}; !reflect.DeepEqual(vm.SharedFolders, want) {
		t.Errorf("sharedFolders = %v", vm.SharedFolders)
	}
	if !strings.Contains(vm.ExtraDevices, `<address domain="0x0000" bus="0x01" slot="0x00" function="0x0"/>`) {
		t.Errorf("extraDevices = %q", vm.ExtraDevices)
	}
	FillDefaults(cfg)
	ps := src.Locate(Validate(cfg))
	if ps.HasErrors() {
		t.Errorf("errors: %v", ps.Errors())
	}
	// The seed pins 4 of 8 vCPUs: the rest float, which is worth a warning.
	if !hasLine(problemStrings(ps), "examples/desktop.yaml:52:5: vms.my-vm.cpuPinning: 4 CPU sets for 8 vCPUs") {
		t.Errorf("no pinning warning in %v", ps)
	}
}

func problemStrings(ps yamlsrc.Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestLoadJSONAndYAMLAgree(t *testing.T) {
	y := "profile: always-on\nvms:\n  a:\n    memory: 8G\n    cpuPinning: auto\n    sharedFolders: {src: /src}\n"
	j := `{"profile": "always-on", "vms": {"a": {"memory": "8G", "cpuPinning": "auto", "sharedFolders": {"src": "/src"}}}}`
	cy, _, err := Load("c.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	cj, _, err := Load("c.json", []byte(j))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cy, cj) {
		t.Errorf("yaml %+v\njson %+v", cy, cj)
	}
	if !cy.VMs["a"].CPUPinning.Auto {
		t.Errorf("cpuPinning auto not read")
	}
}

func TestLoadNullsAndEmpty(t *testing.T) {
	cfg, _, err := Load("c.json", []byte(`{"vms": {"a": null, "b": {"uuid": null, "boot": null}}, "connect": null}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.VMs["a"] == nil || cfg.VMs["b"] == nil || cfg.VMs["b"].Boot != nil {
		t.Errorf("vms = %+v", cfg.VMs)
	}
	for _, doc := range []string{"", "# nothing\n", "---\n"} {
		cfg, _, err := Load("c.yaml", []byte(doc))
		if err != nil || cfg == nil || len(cfg.VMs) != 0 {
			t.Errorf("Load(%q) = %v, %v", doc, cfg, err)
		}
	}
}

func TestLoadAnchorsAndMerge(t *testing.T) {
	cfg, src, err := LoadFile("testdata/anchors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.VMs["a"], cfg.VMs["b"]
	if a.Memory.String() != "8G" || a.VCPUs != 2 || b.VCPUs != 4 || b.OSType != OSLinux {
		t.Errorf("a = %+v, b = %+v", a, b)
	}
	// A merged key points at where it is written: in the anchor.
	if pos, ok := src.Pos("vms.b.memory"); !ok || pos.Line != 3 {
		t.Errorf("vms.b.memory at %v, %v; want line 3", pos, ok)
	}
}

func TestLoadFileErrors(t *testing.T) {
	if _, _, err := LoadFile("testdata/does-not-exist.yaml"); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("err = %v", err)
	}
	_, _, err := Load("c.yaml", []byte("vms:\n  w:\n    memroy: 1G\n    vcpus: x\n"))
	var ce yamlsrc.Problems
	if !errors.As(err, &ce) || len(ce) != 2 {
		t.Fatalf("err = %v, want 2 problems", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "c.yaml:3:5: vms.w.memroy") || !strings.Contains(msg, "c.yaml:4:12: vms.w.vcpus") {
		t.Errorf("message %q lacks positions", msg)
	}
}

func TestAliasExpansionIsBounded(t *testing.T) {
	// 300 aliases of a 1000-item list: a 10 KB file that expands to
	// 300,000 values. The loader stops at its budget with a clear error.
	var b strings.Builder
	b.WriteString("x-list: &l [" + strings.Repeat("/a.iso, ", 999) + "/a.iso]\nvms:\n")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "  vm%d: {cdroms: *l}\n", i)
	}
	_, _, err := Load("big.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "config too large") {
		t.Errorf("err = %v, want config too large", err)
	}
}

// The seed's Global Options example sets hugepages (count 8192) and
// firewallPorts, which examples/desktop.yaml keeps as comments. Written
// out, they load and validate too: both are only worth a warning.
func TestDesktopExampleWithSeedGlobals(t *testing.T) {
	b, err := os.ReadFile("../../examples/desktop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	on := false
	for i, l := range lines {
		if strings.HasPrefix(l, "# hugepages:") {
			on = true
		}
		if on {
			lines[i] = strings.TrimPrefix(l, "# ")
		}
		if strings.HasPrefix(l, "#   vnc:") {
			break
		}
	}
	doc := strings.Join(lines, "\n")
	if !strings.Contains(doc, "\nhugepages: ") || !strings.Contains(doc, "\n  count: 8192 ") || !strings.Contains(doc, "\nfirewallPorts:\n  spice: true ") {
		t.Fatalf("the commented seed blocks were not found in examples/desktop.yaml")
	}
	cfg, src, err := Load("desktop.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	FillDefaults(cfg)
	ps := src.Locate(Validate(cfg))
	if ps.HasErrors() {
		t.Fatalf("errors: %v", ps.Errors())
	}
	got := problemStrings(ps.Warnings())
	for _, want := range []string{"hugepages.count: 8192 pages of 2M are fewer than", "firewallPorts.spice: opens spice ports"} {
		if !hasLine(got, want) {
			t.Errorf("no warning %q in %v", want, got)
		}
	}
}
