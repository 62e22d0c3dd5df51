package testutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTinyGuestQEMU boots the tiny guest under plain QEMU and checks every
// part later tests rely on: SSH with the build's key, the guest agent, the
// balloon driver, the serial getty (including a password login) and
// power-off on the ACPI power button.
func TestTinyGuestQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM under TCG")
	}
	t.Parallel()
	g := BootTinyGuestQEMU(t, TinyGuestOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if _, err := g.WaitSSH(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("boot to SSH: %s", time.Since(g.Started).Round(100*time.Millisecond))

	out, err := g.Run(ctx, "uname -r")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != g.Files.KernelVersion {
		t.Errorf("uname -r = %q, want %q", got, g.Files.KernelVersion)
	}
	if _, err := g.Run(ctx, "test -d /sys/bus/virtio/drivers/virtio_balloon/virtio*"); err != nil {
		t.Errorf("balloon driver not bound: %v", err)
	}

	ping, err := g.QGA(ctx, "guest-ping", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(ping) != "{}" {
		t.Errorf("guest-ping returned %s, want {}", ping)
	}
	raw, err := g.QGA(ctx, "guest-network-get-interfaces", nil)
	if err != nil {
		t.Fatal(err)
	}
	if addr := firstGuestIPv4(t, raw); addr != "10.0.2.15" {
		t.Errorf("guest agent reports non-loopback IPv4 %q, want 10.0.2.15 (QEMU user networking)", addr)
	}

	if err := g.WaitSerial(ctx, "tinyguest login:"); err != nil {
		t.Fatal(err)
	}
	serialLogin(ctx, t, g)
	logged, err := os.ReadFile(g.SerialLog)
	if err != nil || !strings.Contains(string(logged), "tinyguest login:") {
		t.Errorf("serial log file %s lacks the login prompt (err %v)", g.SerialLog, err)
	}

	status, err := g.QMP(ctx, "query-status", nil)
	if err != nil || !strings.Contains(string(status), `"running"`) {
		t.Fatalf("before the power button: query-status = %s, %v", status, err)
	}
	if _, err := g.QMP(ctx, "system_powerdown", nil); err != nil {
		t.Fatal(err)
	}
	pressed := time.Now()
	exitCtx, cancelExit := context.WithTimeout(ctx, 30*time.Second)
	defer cancelExit()
	if err := g.WaitExit(exitCtx); err != nil {
		t.Fatalf("ACPI power button: %v", err)
	}
	t.Logf("ACPI power-off took %s", time.Since(pressed).Round(time.Millisecond))
	if !strings.Contains(g.SerialOutput(), "power button pressed") {
		t.Error("QEMU exited but the guest's power button handler never ran")
	}
}

// serialLogin logs in as root with the password on ttyS0 and runs a command.
func serialLogin(ctx context.Context, t *testing.T, g *RunningGuest) {
	t.Helper()
	// A console attached after boot missed the first prompt; an empty
	// line makes getty print it again.
	mark := g.SerialLen()
	if err := g.WriteSerial("\n"); err != nil {
		t.Fatal(err)
	}
	ctxPrompt, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := g.WaitSerialSince(ctxPrompt, mark, "tinyguest login:"); err != nil {
		t.Fatalf("getty did not prompt again after an empty line: %v", err)
	}
	steps := []struct{ send, want string }{
		{"root\n", "Password:"},
		{g.Files.RootPassword + "\n", "tinyguest:~# "},
		// The shell expands this; the echoed input does not contain "42".
		{"echo serial-login-$((6*7))\n", "serial-login-42"},
	}
	for _, s := range steps {
		mark := g.SerialLen()
		if err := g.WriteSerial(s.send); err != nil {
			t.Fatal(err)
		}
		if err := g.WaitSerialSince(ctx, mark, s.want); err != nil {
			t.Fatalf("serial login: %v", err)
		}
	}
}

// TestTinyGuestQEMUIgnoresACPI checks the tinyguest.noacpi=1 mode that
// force-stop tests use: the power button does nothing.
func TestTinyGuestQEMUIgnoresACPI(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM under TCG")
	}
	t.Parallel()
	g := BootTinyGuestQEMU(t, TinyGuestOptions{NoACPI: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := g.Run(ctx, "true"); err != nil {
		t.Fatal(err)
	}
	if out, err := g.Run(ctx, "pidof acpid || echo none"); err != nil || strings.TrimSpace(out) != "none" {
		t.Errorf("acpid should not run with tinyguest.noacpi=1: %q %v", out, err)
	}
	if _, err := g.QMP(ctx, "system_powerdown", nil); err != nil {
		t.Fatal(err)
	}
	// The ACPI guest powers off within a second of the button; give this
	// one five.
	waitCtx, cancelWait := context.WithTimeout(ctx, 5*time.Second)
	defer cancelWait()
	if err := g.WaitExit(waitCtx); err == nil {
		t.Fatal("guest powered off on the ACPI button although tinyguest.noacpi=1")
	}
	if out, err := g.Run(ctx, "echo alive"); err != nil || strings.TrimSpace(out) != "alive" {
		t.Errorf("guest not answering after the ignored power button: %q %v", out, err)
	}
}

// TestTinyGuestLibvirt boots the guest under libvirt with user networking
// and an SSH port forward. Debian's libvirt 9.0 disables the passt
// backend, and with it <portForward>; what works is a QEMU user netdev with
// hostfwd passed through <qemu:commandline>, used here. (A runtime
// "hostfwd_add hostnet0 tcp:127.0.0.1:PORT-:22" through
// virsh qemu-monitor-command on libvirt's own <interface type='user'> works
// as well, but is lost when the domain restarts.)
func TestTinyGuestLibvirt(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM under TCG")
	}
	t.Parallel()
	uri := RequiresLibvirt(t)
	virsh := RequiresCommand(t, "virsh")
	files := TinyGuest(t).ForLibvirt(t)
	port := mustFreePort(t)
	// An explicit slot on pcie.0 keeps the NIC off the slots libvirt
	// assigns to its own root ports.
	name := createTinyGuestDomain(t, virsh, uri, tinyGuestDomainXML(files, fmt.Sprintf(`
  <qemu:commandline>
    <qemu:arg value='-netdev'/>
    <qemu:arg value='user,id=deskvmnet0,hostfwd=tcp:127.0.0.1:%d-:22'/>
    <qemu:arg value='-device'/>
    <qemu:arg value='virtio-net-pci,netdev=deskvmnet0,mac=52:54:00:d5:00:01,bus=pcie.0,addr=0x10'/>
  </qemu:commandline>`, port)))
	checkLibvirtGuest(t, virsh, uri, name, files, port)
}

func tinyGuestDomainXML(files TinyGuestFiles, qemuCommandline string) string {
	return fmt.Sprintf(`<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>NAME</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>%s</kernel>
    <initrd>%s</initrd>
    <cmdline>console=ttyS0 panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  <on_reboot>destroy</on_reboot>
  <devices>
    <serial type='pty'/>
    <console type='pty'/>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <memballoon model='virtio'><stats period='2'/></memballoon>
  </devices>%s
</domain>
`, files.Kernel, files.Initrd, qemuCommandline)
}

// createTinyGuestDomain starts a transient domain, destroyed at cleanup.
func createTinyGuestDomain(t *testing.T, virsh, uri, xml string) string {
	t.Helper()
	name := fmt.Sprintf("deskvm-test-tinyguest-%08x", rand.Uint32())
	xml = strings.Replace(xml, "<name>NAME</name>", "<name>"+name+"</name>", 1)
	path := filepath.Join(t.TempDir(), "domain.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command(virsh, "-c", uri, "dumpxml", name).CombinedOutput()
			t.Logf("domain %s:\n%s", name, out)
		}
		exec.Command(virsh, "-c", uri, "destroy", name).Run()
	})
	if out, err := exec.Command(virsh, "-c", uri, "create", path).CombinedOutput(); err != nil {
		t.Fatalf("virsh create: %v\n%s", err, out)
	}
	return name
}

func checkLibvirtGuest(t *testing.T, virsh, uri, name string, files TinyGuestFiles, port int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	cfg, err := files.SSHConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := WaitSSHAddr(ctx, fmt.Sprintf("127.0.0.1:%d", port), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Logf("libvirt boot to SSH: %s", time.Since(start).Round(100*time.Millisecond))
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("uname -r")
	sess.Close()
	if err != nil || strings.TrimSpace(string(out)) != files.KernelVersion {
		t.Errorf("ssh uname -r = %q (%v), want %q", out, err, files.KernelVersion)
	}

	// The agent starts with SSH but may lag behind it by a moment.
	var reply string
	err = retryEvery(ctx, time.Second, func() error {
		out, err := exec.CommandContext(ctx, virsh, "-c", uri, "qemu-agent-command", name, `{"execute":"guest-network-get-interfaces"}`).CombinedOutput()
		reply = string(out)
		return err
	})
	if err != nil {
		t.Fatalf("guest agent through libvirt: %v: %s", err, reply)
	}
	var resp struct {
		Return json.RawMessage `json:"return"`
	}
	if err := json.Unmarshal([]byte(reply), &resp); err != nil {
		t.Fatalf("agent reply %q: %v", reply, err)
	}
	if addr := firstGuestIPv4(t, resp.Return); addr != "10.0.2.15" {
		t.Errorf("agent reports IPv4 %q, want 10.0.2.15", addr)
	}
	// The balloon driver reports statistics every <stats period> seconds.
	var stats string
	err = retryEvery(ctx, time.Second, func() error {
		out, err := exec.CommandContext(ctx, virsh, "-c", uri, "dommemstat", name).CombinedOutput()
		stats = string(out)
		if err != nil {
			return err
		}
		for _, k := range []string{"actual", "unused", "usable", "rss"} {
			if !memstatPositive(stats, k) {
				return fmt.Errorf("no %s yet", k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("balloon statistics: %v\n%s", err, stats)
	}

	if out, err := exec.Command(virsh, "-c", uri, "shutdown", name, "--mode", "acpi").CombinedOutput(); err != nil {
		t.Fatalf("virsh shutdown: %v %s", err, out)
	}
	offCtx, cancelOff := context.WithTimeout(ctx, 30*time.Second)
	defer cancelOff()
	err = retryEvery(offCtx, 500*time.Millisecond, func() error {
		// A transient domain disappears when it powers off.
		out, err := exec.Command(virsh, "-c", uri, "domstate", name).CombinedOutput()
		if err != nil || strings.Contains(string(out), "shut off") {
			return nil
		}
		return fmt.Errorf("domain state %s", strings.TrimSpace(string(out)))
	})
	if err != nil {
		t.Fatalf("ACPI shutdown through libvirt: %v", err)
	}
}

// memstatPositive reports whether virsh dommemstat output has "key N", N > 0.
func memstatPositive(out, key string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			n, err := strconv.ParseInt(f[1], 10, 64)
			return err == nil && n > 0
		}
	}
	return false
}

func firstGuestIPv4(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var ifaces []struct {
		Name string `json:"name"`
		IPs  []struct {
			Type string `json:"ip-address-type"`
			Addr string `json:"ip-address"`
		} `json:"ip-addresses"`
	}
	if err := json.Unmarshal(raw, &ifaces); err != nil {
		t.Fatalf("guest-network-get-interfaces %s: %v", raw, err)
	}
	for _, i := range ifaces {
		for _, ip := range i.IPs {
			if ip.Type == "ipv4" && !strings.HasPrefix(ip.Addr, "127.") {
				return ip.Addr
			}
		}
	}
	return ""
}

func retryEvery(ctx context.Context, every time.Duration, fn func() error) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-tick.C:
		}
	}
}

func mustFreePort(t *testing.T) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
