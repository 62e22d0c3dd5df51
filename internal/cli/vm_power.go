package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/session"
	"github.com/deskvm/deskvm/internal/vmctl"
)

func init() {
	registerVerb(vmVerb{name: "start", short: "Start the VM", make: newVMStartCmd})
	registerVerb(vmVerb{name: "stop", short: "Ask the guest to power off (ACPI) and wait until it is off", make: newVMStopCmd})
	registerVerb(vmVerb{name: "force-stop", short: "Power the VM off at once, like pulling the plug", make: newVMForceStopCmd})
}

func newVMStartCmd(g *globalOptions, d *vmDeps, name string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start the VM",
		Long: `Starts the VM. With hugepages.onDemand, its hugepages are allocated
first and given back if the start fails. A VM that already runs is left
as it is (exit status 0).`,
		Args: cobra.NoArgs,
	}
	return verbCommand(g, d, name, cmd, func(ctx context.Context, s *vmSession, _ []string) error {
		if s.dom.Active {
			fmt.Fprintf(g.stdout, "vm %s is already running\n", name)
			return nil
		}
		owns := ownsHugepages(g, s)
		if owns {
			if err := host.HugepagesBeforeStart(ctx, d.host, s.cfg, name); err != nil {
				return &ExitError{Code: 1, Err: err}
			}
		}
		already, err := vmctl.Start(ctx, s.lv, name)
		if err != nil {
			if owns {
				_ = host.HugepagesAfterStop(ctx, d.host, s.cfg, name)
			}
			return &ExitError{Code: 1, Err: err}
		}
		if already {
			fmt.Fprintf(g.stdout, "vm %s is already running\n", name)
			return nil
		}
		fmt.Fprintf(g.stdout, "vm %s started\n", name)
		return nil
	})
}

type vmStopOptions struct {
	timeout time.Duration
}

func newVMStopCmd(g *globalOptions, d *vmDeps, name string) *cobra.Command {
	o := &vmStopOptions{}
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Ask the guest to power off (ACPI) and wait until it is off",
		Long: `Presses the VM's ACPI power button, which asks the guest operating
system to shut down cleanly, and waits until the VM is off, for at most
--timeout. A guest that is still running then ignored the request (it
has no ACPI power button handling, is still booting, or is asking
someone a question): stop says so and exits with status 1; force-stop
powers it off at once.

With hugepages.onDemand, the VM's hugepages are given back once it is off.
A VM that is not running is left as it is (exit status 0), but pages its
last start added are given back (the guest powered itself off).`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for the guest to power off")
	return verbCommand(g, d, name, cmd, func(ctx context.Context, s *vmSession, _ []string) error {
		start := time.Now()
		err := vmctl.Stop(ctx, s.lv, name, o.timeout, d.poll)
		if errors.Is(err, vmctl.ErrNotRunning) {
			// Powered off by itself: its onDemand pages may still be there.
			fmt.Fprintf(g.stdout, "vm %s is not running\n", name)
			return releaseHugepages(ctx, g, d, s)
		}
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		fmt.Fprintf(g.stdout, "vm %s powered off (%s)\n", name, time.Since(start).Round(100*time.Millisecond))
		return releaseHugepages(ctx, g, d, s)
	})
}

func newVMForceStopCmd(g *globalOptions, d *vmDeps, name string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "force-stop",
		Short: "Power the VM off at once, like pulling the plug",
		Long: `Powers the VM off at once (virsh destroy): the guest gets no chance to
shut down, so unsaved data in it is lost. Use stop first. With
hugepages.onDemand, the VM's hugepages are given back, as with stop.`,
		Args: cobra.NoArgs,
	}
	return verbCommand(g, d, name, cmd, func(ctx context.Context, s *vmSession, _ []string) error {
		err := vmctl.ForceStop(ctx, s.lv, name)
		if errors.Is(err, vmctl.ErrNotRunning) {
			// Powered off by itself: its onDemand pages may still be there.
			fmt.Fprintf(g.stdout, "vm %s is not running\n", name)
			return releaseHugepages(ctx, g, d, s)
		}
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		fmt.Fprintf(g.stdout, "vm %s powered off\n", name)
		return releaseHugepages(ctx, g, d, s)
	})
}

// ownsHugepages reports whether this verb sizes the VM's onDemand pages:
// only for a configured VM whose libvirt runs on this machine. For a
// remote connect URI it says once that the pages are that host's matter.
func ownsHugepages(g *globalOptions, s *vmSession) bool {
	if s.cfg == nil || s.vm == nil {
		return false
	}
	if r := session.RemoteHost(s.cfg.Connect); r != "" {
		if s.cfg.UsesHugepages() && s.cfg.Hugepages.OnDemand != nil && *s.cfg.Hugepages.OnDemand {
			fmt.Fprintf(g.stderr, "note: hugepages.onDemand pages are not allocated on %s; deskvm sizes the pool only on the machine it runs on\n", r)
		}
		return false
	}
	return true
}

// releaseHugepages gives back hugepages.onDemand pages after a stop.
func releaseHugepages(ctx context.Context, g *globalOptions, d *vmDeps, s *vmSession) error {
	if !ownsHugepages(g, s) {
		return nil
	}
	if err := host.HugepagesAfterStop(ctx, d.host, s.cfg, s.name); err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("vm %s is off, but its hugepages were not given back: %w", s.name, err)}
	}
	return nil
}
