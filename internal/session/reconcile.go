package session

import (
	"context"
	"errors"
	"time"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/reconcile"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// ProbeTimeout bounds host probing, so a hung libvirtd cannot hang a
// command.
const ProbeTimeout = 15 * time.Second

// ReconcileOptions tune one reconcile pass.
type ReconcileOptions struct {
	// Lock takes the apply lock (apply does, plan does not).
	Lock bool
	// LockFile is the apply lock (default host.DefaultLockPath).
	LockFile string
	// FirewallTable is deskvm's nftables table (default
	// host.DefaultFirewallTable).
	FirewallTable string
	// DomainPrefix confines the pass to domains whose names start with it
	// (reconcile.PlanOptions.DomainPrefix).
	DomainPrefix string
	// Probe reads the host facts (nil: this machine for a local URI, the
	// remote host's libvirt capabilities for a remote one).
	Probe ProbeFunc
	// Wrap, when set, wraps the libvirt connection (tests record calls
	// through it); the returned func runs at Close.
	Wrap func(libvirt.Client) (libvirt.Client, func())
	// Warnings receives the config's warnings once it is known to be
	// valid; UnknownFacts the host facts when some could not be learned
	// (a remote host). Both are optional and come before any later error.
	Warnings     func(yamlsrc.Problems)
	UnknownFacts func(uri string, f *hostfacts.Facts)
}

// Reconcile is one load-observe-plan pass and what it holds open.
type Reconcile struct {
	Config *config.Config
	Source *yamlsrc.Doc
	Facts  *hostfacts.Facts
	// Libvirt is the connection to the configured URI.
	Libvirt libvirt.Client
	// Host is this machine's hugepage pool and firewall; nil for a remote
	// URI (this machine is not the VM host then).
	Host host.Host
	Plan *reconcile.Plan

	unlock func()
	closer func()
}

// Close releases the connection and the lock.
func (r *Reconcile) Close() {
	if r.closer != nil {
		r.closer()
	}
	if r.Libvirt != nil {
		r.Libvirt.Close()
	}
	if r.unlock != nil {
		r.unlock()
	}
}

// OpenReconcile loads and checks the config, and only when it is valid
// probes the host, takes the lock (ro.Lock), connects to libvirt,
// observes and plans. A bad config makes no libvirt connection at all: it
// is a *ProblemsError, as are plan errors (with file positions).
func OpenReconcile(ctx context.Context, o Options, ro ReconcileOptions) (*Reconcile, error) {
	cfg, src, ps, err := o.LoadConfig()
	if err != nil {
		return nil, err
	}
	if ps.HasErrors() {
		return nil, &ProblemsError{Source: src, Problems: ps}
	}
	if ro.Warnings != nil && len(ps.Warnings()) > 0 {
		ro.Warnings(ps.Warnings())
	}
	passwords, err := GraphicsPasswords(cfg)
	if err != nil {
		return nil, err
	}
	probe := ro.Probe
	if probe == nil {
		probe = FactsProbe(cfg.Connect, (&hostfacts.Prober{Connect: cfg.Connect}).Probe, DialCaps)
	}
	pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	facts, err := probe(pctx)
	cancel()
	if err != nil {
		return nil, err
	}
	if ro.UnknownFacts != nil && facts != nil && len(facts.Unknown) > 0 {
		ro.UnknownFacts(cfg.Connect, facts)
	}

	// With a remote URI this machine is not the VM host: no hugepage pool
	// or firewall is read or changed here (the plan notes what that host
	// needs instead).
	remote := RemoteHost(cfg.Connect)
	r := &Reconcile{Config: cfg, Source: src, Facts: facts}
	if remote == "" {
		r.Host = &host.Sys{}
	}
	if ro.Lock {
		path := ro.LockFile
		if path == "" {
			path = host.DefaultLockPath
		}
		if r.unlock, err = host.Lock(path); err != nil {
			return nil, err
		}
	}
	conn, err := Dial(ctx, cfg.Connect)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.Libvirt = conn
	if ro.Wrap != nil {
		r.Libvirt, r.closer = ro.Wrap(conn)
	}
	table := ro.FirewallTable
	if table == "" {
		table = host.DefaultFirewallTable
	}
	obs, err := reconcile.Observe(ctx, r.Libvirt, r.Host, table)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.Plan, err = reconcile.MakePlan(cfg, facts, obs, reconcile.PlanOptions{GraphicsPasswords: passwords,
		FirewallTable: table, DomainPrefix: ro.DomainPrefix, RemoteHost: remote})
	if err != nil {
		r.Close()
		var pe *reconcile.PlanError
		if errors.As(err, &pe) {
			return nil, &ProblemsError{Source: src, Problems: src.Locate(pe.Problems)}
		}
		return nil, err
	}
	return r, nil
}
