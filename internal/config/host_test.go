package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// twoCPUHost is this machine's shape: two CPUs, no KVM, OVMF, 2M pages only.
func twoCPUHost() *hostfacts.Facts {
	return &hostfacts.Facts{
		CPUs: []hostfacts.CPU{{ID: 0, Siblings: []int{0}}, {ID: 1, Core: 1, Siblings: []int{1}}},
		Firmware: hostfacts.Firmware{
			Code: "/usr/share/OVMF/OVMF_CODE_4M.fd", Vars: "/usr/share/OVMF/OVMF_VARS_4M.fd",
			SecureBootCode: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", SecureVars: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", MSKeys: true,
		},
		VirtiofsdPath:    "/usr/lib/qemu/virtiofsd",
		HugepageSizesKiB: []uint64{2048},
		Hugepages:        map[uint64]hostfacts.HugepagePool{2048: {Total: 1024, Free: 1024}},
	}
}

func hostCheck(t *testing.T, doc string, f *hostfacts.Facts) []string {
	t.Helper()
	c, src, err := Load("c.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	FillDefaults(c)
	if ps := Validate(c); ps.HasErrors() {
		t.Fatalf("config invalid: %v", ps.Errors())
	}
	ps := src.Locate(CheckHost(c, f))
	for _, p := range ps {
		if p.Severity != yamlsrc.SeverityWarning {
			t.Errorf("host problem %v is not a warning", p)
		}
	}
	return problemStrings(ps)
}

func TestCheckHost(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(file, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	noKVMNoFirmware := twoCPUHost()
	noKVMNoFirmware.Firmware = hostfacts.Firmware{}
	noKVMNoFirmware.VirtiofsdPath = ""
	archFirmware := twoCPUHost()
	archFirmware.Firmware = hostfacts.Firmware{Code: "/usr/share/edk2/x64/OVMF_CODE.4m.fd", Vars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
		SecureBootCode: "/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd", SecureVars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
		MSVarsWanted: "/usr/share/edk2/x64/OVMF_VARS.4m.ms.fd"}
	// As hostfacts.FromCapabilities gives them: code images only, no
	// virtiofsd, reserved but not free hugepages.
	remoteHost := func() *hostfacts.Facts {
		f := twoCPUHost()
		f.Firmware = hostfacts.Firmware{Code: "/usr/share/OVMF/OVMF_CODE_4M.fd", SecureBootCode: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd"}
		f.VirtiofsdPath = ""
		f.Hugepages = map[uint64]hostfacts.HugepagePool{2048: {Total: 0}}
		f.Unknown = []string{hostfacts.UnknownVirtiofsd, hostfacts.UnknownFreeHugepages, hostfacts.UnknownFirmwareVars, hostfacts.UnknownHostFiles}
		return f
	}
	tests := []struct {
		name  string
		doc   string
		facts *hostfacts.Facts
		want  []string // substrings, each of some problem; none means no problem at all
	}{
		{"fits", "accelerator: tcg\nvms:\n  a: {vcpus: 2, cpuPinning: [\"0\", \"1\"], boot: {kernel: " + file + "}, sharedFolders: {d: " + dir + "}}\n", twoCPUHost(), nil},
		{"pinned CPUs 0-7 on 2 CPUs", "accelerator: tcg\nvms:\n  a: {vcpus: 4, cpuPinning: [\"0-1\", \"2-3\", \"4-5\", \"6-7\"]}\n", twoCPUHost(),
			[]string{`c.yaml:3:37: vms.a.cpuPinning[1]: host CPUs 2-3 do not exist; this host has CPUs 0-1`, `vms.a.cpuPinning[3]: host CPUs 6-7 do not exist`}},
		{"emulatorPin", "accelerator: tcg\nvms:\n  a: {emulatorPin: \"5\"}\n", twoCPUHost(), []string{`vms.a.emulatorPin: host CPUs 5 do not exist`}},
		{"no kvm", "vms:\n  a: {}\n", twoCPUHost(), []string{`vms.a.accelerator: accelerator kvm needs /dev/kvm, which this host lacks; set accelerator: tcg`}},
		{"kvm present", "vms:\n  a: {}\n", func() *hostfacts.Facts { f := twoCPUHost(); f.KVM = true; return f }(), nil},
		{"no firmware", "accelerator: tcg\nvms:\n  a: {}\n  s: {secureBoot: true}\n  b: {firmware: bios}\n", noKVMNoFirmware,
			[]string{`vms.a.firmware: no UEFI firmware found`, `vms.s.secureBoot: no secure-boot OVMF firmware with Microsoft keys`}},
		{"secure boot without MS keys", "accelerator: tcg\nvms:\n  w: {osType: windows, secureBoot: true}\n  l: {}\n", archFirmware,
			[]string{`c.yaml:3:36: vms.w.secureBoot: the secure-boot firmware's vars template /usr/share/edk2/x64/OVMF_VARS.4m.fd has no Microsoft keys enrolled, so Windows 11 and shim-signed Linux will not boot with secure boot; provide /usr/share/edk2/x64/OVMF_VARS.4m.ms.fd`}},
		{"secure boot off needs no MS keys", "accelerator: tcg\nvms:\n  l: {}\n", archFirmware, nil},
		{"remote host: what libvirt cannot tell is not checked", "profile: always-on\naccelerator: tcg\nvms:\n  w:\n    memory: 4G\n    secureBoot: true\n    sharedFolders: {d: /nonexistent/dir}\n    boot: {kernel: /nonexistent/vmlinuz}\n    pciDevices: [\"0000:99:00.0\"]\n", remoteHost(), nil},
		{"remote host without firmware", "accelerator: tcg\nvms:\n  a: {}\n  s: {secureBoot: true}\n", func() *hostfacts.Facts { f := remoteHost(); f.Firmware = hostfacts.Firmware{}; return f }(),
			[]string{`vms.a.firmware: no UEFI firmware found`, `vms.s.secureBoot: no secure-boot OVMF firmware`}},
		{"remote host: the password file is local", "accelerator: tcg\nvms:\n  a: {graphics: {passwordFile: /nonexistent/pw}}\n", remoteHost(),
			[]string{`vms.a.graphics.passwordFile: /nonexistent/pw: no such file or directory`}},
		{"no virtiofsd", "accelerator: tcg\nvms:\n  a: {sharedFolders: {d: " + dir + "}}\n", noKVMNoFirmware,
			[]string{`vms.a.sharedFolders: shared folders need virtiofsd`}},
		{"missing files", "accelerator: tcg\nvms:\n  a:\n    boot: {kernel: /nonexistent/vmlinuz}\n    cdroms: [" + dir + "]\n    sharedFolders: {d: /nonexistent/dir, f: " + file + "}\n", twoCPUHost(),
			[]string{`c.yaml:4:20: vms.a.boot.kernel: /nonexistent/vmlinuz: no such file or directory`,
				`vms.a.cdroms[0]: ` + dir + ` is a directory, not a file`,
				`vms.a.sharedFolders.d: /nonexistent/dir: no such file or directory`,
				`vms.a.sharedFolders.f: ` + file + ` is not a directory`}},
		{"hugepage size unsupported", "profile: always-on\naccelerator: tcg\nhugepages: {size: 1G}\nvms:\n  a: {memory: 1G}\n", twoCPUHost(),
			[]string{`c.yaml:3:19: hugepages.size: this host does not support 1G hugepages (supported: [2M])`}},
		{"too few free hugepages", "profile: always-on\naccelerator: tcg\nvms:\n  a: {memory: 4G}\n", twoCPUHost(),
			[]string{`hugepages: the VMs that start with the host ([a]) need 2048 free 2M hugepages; the host has 1024 free`}},
		{"enough hugepages", "profile: always-on\naccelerator: tcg\nvms:\n  a: {memory: 2G}\n", twoCPUHost(), nil},
		{"hugepages not started at boot", "profile: always-on\naccelerator: tcg\nvms:\n  a: {memory: 4G, autoStart: false}\n", twoCPUHost(), nil},
		{"hugepages on demand", "profile: always-on\naccelerator: tcg\nhugepages: {onDemand: true}\nvms:\n  a: {memory: 4G}\n", twoCPUHost(), nil},
		{"disabled VMs are not checked", "vms:\n  a: {enable: false, cpuPinning: [\"7\"], vcpus: 1}\n", twoCPUHost(), nil},
		{"auto pinning too many vCPUs", "accelerator: tcg\nvms:\n  a: {vcpus: 4, cpuPinning: auto}\n", twoCPUHost(),
			[]string{`vms.a.cpuPinning: auto pinning of 4 vCPUs needs as many host CPUs; this host has 2`}},
		{"no facts", "vms:\n  a: {}\n", nil, []string{`host facts unavailable`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hostCheck(t, tt.doc, tt.facts)
			if tt.want == nil && len(got) > 0 {
				t.Errorf("want no problem, got:\n  %s", strings.Join(got, "\n  "))
			}
			for _, w := range tt.want {
				if !hasLine(got, w) {
					t.Errorf("no problem contains %q; got:\n  %s", w, strings.Join(got, "\n  "))
				}
			}
		})
	}
}

// config validate is pure: pinning CPUs 0-7 is fine without the host,
// and an error once the host checks count as errors (--host).
func TestPinningBeyondHostIsOnlyAHostProblem(t *testing.T) {
	c := mustLoad(t, "accelerator: tcg\nvms:\n  a: {vcpus: 8, cpuPinning: [\"0-7\"]}\n")
	FillDefaults(c)
	if ps := Validate(c); ps.HasErrors() {
		t.Fatalf("pure validation failed: %v", ps)
	}
	host := CheckHost(c, twoCPUHost())
	if host.HasErrors() || len(host) == 0 {
		t.Fatalf("host problems = %v, want warnings only", host)
	}
	if err := host.AsErrors().Err(); err == nil || !strings.Contains(err.Error(), "host CPUs 2-7 do not exist") {
		t.Errorf("AsErrors().Err() = %v", err)
	}
}
