package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/image/seed"
	"github.com/deskvm/deskvm/internal/qemu"
)

// KeyPair is an SSH key pair made for a build or a check.
type KeyPair struct {
	Private    []byte // OpenSSH PEM
	Public     string // authorized_keys line
	PrivateKey ssh.Signer
}

// NewKeyPair makes an ed25519 key pair; comment ends the public line.
func NewKeyPair(comment string) (KeyPair, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("ssh key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return KeyPair{}, fmt.Errorf("ssh key: %w", err)
	}
	spub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return KeyPair{}, fmt.Errorf("ssh key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return KeyPair{}, fmt.Errorf("ssh key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spub))) + " " + comment
	return KeyPair{Private: pem.EncodeToMemory(block), Public: line, PrivateKey: signer}, nil
}

// seedHostKey is the pair as a host key for the seed.
func (k KeyPair) seedHostKey() seed.HostKey {
	return seed.HostKey{Private: string(k.Private), Public: strings.Join(strings.Fields(k.Public)[:2], " ")}
}

// WriteFiles writes the pair as dir/id_ed25519 and dir/id_ed25519.pub,
// both 0600, dir 0700.
func (k KeyPair) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("ssh key dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "id_ed25519"), k.Private, 0o600); err != nil {
		return fmt.Errorf("ssh key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "id_ed25519.pub"), []byte(k.Public+"\n"), 0o600); err != nil {
		return fmt.Errorf("ssh key: %w", err)
	}
	return nil
}

// bootSpec is one boot of a disk image with a NoCloud seed.
type bootSpec struct {
	Name      string
	Disk      string // qcow2, booted read-write (or Snapshot)
	Snapshot  bool
	Firmware  string // uefi or bios
	MemoryMiB int
	CPUs      int
	// SeedISO is the NoCloud seed (writeSeed); "" boots without one.
	SeedISO string
	// User logs in over SSH.
	User string
	// HostKey is the SSH host key the seed installs; it is written to
	// known_hosts before the first contact, so the very first connection
	// is already checked against it.
	HostKey ssh.PublicKey
	// SSHPort is the host port; 0 picks a free one (and another if it
	// is taken before QEMU binds it).
	SSHPort int
	// Work is a directory for the seed, vars copy and serial log.
	Work string
	// VarsTemplate is the UEFI vars file to start from (default: the
	// host's plain template).
	VarsTemplate string
	Accel        string
	Log          *slog.Logger
}

// guest is a booted VM and an SSH session into it.
type guest struct {
	proc       *qemu.Process
	addr       string
	user       string
	signer     ssh.Signer
	serialLog  string
	knownHosts string
	vars       string
	firmware   hostfacts.Firmware
	argv       []string
	log        *slog.Logger

	mu     sync.Mutex
	client *ssh.Client
}

// MACAddress is the build VM's NIC; the seed's network-config matches it.
const MACAddress = "52:54:00:de:5c:01"

// hostFirmware finds OVMF the way the Desktop VM renderer does.
func hostFirmware() (hostfacts.Firmware, error) {
	p := &hostfacts.Prober{}
	return p.Firmware(), nil
}

// machine is the QEMU machine of a boot; port 0 is filled by the caller.
func (s *bootSpec) machine(fw hostfacts.Firmware, seedISO, vars, serial, qmpSock string, port int) qemu.Machine {
	m := qemu.Machine{
		Name: "deskvm-image-" + s.Name, Accel: s.Accel, CPUs: s.CPUs, MemoryMiB: s.MemoryMiB,
		Drives: []qemu.Drive{
			{ID: "disk", File: s.Disk, Format: "qcow2", BootIndex: 1, Snapshot: s.Snapshot, Discard: true},
		},
		NICs:      []qemu.NIC{{MAC: MACAddress, Forwards: []qemu.Forward{{HostPort: port, GuestPort: 22}}}},
		SerialLog: serial, QMP: qemu.QMP{Path: qmpSock}, RNG: true,
	}
	if seedISO != "" {
		// virtio: Debian's cloud kernel has no AHCI driver for a SATA CD.
		m.Drives = append(m.Drives, qemu.Drive{ID: "seed", File: seedISO, Format: "raw", ReadOnly: true})
	}
	if s.Firmware == "uefi" {
		m.Firmware = qemu.Firmware{UEFI: true, Code: fw.Code, Vars: vars}
	}
	return m
}

// writeSeed writes the NoCloud seed ISO and, for plan and -v, its three
// files beside it.
func writeSeed(dir string, a seed.Args) (string, error) {
	iso := filepath.Join(dir, "seed.iso")
	if err := seed.WriteISO(iso, a); err != nil {
		return "", fmt.Errorf("seed: %w", err)
	}
	return iso, nil
}

// bootGuest starts QEMU and returns at once (the guest
// is booting). Everything it makes is pushed on cleanups.
func bootGuest(ctx context.Context, s bootSpec, sshKey ssh.Signer, cleanups *Cleanups) (*guest, error) {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if s.Accel == "" {
		s.Accel = qemu.DetectAccel()
	}
	fw, _ := hostFirmware()
	g := &guest{user: s.User, signer: sshKey, serialLog: filepath.Join(s.Work, "serial.log"),
		knownHosts: filepath.Join(s.Work, "known_hosts"), log: log, firmware: fw}
	if s.Firmware == "uefi" {
		if fw.Code == "" || fw.Vars == "" {
			return nil, errors.New("firmware uefi: no OVMF found (install the ovmf package) — or use firmware: bios")
		}
		tmpl := s.VarsTemplate
		if tmpl == "" {
			tmpl = fw.Vars
		}
		g.vars = filepath.Join(s.Work, "efivars.fd")
		if err := qemu.CopyVars(tmpl, g.vars); err != nil {
			return nil, err
		}
	}
	seedISO := s.SeedISO
	// Unix socket paths must stay under 108 bytes; the work directory
	// can be deep, so the QMP socket lives in a short temporary one.
	sockDir, err := os.MkdirTemp("", "deskvm-qmp-")
	if err != nil {
		return nil, err
	}
	cleanups.Push("qmp socket directory", func(context.Context) error { return os.RemoveAll(sockDir) })
	qmpSock := filepath.Join(sockDir, "qmp.sock")

	for attempt := 0; ; attempt++ {
		port := s.SSHPort
		if port == 0 {
			if port, err = qemu.FreeLocalPort(); err != nil {
				return nil, err
			}
		}
		m := s.machine(fw, seedISO, g.vars, g.serialLog, qmpSock, port)
		p, err := qemu.Start(ctx, m, log)
		if errors.Is(err, qemu.ErrPortInUse) && s.SSHPort == 0 && attempt < 5 {
			continue // someone took the free port first
		}
		if err != nil {
			return nil, err
		}
		g.proc, g.addr, g.argv = p, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), p.Argv
		if s.HostKey != nil {
			line := knownhosts.Line([]string{knownhosts.Normalize(g.addr)}, s.HostKey)
			if err := os.WriteFile(g.knownHosts, []byte(line+"\n"), 0o600); err != nil {
				p.Kill()
				return nil, fmt.Errorf("known_hosts: %w", err)
			}
		}
		cleanups.Push("qemu (pid "+strconv.Itoa(p.Pid())+")", func(context.Context) error {
			g.closeSSH()
			p.Kill()
			return nil
		})
		log.Debug("qemu started", "pid", p.Pid(), "ssh", g.addr, "serial", g.serialLog)
		return g, nil
	}
}

// waitSSH waits until the guest answers SSH with the key (its host key
// is remembered on that first contact and required from then on). It
// gives up when QEMU exits or timeout passes, with the serial log's last
// lines in the error.
func (g *guest) waitSSH(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		_, err := g.connect(ctx)
		if err == nil {
			return nil
		}
		last = err
		if errors.Is(err, automation.ErrHostKeyChanged) {
			return err
		}
		select {
		case <-g.proc.Exited():
			return fmt.Errorf("qemu exited before ssh answered (%s); serial console (%s) ends:\n%s", g.proc.Stderr(), g.serialLog, g.serialTail(20))
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("ssh %s@%s did not answer within %s (last: %v); serial console (%s) ends:\n%s", g.user, g.addr, timeout, last, g.serialLog, g.serialTail(20))
			}
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// connect returns the session's SSH client, dialling when there is none.
func (g *guest) connect(ctx context.Context) (*ssh.Client, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.client != nil {
		return g.client, nil
	}
	cfg := &ssh.ClientConfig{
		User:              g.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(g.signer)},
		HostKeyCallback:   automation.TrustOnFirstUse(g.knownHosts, g.log),
		HostKeyAlgorithms: automation.HostKeyAlgorithms(g.knownHosts, g.addr),
		Timeout:           20 * time.Second,
	}
	c, err := dialSSH(ctx, g.addr, cfg)
	if err != nil {
		return nil, err
	}
	g.client = c
	return g.client, nil
}

// dialSSH connects and shakes hands within 30 s of ctx.
func dialSSH(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	// x/crypto/ssh takes no context: closing the connection interrupts
	// a handshake that hangs (a guest still booting accepts and stalls).
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stop()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh handshake: %w", err)
	}
	return ssh.NewClient(c, chans, reqs), nil
}

func (g *guest) closeSSH() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.client != nil {
		g.client.Close()
		g.client = nil
	}
}

// exitError is a command that ran and exited non-zero.
type exitError struct {
	Command string
	Status  int
	Output  string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("command %q exited with status %d: %s", e.Command, e.Status, truncate(strings.TrimSpace(e.Output), 2000))
}

// run runs a shell command as the build user and returns its combined
// output. A connection that drops (cloud-init restarts sshd during the
// first boot) is dialled again once.
func (g *guest) run(ctx context.Context, cmd string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		out, err, retry := g.runOnce(ctx, cmd)
		if err == nil || !retry || ctx.Err() != nil {
			if ctx.Err() != nil && err != nil {
				return out, fmt.Errorf("command %q: %w", cmd, ctx.Err())
			}
			return out, err
		}
		last = err
		g.closeSSH()
		g.log.Debug("ssh connection lost, dialling again", "err", err)
	}
	return "", fmt.Errorf("command %q: %w", cmd, last)
}

func (g *guest) runOnce(ctx context.Context, cmd string) (string, error, bool) {
	c, err := g.connect(ctx)
	if err != nil {
		return "", err, !errors.Is(err, automation.ErrHostKeyChanged)
	}
	sess, err := c.NewSession()
	if err != nil {
		return "", fmt.Errorf("ssh session: %w", err), true
	}
	defer sess.Close()
	stop := context.AfterFunc(ctx, func() { sess.Close(); g.closeSSH() })
	defer stop()
	// CombinedOutput serialises the stdout and stderr copies into one
	// buffer. (Pointing Stdout and Stderr at the same bytes.Buffer does
	// not: the session copies them in two goroutines, and a command that
	// wrote to both came back empty or as NUL bytes.)
	b, err := sess.CombinedOutput(cmd)
	out := string(b)
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return out, nil, false
	case errors.As(err, &exit):
		return out, &exitError{Command: cmd, Status: exit.ExitStatus(), Output: out}, false
	default:
		var missing *ssh.ExitMissingError
		return out, fmt.Errorf("command %q: %w", cmd, err), errors.As(err, &missing) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "EOF")
	}
}

// poweroff shuts the guest down: through SSH, then the ACPI power button
// over QMP, then a kill; each gets part of the timeout.
func (g *guest) poweroff(ctx context.Context, timeout time.Duration) (how string, err error) {
	// The connection ends as the guest goes down; that is expected.
	_, _ = g.run(ctx, "sudo systemctl poweroff", 30*time.Second)
	g.closeSSH()
	wait := func(d time.Duration) bool {
		select {
		case <-g.proc.Exited():
			return true
		case <-time.After(d):
			return false
		case <-ctx.Done():
			return false
		}
	}
	if wait(timeout * 2 / 3) {
		return "ssh", nil
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	g.log.Warn("guest did not power off through ssh; pressing the power button")
	if g.proc.QMP != nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		g.proc.QMP.Powerdown(pctx)
		cancel()
	}
	if wait(timeout / 3) {
		return "qmp powerdown", nil
	}
	g.proc.Kill()
	return "kill", fmt.Errorf("the guest did not power off within %s; qemu was killed (the disk may not be clean)", timeout)
}

// serialTail is the last n lines of the serial console.
func (g *guest) serialTail(n int) string {
	return tailLines(g.serialLog, n)
}

func tailLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no serial log: " + err.Error() + ")"
	}
	if len(b) > 64*1024 {
		b = b[len(b)-64*1024:]
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		line = ansiEscape.ReplaceAllString(line, "")
		line = strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' {
				return -1
			}
			return r
		}, line)
		if strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return "(the guest wrote nothing on its serial console)"
	}
	return strings.Join(lines, "\n")
}

// ansiEscape matches the terminal control sequences firmware and
// kernels write to a serial console (cursor moves, colours).
var ansiEscape = regexp.MustCompile(`\x1b(\[[0-9;=?]*[A-Za-z]|[()][0-9A-Za-z])`)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
