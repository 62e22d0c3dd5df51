package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/vmctl"
)

func init() {
	registerVerb(vmVerb{name: "ssh", short: "Log in to the guest with ssh (address from the guest agent)", make: newVMSSHCmd})
}

type vmSSHOptions struct {
	user string
}

func newVMSSHCmd(g *globalOptions, d *vmDeps, name string) *cobra.Command {
	o := &vmSSHOptions{}
	cmd := &cobra.Command{
		Use:   "ssh [--user USER] [-- SSH-ARGS...]",
		Short: "Log in to the guest with ssh (address from the guest agent)",
		Long: `Runs the system's ssh to the guest. The user is --user, else the VM's
sshUser in the config, else ssh's own default (~/.ssh/config, your login
name). Everything after -- goes to ssh after the destination: options
(OpenSSH reads them there too) and a command, e.g.
  deskvm vm box ssh -- -i ~/.ssh/box_key uname -r

The address comes from the QEMU guest agent in the guest. Loopback and
link-local addresses are skipped, and addresses on the VM's own network
card (matched by MAC) come first, IPv4 before IPv6. Without an agent the
DHCP lease of a VM on a libvirt network is used.

With network: user (QEMU user networking) the guest's address (usually
10.0.2.15) cannot be reached from the host at all; ssh then connects to
the host side of the port forward to guest port 22 (portForwards, e.g.
{host: 2222, guest: 22} gives 127.0.0.1:2222). -v shows which way was taken.

The host key is remembered under the name vm-NAME (ssh's HostKeyAlias),
so it stays valid when the address or forwarded port changes.`,
	}
	cmd.Flags().StringVarP(&o.user, "user", "u", "", "user to log in as (default: the VM's sshUser)")
	return verbCommand(g, d, name, cmd, func(ctx context.Context, s *vmSession, args []string) error {
		if !s.dom.Active {
			return &ExitError{Code: 1, Err: fmt.Errorf("vm %s is not running; start it first (deskvm vm %s start)", name, name)}
		}
		info, err := vmctl.Inspect(s.dom.LiveXML)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		ep, err := vmctl.Resolve(ctx, s.lv, name, info, 22)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		if g.verbose {
			fmt.Fprintf(g.stderr, "deskvm: vm %s: ssh to %s (%s)\n", name, ep.Addr(), ep.Via)
		}
		user := o.user
		if user == "" && s.vm != nil {
			user = s.vm.SSHUser
		}
		sshPath, err := d.lookPath("ssh")
		if err != nil {
			return &ExitError{Code: 1, Err: fmt.Errorf("ssh is not installed (package openssh-client)")}
		}
		return runExternal(ctx, g, d, vmctl.SSHCommand(sshPath, name, user, ep, args))
	})
}
