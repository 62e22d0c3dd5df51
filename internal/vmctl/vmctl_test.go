package vmctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil/libvirttest"
)

const managedMeta = `<metadata><d:vm xmlns:d="https://deskvm.dev/xmlns/vm/1"><d:managedBy>deskvm</d:managedBy><d:configHash>%s</d:configHash></d:vm></metadata>`

// domainDoc is a domain XML like the renderer's for network: user with a
// port forward (the NIC is given to QEMU directly).
func domainDoc(name, hash, extraDevices, extra string) string {
	return fmt.Sprintf(`<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>%s</name>
  %s
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>196608</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <serial type='pty'><source path='/dev/pts/7'/><target port='0'/></serial>
    <graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>
    %s
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/>
    <qemu:arg value='user,id=deskvmnet0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5353-:53'/>
    <qemu:arg value='-device'/>
    <qemu:arg value='{"driver":"virtio-net-pci","netdev":"deskvmnet0","mac":"52:54:00:AA:BB:CC","id":"deskvmnet0-nic"}'/>
  </qemu:commandline>
  %s
</domain>`, name, fmt.Sprintf(managedMeta, hash), extraDevices, extra)
}

const balloon = `<memballoon model='virtio'><stats period='5'/></memballoon>`

func TestInspect(t *testing.T) {
	doc := domainDoc("box", "h1", balloon, `<cputune><vcpupin vcpu='0' cpuset='2'/><vcpupin vcpu='1' cpuset='3'/><emulatorpin cpuset='0-1'/></cputune>`)
	info, err := Inspect(doc)
	if err != nil {
		t.Fatal(err)
	}
	if info.MaxMemoryKiB != 262144 || info.CurrentMemoryKiB != 196608 || info.VCPUs != 2 {
		t.Errorf("memory/vcpus: %+v", info)
	}
	if info.PinningText() != "vcpu0→2 vcpu1→3" || info.EmulatorPin != "0-1" {
		t.Errorf("pinning %q emulator %q", info.PinningText(), info.EmulatorPin)
	}
	if !info.Balloon || info.StatsPeriod != 5 || info.Hugepages || !info.Managed || info.ConfigHash != "h1" {
		t.Errorf("balloon/managed: %+v", info)
	}
	if len(info.Displays) != 1 || info.Displays[0].URI() != "vnc://127.0.0.1:5901" {
		t.Errorf("displays: %+v", info.Displays)
	}
	if f, ok := info.SSHForward(); !ok || f.HostPort != 2222 || f.HostAddr != "127.0.0.1" {
		t.Errorf("ssh forward: %+v %v", f, ok)
	}
	if f, ok := info.ForwardTo(53); ok {
		t.Errorf("a udp forward is not a TCP endpoint: %+v", f)
	}
	if !info.UserNet() || strings.Join(info.MACs(), ",") != "52:54:00:aa:bb:cc" {
		t.Errorf("user NIC: %+v", info.NICs)
	}
	if info.SerialPTY != "/dev/pts/7" {
		t.Errorf("serial pty %q", info.SerialPTY)
	}

	hp, err := Inspect(`<domain><name>x</name><memory unit='GiB'>1</memory><memoryBacking><hugepages/></memoryBacking><devices><memballoon model='none'/></devices></domain>`)
	if err != nil {
		t.Fatal(err)
	}
	if !hp.Hugepages || hp.Balloon || hp.Managed || hp.MaxMemoryKiB != 1<<20 || hp.CurrentMemoryKiB != 1<<20 {
		t.Errorf("hugepage domain: %+v", hp)
	}
	if _, err := Inspect("<domain"); err == nil {
		t.Error("broken XML accepted")
	}
}

func TestParseHostfwd(t *testing.T) {
	for in, want := range map[string]Forward{
		"tcp:127.0.0.1:2222-:22":        {"tcp", "127.0.0.1", 2222, 22},
		"::2222-10.0.2.15:22":           {"tcp", "", 2222, 22},
		"udp:0.0.0.0:5353-10.0.2.15:53": {"udp", "0.0.0.0", 5353, 53},
	} {
		got, ok := parseHostfwd(in)
		if !ok || got != want {
			t.Errorf("parseHostfwd(%q) = %+v %v, want %+v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "tcp:2222-:22", "tcp:1.2.3.4:x-:22", "tcp:1.2.3.4:22"} {
		if _, ok := parseHostfwd(bad); ok {
			t.Errorf("parseHostfwd(%q) accepted", bad)
		}
	}
}

func iface(name, mac string, ips ...string) libvirt.GuestInterface {
	gi := libvirt.GuestInterface{Name: name, MAC: mac}
	for _, ip := range ips {
		gi.Addrs = append(gi.Addrs, libvirt.GuestAddr{IP: ip, IPv6: strings.Contains(ip, ":")})
	}
	return gi
}

func TestGuestAddresses(t *testing.T) {
	info := DomainInfo{NICs: []NIC{{MAC: "52:54:00:00:00:01", Mode: "bridge"}}}
	ifaces := []libvirt.GuestInterface{
		iface("lo", "00:00:00:00:00:00", "127.0.0.1", "::1"),
		iface("docker0", "02:42:00:00:00:01", "172.17.0.1"),
		iface("eth0", "52:54:00:00:00:01", "fe80::1", "169.254.3.4", "2001:db8::5", "192.168.1.50"),
	}
	var got []string
	for _, a := range GuestAddresses(ifaces, info) {
		got = append(got, a.Addr.String())
	}
	// The VM's own NIC first, IPv4 before IPv6; loopback and link-local never.
	if want := "192.168.1.50 2001:db8::5 172.17.0.1"; strings.Join(got, " ") != want {
		t.Errorf("GuestAddresses = %v, want %s", got, want)
	}
	if len(GuestAddresses([]libvirt.GuestInterface{iface("lo", "", "127.0.0.1")}, info)) != 0 {
		t.Error("loopback only should give no address")
	}
}

// fakeLV wraps the fake libvirt to make a guest ignore ACPI.
type fakeLV struct {
	*libvirttest.Fake
	ignoreACPI bool
}

func (f *fakeLV) ShutdownDomain(ctx context.Context, name string) error {
	if f.ignoreACPI {
		return nil // pressed, nobody listens
	}
	return f.Fake.ShutdownDomain(ctx, name)
}

func running(t *testing.T, doc string) *fakeLV {
	t.Helper()
	f := libvirttest.NewFake()
	f.AddDomain(libvirt.Domain{Name: "box", Active: true, Persistent: true, InactiveXML: doc})
	return &fakeLV{Fake: f}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	doc := domainDoc("box", "h", balloon, "")
	info, _ := Inspect(doc)

	lv := running(t, doc)
	// No agent yet: the user-mode NIC's forward.
	ep, err := Resolve(ctx, lv, "box", info, 22)
	if err != nil || ep.Addr() != "127.0.0.1:2222" || !strings.Contains(ep.Via, "not available") {
		t.Errorf("no agent: %+v %v", ep, err)
	}
	// The agent lists loopback first and the user-net address: the
	// forward, with the agent's address named.
	lv.SetGuestAddresses("box", libvirt.AddressesFromAgent, []libvirt.GuestInterface{
		iface("lo", "", "127.0.0.1"), iface("eth0", "52:54:00:aa:bb:cc", "10.0.2.15", "fec0::5054:ff:feaa:bbcc")})
	ep, err = Resolve(ctx, lv, "box", info, 22)
	if err != nil || ep.Addr() != "127.0.0.1:2222" || !strings.Contains(ep.Via, "guest agent: 10.0.2.15 on eth0") {
		t.Errorf("user net: %+v %v", ep, err)
	}
	// No forward to port 22: a clear error, not 10.0.2.15.
	if _, err := Resolve(ctx, lv, "box", info, 3389); err == nil || !strings.Contains(err.Error(), "no port forward to guest port 3389") {
		t.Errorf("no forward: %v", err)
	}

	// A bridged VM: the agent's address on its NIC, directly.
	bridged, _ := Inspect(`<domain><name>b</name><memory>1024</memory><devices><interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface></devices></domain>`)
	lv.SetGuestAddresses("box", libvirt.AddressesFromAgent, []libvirt.GuestInterface{
		iface("lo", "", "127.0.0.1"), iface("eth0", "52:54:00:00:00:01", "fe80::1", "192.168.1.50")})
	ep, err = Resolve(ctx, lv, "box", bridged, 22)
	if err != nil || ep.Addr() != "192.168.1.50:22" {
		t.Errorf("bridged: %+v %v", ep, err)
	}
	// Without an agent: the DHCP lease.
	lv.SetGuestAddresses("box", libvirt.AddressesFromAgent, nil)
	lv.SetGuestAddresses("box", libvirt.AddressesFromLease, []libvirt.GuestInterface{iface("vnet0", "52:54:00:00:00:01", "192.168.122.9")})
	ep, err = Resolve(ctx, lv, "box", bridged, 22)
	if err != nil || ep.Addr() != "192.168.122.9:22" || !strings.Contains(ep.Via, "DHCP lease") {
		t.Errorf("lease: %+v %v", ep, err)
	}
	// Neither: the error says what was tried.
	lv.SetGuestAddresses("box", libvirt.AddressesFromLease, nil)
	if _, err := Resolve(ctx, lv, "box", bridged, 22); err == nil || !strings.Contains(err.Error(), "guest agent: not available") || !strings.Contains(err.Error(), "DHCP lease: none") {
		t.Errorf("nothing: %v", err)
	}
}

func TestStop(t *testing.T) {
	ctx := context.Background()
	doc := domainDoc("box", "h", balloon, "")
	lv := running(t, doc)
	if err := Stop(ctx, lv, "box", time.Second, 10*time.Millisecond); err != nil {
		t.Fatalf("stop of an obedient guest: %v", err)
	}
	if err := Stop(ctx, lv, "box", time.Second, 10*time.Millisecond); !errors.Is(err, ErrNotRunning) {
		t.Errorf("stop of a stopped VM: %v", err)
	}

	deaf := running(t, doc)
	deaf.ignoreACPI = true
	err := Stop(ctx, deaf, "box", 50*time.Millisecond, 10*time.Millisecond)
	var ig *IgnoredError
	if !errors.As(err, &ig) || !strings.Contains(err.Error(), "ignored") {
		t.Fatalf("stop of a deaf guest: %v", err)
	}
	if err := ForceStop(ctx, deaf, "box"); err != nil {
		t.Fatal(err)
	}
	if d, _ := deaf.Domain(ctx, "box"); d.Active {
		t.Error("force-stop left it running")
	}
}

func TestSetMem(t *testing.T) {
	ctx := context.Background()
	lv := running(t, domainDoc("box", "h", balloon, ""))
	before, err := SetMem(ctx, lv, "box", 128<<20)
	if err != nil || before != 192<<20 {
		t.Fatalf("setmem 128M: %d %v", before, err)
	}
	if c := lv.Changes(); len(c) != 1 || c[0].String() != "SetMemory box (131072 KiB)" {
		t.Errorf("changes: %v", c)
	}
	lv.ResetChanges()

	refused := func(lv *fakeLV, size uint64, want string) {
		t.Helper()
		_, err := SetMem(ctx, lv, "box", size)
		var r *RefusedError
		if !errors.As(err, &r) || !strings.Contains(err.Error(), want) {
			t.Errorf("setmem %d: %v, want refusal with %q", size, err, want)
		}
		if c := lv.Changes(); len(c) != 0 {
			t.Errorf("a refused setmem changed %v", c)
		}
	}
	refused(lv, 512<<20, "above the maximum memory of vm box (256 MiB)")
	refused(lv, 1<<20, "below the smallest")
	refused(running(t, domainDoc("box", "h", `<memballoon model='none'/>`, "")), 128<<20, "no memory balloon")
	refused(running(t, domainDoc("box", "h", balloon, `<memoryBacking><hugepages/></memoryBacking>`)), 128<<20, "hugepages")
	off := libvirttest.NewFake()
	off.AddDomain(libvirt.Domain{Name: "box", Persistent: true, InactiveXML: domainDoc("box", "h", balloon, "")})
	refused(&fakeLV{Fake: off}, 128<<20, "not running")
}

func TestStatusPendingRestart(t *testing.T) {
	ctx := context.Background()
	f := libvirttest.NewFake()
	f.AddDomain(libvirt.Domain{Name: "box", Active: true, Persistent: true, Autostart: true,
		LiveXML: domainDoc("box", "old", balloon, ""), InactiveXML: domainDoc("box", "new", balloon, "")})
	f.SetMemoryStats("box", map[string]uint64{"actual": 196608, "unused": 1000})
	st, _, err := GetStatus(ctx, &fakeLV{Fake: f}, "box")
	if err != nil {
		t.Fatal(err)
	}
	if !st.PendingRestart || !st.Autostart || st.State != "running" || st.ActualMemory != 192<<20 ||
		st.MaxMemory != 256<<20 || len(st.Displays) != 1 || !st.Managed {
		t.Errorf("status: %+v", st)
	}
	f.AddDomain(libvirt.Domain{Name: "same", Active: true, Persistent: true,
		LiveXML: domainDoc("same", "h", balloon, ""), InactiveXML: domainDoc("same", "h", balloon, "")})
	if st, _, _ := GetStatus(ctx, &fakeLV{Fake: f}, "same"); st.PendingRestart {
		t.Error("same hash reported as pending restart")
	}
}

// A redefine that changes only the display password keeps the config hash
// (passwords are outside it); status must still say what plan says.
func TestStatusPendingRestartPasswordOnly(t *testing.T) {
	withPw := func(pw string) string {
		return strings.Replace(domainDoc("box", "h", balloon, ""), "<graphics type='vnc'", "<graphics type='vnc' passwd='"+pw+"'", 1)
	}
	f := libvirttest.NewFake()
	f.AddDomain(libvirt.Domain{Name: "box", Active: true, Persistent: true, LiveXML: withPw("old-secret"), InactiveXML: withPw("new-secret")})
	st, _, err := GetStatus(context.Background(), &fakeLV{Fake: f}, "box")
	if err != nil {
		t.Fatal(err)
	}
	if !st.PendingRestart {
		t.Error("password-only redefine: no pending restart")
	}
	if b, _ := json.Marshal(st); strings.Contains(string(b), "secret") {
		t.Errorf("status shows a password: %s", b)
	}
}

func TestMemStatRows(t *testing.T) {
	rows := MemStatRows(map[string]uint64{"rss": 300000, "actual": 262144, "usable": 150000, "major_fault": 12,
		"last_update": 1700000000, "zz_new": 7})
	var got []string
	for _, r := range rows {
		got = append(got, r.Key+"="+r.Value)
	}
	want := "actual=256 MiB usable=146.5 MiB rss=293.0 MiB major_fault=12 last_update=2023-11-14T22:13:20Z zz_new=7"
	if strings.Join(got, " ") != want {
		t.Errorf("rows %v\nwant %s", got, want)
	}
	j := MemStatsToJSON("box", map[string]uint64{"actual": 2, "minor_fault": 3, "last_update": 0}, 5)
	if j.Bytes["actual"] != 2048 || j.Counts["minor_fault"] != 3 || j.StatsPeriod != 5 {
		t.Errorf("json %+v", j)
	}
	if GuestReportsStats(map[string]uint64{"actual": 1, "rss": 2}) {
		t.Error("actual+rss are QEMU's side only")
	}
}

func TestHumanBytes(t *testing.T) {
	for b, want := range map[uint64]string{0: "0 B", 512: "512 B", 1536: "1.5 KiB", 256 << 20: "256 MiB", 3 << 30: "3 GiB"} {
		if got := HumanBytes(b); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", b, got, want)
		}
	}
}

func TestCommands(t *testing.T) {
	none := func(string) (string, error) { return "", exec.ErrNotFound }
	only := func(names ...string) LookPath {
		return func(f string) (string, error) {
			for _, n := range names {
				if n == f {
					return "/usr/bin/" + f, nil
				}
			}
			return "", exec.ErrNotFound
		}
	}
	info, _ := Inspect(domainDoc("box", "h", balloon, ""))
	if argv, err := ViewerCommand("qemu:///system", "box", info, only("virt-viewer", "remote-viewer")); err != nil ||
		strings.Join(argv, " ") != "/usr/bin/virt-viewer --connect qemu:///system box" {
		t.Errorf("virt-viewer: %v %v", argv, err)
	}
	if argv, err := ViewerCommand("qemu:///system", "box", info, only("remote-viewer")); err != nil ||
		strings.Join(argv, " ") != "/usr/bin/remote-viewer vnc://127.0.0.1:5901" {
		t.Errorf("remote-viewer: %v %v", argv, err)
	}
	_, err := ViewerCommand("qemu:///system", "box", info, none)
	if err == nil || !strings.Contains(err.Error(), "neither virt-viewer nor remote-viewer is installed (package virt-viewer)") ||
		!strings.Contains(err.Error(), "vnc://127.0.0.1:5901") {
		t.Errorf("no viewer: %v", err)
	}
	lg := info
	lg.LookingGlass = true
	if _, err := ViewerCommand("qemu:///system", "box", lg, only("virt-viewer")); err == nil || !strings.Contains(err.Error(), "looking-glass-client is not installed") {
		t.Errorf("looking glass without client: %v", err)
	}
	if _, err := ViewerCommand("u", "box", DomainInfo{}, only("virt-viewer")); err == nil || !strings.Contains(err.Error(), "no display") {
		t.Errorf("no display: %v", err)
	}
	if argv, err := ConsoleCommand("qemu+ssh://h/system", "box", true, only("virsh")); err != nil ||
		strings.Join(argv, " ") != "/usr/bin/virsh --connect qemu+ssh://h/system console box --force" {
		t.Errorf("console: %v %v", argv, err)
	}
	if _, err := ConsoleCommand("u", "box", false, none); err == nil || !strings.Contains(err.Error(), "libvirt-clients") {
		t.Errorf("console without virsh: %v", err)
	}
	got := SSHCommand("/usr/bin/ssh", "box", "root", Endpoint{Host: "127.0.0.1", Port: 2222}, []string{"-i", "k", "uname", "-r"})
	if strings.Join(got, " ") != "/usr/bin/ssh -p 2222 -o HostKeyAlias=vm-box root@127.0.0.1 -i k uname -r" {
		t.Errorf("ssh argv %v", got)
	}
}
