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

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/reconcile"
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
	defer s.close()
	if o.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s.plan); err != nil {
			return err
		}
	} else {
		printPlan(g.stdout, s.plan)
	}
	if errs := s.plan.Errors(); len(errs) > 0 {
		return silentExit(1)
	}
	return nil
}

// reconcileSession is one load-observe-plan pass and what it holds open.
type reconcileSession struct {
	cfg    *config.Config
	lv     libvirt.Client
	host   reconcile.Host
	plan   *reconcile.Plan
	unlock func()
	closer func()
}

func (s *reconcileSession) close() {
	if s.closer != nil {
		s.closer()
	}
	if s.lv != nil {
		s.lv.Close()
	}
	if s.unlock != nil {
		s.unlock()
	}
}

// prepareReconcile loads and checks the config, and only when it is
// valid probes the host, (for apply) takes the lock, connects to libvirt,
// observes and plans. A bad config makes no libvirt connection at all.
func prepareReconcile(ctx context.Context, g *globalOptions, lock bool) (*reconcileSession, error) {
	cfg, src, ps, err := loadCheckedConfig(g)
	if err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	if ps.HasErrors() {
		printProblems(g.stderr, ps)
		fmt.Fprintf(g.stderr, "%s: %s; nothing was changed\n", src.Name, plural(len(ps.Errors()), "error"))
		return nil, silentExit(1)
	}
	printProblems(g.stderr, ps.Warnings())
	passwords, err := readGraphicsPasswords(cfg)
	if err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}

	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	facts, err := factsProbe(cfg.Connect, (&hostfacts.Prober{Connect: cfg.Connect}).Probe, dialCaps)(pctx)
	cancel()
	if err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	warnUnknownFacts(g.stderr, cfg.Connect, facts)

	// With a remote URI this machine is not the VM host: no hugepage pool
	// or firewall is read or changed here (the plan notes what that host
	// needs instead).
	remote := remoteHost(cfg.Connect)
	s := &reconcileSession{cfg: cfg}
	if remote == "" {
		s.host = &reconcile.SysHost{}
	}
	if lock {
		path := os.Getenv(envLockFile)
		if path == "" {
			path = reconcile.DefaultLockPath
		}
		s.unlock, err = reconcile.Lock(path)
		if err != nil {
			return nil, &ExitError{Code: 1, Err: err}
		}
	}
	conn, err := libvirt.Dial(ctx, cfg.Connect, libvirt.Options{})
	if err != nil {
		s.close()
		return nil, &ExitError{Code: 1, Err: err}
	}
	s.lv = conn
	if wrapLibvirt != nil {
		s.lv, s.closer = wrapLibvirt(conn)
	}
	table := firewallTable()
	obs, err := reconcile.Observe(ctx, s.lv, s.host, table)
	if err != nil {
		s.close()
		return nil, &ExitError{Code: 1, Err: err}
	}
	s.plan, err = reconcile.MakePlan(cfg, facts, obs, reconcile.PlanOptions{GraphicsPasswords: passwords,
		FirewallTable: table, DomainPrefix: os.Getenv(envDomainPrefix), RemoteHost: remote})
	if err != nil {
		s.close()
		var pe *reconcile.PlanError
		if errors.As(err, &pe) {
			printProblems(g.stderr, src.Locate(pe.Problems))
			fmt.Fprintf(g.stderr, "%s: %s; nothing was changed\n", src.Name, plural(len(pe.Problems), "error"))
			return nil, silentExit(1)
		}
		return nil, &ExitError{Code: 1, Err: err}
	}
	return s, nil
}

func firewallTable() string {
	if t := os.Getenv(envFirewallTable); t != "" {
		return t
	}
	return reconcile.DefaultFirewallTable
}

// readGraphicsPasswords reads graphics.passwordFile of the enabled VMs;
// rendering puts the password into the domain, planning does no I/O.
func readGraphicsPasswords(cfg *config.Config) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range cfg.EnabledVMs() {
		if cfg.VMs[name].Graphics.PasswordFile == "" {
			continue
		}
		pw, err := readGraphicsPassword(cfg, name)
		if err != nil {
			return nil, err
		}
		out[name] = pw
	}
	return out, nil
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
