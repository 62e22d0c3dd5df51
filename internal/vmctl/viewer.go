package vmctl

import (
	"fmt"
	"net"
	"strconv"
)

// LookPath finds a program (exec.LookPath; tests pass fakes).
type LookPath func(file string) (string, error)

// ViewerCommand is the command line that shows the display of running
// domain name: looking-glass-client for a Looking Glass VM, otherwise
// virt-viewer (through libvirt at uri, which also works for remote
// hosts and passwords) or remote-viewer on the display's URI. When no
// viewer is installed the error says which package to install and the
// address any client can use.
func ViewerCommand(uri, name string, info DomainInfo, look LookPath) ([]string, error) {
	if len(info.Displays) == 0 {
		return nil, fmt.Errorf("vm %s has no display (display: none); use console or ssh", name)
	}
	d := info.Displays[0]
	if info.LookingGlass {
		p, err := look("looking-glass-client")
		if err != nil {
			return nil, fmt.Errorf("vm %s shows its screen through Looking Glass, but looking-glass-client is not installed (package looking-glass-client, or build it from looking-glass.io; its version must match the host application in the guest)", name)
		}
		argv := []string{p, "app:shmFile=/dev/shm/looking-glass"}
		if d.Type == "spice" && d.Port > 0 {
			host := d.Listen
			if host == "" || host == "0.0.0.0" {
				host = "127.0.0.1"
			}
			argv = append(argv, "spice:host="+host, "spice:port="+strconv.Itoa(d.Port))
		}
		return argv, nil
	}
	if p, err := look("virt-viewer"); err == nil {
		return []string{p, "--connect", uri, name}, nil
	}
	addr := d.URI()
	if p, err := look("remote-viewer"); err == nil && addr != "" {
		return []string{p, addr}, nil
	}
	hint := ""
	if addr != "" {
		hint = fmt.Sprintf("; any %s client can connect to %s", d.Type, addr)
		if d.Listen != "" && d.Listen != "127.0.0.1" && d.Listen != "::1" {
			hint += " (" + net.JoinHostPort(d.Listen, strconv.Itoa(d.Port)) + ")"
		}
	}
	return nil, fmt.Errorf("no viewer for the %s display of vm %s: neither virt-viewer nor remote-viewer is installed (package virt-viewer)%s", d.Type, name, hint)
}

// ConsoleCommand is the command line of the interactive serial console:
// virsh console through the configured URI. go-libvirt cannot write to
// a console stream, and virsh already does the terminal handling (raw
// mode, Ctrl+] to leave). force takes the console over from another
// session.
func ConsoleCommand(uri, name string, force bool, look LookPath) ([]string, error) {
	p, err := look("virsh")
	if err != nil {
		return nil, fmt.Errorf("the serial console needs virsh, which is not installed (package libvirt-clients)")
	}
	argv := []string{p, "--connect", uri, "console", name}
	if force {
		argv = append(argv, "--force")
	}
	return argv, nil
}

// SSHCommand is the ssh command line for an endpoint: options deskvm
// sets, the destination, then the user's arguments (OpenSSH reads
// options after the destination too, so "-i KEY uname -r" works). The
// host key is recorded under the alias vm-NAME, so it survives a change
// of address or forwarded port.
func SSHCommand(sshPath, name, user string, ep Endpoint, args []string) []string {
	argv := []string{sshPath, "-p", strconv.Itoa(ep.Port), "-o", "HostKeyAlias=vm-" + name}
	dest := ep.Host
	if user != "" {
		dest = user + "@" + ep.Host
	}
	argv = append(argv, dest)
	return append(argv, args...)
}
