package live

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
)

// DomDisplayCommand builds (without running) the virsh command that prints
// a domain's VNC display URI.
func DomDisplayCommand(ctx context.Context, uri, domain string) *exec.Cmd {
	args := []string{}
	if uri != "" {
		args = append(args, "-c", uri)
	}
	args = append(args, "domdisplay", "--type", "vnc", "--", domain)
	return exec.CommandContext(ctx, "virsh", args...)
}

// VNCAddress asks libvirt for the VNC address (host:port) of a running
// domain.
func VNCAddress(ctx context.Context, uri, domain string) (string, error) {
	cmd := DomDisplayCommand(ctx, uri, domain)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			return "", fmt.Errorf("find vnc display of domain %q: %s", domain, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("find vnc display of domain %q: %w", domain, err)
	}
	addr, err := ParseDomDisplay(string(out))
	if err != nil {
		return "", fmt.Errorf("find vnc display of domain %q: %w", domain, err)
	}
	return addr, nil
}

// ParseDomDisplay turns virsh's "vnc://127.0.0.1:0" (a display number,
// port 5900+N) into "127.0.0.1:5900". An empty output means the domain
// has no VNC display or is not running.
func ParseDomDisplay(out string) (string, error) {
	s := strings.TrimSpace(out)
	if s == "" {
		return "", fmt.Errorf("the domain has no VNC display (is it running?)")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "vnc" || u.Hostname() == "" {
		return "", fmt.Errorf("unexpected display URI %q", s)
	}
	display := 0
	if p := u.Port(); p != "" {
		display, err = strconv.Atoi(p)
		if err != nil || display < 0 || display > 65535-5900 {
			return "", fmt.Errorf("unexpected display number in %q", s)
		}
	}
	host := u.Hostname()
	if host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(5900+display)), nil
}
