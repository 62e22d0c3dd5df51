package hostfacts

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Prober reads the host. Its zero value probes the real machine; tests
// point Root at a fake tree and replace the commands.
type Prober struct {
	// Root is prepended to every absolute path read (sysfs, /dev/kvm,
	// firmware, virtiofsd). Empty means "/".
	Root string
	// Connect is the libvirt URI for the version query; empty lets virsh
	// choose its default.
	Connect string
	// LookPath finds executables on PATH; nil means exec.LookPath. With a
	// non-empty Root and nil LookPath, PATH is not searched, so a fake
	// tree is not mixed with the real machine.
	LookPath func(name string) (string, error)
	// Run runs a command and returns its standard output; nil means
	// exec.CommandContext. Used for `virsh version` and `qemu-system-x86_64 --version`.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
	// CommandTimeout bounds each external command (default 5 s), so a hung
	// libvirtd cannot hang rendering.
	CommandTimeout time.Duration
}

// Probe reads the real host with default settings.
func Probe(ctx context.Context) (*Facts, error) {
	return (&Prober{}).Probe(ctx)
}

// Probe fills Facts. Missing parts (no KVM, no OVMF, libvirt down) are
// facts, not errors; only an unreadable CPU topology is an error, because
// every host that can run a VM has one.
func (p *Prober) Probe(ctx context.Context) (*Facts, error) {
	f := &Facts{}
	cpus, err := p.cpus()
	if err != nil {
		return nil, fmt.Errorf("probe host cpu topology: %w", err)
	}
	f.CPUs = cpus
	f.KVM = p.kvm()
	f.Firmware = p.firmware()
	f.VirtiofsdPath = p.virtiofsd()
	f.HugepageSizesKiB, f.Hugepages = p.hugepages()
	f.LibvirtVersion, f.QEMUVersion = p.versions(ctx)
	return f, nil
}

func (p *Prober) path(abs string) string {
	if p.Root == "" {
		return abs
	}
	return filepath.Join(p.Root, abs)
}

func (p *Prober) readTrim(abs string) (string, error) {
	b, err := os.ReadFile(p.path(abs))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

const sysCPU = "/sys/devices/system/cpu"

func (p *Prober) cpus() ([]CPU, error) {
	var ids []int
	online, err := p.readTrim(sysCPU + "/online")
	switch {
	case err == nil:
		ids, err = ParseCPUList(online)
		if err != nil {
			return nil, fmt.Errorf("%s/online: %w", sysCPU, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		// Some containers hide "online"; every cpuN directory then counts.
		ids, err = p.cpuDirs()
		if err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no online cpus under %s", sysCPU)
	}
	out := make([]CPU, 0, len(ids))
	for _, id := range ids {
		dir := fmt.Sprintf("%s/cpu%d/topology", sysCPU, id)
		c := CPU{ID: id, Core: id, Siblings: []int{id}}
		// A CPU without a topology directory (rare, some VMs) is treated
		// as its own core on socket 0.
		if s, err := p.readTrim(dir + "/core_id"); err == nil {
			if c.Core, err = strconv.Atoi(s); err != nil {
				return nil, fmt.Errorf("%s/core_id %q: %w", dir, s, err)
			}
		}
		if s, err := p.readTrim(dir + "/physical_package_id"); err == nil {
			if c.Socket, err = strconv.Atoi(s); err != nil {
				return nil, fmt.Errorf("%s/physical_package_id %q: %w", dir, s, err)
			}
		}
		if s, err := p.readTrim(dir + "/thread_siblings_list"); err == nil {
			sib, err := ParseCPUList(s)
			if err != nil {
				return nil, fmt.Errorf("%s/thread_siblings_list: %w", dir, err)
			}
			if len(sib) > 0 {
				c.Siblings = sib
			}
		}
		out = append(out, c)
	}
	return out, nil
}

var cpuDirRE = regexp.MustCompile(`^cpu([0-9]+)$`)

func (p *Prober) cpuDirs() ([]int, error) {
	ents, err := os.ReadDir(p.path(sysCPU))
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, e := range ents {
		if m := cpuDirRE.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			ids = append(ids, n)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

// ParseCPUList parses the kernel's list format ("0-3,8,10-11"), sorted
// and without duplicates.
func ParseCPUList(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	seen := map[int]bool{}
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad cpu list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad cpu list %q", s)
			}
		}
		for i := a; i <= b; i++ {
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	sort.Ints(out)
	return out, nil
}

func (p *Prober) kvm() bool {
	fh, err := os.OpenFile(p.path("/dev/kvm"), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	fh.Close()
	return true
}

// firmwareSet is one distribution's OVMF layout, most preferred first.
type firmwareSet struct {
	code, vars, secureCode []string
	// msVars are vars templates with Microsoft's keys enrolled;
	// secureVars are ones without, which the secure code also runs with
	// (what a distribution that ships no MS-enrolled template has).
	msVars, secureVars []string
}

// firmwareSets are searched in order. The plain pair (code, vars) and the
// secure-boot pair (secure code, vars) each come from the first
// directory that has both of the pair: a code image and a vars template
// of different builds (2M vs 4M flash, another distribution) do not fit
// together. A secure pair with MS-enrolled vars anywhere beats one
// without.
var firmwareSets = []struct {
	dir string
	set firmwareSet
}{
	// Debian / Ubuntu (ovmf package).
	{"/usr/share/OVMF", firmwareSet{
		code:       []string{"OVMF_CODE_4M.fd", "OVMF_CODE.fd"},
		vars:       []string{"OVMF_VARS_4M.fd", "OVMF_VARS.fd"},
		secureCode: []string{"OVMF_CODE_4M.secboot.fd", "OVMF_CODE_4M.ms.fd", "OVMF_CODE.secboot.fd", "OVMF_CODE.ms.fd"},
		msVars:     []string{"OVMF_VARS_4M.ms.fd", "OVMF_VARS.ms.fd"},
	}},
	// Fedora / RHEL (edk2-ovmf): the secboot vars have MS keys enrolled.
	{"/usr/share/edk2/ovmf", firmwareSet{
		code:       []string{"OVMF_CODE.fd"},
		vars:       []string{"OVMF_VARS.fd"},
		secureCode: []string{"OVMF_CODE.secboot.fd"},
		msVars:     []string{"OVMF_VARS.secboot.fd"},
	}},
	// Arch (edk2-ovmf) ships no MS-enrolled vars. OVMF_VARS.4m.ms.fd is
	// where deskvm looks for one the user made (e.g. with virt-fw-vars).
	{"/usr/share/edk2/x64", firmwareSet{
		code:       []string{"OVMF_CODE.4m.fd", "OVMF_CODE.fd"},
		vars:       []string{"OVMF_VARS.4m.fd", "OVMF_VARS.fd"},
		secureCode: []string{"OVMF_CODE.secboot.4m.fd", "OVMF_CODE.secboot.fd"},
		msVars:     []string{"OVMF_VARS.4m.ms.fd"},
		secureVars: []string{"OVMF_VARS.4m.fd"},
	}},
	{"/usr/share/edk2-ovmf/x64", firmwareSet{
		code:       []string{"OVMF_CODE.fd"},
		vars:       []string{"OVMF_VARS.fd"},
		secureCode: []string{"OVMF_CODE.secboot.fd"},
		msVars:     []string{"OVMF_VARS.secboot.fd"},
	}},
	// NixOS: libvirtd's qemu.ovmf package is linked here (OVMFFull has
	// secure boot and MS keys).
	{"/run/libvirt/nix-ovmf", firmwareSet{
		code:       []string{"OVMF_CODE.fd"},
		vars:       []string{"OVMF_VARS.fd"},
		secureCode: []string{"OVMF_CODE.ms.fd", "OVMF_CODE.fd"},
		msVars:     []string{"OVMF_VARS.ms.fd"},
	}},
	{"/run/current-system/sw/share/qemu", firmwareSet{
		code:       []string{"edk2-x86_64-code.fd"},
		vars:       []string{"edk2-i386-vars.fd"},
		secureCode: []string{"edk2-x86_64-secure-code.fd"},
		secureVars: []string{"edk2-i386-vars.fd"},
	}},
	// QEMU's bundled edk2 (no MS keys).
	{"/usr/share/qemu", firmwareSet{
		code:       []string{"edk2-x86_64-code.fd"},
		vars:       []string{"edk2-i386-vars.fd"},
		secureCode: []string{"edk2-x86_64-secure-code.fd"},
		secureVars: []string{"edk2-i386-vars.fd"},
	}},
}

// Firmware finds the OVMF files alone, without the rest of a probe: the
// image builder runs QEMU directly and needs no libvirt.
func (p *Prober) Firmware() Firmware { return p.firmware() }

func (p *Prober) firmware() Firmware {
	var fw Firmware
	find := func(dir string, names []string) string {
		for _, n := range names {
			abs := dir + "/" + n
			if st, err := os.Stat(p.path(abs)); err == nil && st.Mode().IsRegular() {
				return abs
			}
		}
		return ""
	}
	for _, fsd := range firmwareSets {
		if fw.Code == "" {
			if code, vars := find(fsd.dir, fsd.set.code), find(fsd.dir, fsd.set.vars); code != "" && vars != "" {
				fw.Code, fw.Vars = code, vars
			}
		}
		if fw.SecureBootCode == "" {
			if code, vars := find(fsd.dir, fsd.set.secureCode), find(fsd.dir, fsd.set.msVars); code != "" && vars != "" {
				fw.SecureBootCode, fw.SecureVars, fw.MSKeys = code, vars, true
			}
		}
	}
	if fw.SecureBootCode != "" {
		return fw
	}
	// No MS-enrolled vars anywhere: secure boot without Microsoft's keys,
	// which config.CheckHost reports, naming the file that is missing.
	for _, fsd := range firmwareSets {
		if code, vars := find(fsd.dir, fsd.set.secureCode), find(fsd.dir, fsd.set.secureVars); code != "" && vars != "" {
			fw.SecureBootCode, fw.SecureVars = code, vars
			if len(fsd.set.msVars) > 0 {
				fw.MSVarsWanted = fsd.dir + "/" + fsd.set.msVars[0]
			}
			break
		}
	}
	return fw
}

var virtiofsdPaths = []string{
	"/usr/lib/qemu/virtiofsd", // Debian 12 (qemu-system-common)
	"/usr/libexec/virtiofsd",  // Fedora, Debian 13 (virtiofsd package)
	"/usr/lib/virtiofsd",      // Arch
	"/run/current-system/sw/bin/virtiofsd",
}

func (p *Prober) virtiofsd() string {
	for _, abs := range virtiofsdPaths {
		if st, err := os.Stat(p.path(abs)); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return abs
		}
	}
	look := p.LookPath
	if look == nil && p.Root == "" {
		look = exec.LookPath
	}
	if look != nil {
		if path, err := look("virtiofsd"); err == nil {
			return path
		}
	}
	return ""
}

var hugeDirRE = regexp.MustCompile(`^hugepages-([0-9]+)kB$`)

func (p *Prober) hugepages() ([]uint64, map[uint64]HugepagePool) {
	const dir = "/sys/kernel/mm/hugepages"
	ents, err := os.ReadDir(p.path(dir))
	if err != nil {
		return nil, nil
	}
	var sizes []uint64
	pools := map[uint64]HugepagePool{}
	for _, e := range ents {
		m := hugeDirRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		kib, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			continue
		}
		sizes = append(sizes, kib)
		var pool HugepagePool
		if s, err := p.readTrim(dir + "/" + e.Name() + "/nr_hugepages"); err == nil {
			pool.Total, _ = strconv.ParseUint(s, 10, 64)
		}
		if s, err := p.readTrim(dir + "/" + e.Name() + "/free_hugepages"); err == nil {
			pool.Free, _ = strconv.ParseUint(s, 10, 64)
		}
		pools[kib] = pool
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	if len(sizes) == 0 {
		return nil, nil
	}
	return sizes, pools
}

func (p *Prober) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	timeout := p.CommandTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if p.Run != nil {
		return p.Run(ctx, name, args...)
	}
	if p.Root != "" {
		// A fake tree has no commands of its own.
		return nil, errors.New("no commands under a fake root")
	}
	return exec.CommandContext(ctx, name, args...).Output()
}

// versions asks virsh; when libvirt is down it falls back to QEMU's own
// --version for the QEMU figure. Failures leave 0.
func (p *Prober) versions(ctx context.Context) (libvirt, qemu uint64) {
	args := []string{"version"}
	if p.Connect != "" {
		args = []string{"-c", p.Connect, "version"}
	}
	if out, err := p.run(ctx, "virsh", args...); err == nil {
		libvirt, qemu = ParseVirshVersion(string(out))
	}
	if qemu == 0 {
		if out, err := p.run(ctx, "qemu-system-x86_64", "--version"); err == nil {
			qemu = parseQEMUVersion(string(out))
		}
	}
	return libvirt, qemu
}

var (
	libvirtLineRE = regexp.MustCompile(`^Using library: libvirt ([0-9]+)\.([0-9]+)\.([0-9]+)`)
	hvLineRE      = regexp.MustCompile(`^Running hypervisor: QEMU ([0-9]+)\.([0-9]+)\.([0-9]+)`)
	qemuVersionRE = regexp.MustCompile(`QEMU emulator version ([0-9]+)\.([0-9]+)\.([0-9]+)`)
)

// ParseVirshVersion reads `virsh version` output into libvirt's numeric
// form (major*1e6 + minor*1e3 + micro); 0 for what is missing.
func ParseVirshVersion(out string) (libvirt, qemu uint64) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := libvirtLineRE.FindStringSubmatch(line); m != nil {
			libvirt = versionNumber(m[1:])
		}
		if m := hvLineRE.FindStringSubmatch(line); m != nil {
			qemu = versionNumber(m[1:])
		}
	}
	return libvirt, qemu
}

func parseQEMUVersion(out string) uint64 {
	if m := qemuVersionRE.FindStringSubmatch(out); m != nil {
		return versionNumber(m[1:])
	}
	return 0
}

func versionNumber(parts []string) uint64 {
	var v uint64
	for _, s := range parts {
		n, _ := strconv.ParseUint(s, 10, 64)
		v = v*1000 + n
	}
	return v
}
