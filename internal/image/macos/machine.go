package macos

import (
	"fmt"

	"github.com/deskvm/deskvm/internal/qemu"
)

// OSK is the Apple SMC key every macOS guest asks its SMC for; it is
// public (QEMU's isa-applesmc documentation, OSX-KVM) and not a secret.
const OSK = "ourhardworkbythesewordsguardedpleasedontsteal(c)AppleComputerInc"

// CPU models with the feature flags macOS needs (as OSX-KVM sets them).
var cpuModels = map[string]string{
	"penryn":  "Penryn,vendor=GenuineIntel,+invtsc,vmware-cpuid-freq=on,+ssse3,+sse4.2,+popcnt,+avx,+aes,+xsave,+xsaveopt,check",
	"haswell": "Haswell-noTSX,vendor=GenuineIntel,+invtsc,vmware-cpuid-freq=on,+ssse3,+sse4.2,+popcnt,+avx,+aes,+xsave,+xsaveopt,check",
}

// MachineSpec describes a macOS VM.
type MachineSpec struct {
	Name      string
	CPU       string // "penryn" (default) or "haswell"
	CPUs      int    // any count ≥ 1: one socket of CPUs cores
	MemoryMiB int
	Accel     string // kvm or tcg
	// Firmware is OVMF without secure boot (OpenCore is not signed for it).
	OVMFCode, OVMFVars string
	// Disks in the order OpenCore expects: its own image first (booted),
	// then the installer (a disk whose com.apple.recovery.boot holds
	// BaseSystem.dmg), then the target disk.
	OpenCore, Installer, Target string
	VNCDisplay                  int
	SSHPort                     int // forwarded from 127.0.0.1
	QMPPath                     string
}

// Machine returns the QEMU machine for a macOS guest: q35 with OVMF, a
// valid -smp topology (sockets=1, cores=CPUs: the reference's
// "-smp 1,cores=N" is refused by QEMU for N > 1), the Penryn or Haswell
// model with macOS's flags, isa-applesmc with the OSK, USB keyboard and
// tablet, VMware SVGA, a vmxnet3 NIC and the disks on AHCI in OpenCore's
// order.
func Machine(s MachineSpec) (qemu.Machine, error) {
	if s.CPUs < 1 {
		return qemu.Machine{}, fmt.Errorf("macos: cpus %d: want at least 1", s.CPUs)
	}
	cpu := s.CPU
	if cpu == "" {
		cpu = "penryn"
	}
	model, ok := cpuModels[cpu]
	if !ok {
		return qemu.Machine{}, fmt.Errorf("macos: cpu %q: want penryn or haswell", s.CPU)
	}
	if s.OpenCore == "" || s.Target == "" {
		return qemu.Machine{}, fmt.Errorf("macos: the OpenCore image and the target disk are required")
	}
	drives := []qemu.Drive{{ID: "opencore", File: s.OpenCore, Interface: qemu.IfSATA, BootIndex: 1}}
	if s.Installer != "" {
		drives = append(drives, qemu.Drive{ID: "installer", File: s.Installer, Format: "raw", Interface: qemu.IfSATA})
	}
	drives = append(drives, qemu.Drive{ID: "macos", File: s.Target, Interface: qemu.IfSATA})
	m := qemu.Machine{
		Name: s.Name, Accel: s.Accel, MachineType: "q35", CPUModel: model,
		CPUs: s.CPUs, Cores: s.CPUs, Threads: 1, MemoryMiB: s.MemoryMiB,
		Firmware: qemu.Firmware{UEFI: true, Code: s.OVMFCode, Vars: s.OVMFVars},
		Drives:   drives,
		NICs:     []qemu.NIC{{Model: "vmxnet3"}},
		VGA:      "vmware",
		VNC:      &qemu.VNC{Display: s.VNCDisplay},
		USBInput: true,
		QMP:      qemu.QMP{Path: s.QMPPath},
		Extra:    []string{"-device", "isa-applesmc,osk=" + OSK, "-smbios", "type=2"},
	}
	if s.SSHPort > 0 {
		m.NICs[0].Forwards = []qemu.Forward{{HostPort: s.SSHPort, GuestPort: 22}}
	}
	return m, nil
}
