// Package config holds deskvm's configuration: the option tree of the
// NixOS option virtualisation.desktopVMs (seed names, camelCase) plus
// deskvm's additions. This file has the types only; loading, defaulting
// and validation are separate steps (Load, FillDefaults, Validate).
//
// Options whose default depends on the profile are pointers, so that "not
// set" differs from "false"; after FillDefaults every pointer is non-nil.
package config

import "github.com/deskvm/deskvm/internal/units"

// Profile selects defaults for several options (seed "Profiles").
type Profile string

const (
	ProfileOccasional Profile = "occasional"
	ProfileAlwaysOn   Profile = "always-on"
)

// Accelerator is the hypervisor: KVM or QEMU's TCG emulation.
type Accelerator string

const (
	AcceleratorKVM Accelerator = "kvm"
	AcceleratorTCG Accelerator = "tcg"
)

// OSType tunes the domain for a guest operating system.
type OSType string

const (
	OSWindows OSType = "windows"
	OSLinux   OSType = "linux"
	OSMacOS   OSType = "macos"
)

// Display is how a person sees the guest.
type Display string

const (
	DisplaySpice        Display = "spice"
	DisplayVNC          Display = "vnc"
	DisplayLookingGlass Display = "looking-glass"
	DisplayNone         Display = "none"
)

// Firmware is the guest firmware.
type Firmware string

const (
	FirmwareUEFI Firmware = "uefi"
	FirmwareBIOS Firmware = "bios"
)

// Config is the whole file.
type Config struct {
	// Enable mirrors the NixOS option; a config with enable: false manages nothing.
	Enable *bool `json:"enable,omitempty" jsonschema:"description=Manage desktop VMs at all. With false deskvm defines nothing and leaves existing VMs alone. Default true."`
	// Profile sets the defaults of hugepages.enable, autoStart and the balloon options.
	Profile Profile `json:"profile,omitempty" jsonschema:"enum=occasional,enum=always-on,description=Usage profile that sets the defaults of hugepages.enable\\, autoStart\\, memballoon.autodeflate and memballoon.freePageReporting. occasional (default): no hugepages\\, VMs started by hand\\, ballooning on; for VMs that run now and then or memory-tight hosts. always-on: hugepages\\, VMs start with the host\\, ballooning off; for VMs that run all the time."`
	// Connect is the libvirt URI.
	Connect string `json:"connect,omitempty" jsonschema:"description=libvirt connection URI\\, e.g. qemu:///system (default) or qemu+ssh://user@host/system. The --connect flag overrides it."`
	// Accelerator is the default for every VM.
	Accelerator   Accelerator   `json:"accelerator,omitempty" jsonschema:"enum=kvm,enum=tcg,description=Default accelerator of every VM: kvm (default; needs /dev/kvm) or tcg (QEMU emulation: slow but runs anywhere\\, e.g. in CI without nested virtualisation)."`
	Hugepages     Hugepages     `json:"hugepages,omitempty" jsonschema:"description=Static hugepages backing VM memory: faster memory access\\, but the pages are reserved and unavailable to the host even while VMs are off."`
	FirewallPorts FirewallPorts `json:"firewallPorts,omitempty" jsonschema:"description=Host firewall ports to open for remote displays. Only displays that listen beyond loopback (graphics.listen) can be reached; opening ports for loopback-only displays is pointless and draws a warning."`
	// DefaultStoragePool is the libvirt pool for VM disks unless a VM names another.
	DefaultStoragePool string `json:"defaultStoragePool,omitempty" jsonschema:"description=libvirt storage pool for VM disks when a VM sets no storagePool. Default 'default'."`
	// DefaultStoragePath is the directory of the default pool.
	DefaultStoragePath string         `json:"defaultStoragePath,omitempty" jsonschema:"description=Directory of the default storage pool; deskvm creates the pool there when it is missing. Default /var/lib/libvirt/images."`
	VMs                map[string]*VM `json:"vms,omitempty" jsonschema:"description=The virtual machines by name. A name is the libvirt domain name and gives the command vm-NAME: letters\\, digits\\, '.'\\, '_' and '-'\\, starting with a letter or digit\\, at most 64 characters."`
}

// Hugepages is the static hugepage pool.
type Hugepages struct {
	Enable *bool      `json:"enable,omitempty" jsonschema:"description=Back the memory of every VM with hugepages. Default: true for profile always-on\\, false for occasional. Memory ballooning has no effect on hugepage-backed memory."`
	Size   units.Size `json:"size,omitempty,omitzero" jsonschema:"enum=2M,enum=1G,description=Hugepage size: 2M (default) or 1G. The size is always written into the domain XML\\, so 1G pages are really used."`
	// Count is the number of pages; 0 means computed from the enabled VMs' memory.
	Count int `json:"count,omitempty" jsonschema:"minimum=0,description=Number of pages to reserve. 0 (default) computes it: the memory of all enabled VMs in pages of size\\, each VM rounded up to whole pages."`
	// OnDemand allocates pages when a VM starts and frees them when it stops.
	OnDemand *bool `json:"onDemand,omitempty" jsonschema:"description=Allocate the pages when a VM starts and free them when it stops\\, instead of reserving count pages at boot. Saves memory; a start can fail when memory is fragmented. Default false."`
}

// FirewallPorts opens display ports in the host firewall.
type FirewallPorts struct {
	Spice *bool `json:"spice,omitempty" jsonschema:"description=Open the SPICE ports (5900-5999) of displays that listen beyond loopback. Default false."`
	VNC   *bool `json:"vnc,omitempty" jsonschema:"description=Open the VNC ports (5900-5999) of displays that listen beyond loopback. Default false."`
}

// VM is one virtual machine (seed "Per-VM Options" plus additions).
type VM struct {
	Enable *bool `json:"enable,omitempty" jsonschema:"description=Define this VM. false undefines a VM deskvm defined before (its disk is kept). Default true."`
	// UUID is fixed when set; otherwise derived from the name.
	UUID string `json:"uuid,omitempty" jsonschema:"description=Fixed libvirt UUID. Default: a version 5 UUID derived from the VM name\\, stable across defines."`

	Memory units.Size `json:"memory,omitempty,omitzero" jsonschema:"description=Maximum memory of the guest as a size with a binary unit: 16G\\, 16GiB\\, 16384M\\, 512K. Default 4G."`
	// CurrentMemory is the balloon target at boot (default: memory).
	CurrentMemory units.Size `json:"currentMemory,omitempty,omitzero" jsonschema:"description=Memory at boot (the balloon target)\\, at most memory; vm-NAME setmem changes it up to memory while the VM runs. Default: memory."`
	VCPUs         int        `json:"vcpus,omitempty" jsonschema:"minimum=1,description=Number of virtual CPUs. Default 2."`
	DiskSize      units.Size `json:"diskSize,omitempty,omitzero" jsonschema:"description=Size of the system disk (qcow2\\, allocated as used). Disks are grown on apply\\, never shrunk. Default 64G."`
	StoragePool   string     `json:"storagePool,omitempty" jsonschema:"description=libvirt storage pool of the system disk. Default: defaultStoragePool."`
	Disk          Disk       `json:"disk,omitempty" jsonschema:"description=System disk options beyond its size."`

	CPUPinning  CPUPinning `json:"cpuPinning,omitempty" jsonschema:"description=Host CPUs for the vCPUs (see CPUPinning)."`
	EmulatorPin string     `json:"emulatorPin,omitempty" jsonschema:"description=Host CPU set (e.g. '0-1') for QEMU's emulator threads\\, kept apart from the vCPUs for steadier latency."`
	IOThreads   int        `json:"iothreads,omitempty" jsonschema:"minimum=0,description=Number of I/O threads for the disk; 0 (default) means none and disk I/O runs in the emulator thread."`
	IOThreadPin string     `json:"iothreadPin,omitempty" jsonschema:"description=Host CPU set for the I/O threads."`

	Display      Display      `json:"display,omitempty" jsonschema:"enum=spice,enum=vnc,enum=looking-glass,enum=none,description=How a person sees the guest: spice (default; with clipboard and USB redirection)\\, vnc\\, looking-glass (frames of a passed-through GPU over shared memory; SPICE carries input) or none."`
	Graphics     Graphics     `json:"graphics,omitempty" jsonschema:"description=Network side of the display server."`
	LookingGlass LookingGlass `json:"lookingGlass,omitempty" jsonschema:"description=Looking Glass shared memory; only used with display looking-glass."`

	SharedFolders map[string]string `json:"sharedFolders,omitempty" jsonschema:"description=Host directories shared with the guest over virtiofs\\, by mount tag: tag to absolute host path. In a Linux guest: mount -t virtiofs TAG /mnt/TAG. Needs virtiofsd on the host."`

	OSType      OSType      `json:"osType,omitempty" jsonschema:"enum=windows,enum=linux,enum=macos,description=Guest operating system; tunes the domain: windows (Hyper-V enlightenments and local-time clock)\\, linux (default; virtio everywhere)\\, macos (what OpenCore guests need: Penryn CPU model\\, AppleSMC\\, e1000 NIC\\, SATA disk; no secure boot)."`
	Accelerator Accelerator `json:"accelerator,omitempty" jsonschema:"enum=kvm,enum=tcg,description=Accelerator of this VM: kvm or tcg. Default: the global accelerator."`
	Firmware    Firmware    `json:"firmware,omitempty" jsonschema:"enum=uefi,enum=bios,description=Guest firmware: uefi (default; OVMF with an NVRAM file per VM) or bios (SeaBIOS)."`
	TPM         bool        `json:"tpm,omitempty" jsonschema:"description=Emulated TPM 2.0 (tpm-crb backed by swtpm)\\, as Windows 11 requires. Any osType. Default false."`
	SecureBoot  bool        `json:"secureBoot,omitempty" jsonschema:"description=UEFI secure boot with Microsoft keys enrolled (and SMM)\\, as Windows 11 and shim-based Linux expect. Needs firmware uefi; not with osType macos. Default false."`
	AutoStart   *bool       `json:"autoStart,omitempty" jsonschema:"description=Start the VM with the host. Default: true for profile always-on\\, false for occasional."`

	Memballoon Memballoon `json:"memballoon,omitempty" jsonschema:"description=The virtio memory balloon\\, which lets the host take back memory the guest does not use."`

	Network      string        `json:"network,omitempty" jsonschema:"description=Network: default (libvirt NAT network 'default'; the default)\\, user (QEMU user networking: needs no host setup; allows portForwards)\\, bridge:NAME (host bridge NAME) or none."`
	MACAddress   string        `json:"macAddress,omitempty" jsonschema:"description=MAC address of the NIC\\, e.g. 52:54:00:12:34:56. Default: derived from the VM name (52:54:00:xx:xx:xx)\\, so it survives redefinition."`
	PortForwards []PortForward `json:"portForwards,omitempty" jsonschema:"description=Host ports forwarded to guest ports; only with network user."`
	SSHUser      string        `json:"sshUser,omitempty" jsonschema:"description=User name for vm-NAME ssh."`

	Boot   *Boot    `json:"boot,omitempty" jsonschema:"description=Direct kernel boot: start a kernel and initrd from host files instead of the disk firmware boot (how installers are started without an ISO)."`
	CDROMs []string `json:"cdroms,omitempty" jsonschema:"description=ISO images attached as CD-ROM drives (absolute paths)\\, e.g. an installer."`

	ExtraDevices  string   `json:"extraDevices,omitempty" jsonschema:"description=libvirt device XML inserted into <devices> unchanged\\, e.g. a <hostdev> for PCI passthrough. Must be well-formed and made of libvirt device elements; libvirt validates the result."`
	PCIDevices    []string `json:"pciDevices,omitempty" jsonschema:"description=Host PCI devices to pass through (managed: detached from the host driver while the VM runs)\\, as DDDD:BB:SS.F or BB:SS.F from lspci -D."`
	ExtraQemuArgs []string `json:"extraQemuArgs,omitempty" jsonschema:"description=Extra QEMU command-line arguments\\, one list item per argument; an escape hatch that libvirt does not check."`
}

// Disk describes the system disk beyond its size.
type Disk struct {
	// BaseImage is a qcow2 used as the backing file of the VM's disk.
	BaseImage string `json:"baseImage,omitempty" jsonschema:"description=A qcow2 image (e.g. from deskvm image build) used as the backing file of the VM's disk; the VM writes only to its own overlay."`
	Bus       string `json:"bus,omitempty" jsonschema:"enum=virtio,enum=sata,enum=scsi,description=Disk bus: virtio (default)\\, sata (default for osType macos)\\, or scsi (virtio-scsi)."`
}

// CPUPinning is either a list of CPU sets, one per vCPU, or "auto".
type CPUPinning struct {
	Auto bool
	Sets []string
}

// Graphics is the display server's network side.
type Graphics struct {
	Listen          string `json:"listen,omitempty" jsonschema:"description=Address the display server listens on. Default 127.0.0.1 (this host only). An address beyond loopback needs passwordFile or allowNoPassword."`
	Port            int    `json:"port,omitempty" jsonschema:"minimum=0,description=Fixed TCP port of the display; 0 (default) lets libvirt pick one from 5900 up."`
	PasswordFile    string `json:"passwordFile,omitempty" jsonschema:"description=File holding the display password; deskvm never logs it."`
	AllowNoPassword bool   `json:"allowNoPassword,omitempty" jsonschema:"description=Allow a display that listens beyond loopback without a password: anyone who reaches the port controls the VM. Default false."`
}

// LookingGlass sizes the IVSHMEM device.
type LookingGlass struct {
	// SharedMemoryMB of 0 means computed from the resolution.
	SharedMemoryMB int `json:"sharedMemoryMB,omitempty" jsonschema:"minimum=0,description=Size of the IVSHMEM device in MiB (a power of two). 0 (default) computes it from width and height as Looking Glass documents: two 32-bit frames plus 10 MiB\\, rounded up to a power of two."`
	Width          int `json:"width,omitempty" jsonschema:"minimum=0,description=Guest screen width for the computed shared memory size. Default 1920."`
	Height         int `json:"height,omitempty" jsonschema:"minimum=0,description=Guest screen height for the computed shared memory size. Default 1080."`
}

// Memballoon is the virtio balloon device.
type Memballoon struct {
	Enable            *bool `json:"enable,omitempty" jsonschema:"description=Attach a virtio balloon device; false renders model none. Default true."`
	Autodeflate       *bool `json:"autodeflate,omitempty" jsonschema:"description=Deflate the balloon when the guest is about to run out of memory\\, so it does not crash. Default: true for profile occasional\\, false for always-on."`
	FreePageReporting *bool `json:"freePageReporting,omitempty" jsonschema:"description=Let the guest report free pages so the host reclaims them without inflating the balloon. Default: true for profile occasional\\, false for always-on; no effect with hugepages."`
	StatsInterval     *int  `json:"statsInterval,omitempty" jsonschema:"minimum=0,description=Period in seconds of the balloon's memory statistics (vm-NAME memstats); 0 turns them off. Default 5."`
}

// PortForward forwards a host port to the guest (network: user).
type PortForward struct {
	Protocol string `json:"protocol,omitempty" jsonschema:"enum=tcp,enum=udp,description=tcp (default) or udp."`
	Address  string `json:"address,omitempty" jsonschema:"description=Host address to listen on. Default 127.0.0.1."`
	Host     int    `json:"host" jsonschema:"minimum=1,maximum=65535,description=Host port."`
	Guest    int    `json:"guest" jsonschema:"minimum=1,maximum=65535,description=Guest port."`
}

// Boot is direct kernel boot.
type Boot struct {
	Kernel  string `json:"kernel" jsonschema:"description=Absolute path of the kernel image on the host; required with boot."`
	Initrd  string `json:"initrd,omitempty" jsonschema:"description=Absolute path of the initrd on the host."`
	Cmdline string `json:"cmdline,omitempty" jsonschema:"description=Kernel command line\\, e.g. console=ttyS0."`
}
