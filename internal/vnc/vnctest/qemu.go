// Package vnctest starts a real QEMU with a VNC server for integration
// tests: no disk, so SeaBIOS ends on "No bootable device.", the smallest
// real screen there is. The process is killed in t.Cleanup.
package vnctest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/testutil"
)

// Options choose how QEMU is started.
type Options struct {
	// Password enables VNC authentication through password-secret.
	Password string
	// TCP listens on 127.0.0.1 at a free port instead of a Unix socket.
	TCP bool
	// Paused starts the guest stopped (-S); call Monitor(ctx, "cont").
	Paused bool
	// BootMenu makes SeaBIOS offer its boot menu ("Press ESC for boot
	// menu.") for the given time.
	BootMenu time.Duration
	// ExtraArgs are appended to QEMU's command line.
	ExtraArgs []string
}

// QEMU is a running qemu-system-x86_64.
type QEMU struct {
	// Addr is the VNC address for vnc.Dial: "unix:/path" or "127.0.0.1:port".
	Addr    string
	monitor string
	stderr  *testutil.LockedBuffer
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Start launches QEMU and returns once its VNC server accepts connections.
func Start(t testing.TB, o Options) *QEMU {
	t.Helper()
	bin := testutil.RequiresQEMU(t)
	// Unix socket paths are limited to 108 bytes, so not t.TempDir().
	dir, err := os.MkdirTemp("", "deskvm-vnc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	q := &QEMU{monitor: filepath.Join(dir, "mon.sock"), stderr: &testutil.LockedBuffer{}, exited: make(chan struct{})}
	var vnc string
	if o.TCP {
		port := freePort(t)
		q.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		vnc = fmt.Sprintf("127.0.0.1:%d", port-5900)
	} else {
		sock := filepath.Join(dir, "vnc.sock")
		q.Addr = "unix:" + sock
		vnc = "unix:" + sock
	}
	args := []string{
		"-machine", "q35,accel=tcg", "-m", "64", "-display", "none",
		"-nodefaults", "-vga", "std", "-serial", "none",
		"-monitor", "unix:" + q.monitor + ",server=on,wait=off",
	}
	if o.Password != "" {
		// data= would show the password in ps; a file keeps it private.
		secret := filepath.Join(dir, "vnc.secret")
		if err := os.WriteFile(secret, []byte(o.Password), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-object", "secret,id=vncsec0,file="+secret)
		vnc += ",password-secret=vncsec0"
	}
	args = append(args, "-vnc", vnc)
	if o.Paused {
		args = append(args, "-S")
	}
	if o.BootMenu > 0 {
		args = append(args, "-boot", fmt.Sprintf("menu=on,splash-time=%d", o.BootMenu.Milliseconds()))
	}
	args = append(args, o.ExtraArgs...)

	q.cmd = exec.Command(bin, args...)
	q.cmd.Stderr = q.stderr
	// If the test binary dies (e.g. -timeout panics, skipping Cleanup),
	// the kernel kills QEMU too instead of leaving it running.
	q.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := q.cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	go func() { q.cmd.Wait(); close(q.exited) }()
	t.Cleanup(func() {
		q.cmd.Process.Kill()
		<-q.exited
	})
	if err := q.waitListening(o.TCP, 30*time.Second); err != nil {
		t.Fatalf("qemu %s: %v; stderr: %s", strings.Join(args, " "), err, q.stderr.String())
	}
	return q
}

// waitListening waits for QEMU to create its sockets. QEMU gives no
// readiness signal, so this retries a dial every 20 ms.
func (q *QEMU) waitListening(tcp bool, timeout time.Duration) error {
	network, addr := "unix", strings.TrimPrefix(q.Addr, "unix:")
	if tcp {
		network = "tcp"
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(q.monitor); err == nil {
			// The VNC server is set up before the monitor socket on QEMU
			// 7.2, but check it as well: a probe connection is cheap. QEMU
			// drops a client that closes before the handshake.
			if c, err := net.Dial(network, addr); err == nil {
				c.Close()
				return nil
			}
		}
		select {
		case <-q.exited:
			return fmt.Errorf("exited early: %v", q.cmd.ProcessState)
		case <-deadline.C:
			return fmt.Errorf("vnc not listening after %v", timeout)
		case <-tick.C:
		}
	}
}

// Monitor runs one human monitor command (e.g. "cont") and returns its output.
func (q *QEMU) Monitor(ctx context.Context, command string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", q.monitor)
	if err != nil {
		return "", fmt.Errorf("qemu monitor: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	r := bufio.NewReader(c)
	if _, err := readPrompt(r); err != nil { // banner
		return "", fmt.Errorf("qemu monitor banner: %w", err)
	}
	if _, err := fmt.Fprintf(c, "%s\n", command); err != nil {
		return "", fmt.Errorf("qemu monitor: %w", err)
	}
	out, err := readPrompt(r)
	if err != nil {
		return "", fmt.Errorf("qemu monitor %q: %w", command, err)
	}
	return out, nil
}

func readPrompt(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
		if strings.HasSuffix(b.String(), "(qemu) ") {
			return strings.TrimSuffix(b.String(), "(qemu) "), nil
		}
	}
}

// Stderr is what QEMU printed so far.
func (q *QEMU) Stderr() string { return q.stderr.String() }

// Kill stops QEMU now (to test a dropped connection).
func (q *QEMU) Kill() {
	q.cmd.Process.Kill()
	<-q.exited
}

func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		// VNC displays count from port 5900.
		if port := testutil.FreeTCPPort(t); port >= 5900 {
			return port
		}
	}
	t.Fatal("no free TCP port >= 5900")
	return 0
}
