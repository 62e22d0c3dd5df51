package domainxml

import (
	"reflect"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/units"
)

func TestParseMetadata(t *testing.T) {
	// The form libvirt returns from dumpxml: a prefix of its own choosing.
	libvirtForm := `<domain type='qemu'>
  <name>x</name>
  <metadata>
    <other:thing xmlns:other="https://example.com/other"><configHash>not ours</configHash></other:thing>
    <deskvm:vm xmlns:deskvm="https://deskvm.dev/xmlns/vm/1">
      <deskvm:managedBy>deskvm</deskvm:managedBy>
      <deskvm:configHash>abc123</deskvm:configHash>
    </deskvm:vm>
  </metadata>
</domain>`
	md, ok, err := ParseMetadata(libvirtForm)
	if err != nil || !ok || md.ConfigHash != "abc123" || md.ManagedBy != "deskvm" {
		t.Errorf("libvirt form: %+v %v %v", md, ok, err)
	}

	// Our own rendering round-trips.
	c := newConfig(map[string]*config.VM{"a": newVM()})
	config.FillDefaults(c)
	s, err := RenderXML(c, "a", deskHost())
	if err != nil {
		t.Fatal(err)
	}
	md, ok, err = ParseMetadata(s)
	if err != nil || !ok || len(md.ConfigHash) != 64 || md.ManagedBy != ManagedBy {
		t.Errorf("rendered: %+v %v %v", md, ok, err)
	}

	// A domain deskvm does not manage, even one with a look-alike element
	// outside <metadata>.
	for _, doc := range []string{
		`<domain><name>x</name></domain>`,
		`<domain><name>x</name><metadata><vm><configHash>h</configHash></vm></metadata></domain>`,
		`<domain><devices><vm xmlns="https://deskvm.dev/xmlns/vm/1"><configHash>h</configHash></vm></devices></domain>`,
	} {
		if _, ok, err := ParseMetadata(doc); ok || err != nil {
			t.Errorf("ParseMetadata(%s) = ok %v, err %v; want not managed", doc, ok, err)
		}
	}
	if _, _, err := ParseMetadata(`<domain><metadata>`); err == nil {
		t.Error("truncated XML: want error")
	}
}

func TestParseExtraDevicesErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<hostdev mode="subsystem" type="pci"><source>`, "malformed"},
		{`<foo/>`, "<foo> is not a libvirt device element"},
		{"<watchdog model='i6300esb'/>\n<domain/>", "line 2: <domain>"},
		{`<watchdog model="i6300esb" bogus="1"/>`, "watchdog@bogus=1"},
		{`<disk type="file"><nonsense/></disk>`, "disk/nonsense"},
		{`hello <sound model="ich9"/>`, `text "hello"`},
	} {
		_, err := ParseExtraDevices(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseExtraDevices(%q) = %v; want error containing %q", tc.in, err, tc.want)
		}
	}
	list, err := ParseExtraDevices(`<hostdev mode="subsystem" type="pci" managed="yes">
  <source><address domain="0x0000" bus="0x01" slot="0x00" function="0x0"/></source>
</hostdev>`)
	if err != nil || len(list.Hostdevs) != 1 || *list.Hostdevs[0].SubsysPCI.Source.Address.Bus != 1 {
		t.Errorf("seed example: %v %+v", err, list)
	}
}

func TestRenderErrors(t *testing.T) {
	build := func(edit func(vm *config.VM)) *config.Config {
		vm := newVM()
		edit(vm)
		c := newConfig(map[string]*config.VM{"a": vm})
		config.FillDefaults(c)
		return c
	}
	for _, tc := range []struct {
		name string
		c    *config.Config
		vm   string
		opts []Option
		want string
	}{
		{"no such vm", build(func(*config.VM) {}), "b", nil, `render "b": no such vm`},
		{"bad pci", build(func(vm *config.VM) { vm.PCIDevices = []string{"1:2"} }), "a", nil, "vms.a.pciDevices[0]"},
		{"bad extra", build(func(vm *config.VM) { vm.ExtraDevices = "<x/>" }), "a", nil, "vms.a.extraDevices"},
		{"long vnc password", build(func(vm *config.VM) { vm.Display = config.DisplayVNC }), "a",
			[]Option{WithGraphicsPassword("123456789")}, "at most 8"},
		{"bad network", build(func(vm *config.VM) { vm.Network = "nat" }), "a", nil, "vms.a.network"},
		{"too many pins", build(func(vm *config.VM) { vm.VCPUs = 1; vm.CPUPinning.Sets = []string{"1", "2"} }), "a", nil, "vms.a.cpuPinning"},
	} {
		_, err := Render(tc.c, tc.vm, deskHost(), tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Password text goes through the XML encoder, never into markup.
func TestGraphicsPasswordEscaped(t *testing.T) {
	c := newConfig(map[string]*config.VM{"a": newVM()})
	config.FillDefaults(c)
	s, err := RenderXML(c, "a", deskHost(), WithGraphicsPassword(`a"b<c>&d`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, `passwd="a&#34;b&lt;c&gt;&amp;d"`) {
		t.Errorf("password not escaped:\n%s", s)
	}
}

func pins(p pinning) [][]int { return p.sets }

func autoConfig(vms map[string]*config.VM) *config.Config {
	c := newConfig(vms)
	config.FillDefaults(c)
	return c
}

func autoVM(vcpus int) *config.VM {
	return &config.VM{VCPUs: vcpus, CPUPinning: config.CPUPinning{Auto: true}}
}

func TestAutoPinning(t *testing.T) {
	f := deskHost() // 8 cores, CPU n and n+8 are siblings

	// Whole cores with their siblings, CPU 0's core last.
	c := autoConfig(map[string]*config.VM{"a": autoVM(4)})
	p := autoPinning(c, "a", f)
	if want := [][]int{{1}, {9}, {2}, {10}}; !reflect.DeepEqual(pins(p), want) || p.threads != 2 {
		t.Errorf("a: %v threads %d, want %v threads 2", pins(p), p.threads, want)
	}

	// Two auto VMs never share a core, and each gets the same answer
	// whichever is rendered; a list-pinned VM's CPUs are avoided.
	listed := &config.VM{VCPUs: 2, CPUPinning: config.CPUPinning{Sets: []string{"1", "9"}}}
	c = autoConfig(map[string]*config.VM{"a": autoVM(4), "b": autoVM(6), "l": listed})
	pa, pb := autoPinning(c, "a", f), autoPinning(c, "b", f)
	if want := [][]int{{2}, {10}, {3}, {11}}; !reflect.DeepEqual(pins(pa), want) {
		t.Errorf("a beside l: %v, want %v", pins(pa), want)
	}
	if want := [][]int{{4}, {12}, {5}, {13}, {6}, {14}}; !reflect.DeepEqual(pins(pb), want) {
		t.Errorf("b: %v, want %v", pins(pb), want)
	}

	// When the free cores run out, CPU 0's core comes next, then shared
	// ones, CPU 0's again last.
	c = autoConfig(map[string]*config.VM{"a": autoVM(14), "b": autoVM(4)})
	if got := pins(autoPinning(c, "b", f)); !reflect.DeepEqual(got, [][]int{{0}, {8}, {1}, {9}}) {
		t.Errorf("b after a(14): %v, want CPU 0's core then a shared one", got)
	}
	c = autoConfig(map[string]*config.VM{"a": autoVM(16), "b": autoVM(4)})
	if got := pins(autoPinning(c, "a", f)); !reflect.DeepEqual(got[14:], [][]int{{0}, {8}}) {
		t.Errorf("a(16): %v, want CPU 0's core last", got)
	}
	if got := pins(autoPinning(c, "b", f)); !reflect.DeepEqual(got, [][]int{{1}, {9}, {2}, {10}}) {
		t.Errorf("b after a(16): %v, want shared cores, CPU 0's last", got)
	}

	// More vCPUs than the host has: no pinning at all.
	c = autoConfig(map[string]*config.VM{"a": autoVM(32)})
	if p := autoPinning(c, "a", f); len(p.sets) != 0 || p.threads != 1 {
		t.Errorf("oversized: %+v", p)
	}
	// Odd vCPU count on SMT cores: pinned, but no SMT in the guest topology.
	c = autoConfig(map[string]*config.VM{"a": autoVM(3)})
	if p := autoPinning(c, "a", f); len(p.sets) != 3 || p.threads != 1 {
		t.Errorf("odd: %+v", p)
	}
	// No SMT on the host: threads 1.
	flat := &hostfacts.Facts{}
	for i := 0; i < 4; i++ {
		flat.CPUs = append(flat.CPUs, hostfacts.CPU{ID: i, Core: i, Siblings: []int{i}})
	}
	c = autoConfig(map[string]*config.VM{"a": autoVM(2)})
	if p := autoPinning(c, "a", flat); !reflect.DeepEqual(pins(p), [][]int{{1}, {2}}) || p.threads != 1 {
		t.Errorf("flat: %+v", p)
	}
}

func TestListThreads(t *testing.T) {
	f := deskHost()
	for _, tc := range []struct {
		sets  [][]int
		vcpus int
		want  int
	}{
		{[][]int{{1}, {9}, {2}, {10}}, 4, 2},
		{[][]int{{1}, {9}, {2}, {10}}, 5, 1},            // a vCPU floats
		{[][]int{{1}, {2}, {9}, {10}}, 4, 1},            // pairs not on one core
		{[][]int{{1, 9}, {1, 9}}, 2, 1},                 // both float over the core
		{[][]int{{0, 1}, {2, 3}, {4, 5}, {6, 7}}, 4, 1}, // the seed's example
	} {
		if got := listThreads(tc.sets, tc.vcpus, f); got != tc.want {
			t.Errorf("listThreads(%v, %d) = %d, want %d", tc.sets, tc.vcpus, got, tc.want)
		}
	}
}

// The metadata hash changes with everything the definition is rendered
// from (another VM's pinning moves an auto-pinned VM, a host's firmware
// path), so plan redefines; a display password changes the definition
// but never shows in the metadata.
func TestMetadataHashCoversRendering(t *testing.T) {
	hash := func(c *config.Config, f *hostfacts.Facts, opts ...Option) string {
		t.Helper()
		config.FillDefaults(c)
		s, err := RenderXML(c, "a", f, opts...)
		if err != nil {
			t.Fatal(err)
		}
		md, _, err := ParseMetadata(s)
		if err != nil {
			t.Fatal(err)
		}
		return md.ConfigHash
	}
	alone := hash(autoConfig(map[string]*config.VM{"a": autoVM(2)}), deskHost())
	if again := hash(autoConfig(map[string]*config.VM{"a": autoVM(2)}), deskHost()); again != alone {
		t.Fatalf("same inputs, different hashes: %s %s", alone, again)
	}
	// b takes a's cores: a's own options are the same, its pinning is not.
	listed := &config.VM{VCPUs: 2, CPUPinning: config.CPUPinning{Sets: []string{"1", "9"}}}
	if h := hash(autoConfig(map[string]*config.VM{"a": autoVM(2), "b": listed}), deskHost()); h == alone {
		t.Error("another VM moved a's pinning, the hash stayed")
	}
	moved := deskHost()
	moved.Firmware.Code = "/usr/share/edk2/ovmf/OVMF_CODE.fd"
	if h := hash(autoConfig(map[string]*config.VM{"a": autoVM(2)}), moved); h == alone {
		t.Error("firmware path changed, the hash stayed")
	}

	vncVM := func() *config.Config {
		return newConfig(map[string]*config.VM{"a": {Display: config.DisplayVNC}})
	}
	plain := hash(vncVM(), deskHost())
	if h := hash(vncVM(), deskHost(), WithGraphicsPassword("pw1")); h != plain {
		t.Error("the hash depends on the display password")
	}
	c := vncVM()
	config.FillDefaults(c)
	s, err := RenderXML(c, "a", deskHost(), WithGraphicsPassword("pw1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(s, "pw1") != 1 || !strings.Contains(s, `passwd="pw1"`) {
		t.Errorf("password missing from the graphics element or shown elsewhere:\n%s", s)
	}
}

func TestDefinitionChange(t *testing.T) {
	c := newConfig(map[string]*config.VM{"a": newVM()})
	config.FillDefaults(c)
	render := func(pw string) string {
		t.Helper()
		var opts []Option
		if pw != "" {
			opts = append(opts, WithGraphicsPassword(pw))
		}
		s, err := RenderXML(c, "a", deskHost(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base, pw1, pw2 := render(""), render("hunter2"), render("hunter3")
	// libvirt's dumpxml formats differently; only the hash and passwords count.
	relabelled := strings.ReplaceAll(pw1, "\n", "\n  ")
	c.VMs["a"].Memory = units.MustParseSize("3G")
	bigger := render("hunter2")
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"same", pw1, pw1, ""},
		{"same modulo formatting", pw1, relabelled, ""},
		{"password only", pw1, pw2, ChangePassword},
		{"password added", base, pw1, ChangePassword},
		{"config", pw1, bigger, ChangeConfig},
		{"unmanaged vs managed", `<domain><name>a</name></domain>`, base, ChangeConfig},
		{"two unmanaged", `<domain><name>a</name></domain>`, `<domain><name>b</name></domain>`, ""},
	} {
		got := DefinitionChange(tc.old, tc.new)
		if got != tc.want {
			t.Errorf("%s: DefinitionChange = %q, want %q", tc.name, got, tc.want)
		}
		if strings.Contains(got, "hunter") {
			t.Errorf("%s: reason shows the password: %q", tc.name, got)
		}
	}
	ps, err := GraphicsPasswords(pw1)
	if err != nil || len(ps) != 1 || ps[0] != "hunter2" {
		t.Errorf("GraphicsPasswords = %q, %v", ps, err)
	}
}

// Defaults are filled in one place, config.FillDefaults; Render does not
// guess them and refuses a config that skipped it.
func TestRenderNeedsDefaultedConfig(t *testing.T) {
	c := newConfig(map[string]*config.VM{"a": newVM()})
	if _, err := Render(c, "a", deskHost()); err == nil || !strings.Contains(err.Error(), "not defaulted") {
		t.Errorf("undefaulted config: err = %v", err)
	}
	config.FillDefaults(c)
	if _, err := Render(c, "a", deskHost()); err != nil {
		t.Errorf("defaulted config: %v", err)
	}
}
