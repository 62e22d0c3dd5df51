package automation

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshServer is an in-process SSH server on 127.0.0.1:0 that runs no
// commands: it answers "echo X" with X and anything else with "Linux
// testhost".
type sshServer struct {
	addr     string
	port     int
	ln       net.Listener
	logins   atomic.Int32
	password string
	commands chan string
}

func newSSHServer(t *testing.T, password string) *sshServer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return startSSHServer(t, "127.0.0.1:0", signer, password)
}

func startSSHServer(t *testing.T, addr string, signer ssh.Signer, password string) *sshServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &sshServer{ln: ln, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port, password: password, commands: make(chan string, 100)}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if c.User() == "agent" && string(pw) == s.password {
				s.logins.Add(1)
				return nil, nil
			}
			return nil, fmt.Errorf("wrong password")
		},
	}
	cfg.AddHostKey(signer)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serve(c, cfg)
			}()
		}
	}()
	return s
}

func (s *sshServer) serve(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			defer ch.Close()
			for req := range creqs {
				if req.Type != "exec" {
					req.Reply(false, nil)
					continue
				}
				n := binary.BigEndian.Uint32(req.Payload[:4])
				cmd := string(req.Payload[4 : 4+n])
				s.commands <- cmd
				req.Reply(true, nil)
				status := 0
				switch {
				case strings.HasPrefix(cmd, "echo "):
					fmt.Fprintln(ch, strings.TrimPrefix(cmd, "echo "))
				case cmd == "false":
					status = 1
				default:
					fmt.Fprintln(ch, "Linux testhost 6.1.0 x86_64")
				}
				ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(status)))
				return
			}
		}()
	}
}

func healthCheck(s *sshServer, password string) *HealthCheck {
	return &HealthCheck{Type: "ssh", Host: "127.0.0.1", Port: s.port, User: "agent", Password: password,
		Command: "uname -a", Timeout: 5 * time.Second, RetryDelay: 10 * time.Millisecond}
}

func TestSSHSuccessHonoursPortAndCommand(t *testing.T) {
	srv := newSSHServer(t, "agent")
	kh := filepath.Join(t.TempDir(), "known_hosts")
	hc := healthCheck(srv, "agent")
	hc.Command = "echo deskvm-ok"
	hc.Expect = "deskvm-ok"
	res, err := CheckSSH(context.Background(), hc, SSHOptions{KnownHostsFile: kh})
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 1 || strings.TrimSpace(res.Output) != "deskvm-ok" {
		t.Errorf("res = %+v", res)
	}
	if got := <-srv.commands; got != "echo deskvm-ok" {
		t.Errorf("server ran %q", got)
	}
	data, _ := os.ReadFile(kh)
	if !strings.HasPrefix(string(data), fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 ", srv.port)) {
		t.Errorf("known_hosts = %q, want the key remembered by host:port", data)
	}
	// The regex form of expect.
	hc.Command, hc.Expect = "uname -a", ""
	hc.ExpectRegex = mustRegex(t, `^Linux \S+`)
	if _, err := CheckSSH(context.Background(), hc, SSHOptions{KnownHostsFile: kh}); err != nil {
		t.Errorf("regex expect: %v", err)
	}
}

func TestSSHWrongPasswordCountsRetries(t *testing.T) {
	srv := newSSHServer(t, "agent")
	hc := healthCheck(srv, "not-the-password")
	hc.Retries = 2
	res, err := CheckSSH(context.Background(), hc, SSHOptions{KnownHostsFile: filepath.Join(t.TempDir(), "kh")})
	if err == nil {
		t.Fatal("wrong password accepted")
	}
	if res.Attempts != 3 {
		t.Errorf("attempts = %d, want 1 + 2 retries", res.Attempts)
	}
	if !strings.Contains(err.Error(), "3 attempt(s) failed") || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("err = %v", err)
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("error shows the password: %v", err)
	}
}

// The check keeps trying until the server comes up: retries are counted
// and the attempt that works ends the check.
func TestSSHRetriesUntilServerUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens yet: connection refused
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	hc := &HealthCheck{Type: "ssh", Host: "127.0.0.1", Port: port, User: "agent", Password: "agent", Command: "true",
		Timeout: 2 * time.Second, Retries: 20, RetryDelay: 50 * time.Millisecond}
	time.AfterFunc(180*time.Millisecond, func() { startSSHServer(t, addr, signer, "agent") })
	res, err := CheckSSH(context.Background(), hc, SSHOptions{KnownHostsFile: filepath.Join(t.TempDir(), "kh")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts < 2 || res.Attempts > 10 {
		t.Errorf("attempts = %d", res.Attempts)
	}
}

func TestSSHChangedHostKeyRefused(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "known_hosts")
	srv := newSSHServer(t, "agent")
	hc := healthCheck(srv, "agent")
	if _, err := CheckSSH(context.Background(), hc, SSHOptions{KnownHostsFile: kh}); err != nil {
		t.Fatal(err)
	}
	// Another server (new key) on the same host:port.
	srv.ln.Close()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	var imposter *sshServer
	for i := 0; i < 50; i++ { // the port may take a moment to be free again
		if ln, err := net.Listen("tcp", srv.addr); err == nil {
			ln.Close()
			imposter = startSSHServer(t, srv.addr, signer, "agent")
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if imposter == nil {
		t.Fatal("could not reuse the port")
	}
	hc.Retries = 3
	before, _ := os.ReadFile(kh)
	res, err := CheckSSH(context.Background(), hc, SSHOptions{KnownHostsFile: kh})
	if !errors.Is(err, ErrHostKeyChanged) {
		t.Fatalf("err = %v, want host key changed", err)
	}
	if res.Attempts != 1 {
		t.Errorf("a changed key was retried %d times", res.Attempts)
	}
	if imposter.logins.Load() != 0 {
		t.Errorf("the password was sent to the imposter")
	}
	if !strings.Contains(err.Error(), "SHA256:") || !strings.Contains(err.Error(), kh+":1") {
		t.Errorf("error should show both fingerprints and the known_hosts line: %v", err)
	}
	after, _ := os.ReadFile(kh)
	if string(before) != string(after) {
		t.Errorf("known_hosts changed:\n%s", after)
	}
}

func TestSSHExpectMismatchAndExitStatus(t *testing.T) {
	srv := newSSHServer(t, "agent")
	kh := filepath.Join(t.TempDir(), "kh")
	hc := healthCheck(srv, "agent")
	hc.Expect = "Windows"
	res, err := CheckSSH(context.Background(), hc, SSHOptions{KnownHostsFile: kh})
	if err == nil || !strings.Contains(err.Error(), `output does not contain "Windows": "Linux testhost`) {
		t.Errorf("err = %v", err)
	}
	if res.Attempts != 1 {
		t.Errorf("attempts = %d", res.Attempts)
	}
	hc.Expect, hc.Command = "", "false"
	_, err = CheckSSH(context.Background(), hc, SSHOptions{KnownHostsFile: kh})
	if err == nil || !strings.Contains(err.Error(), `command "false" exited with status 1`) {
		t.Errorf("err = %v", err)
	}
}

// The runner runs the health check after the steps and fails with its
// position.
func TestRunHealthCheck(t *testing.T) {
	srv := newSSHServer(t, "agent")
	src := fmt.Sprintf("health_check:\n  type: ssh\n  port: %d\n  user: agent\n  password: wrong\n  timeout: 2\n  retries: 1\n  retry_delay: 0\n", srv.port)
	s := mustParse(t, src)
	dir := t.TempDir()
	res, err := Run(context.Background(), s, Options{KnownHostsFile: filepath.Join(dir, "kh"), DebugDir: dir})
	var he *HealthError
	if !errors.As(err, &he) || !strings.HasPrefix(err.Error(), "test.yaml:2:3: health_check: ") {
		t.Fatalf("err = %v", err)
	}
	if res.HealthCheck == nil || res.HealthCheck.Attempts != 2 {
		t.Errorf("health record = %+v", res.HealthCheck)
	}
	report, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !strings.Contains(string(report), `id="health"`) || strings.Contains(string(report), "wrong") {
		t.Errorf("report health section missing or shows the password")
	}
}
