package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/units"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// CheckHost checks the config against the host it is to run on: pinned
// CPUs exist, the hugepage size is supported and enough pages are free,
// firmware and virtiofsd are installed, files and shared folders exist,
// KVM is there when asked for. Apart from reading the facts it only stats
// the files the config names; parts the facts do not know (Facts.Unknown,
// as for a remote host) are not checked. Every problem is a warning; callers where
// the host matters (config validate --host, plan, apply) call AsErrors.
// Run it on a defaulted, valid config (FillDefaults, Validate).
func CheckHost(c *Config, f *hostfacts.Facts) yamlsrc.Problems {
	return checkHost(c, f, os.Stat)
}

func checkHost(c *Config, f *hostfacts.Facts, stat func(string) (fs.FileInfo, error)) yamlsrc.Problems {
	var l problemList
	if f == nil {
		l.warnf("", "host facts unavailable; host checks skipped")
		return l.ps
	}
	h := hostChecker{problemList: &l, f: f, stat: stat}
	vms := c.EnabledVMs()
	for _, name := range vms {
		h.vm("vms."+name, c, c.VMs[name])
	}
	if c.UsesHugepages() && len(vms) > 0 {
		h.hugepages(c)
	}
	l.ps.SortByPath()
	return l.ps
}

type hostChecker struct {
	*problemList
	f    *hostfacts.Facts
	stat func(string) (fs.FileInfo, error)
}

func (h hostChecker) vm(p string, c *Config, vm *VM) {
	f := h.f
	hostCPUs := func() string {
		ids := make([]int, len(f.CPUs))
		for i, c := range f.CPUs {
			ids[i] = c.ID
		}
		return FormatCPUSet(ids)
	}
	checkSet := func(path, set string) {
		cpus, err := ParseCPUSet(set)
		if err != nil {
			return // Validate reports it
		}
		var missing []int
		for _, cpu := range cpus {
			if !f.HasCPU(cpu) {
				missing = append(missing, cpu)
			}
		}
		if len(missing) > 0 {
			h.warnf(path, "host CPUs %s do not exist; this host has CPUs %s", FormatCPUSet(missing), hostCPUs())
		}
	}
	for i, set := range vm.CPUPinning.Sets {
		checkSet(fmt.Sprintf("%s.cpuPinning[%d]", p, i), set)
	}
	if vm.EmulatorPin != "" {
		checkSet(p+".emulatorPin", vm.EmulatorPin)
	}
	if vm.IOThreadPin != "" {
		checkSet(p+".iothreadPin", vm.IOThreadPin)
	}
	if vm.CPUPinning.Auto && vm.VCPUs > len(f.CPUs) {
		h.warnf(p+".cpuPinning", "auto pinning of %d vCPUs needs as many host CPUs; this host has %d", vm.VCPUs, len(f.CPUs))
	}

	if vm.Accelerator == AcceleratorKVM && !f.KVM {
		h.warnf(p+".accelerator", "accelerator kvm needs /dev/kvm, which this host lacks; set accelerator: tcg to run the VM emulated (slow)")
	}
	// Facts from a remote libvirt know the code images, not the vars
	// templates: libvirt picks those by feature when the VM is defined.
	varsKnown := f.Knows(hostfacts.UnknownFirmwareVars)
	if vm.Firmware == FirmwareUEFI || vm.Firmware == "" {
		if vm.SecureBoot {
			h.secureBootFirmware(p, f.Firmware, varsKnown)
		} else if f.Firmware.Code == "" || (varsKnown && f.Firmware.Vars == "") {
			h.warnf(p+".firmware", "no UEFI firmware found (OVMF_CODE*.fd / OVMF_VARS*.fd); install ovmf or set firmware: bios")
		}
	}
	if len(vm.SharedFolders) > 0 && f.VirtiofsdPath == "" && f.Knows(hostfacts.UnknownVirtiofsd) {
		h.warnf(p+".sharedFolders", "shared folders need virtiofsd, which was not found on this host")
	}
	// The password file is read here, where deskvm runs; the rest lives
	// on the VM host.
	h.exists(p+".graphics.passwordFile", vm.Graphics.PasswordFile, false)
	if !f.Knows(hostfacts.UnknownHostFiles) {
		return
	}
	tags := make([]string, 0, len(vm.SharedFolders))
	for tag := range vm.SharedFolders {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	for _, tag := range tags {
		h.exists(p+".sharedFolders."+tag, vm.SharedFolders[tag], true)
	}
	if vm.Boot != nil {
		h.exists(p+".boot.kernel", vm.Boot.Kernel, false)
		h.exists(p+".boot.initrd", vm.Boot.Initrd, false)
	}
	for i, cd := range vm.CDROMs {
		h.exists(fmt.Sprintf("%s.cdroms[%d]", p, i), cd, false)
	}
	for i, dev := range vm.PCIDevices {
		if a, err := ParsePCIAddress(dev); err == nil {
			if _, err := h.stat("/sys/bus/pci/devices/" + a.String()); err != nil {
				h.warnf(fmt.Sprintf("%s.pciDevices[%d]", p, i), "host has no PCI device %s (see lspci -D)", a)
			}
		}
	}
	h.exists(p+".disk.baseImage", vm.Disk.BaseImage, false)
}

// secureBootFirmware: secure boot needs the secure-boot OVMF build and a
// vars template with Microsoft's keys enrolled; with vars lacking them
// Windows 11 and shim-signed Linux refuse to boot.
func (h hostChecker) secureBootFirmware(p string, fw hostfacts.Firmware, varsKnown bool) {
	switch {
	case fw.SecureBootCode == "" || (varsKnown && fw.SecureVars == ""):
		h.warnf(p+".secureBoot", "no secure-boot OVMF firmware with Microsoft keys found (OVMF_CODE*.secboot.fd / OVMF_VARS*.ms.fd); install ovmf")
	case varsKnown && !fw.MSKeys:
		want := fw.MSVarsWanted
		if want == "" {
			want = "an OVMF_VARS*.ms.fd template (Debian/Ubuntu ovmf, Fedora edk2-ovmf OVMF_VARS.secboot.fd)"
		}
		h.warnf(p+".secureBoot", "the secure-boot firmware's vars template %s has no Microsoft keys enrolled, so Windows 11 and shim-signed Linux will not boot with secure boot; provide %s (a vars template with Microsoft keys enrolled, e.g. made with virt-fw-vars) or set secureBoot: false",
			fw.SecureVars, want)
	}
}

func (h hostChecker) exists(path, file string, dir bool) {
	if file == "" {
		return
	}
	fi, err := h.stat(file)
	switch {
	case err != nil:
		h.warnf(path, "%s: %v", file, unwrapPathError(err))
	case dir && !fi.IsDir():
		h.warnf(path, "%s is not a directory", file)
	case !dir && fi.IsDir():
		h.warnf(path, "%s is a directory, not a file", file)
	}
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// hugepages checks the page size and that the VMs which start with the
// host find their pages. With onDemand, pages are allocated at VM start,
// so there is nothing to check beforehand.
func (h hostChecker) hugepages(c *Config) {
	f := h.f
	sizeKiB := c.HugepageSizeBytes() / units.KiB
	if sizeKiB != 2*units.KiB && sizeKiB != units.MiB {
		return // Validate reports the size
	}
	supported := false
	for _, s := range f.HugepageSizesKiB {
		if s == sizeKiB {
			supported = true
		}
	}
	if !supported {
		var have []string
		for _, s := range f.HugepageSizesKiB {
			have = append(have, units.FormatSize(s*units.KiB))
		}
		h.warnf("hugepages.size", "this host does not support %s hugepages (supported: %v)", units.FormatSize(sizeKiB*units.KiB), have)
		return
	}
	if (c.Hugepages.OnDemand != nil && *c.Hugepages.OnDemand) || !f.Knows(hostfacts.UnknownFreeHugepages) {
		return
	}
	var starting []string
	for _, name := range c.EnabledVMs() {
		if vm := c.VMs[name]; vm.AutoStart != nil && *vm.AutoStart {
			starting = append(starting, name)
		}
	}
	need := uint64(c.HugepagesFor(starting))
	if free := f.Hugepages[sizeKiB].Free; need > free {
		h.warnf("hugepages", "the VMs that start with the host (%v) need %d free %s hugepages; the host has %d free (see /proc/meminfo; pages reserved at boot are the reliable way to get them)", starting, need, units.FormatSize(sizeKiB*units.KiB), free)
	}
}
