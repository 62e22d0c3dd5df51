package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/session"
)

// fakeCaps answers like a remote libvirtd, from captured XML.
type fakeCaps struct {
	caps, domCaps string
	virtType      string // what DomainCapabilities was asked for
	closed        bool
}

func (f *fakeCaps) Capabilities(context.Context) (string, error) { return f.caps, nil }
func (f *fakeCaps) DomainCapabilities(_ context.Context, virtType string) (string, error) {
	f.virtType = virtType
	return f.domCaps, nil
}
func (f *fakeCaps) LibVersion(context.Context) (uint64, error)        { return 9000000, nil }
func (f *fakeCaps) HypervisorVersion(context.Context) (uint64, error) { return 7002000, nil }
func (f *fakeCaps) Close() error                                      { f.closed = true; return nil }

func capsFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "hostfacts", "testdata", "caps", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeRemote is a dial function to a fake remote host; it records the
// URIs dialed.
func fakeRemote(t *testing.T, capsFile, domCapsFile string) (*fakeCaps, *[]string, session.CapsDialFunc) {
	fc := &fakeCaps{caps: capsFixture(t, capsFile), domCaps: capsFixture(t, domCapsFile)}
	var dialed []string
	return fc, &dialed, func(_ context.Context, uri string) (session.CapsConn, error) {
		dialed = append(dialed, uri)
		return fc, nil
	}
}

func TestFactsProbeRemote(t *testing.T) {
	localCalled := false
	local := func(context.Context) (*hostfacts.Facts, error) { localCalled = true; return &hostfacts.Facts{}, nil }
	fc, dialed, dial := fakeRemote(t, "smt-kvm-capabilities.xml", "arch-domcapabilities-kvm.xml")

	if _, err := session.FactsProbe("qemu:///system", local, dial)(context.Background()); err != nil || !localCalled || len(*dialed) != 0 {
		t.Fatalf("local URI: err %v, local probe %v, dialed %v", err, localCalled, *dialed)
	}
	localCalled = false
	f, err := session.FactsProbe("qemu+ssh://box/system", local, dial)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if localCalled || len(*dialed) != 1 || (*dialed)[0] != "qemu+ssh://box/system" || !fc.closed {
		t.Errorf("remote URI: local probe %v, dialed %v, closed %v", localCalled, *dialed, fc.closed)
	}
	if len(f.CPUs) != 8 || !f.KVM || fc.virtType != "kvm" || f.LibvirtVersion != 9000000 || f.QEMUVersion != 7002000 ||
		f.Firmware.SecureBootCode != "/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd" || f.Knows(hostfacts.UnknownVirtiofsd) {
		t.Errorf("remote facts: %+v (domain capabilities asked for %q)", f, fc.virtType)
	}

	failing := func(context.Context, string) (session.CapsConn, error) {
		return nil, errors.New("ssh: no route to host")
	}
	if _, err := session.FactsProbe("qemu+ssh://box/system", local, failing)(context.Background()); err == nil || localCalled {
		t.Errorf("unreachable remote: err %v, fell back to the local probe %v", err, localCalled)
	}
}

// render with a remote URI: the remote host's facts, libvirt left to pick
// the firmware (vars unknown), and a warning naming what is unknown.
func TestRenderRemoteHost(t *testing.T) {
	_, _, dial := fakeRemote(t, "smt-kvm-capabilities.xml", "arch-domcapabilities-kvm.xml")
	file := writeConfig(t, "connect: qemu+ssh://box/system\nvms:\n  w:\n    osType: windows\n    secureBoot: true\n    vcpus: 4\n    cpuPinning: auto\n")
	probe := session.FactsProbe("qemu+ssh://box/system", nil, dial)
	out, stderr, code := runRenderCmd(t, probe, file, "w")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`<os firmware="efi">`, `<feature enabled="yes" name="enrolled-keys">`, `<vcpupin vcpu="3" cpuset="`} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered XML lacks %s:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "warning: host facts of qemu+ssh://box/system come from its libvirt capabilities; unknown there, so not checked: virtiofsd path, free hugepages, OVMF vars templates, files and PCI devices on the host") {
		t.Errorf("stderr: %q", stderr)
	}
}

// config validate --host with a remote URI checks against the remote
// host's CPUs and does not stat its files here.
func TestConfigValidateRemoteHost(t *testing.T) {
	_, dialed, dial := fakeRemote(t, "local-capabilities.xml", "local-domcapabilities-qemu.xml")
	p := cfgWriteFile(t, "c.yaml", "connect: qemu+ssh://box/system\naccelerator: tcg\nvms:\n  a:\n    vcpus: 2\n    cpuPinning: [\"0\", \"7\"]\n    sharedFolders: {d: /exists/only/on/box}\n")
	var out, errb bytes.Buffer
	g := &globalOptions{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, configFile: p}
	root := &cobra.Command{Use: "deskvm", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(newConfigValidateCmdWith(g, func(context.Context) (*hostfacts.Facts, error) {
		t.Error("the local machine was probed for a remote URI")
		return nil, errors.New("no")
	}, dial))
	root.SetArgs([]string{"validate", "--host"})
	err := root.ExecuteContext(context.Background())
	if err == nil || len(*dialed) != 1 {
		t.Fatalf("validate --host: err %v, dialed %v", err, *dialed)
	}
	errs := errb.String()
	if !strings.Contains(errs, p+":6:23: error: vms.a.cpuPinning[1]: host CPUs 7 do not exist; this host has CPUs 0-1") {
		t.Errorf("pinning beyond the remote host's CPUs not reported:\n%s", errs)
	}
	if strings.Contains(errs, "sharedFolders") || !strings.Contains(errs, "files and PCI devices on the host") {
		t.Errorf("remote files: want them unchecked and named as unknown:\n%s", errs)
	}
}
