// Package qemu builds qemu-system-x86_64 command lines and talks to a
// running QEMU over QMP. It never needs libvirt: the image builders
// (Linux, Windows, macOS), `deskvm image check` and the NAME.run scripts
// all describe their VM as a Machine and get the argv from Args, so the
// same devices come out everywhere.
//
// Args is pure (no files touched, nothing run) and golden-tested;
// Command wraps it in an *exec.Cmd without starting it; Start (process.go)
// runs it with the QMP socket ready before QEMU runs.
package qemu

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Machine is one QEMU virtual machine, as the builders need it.
type Machine struct {
	// Binary is the emulator; default "qemu-system-x86_64".
	Binary string
	// Name is shown in QEMU's window title and process list (-name).
	Name string
	// Accel is "kvm" or "tcg" (see DetectAccel); default "tcg".
	Accel string
	// MachineType is the -machine type; default "q35".
	MachineType string
	// CPUModel is -cpu; default "host" with kvm and "max" with tcg.
	CPUModel string
	// CPUs is the number of vCPUs (default 1). With Cores and Threads
	// unset the topology is CPUs sockets of one core; set Cores (and
	// Threads) for a guest that wants cores, e.g. macOS.
	CPUs    int
	Cores   int
	Threads int
	// MemoryMiB is the guest memory (default 1024).
	MemoryMiB int
	// Firmware chooses SeaBIOS or OVMF.
	Firmware Firmware
	// Drives are attached in order; their BootIndex orders booting
	// (OVMF ignores -boot order).
	Drives []Drive
	// NICs are user-mode network cards.
	NICs []NIC
	// SerialLog is the file the first serial port writes to ("" = none).
	SerialLog string
	// QMP is the control socket ("" path and 0 FD = none).
	QMP QMP
	// VNC, when set, serves the display on 127.0.0.1 only.
	VNC *VNC
	// VGA is the display adapter: "" (none, for a headless build VM),
	// "std", "virtio", "vmware", "qxl".
	VGA string
	// TPMSocket is the control socket of a running `swtpm socket`
	// (SwtpmCommand); it adds a TPM 2.0 (tpm-crb) when set.
	TPMSocket string
	// USBInput adds an XHCI controller with usb-kbd and usb-tablet
	// (absolute pointer for VNC automation).
	USBInput bool
	// RNG adds virtio-rng-pci, so a guest generating keys does not wait
	// for entropy.
	RNG bool
	// Extra arguments appended verbatim (the macOS device set, say).
	Extra []string
}

// Firmware selects the boot firmware.
type Firmware struct {
	// UEFI boots OVMF; false boots QEMU's SeaBIOS.
	UEFI bool
	// Code is the OVMF code image (read-only), e.g.
	// /usr/share/OVMF/OVMF_CODE_4M.fd or its .secboot variant.
	Code string
	// Vars is this VM's own writable copy of a vars template (CopyVars),
	// e.g. OUT/NAME.efivars.fd.
	Vars string
	// SecureBoot uses the SMM-protected flash that a secure-boot OVMF
	// build needs (-global driver=cfi.pflash01,property=secure,value=on).
	SecureBoot bool
}

// Drive interfaces.
const (
	// IfVirtio is a virtio-blk PCI disk: the one every cloud kernel has.
	IfVirtio = "virtio"
	// IfSATA is a disk on the q35 AHCI controller.
	IfSATA = "sata"
	// IfCDROM is an AHCI (SATA) CD-ROM; Windows Setup boots from it.
	// Debian's cloud kernel has no AHCI driver, so Linux seeds use
	// IfVirtio or IfSCSICD.
	IfCDROM = "cdrom"
	// IfSCSICD is a CD-ROM on virtio-scsi.
	IfSCSICD = "scsi-cd"
	// IfFloppy is an ISA floppy (answer files for old setups).
	IfFloppy = "floppy"
)

// Drive is one disk, CD or floppy image.
type Drive struct {
	// ID names the drive and its device; default "driveN".
	ID string
	// File is the image path.
	File string
	// Format is "qcow2" or "raw"; default raw for ISOs and floppies,
	// qcow2 otherwise.
	Format string
	// Interface is one of the If* constants; default IfVirtio.
	Interface string
	// ReadOnly attaches the image read-only (CDs always are).
	ReadOnly bool
	// Snapshot discards every write when QEMU exits (a throw-away
	// boot without an overlay file).
	Snapshot bool
	// Discard passes the guest's TRIM through to the image (and turns
	// written zeroes into holes), so a guest's fstrim makes the image
	// smaller before compaction.
	Discard bool
	// BootIndex orders boot devices, 1 first; 0 means not bootable.
	BootIndex int
	// Serial is the disk's serial number as the guest sees it.
	Serial string
}

// NIC is a user-mode (slirp) network card.
type NIC struct {
	// ID defaults to "netN".
	ID string
	// Model is the device; default "virtio-net-pci" (Debian's cloud
	// kernel has no e1000/e1000e).
	Model string
	// MAC is the card's address; the Linux seed matches the NIC by it.
	MAC string
	// Forwards are host ports forwarded into the guest, bound to
	// 127.0.0.1 only.
	Forwards []Forward
	// Restrict cuts the guest off from the outside (forwards still work).
	Restrict bool
}

// Forward is a TCP port forward from 127.0.0.1:HostPort to the guest's GuestPort.
type Forward struct {
	HostPort, GuestPort int
}

// QMP is the control socket. Path is what the socket is called; FD, when
// set, is an already listening socket QEMU inherits (Start uses that so
// the socket exists before QEMU runs).
type QMP struct {
	Path string
	FD   int
}

// VNC is a display served on 127.0.0.1:5900+Display.
type VNC struct {
	Display int
	// Password asks for a VNC password, which is set over QMP
	// (change-vnc-password) so it never appears on the command line.
	Password bool
}

// Port is the TCP port of the display.
func (v VNC) Port() int { return 5900 + v.Display }

// Args returns the argv after the binary. It fails on a machine QEMU
// would refuse or that would expose something beyond 127.0.0.1.
func (m *Machine) Args() ([]string, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	accel := m.Accel
	if accel == "" {
		accel = "tcg"
	}
	if accel != "tcg" && accel != "kvm" {
		bad("accel %q: want kvm or tcg", accel)
	}
	mt := m.MachineType
	if mt == "" {
		mt = "q35"
	}
	cpuModel := m.CPUModel
	if cpuModel == "" {
		cpuModel = "max"
		if accel == "kvm" {
			cpuModel = "host"
		}
	}
	cpus := m.CPUs
	if cpus == 0 {
		cpus = 1
	}
	mem := m.MemoryMiB
	if mem == 0 {
		mem = 1024
	}
	if cpus < 0 || mem < 0 {
		bad("cpus and memory must be positive")
	}

	machineOpts := mt + ",accel=" + accel
	if m.Firmware.UEFI && m.Firmware.SecureBoot {
		machineOpts += ",smm=on"
	}
	a := []string{"-nodefaults", "-no-user-config"}
	if m.Name != "" {
		a = append(a, "-name", m.Name)
	}
	a = append(a, "-machine", machineOpts, "-cpu", cpuModel, "-m", strconv.Itoa(mem), "-smp", smp(cpus, m.Cores, m.Threads, bad))

	if m.Firmware.UEFI {
		if m.Firmware.Code == "" || m.Firmware.Vars == "" {
			bad("uefi firmware needs a code image and a vars file")
		}
		if m.Firmware.SecureBoot {
			a = append(a, "-global", "driver=cfi.pflash01,property=secure,value=on")
		}
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+escapeOpt(m.Firmware.Code),
			"-drive", "if=pflash,format=raw,unit=1,file="+escapeOpt(m.Firmware.Vars))
	}

	a = append(a, "-display", "none")
	if m.VGA == "" {
		a = append(a, "-vga", "none")
	} else {
		a = append(a, "-vga", m.VGA)
	}
	if m.VNC != nil {
		if m.VNC.Display < 0 || m.VNC.Display > 59635 {
			bad("vnc display %d out of range", m.VNC.Display)
		}
		opt := "127.0.0.1:" + strconv.Itoa(m.VNC.Display)
		if m.VNC.Password {
			opt += ",password=on"
		}
		a = append(a, "-vnc", opt)
	}

	for _, d := range m.Drives {
		if d.Interface == IfSCSICD {
			// QEMU creates devices in command-line order: the
			// controller before its disks.
			a = append(a, "-device", "virtio-scsi-pci,id=scsi0")
			break
		}
	}
	ahci := 0 // q35's AHCI controller has six ports, ide.0 to ide.5
	seenID := map[string]bool{}
	for i, d := range m.Drives {
		id := d.ID
		if id == "" {
			id = "drive" + strconv.Itoa(i)
		}
		if seenID[id] {
			bad("drive %d: id %q used twice", i, id)
		}
		seenID[id] = true
		if d.File == "" {
			bad("drive %q: no file", id)
			continue
		}
		iface := d.Interface
		if iface == "" {
			iface = IfVirtio
		}
		format := d.Format
		if format == "" {
			format = "qcow2"
			if iface == IfCDROM || iface == IfSCSICD || iface == IfFloppy || strings.HasSuffix(strings.ToLower(d.File), ".iso") {
				format = "raw"
			}
		}
		if format != "qcow2" && format != "raw" {
			bad("drive %q: format %q: want qcow2 or raw", id, format)
		}
		drive := "if=none,id=" + id + ",format=" + format + ",file=" + escapeOpt(d.File)
		if iface == IfCDROM || iface == IfSCSICD {
			drive += ",media=cdrom,readonly=on"
		} else if d.ReadOnly {
			drive += ",readonly=on"
		}
		if d.Snapshot {
			drive += ",snapshot=on"
		}
		if d.Discard {
			drive += ",discard=unmap,detect-zeroes=unmap"
		}
		var dev string
		switch iface {
		case IfVirtio:
			dev = "virtio-blk-pci,drive=" + id
		case IfSATA, IfCDROM:
			if ahci > 5 {
				bad("drive %q: more than six sata/cdrom drives", id)
			}
			dev = "ide-hd,drive=" + id + ",bus=ide." + strconv.Itoa(ahci)
			if iface == IfCDROM {
				dev = "ide-cd,drive=" + id + ",bus=ide." + strconv.Itoa(ahci)
			}
			ahci++
		case IfSCSICD:
			dev = "scsi-cd,drive=" + id + ",bus=scsi0.0"
		case IfFloppy:
			dev = "isa-fdc,driveA=" + id
		default:
			bad("drive %q: interface %q: want virtio, sata, cdrom, scsi-cd or floppy", id, iface)
			continue
		}
		dev += ",id=" + id + "-dev"
		if d.BootIndex > 0 {
			if iface == IfFloppy {
				bad("drive %q: a floppy cannot take a boot index", id)
			}
			dev += ",bootindex=" + strconv.Itoa(d.BootIndex)
		}
		if d.Serial != "" {
			dev += ",serial=" + escapeOpt(d.Serial)
		}
		a = append(a, "-drive", drive, "-device", dev)
	}

	for i, n := range m.NICs {
		id := n.ID
		if id == "" {
			id = "net" + strconv.Itoa(i)
		}
		netdev := "user,id=" + id
		if n.Restrict {
			netdev += ",restrict=on"
		}
		for _, f := range n.Forwards {
			if f.HostPort <= 0 || f.HostPort > 65535 || f.GuestPort <= 0 || f.GuestPort > 65535 {
				bad("nic %q: forward %d->%d: ports must be 1-65535", id, f.HostPort, f.GuestPort)
			}
			// Always loopback: a build VM with a known key must not be
			// reachable from the network.
			netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", f.HostPort, f.GuestPort)
		}
		model := n.Model
		if model == "" {
			model = "virtio-net-pci"
		}
		dev := model + ",netdev=" + id
		if n.MAC != "" {
			if !validMAC(n.MAC) {
				bad("nic %q: mac %q: want six hex pairs like 52:54:00:12:34:56", id, n.MAC)
			}
			dev += ",mac=" + n.MAC
		}
		a = append(a, "-netdev", netdev, "-device", dev)
	}

	if m.SerialLog != "" {
		a = append(a, "-chardev", "file,id=serial0,path="+escapeOpt(m.SerialLog), "-serial", "chardev:serial0")
	} else {
		a = append(a, "-serial", "none")
	}
	a = append(a, "-monitor", "none", "-parallel", "none")
	switch {
	case m.QMP.FD > 0:
		a = append(a, "-chardev", "socket,id=qmp,fd="+strconv.Itoa(m.QMP.FD)+",server=on,wait=off", "-mon", "chardev=qmp,mode=control")
	case m.QMP.Path != "":
		a = append(a, "-chardev", "socket,id=qmp,path="+escapeOpt(m.QMP.Path)+",server=on,wait=off", "-mon", "chardev=qmp,mode=control")
	}
	if m.TPMSocket != "" {
		a = append(a, "-chardev", "socket,id=chrtpm,path="+escapeOpt(m.TPMSocket),
			"-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-crb,tpmdev=tpm0")
	}
	if m.USBInput {
		a = append(a, "-device", "qemu-xhci,id=xhci", "-device", "usb-kbd,bus=xhci.0", "-device", "usb-tablet,bus=xhci.0")
	}
	if m.RNG {
		a = append(a, "-device", "virtio-rng-pci")
	}
	a = append(a, m.Extra...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("qemu machine %q: %w", m.Name, errors.Join(errs...))
	}
	return a, nil
}

// BinaryPath is the emulator Args is meant for.
func (m *Machine) BinaryPath() string {
	if m.Binary != "" {
		return m.Binary
	}
	return "qemu-system-x86_64"
}

// smp writes a topology QEMU accepts: sockets*cores*threads = cpus.
func smp(cpus, cores, threads int, bad func(string, ...any)) string {
	if cores == 0 && threads == 0 {
		return strconv.Itoa(cpus)
	}
	if cores == 0 {
		cores = 1
	}
	if threads == 0 {
		threads = 1
	}
	if cores < 0 || threads < 0 || cpus%(cores*threads) != 0 {
		bad("cpus %d is not a whole number of sockets of %d cores x %d threads", cpus, cores, threads)
		return strconv.Itoa(cpus)
	}
	return fmt.Sprintf("%d,sockets=%d,cores=%d,threads=%d", cpus, cpus/(cores*threads), cores, threads)
}

// escapeOpt doubles commas, QEMU's escape inside an option value, so a
// path with a comma cannot inject another option.
func escapeOpt(s string) string { return strings.ReplaceAll(s, ",", ",,") }

func validMAC(s string) bool {
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return false
	}
	for _, p := range parts {
		if len(p) != 2 {
			return false
		}
		if _, err := strconv.ParseUint(p, 16, 8); err != nil {
			return false
		}
	}
	return true
}
