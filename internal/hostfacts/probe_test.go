package hostfacts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func fakeRun(outputs map[string]string) func(ctx context.Context, name string, args ...string) ([]byte, error) {
	return func(_ context.Context, name string, args ...string) ([]byte, error) {
		key := strings.Join(append([]string{name}, args...), " ")
		if out, ok := outputs[key]; ok {
			return []byte(out), nil
		}
		return nil, errors.New("not found: " + key)
	}
}

const virshVersionOut = `Compiled against library: libvirt 9.0.0
Using library: libvirt 9.0.0
Using API: QEMU 9.0.0
Running hypervisor: QEMU 7.2.22
`

func TestProbeSMTHost(t *testing.T) {
	p := &Prober{
		Root:     "testdata/smt-host",
		Connect:  "qemu:///system",
		LookPath: func(string) (string, error) { return "", errors.New("none") },
		Run:      fakeRun(map[string]string{"virsh -c qemu:///system version": virshVersionOut}),
	}
	f, err := p.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var wantCPUs []CPU
	for i := 0; i < 8; i++ {
		c := i % 4
		wantCPUs = append(wantCPUs, CPU{ID: i, Core: c, Socket: 0, Siblings: []int{c, c + 4}})
	}
	want := &Facts{
		CPUs: wantCPUs,
		KVM:  true,
		Firmware: Firmware{
			Code:           "/usr/share/OVMF/OVMF_CODE_4M.fd",
			Vars:           "/usr/share/OVMF/OVMF_VARS_4M.fd",
			SecureBootCode: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
			SecureVars:     "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
			MSKeys:         true,
		},
		VirtiofsdPath:    "/usr/libexec/virtiofsd",
		HugepageSizesKiB: []uint64{2048, 1048576},
		Hugepages: map[uint64]HugepagePool{
			2048:    {Total: 512, Free: 500},
			1048576: {Total: 0, Free: 0},
		},
		LibvirtVersion: 9000000,
		QEMUVersion:    7002022,
	}
	if d := cmp.Diff(want, f); d != "" {
		t.Errorf("facts (-want +got):\n%s", d)
	}
}

// A bare host: no online file, no topology, no KVM, no firmware, libvirt
// down. The probe must still succeed, with QEMU's version from the binary.
func TestProbeMinimalHostLibvirtDown(t *testing.T) {
	p := &Prober{
		Root: "testdata/minimal-host",
		LookPath: func(name string) (string, error) {
			if name == "virtiofsd" {
				return "/opt/bin/virtiofsd", nil
			}
			return "", errors.New("none")
		},
		Run: fakeRun(map[string]string{
			"qemu-system-x86_64 --version": "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)\nCopyright (c) 2003-2022\n",
		}),
	}
	f, err := p.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &Facts{
		CPUs:          []CPU{{ID: 0, Core: 0, Siblings: []int{0}}, {ID: 1, Core: 1, Siblings: []int{1}}},
		VirtiofsdPath: "/opt/bin/virtiofsd",
		QEMUVersion:   7002022,
	}
	if d := cmp.Diff(want, f); d != "" {
		t.Errorf("facts (-want +got):\n%s", d)
	}
}

func TestProbeNoCPUsIsError(t *testing.T) {
	_, err := (&Prober{Root: t.TempDir()}).Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cpu topology") {
		t.Fatalf("err = %v, want cpu topology error", err)
	}
}

func TestParseCPUList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		err  bool
	}{
		{"0", []int{0}, false},
		{"0-3,8,10-11", []int{0, 1, 2, 3, 8, 10, 11}, false},
		{"3,1,1-2", []int{1, 2, 3}, false},
		{"", nil, false},
		{"a", nil, true},
		{"3-1", nil, true},
		{"-1", nil, true},
	} {
		got, err := ParseCPUList(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseCPUList(%q) err = %v, want err %v", tc.in, err, tc.err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("ParseCPUList(%q) (-want +got):\n%s", tc.in, d)
		}
	}
}

func TestParseVirshVersionPartial(t *testing.T) {
	lv, q := ParseVirshVersion("Compiled against library: libvirt 9.0.0\nUsing library: libvirt 10.1.2\n")
	if lv != 10001002 || q != 0 {
		t.Errorf("got %d %d", lv, q)
	}
}

// The real machine: whatever it has, the probe must not fail and must
// find at least one CPU, each listed among its own siblings.
func TestProbeRealHost(t *testing.T) {
	f, err := Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.CPUs) == 0 {
		t.Fatal("no CPUs")
	}
	for _, c := range f.CPUs {
		found := false
		for _, s := range c.Siblings {
			found = found || s == c.ID
		}
		if !found {
			t.Errorf("cpu %d not among its siblings %v", c.ID, c.Siblings)
		}
	}
	if _, err := os.Stat("/dev/kvm"); err != nil && f.KVM {
		t.Error("KVM reported without /dev/kvm")
	}
}

// Each firmware pair comes from one directory: here Debian's tree has
// secure-boot code but no MS-enrolled vars, so the secure-boot pair is
// taken whole from the NixOS link, never Debian's 4M code with Nix's vars.
func TestFirmwarePairsFromOneDirectory(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{
		"/usr/share/OVMF/OVMF_CODE_4M.fd",
		"/usr/share/OVMF/OVMF_VARS_4M.fd",
		"/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
		"/usr/share/qemu/edk2-x86_64-secure-code.fd", // no vars of its own
		"/run/libvirt/nix-ovmf/OVMF_CODE.ms.fd",
		"/run/libvirt/nix-ovmf/OVMF_VARS.ms.fd",
	} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := (&Prober{Root: root}).firmware()
	want := Firmware{
		Code:           "/usr/share/OVMF/OVMF_CODE_4M.fd",
		Vars:           "/usr/share/OVMF/OVMF_VARS_4M.fd",
		SecureBootCode: "/run/libvirt/nix-ovmf/OVMF_CODE.ms.fd",
		SecureVars:     "/run/libvirt/nix-ovmf/OVMF_VARS.ms.fd",
		MSKeys:         true,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("firmware (-want +got):\n%s", d)
	}
}

// Arch ships secure-boot code and only vars without Microsoft's keys: the
// facts say so and name the MS-enrolled template that would be needed; a
// tree with MS-enrolled vars wins over it; one made by the user is found.
func TestFirmwareWithoutMSKeys(t *testing.T) {
	touch := func(root string, files ...string) {
		for _, f := range files {
			p := filepath.Join(root, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	arch := []string{"/usr/share/edk2/x64/OVMF_CODE.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd", "/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd"}
	root := t.TempDir()
	touch(root, arch...)
	want := Firmware{
		Code: "/usr/share/edk2/x64/OVMF_CODE.4m.fd", Vars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
		SecureBootCode: "/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd", SecureVars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
		MSKeys: false, MSVarsWanted: "/usr/share/edk2/x64/OVMF_VARS.4m.ms.fd",
	}
	if d := cmp.Diff(want, (&Prober{Root: root}).firmware()); d != "" {
		t.Errorf("arch (-want +got):\n%s", d)
	}

	// QEMU's bundled secure build has no MS-enrolled vars either.
	root = t.TempDir()
	touch(root, "/usr/share/qemu/edk2-x86_64-code.fd", "/usr/share/qemu/edk2-i386-vars.fd", "/usr/share/qemu/edk2-x86_64-secure-code.fd")
	fw := (&Prober{Root: root}).firmware()
	if fw.SecureBootCode != "/usr/share/qemu/edk2-x86_64-secure-code.fd" || fw.MSKeys || fw.MSVarsWanted != "" {
		t.Errorf("qemu bundled: %+v", fw)
	}

	root = t.TempDir()
	touch(root, arch...)
	touch(root, "/usr/share/edk2/x64/OVMF_VARS.4m.ms.fd")
	fw = (&Prober{Root: root}).firmware()
	if fw.SecureVars != "/usr/share/edk2/x64/OVMF_VARS.4m.ms.fd" || !fw.MSKeys || fw.MSVarsWanted != "" {
		t.Errorf("arch with a user-made MS template: %+v", fw)
	}

	// MS-enrolled vars in a later tree beat the earlier tree's plain ones.
	root = t.TempDir()
	touch(root, arch...)
	touch(root, "/run/libvirt/nix-ovmf/OVMF_CODE.ms.fd", "/run/libvirt/nix-ovmf/OVMF_VARS.ms.fd")
	fw = (&Prober{Root: root}).firmware()
	if fw.SecureBootCode != "/run/libvirt/nix-ovmf/OVMF_CODE.ms.fd" || !fw.MSKeys {
		t.Errorf("MS keys elsewhere: %+v", fw)
	}
}
