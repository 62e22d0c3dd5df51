// Package domainxml renders a VM's configuration into a libvirt domain.
// Rendering is pure: the config, the host facts probed once beforehand and
// any secrets the caller read are the only inputs, so the same inputs give
// byte-identical XML on any machine. Everything is built from
// libvirt.org/go/libvirtxml structs, never from text templates.
package domainxml

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/hostfacts"
)

// NVRAMDir is where libvirt keeps per-VM UEFI variable stores.
const NVRAMDir = "/var/lib/libvirt/qemu/nvram"

// LookingGlassShmem is the shmem device name the Looking Glass host
// application opens (/dev/shm/looking-glass).
const LookingGlassShmem = "looking-glass"

// Option adjusts one rendering.
type Option func(*options)

type options struct {
	graphicsPassword string
}

// WithGraphicsPassword sets the SPICE/VNC password. The caller reads
// graphics.passwordFile; rendering never touches files. The password ends
// up in the domain XML, so callers must not log that XML.
func WithGraphicsPassword(pw string) Option {
	return func(o *options) { o.graphicsPassword = pw }
}

// NVRAMPath is the UEFI variable store of VM name.
func NVRAMPath(name string) string { return path.Join(NVRAMDir, name+"_VARS.fd") }

// RenderXML renders VM name of c as a domain XML document.
func RenderXML(c *config.Config, name string, f *hostfacts.Facts, opts ...Option) (string, error) {
	d, err := Render(c, name, f, opts...)
	if err != nil {
		return "", err
	}
	s, err := d.Marshal()
	if err != nil {
		return "", fmt.Errorf("marshal domain %q: %w", name, err)
	}
	return s + "\n", nil
}

// Render builds the libvirt domain of VM name from a defaulted, validated
// config and the host facts. f may be nil (nothing known about the host):
// firmware is then chosen by libvirt and auto pinning leaves vCPUs floating.
func Render(c *config.Config, name string, f *hostfacts.Facts, opts ...Option) (*libvirtxml.Domain, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if c == nil {
		return nil, fmt.Errorf("render %q: no config", name)
	}
	vm := c.VMs[name]
	if vm == nil {
		return nil, fmt.Errorf("render %q: no such vm in the config", name)
	}
	if vm.Enable == nil || !vm.Memory.IsSet() || vm.Network == "" {
		return nil, fmt.Errorf("render %q: the config is not defaulted (config.FillDefaults)", name)
	}
	if f == nil {
		f = &hostfacts.Facts{}
	}
	r := &renderer{c: c, name: name, vm: vm, f: f, o: o}
	return r.domain()
}

type renderer struct {
	c    *config.Config
	name string
	vm   *config.VM
	f    *hostfacts.Facts
	o    options

	d    *libvirtxml.Domain
	args []string // qemu:commandline arguments deskvm adds
}

func (r *renderer) field(f string) string { return "vms." + r.name + "." + f }

// The accessors below read the defaulted config (config.FillDefaults is
// the one place defaults are filled; Render refuses a config without them).

func (r *renderer) accel() config.Accelerator { return r.vm.Accelerator }

func (r *renderer) kvm() bool { return r.accel() == config.AcceleratorKVM }

func (r *renderer) osType() config.OSType { return r.vm.OSType }

func (r *renderer) display() config.Display { return r.vm.Display }

func (r *renderer) firmware() config.Firmware { return r.vm.Firmware }

func (r *renderer) hugepages() bool { return r.c.Hugepages.Enable != nil && *r.c.Hugepages.Enable }

func (r *renderer) domain() (*libvirtxml.Domain, error) {
	vm := r.vm
	if vm.VCPUs < 1 {
		return nil, fmt.Errorf("%s: %d vcpus, need at least 1", r.field("vcpus"), vm.VCPUs)
	}
	mem, cur := vm.Memory.Bytes(), vm.CurrentMemory.Bytes()
	id := vm.UUID
	domType := "kvm"
	if !r.kvm() {
		domType = "qemu"
	}
	r.d = &libvirtxml.Domain{
		Type:          domType,
		Name:          r.name,
		UUID:          id,
		Memory:        &libvirtxml.DomainMemory{Value: uint(mem >> 10), Unit: "KiB"},
		CurrentMemory: &libvirtxml.DomainCurrentMemory{Value: uint(cur >> 10), Unit: "KiB"},
		VCPU:          &libvirtxml.DomainVCPU{Placement: "static", Value: uint(vm.VCPUs)},
		OnPoweroff:    "destroy",
		OnReboot:      "restart",
		OnCrash:       "destroy",
		Devices:       &libvirtxml.DomainDeviceList{},
	}
	steps := []func() error{
		r.memoryBacking,
		r.cpu,
		r.os,
		r.features,
		r.clock,
		r.disks,
		r.controllers,
		r.filesystems,
		r.network,
		r.consoles,
		r.graphics,
		r.inputs,
		r.tpm,
		r.misc,
		r.hostdevs,
		r.extraDevices,
		r.qemuCommandline,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := r.metadata(); err != nil {
		return nil, err
	}
	return r.d, nil
}

// metadata marks the domain as deskvm's and records the hash plan compares
// to decide "unchanged". The hash covers the VM's config and the rendered
// definition: auto pinning depends on the other VMs, firmware and
// virtiofsd paths on the host, and a change there must redefine the
// domain as much as a change of the VM's own options. Display passwords
// are left out: the metadata is readable without libvirt's secure flag
// (plan compares passwords separately).
func (r *renderer) metadata() error {
	var restore []func()
	for i := range r.d.Devices.Graphics {
		g := &r.d.Devices.Graphics[i]
		if g.VNC != nil && g.VNC.Passwd != "" {
			vnc, pw := g.VNC, g.VNC.Passwd
			vnc.Passwd = ""
			restore = append(restore, func() { vnc.Passwd = pw })
		}
		if g.Spice != nil && g.Spice.Passwd != "" {
			spice, pw := g.Spice, g.Spice.Passwd
			spice.Passwd = ""
			restore = append(restore, func() { spice.Passwd = pw })
		}
	}
	doc, err := r.d.Marshal()
	for _, f := range restore {
		f()
	}
	if err != nil {
		return fmt.Errorf("render %q: %w", r.name, err)
	}
	sum := sha256.Sum256([]byte(config.Hash(r.vm, r.c) + "\n" + doc))
	md, err := Metadata{ManagedBy: ManagedBy, ConfigHash: hex.EncodeToString(sum[:])}.innerXML()
	if err != nil {
		return err
	}
	r.d.Metadata = &libvirtxml.DomainMetadata{XML: md}
	return nil
}

func (r *renderer) memoryBacking() error {
	shared := len(r.vm.SharedFolders) > 0
	mb := &libvirtxml.DomainMemoryBacking{}
	if r.hugepages() {
		b := r.c.HugepageSizeBytes()
		// Always with a size: a bare <hugepages/> means the default (2M)
		// pool even when 1G pages were reserved.
		mb.MemoryHugePages = &libvirtxml.DomainMemoryHugepages{
			Hugepages: []libvirtxml.DomainMemoryHugepage{{Size: uint(b >> 10), Unit: "KiB"}},
		}
	} else if shared {
		// virtiofsd maps guest RAM, so it must be a shareable file: memfd.
		mb.MemorySource = &libvirtxml.DomainMemorySource{Type: "memfd"}
	}
	if shared {
		mb.MemoryAccess = &libvirtxml.DomainMemoryAccess{Mode: "shared"}
	}
	if *mb != (libvirtxml.DomainMemoryBacking{}) {
		r.d.MemoryBacking = mb
	}
	return nil
}

// macOSCPUFeatures are the flags OpenCore-based macOS guests expect on
// top of Penryn (as the OSX-KVM project passes them).
var macOSCPUFeatures = []string{"ssse3", "sse4.2", "popcnt", "avx", "aes", "xsave", "xsaveopt"}

func (r *renderer) cpu() error {
	vm := r.vm
	p, err := vmPinning(r.c, r.name, vm, r.f)
	if err != nil {
		return err
	}
	tune := &libvirtxml.DomainCPUTune{}
	for i, set := range p.sets {
		if len(set) == 0 {
			continue
		}
		tune.VCPUPin = append(tune.VCPUPin, libvirtxml.DomainCPUTuneVCPUPin{VCPU: uint(i), CPUSet: formatCPUSet(set)})
	}
	if vm.EmulatorPin != "" {
		set, err := parseCPUSet(vm.EmulatorPin)
		if err != nil {
			return fmt.Errorf("%s: %w", r.field("emulatorPin"), err)
		}
		tune.EmulatorPin = &libvirtxml.DomainCPUTuneEmulatorPin{CPUSet: formatCPUSet(set)}
	}
	if vm.IOThreads > 0 {
		r.d.IOThreads = uint(vm.IOThreads)
		if vm.IOThreadPin != "" {
			set, err := parseCPUSet(vm.IOThreadPin)
			if err != nil {
				return fmt.Errorf("%s: %w", r.field("iothreadPin"), err)
			}
			for i := 1; i <= vm.IOThreads; i++ {
				tune.IOThreadPin = append(tune.IOThreadPin, libvirtxml.DomainCPUTuneIOThreadPin{IOThread: uint(i), CPUSet: formatCPUSet(set)})
			}
		}
	}
	if len(tune.VCPUPin) > 0 || tune.EmulatorPin != nil || len(tune.IOThreadPin) > 0 {
		r.d.CPUTune = tune
	}

	threads := p.threads
	if threads < 1 || vm.VCPUs%threads != 0 {
		threads = 1
	}
	// One socket: Windows client editions use at most two sockets, and a
	// single socket with N cores is what a desktop CPU looks like.
	topo := &libvirtxml.DomainCPUTopology{Sockets: 1, Dies: 1, Cores: vm.VCPUs / threads, Threads: threads}
	cpu := &libvirtxml.DomainCPU{Topology: topo}
	switch {
	case r.osType() == config.OSMacOS:
		cpu.Mode = "custom"
		cpu.Match = "exact"
		cpu.Check = "none"
		cpu.Model = &libvirtxml.DomainCPUModel{Fallback: "forbid", Value: "Penryn"}
		policy := "require"
		if !r.kvm() {
			// TCG lacks some of these (e.g. AVX before QEMU 7.2); optional
			// keeps the domain startable there.
			policy = "optional"
		}
		for _, ft := range macOSCPUFeatures {
			cpu.Features = append(cpu.Features, libvirtxml.DomainCPUFeature{Policy: policy, Name: ft})
		}
		if r.kvm() {
			// Invariant TSC lets macOS trust its clock; only KVM provides it.
			cpu.Features = append(cpu.Features, libvirtxml.DomainCPUFeature{Policy: "require", Name: "invtsc"})
		}
	case r.kvm():
		cpu.Mode = "host-passthrough"
		cpu.Check = "none"
		cpu.Migratable = "on"
	default:
		// QEMU's "max" model: every feature TCG can emulate.
		cpu.Mode = "maximum"
		cpu.Check = "none"
		cpu.Migratable = "on"
	}
	r.d.CPU = cpu
	return nil
}

func (r *renderer) os() error {
	vm := r.vm
	o := &libvirtxml.DomainOS{
		Type: &libvirtxml.DomainOSType{Arch: "x86_64", Machine: "q35", Type: "hvm"},
	}
	if r.firmware() == config.FirmwareUEFI {
		fw := r.f.Firmware
		code, vars := fw.Code, fw.Vars
		secure := ""
		if vm.SecureBoot {
			code, vars, secure = fw.SecureBootCode, fw.SecureVars, "yes"
		}
		if code != "" && vars != "" {
			o.Loader = &libvirtxml.DomainLoader{Path: code, Readonly: "yes", Secure: secure, Type: "pflash"}
			o.NVRam = &libvirtxml.DomainNVRam{NVRam: NVRAMPath(r.name), Template: vars}
		} else {
			// The host's firmware is unknown (rendered elsewhere, or OVMF
			// missing): let libvirt pick from its firmware descriptors.
			o.Firmware = "efi"
			sb := "no"
			if vm.SecureBoot {
				sb = "yes"
			}
			o.FirmwareInfo = &libvirtxml.DomainOSFirmwareInfo{Features: []libvirtxml.DomainOSFirmwareFeature{
				{Enabled: sb, Name: "enrolled-keys"},
				{Enabled: sb, Name: "secure-boot"},
			}}
			o.NVRam = &libvirtxml.DomainNVRam{NVRam: NVRAMPath(r.name)}
		}
	}
	if vm.Boot != nil && vm.Boot.Kernel != "" {
		o.Kernel = vm.Boot.Kernel
		o.Initrd = vm.Boot.Initrd
		o.Cmdline = vm.Boot.Cmdline
	}
	// Disk first: a blank disk falls through to the CD-ROM (installers),
	// an installed system boots straight from its disk.
	o.BootDevices = []libvirtxml.DomainBootDevice{{Dev: "hd"}}
	if len(vm.CDROMs) > 0 {
		o.BootDevices = append(o.BootDevices, libvirtxml.DomainBootDevice{Dev: "cdrom"})
	}
	r.d.OS = o
	return nil
}

func on() *libvirtxml.DomainFeatureState { return &libvirtxml.DomainFeatureState{State: "on"} }

func (r *renderer) features() error {
	fl := &libvirtxml.DomainFeatureList{
		ACPI:   &libvirtxml.DomainFeature{},
		APIC:   &libvirtxml.DomainFeatureAPIC{},
		VMPort: &libvirtxml.DomainFeatureState{State: "off"},
	}
	if r.vm.SecureBoot {
		// OVMF's secure-boot build refuses to run without SMM, and libvirt
		// refuses to define it ("Secure boot requires SMM").
		fl.SMM = &libvirtxml.DomainFeatureSMM{State: "on"}
	}
	if r.osType() == config.OSWindows {
		hv := &libvirtxml.DomainFeatureHyperV{
			Mode:        "custom",
			Relaxed:     on(),
			VAPIC:       on(),
			Spinlocks:   &libvirtxml.DomainFeatureHyperVSpinlocks{DomainFeatureState: *on(), Retries: 8191},
			Runtime:     on(),
			Reset:       on(),
			Frequencies: on(),
		}
		if r.kvm() {
			// These need the kernel's Hyper-V emulation: under TCG QEMU
			// exits with "kernel doesn't allow setting HyperV VP_INDEX",
			// and the others depend on VP_INDEX.
			hv.VPIndex = on()
			hv.Synic = on()
			hv.STimer = &libvirtxml.DomainFeatureHyperVSTimer{DomainFeatureState: *on()}
			hv.TLBFlush = &libvirtxml.DomainFeatureHyperVTLBFlush{DomainFeatureState: *on()}
			hv.IPI = on()
		}
		fl.HyperV = hv
	}
	r.d.Features = fl
	return nil
}

func (r *renderer) clock() error {
	ck := &libvirtxml.DomainClock{Offset: "utc"}
	ck.Timer = []libvirtxml.DomainTimer{
		{Name: "rtc", TickPolicy: "catchup"},
		{Name: "pit", TickPolicy: "delay"},
		{Name: "hpet", Present: "no"},
	}
	if r.osType() == config.OSWindows {
		// Windows keeps the RTC in local time.
		ck.Offset = "localtime"
		ck.Timer = append(ck.Timer, libvirtxml.DomainTimer{Name: "hypervclock", Present: "yes"})
	}
	r.d.Clock = ck
	return nil
}

func (r *renderer) diskBus() string { return r.vm.Disk.Bus }

// DiskPath is where the VM's system disk lives when it is in the default
// pool: <defaultStoragePath>/<name>.qcow2.
func DiskPath(c *config.Config, name string) string {
	dir := c.DefaultStoragePath
	if dir == "" {
		dir = "/var/lib/libvirt/images"
	}
	return path.Join(dir, name+".qcow2")
}

// DiskVolume is the volume name of a VM's system disk in its pool.
func DiskVolume(name string) string { return name + ".qcow2" }

func (r *renderer) disks() error {
	vm := r.vm
	bus := r.diskBus()
	driver := &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "qcow2", Discard: "unmap"}
	if bus == "virtio" && vm.IOThreads > 0 {
		one := uint(1)
		driver.IOThread = &one
	}
	disk := libvirtxml.DomainDisk{Device: "disk", Driver: driver}
	pool := vm.StoragePool
	if pool == "" || pool == r.c.DefaultStoragePool {
		disk.Source = &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: DiskPath(r.c, r.name)}}
	} else {
		// The config names no directory for other pools; libvirt resolves
		// the volume to its path at start.
		disk.Source = &libvirtxml.DomainDiskSource{Volume: &libvirtxml.DomainDiskSourceVolume{Pool: pool, Volume: DiskVolume(r.name)}}
	}
	sd := 0 // next sdX letter, shared by SATA and SCSI disks and CD-ROMs
	switch bus {
	case "virtio":
		disk.Target = &libvirtxml.DomainDiskTarget{Dev: "vda", Bus: "virtio"}
	case "sata", "scsi":
		disk.Target = &libvirtxml.DomainDiskTarget{Dev: sdName(sd), Bus: bus}
		sd++
	default:
		return fmt.Errorf("%s: unknown bus %q", r.field("disk.bus"), bus)
	}
	r.d.Devices.Disks = append(r.d.Devices.Disks, disk)
	for _, iso := range vm.CDROMs {
		r.d.Devices.Disks = append(r.d.Devices.Disks, libvirtxml.DomainDisk{
			Device:   "cdrom",
			Driver:   &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "raw"},
			Source:   &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: iso}},
			Target:   &libvirtxml.DomainDiskTarget{Dev: sdName(sd), Bus: "sata"},
			ReadOnly: &libvirtxml.DomainDiskReadOnly{},
		})
		sd++
	}
	return nil
}

// sdName is sda, sdb, ..., sdz, sdaa, ...
func sdName(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('a'+(i-1)%26)) + s
	}
	return "sd" + s
}

func (r *renderer) controllers() error {
	ports := uint(15)
	r.d.Devices.Controllers = append(r.d.Devices.Controllers, libvirtxml.DomainController{
		Type: "usb", Model: "qemu-xhci", USB: &libvirtxml.DomainControllerUSB{Port: &ports},
	})
	if r.diskBus() == "scsi" {
		ctl := libvirtxml.DomainController{Type: "scsi", Model: "virtio-scsi"}
		if r.vm.IOThreads > 0 {
			ctl.Driver = &libvirtxml.DomainControllerDriver{IOThread: 1}
		}
		r.d.Devices.Controllers = append(r.d.Devices.Controllers, ctl)
	}
	return nil
}

func (r *renderer) filesystems() error {
	tags := make([]string, 0, len(r.vm.SharedFolders))
	for tag := range r.vm.SharedFolders {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	for _, tag := range tags {
		fs := libvirtxml.DomainFilesystem{
			AccessMode: "passthrough",
			Driver:     &libvirtxml.DomainFilesystemDriver{Type: "virtiofs"},
			Source:     &libvirtxml.DomainFilesystemSource{Mount: &libvirtxml.DomainFilesystemSourceMount{Dir: r.vm.SharedFolders[tag]}},
			Target:     &libvirtxml.DomainFilesystemTarget{Dir: tag},
		}
		if r.f.VirtiofsdPath != "" {
			fs.Binary = &libvirtxml.DomainFilesystemBinary{Path: r.f.VirtiofsdPath}
		}
		r.d.Devices.Filesystems = append(r.d.Devices.Filesystems, fs)
	}
	return nil
}

func (r *renderer) nicModel() string {
	switch r.osType() {
	case config.OSMacOS:
		// macOS ships a driver for the Intel 82545EM; not for virtio-net on older releases.
		return "e1000-82545em"
	default:
		return "virtio"
	}
}

func (r *renderer) network() error {
	vm := r.vm
	mac := strings.ToLower(vm.MACAddress)
	iface := libvirtxml.DomainInterface{
		MAC:   &libvirtxml.DomainInterfaceMAC{Address: mac},
		Model: &libvirtxml.DomainInterfaceModel{Type: r.nicModel()},
	}
	netw := vm.Network
	switch {
	case netw == "none":
		return nil
	case netw == "default":
		iface.Source = &libvirtxml.DomainInterfaceSource{Network: &libvirtxml.DomainInterfaceSourceNetwork{Network: "default"}}
	case netw == "user" && len(vm.PortForwards) > 0:
		// libvirt 9 supports <portForward> only with the passt backend,
		// which is not installed everywhere. QEMU's own slirp does port
		// forwarding (hostfwd), so this NIC is given to QEMU directly.
		r.userNetWithForwards(mac)
		return nil
	case netw == "user":
		iface.Source = &libvirtxml.DomainInterfaceSource{User: &libvirtxml.DomainInterfaceSourceUser{}}
	case strings.HasPrefix(netw, "bridge:") && len(netw) > len("bridge:"):
		iface.Source = &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: strings.TrimPrefix(netw, "bridge:")}}
	default:
		return fmt.Errorf("%s: %q is not default, user, bridge:NAME or none", r.field("network"), netw)
	}
	r.d.Devices.Interfaces = append(r.d.Devices.Interfaces, iface)
	return nil
}

// userNetID is the QEMU id of the user-mode netdev deskvm adds itself.
const userNetID = "deskvmnet0"

func (r *renderer) userNetWithForwards(mac string) {
	netdev := "user,id=" + userNetID
	for _, pf := range r.vm.PortForwards {
		proto := pf.Protocol
		addr := pf.Address
		netdev += fmt.Sprintf(",hostfwd=%s:%s:%d-:%d", proto, addr, pf.Host, pf.Guest)
	}
	dev := "virtio-net-pci"
	if r.nicModel() != "virtio" {
		dev = r.nicModel()
	}
	// JSON syntax matters: QEMU creates JSON -device options after the
	// classic ones, and libvirt's devices are JSON with fixed PCI
	// addresses. A classic -device would be placed first and could take a
	// slot libvirt assigned (e.g. the video card's).
	r.args = append(r.args, "-netdev", netdev, "-device",
		fmt.Sprintf(`{"driver":%q,"netdev":%q,"mac":%q,"id":%q}`, dev, userNetID, mac, userNetID+"-nic"))
}

func (r *renderer) consoles() error {
	port := uint(0)
	r.d.Devices.Serials = append(r.d.Devices.Serials, libvirtxml.DomainSerial{
		Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
		Target: &libvirtxml.DomainSerialTarget{Type: "isa-serial", Port: &port},
	})
	cport := uint(0)
	r.d.Devices.Consoles = append(r.d.Devices.Consoles, libvirtxml.DomainConsole{
		Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
		Target: &libvirtxml.DomainConsoleTarget{Type: "serial", Port: &cport},
	})
	r.d.Devices.Channels = append(r.d.Devices.Channels, libvirtxml.DomainChannel{
		Source: &libvirtxml.DomainChardevSource{UNIX: &libvirtxml.DomainChardevSourceUNIX{Mode: "bind"}},
		Target: &libvirtxml.DomainChannelTarget{VirtIO: &libvirtxml.DomainChannelTargetVirtIO{Name: "org.qemu.guest_agent.0"}},
	})
	return nil
}

func (r *renderer) listen() string {
	return r.vm.Graphics.Listen
}

func (r *renderer) spice() libvirtxml.DomainGraphic {
	g := &libvirtxml.DomainGraphicSpice{
		AutoPort:  "yes",
		Passwd:    r.o.graphicsPassword,
		Listeners: []libvirtxml.DomainGraphicListener{{Address: &libvirtxml.DomainGraphicListenerAddress{Address: r.listen()}}},
		Image:     &libvirtxml.DomainGraphicSpiceImage{Compression: "off"},
	}
	if p := r.vm.Graphics.Port; p > 0 {
		g.AutoPort, g.Port = "no", p
	}
	return libvirtxml.DomainGraphic{Spice: g}
}

func (r *renderer) spiceChannels() {
	dev := r.d.Devices
	dev.Channels = append(dev.Channels, libvirtxml.DomainChannel{
		Source: &libvirtxml.DomainChardevSource{SpiceVMC: &libvirtxml.DomainChardevSourceSpiceVMC{}},
		Target: &libvirtxml.DomainChannelTarget{VirtIO: &libvirtxml.DomainChannelTargetVirtIO{Name: "com.redhat.spice.0"}},
	})
	for i := 0; i < 2; i++ {
		dev.RedirDevs = append(dev.RedirDevs, libvirtxml.DomainRedirDev{
			Bus:    "usb",
			Source: &libvirtxml.DomainChardevSource{SpiceVMC: &libvirtxml.DomainChardevSourceSpiceVMC{}},
		})
	}
}

func (r *renderer) videoModel() string {
	if r.osType() == config.OSMacOS {
		return "vga"
	}
	return "virtio"
}

func (r *renderer) graphics() error {
	dev := r.d.Devices
	video := func(model string) {
		dev.Videos = append(dev.Videos, libvirtxml.DomainVideo{Model: libvirtxml.DomainVideoModel{Type: model}})
	}
	switch r.display() {
	case config.DisplaySpice:
		dev.Graphics = append(dev.Graphics, r.spice())
		r.spiceChannels()
		video(r.videoModel())
	case config.DisplayVNC:
		// The VNC protocol's DES challenge uses 8 bytes; libvirt refuses more.
		if n := len(r.o.graphicsPassword); n > 8 {
			return fmt.Errorf("%s: VNC password is %d characters, VNC allows at most 8", r.field("graphics.passwordFile"), n)
		}
		g := &libvirtxml.DomainGraphicVNC{
			AutoPort:  "yes",
			Passwd:    r.o.graphicsPassword,
			Listeners: []libvirtxml.DomainGraphicListener{{Address: &libvirtxml.DomainGraphicListenerAddress{Address: r.listen()}}},
		}
		if p := r.vm.Graphics.Port; p > 0 {
			g.AutoPort, g.Port = "no", p
		}
		dev.Graphics = append(dev.Graphics, libvirtxml.DomainGraphic{VNC: g})
		video(r.videoModel())
	case config.DisplayLookingGlass:
		// Looking Glass shows the frames of a passed-through GPU; SPICE
		// carries keyboard and mouse (and the clipboard via vdagent).
		dev.Graphics = append(dev.Graphics, r.spice())
		r.spiceChannels()
		// A plain VGA adapter for firmware and installer screens; the
		// guest's real output is the passed-through GPU.
		video("vga")
		size := uint(r.vm.LookingGlass.SharedMemoryMB)
		if size == 0 {
			// FillDefaults computes it; this covers an undefaulted config.
			w, h := r.vm.LookingGlass.Width, r.vm.LookingGlass.Height
			if w == 0 || h == 0 {
				w, h = config.DefaultLookingGlassWidth, config.DefaultLookingGlassHeight
			}
			size = uint(config.LookingGlassMemoryMB(w, h))
		}
		dev.Shmems = append(dev.Shmems, libvirtxml.DomainShmem{
			Name:  LookingGlassShmem,
			Model: &libvirtxml.DomainShmemModel{Type: "ivshmem-plain"},
			Size:  &libvirtxml.DomainShmemSize{Value: size, Unit: "M"},
		})
		dev.Inputs = append(dev.Inputs,
			libvirtxml.DomainInput{Type: "mouse", Bus: "virtio"},
			libvirtxml.DomainInput{Type: "keyboard", Bus: "virtio"})
	case config.DisplayNone:
		video("none")
	default:
		return fmt.Errorf("%s: unknown display %q", r.field("display"), r.display())
	}
	return nil
}

func (r *renderer) inputs() error {
	dev := r.d.Devices
	if r.display() != config.DisplayNone {
		// An absolute pointer, so the cursor follows the viewer's.
		dev.Inputs = append(dev.Inputs, libvirtxml.DomainInput{Type: "tablet", Bus: "usb"})
	}
	if r.osType() == config.OSMacOS {
		// macOS has no PS/2 driver.
		dev.Inputs = append(dev.Inputs, libvirtxml.DomainInput{Type: "keyboard", Bus: "usb"})
	}
	return nil
}

func (r *renderer) tpm() error {
	if !r.vm.TPM {
		return nil
	}
	r.d.Devices.TPMs = append(r.d.Devices.TPMs, libvirtxml.DomainTPM{
		Model:   "tpm-crb",
		Backend: &libvirtxml.DomainTPMBackend{Emulator: &libvirtxml.DomainTPMBackendEmulator{Version: "2.0"}},
	})
	return nil
}

func (r *renderer) misc() error {
	dev := r.d.Devices
	mb := r.vm.Memballoon
	if mb.Enable == nil || *mb.Enable {
		b := &libvirtxml.DomainMemBalloon{Model: "virtio", AutoDeflate: onOff(mb.Autodeflate), FreePageReporting: onOff(mb.FreePageReporting)}
		if mb.StatsInterval != nil && *mb.StatsInterval > 0 {
			b.Stats = &libvirtxml.DomainMemBalloonStats{Period: uint(*mb.StatsInterval)}
		}
		dev.MemBalloon = b
	} else {
		dev.MemBalloon = &libvirtxml.DomainMemBalloon{Model: "none"}
	}
	if r.osType() != config.OSMacOS {
		dev.RNGs = append(dev.RNGs, libvirtxml.DomainRNG{
			Model:   "virtio",
			Backend: &libvirtxml.DomainRNGBackend{Random: &libvirtxml.DomainRNGBackendRandom{Device: "/dev/urandom"}},
		})
	}
	if r.osType() == config.OSMacOS {
		// The Apple SMC is an ISA device libvirt has no element for. Its
		// OSK key is not shipped here: QEMU uses a dummy key without one,
		// and users supply the real one with extraQemuArgs
		// ["-global", "isa-applesmc.osk=..."] (see docs/config.md).
		r.args = append(r.args, "-device", `{"driver":"isa-applesmc"}`)
	}
	return nil
}

func onOff(b *bool) string {
	if b == nil {
		return ""
	}
	if *b {
		return "on"
	}
	return "off"
}

func (r *renderer) hostdevs() error {
	for i, a := range r.vm.PCIDevices {
		pa, err := config.ParsePCIAddress(a)
		if err != nil {
			return fmt.Errorf("%s[%d]: %w", r.field("pciDevices"), i, err)
		}
		dom, bus, slot, fn := uint(pa.Domain), uint(pa.Bus), uint(pa.Slot), uint(pa.Function)
		addr := &libvirtxml.DomainAddressPCI{Domain: &dom, Bus: &bus, Slot: &slot, Function: &fn}
		r.d.Devices.Hostdevs = append(r.d.Devices.Hostdevs, libvirtxml.DomainHostdev{
			Managed:   "yes",
			SubsysPCI: &libvirtxml.DomainHostdevSubsysPCI{Source: &libvirtxml.DomainHostdevSubsysPCISource{Address: addr}},
		})
	}
	return nil
}

func (r *renderer) extraDevices() error {
	if strings.TrimSpace(r.vm.ExtraDevices) == "" {
		return nil
	}
	extra, err := ParseExtraDevices(r.vm.ExtraDevices)
	if err != nil {
		return fmt.Errorf("%s: %w", r.field("extraDevices"), err)
	}
	mergeDevices(r.d.Devices, extra)
	return nil
}

func (r *renderer) qemuCommandline() error {
	args := append(append([]string(nil), r.args...), r.vm.ExtraQemuArgs...)
	if len(args) == 0 {
		return nil
	}
	cl := &libvirtxml.DomainQEMUCommandline{}
	for _, a := range args {
		cl.Args = append(cl.Args, libvirtxml.DomainQEMUCommandlineArg{Value: a})
	}
	r.d.QEMUCommandline = cl
	return nil
}
