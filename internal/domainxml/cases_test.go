package domainxml

import (
	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/units"
)

// The golden cases: one per option, osType, display, accelerator, network
// mode and pinning form. Each sets only what it is about and lets
// config.FillDefaults complete the config, as every caller of Render does.

func ptr[T any](v T) *T { return &v }

// deskHost is a typical desktop: 8 cores with SMT (Intel numbering, CPU n
// and n+8 share a core), KVM, Debian's OVMF and virtiofsd, 2M and 1G pages.
func deskHost() *hostfacts.Facts {
	f := &hostfacts.Facts{
		KVM: true,
		Firmware: hostfacts.Firmware{
			Code:           "/usr/share/OVMF/OVMF_CODE_4M.fd",
			Vars:           "/usr/share/OVMF/OVMF_VARS_4M.fd",
			SecureBootCode: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
			SecureVars:     "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
			MSKeys:         true,
		},
		VirtiofsdPath:    "/usr/lib/qemu/virtiofsd",
		HugepageSizesKiB: []uint64{2048, 1048576},
		Hugepages:        map[uint64]hostfacts.HugepagePool{2048: {Total: 8192, Free: 8192}, 1048576: {}},
		LibvirtVersion:   9000000,
		QEMUVersion:      7002000,
	}
	for i := 0; i < 16; i++ {
		core := i % 8
		f.CPUs = append(f.CPUs, hostfacts.CPU{ID: i, Core: core, Siblings: []int{core, core + 8}})
	}
	return f
}

// newVM is a VM that sets nothing; config.FillDefaults completes it.
func newVM() *config.VM { return &config.VM{} }

func newConfig(vms map[string]*config.VM) *config.Config {
	return &config.Config{VMs: vms}
}

type goldenCase struct {
	name  string // testdata/<name>.golden; also the VM's name
	build func() (*config.Config, *hostfacts.Facts)
	opts  []Option
	// kvmOnly cases are checked by virt-xml-validate alone: libvirt here
	// (no /dev/kvm) refuses to define type='kvm'.
	kvmOnly bool
}

// one makes a case of a single VM, the defaults changed by edit.
func one(name string, kvmOnly bool, edit func(c *config.Config, vm *config.VM)) goldenCase {
	return goldenCase{name: name, kvmOnly: kvmOnly, build: func() (*config.Config, *hostfacts.Facts) {
		vm := newVM()
		if !kvmOnly {
			vm.Accelerator = config.AcceleratorTCG
		}
		c := newConfig(map[string]*config.VM{name: vm})
		if edit != nil {
			edit(c, vm)
		}
		config.FillDefaults(c)
		return c, deskHost()
	}}
}

func goldenCases() []goldenCase {
	cases := []goldenCase{
		one("linux-kvm", true, nil),
		one("linux-tcg", false, nil),
		one("windows-kvm", true, func(c *config.Config, vm *config.VM) {
			vm.OSType = config.OSWindows
			vm.Memory, vm.VCPUs, vm.DiskSize = units.MustParseSize("16G"), 4, units.MustParseSize("200G")
			vm.TPM, vm.SecureBoot = true, true
		}),
		one("windows-tcg", false, func(c *config.Config, vm *config.VM) {
			vm.OSType = config.OSWindows
			vm.TPM, vm.SecureBoot = true, true
		}),
		one("macos-kvm", true, func(c *config.Config, vm *config.VM) {
			vm.OSType = config.OSMacOS
			vm.VCPUs = 4 // disk bus defaults to sata for macos
		}),
		one("macos-tcg", false, func(c *config.Config, vm *config.VM) {
			vm.OSType = config.OSMacOS
			vm.ExtraQemuArgs = []string{"-global", "isa-applesmc.osk=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
		}),
		one("display-vnc", false, func(c *config.Config, vm *config.VM) {
			vm.Display = config.DisplayVNC
			vm.Graphics = config.Graphics{Port: 5911}
		}),
		one("display-vnc-password", false, func(c *config.Config, vm *config.VM) {
			vm.Display = config.DisplayVNC
			vm.Graphics = config.Graphics{Listen: "0.0.0.0", PasswordFile: "/etc/deskvm/vnc.pass"}
		}),
		one("display-spice-listen", false, func(c *config.Config, vm *config.VM) {
			vm.Graphics = config.Graphics{Listen: "0.0.0.0", PasswordFile: "/etc/deskvm/spice.pass", Port: 5930}
		}),
		one("display-looking-glass", false, func(c *config.Config, vm *config.VM) {
			vm.OSType = config.OSWindows
			vm.Display = config.DisplayLookingGlass
		}),
		one("display-looking-glass-4k", false, func(c *config.Config, vm *config.VM) {
			vm.OSType = config.OSWindows
			vm.Display = config.DisplayLookingGlass
			vm.LookingGlass = config.LookingGlass{Width: 3840, Height: 2160}
		}),
		one("display-looking-glass-fixed", false, func(c *config.Config, vm *config.VM) {
			vm.Display = config.DisplayLookingGlass
			vm.LookingGlass = config.LookingGlass{SharedMemoryMB: 128}
		}),
		one("display-none", false, func(c *config.Config, vm *config.VM) { vm.Display = config.DisplayNone }),
		one("pinning-list", false, func(c *config.Config, vm *config.VM) {
			// The seed's example: fewer entries than vCPUs; the rest float.
			vm.VCPUs = 8
			vm.CPUPinning = config.CPUPinning{Sets: []string{"0-1", "2-3", "4-5", "6-7"}}
			vm.EmulatorPin = "0"
		}),
		one("pinning-list-smt", false, func(c *config.Config, vm *config.VM) {
			// vCPU pairs on the two threads of host cores 1..3.
			vm.VCPUs = 6
			vm.CPUPinning = config.CPUPinning{Sets: []string{"1", "9", "2", "10", "3", "11"}}
		}),
		one("pinning-auto", false, func(c *config.Config, vm *config.VM) {
			vm.VCPUs = 8
			vm.CPUPinning = config.CPUPinning{Auto: true}
			vm.EmulatorPin = "0,8"
			vm.IOThreads = 1
			vm.IOThreadPin = "0,8"
			// Another VM holds cores 1 and 2 by list: auto must avoid them.
			other := newVM()
			other.Accelerator = config.AcceleratorTCG
			other.CPUPinning = config.CPUPinning{Sets: []string{"1", "2", "9", "10"}}
			other.VCPUs = 4
			c.VMs["other"] = other
		}),
		one("iothreads-scsi", false, func(c *config.Config, vm *config.VM) {
			vm.IOThreads = 2
			vm.IOThreadPin = "2-3"
			vm.Disk = config.Disk{Bus: "scsi"}
		}),
		one("iothreads-virtio", false, func(c *config.Config, vm *config.VM) {
			vm.IOThreads = 1
		}),
		one("hugepages-2m", false, func(c *config.Config, vm *config.VM) {
			c.Profile = config.ProfileAlwaysOn
			c.Profile = config.ProfileAlwaysOn // hugepages on, balloon extras off
		}),
		one("hugepages-1g", false, func(c *config.Config, vm *config.VM) {
			c.Profile = config.ProfileAlwaysOn
			c.Hugepages = config.Hugepages{Size: units.MustParseSize("1G"), Count: 4}
		}),
		one("virtiofs", false, func(c *config.Config, vm *config.VM) {
			vm.SharedFolders = map[string]string{"projects": "/home/user/projects", "downloads": "/home/user/Downloads"}
		}),
		one("virtiofs-hugepages", false, func(c *config.Config, vm *config.VM) {
			c.Hugepages = config.Hugepages{Enable: ptr(true)}
			vm.SharedFolders = map[string]string{"projects": "/home/user/projects"}
		}),
		one("memballoon-off", false, func(c *config.Config, vm *config.VM) {
			vm.Memballoon = config.Memballoon{Enable: ptr(false)}
		}),
		one("memballoon-nostats", false, func(c *config.Config, vm *config.VM) {
			vm.Memballoon = config.Memballoon{Enable: ptr(true), Autodeflate: ptr(false), FreePageReporting: ptr(false), StatsInterval: ptr(0)}
			vm.CurrentMemory = units.MustParseSize("2G")
		}),
		one("tpm-linux", false, func(c *config.Config, vm *config.VM) { vm.TPM = true }),
		one("secureboot-linux", false, func(c *config.Config, vm *config.VM) { vm.SecureBoot = true }),
		one("bios", false, func(c *config.Config, vm *config.VM) { vm.Firmware = config.FirmwareBIOS }),
		one("kernel-boot", false, func(c *config.Config, vm *config.VM) {
			vm.Firmware = config.FirmwareBIOS
			vm.Boot = &config.Boot{
				Kernel:  "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux",
				Initrd:  "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/initrd.gz",
				Cmdline: "console=ttyS0 priority=low",
			}
		}),
		one("cdroms", false, func(c *config.Config, vm *config.VM) {
			vm.CDROMs = []string{"/var/lib/libvirt/images/installer.iso", "/var/lib/libvirt/images/virtio-win.iso"}
		}),
		one("disk-sata-pool", false, func(c *config.Config, vm *config.VM) {
			vm.Disk = config.Disk{Bus: "sata", BaseImage: "/var/lib/deskvm/images/debian-12.qcow2"}
			vm.StoragePool = "fast"
			vm.CDROMs = []string{"/srv/iso/debian.iso"}
		}),
		one("network-user", false, func(c *config.Config, vm *config.VM) { vm.Network = "user" }),
		one("network-user-forwards", false, func(c *config.Config, vm *config.VM) {
			vm.Network = "user"
			vm.MACAddress = "52:54:00:AB:CD:EF"
			vm.PortForwards = []config.PortForward{
				{Host: 2222, Guest: 22},
				{Protocol: "udp", Address: "0.0.0.0", Host: 6000, Guest: 6000},
			}
		}),
		one("network-bridge", false, func(c *config.Config, vm *config.VM) {
			vm.Network = "bridge:br0"
			vm.MACAddress = "52:54:00:12:34:56"
		}),
		one("network-none", false, func(c *config.Config, vm *config.VM) { vm.Network = "none" }),
		one("uuid-fixed", false, func(c *config.Config, vm *config.VM) { vm.UUID = "550e8400-e29b-41d4-a716-446655440000" }),
		one("extra-devices", false, func(c *config.Config, vm *config.VM) {
			vm.ExtraDevices = `
    <watchdog model="i6300esb" action="reset"/>
    <sound model="ich9"/>
    <panic model="isa"/>
  `
		}),
		one("pci-devices", false, func(c *config.Config, vm *config.VM) {
			vm.PCIDevices = []string{"0000:01:00.0", "01:00.1"}
		}),
		one("extra-qemu-args", false, func(c *config.Config, vm *config.VM) {
			vm.ExtraQemuArgs = []string{"-fw_cfg", "name=opt/deskvm/hello,string=world"}
		}),
		// Most options at once; the integration test starts it, so QEMU
		// itself checks that they work together under TCG.
		one("combined-tcg", false, func(c *config.Config, vm *config.VM) {
			vm.OSType = config.OSWindows
			vm.TPM, vm.SecureBoot = true, true
			vm.Display = config.DisplayLookingGlass
			vm.SharedFolders = map[string]string{"share": "/srv/share"}
			vm.Network = "user"
			vm.PortForwards = []config.PortForward{{Host: 3389, Guest: 3389}}
			vm.IOThreads = 1
			vm.CDROMs = []string{"/srv/iso/win11.iso"}
			vm.ExtraDevices = `<watchdog model="i6300esb" action="reset"/>`
			vm.ExtraQemuArgs = []string{"-fw_cfg", "name=opt/deskvm/combined,string=1"}
		}),
		// Rendered on a machine that knows nothing of the VM host:
		// libvirt picks the firmware, auto pinning floats.
		{name: "unknown-host", build: func() (*config.Config, *hostfacts.Facts) {
			vm := newVM()
			vm.Accelerator = config.AcceleratorTCG
			vm.SecureBoot = true
			vm.CPUPinning = config.CPUPinning{Auto: true}
			vm.SharedFolders = map[string]string{"home": "/home"}
			c := newConfig(map[string]*config.VM{"unknown-host": vm})
			config.FillDefaults(c)
			return c, nil
		}},
	}
	// Passwords come from graphics.passwordFile through an option (the
	// caller reads the file); the goldens show where they land.
	for i := range cases {
		switch cases[i].name {
		case "display-vnc-password":
			cases[i].opts = []Option{WithGraphicsPassword("p&<w>d")} // VNC allows 8 characters
		case "display-spice-listen":
			cases[i].opts = []Option{WithGraphicsPassword("s3cret&<pw>")}
		}
	}
	return cases
}
