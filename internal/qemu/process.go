package qemu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrPortInUse means QEMU could not bind a forwarded host port.
var ErrPortInUse = errors.New("host port already in use")

// Process is a running QEMU started by Start.
type Process struct {
	// Argv is the full command line, binary first (with the QMP socket
	// as an inherited fd=3).
	Argv []string
	// QMP is connected and out of negotiation mode.
	QMP *QMPClient

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stderr  *tailBuffer
	qmpPath string
}

// Start runs QEMU for m and returns once QMP answers. When m.QMP.Path is
// set, the socket is created here and handed to QEMU as a listening file
// descriptor, so it exists before QEMU runs and no polling is needed.
// QEMU gets SIGKILL when this process dies, so it never outlives a
// killed deskvm. The caller must Kill (or Wait for) the process.
func Start(ctx context.Context, m Machine, log *slog.Logger) (*Process, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m.QMP.Path == "" {
		return nil, errors.New("start qemu: the machine needs a QMP socket path")
	}
	qmpPath := m.QMP.Path
	l, err := net.Listen("unix", qmpPath)
	if err != nil {
		return nil, fmt.Errorf("start qemu: qmp socket: %w", err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	lf, err := ul.File()
	ul.Close()
	if err != nil {
		os.Remove(qmpPath)
		return nil, fmt.Errorf("start qemu: qmp socket: %w", err)
	}
	defer lf.Close()
	m.QMP = QMP{Path: qmpPath, FD: 3}
	args, err := m.Args()
	if err != nil {
		os.Remove(qmpPath)
		return nil, err
	}
	p := &Process{Argv: append([]string{m.BinaryPath()}, args...), exited: make(chan struct{}), stderr: &tailBuffer{max: 16 * 1024}, qmpPath: qmpPath}
	p.cmd = exec.Command(p.Argv[0], args...)
	p.cmd.ExtraFiles = []*os.File{lf}
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	log.Debug("qemu command line", "argv", strings.Join(p.Argv, " "))
	if err := p.cmd.Start(); err != nil {
		os.Remove(qmpPath)
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	// Only QEMU may hold the listening socket now: were QEMU to die, a
	// connect fails instead of waiting in a backlog nobody accepts.
	lf.Close()
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()

	qctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	type dialed struct {
		c   *QMPClient
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		c, err := DialQMP(qctx, qmpPath)
		ch <- dialed{c, err}
	}()
	select {
	case d := <-ch:
		if d.err == nil {
			p.QMP = d.c
			return p, nil
		}
		// The dial may have failed because QEMU quit at start-up.
		select {
		case <-p.exited:
			return nil, p.startError()
		case <-time.After(2 * time.Second):
		}
		p.Kill()
		return nil, fmt.Errorf("start qemu: %w; qemu said: %s", d.err, p.Stderr())
	case <-p.exited:
		cancel()
		if d := <-ch; d.c != nil {
			d.c.Close()
		}
		return nil, p.startError()
	}
}

func (p *Process) startError() error {
	os.Remove(p.qmpPath)
	msg := p.Stderr()
	err := fmt.Errorf("qemu exited at start (%v): %s", p.waitErr, msg)
	if strings.Contains(msg, "host forwarding rule") || strings.Contains(msg, "Address already in use") {
		return fmt.Errorf("%w: %w", ErrPortInUse, err)
	}
	return err
}

// Exited is closed once QEMU has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Pid is QEMU's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Wait waits for QEMU to exit and returns its exit error (nil for a
// clean exit after a guest power-off).
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.exited:
		return p.waitErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Kill stops QEMU at once and waits for it; a QEMU that already exited
// is fine. The QMP socket file is removed.
func (p *Process) Kill() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Kill()
		<-p.exited
	}
	if p.QMP != nil {
		p.QMP.Close()
	}
	os.Remove(p.qmpPath)
}

// Stderr is the end of what QEMU wrote to stderr/stdout.
func (p *Process) Stderr() string { return strings.TrimSpace(p.stderr.String()) }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, b...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
