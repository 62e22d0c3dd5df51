package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/reconcile"
	"github.com/deskvm/deskvm/internal/session"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

func init() { register("plan", newPlanCmd) }

// Environment knobs for tests and for running several deskvm instances on
// one machine. They are not options a user needs day to day.
const (
	// envLockFile overrides the apply lock (default /run/deskvm/apply.lock).
	envLockFile = "DESKVM_LOCK_FILE"
	// envFirewallTable overrides the nftables table (default deskvm).
	envFirewallTable = "DESKVM_FIREWALL_TABLE"
	// envDomainPrefix limits deskvm to domains whose names start with it
	// (reconcile.PlanOptions.DomainPrefix).
	envDomainPrefix = "DESKVM_DOMAIN_PREFIX"
)

type planOptions struct {
	output string
}

func newPlanCmd(g *globalOptions) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change in libvirt and on the host",
		Long: `Compares the config with what libvirt has and prints, per VM, create,
update (with a diff of the domain XML), unchanged, remove or pending
restart, and the host changes (storage pools, hugepages, firewall).
Nothing is changed. Domains without deskvm's metadata are never touched;
one with the name of a configured VM is reported as an error.

With a remote connect URI (qemu+ssh://HOST/system) the host facts (CPU
topology, KVM, hugepage sizes, firmware) come from that host's libvirt;
what it cannot tell (virtiofsd, free hugepages, firmware vars templates,
files on the host) is named in a warning and not checked. The hugepage
pool and firewall rules are not set up there (nor on this machine): the
plan notes what that host needs.

Exit status: 0 when apply could carry the plan out, 1 when the config is
invalid, a host check or a disk shrink stops the plan, or a VM is in the
way of a domain deskvm does not manage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.output != "text" && o.output != "json" {
				return &ExitError{Code: 2, Err: fmt.Errorf("--output %q: want text or json", o.output)}
			}
			return runPlan(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runPlan(ctx context.Context, g *globalOptions, o *planOptions) error {
	s, err := prepareReconcile(ctx, g, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if o.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s.Plan); err != nil {
			return err
		}
	} else {
		printPlan(g.stdout, s.Plan)
	}
	if errs := s.Plan.Errors(); len(errs) > 0 {
		return silentExit(1)
	}
	return nil
}

// prepareReconcile runs the session's load-observe-plan pass with the
// environment knobs, printing the config's warnings and problems.
func prepareReconcile(ctx context.Context, g *globalOptions, lock bool) (*session.Reconcile, error) {
	ro := session.ReconcileOptions{
		Lock:          lock,
		LockFile:      os.Getenv(envLockFile),
		FirewallTable: os.Getenv(envFirewallTable),
		DomainPrefix:  os.Getenv(envDomainPrefix),
		Wrap:          wrapLibvirt,
		Warnings:      func(ps yamlsrc.Problems) { printProblems(g.stderr, ps) },
		UnknownFacts:  func(uri string, f *hostfacts.Facts) { warnUnknownFacts(g.stderr, uri, f) },
	}
	s, err := session.OpenReconcile(ctx, g.session(), ro)
	if err != nil {
		var pe *session.ProblemsError
		if errors.As(err, &pe) {
			printProblems(g.stderr, pe.Problems)
			fmt.Fprintf(g.stderr, "%s: %s; nothing was changed\n", pe.Source.Name, plural(len(pe.Problems.Errors()), "error"))
			return nil, silentExit(1)
		}
		return nil, &ExitError{Code: 1, Err: err}
	}
	return s, nil
}

// wrapLibvirt, when set, wraps every libvirt connection a reconcile
// session opens; the returned func runs when the session closes. Only
// tests set it (internal/cli's test hooks record and kill there); the
// binary never does.
var wrapLibvirt func(libvirt.Client) (libvirt.Client, func())

var statusMark = map[reconcile.VMStatus]string{
	reconcile.StatusCreate:         "+",
	reconcile.StatusUpdate:         "~",
	reconcile.StatusUnchanged:      "=",
	reconcile.StatusRemove:         "-",
	reconcile.StatusPendingRestart: "!",
	reconcile.StatusError:          "x",
}

func printPlan(w io.Writer, p *reconcile.Plan) {
	if len(p.VMs) > 0 {
		fmt.Fprintln(w, "VMs:")
	}
	width := 0
	for _, v := range p.VMs {
		width = max(width, len(v.Name))
	}
	for _, v := range p.VMs {
		status := string(v.Status)
		if v.PendingRestart && v.Status != reconcile.StatusPendingRestart {
			status += ", pending restart"
		}
		fmt.Fprintf(w, "  %s %-*s  %s: %s\n", statusMark[v.Status], width, v.Name, status, v.Reason)
		if v.Diff != "" {
			for _, l := range strings.Split(strings.TrimRight(v.Diff, "\n"), "\n") {
				fmt.Fprintln(w, "      "+l)
			}
		}
	}
	var now, later []reconcile.Action
	for _, a := range p.Actions {
		if len(a.Needs) == 0 {
			now = append(now, a)
		} else {
			later = append(later, a)
		}
	}
	if len(now) == 0 {
		fmt.Fprintln(w, "Nothing to change.")
	} else {
		fmt.Fprintf(w, "Changes (%d):\n", len(now))
		for i, a := range now {
			fmt.Fprintf(w, "  %d. %s\n", i+1, a)
		}
	}
	if len(later) > 0 {
		fmt.Fprintln(w, "Only with flags:")
		for _, a := range later {
			fmt.Fprintf(w, "  [--%s] %s\n", strings.Join(a.Needs, " --"), a)
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintln(w, "Note: "+n)
	}
}
