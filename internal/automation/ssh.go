package automation

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrHostKeyChanged means the server's host key differs from the one
// remembered for that host:port. It is never retried or accepted.
var ErrHostKeyChanged = errors.New("ssh host key changed")

// SSHOptions configure CheckSSH.
type SSHOptions struct {
	// KnownHostsFile remembers host keys by [host]:port; default
	// $XDG_CACHE_HOME/deskvm/known_hosts (the script's known_hosts wins).
	KnownHostsFile string
	Logger         *slog.Logger
}

// HealthResult is the outcome of a health check.
type HealthResult struct {
	Attempts int
	Output   string // of the last attempt
}

// DefaultKnownHostsFile is where host keys are remembered when neither
// the script nor the caller says.
func DefaultKnownHostsFile() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "deskvm", "known_hosts")
}

// CheckSSH runs the health check's command over SSH until it succeeds and
// its output matches, at most 1+Retries times. A host key that differs
// from the remembered one stops the check at once.
func CheckSSH(ctx context.Context, hc *HealthCheck, opts SSHOptions) (HealthResult, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	khPath := hc.KnownHostsIn
	if khPath == "" {
		khPath = opts.KnownHostsFile
	}
	if khPath == "" {
		khPath = DefaultKnownHostsFile()
	}
	auth, err := sshAuth(hc)
	if err != nil {
		return HealthResult{}, err
	}
	addr := net.JoinHostPort(hc.Host, strconv.Itoa(hc.Port))
	cfg := &ssh.ClientConfig{
		User:              hc.User,
		Auth:              auth,
		HostKeyCallback:   TrustOnFirstUse(khPath, log),
		HostKeyAlgorithms: HostKeyAlgorithms(khPath, addr),
		Timeout:           hc.Timeout,
	}
	var res HealthResult
	var last error
	for attempt := 1; attempt <= 1+hc.Retries; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, hc.RetryDelay); err != nil {
				return res, fmt.Errorf("%w (after %d attempts; last error: %v)", err, res.Attempts, last)
			}
		}
		res.Attempts = attempt
		out, err := sshAttempt(ctx, addr, cfg, hc)
		res.Output = out
		if err == nil {
			err = checkExpect(hc, out)
		}
		if err == nil {
			log.Info("health check passed", "addr", addr, "attempt", attempt)
			return res, nil
		}
		last = err
		log.Warn("health check attempt failed", "addr", addr, "attempt", attempt, "of", 1+hc.Retries, "err", err)
		if errors.Is(err, ErrHostKeyChanged) || ctx.Err() != nil {
			break
		}
	}
	return res, fmt.Errorf("ssh %s@%s: %d attempt(s) failed, last: %w", hc.User, addr, res.Attempts, last)
}

func sshAuth(hc *HealthCheck) ([]ssh.AuthMethod, error) {
	var methods []ssh.AuthMethod
	if hc.KeyFile != "" {
		path := hc.KeyFile
		if strings.HasPrefix(path, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				path = filepath.Join(home, path[2:])
			}
		}
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("ssh key: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) && hc.Password != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(hc.Password))
		}
		if err != nil {
			return nil, fmt.Errorf("ssh key %s: %w", path, err)
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	if hc.Password != "" {
		pw := hc.Password
		methods = append(methods, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	return methods, nil
}

// sshAttempt connects, runs the command and returns its combined output.
// The whole attempt, including the command, is bounded by hc.Timeout.
func sshAttempt(ctx context.Context, addr string, cfg *ssh.ClientConfig, hc *HealthCheck) (string, error) {
	actx, cancel := context.WithTimeout(ctx, hc.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(actx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	// x/crypto/ssh takes no context; closing the connection is how a
	// timeout or Ctrl-C interrupts the handshake or the command.
	stop := context.AfterFunc(actx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		if actx.Err() != nil {
			return "", fmt.Errorf("handshake: %w", actx.Err())
		}
		return "", fmt.Errorf("handshake: %w", err)
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return "", fmt.Errorf("open session: %w", err)
	}
	defer sess.Close()
	// CombinedOutput serialises stdout and stderr into one buffer.
	outb, err := sess.CombinedOutput(hc.Command)
	out := string(outb)
	if actx.Err() != nil {
		return out, fmt.Errorf("command %q: %w", hc.Command, actx.Err())
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		return out, fmt.Errorf("command %q exited with status %d", hc.Command, exit.ExitStatus())
	}
	if err != nil {
		return out, fmt.Errorf("command %q: %w", hc.Command, err)
	}
	return out, nil
}

func checkExpect(hc *HealthCheck, out string) error {
	switch {
	case hc.ExpectRegex != nil && !hc.ExpectRegex.MatchString(out):
		return fmt.Errorf("output does not match regex %q: %q", hc.ExpectRegex.String(), truncate(out, 200))
	case hc.ExpectRegex == nil && hc.Expect != "" && !strings.Contains(out, hc.Expect):
		return fmt.Errorf("output does not contain %q: %q", hc.Expect, truncate(out, 200))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// preferredHostKeyAlgorithms puts ed25519 first: dropbear with only an
// ed25519 host key aborts the handshake when the client prefers RSA.
var preferredHostKeyAlgorithms = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA,
}

// HostKeyAlgorithms asks for the algorithm of the key remembered for
// addr, as OpenSSH does, so a server with several host keys presents the
// one we know; for a new host it returns the preferred order.
func HostKeyAlgorithms(path, addr string) []string {
	check, err := knownhosts.New(path)
	if err != nil {
		return preferredHostKeyAlgorithms
	}
	// A key that cannot be known makes the callback list the known ones.
	_, probe, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(probe)
	if err != nil {
		return preferredHostKeyAlgorithms
	}
	var ke *knownhosts.KeyError
	if err := check(addr, &net.TCPAddr{}, signer.PublicKey()); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return preferredHostKeyAlgorithms
	}
	var algos []string
	for _, w := range ke.Want {
		switch t := w.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, t)
		}
	}
	return algos
}

var knownHostsMu sync.Mutex

// TrustOnFirstUse is the host key check of every deskvm SSH client
// (health checks, the image builder): it accepts and remembers the key of a host:port seen for
// the first time, accepts the remembered key, and refuses any other key
// loudly: a changed key means another machine or a reinstalled VM, and
// the user has to decide which.
func TrustOnFirstUse(path string, log *slog.Logger) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		knownHostsMu.Lock()
		defer knownHostsMu.Unlock()
		if _, err := os.Stat(path); err == nil {
			check, err := knownhosts.New(path)
			if err != nil {
				return fmt.Errorf("known_hosts %s: %w", path, err)
			}
			err = check(hostname, remote, key)
			if err == nil {
				return nil
			}
			var ke *knownhosts.KeyError
			if !errors.As(err, &ke) {
				return fmt.Errorf("known_hosts %s: %w", path, err)
			}
			if len(ke.Want) > 0 {
				want := ke.Want[0]
				return fmt.Errorf("%w for %s: it now presents %s %s, but %s:%d remembers %s %s; "+
					"if the VM was reinstalled on purpose, delete that line and run again",
					ErrHostKeyChanged, knownhosts.Normalize(hostname), key.Type(), ssh.FingerprintSHA256(key),
					want.Filename, want.Line, want.Key.Type(), ssh.FingerprintSHA256(want.Key))
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("known_hosts %s: %w", path, err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("known_hosts: %w", err)
		}
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("known_hosts: %w", err)
		}
		line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)
		if _, err := f.WriteString(line + "\n"); err != nil {
			f.Close()
			return fmt.Errorf("known_hosts %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("known_hosts %s: %w", path, err)
		}
		log.Info("ssh host key accepted on first use", "host", knownhosts.Normalize(hostname), "fingerprint", ssh.FingerprintSHA256(key), "known_hosts", path)
		return nil
	}
}
