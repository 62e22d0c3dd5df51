// Package hostfacts describes the VM host: what rendering and host checks
// need to know about it. Facts is a plain struct so that rendering and
// validation stay pure and tests pass hand-made facts; Probe (probe.go)
// fills it from the real machine once.
package hostfacts

// Facts is everything deskvm needs to know about the host.
type Facts struct {
	// CPUs are the online logical CPUs, in ascending ID order.
	CPUs []CPU `json:"cpus"`
	// KVM is true when /dev/kvm exists and can be opened.
	KVM bool `json:"kvm"`
	// Firmware lists the OVMF files found.
	Firmware Firmware `json:"firmware"`
	// VirtiofsdPath is the virtiofsd binary, empty when not found.
	VirtiofsdPath string `json:"virtiofsdPath,omitempty"`
	// HugepageSizesKiB are the page sizes the kernel supports (e.g. 2048, 1048576).
	HugepageSizesKiB []uint64 `json:"hugepageSizesKiB,omitempty"`
	// Hugepages is the pool state per size in KiB.
	Hugepages map[uint64]HugepagePool `json:"hugepages,omitempty"`
	// LibvirtVersion and QEMUVersion are like 9000000 (major*1e6+minor*1e3+micro); 0 when unknown.
	LibvirtVersion uint64 `json:"libvirtVersion,omitempty"`
	QEMUVersion    uint64 `json:"qemuVersion,omitempty"`
	// Unknown lists what could not be learned (the Unknown* parts), as for
	// a remote host read through libvirt (FromCapabilities). Host checks
	// skip those parts instead of reporting them missing. Empty for a
	// probe of this machine.
	Unknown []string `json:"unknown,omitempty"`
}

// Parts of the facts that libvirt's capabilities do not tell, so that
// FromCapabilities leaves them unknown.
const (
	UnknownVirtiofsd     = "virtiofsd path"
	UnknownFreeHugepages = "free hugepages"
	// UnknownFirmwareVars: the OVMF code images are known, their vars
	// templates (and whether they have Microsoft's keys) are not; the
	// renderer lets libvirt pick the firmware by feature then.
	UnknownFirmwareVars = "OVMF vars templates"
	// UnknownHostFiles: files and devices on the host (shared folders,
	// kernels, ISOs, base images, PCI devices) cannot be checked.
	UnknownHostFiles = "files and PCI devices on the host"
)

// Knows reports whether part (an Unknown* constant) was learned.
func (f *Facts) Knows(part string) bool {
	for _, u := range f.Unknown {
		if u == part {
			return false
		}
	}
	return true
}

// CPU is one logical CPU.
type CPU struct {
	ID     int `json:"id"`
	Core   int `json:"core"`   // core_id within the package
	Socket int `json:"socket"` // physical_package_id
	// Siblings are the logical CPU IDs sharing this CPU's core, itself included, sorted.
	Siblings []int `json:"siblings"`
}

// Firmware holds OVMF paths (empty when absent).
type Firmware struct {
	Code           string `json:"code,omitempty"`           // plain UEFI code, e.g. OVMF_CODE_4M.fd
	Vars           string `json:"vars,omitempty"`           // empty vars template, e.g. OVMF_VARS_4M.fd
	SecureBootCode string `json:"secureBootCode,omitempty"` // e.g. OVMF_CODE_4M.secboot.fd (or .ms.fd)
	// SecureVars is the vars template that goes with SecureBootCode, e.g.
	// OVMF_VARS_4M.ms.fd.
	SecureVars string `json:"secureVars,omitempty"`
	// MSKeys: SecureVars has Microsoft's keys enrolled. Without them
	// Windows 11 and shim-signed Linux do not boot with secure boot on;
	// some distributions (Arch) ship only vars without them.
	MSKeys bool `json:"msKeys,omitempty"`
	// MSVarsWanted, when SecureVars lacks the Microsoft keys, is the
	// MS-enrolled template deskvm would use beside SecureBootCode: the
	// file to provide ("" when that firmware tree has no such name).
	MSVarsWanted string `json:"msVarsWanted,omitempty"`
}

// HugepagePool is the state of one hugepage size.
type HugepagePool struct {
	Total uint64 `json:"total"`
	Free  uint64 `json:"free"`
}

// HasCPU reports whether the host has a logical CPU with this ID.
func (f *Facts) HasCPU(id int) bool {
	for _, c := range f.CPUs {
		if c.ID == id {
			return true
		}
	}
	return false
}
