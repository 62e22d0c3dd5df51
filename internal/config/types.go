// Package config holds deskvm's configuration: the option tree of the
// NixOS option virtualisation.desktopVMs (seed names, camelCase) plus
// deskvm's additions. This file has the types only; loading, defaulting
// and validation are separate steps (Load, FillDefaults, Validate).
//
// Options whose default depends on the profile are pointers, so that "not
// set" differs from "false"; after FillDefaults every pointer is non-nil.
package config

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
	Enable *bool `json:"enable,omitempty" jsonschema:"description=Manage desktop VMs at all (default true)"`
	// Profile sets the defaults of hugepages.enable, autoStart and the balloon options.
	Profile Profile `json:"profile,omitempty" jsonschema:"enum=occasional,enum=always-on,description=Usage profile that sets defaults (default occasional)"`
	// Connect is the libvirt URI.
	Connect string `json:"connect,omitempty" jsonschema:"description=libvirt connection URI (default qemu:///system)"`
	// Accelerator is the default for every VM.
	Accelerator   Accelerator   `json:"accelerator,omitempty" jsonschema:"enum=kvm,enum=tcg,description=kvm (default) or tcg (emulated; no /dev/kvm needed)"`
	Hugepages     Hugepages     `json:"hugepages,omitempty"`
	FirewallPorts FirewallPorts `json:"firewallPorts,omitempty"`
	// DefaultStoragePool is the libvirt pool for VM disks unless a VM names another.
	DefaultStoragePool string `json:"defaultStoragePool,omitempty" jsonschema:"description=libvirt storage pool for VM disks (default 'default')"`
	// DefaultStoragePath is the directory of the default pool.
	DefaultStoragePath string         `json:"defaultStoragePath,omitempty" jsonschema:"description=directory of the default storage pool (default /var/lib/libvirt/images)"`
	VMs                map[string]*VM `json:"vms,omitempty" jsonschema:"description=the virtual machines, by name"`
}

// Hugepages is the static hugepage pool.
type Hugepages struct {
	Enable *bool  `json:"enable,omitempty" jsonschema:"description=back VM memory with hugepages (default: true for always-on, false for occasional)"`
	Size   string `json:"size,omitempty" jsonschema:"enum=2M,enum=1G,description=page size (default 2M)"`
	// Count is the number of pages; 0 means computed from the enabled VMs' memory.
	Count int `json:"count,omitempty" jsonschema:"minimum=0,description=pages to reserve; 0 = computed from the VMs' memory"`
	// OnDemand allocates pages when a VM starts and frees them when it stops.
	OnDemand *bool `json:"onDemand,omitempty" jsonschema:"description=allocate pages at VM start and release them at stop (default false)"`
}

// FirewallPorts opens display ports in the host firewall.
type FirewallPorts struct {
	Spice *bool `json:"spice,omitempty" jsonschema:"description=open the SPICE ports of displays that listen beyond loopback"`
	VNC   *bool `json:"vnc,omitempty" jsonschema:"description=open the VNC ports of displays that listen beyond loopback"`
}

// VM is one virtual machine (seed "Per-VM Options" plus additions).
type VM struct {
	Enable *bool `json:"enable,omitempty" jsonschema:"description=define this VM (default true)"`
	// UUID is fixed when set; otherwise derived from the name.
	UUID string `json:"uuid,omitempty" jsonschema:"description=fixed UUID (default: derived from the name)"`

	Memory string `json:"memory,omitempty" jsonschema:"description=maximum memory, e.g. 16G (default 4G)"`
	// CurrentMemory is the balloon target at boot (default: memory).
	CurrentMemory string `json:"currentMemory,omitempty" jsonschema:"description=memory at boot, at most memory (default: memory)"`
	VCPUs         int    `json:"vcpus,omitempty" jsonschema:"minimum=1,description=virtual CPUs (default 2)"`
	DiskSize      string `json:"diskSize,omitempty" jsonschema:"description=size of the system disk (default 64G)"`
	StoragePool   string `json:"storagePool,omitempty" jsonschema:"description=libvirt pool of the disk (default: defaultStoragePool)"`
	Disk          Disk   `json:"disk,omitempty"`

	CPUPinning  CPUPinning `json:"cpuPinning,omitempty" jsonschema:"description=host CPU set per vCPU (list) or auto"`
	EmulatorPin string     `json:"emulatorPin,omitempty" jsonschema:"description=host CPU set for QEMU's emulator threads"`
	IOThreads   int        `json:"iothreads,omitempty" jsonschema:"minimum=0,description=number of I/O threads (default 0 = none)"`
	IOThreadPin string     `json:"iothreadPin,omitempty" jsonschema:"description=host CPU set for the I/O threads"`

	Display      Display      `json:"display,omitempty" jsonschema:"enum=spice,enum=vnc,enum=looking-glass,enum=none,description=display (default spice)"`
	Graphics     Graphics     `json:"graphics,omitempty"`
	LookingGlass LookingGlass `json:"lookingGlass,omitempty"`

	SharedFolders map[string]string `json:"sharedFolders,omitempty" jsonschema:"description=virtiofs tag to host directory"`

	OSType      OSType      `json:"osType,omitempty" jsonschema:"enum=windows,enum=linux,enum=macos,description=guest OS (default linux)"`
	Accelerator Accelerator `json:"accelerator,omitempty" jsonschema:"enum=kvm,enum=tcg,description=overrides the global accelerator"`
	Firmware    Firmware    `json:"firmware,omitempty" jsonschema:"enum=uefi,enum=bios,description=guest firmware (default uefi)"`
	TPM         bool        `json:"tpm,omitempty" jsonschema:"description=emulated TPM 2.0 (tpm-crb)"`
	SecureBoot  bool        `json:"secureBoot,omitempty" jsonschema:"description=UEFI secure boot with Microsoft keys enrolled"`
	AutoStart   *bool       `json:"autoStart,omitempty" jsonschema:"description=start with the host (default: true for always-on, false for occasional)"`

	Memballoon Memballoon `json:"memballoon,omitempty"`

	Network      string        `json:"network,omitempty" jsonschema:"description=default (libvirt NAT), user, bridge:NAME or none"`
	MACAddress   string        `json:"macAddress,omitempty" jsonschema:"description=fixed MAC address of the NIC"`
	PortForwards []PortForward `json:"portForwards,omitempty" jsonschema:"description=host to guest port forwards (network user only)"`
	SSHUser      string        `json:"sshUser,omitempty" jsonschema:"description=user for vm-NAME ssh"`

	Boot   *Boot    `json:"boot,omitempty"`
	CDROMs []string `json:"cdroms,omitempty" jsonschema:"description=ISO images attached as CD-ROMs"`

	ExtraDevices  string   `json:"extraDevices,omitempty" jsonschema:"description=libvirt device XML inserted into <devices> unchanged"`
	PCIDevices    []string `json:"pciDevices,omitempty" jsonschema:"description=host PCI addresses to pass through (managed)"`
	ExtraQemuArgs []string `json:"extraQemuArgs,omitempty" jsonschema:"description=extra QEMU command-line arguments"`
}

// Disk describes the system disk beyond its size.
type Disk struct {
	// BaseImage is a qcow2 used as the backing file of the VM's disk.
	BaseImage string `json:"baseImage,omitempty" jsonschema:"description=qcow2 image used as backing file"`
	Bus       string `json:"bus,omitempty" jsonschema:"enum=virtio,enum=sata,enum=scsi,description=disk bus (default virtio; sata for macos)"`
}

// CPUPinning is either a list of CPU sets, one per vCPU, or "auto".
type CPUPinning struct {
	Auto bool
	Sets []string
}

// Graphics is the display server's network side.
type Graphics struct {
	Listen          string `json:"listen,omitempty" jsonschema:"description=listen address (default 127.0.0.1)"`
	Port            int    `json:"port,omitempty" jsonschema:"minimum=0,description=fixed port (default 0 = automatic)"`
	PasswordFile    string `json:"passwordFile,omitempty" jsonschema:"description=file holding the display password"`
	AllowNoPassword bool   `json:"allowNoPassword,omitempty" jsonschema:"description=allow listening beyond loopback without a password"`
}

// LookingGlass sizes the IVSHMEM device.
type LookingGlass struct {
	// SharedMemoryMB of 0 means computed from the resolution.
	SharedMemoryMB int `json:"sharedMemoryMB,omitempty" jsonschema:"minimum=0,description=IVSHMEM size in MiB (0 = computed)"`
	Width          int `json:"width,omitempty" jsonschema:"minimum=0,description=guest width for the computed size (default 1920)"`
	Height         int `json:"height,omitempty" jsonschema:"minimum=0,description=guest height for the computed size (default 1080)"`
}

// Memballoon is the virtio balloon device.
type Memballoon struct {
	Enable            *bool `json:"enable,omitempty" jsonschema:"description=virtio balloon device (default true)"`
	Autodeflate       *bool `json:"autodeflate,omitempty" jsonschema:"description=release memory before guest OOM (default by profile)"`
	FreePageReporting *bool `json:"freePageReporting,omitempty" jsonschema:"description=report free pages to the host (default by profile)"`
	StatsInterval     *int  `json:"statsInterval,omitempty" jsonschema:"minimum=0,description=stats period in seconds, 0 = off (default 5)"`
}

// PortForward forwards a host port to the guest (network: user).
type PortForward struct {
	Protocol string `json:"protocol,omitempty" jsonschema:"enum=tcp,enum=udp,description=tcp (default) or udp"`
	Address  string `json:"address,omitempty" jsonschema:"description=host address (default 127.0.0.1)"`
	Host     int    `json:"host" jsonschema:"minimum=1,maximum=65535"`
	Guest    int    `json:"guest" jsonschema:"minimum=1,maximum=65535"`
}

// Boot is direct kernel boot.
type Boot struct {
	Kernel  string `json:"kernel" jsonschema:"description=path of the kernel image"`
	Initrd  string `json:"initrd,omitempty" jsonschema:"description=path of the initrd"`
	Cmdline string `json:"cmdline,omitempty" jsonschema:"description=kernel command line"`
}
