package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/reconcile"
)

func init() { register("apply", newApplyCmd) }

type applyOptions struct {
	restart         bool
	deleteDisks     bool
	dryRun          bool
	shutdownTimeout time.Duration
}

func newApplyCmd(g *globalOptions) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Make libvirt and the host match the config",
		Long: `Carries out the plan (see deskvm plan): storage pools, disk volumes,
domain definitions, autostart, hugepages and firewall. One apply runs at a
time (lock ` + host.DefaultLockPath + `). Running again after an
interrupted apply finishes the job; running again after a complete one
changes nothing.

A running VM is never restarted: its new definition takes effect at its
next boot, and plan shows a pending restart. --restart restarts such VMs
(ACPI shutdown, then power off after --shutdown-timeout) and powers off
running VMs that were removed from the config. Removed VMs are undefined;
their disks, NVRAM and TPM state stay unless --delete-disks.

Exit status: 0 when everything was applied, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runApply(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.restart, "restart", false, "restart running VMs whose definition changed; power off removed running VMs")
	f.BoolVar(&o.deleteDisks, "delete-disks", false, "delete the disks, NVRAM and TPM state of removed VMs")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would be done (and the nft commands) without doing it")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 2*time.Minute, "with --restart: how long a guest gets to shut down before it is powered off")
	return cmd
}

func runApply(ctx context.Context, g *globalOptions, o *applyOptions) error {
	s, err := prepareReconcile(ctx, g, !o.dryRun)
	if err != nil {
		return err
	}
	defer s.Close()
	p := s.Plan
	for _, v := range p.VMs {
		if v.Status == reconcile.StatusError {
			fmt.Fprintf(g.stderr, "deskvm: vm %s: %s\n", v.Name, v.Reason)
		}
	}
	if p.Changes(o.restart, o.deleteDisks) == 0 {
		fmt.Fprintln(g.stdout, "Nothing to change.")
		printPending(g, p, o)
		if len(p.Errors()) > 0 {
			return silentExit(1)
		}
		return nil
	}
	opts := reconcile.Options{Restart: o.restart, DeleteDisks: o.deleteDisks, DryRun: o.dryRun,
		ShutdownTimeout: o.shutdownTimeout, Progress: func(e reconcile.Event) { printEvent(g, e) }}
	rep, aerr := reconcile.Apply(ctx, p, s.Libvirt, s.Host, opts)
	switch {
	case o.dryRun:
		fmt.Fprintf(g.stdout, "Dry run: %s, nothing was changed.\n", plural(p.Changes(o.restart, o.deleteDisks), "change"))
	case aerr != nil:
		fmt.Fprintf(g.stdout, "Applied %s, %s failed.\n", plural(rep.Changed, "change"), plural(rep.Failed, "action"))
	default:
		fmt.Fprintf(g.stdout, "Applied %s.\n", plural(rep.Changed, "change"))
	}
	printPending(g, p, o)
	if aerr != nil {
		return &ExitError{Code: 1, Err: aerr}
	}
	if len(p.Errors()) > 0 {
		return silentExit(1)
	}
	return nil
}

func printEvent(g *globalOptions, e reconcile.Event) {
	a := e.Action
	switch e.Kind {
	case reconcile.EventDone:
		fmt.Fprintf(g.stdout, "  done: %s\n", a)
	case reconcile.EventWouldDo:
		fmt.Fprintf(g.stdout, "  would: %s\n", a)
		if a.Kind == reconcile.ActFirewall {
			fmt.Fprintln(g.stdout, "    nft -f - <<'EOF'")
			for _, l := range strings.Split(strings.TrimRight(a.Script, "\n"), "\n") {
				fmt.Fprintln(g.stdout, "    "+l)
			}
			fmt.Fprintln(g.stdout, "    EOF")
		}
	case reconcile.EventSkipped:
		fmt.Fprintf(g.stdout, "  skipped (%s): %s\n", e.Note, a)
	case reconcile.EventFailed:
		fmt.Fprintf(g.stderr, "deskvm: %s %s failed: %v\n", a.Kind, a.Target, e.Err)
	case reconcile.EventRolledBack:
		fmt.Fprintf(g.stdout, "  rolled back: %s %s\n", a.Kind, a.Target)
	}
}

// printPending tells about restarts that are still pending.
func printPending(g *globalOptions, p *reconcile.Plan, o *applyOptions) {
	if o.restart {
		return
	}
	for _, v := range p.VMs {
		if v.PendingRestart {
			fmt.Fprintf(g.stdout, "vm %s: restart pending; its new definition takes effect at its next boot (or run apply --restart)\n", v.Name)
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintln(g.stdout, "Note: "+n)
	}
}
