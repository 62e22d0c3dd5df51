package config

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/deskvm/deskvm/internal/units"
)

// Defaults that do not depend on the profile.
const (
	DefaultConnect            = "qemu:///system"
	DefaultStoragePool        = "default"
	DefaultStoragePath        = "/var/lib/libvirt/images"
	DefaultVCPUs              = 2
	DefaultNetwork            = "default"
	DefaultListen             = "127.0.0.1"
	DefaultStatsInterval      = 5
	DefaultLookingGlassWidth  = 1920
	DefaultLookingGlassHeight = 1080
)

// Size defaults.
var (
	DefaultHugepageSize = units.MustParseSize("2M")
	DefaultMemory       = units.MustParseSize("4G")
	DefaultDiskSize     = units.MustParseSize("64G")
)

// profileDefaults is the seed's profile table.
type profileDefaults struct {
	hugepages, autoStart, autodeflate, freePageReporting bool
}

func defaultsFor(p Profile) profileDefaults {
	if p == ProfileAlwaysOn {
		return profileDefaults{hugepages: true, autoStart: true, autodeflate: false, freePageReporting: false}
	}
	// occasional, and anything Validate will reject.
	return profileDefaults{hugepages: false, autoStart: false, autodeflate: true, freePageReporting: true}
}

// FillDefaults sets every option the config leaves unset: the profile
// table of the seed (hugepages.enable, autoStart, memballoon.autodeflate,
// memballoon.freePageReporting), the fixed defaults, and the computed
// values (hugepages.count, UUID and MAC derived from the VM name, Looking
// Glass memory). Afterwards every pointer is non-nil. It does no I/O and
// never fails: values it cannot make sense of are left for Validate to
// report. Running it twice changes nothing.
func FillDefaults(c *Config) {
	c.Profile = cmp.Or(c.Profile, ProfileOccasional)
	pd := defaultsFor(c.Profile)
	setBool(&c.Enable, true)
	c.Connect = cmp.Or(c.Connect, DefaultConnect)
	c.Accelerator = cmp.Or(c.Accelerator, AcceleratorKVM)
	setBool(&c.Hugepages.Enable, pd.hugepages)
	c.Hugepages.Size = cmp.Or(c.Hugepages.Size, DefaultHugepageSize)
	setBool(&c.Hugepages.OnDemand, false)
	setBool(&c.FirewallPorts.Spice, false)
	setBool(&c.FirewallPorts.VNC, false)
	c.DefaultStoragePool = cmp.Or(c.DefaultStoragePool, DefaultStoragePool)
	c.DefaultStoragePath = cmp.Or(c.DefaultStoragePath, DefaultStoragePath)
	for name, vm := range c.VMs {
		if vm == nil {
			vm = &VM{}
			c.VMs[name] = vm
		}
		fillVMDefaults(vm, name, c, pd)
	}
	if c.Hugepages.Count == 0 && *c.Hugepages.Enable {
		c.Hugepages.Count = c.HugepageCount()
	}
}

func fillVMDefaults(vm *VM, name string, c *Config, pd profileDefaults) {
	setBool(&vm.Enable, true)
	if vm.UUID == "" && name != "" {
		vm.UUID = UUIDFor(name)
	}
	vm.Memory = cmp.Or(vm.Memory, DefaultMemory)
	vm.CurrentMemory = cmp.Or(vm.CurrentMemory, vm.Memory)
	vm.VCPUs = cmp.Or(vm.VCPUs, DefaultVCPUs)
	vm.DiskSize = cmp.Or(vm.DiskSize, DefaultDiskSize)
	vm.StoragePool = cmp.Or(vm.StoragePool, c.DefaultStoragePool)
	vm.Display = cmp.Or(vm.Display, DisplaySpice)
	vm.OSType = cmp.Or(vm.OSType, OSLinux)
	vm.Accelerator = cmp.Or(vm.Accelerator, c.Accelerator)
	vm.Firmware = cmp.Or(vm.Firmware, FirmwareUEFI)
	if vm.Disk.Bus == "" {
		vm.Disk.Bus = "virtio"
		if vm.OSType == OSMacOS {
			// macOS has no virtio-blk driver; OpenCore guests boot from AHCI.
			vm.Disk.Bus = "sata"
		}
	}
	setBool(&vm.AutoStart, pd.autoStart)
	setBool(&vm.Memballoon.Enable, true)
	setBool(&vm.Memballoon.Autodeflate, pd.autodeflate)
	setBool(&vm.Memballoon.FreePageReporting, pd.freePageReporting)
	if vm.Memballoon.StatsInterval == nil {
		n := DefaultStatsInterval
		vm.Memballoon.StatsInterval = &n
	}
	vm.Network = cmp.Or(vm.Network, DefaultNetwork)
	if vm.MACAddress == "" && vm.Network != "none" && name != "" {
		vm.MACAddress = MACFor(name)
	}
	for i := range vm.PortForwards {
		pf := &vm.PortForwards[i]
		pf.Protocol = cmp.Or(pf.Protocol, "tcp")
		pf.Address = cmp.Or(pf.Address, DefaultListen)
	}
	vm.Graphics.Listen = cmp.Or(vm.Graphics.Listen, DefaultListen)
	// Looking Glass options only mean something with that display; they
	// stay empty otherwise so that Validate can warn when they are set.
	if vm.Display == DisplayLookingGlass {
		vm.LookingGlass.Width = cmp.Or(vm.LookingGlass.Width, DefaultLookingGlassWidth)
		vm.LookingGlass.Height = cmp.Or(vm.LookingGlass.Height, DefaultLookingGlassHeight)
		vm.LookingGlass.SharedMemoryMB = cmp.Or(vm.LookingGlass.SharedMemoryMB, LookingGlassMemoryMB(vm.LookingGlass.Width, vm.LookingGlass.Height))
	}
}

func setBool(p **bool, v bool) {
	if *p == nil {
		*p = &v
	}
}

// LookingGlassMemoryMB is the IVSHMEM size Looking Glass documents for a
// resolution: two 32-bit frames plus 10 MiB, rounded up to a power of two.
func LookingGlassMemoryMB(width, height int) int {
	if width <= 0 || height <= 0 || width > maxLookingGlassSide || height > maxLookingGlassSide {
		return 0
	}
	need := (uint64(width)*uint64(height)*4*2 + 10*units.MiB + units.MiB - 1) / units.MiB
	size := 1
	for uint64(size) < need {
		size *= 2
	}
	return size
}

// maxLookingGlassSide bounds the resolution (16K), far beyond any screen.
const maxLookingGlassSide = 16384

// uuidNamespace is deskvm's own namespace for name-derived (v5) UUIDs.
var uuidNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/deskvm/deskvm/vm"))

// UUIDFor is the UUID of a VM that sets none: a version 5 UUID of its name,
// so every define of the same VM uses the same UUID.
func UUIDFor(name string) string {
	return uuid.NewSHA1(uuidNamespace, []byte(name)).String()
}

// MACFor is the MAC address of a VM that sets none: QEMU's locally
// administered prefix 52:54:00 and three bytes of a hash of the name, so
// that redefining a VM does not give its guest a new network card.
func MACFor(name string) string {
	h := sha256.Sum256([]byte("deskvm-mac\x00" + name))
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", h[0], h[1], h[2])
}

// EnabledVMs are the names of the VMs deskvm defines, sorted; none when
// the config as a whole is disabled.
func (c *Config) EnabledVMs() []string {
	if c.Enable != nil && !*c.Enable {
		return nil
	}
	var names []string
	for name, vm := range c.VMs {
		if vm != nil && vm.Enabled() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// VMNames are the names of every VM in the config, enabled or not, sorted.
func (c *Config) VMNames() []string {
	names := make([]string, 0, len(c.VMs))
	for name := range c.VMs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Enabled reports whether the VM is to be defined (unset means yes).
func (vm *VM) Enabled() bool { return vm.Enable == nil || *vm.Enable }

// PinnedCPUs is the parsed cpuPinning list, one CPU set per vCPU; nil for
// no pinning or "auto".
func (vm *VM) PinnedCPUs() ([][]int, error) {
	var out [][]int
	for i, s := range vm.CPUPinning.Sets {
		cpus, err := ParseCPUSet(s)
		if err != nil {
			return nil, fmt.Errorf("cpuPinning[%d]: %w", i, err)
		}
		out = append(out, cpus)
	}
	return out, nil
}

// NetworkMode splits network into its mode (default, user, bridge, none)
// and, for bridge:NAME, the bridge name.
func (vm *VM) NetworkMode() (mode, bridge string) {
	n := vm.Network
	n = cmp.Or(n, DefaultNetwork)
	if b, ok := strings.CutPrefix(n, "bridge:"); ok {
		return "bridge", b
	}
	return n, ""
}

// PCIAddresses are the parsed pciDevices.
func (vm *VM) PCIAddresses() ([]PCIAddress, error) {
	var out []PCIAddress
	for _, s := range vm.PCIDevices {
		a, err := ParsePCIAddress(s)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// UsesHugepages reports whether the VM's memory is backed by hugepages.
// Hugepages are a global option, so this is the global switch.
func (c *Config) UsesHugepages() bool {
	return c.Hugepages.Enable != nil && *c.Hugepages.Enable
}

// HugepageSizeBytes is hugepages.size in bytes (after FillDefaults).
func (c *Config) HugepageSizeBytes() uint64 { return c.Hugepages.Size.Bytes() }

// HugepageCount is hugepages.count, or when that is 0 the pages the
// enabled VMs need: each VM's memory rounded up to whole pages (a VM
// cannot share a page with another, so this can exceed the total memory
// divided by the page size by less than one page per VM).
func (c *Config) HugepageCount() int {
	if c.Hugepages.Count > 0 {
		return c.Hugepages.Count
	}
	return c.HugepagesFor(c.EnabledVMs())
}

// HugepagesFor is the number of pages of hugepages.size the named VMs
// need (after FillDefaults; 0 for a page size of 0, which Validate reports).
func (c *Config) HugepagesFor(names []string) int {
	size := c.HugepageSizeBytes()
	if size == 0 {
		return 0
	}
	total := 0
	for _, name := range names {
		vm := c.VMs[name]
		if vm == nil {
			continue
		}
		mem := vm.Memory.Bytes()
		total += int((mem + size - 1) / size)
	}
	return total
}
