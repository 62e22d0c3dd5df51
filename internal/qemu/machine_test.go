package qemu

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run with -update if intended):\n%s", name, path, got)
	}
}

// argvLines writes one option and its value per line, so golden diffs
// read well.
func argvLines(args []string) string {
	var b strings.Builder
	for i := 0; i < len(args); i++ {
		b.WriteString(args[i])
		if strings.HasPrefix(args[i], "-") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			b.WriteString(" " + args[i+1])
			i++
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestArgsGolden(t *testing.T) {
	cases := map[string]Machine{
		// The Linux build VM: OVMF, the disk and the NoCloud seed as
		// virtio, SSH forwarded on loopback, serial log, QMP.
		"linux-uefi": {
			Name: "deskvm-build-debian", Accel: "tcg", CPUs: 2, MemoryMiB: 2048,
			Firmware: Firmware{UEFI: true, Code: "/usr/share/OVMF/OVMF_CODE_4M.fd", Vars: "/tmp/b/debian.efivars.fd"},
			Drives: []Drive{
				{ID: "disk", File: "/tmp/b/disk.qcow2", BootIndex: 1, Discard: true},
				{ID: "seed", File: "/tmp/b/seed.iso", Format: "raw", ReadOnly: true},
			},
			NICs:      []NIC{{MAC: "52:54:00:12:34:56", Forwards: []Forward{{HostPort: 2222, GuestPort: 22}}}},
			SerialLog: "/tmp/b/serial.log", QMP: QMP{Path: "/tmp/b/qmp.sock"}, RNG: true,
		},
		// SeaBIOS, KVM, a throw-away snapshot boot, a path with a comma.
		"linux-bios-kvm": {
			Accel: "kvm", CPUs: 4, MemoryMiB: 4096,
			Drives: []Drive{{File: "/srv/img,1.qcow2", Snapshot: true, BootIndex: 1}},
			NICs:   []NIC{{Forwards: []Forward{{HostPort: 40022, GuestPort: 22}}}},
			QMP:    QMP{FD: 3},
		},
		// What the Windows builder needs: secure-boot OVMF, TPM over a
		// swtpm socket, Setup's ISO and the answer ISO on AHCI, VNC on
		// loopback with a password, USB tablet, RDP forward.
		"windows": {
			Name: "deskvm-build-win11", Accel: "tcg", CPUs: 4, Cores: 2, Threads: 2, MemoryMiB: 4096, VGA: "std",
			Firmware: Firmware{UEFI: true, SecureBoot: true, Code: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", Vars: "/out/win11.efivars.fd"},
			Drives: []Drive{
				{ID: "disk", File: "/out/disk.qcow2", Interface: IfSATA, BootIndex: 2},
				{ID: "setup", File: "/isos/win11.iso", Interface: IfCDROM, BootIndex: 1},
				{ID: "virtio", File: "/isos/virtio-win.iso", Interface: IfCDROM},
				{ID: "answer", File: "/out/answer.iso", Interface: IfSCSICD},
			},
			NICs:      []NIC{{Model: "e1000e", Forwards: []Forward{{HostPort: 2222, GuestPort: 22}, {HostPort: 3389, GuestPort: 3389}}}},
			VNC:       &VNC{Display: 17, Password: true},
			TPMSocket: "/out/win11.tpm/swtpm-sock", USBInput: true, QMP: QMP{Path: "/out/qmp.sock"}, SerialLog: "/out/serial.log",
		},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			args, err := m.Args()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "argv-"+name, argvLines(args))
			if joined := strings.Join(args, " "); strings.Contains(joined, "0.0.0.0") || strings.Contains(joined, "-no-reboot") {
				t.Errorf("argv binds a wildcard address or stops at a reboot: %s", joined)
			}
		})
	}
}

func TestArgsRefusesBadMachines(t *testing.T) {
	cases := []struct {
		name string
		m    Machine
		want string
	}{
		{"accel", Machine{Accel: "hvf"}, `accel "hvf"`},
		{"uefi without vars", Machine{Firmware: Firmware{UEFI: true, Code: "/c.fd"}}, "needs a code image and a vars file"},
		{"topology", Machine{CPUs: 3, Cores: 2}, "not a whole number of sockets"},
		{"duplicate id", Machine{Drives: []Drive{{ID: "d", File: "a"}, {ID: "d", File: "b"}}}, `id "d" used twice`},
		{"drive without file", Machine{Drives: []Drive{{ID: "x"}}}, `drive "x": no file`},
		{"interface", Machine{Drives: []Drive{{File: "a", Interface: "ide"}}}, `interface "ide"`},
		{"port", Machine{NICs: []NIC{{Forwards: []Forward{{HostPort: 70000, GuestPort: 22}}}}}, "ports must be 1-65535"},
		{"mac", Machine{NICs: []NIC{{MAC: "52:54:00:zz:00:01"}}}, `mac "52:54:00:zz:00:01"`},
		{"format", Machine{Drives: []Drive{{File: "a.vmdk", Format: "vmdk"}}}, `format "vmdk"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.m.Args()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Args() error = %v, want it to contain %q", err, c.want)
			}
		})
	}
}
