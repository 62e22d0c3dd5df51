package seed

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/testutil"
)

// TestSeedConfiguresDebianCloudImage boots the real Debian cloud image
// (testutil.DebianCloudImage) under QEMU with TCG and OVMF, configured by
// a seed from WriteISO on a virtio disk and a virtio-net NIC behind user
// networking forwarded on 127.0.0.1 only. It logs in over SSH with a key
// generated here, pinning the host key the seed gave the guest, and
// checks what the seed asked for. Then it generalizes the disk
// (cloud-init clean, machine-id and host keys removed), powers off, and
// boots the same disk with SeaBIOS and a second seed — another user, key,
// host name and MAC — which cloud-init applies as a new instance.
func TestSeedConfiguresDebianCloudImage(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a Debian cloud image under TCG (minutes)")
	}
	qemu := testutil.RequiresQEMU(t)
	code, vars := ovmf(t)
	base := testutil.DebianCloudImage(t)
	disk := testutil.CloudImageOverlay(t, base)
	// A bigger disk than the image: growpart and resize2fs follow.
	if out, err := exec.Command("qemu-img", "resize", "-q", disk, "3G").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img resize: %v\n%s", err, out)
	}
	dir := t.TempDir()
	varsCopy := filepath.Join(dir, "OVMF_VARS.fd")
	copyFile(t, vars, varsCopy)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	// First boot.
	first := newIdentity(t, "dev", "devbox", "52:54:00:5e:ed:01")
	first.args.WriteFiles = []File{
		{Path: "/etc/motd", Content: "hello\n", Permissions: "0644"},
		{Path: "/home/dev/notes.txt", Content: "for dev\n", Owner: "dev:dev", Permissions: "0600"},
	}
	first.args.RunCmd = []string{"touch /var/lib/built-by-deskvm", "echo $(( 6 * 7 )) > /var/lib/answer"}
	vm := bootCloudImage(ctx, t, qemu, code, varsCopy, disk, first)
	client := vm.waitSSH(ctx, t, first)
	status := mustRun(t, client, "cloud-init status --wait --long")
	if !strings.Contains(status, "status: done") {
		t.Fatalf("cloud-init status:\n%s", status)
	}
	t.Logf("first boot: SSH and cloud-init done %s after start", time.Since(vm.started).Round(time.Second))
	expectOutputs(t, client, map[string]string{
		"test -d /sys/firmware/efi && echo uefi":       "uefi",
		"hostname":                                     "devbox",
		"id -un":                                       "dev",
		"cat /sys/class/net/eth0/address":              first.args.MAC,
		"cat /etc/motd":                                "hello",
		"stat -c '%U %a' /home/dev/notes.txt":          "dev 600",
		"cat /home/dev/notes.txt":                      "for dev",
		"cat /var/lib/answer":                          "42",
		"test -f /var/lib/built-by-deskvm && echo yes": "yes",
		"sudo -n id -un":                               "root",
		"ls /etc/ssh/ssh_host_*_key":                   "/etc/ssh/ssh_host_ed25519_key",
	})
	if ds := mustRun(t, client, "cloud-init query platform"); !strings.Contains(ds, "nocloud") {
		t.Errorf("cloud-init platform %q, want nocloud", ds)
	}
	// growpart: the root partition follows the 3G disk.
	if size, err := strconv.ParseInt(mustRun(t, client, "lsblk -bno SIZE /dev/vda1"), 10, 64); err != nil || size < 2900<<20 {
		t.Errorf("root partition size %d (%v), want about 3G after growpart", size, err)
	}
	if got := mustRun(t, client, "cat /etc/machine-id"); len(got) != 32 {
		t.Errorf("machine-id %q after the first boot", got)
	}

	// Generalize, as an image builder does, and power off.
	mustRun(t, client, "sudo cloud-init clean --logs --seed && sudo truncate -s 0 /etc/machine-id && sudo rm -f /etc/ssh/ssh_host_* && sync")
	vm.powerOff(ctx, t, client)

	// Second boot of the same disk with another seed, and with BIOS
	// (SeaBIOS) firmware: the image boots either way.
	second := newIdentity(t, "ops", "opsbox", "52:54:00:5e:ed:02")
	vm = bootCloudImage(ctx, t, qemu, "", "", disk, second)
	client = vm.waitSSH(ctx, t, second)
	if status := mustRun(t, client, "cloud-init status --wait --long"); !strings.Contains(status, "status: done") {
		t.Fatalf("cloud-init status after the second boot:\n%s", status)
	}
	t.Logf("second boot: SSH and cloud-init done %s after start", time.Since(vm.started).Round(time.Second))
	expectOutputs(t, client, map[string]string{
		"test -d /sys/firmware/efi || echo bios": "bios",
		"hostname":                               "opsbox",
		"id -un":                                 "ops",
		"cat /sys/class/net/eth0/address":        second.args.MAC,
		"ls /etc/ssh/ssh_host_*_key":             "/etc/ssh/ssh_host_ed25519_key",
		"sudo -n id -un":                         "root",
		"test -e /var/lib/cloud/instance/boot-finished && echo yes": "yes",
	})
	if got := mustRun(t, client, "cat /etc/machine-id"); len(got) != 32 {
		t.Errorf("machine-id %q after the second boot", got)
	}
	// The first user's key does not open the second user's account.
	cfg := first.clientConfig()
	cfg.User = "ops"
	cfg.HostKeyCallback = ssh.FixedHostKey(second.hostPub)
	if c, err := ssh.Dial("tcp", vm.sshAddr, cfg); err == nil {
		c.Close()
		t.Error("the first seed's key logs in as ops")
	}
	vm.powerOff(ctx, t, client)
}

// identity is one seed: user, client key, host key, host name and MAC.
type identity struct {
	args    Args
	signer  ssh.Signer
	hostPub ssh.PublicKey
}

func newIdentity(t *testing.T, user, host, mac string) identity {
	t.Helper()
	_, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(clientPriv)
	if err != nil {
		t.Fatal(err)
	}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(hostPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	return identity{
		args: Args{
			Hostname:          host,
			Username:          user,
			SSHAuthorizedKeys: []string{string(ssh.MarshalAuthorizedKey(signer.PublicKey()))},
			MAC:               mac,
			HostKeys: map[string]HostKey{"ed25519": {
				Private: string(pem.EncodeToMemory(block)),
				Public:  string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey())),
			}},
		},
		signer:  signer,
		hostPub: hostSigner.PublicKey(),
	}
}

// clientConfig trusts only the host key the seed installs.
func (id identity) clientConfig() *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:              id.args.Username,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(id.signer)},
		HostKeyCallback:   ssh.FixedHostKey(id.hostPub),
		HostKeyAlgorithms: []string{id.hostPub.Type()},
		Timeout:           15 * time.Second,
	}
}

type cloudVM struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	serial  string
	stderr  *bytes.Buffer
	sshAddr string
	started time.Time
}

// bootCloudImage starts QEMU on disk with a seed for id: with UEFI when
// code (and vars) name OVMF images, else with SeaBIOS.
func bootCloudImage(ctx context.Context, t *testing.T, qemu, code, vars, disk string, id identity) *cloudVM {
	t.Helper()
	dir := t.TempDir()
	seedPath := filepath.Join(dir, "seed.iso")
	if err := WriteISO(seedPath, id.args); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	// A free port can be taken by someone else before QEMU binds it.
	for attempt := range 4 {
		port := testutil.FreeTCPPort(t)
		vm := &cloudVM{
			exited:  make(chan struct{}),
			serial:  filepath.Join(dir, fmt.Sprintf("serial-%d.log", attempt)),
			stderr:  &bytes.Buffer{},
			sshAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		}
		args := []string{
			"-nodefaults", "-no-user-config",
			"-machine", "q35,accel=tcg", "-cpu", "max", "-m", "1024", "-smp", "2",
			"-display", "none", "-monitor", "none", "-no-reboot",
		}
		if code != "" {
			args = append(args,
				"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+code,
				"-drive", "if=pflash,format=raw,unit=1,file="+vars)
		}
		vm.cmd = exec.Command(qemu, append(args,
			"-drive", "if=none,id=disk0,format=qcow2,file="+disk,
			"-device", "virtio-blk-pci,drive=disk0,bootindex=0",
			"-drive", "if=none,id=seed,format=raw,readonly=on,file="+seedPath,
			"-device", "virtio-blk-pci,drive=seed",
			"-netdev", fmt.Sprintf("user,id=net0,hostfwd=tcp:127.0.0.1:%d-:22", port),
			"-device", "virtio-net-pci,netdev=net0,mac="+id.args.MAC,
			"-device", "virtio-rng-pci",
			"-serial", "file:"+vm.serial,
		)...)
		vm.cmd.Stderr = vm.stderr
		vm.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		vm.started = time.Now()
		if err := vm.cmd.Start(); err != nil {
			t.Fatalf("start qemu: %v", err)
		}
		go func() {
			vm.waitErr = vm.cmd.Wait()
			close(vm.exited)
		}()
		t.Cleanup(func() {
			vm.cmd.Process.Kill()
			<-vm.exited
			if t.Failed() {
				b, _ := os.ReadFile(vm.serial)
				t.Logf("serial console %s, last lines:\n%s", vm.serial, lastBytes(string(b), 4000))
				if vm.stderr.Len() > 0 {
					t.Logf("qemu stderr:\n%s", vm.stderr)
				}
			}
		})
		// QEMU fails at once when the forward cannot be set up.
		select {
		case <-vm.exited:
			lastErr = fmt.Errorf("qemu exited at start (%v): %s", vm.waitErr, vm.stderr)
			if strings.Contains(vm.stderr.String(), "host forwarding") {
				continue
			}
			t.Fatal(lastErr)
		case <-time.After(2 * time.Second):
			return vm
		}
	}
	t.Fatal(lastErr)
	return nil
}

func (vm *cloudVM) waitSSH(ctx context.Context, t *testing.T, id identity) *ssh.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	go func() {
		select {
		case <-vm.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := testutil.WaitSSHAddr(ctx, vm.sshAddr, id.clientConfig())
	if err != nil {
		t.Fatalf("ssh %s@%s: %v", id.args.Username, vm.sshAddr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (vm *cloudVM) powerOff(ctx context.Context, t *testing.T, c *ssh.Client) {
	t.Helper()
	// The connection may end before the command reports back.
	if s, err := c.NewSession(); err == nil {
		s.Start("sudo systemctl poweroff")
		defer s.Close()
	}
	select {
	case <-vm.exited:
	case <-time.After(5 * time.Minute):
		t.Fatal("guest did not power off within 5 minutes")
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
}

func mustRun(t *testing.T, c *ssh.Client, command string) string {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatalf("ssh session: %v", err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	if err := s.Run(command); err != nil {
		t.Fatalf("%s: %v\n%s%s", command, err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// expectOutputs runs each command and compares its trimmed output.
func expectOutputs(t *testing.T, c *ssh.Client, want map[string]string) {
	t.Helper()
	for command, w := range want {
		got := mustRun(t, c, command)
		if got != w {
			t.Errorf("%s: got %q, want %q", command, got, w)
		}
	}
}

// ovmf finds the UEFI code and vars template as deskvm's host probe does.
func ovmf(t *testing.T) (code, vars string) {
	t.Helper()
	facts, err := hostfacts.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if facts.Firmware.Code == "" || facts.Firmware.Vars == "" {
		testutil.Missing(t, "OVMF firmware (package ovmf)")
	}
	return facts.Firmware.Code, facts.Firmware.Vars
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
