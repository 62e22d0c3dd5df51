package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/vmctl"
)

func init() {
	registerVerb(vmVerb{name: "view", short: "Open the VM's display in a viewer", make: newVMViewCmd})
	registerVerb(vmVerb{name: "console", short: "Attach to the VM's serial console (virsh console; Ctrl+] leaves)", make: newVMConsoleCmd})
}

func newVMViewCmd(g *globalOptions, d *vmDeps, name string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Open the VM's display in a viewer",
		Long: `Opens the VM's screen: looking-glass-client for a Looking Glass VM,
otherwise virt-viewer (through the libvirt URI, so remote hosts work) or
remote-viewer on the display's address (spice:// or vnc://). When none
is installed, view says which package to install and the address any
SPICE or VNC client can use.`,
		Args: cobra.NoArgs,
	}
	return verbCommand(g, d, name, cmd, func(ctx context.Context, s *vmSession, _ []string) error {
		if !s.dom.Active {
			return &ExitError{Code: 1, Err: fmt.Errorf("vm %s is not running; start it first (deskvm vm %s start)", name, name)}
		}
		info, err := vmctl.Inspect(s.dom.LiveXML)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		argv, err := vmctl.ViewerCommand(s.uri, name, info, d.lookPath)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		return runExternal(ctx, g, d, argv)
	})
}

type vmConsoleOptions struct{ force bool }

func newVMConsoleCmd(g *globalOptions, d *vmDeps, name string) *cobra.Command {
	o := &vmConsoleOptions{}
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Attach to the VM's serial console (virsh console; Ctrl+] leaves)",
		Long: `Attaches the terminal to the VM's serial console, interactively: it runs
virsh console through the configured libvirt URI, which handles the
terminal (raw mode) and leaves on Ctrl+]. (go-libvirt, deskvm's pure-Go
libvirt client, cannot write to a console stream, so deskvm hands the
terminal to virsh.) Needs virsh (package libvirt-clients) and a
terminal. Press Enter to get a fresh login prompt.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&o.force, "force", false, "take the console over from another session")
	return verbCommand(g, d, name, cmd, func(ctx context.Context, s *vmSession, _ []string) error {
		if !s.dom.Active {
			return &ExitError{Code: 1, Err: fmt.Errorf("vm %s is not running; start it first (deskvm vm %s start)", name, name)}
		}
		argv, err := vmctl.ConsoleCommand(s.uri, name, o.force, d.lookPath)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		return runExternal(ctx, g, d, argv)
	})
}

// runExternal runs a program on the terminal; its non-zero exit status
// becomes deskvm's (it has said why itself).
func runExternal(ctx context.Context, g *globalOptions, d *vmDeps, argv []string) error {
	if g.verbose {
		fmt.Fprintf(g.stderr, "deskvm: running %q\n", argv)
	}
	code, err := d.run(ctx, g, argv)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	if code != 0 {
		return silentExit(code)
	}
	return nil
}
