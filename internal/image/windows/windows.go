// Package windows prepares an unattended Windows install without booting
// it: it reads the Windows and virtio-win ISOs (no mount), picks the
// edition (an edition that is not on the ISO is an error listing the
// ones that are), checks the driver folders the answer file names,
// renders autounattend.xml, writes the answer media and describes the
// QEMU machine (OVMF with Microsoft keys, swtpm TPM 2.0, VNC on
// 127.0.0.1, and no -no-reboot, so Setup's reboots keep QEMU running).
// The builder's boot step runs that machine; `image plan` prints it.
package windows

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/deskvm/deskvm/internal/image/unattend"
	"github.com/deskvm/deskvm/internal/iso"
	"github.com/deskvm/deskvm/internal/qemu"
	"github.com/deskvm/deskvm/internal/wim"
	"github.com/deskvm/deskvm/internal/winmedia"
)

// Firmware files (Debian's ovmf package): secure-boot code and the vars
// template with Microsoft's keys enrolled, which Windows 11 needs.
const (
	OVMFCodeSecure = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd"
	OVMFVarsMS     = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
	OVMFCode       = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	OVMFVars       = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// Spec is a Windows build as the recipe describes it, inputs resolved to
// local files.
type Spec struct {
	Name       string
	WindowsISO string
	VirtioISO  string
	Edition    string
	ImageIndex int

	Username, Password       string
	ComputerName, TimeZone   string
	Locale, ProductKey       string
	OpenSSHSource            string
	MemoryMiB, CPUs          int
	EnableTPM, SecureBoot    bool
	AnswerMedia              string // "iso" (default) or "floppy"
	SSHPort, RDPPort         int    // host ports on 127.0.0.1
	VNCDisplay               int
	VNCPassword              bool
	Accel                    string // kvm or tcg
	OutDir                   string // answer media, disk, vars and TPM state go here
	FirmwareCode, VarsSource string // override the OVMF files
}

// Plan is everything about the build that needs no boot.
type Plan struct {
	Edition        wim.Edition
	WindowsVersion string // virtio-win folder version (w10, w11, …)
	AnswerFile     []byte
	AnswerPath     string // answer ISO or floppy image
	Disk           string // qcow2 the builder creates (not created here)
	Vars           string // the VM's UEFI vars copy (made by the builder)
	VarsTemplate   string
	TPMDir         string // swtpm state (NAME.tpm/), "" without TPM
	TPMSocket      string
	Machine        qemu.Machine
}

// Prepare reads the media, renders and writes the answer media into
// spec.OutDir and returns the plan. Nothing is booted.
func Prepare(s Spec) (*Plan, error) {
	if s.Name == "" || s.OutDir == "" {
		return nil, errors.New("windows: name and output directory are required")
	}
	p := &Plan{}
	media, mf, err := openISO("windowsIso", s.WindowsISO)
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	rep := winmedia.CheckWindows(media)
	if !rep.Valid {
		return nil, fmt.Errorf("windowsIso %s: %s", s.WindowsISO, strings.Join(rep.Problems, "; "))
	}
	switch {
	case s.Edition != "" && s.ImageIndex != 0:
		return nil, errors.New("windows: set edition or imageIndex, not both")
	case s.Edition != "":
		p.Edition, err = wim.Find(rep.Editions, s.Edition)
	case s.ImageIndex != 0:
		p.Edition, err = wim.FindIndex(rep.Editions, s.ImageIndex)
	default:
		err = fmt.Errorf("set edition or imageIndex; %s has: %s", s.WindowsISO, wim.List(rep.Editions))
	}
	if err != nil {
		return nil, fmt.Errorf("windows: %w", err)
	}
	p.WindowsVersion, err = unattend.VersionFor(p.Edition.Name, p.Edition.Build)
	if err != nil {
		return nil, fmt.Errorf("windows: %w", err)
	}
	virtio, vf, err := openISO("virtioDriversIso", s.VirtioISO)
	if err != nil {
		return nil, err
	}
	defer vf.Close()
	if vr := winmedia.CheckVirtio(virtio, unattend.DriverFolders(p.WindowsVersion)); !vr.Valid {
		return nil, fmt.Errorf("virtioDriversIso %s: %s", s.VirtioISO, strings.Join(vr.Problems, "; "))
	}
	cfg := unattend.Config{
		Locale: s.Locale, TimeZone: s.TimeZone, ComputerName: s.ComputerName,
		Username: s.Username, Password: s.Password, ProductKey: s.ProductKey,
		WindowsVersion: p.WindowsVersion, OpenSSHSource: s.OpenSSHSource,
	}
	// Select by the exact name from the image (the recipe may differ in
	// case or use the display name), or by index.
	if s.ImageIndex != 0 {
		cfg.ImageIndex = p.Edition.Index
	} else {
		cfg.Edition = p.Edition.Name
	}
	p.AnswerFile, err = unattend.Render(cfg)
	if err != nil {
		return nil, fmt.Errorf("windows answer file: %w", err)
	}
	if err := os.MkdirAll(s.OutDir, 0o755); err != nil {
		return nil, err
	}
	answerIface := qemu.IfCDROM
	switch s.AnswerMedia {
	case "", "iso":
		p.AnswerPath = filepath.Join(s.OutDir, s.Name+".answer.iso")
		if err := unattend.WriteISO(p.AnswerPath, p.AnswerFile); err != nil {
			return nil, err
		}
	case "floppy":
		img, err := unattend.Floppy(p.AnswerFile)
		if err != nil {
			return nil, err
		}
		p.AnswerPath = filepath.Join(s.OutDir, s.Name+".answer.img")
		if err := os.WriteFile(p.AnswerPath, img, 0o600); err != nil {
			return nil, err
		}
		answerIface = qemu.IfFloppy
	default:
		return nil, fmt.Errorf("windows: answerMedia %q: want iso or floppy", s.AnswerMedia)
	}
	if err := os.WriteFile(filepath.Join(s.OutDir, unattend.FileName), p.AnswerFile, 0o600); err != nil {
		return nil, err
	}

	p.Disk = filepath.Join(s.OutDir, s.Name+".qcow2")
	p.Vars = filepath.Join(s.OutDir, s.Name+".efivars.fd")
	code, vars := OVMFCode, OVMFVars
	if s.SecureBoot {
		code, vars = OVMFCodeSecure, OVMFVarsMS
	}
	if s.FirmwareCode != "" {
		code = s.FirmwareCode
	}
	if s.VarsSource != "" {
		vars = s.VarsSource
	}
	p.VarsTemplate = vars
	m := qemu.Machine{
		Name: s.Name, Accel: s.Accel, CPUs: s.CPUs, Cores: s.CPUs, Threads: 1, MemoryMiB: s.MemoryMiB,
		Firmware: qemu.Firmware{UEFI: true, SecureBoot: s.SecureBoot, Code: code, Vars: p.Vars},
		Drives: []qemu.Drive{
			{ID: "setup", File: s.WindowsISO, Interface: qemu.IfCDROM, BootIndex: 1},
			{ID: "disk", File: p.Disk, Interface: qemu.IfVirtio, BootIndex: 2},
			{ID: "virtio", File: s.VirtioISO, Interface: qemu.IfCDROM},
			{ID: "answer", File: p.AnswerPath, Interface: answerIface},
		},
		NICs:     []qemu.NIC{{}},
		VGA:      "std",
		VNC:      &qemu.VNC{Display: s.VNCDisplay, Password: s.VNCPassword},
		USBInput: true,
		RNG:      true,
		QMP:      qemu.QMP{Path: filepath.Join(s.OutDir, s.Name+".qmp")},
	}
	if s.SSHPort > 0 {
		m.NICs[0].Forwards = append(m.NICs[0].Forwards, qemu.Forward{HostPort: s.SSHPort, GuestPort: 22})
	}
	if s.RDPPort > 0 {
		m.NICs[0].Forwards = append(m.NICs[0].Forwards, qemu.Forward{HostPort: s.RDPPort, GuestPort: 3389})
	}
	if s.EnableTPM {
		p.TPMDir = filepath.Join(s.OutDir, s.Name+".tpm")
		p.TPMSocket = filepath.Join(s.OutDir, s.Name+".tpm.sock")
		m.TPMSocket = p.TPMSocket
	}
	p.Machine = m
	if _, err := m.Args(); err != nil {
		return nil, err
	}
	return p, nil
}

func openISO(field, path string) (*iso.Image, io.Closer, error) {
	if path == "" {
		return nil, nil, fmt.Errorf("%s: no file", field)
	}
	im, f, err := iso.OpenFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", field, err)
	}
	return im, f, nil
}
