package live

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/testutil"
)

// The SSH health check against a real guest (dropbear in the tiny test
// guest): it retries until the guest's SSH is up, honours host and port,
// refuses a changed host key and a wrong password.
func TestHealthCheckAgainstTinyGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a guest")
	}
	g := testutil.BootTinyGuestQEMU(t, testutil.TinyGuestOptions{})
	host, portStr, _ := net.SplitHostPort(g.SSHAddr)
	port, _ := strconv.Atoi(portStr)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	hc := &automation.HealthCheck{Type: "ssh", Host: host, Port: port, User: "root", Password: g.Files.RootPassword,
		Command: "uname -a", ExpectRegex: regexp.MustCompile(`^Linux tinyguest `), Timeout: 10 * time.Second,
		Retries: 60, RetryDelay: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, err := automation.CheckSSH(ctx, hc, automation.SSHOptions{KnownHostsFile: kh})
	if err != nil {
		t.Fatalf("health check: %v (serial: %s)", err, g.SerialOutput())
	}
	t.Logf("passed after %d attempt(s): %s", res.Attempts, strings.TrimSpace(res.Output))
	// The remembered key is the guest's real host key.
	want, _ := os.ReadFile(g.Files.HostPublicKey)
	got, _ := os.ReadFile(kh)
	if f := strings.Fields(string(want)); len(f) < 2 || !strings.Contains(string(got), f[1]) {
		t.Errorf("known_hosts %q does not hold the guest's key %q", got, want)
	}

	// Wrong password: every attempt fails, and they are counted.
	bad := *hc
	bad.Password, bad.Retries, bad.RetryDelay = "not-"+hc.Password, 1, 100*time.Millisecond
	res, err = automation.CheckSSH(ctx, &bad, automation.SSHOptions{KnownHostsFile: kh})
	if err == nil || res.Attempts != 2 {
		t.Errorf("wrong password: err %v after %d attempts", err, res.Attempts)
	}

	// Another key remembered for this host:port: refused, not retried.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewSignerFromKey(priv)
	kh2 := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh2, []byte(knownhosts.Line([]string{knownhosts.Normalize(g.SSHAddr)}, other.PublicKey())+"\n"), 0o600)
	res, err = automation.CheckSSH(ctx, hc, automation.SSHOptions{KnownHostsFile: kh2})
	if !errors.Is(err, automation.ErrHostKeyChanged) || res.Attempts != 1 {
		t.Errorf("changed key: err %v after %d attempts", err, res.Attempts)
	}
}
