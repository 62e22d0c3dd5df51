package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TinyGuestFiles are the outputs of hack/tinyguest/build.sh: a Debian
// kernel and an initramfs with busybox, dropbear, qemu-guest-agent, the
// virtio modules, a serial getty on ttyS0 and an ACPI power button
// handler. Boot with kernel arguments "console=ttyS0"; add
// "tinyguest.noacpi=1" for a guest that ignores the power button.
type TinyGuestFiles struct {
	Dir           string // OUTDIR of the build
	Kernel        string // vmlinuz
	Initrd        string // initrd.gz
	PrivateKey    string // root's client key, OpenSSH format
	PublicKey     string // its authorized_keys line (file path)
	HostPublicKey string // the guest's SSH host key, authorized_keys format (file path)
	RootUser      string // "root"
	RootPassword  string // for SSH and the serial login
	KernelVersion string // uname -r inside the guest
}

// SSHConfig returns a client config for user root that pins the guest's
// host key and offers the build's key pair and the root password.
func (f TinyGuestFiles) SSHConfig() (*ssh.ClientConfig, error) {
	pemBytes, err := os.ReadFile(f.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("tiny guest key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("tiny guest key %s: %w", f.PrivateKey, err)
	}
	hostLine, err := os.ReadFile(f.HostPublicKey)
	if err != nil {
		return nil, fmt.Errorf("tiny guest host key: %w", err)
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey(hostLine)
	if err != nil {
		return nil, fmt.Errorf("tiny guest host key %s: %w", f.HostPublicKey, err)
	}
	return &ssh.ClientConfig{
		User:            f.RootUser,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer), ssh.Password(f.RootPassword)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		// Offer only the pinned key's algorithm: dropbear 2022.83 with
		// just an ed25519 host key aborts when the client prefers RSA.
		HostKeyAlgorithms: []string{hostKey.Type()},
		Timeout:           10 * time.Second,
	}, nil
}

// ForLibvirt copies the kernel and initrd into a world-readable temporary
// directory, because libvirt's QEMU runs as another user that may not
// traverse the checkout (a clone under /root, say).
func (f TinyGuestFiles) ForLibvirt(t testing.TB) TinyGuestFiles {
	t.Helper()
	dir, err := os.MkdirTemp("", "tinyguest-libvirt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*string{&f.Kernel, &f.Initrd} {
		b, err := os.ReadFile(*p)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.Base(*p))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		*p = dst
	}
	return f
}

// tinyGuestBuild caches the build result for the test process: the
// script is cached on disk too, but asking apt for versions costs a second.
var tinyGuestBuild struct {
	sync.Mutex
	done  bool
	files TinyGuestFiles
	err   error
}

// TinyGuest builds the tiny guest (cached in .cache/tinyguest, or
// $DESKVM_TINYGUEST_DIR) and returns its files. A first build takes about
// 15 s; later ones only compare a cache key. When the build cannot run
// (no apt, no network to the Debian mirror) the test is skipped, or
// failed in CI.
func TinyGuest(t testing.TB) TinyGuestFiles {
	t.Helper()
	for _, c := range []string{"apt-get", "apt-cache", "dpkg-deb", "cpio", "gzip", "flock"} {
		RequiresCommand(t, c)
	}
	tinyGuestBuild.Lock()
	defer tinyGuestBuild.Unlock()
	if !tinyGuestBuild.done {
		tinyGuestBuild.files, tinyGuestBuild.err = buildTinyGuest()
		tinyGuestBuild.done = true
	}
	if tinyGuestBuild.err != nil {
		Missing(t, tinyGuestBuild.err.Error())
	}
	return tinyGuestBuild.files
}

func buildTinyGuest() (TinyGuestFiles, error) {
	root, err := repoRoot()
	if err != nil {
		return TinyGuestFiles{}, err
	}
	out := os.Getenv("DESKVM_TINYGUEST_DIR")
	if out == "" {
		out = filepath.Join(root, ".cache", "tinyguest")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	script := filepath.Join(root, "hack", "tinyguest", "build.sh")
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, script, out)
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return TinyGuestFiles{}, fmt.Errorf("tiny guest build (%s) failed: %w\n%s", script, err, tail(stderr.String(), 3000))
	}
	dir := strings.TrimSpace(string(stdout))
	f := TinyGuestFiles{
		Dir:           dir,
		Kernel:        filepath.Join(dir, "vmlinuz"),
		Initrd:        filepath.Join(dir, "initrd.gz"),
		PrivateKey:    filepath.Join(dir, "id_ed25519"),
		PublicKey:     filepath.Join(dir, "id_ed25519.pub"),
		HostPublicKey: filepath.Join(dir, "ssh_host_ed25519_key.pub"),
		RootUser:      "root",
	}
	for name, dst := range map[string]*string{"root-password": &f.RootPassword, "kernel-version": &f.KernelVersion} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return TinyGuestFiles{}, fmt.Errorf("tiny guest build output: %w", err)
		}
		*dst = strings.TrimSpace(string(b))
	}
	return f, nil
}

// repoRoot finds the module root from the working directory (go test
// runs in the package directory), falling back to this file's location.
func repoRoot() (string, error) {
	isRoot := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "hack", "tinyguest", "build.sh"))
		return err == nil
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if isRoot(dir) {
				return dir, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "..", "..")
		if isRoot(dir) {
			return filepath.Clean(dir), nil
		}
	}
	return "", errors.New("tiny guest: cannot find hack/tinyguest/build.sh above the working directory")
}

// TinyGuestOptions tune BootTinyGuestQEMU; the zero value is a 256 MiB,
// one-vCPU guest that honours ACPI.
type TinyGuestOptions struct {
	MemoryMiB int      // default 256
	NoACPI    bool     // guest ignores the power button
	Append    string   // extra kernel arguments
	ExtraArgs []string // extra QEMU arguments
}

// RunningGuest is a tiny guest under plain QEMU (TCG, no libvirt), killed
// when the test ends.
type RunningGuest struct {
	Files     TinyGuestFiles
	SSHAddr   string // 127.0.0.1:port forwarded to the guest's port 22
	SerialLog string // everything the guest wrote on ttyS0
	QMPSocket string
	QGASocket string // the guest agent's virtio-serial port
	Started   time.Time

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stderr  *LockedBuffer
	serial  *serialSink
	stdin   io.WriteCloser

	sshMu     sync.Mutex
	sshClient *ssh.Client
	qmpMu     sync.Mutex
	qmp       *jsonConn
	qgaMu     sync.Mutex
	qga       *jsonConn
	qgaSync   int
}

// BootTinyGuestQEMU starts the tiny guest under qemu-system-x86_64 with
// TCG, user networking with an SSH port forward on a free local port, a
// virtio-serial guest agent port, a virtio balloon, the serial console
// on a log file and a QMP socket. It returns once QEMU has started (QMP
// answers), not when the guest has booted: use WaitSSH, WaitSerial or
// QGA, which wait themselves.
func BootTinyGuestQEMU(t testing.TB, opts TinyGuestOptions) *RunningGuest {
	t.Helper()
	qemu := RequiresQEMU(t)
	files := TinyGuest(t)
	if opts.MemoryMiB == 0 {
		opts.MemoryMiB = 256
	}
	// Unix socket paths must stay under 108 bytes; t.TempDir() can be longer.
	sockDir, err := os.MkdirTemp("", "tinyguest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })

	var lastErr error
	// A free port can be taken by someone else before QEMU binds it;
	// try again with another one.
	for attempt := 0; attempt < 5; attempt++ {
		g, err := startTinyGuest(t, qemu, files, opts, sockDir, attempt)
		if err == nil {
			return g
		}
		lastErr = err
		if !strings.Contains(err.Error(), "host forwarding") {
			break
		}
	}
	t.Fatalf("boot tiny guest: %v", lastErr)
	return nil
}

func startTinyGuest(t testing.TB, qemu string, files TinyGuestFiles, opts TinyGuestOptions, sockDir string, attempt int) (*RunningGuest, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logDir := t.TempDir()
	g := &RunningGuest{
		Files:     files,
		SSHAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		SerialLog: filepath.Join(logDir, fmt.Sprintf("serial-%d.log", attempt)),
		QMPSocket: filepath.Join(sockDir, fmt.Sprintf("qmp%d.sock", attempt)),
		QGASocket: filepath.Join(sockDir, fmt.Sprintf("qga%d.sock", attempt)),
		exited:    make(chan struct{}),
		stderr:    &LockedBuffer{},
	}
	logFile, err := os.Create(g.SerialLog)
	if err != nil {
		return nil, err
	}
	g.serial = newSerialSink(logFile)

	// The sockets are opened here and handed to QEMU as listening file
	// descriptors (as libvirt does), so they exist before QEMU runs and
	// a connect simply waits in the backlog until QEMU is ready.
	qmpF, err := listenUnixFile(g.QMPSocket)
	if err != nil {
		return nil, err
	}
	defer qmpF.Close()
	qgaF, err := listenUnixFile(g.QGASocket)
	if err != nil {
		return nil, err
	}
	defer qgaF.Close()

	appendArgs := "console=ttyS0 panic=-1"
	if opts.NoACPI {
		appendArgs += " tinyguest.noacpi=1"
	}
	if opts.Append != "" {
		appendArgs += " " + opts.Append
	}
	args := []string{
		"-nodefaults", "-no-user-config",
		"-machine", "q35,accel=tcg", "-m", strconv.Itoa(opts.MemoryMiB), "-smp", "1",
		"-display", "none", "-vga", "none", "-monitor", "none", "-no-reboot",
		"-kernel", files.Kernel, "-initrd", files.Initrd, "-append", appendArgs,
		"-netdev", fmt.Sprintf("user,id=net0,hostfwd=tcp:127.0.0.1:%d-:22", port),
		"-device", "virtio-net-pci,netdev=net0",
		"-chardev", "stdio,id=serial0,signal=off", "-serial", "chardev:serial0",
		"-chardev", "socket,id=qmp,fd=3,server=on,wait=off", "-mon", "chardev=qmp,mode=control",
		"-device", "virtio-serial-pci",
		"-chardev", "socket,id=qga,fd=4,server=on,wait=off",
		"-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
		"-device", "virtio-balloon-pci",
		"-device", "virtio-rng-pci",
	}
	args = append(args, opts.ExtraArgs...)
	g.cmd = exec.Command(qemu, args...)
	g.cmd.ExtraFiles = []*os.File{qmpF, qgaF}
	// Cleanup does not run when the test binary is killed (go test
	// -timeout); the kernel then stops QEMU instead of leaving it behind.
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	g.cmd.Stdout = g.serial
	g.cmd.Stderr = g.stderr
	if g.stdin, err = g.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	g.Started = time.Now()
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	// Only QEMU may hold the listening sockets: were QEMU to die, a
	// connect must fail instead of waiting in a backlog nobody accepts.
	qmpF.Close()
	qgaF.Close()
	go func() {
		g.waitErr = g.cmd.Wait()
		logFile.Close()
		close(g.exited)
	}()
	t.Cleanup(func() { g.stop(t) })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := g.QMP(ctx, "query-status", nil); err != nil {
		select {
		case <-g.exited:
			return nil, fmt.Errorf("qemu exited at start (%v): %s", g.waitErr, strings.TrimSpace(g.stderr.String()))
		default:
			return nil, fmt.Errorf("qemu monitor: %w", err)
		}
	}
	return g, nil
}

func (g *RunningGuest) stop(t testing.TB) {
	// Killing QEMU first ends any call still waiting on it.
	if g.cmd.Process != nil {
		g.cmd.Process.Kill()
		<-g.exited
	}
	g.sshMu.Lock()
	if g.sshClient != nil {
		g.sshClient.Close()
	}
	g.sshMu.Unlock()
	g.qmpMu.Lock()
	if g.qmp != nil {
		g.qmp.conn.Close()
	}
	g.qmpMu.Unlock()
	g.qgaMu.Lock()
	if g.qga != nil {
		g.qga.conn.Close()
	}
	g.qgaMu.Unlock()
	if t.Failed() {
		t.Logf("tiny guest serial console (%s), last lines:\n%s", g.SerialLog, tail(g.serial.String(), 4000))
		if s := g.stderr.String(); s != "" {
			t.Logf("qemu stderr:\n%s", tail(s, 2000))
		}
	}
}

// Exited is closed when QEMU has exited.
func (g *RunningGuest) Exited() <-chan struct{} { return g.exited }

// WaitExit waits for QEMU to exit (for example after an ACPI power-off).
func (g *RunningGuest) WaitExit(ctx context.Context) error {
	select {
	case <-g.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tiny guest still running: %w", ctx.Err())
	}
}

// WaitSSH waits until the guest's SSH server accepts root's key and
// returns a client, shared by later calls and closed when the test ends.
func (g *RunningGuest) WaitSSH(ctx context.Context) (*ssh.Client, error) {
	g.sshMu.Lock()
	defer g.sshMu.Unlock()
	if g.sshClient != nil {
		return g.sshClient, nil
	}
	cfg, err := g.Files.SSHConfig()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-g.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := WaitSSHAddr(ctx, g.SSHAddr, cfg)
	if err != nil {
		select {
		case <-g.exited:
			return nil, fmt.Errorf("ssh to tiny guest: qemu exited (%v): %w", g.waitErr, err)
		default:
			return nil, err
		}
	}
	g.sshClient = c
	return c, nil
}

// WaitSSHAddr dials addr until the SSH handshake with cfg succeeds or ctx
// ends. QEMU user networking accepts the TCP connection before the guest
// listens, so each try is a full handshake; tries are half a second apart.
func WaitSSHAddr(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	retry := time.NewTicker(500 * time.Millisecond)
	defer retry.Stop()
	for {
		c, err := dialSSH(ctx, addr, cfg)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("ssh to %s: %w (last error: %v)", addr, ctx.Err(), err)
		case <-retry.C:
		}
	}
}

func dialSSH(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// Run runs a shell command in the guest over SSH (waiting for SSH first)
// and returns its standard output; the error carries standard error.
func (g *RunningGuest) Run(ctx context.Context, command string) (string, error) {
	c, err := g.WaitSSH(ctx)
	if err != nil {
		return "", err
	}
	sess, err := c.NewSession()
	if err != nil {
		return "", fmt.Errorf("ssh session: %w", err)
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- sess.Run(command) }()
	select {
	case err := <-done:
		if err != nil {
			return stdout.String(), fmt.Errorf("guest command %q: %w: %s", command, err, strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), nil
	case <-ctx.Done():
		sess.Close()
		return stdout.String(), fmt.Errorf("guest command %q: %w", command, ctx.Err())
	}
}

// WaitSerial waits until the serial console output contains text.
func (g *RunningGuest) WaitSerial(ctx context.Context, text string) error {
	return g.WaitSerialSince(ctx, 0, text)
}

// SerialLen is the number of bytes of serial output so far: a mark for
// WaitSerialSince before typing something.
func (g *RunningGuest) SerialLen() int {
	out, _ := g.serial.snapshot()
	return len(out)
}

// WaitSerialSince waits until the serial output after byte offset mark
// contains text.
func (g *RunningGuest) WaitSerialSince(ctx context.Context, mark int, text string) error {
	seen := func(out string) bool { return mark <= len(out) && strings.Contains(out[mark:], text) }
	for {
		out, changed := g.serial.snapshot()
		if seen(out) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("serial console never showed %q: %w", text, ctx.Err())
		case <-g.exited:
			if out, _ := g.serial.snapshot(); seen(out) {
				return nil
			}
			return fmt.Errorf("serial console never showed %q: qemu exited", text)
		}
	}
}

// SerialOutput is everything the guest wrote on its serial console so far.
func (g *RunningGuest) SerialOutput() string { return g.serial.String() }

// WriteSerial types into the guest's serial console (ttyS0).
func (g *RunningGuest) WriteSerial(s string) error {
	_, err := io.WriteString(g.stdin, s)
	return err
}

// QMP runs a QMP command and returns its "return" value. Events are skipped.
func (g *RunningGuest) QMP(ctx context.Context, command string, args any) (json.RawMessage, error) {
	g.qmpMu.Lock()
	defer g.qmpMu.Unlock()
	if g.qmp == nil {
		c, err := dialJSON(ctx, g.QMPSocket)
		if err != nil {
			return nil, fmt.Errorf("qmp: %w", err)
		}
		if _, err := c.read(ctx); err != nil { // greeting
			c.conn.Close()
			return nil, fmt.Errorf("qmp greeting: %w", err)
		}
		g.qmp = c
		if _, err := g.qmp.call(ctx, "qmp_capabilities", nil); err != nil {
			g.resetQMP()
			return nil, fmt.Errorf("qmp: %w", err)
		}
	}
	ret, err := g.qmp.call(ctx, command, args)
	if err != nil && !errors.As(err, new(*commandError)) {
		g.resetQMP()
	}
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", command, err)
	}
	return ret, nil
}

func (g *RunningGuest) resetQMP() {
	g.qmp.conn.Close()
	g.qmp = nil
}

// QGA runs a guest agent command (for example "guest-ping") and returns its
// "return" value. It waits for the agent: the request stays queued in the
// virtio-serial port until qemu-ga opens it. A guest-sync with a fresh id
// precedes every command so that replies left over from an abandoned call
// are skipped.
func (g *RunningGuest) QGA(ctx context.Context, command string, args any) (json.RawMessage, error) {
	g.qgaMu.Lock()
	defer g.qgaMu.Unlock()
	if g.qga == nil {
		c, err := dialJSON(ctx, g.QGASocket)
		if err != nil {
			return nil, fmt.Errorf("guest agent: %w", err)
		}
		g.qga = c
	}
	ret, err := g.qgaCall(ctx, command, args)
	if err != nil {
		g.qga.conn.Close()
		g.qga = nil
		return nil, fmt.Errorf("guest agent %s: %w", command, err)
	}
	return ret, nil
}

func (g *RunningGuest) qgaCall(ctx context.Context, command string, args any) (json.RawMessage, error) {
	g.qgaSync++
	id := int64(time.Now().UnixNano()%1e9)*1000 + int64(g.qgaSync%1000)
	if err := g.qga.send(ctx, "guest-sync", map[string]int64{"id": id}); err != nil {
		return nil, err
	}
	for {
		msg, err := g.qga.read(ctx)
		if err != nil {
			return nil, err
		}
		var got int64
		if msg.Return != nil && json.Unmarshal(msg.Return, &got) == nil && got == id {
			break
		}
	}
	return g.qga.call(ctx, command, args)
}

type qmpMessage struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string          `json:"event"`
	QMP   json.RawMessage `json:"QMP"`
}

type commandError struct{ class, desc string }

func (e *commandError) Error() string { return e.class + ": " + e.desc }

// jsonConn speaks the line-delimited JSON of QMP and the guest agent.
type jsonConn struct {
	conn net.Conn
	dec  *json.Decoder
}

func dialJSON(ctx context.Context, path string) (*jsonConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	return &jsonConn{conn: c, dec: json.NewDecoder(c)}, nil
}

func (c *jsonConn) send(ctx context.Context, command string, args any) error {
	req := map[string]any{"execute": command}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	c.deadline(ctx)
	_, err = c.conn.Write(append(b, '\n'))
	return err
}

// read returns the next message; a cancelled ctx interrupts it by
// expiring the connection's deadline.
func (c *jsonConn) read(ctx context.Context) (qmpMessage, error) {
	c.deadline(ctx)
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	defer stop()
	var m qmpMessage
	err := c.dec.Decode(&m)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return m, err
}

func (c *jsonConn) call(ctx context.Context, command string, args any) (json.RawMessage, error) {
	if err := c.send(ctx, command, args); err != nil {
		return nil, err
	}
	for {
		m, err := c.read(ctx)
		if err != nil {
			return nil, err
		}
		switch {
		case m.Error != nil:
			return nil, &commandError{m.Error.Class, m.Error.Desc}
		case m.Return != nil:
			return m.Return, nil
		}
		// An event or a greeting: not the reply.
	}
}

func (c *jsonConn) deadline(ctx context.Context) {
	dl, _ := ctx.Deadline()
	c.conn.SetDeadline(dl)
}

// listenUnixFile returns a listening unix socket as a file to pass to QEMU.
func listenUnixFile(path string) (*os.File, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// QEMU owns the socket file from now on; closing our copy must not
	// unlink it.
	l.SetUnlinkOnClose(false)
	defer l.Close()
	return l.File()
}

// FreeTCPPort is a loopback TCP port that was free a moment ago.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// LockedBuffer is a bytes.Buffer safe to write from one goroutine (exec's
// copying one, a logger) while a test reads it.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serialSink keeps the serial output in memory and in the log file and
// wakes WaitSerial callers on every write.
type serialSink struct {
	mu      sync.Mutex
	file    *os.File
	buf     bytes.Buffer
	changed chan struct{}
}

func newSerialSink(f *os.File) *serialSink {
	return &serialSink{file: f, changed: make(chan struct{})}
}

func (s *serialSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.file.Write(p)
	s.buf.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

func (s *serialSink) snapshot() (string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String(), s.changed
}

func (s *serialSink) String() string {
	out, _ := s.snapshot()
	return out
}
