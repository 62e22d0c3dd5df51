package hostfacts

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil"
)

func readCaps(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "caps", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var allUnknown = []string{UnknownVirtiofsd, UnknownFreeHugepages, UnknownFirmwareVars, UnknownHostFiles}

// Captured from this project's test machine (libvirt 9.0, QEMU 7.2, no
// KVM, Debian's ovmf): virsh capabilities and virsh domcapabilities
// --virttype qemu --machine q35 --arch x86_64.
func TestFromCapabilitiesLocalCapture(t *testing.T) {
	f, err := FromCapabilities(readCaps(t, "local-capabilities.xml"), readCaps(t, "local-domcapabilities-qemu.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Facts{
		CPUs: []CPU{{ID: 0, Core: 0, Siblings: []int{0}}, {ID: 1, Core: 1, Siblings: []int{1}}},
		Firmware: Firmware{
			Code:           "/usr/share/OVMF/OVMF_CODE_4M.fd",
			SecureBootCode: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
		},
		HugepageSizesKiB: []uint64{2048},
		Hugepages:        map[uint64]HugepagePool{2048: {}},
		Unknown:          allUnknown,
	}
	if d := cmp.Diff(want, f); d != "" {
		t.Errorf("facts (-want +got):\n%s", d)
	}
	for _, part := range allUnknown {
		if f.Knows(part) {
			t.Errorf("Knows(%q) = true", part)
		}
	}
}

func TestFromCapabilitiesSMTKVM(t *testing.T) {
	f, err := FromCapabilities(readCaps(t, "smt-kvm-capabilities.xml"), readCaps(t, "arch-domcapabilities-kvm.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var wantCPUs []CPU
	for i := 0; i < 8; i++ {
		core, socket := i%2, (i/2)%2
		first := socket*2 + core
		wantCPUs = append(wantCPUs, CPU{ID: i, Core: core, Socket: socket, Siblings: []int{first, first + 4}})
	}
	want := &Facts{
		CPUs: wantCPUs,
		KVM:  true,
		Firmware: Firmware{
			Code:           "/usr/share/edk2/x64/OVMF_CODE.4m.fd",
			SecureBootCode: "/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd",
		},
		HugepageSizesKiB: []uint64{2048, 1048576},
		Hugepages:        map[uint64]HugepagePool{2048: {Total: 512}, 1048576: {Total: 2}},
		Unknown:          allUnknown,
	}
	if d := cmp.Diff(want, f); d != "" {
		t.Errorf("facts (-want +got):\n%s", d)
	}
}

func TestFromCapabilitiesErrors(t *testing.T) {
	caps := readCaps(t, "local-capabilities.xml")
	if _, err := FromCapabilities("<capabilities", ""); err == nil || !strings.Contains(err.Error(), "parse libvirt capabilities") {
		t.Errorf("bad caps: %v", err)
	}
	if _, err := FromCapabilities("<capabilities><host/></capabilities>", ""); err == nil || !strings.Contains(err.Error(), "no host CPUs") {
		t.Errorf("caps without topology: %v", err)
	}
	if _, err := FromCapabilities(caps, "<domainCapabilities"); err == nil || !strings.Contains(err.Error(), "domain capabilities") {
		t.Errorf("bad domcaps: %v", err)
	}
	f, err := FromCapabilities(caps, "")
	if err != nil || f.Firmware != (Firmware{}) {
		t.Errorf("no domcaps: %+v %v", f, err)
	}
	// Secure boot not offered (an i440fx answer): no secure-boot code.
	noSecure := strings.Replace(readCaps(t, "local-domcapabilities-qemu.xml"), "<value>yes</value>\n        <value>no</value>\n      </enum>\n    </loader>", "<value>no</value>\n      </enum>\n    </loader>", 1)
	if f, err := FromCapabilities(caps, noSecure); err != nil || f.Firmware.SecureBootCode != "" || f.Firmware.Code == "" {
		t.Errorf("no secure loader: %+v %v", f.Firmware, err)
	}
}

// What libvirt says about this machine agrees with what Probe reads from
// it, for the parts both know.
func TestFromCapabilitiesMatchesProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	uri := testutil.RequiresLibvirt(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := libvirt.Dial(ctx, uri, libvirt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps, err := c.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	probed, err := (&Prober{Connect: uri}).Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	virt := "qemu"
	if probed.KVM {
		virt = "kvm"
	}
	dcaps, err := c.DomainCapabilities(ctx, virt)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := FromCapabilities(caps, dcaps)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(probed.CPUs, remote.CPUs); d != "" {
		t.Errorf("CPUs (-probe +capabilities):\n%s", d)
	}
	if remote.KVM != probed.KVM || !cmp.Equal(remote.HugepageSizesKiB, probed.HugepageSizesKiB) {
		t.Errorf("kvm %v/%v, hugepage sizes %v/%v (probe/capabilities)", probed.KVM, remote.KVM, probed.HugepageSizesKiB, remote.HugepageSizesKiB)
	}
	for size, pool := range probed.Hugepages {
		if remote.Hugepages[size].Total != pool.Total {
			t.Errorf("%d KiB pages reserved: probe %d, capabilities %d", size, pool.Total, remote.Hugepages[size].Total)
		}
	}
	if probed.Firmware.Code != "" && remote.Firmware.Code == "" {
		t.Errorf("probe found %s, libvirt lists no plain OVMF", probed.Firmware.Code)
	}
	if probed.Firmware.SecureBootCode != "" && remote.Firmware.SecureBootCode == "" {
		t.Errorf("probe found %s, libvirt lists no secure-boot OVMF", probed.Firmware.SecureBootCode)
	}
	v, err := c.HypervisorVersion(ctx)
	if err != nil || (probed.QEMUVersion != 0 && v != probed.QEMUVersion) {
		t.Errorf("hypervisor version %d (%v), virsh says %d", v, err, probed.QEMUVersion)
	}
}
