package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/deskvm/deskvm/internal/units"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// Allowed values of the enum options, in the order messages list them.
var (
	profiles     = []string{string(ProfileOccasional), string(ProfileAlwaysOn)}
	accelerators = []string{string(AcceleratorKVM), string(AcceleratorTCG)}
	osTypes      = []string{string(OSWindows), string(OSLinux), string(OSMacOS)}
	displays     = []string{string(DisplaySpice), string(DisplayVNC), string(DisplayLookingGlass), string(DisplayNone)}
	firmwares    = []string{string(FirmwareUEFI), string(FirmwareBIOS)}
	diskBuses    = []string{"virtio", "sata", "scsi"}
	protocols    = []string{"tcp", "udp"}
	networkForms = []string{"default", "user", "bridge:NAME", "none"}
)

var (
	// nameRE is a VM name usable as a libvirt domain name, as the command
	// name vm-<name> and inside the unit name deskvm-vm-<name>.service.
	nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`)
	uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)
	macRE  = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)
)

const (
	maxNameLen     = 64
	maxVCPUs       = 4096
	virtiofsTagMax = 36 // bytes in the virtio-fs config space
	bridgeNameMax  = 15 // Linux IFNAMSIZ - 1
)

// Validate checks a config without touching the host and returns every
// problem found, errors and warnings, with field paths (Doc.Locate adds
// file positions). Run it after FillDefaults; on a config that was not
// defaulted it still does not panic, but it checks the unset values as
// the defaults they stand for only in part.
func Validate(c *Config) yamlsrc.Problems {
	v := &validator{c: c}
	v.global()
	for _, name := range c.VMNames() {
		v.vm(name, c.VMs[name])
	}
	v.crossVM()
	v.ps.SortByPath()
	return v.ps
}

type validator struct {
	problemList
	c *Config
}

func oneOf(path, what, got string, allowed []string, l *problemList) bool {
	for _, a := range allowed {
		if got == a {
			return true
		}
	}
	msg := fmt.Sprintf("%s %q is not one of %s", what, got, strings.Join(allowed, ", "))
	if s := yamlsrc.Suggest(got, allowed); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	l.errorf(path, "%s", msg)
	return false
}

func (v *validator) global() {
	c := v.c
	if c.Profile != "" {
		oneOf("profile", "profile", string(c.Profile), profiles, &v.problemList)
	}
	if c.Connect != "" {
		if u, err := url.Parse(c.Connect); err != nil || u.Scheme == "" {
			v.errorf("connect", "%q is not a libvirt URI such as qemu:///system or qemu+ssh://host/system", c.Connect)
		}
	}
	if c.Accelerator != "" {
		oneOf("accelerator", "accelerator", string(c.Accelerator), accelerators, &v.problemList)
	}
	if n := c.Hugepages.Size.Bytes(); c.Hugepages.Size.IsSet() && n != 2*units.MiB && n != units.GiB {
		v.errorf("hugepages.size", "%q: hugepages are 2M or 1G on x86-64", c.Hugepages.Size)
	}
	if c.Hugepages.Count < 0 {
		v.errorf("hugepages.count", "must be 0 (computed) or more, got %d", c.Hugepages.Count)
	}
	if c.UsesHugepages() && c.Hugepages.Count > 0 {
		if need := c.HugepagesFor(c.EnabledVMs()); c.Hugepages.Count < need {
			v.warnf("hugepages.count", "%d pages of %s are fewer than the %d the enabled VMs need; set 0 to compute it", c.Hugepages.Count, c.Hugepages.Size, need)
		}
	}
	if c.DefaultStoragePool != "" && !nameRE.MatchString(c.DefaultStoragePool) {
		v.errorf("defaultStoragePool", "%q is not a usable storage pool name (letters, digits, '.', '_', '-')", c.DefaultStoragePool)
	}
	if c.DefaultStoragePath != "" && !filepath.IsAbs(c.DefaultStoragePath) {
		v.errorf("defaultStoragePath", "%q must be an absolute path", c.DefaultStoragePath)
	}
	v.firewall()
	if c.UsesHugepages() {
		var fpr []string
		for _, name := range c.EnabledVMs() {
			if vm := c.VMs[name]; isTrue(vm.Memballoon.Enable) && isTrue(vm.Memballoon.FreePageReporting) {
				fpr = append(fpr, name)
			}
		}
		if len(fpr) > 0 {
			v.warnf("hugepages.enable", "memballoon.freePageReporting (on for %s) has no effect with hugepages: hugepage memory is not returned to the host", strings.Join(fpr, ", "))
		}
	}
}

// firewall warns about opening ports no display listens on: a display on
// loopback cannot be reached through the firewall anyway.
func (v *validator) firewall() {
	c := v.c
	reachable := map[string]bool{}
	for _, name := range c.EnabledVMs() {
		vm := c.VMs[name]
		if !isLoopback(listenOf(vm)) {
			switch vm.Display {
			case DisplaySpice, DisplayLookingGlass, "":
				reachable["spice"] = true
			case DisplayVNC:
				reachable["vnc"] = true
			}
		}
	}
	for _, fw := range []struct {
		key string
		on  *bool
	}{{"spice", c.FirewallPorts.Spice}, {"vnc", c.FirewallPorts.VNC}} {
		if fw.on != nil && *fw.on && !reachable[fw.key] {
			v.warnf("firewallPorts."+fw.key, "opens %s ports, but no enabled VM's %s display listens beyond loopback; the ports stay closed (set graphics.listen on a VM to reach it from the network)", fw.key, fw.key)
		}
	}
}

func listenOf(vm *VM) string {
	if vm.Graphics.Listen == "" {
		return DefaultListen
	}
	return vm.Graphics.Listen
}

func isLoopback(listen string) bool {
	if listen == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(listen)
	return err == nil && a.IsLoopback()
}

func (v *validator) vm(name string, vm *VM) {
	p := "vms." + name
	at := func(field string) string { return p + "." + field }
	if vm == nil {
		vm = &VM{}
	}
	if !nameRE.MatchString(name) || len(name) > maxNameLen {
		v.keyErrorf(p, "VM name %q is not usable as a libvirt domain name and as the command vm-%s: use up to %d letters, digits, '.', '_' and '-', starting with a letter or digit (no spaces or slashes)", name, name, maxNameLen)
	}
	if vm.UUID != "" && !uuidRE.MatchString(vm.UUID) {
		v.errorf(at("uuid"), "%q is not a UUID like 550e8400-e29b-41d4-a716-446655440000", vm.UUID)
	}

	mem := v.size(at("memory"), vm.Memory)
	if vm.CurrentMemory.IsSet() && vm.CurrentMemory != vm.Memory {
		cur := v.size(at("currentMemory"), vm.CurrentMemory)
		if mem > 0 && cur > mem {
			v.errorf(at("currentMemory"), "%s is more than memory %s", vm.CurrentMemory, vm.Memory)
		}
	}
	if mem > 0 && v.c.UsesHugepages() {
		if hp := v.c.HugepageSizeBytes(); mem%hp != 0 {
			v.warnf(at("memory"), "%s is not a whole number of %s hugepages; %s will be reserved", vm.Memory, units.FormatSize(hp), units.FormatSize((mem+hp-1)/hp*hp))
		}
	}
	if vm.VCPUs < 0 || vm.VCPUs > maxVCPUs {
		v.errorf(at("vcpus"), "must be between 1 and %d, got %d", maxVCPUs, vm.VCPUs)
	}
	v.size(at("diskSize"), vm.DiskSize)
	if vm.StoragePool != "" && !nameRE.MatchString(vm.StoragePool) {
		v.errorf(at("storagePool"), "%q is not a usable storage pool name (letters, digits, '.', '_', '-')", vm.StoragePool)
	}
	if vm.Disk.Bus != "" {
		oneOf(at("disk.bus"), "disk bus", vm.Disk.Bus, diskBuses, &v.problemList)
	}
	v.absPath(at("disk.baseImage"), vm.Disk.BaseImage)

	v.pinning(p, vm)

	if vm.Display != "" {
		oneOf(at("display"), "display", string(vm.Display), displays, &v.problemList)
	}
	v.graphics(p, vm)
	v.lookingGlass(p, vm)

	tags := make([]string, 0, len(vm.SharedFolders))
	for tag := range vm.SharedFolders {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	for _, tag := range tags {
		fp := at("sharedFolders." + tag)
		if tag == "" || len(tag) > virtiofsTagMax {
			v.keyErrorf(fp, "shared folder tag %q must be 1 to %d bytes (the guest mounts it by this tag)", tag, virtiofsTagMax)
		}
		if dir := vm.SharedFolders[tag]; !filepath.IsAbs(dir) {
			v.errorf(fp, "%q must be an absolute host path", dir)
		}
	}

	if vm.OSType != "" {
		oneOf(at("osType"), "osType", string(vm.OSType), osTypes, &v.problemList)
	}
	if vm.Accelerator != "" {
		oneOf(at("accelerator"), "accelerator", string(vm.Accelerator), accelerators, &v.problemList)
	}
	if vm.Firmware != "" {
		oneOf(at("firmware"), "firmware", string(vm.Firmware), firmwares, &v.problemList)
	}
	if vm.SecureBoot && vm.OSType == OSMacOS {
		v.errorf(at("secureBoot"), "secure boot cannot be used with osType macos: OpenCore needs it off")
	}
	if vm.SecureBoot && vm.Firmware == FirmwareBIOS {
		v.errorf(at("secureBoot"), "secure boot requires firmware: uefi")
	}
	if vm.OSType == OSMacOS && vm.Firmware == FirmwareBIOS {
		v.errorf(at("firmware"), "osType macos requires firmware: uefi (OpenCore is a UEFI application)")
	}

	if si := vm.Memballoon.StatsInterval; si != nil && *si < 0 {
		v.errorf(at("memballoon.statsInterval"), "must be 0 (off) or more seconds, got %d", *si)
	}

	v.network(p, vm)

	if vm.Boot != nil {
		if vm.Boot.Kernel == "" {
			v.errorf(at("boot.kernel"), "boot needs a kernel (direct kernel boot); remove boot to boot from disk or cdroms")
		}
		v.absPath(at("boot.kernel"), vm.Boot.Kernel)
		v.absPath(at("boot.initrd"), vm.Boot.Initrd)
	}
	for i, cd := range vm.CDROMs {
		fp := fmt.Sprintf("%s[%d]", at("cdroms"), i)
		if cd == "" {
			v.errorf(fp, "empty path")
		}
		v.absPath(fp, cd)
	}

	v.ps = append(v.ps, CheckExtraDevices(at("extraDevices"), vm.ExtraDevices)...)
	seenPCI := map[PCIAddress]bool{}
	for i, s := range vm.PCIDevices {
		fp := fmt.Sprintf("%s[%d]", at("pciDevices"), i)
		a, err := ParsePCIAddress(s)
		if err != nil {
			v.errorf(fp, "%v", err)
			continue
		}
		if seenPCI[a] {
			v.errorf(fp, "PCI device %s is listed twice", a)
		}
		seenPCI[a] = true
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

// size checks a size option (Load has parsed it) and returns its bytes.
func (v *validator) size(path string, s units.Size) uint64 {
	if s.IsSet() && s.Bytes() == 0 {
		v.errorf(path, "must be more than 0, got %q", s)
	}
	return s.Bytes()
}

func (v *validator) absPath(path, s string) {
	if s != "" && !filepath.IsAbs(s) {
		v.errorf(path, "%q must be an absolute path", s)
	}
}

func (v *validator) pinning(p string, vm *VM) {
	for i, s := range vm.CPUPinning.Sets {
		if _, err := ParseCPUSet(s); err != nil {
			v.errorf(fmt.Sprintf("%s.cpuPinning[%d]", p, i), "%v", err)
		}
	}
	vcpus := vm.VCPUs
	if vcpus == 0 {
		vcpus = DefaultVCPUs
	}
	switch n := len(vm.CPUPinning.Sets); {
	case n > vcpus:
		v.errorf(p+".cpuPinning", "%d CPU sets for %d vCPUs: one set per vCPU at most", n, vcpus)
	case n > 0 && n < vcpus:
		v.warnf(p+".cpuPinning", "%d CPU sets for %d vCPUs: vCPUs %d-%d are not pinned and float", n, vcpus, n, vcpus-1)
	}
	for _, f := range []struct{ key, val string }{{"emulatorPin", vm.EmulatorPin}, {"iothreadPin", vm.IOThreadPin}} {
		if f.val == "" {
			continue
		}
		if _, err := ParseCPUSet(f.val); err != nil {
			v.errorf(p+"."+f.key, "%v", err)
		}
	}
	if vm.IOThreads < 0 {
		v.errorf(p+".iothreads", "must be 0 or more, got %d", vm.IOThreads)
	}
	if vm.IOThreadPin != "" && vm.IOThreads == 0 {
		v.warnf(p+".iothreadPin", "has no effect without iothreads")
	}
}

func (v *validator) graphics(p string, vm *VM) {
	g := vm.Graphics
	if vm.Display == DisplayNone {
		return
	}
	listen := listenOf(vm)
	if listen != "localhost" {
		if _, err := netip.ParseAddr(listen); err != nil {
			v.errorf(p+".graphics.listen", "%q is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)", listen)
			return
		}
	}
	if !isLoopback(listen) && g.PasswordFile == "" && !g.AllowNoPassword {
		v.errorf(p+".graphics.listen", "the display listens on %s, beyond loopback, without a password: set graphics.passwordFile, or graphics.allowNoPassword: true to accept that anyone on the network can take over the VM", listen)
	}
	v.absPath(p+".graphics.passwordFile", g.PasswordFile)
	switch {
	case g.Port < 0 || g.Port > 65535:
		v.errorf(p+".graphics.port", "must be 0 (automatic) or a TCP port, got %d", g.Port)
	case g.Port != 0 && g.Port < 5900 && vm.Display == DisplayVNC:
		v.errorf(p+".graphics.port", "libvirt wants VNC ports from 5900 up, got %d", g.Port)
	}
}

func (v *validator) lookingGlass(p string, vm *VM) {
	lg := vm.LookingGlass
	if vm.Display != DisplayLookingGlass {
		if lg != (LookingGlass{}) {
			v.warnf(p+".lookingGlass", "only used with display: looking-glass (display is %s)", displayOr(vm.Display))
		}
		return
	}
	if lg.Width < 0 || lg.Height < 0 || lg.Width > maxLookingGlassSide || lg.Height > maxLookingGlassSide {
		v.errorf(p+".lookingGlass", "width and height must be between 1 and %d, got %dx%d", maxLookingGlassSide, lg.Width, lg.Height)
		return
	}
	if m := lg.SharedMemoryMB; m != 0 {
		if m < 0 || m&(m-1) != 0 {
			v.errorf(p+".lookingGlass.sharedMemoryMB", "must be a power of two (IVSHMEM), got %d", m)
		} else if need := LookingGlassMemoryMB(or(lg.Width, DefaultLookingGlassWidth), or(lg.Height, DefaultLookingGlassHeight)); m < need {
			v.warnf(p+".lookingGlass.sharedMemoryMB", "%d MiB is less than the %d MiB Looking Glass needs at %dx%d", m, need, or(lg.Width, DefaultLookingGlassWidth), or(lg.Height, DefaultLookingGlassHeight))
		}
	}
}

func or(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func displayOr(d Display) Display {
	if d == "" {
		return DisplaySpice
	}
	return d
}

func (v *validator) network(p string, vm *VM) {
	mode, bridge := vm.NetworkMode()
	switch mode {
	case "default", "user", "none":
	case "bridge":
		if bridge == "" || len(bridge) > bridgeNameMax || strings.ContainsAny(bridge, "/ \t:") || bridge == "." || bridge == ".." {
			v.errorf(p+".network", "bridge name %q must be 1 to %d characters without '/', ':' or spaces", bridge, bridgeNameMax)
		}
	default:
		oneOf(p+".network", "network", vm.Network, networkForms, &v.problemList)
	}
	if vm.MACAddress != "" {
		if !macRE.MatchString(vm.MACAddress) {
			v.errorf(p+".macAddress", "%q is not a MAC address like 52:54:00:12:34:56", vm.MACAddress)
		} else if first := hexByte(vm.MACAddress[:2]); first&1 != 0 {
			v.errorf(p+".macAddress", "%q is a multicast address; a NIC needs a unicast one (even first byte)", vm.MACAddress)
		} else if mode == "none" {
			v.warnf(p+".macAddress", "unused with network: none")
		}
	}
	if len(vm.PortForwards) > 0 && mode != "user" {
		v.errorf(p+".portForwards", "port forwards need network: user (network is %s); with other networks reach the guest by its address", vm.Network)
	}
	seen := map[string]int{}
	for i, pf := range vm.PortForwards {
		fp := fmt.Sprintf("%s.portForwards[%d]", p, i)
		if pf.Protocol != "" {
			oneOf(fp+".protocol", "protocol", pf.Protocol, protocols, &v.problemList)
		}
		if pf.Address != "" {
			if _, err := netip.ParseAddr(pf.Address); err != nil {
				v.errorf(fp+".address", "%q is not an IP address", pf.Address)
			}
		}
		if pf.Host < 1 || pf.Host > 65535 {
			v.errorf(fp+".host", "must be a port from 1 to 65535, got %d", pf.Host)
		}
		if pf.Guest < 1 || pf.Guest > 65535 {
			v.errorf(fp+".guest", "must be a port from 1 to 65535, got %d", pf.Guest)
		}
		key := forwardKey(pf)
		if j, dup := seen[key]; dup {
			v.errorf(fp+".host", "host port %d is already forwarded by portForwards[%d]", pf.Host, j)
		}
		seen[key] = i
	}
}

func forwardKey(pf PortForward) string {
	proto, addr := pf.Protocol, pf.Address
	if proto == "" {
		proto = "tcp"
	}
	if addr == "" {
		addr = DefaultListen
	}
	return fmt.Sprintf("%s/%s:%d", proto, addr, pf.Host)
}

func hexByte(s string) byte {
	var b byte
	for _, r := range strings.ToLower(s) {
		b <<= 4
		switch {
		case r >= '0' && r <= '9':
			b |= byte(r - '0')
		case r >= 'a' && r <= 'f':
			b |= byte(r-'a') + 10
		}
	}
	return b
}

// crossVM checks what only the enabled VMs together can get wrong.
func (v *validator) crossVM() {
	c := v.c
	uuids := map[string]string{}
	macs := map[string]string{}
	ports := map[int]string{}
	pinned := map[int]string{}
	pci := map[PCIAddress]string{}
	forwards := map[string]string{}
	for _, name := range c.EnabledVMs() {
		vm := c.VMs[name]
		p := "vms." + name
		if vm.UUID != "" {
			u := normUUID(vm.UUID)
			if other, dup := uuids[u]; dup {
				v.errorf(p+".uuid", "UUID %s is also VM %s's", vm.UUID, other)
			} else {
				uuids[u] = name
			}
		}
		if mode, _ := vm.NetworkMode(); vm.MACAddress != "" && mode != "none" {
			m := strings.ToLower(vm.MACAddress)
			if other, dup := macs[m]; dup {
				v.errorf(p+".macAddress", "MAC address %s is also VM %s's", vm.MACAddress, other)
			} else {
				macs[m] = name
			}
		}
		if vm.Display != DisplayNone && vm.Graphics.Port > 0 {
			if other, dup := ports[vm.Graphics.Port]; dup {
				v.errorf(p+".graphics.port", "port %d is also VM %s's display port", vm.Graphics.Port, other)
			} else {
				ports[vm.Graphics.Port] = name
			}
		}
		sets, err := vm.PinnedCPUs()
		if err == nil {
			var shared []int
			mine := map[int]bool{}
			for _, cpus := range sets {
				for _, cpu := range cpus {
					mine[cpu] = true
				}
			}
			others := map[string]bool{}
			for cpu := range mine {
				if other, dup := pinned[cpu]; dup {
					shared = append(shared, cpu)
					others[other] = true
				}
			}
			for cpu := range mine {
				if _, dup := pinned[cpu]; !dup {
					pinned[cpu] = name
				}
			}
			if len(shared) > 0 {
				v.warnf(p+".cpuPinning", "host CPUs %s are also pinned by VM %s; the two VMs compete when both run", FormatCPUSet(shared), strings.Join(sortedKeys(others), ", "))
			}
		}
		if addrs, err := vm.PCIAddresses(); err == nil {
			for _, a := range addrs {
				if other, dup := pci[a]; dup {
					v.warnf(p+".pciDevices", "PCI device %s is also passed to VM %s; only one of them can run at a time", a, other)
				} else {
					pci[a] = name
				}
			}
		}
		if mode, _ := vm.NetworkMode(); mode == "user" {
			for i, pf := range vm.PortForwards {
				key := forwardKey(pf)
				if other, dup := forwards[key]; dup {
					v.warnf(fmt.Sprintf("%s.portForwards[%d]", p, i), "host port %d is also forwarded to VM %s; only one of them can run at a time", pf.Host, other)
				} else {
					forwards[key] = name
				}
			}
		}
	}
}

func normUUID(u string) string { return strings.ToLower(strings.ReplaceAll(u, "-", "")) }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
