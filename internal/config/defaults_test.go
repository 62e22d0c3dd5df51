package config

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/units"
)

func mustLoad(t *testing.T, doc string) *Config {
	t.Helper()
	cfg, _, err := Load("c.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The seed's profile tables, exactly.
func TestProfileDefaults(t *testing.T) {
	tests := []struct {
		profile                                              string
		hugepages, autoStart, autodeflate, freePageReporting bool
	}{
		{"", false, false, true, true}, // occasional is the default
		{"occasional", false, false, true, true},
		{"always-on", true, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			doc := "vms:\n  a: {}\n"
			if tt.profile != "" {
				doc = "profile: " + tt.profile + "\n" + doc
			}
			c := mustLoad(t, doc)
			FillDefaults(c)
			vm := c.VMs["a"]
			got := []bool{*c.Hugepages.Enable, *vm.AutoStart, *vm.Memballoon.Autodeflate, *vm.Memballoon.FreePageReporting}
			want := []bool{tt.hugepages, tt.autoStart, tt.autodeflate, tt.freePageReporting}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("hugepages.enable, autoStart, autodeflate, freePageReporting = %v, want %v", got, want)
			}
			if ps := Validate(c); ps.HasErrors() {
				t.Errorf("defaults do not validate: %v", ps)
			}
		})
	}
}

// Explicit values beat the profile.
func TestProfileDefaultsAreOverridable(t *testing.T) {
	c := mustLoad(t, "profile: always-on\nhugepages: {enable: false}\nvms:\n  a: {autoStart: false, memballoon: {autodeflate: true}}\n")
	FillDefaults(c)
	vm := c.VMs["a"]
	if *c.Hugepages.Enable || *vm.AutoStart || !*vm.Memballoon.Autodeflate || *vm.Memballoon.FreePageReporting {
		t.Errorf("explicit values lost: hugepages %v autoStart %v autodeflate %v fpr %v",
			*c.Hugepages.Enable, *vm.AutoStart, *vm.Memballoon.Autodeflate, *vm.Memballoon.FreePageReporting)
	}
}

func TestFixedDefaults(t *testing.T) {
	c := mustLoad(t, "defaultStoragePool: fast\nvms:\n  a: {}\n  mac: {osType: macos}\n  lg: {display: looking-glass}\n  off: {network: none}\n")
	FillDefaults(c)
	if c.Connect != "qemu:///system" || c.Accelerator != AcceleratorKVM || c.Hugepages.Size.String() != "2M" ||
		c.DefaultStoragePath != "/var/lib/libvirt/images" || !*c.Enable || *c.FirewallPorts.Spice || *c.FirewallPorts.VNC {
		t.Errorf("global defaults: %+v", c)
	}
	a := c.VMs["a"]
	want := VM{
		Enable: a.Enable, UUID: UUIDFor("a"), Memory: units.MustParseSize("4G"), CurrentMemory: units.MustParseSize("4G"), VCPUs: 2, DiskSize: units.MustParseSize("64G"),
		StoragePool: "fast", Disk: Disk{Bus: "virtio"}, Display: DisplaySpice, Graphics: Graphics{Listen: "127.0.0.1"},
		OSType: OSLinux, Accelerator: AcceleratorKVM, Firmware: FirmwareUEFI, AutoStart: a.AutoStart,
		Memballoon: a.Memballoon, Network: "default", MACAddress: MACFor("a"),
	}
	if !reflect.DeepEqual(*a, want) {
		t.Errorf("vm defaults\n got %+v\nwant %+v", *a, want)
	}
	if !*a.Enable || !*a.Memballoon.Enable || *a.Memballoon.StatsInterval != 5 {
		t.Errorf("enable %v memballoon.enable %v statsInterval %v", *a.Enable, *a.Memballoon.Enable, *a.Memballoon.StatsInterval)
	}
	if got := c.VMs["mac"].Disk.Bus; got != "sata" {
		t.Errorf("macos disk bus = %q, want sata", got)
	}
	if got := c.VMs["lg"].LookingGlass; got != (LookingGlass{Width: 1920, Height: 1080, SharedMemoryMB: 32}) {
		t.Errorf("looking glass = %+v", got)
	}
	if c.VMs["a"].LookingGlass != (LookingGlass{}) {
		t.Errorf("looking glass filled for a spice VM")
	}
	if c.VMs["off"].MACAddress != "" {
		t.Errorf("MAC filled for network none")
	}
	pf := mustLoad(t, "vms:\n  a: {network: user, portForwards: [{host: 2222, guest: 22}]}\n")
	FillDefaults(pf)
	if got := pf.VMs["a"].PortForwards[0]; got != (PortForward{Protocol: "tcp", Address: "127.0.0.1", Host: 2222, Guest: 22}) {
		t.Errorf("port forward = %+v", got)
	}
}

// After FillDefaults no pointer anywhere is nil (callers dereference freely).
func TestFillDefaultsLeavesNoNilPointer(t *testing.T) {
	c := mustLoad(t, "vms:\n  a:\n  b: {memballoon: {}}\n")
	FillDefaults(c)
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				if path != ".VMs[a].Boot" && path != ".VMs[b].Boot" {
					t.Errorf("%s is nil", path)
				}
				return
			}
			walk(v.Elem(), path)
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i), path+"."+v.Type().Field(i).Name)
				}
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k), path+"["+k.String()+"]")
			}
		}
	}
	walk(reflect.ValueOf(c), "")
}

func TestFillDefaultsIsIdempotent(t *testing.T) {
	c := mustLoad(t, "profile: always-on\nvms:\n  a: {memory: 3G}\n  b: {osType: macos}\n")
	FillDefaults(c)
	once, _ := c.MarshalYAML()
	FillDefaults(c)
	twice, _ := c.MarshalYAML()
	if string(once) != string(twice) {
		t.Errorf("second FillDefaults changed the config:\n%s\n---\n%s", once, twice)
	}
}

// hugepages.count 0 is computed from the enabled VMs' memory, rounded up
// to whole pages per VM.
func TestComputedHugepageCount(t *testing.T) {
	tests := []struct {
		doc  string
		want int
	}{
		{"profile: always-on\nvms:\n  a: {memory: 16G}\n", 8192},
		{"profile: always-on\nvms:\n  a: {memory: 16G}\n  b: {memory: 8G}\n", 12288},
		{"profile: always-on\nvms:\n  a: {memory: 8G}\n  off: {memory: 64G, enable: false}\n", 4096},
		{"profile: always-on\nvms:\n  a: {}\n", 2048}, // memory default 4G
		{"profile: always-on\nhugepages: {size: 1G}\nvms:\n  a: {memory: 16G}\n  b: {memory: 1536M}\n", 18},
		{"profile: always-on\nvms:\n  a: {memory: 3M}\n  b: {memory: 3M}\n", 4},
		{"profile: always-on\nhugepages: {count: 100}\nvms:\n  a: {memory: 16G}\n", 100}, // explicit wins
		{"profile: occasional\nvms:\n  a: {memory: 16G}\n", 0},                           // hugepages off
		{"profile: always-on\nenable: false\nvms:\n  a: {memory: 16G}\n", 0},
	}
	for _, tt := range tests {
		c := mustLoad(t, tt.doc)
		FillDefaults(c)
		if c.Hugepages.Count != tt.want {
			t.Errorf("%q: count = %d, want %d", tt.doc, c.Hugepages.Count, tt.want)
		}
	}
	// config defaults shows the computed count.
	c := mustLoad(t, "profile: always-on\nvms:\n  a: {memory: 16G}\n")
	FillDefaults(c)
	out, err := c.MarshalYAML()
	if err != nil || !strings.Contains(string(out), "count: 8192") {
		t.Errorf("defaults output lacks the computed count: %s %v", out, err)
	}
}

func TestUUIDFor(t *testing.T) {
	u := UUIDFor("win11")
	if u != UUIDFor("win11") || u == UUIDFor("win10") {
		t.Errorf("UUIDFor not a function of the name")
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u) {
		t.Errorf("UUIDFor = %q, not a v5 UUID", u)
	}
	// Fixed forever: changing it would make every VM a new domain.
	if u != "dcfaa3a0-2a08-5939-a4c5-b1c6b64b4dbf" {
		t.Errorf("UUIDFor(win11) = %s changed; existing domains would be redefined as new ones", u)
	}
}

func TestMACFor(t *testing.T) {
	m := MACFor("win11")
	if m != MACFor("win11") || m == MACFor("win10") || !strings.HasPrefix(m, "52:54:00:") || !macRE.MatchString(m) {
		t.Errorf("MACFor = %q", m)
	}
}

func TestEnabledVMs(t *testing.T) {
	c := mustLoad(t, "vms:\n  b: {}\n  a: {}\n  c: {enable: false}\n")
	if got := c.EnabledVMs(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("EnabledVMs = %v", got)
	}
	c = mustLoad(t, "enable: false\nvms:\n  a: {}\n")
	if got := c.EnabledVMs(); len(got) != 0 {
		t.Errorf("EnabledVMs with enable false = %v", got)
	}
}

func TestLookingGlassMemoryMB(t *testing.T) {
	for _, tt := range []struct{ w, h, want int }{
		{1920, 1080, 32}, {2560, 1440, 64}, {3840, 2160, 128}, {1280, 720, 32}, {0, 1080, 0},
	} {
		if got := LookingGlassMemoryMB(tt.w, tt.h); got != tt.want {
			t.Errorf("LookingGlassMemoryMB(%d, %d) = %d, want %d", tt.w, tt.h, got, tt.want)
		}
	}
}
