package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/units"
)

// Options are apply's flags.
type Options struct {
	// Restart lets apply power off running VMs: restart the ones with a
	// pending new definition, stop the removed ones.
	Restart bool
	// DeleteDisks deletes the system disk (and NVRAM and TPM state) of
	// removed VMs.
	DeleteDisks bool
	// DryRun reports every action without doing any.
	DryRun bool
	// ShutdownTimeout is how long a restart waits for the guest to power
	// off after the ACPI request before it pulls the plug (default 2 min).
	ShutdownTimeout time.Duration
	// Progress, when set, hears about every action as it is done, skipped
	// or failed.
	Progress func(Event)
}

// EventKind says what happened to an action.
type EventKind string

const (
	EventDone       EventKind = "done"
	EventWouldDo    EventKind = "would-do" // dry run
	EventSkipped    EventKind = "skipped"  // needs a flag, or its VM failed earlier
	EventFailed     EventKind = "failed"
	EventRolledBack EventKind = "rolled-back"
)

// Event is one step's outcome.
type Event struct {
	Kind   EventKind
	Action Action
	Err    error
	// Note explains a skip or a partial result.
	Note string
}

// Report is what apply did.
type Report struct {
	Events []Event
	// Changed counts the actions that changed something.
	Changed int
	Failed  int
}

// Apply carries the plan out, in the plan's order. Actions whose Needs
// are not met by opts are skipped. When one step of a VM fails, the VM's
// later steps are skipped and, if the VM was being created, what this run
// made for it (volume, definition) is removed again. Host actions failing
// do not stop the VMs. The caller holds the apply lock (Lock) across
// Observe, MakePlan and Apply.
func Apply(ctx context.Context, plan *Plan, lv libvirt.Client, h host.Host, opts Options) (*Report, error) {
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 2 * time.Minute
	}
	a := &applier{lv: lv, host: h, opts: opts, rep: &Report{}, failedVM: map[string]bool{},
		made: map[string][]Action{}}
	for _, act := range plan.Actions {
		if err := ctx.Err(); err != nil {
			return a.rep, fmt.Errorf("apply: %w", err)
		}
		if !act.Runs(opts.Restart, opts.DeleteDisks) {
			a.event(Event{Kind: EventSkipped, Action: act, Note: "needs --" + joinNeeds(act.Needs)})
			continue
		}
		if act.VM != "" && a.failedVM[act.VM] {
			a.event(Event{Kind: EventSkipped, Action: act, Note: "an earlier step of this VM failed"})
			continue
		}
		if opts.DryRun {
			a.event(Event{Kind: EventWouldDo, Action: act})
			continue
		}
		err := a.do(ctx, act)
		if err != nil {
			a.rep.Failed++
			a.event(Event{Kind: EventFailed, Action: act, Err: err})
			if act.VM != "" {
				a.failedVM[act.VM] = true
				if act.Create {
					a.rollback(ctx, act.VM)
				}
			}
			continue
		}
		a.rep.Changed++
		a.event(Event{Kind: EventDone, Action: act})
		if act.Create {
			a.made[act.VM] = append(a.made[act.VM], act)
		}
	}
	if a.rep.Failed > 0 {
		return a.rep, fmt.Errorf("apply: %d of %d actions failed", a.rep.Failed, a.rep.Failed+a.rep.Changed)
	}
	return a.rep, nil
}

func joinNeeds(n []string) string {
	s := ""
	for i, x := range n {
		if i > 0 {
			s += " and --"
		}
		s += x
	}
	return s
}

type applier struct {
	lv       libvirt.Client
	host     host.Host
	opts     Options
	rep      *Report
	failedVM map[string]bool
	// made: the create steps done so far per VM, for rollback.
	made map[string][]Action
}

func (a *applier) event(e Event) {
	a.rep.Events = append(a.rep.Events, e)
	if a.opts.Progress != nil {
		a.opts.Progress(e)
	}
}

// rollback undoes, newest first, what this run created for a VM whose
// creation failed. A fresh definition has no NVRAM or TPM state worth
// keeping, and the volume was empty.
func (a *applier) rollback(ctx context.Context, vm string) {
	steps := a.made[vm]
	for i := len(steps) - 1; i >= 0; i-- {
		act := steps[i]
		var err error
		switch act.Kind {
		case ActDefineDomain:
			err = a.lv.UndefineDomain(ctx, act.Target, libvirt.UndefineOptions{RemoveNVRAM: true, RemoveTPM: true})
		case ActCreateVolume:
			err = a.lv.DeleteVolume(ctx, act.Pool, act.Volume.Name)
		default:
			continue // autostart goes with the definition
		}
		if err != nil {
			a.event(Event{Kind: EventFailed, Action: act, Err: fmt.Errorf("roll back: %w", err)})
			continue
		}
		a.event(Event{Kind: EventRolledBack, Action: act})
	}
	delete(a.made, vm)
}

func (a *applier) do(ctx context.Context, act Action) error {
	lv := a.lv
	switch act.Kind {
	case ActStopDomain:
		return lv.DestroyDomain(ctx, act.Target)
	case ActUndefineDomain:
		return lv.UndefineDomain(ctx, act.Target, libvirt.UndefineOptions{RemoveNVRAM: a.opts.DeleteDisks, RemoveTPM: a.opts.DeleteDisks})
	case ActDeleteVolume:
		_, name := splitTarget(act.Target)
		return lv.DeleteVolume(ctx, act.Pool, name)
	case ActSetHugepages:
		got, err := a.host.SetHugepages(ctx, act.PageKiB, act.Pages)
		if err != nil {
			return err
		}
		if got < act.Pages {
			return fmt.Errorf("hugepages: asked the kernel for %d pages of %s, it allocated %d (memory is short or fragmented; reserve them at boot with `hugepagesz=2M hugepages=%d` on the kernel command line)",
				act.Pages, units.FormatSize(act.PageKiB*1024), got, act.Pages)
		}
		return nil
	case ActDefinePool:
		return lv.DefineDirPool(ctx, act.Pool, act.Path)
	case ActBuildPool:
		return lv.BuildPool(ctx, act.Pool)
	case ActStartPool:
		return lv.StartPool(ctx, act.Pool)
	case ActPoolAutostart:
		return lv.SetPoolAutostart(ctx, act.Pool, act.Autostart)
	case ActCreateVolume:
		_, err := lv.CreateVolume(ctx, act.Pool, *act.Volume)
		return err
	case ActGrowVolume:
		_, name := splitTarget(act.Target)
		if act.Live && act.DiskDev != "" {
			return lv.ResizeDomainDisk(ctx, act.VM, act.DiskDev, act.Capacity)
		}
		return lv.ResizeVolume(ctx, act.Pool, name, act.Capacity)
	case ActDefineDomain:
		return lv.DefineDomain(ctx, act.XML)
	case ActSetAutostart:
		return lv.SetAutostart(ctx, act.Target, act.Autostart)
	case ActStartDomain:
		return lv.StartDomain(ctx, act.Target)
	case ActRestartDomain:
		return a.restart(ctx, act.Target)
	case ActFirewall:
		return a.host.ApplyFirewall(ctx, act.Script)
	}
	return fmt.Errorf("unknown action %q", act.Kind)
}

// restart asks the guest to shut down, waits up to ShutdownTimeout, powers
// it off if it did not stop, and starts it with its new definition.
func (a *applier) restart(ctx context.Context, name string) error {
	if err := a.lv.ShutdownDomain(ctx, name); err != nil && !errors.Is(err, libvirt.ErrInvalid) {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, a.opts.ShutdownTimeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		d, err := a.lv.Domain(ctx, name)
		if err != nil {
			return err
		}
		if !d.Active {
			return a.lv.StartDomain(ctx, name)
		}
		select {
		case <-tick.C:
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := a.lv.DestroyDomain(ctx, name); err != nil && !errors.Is(err, libvirt.ErrInvalid) {
				return fmt.Errorf("guest did not shut down within %s; power off: %w", a.opts.ShutdownTimeout, err)
			}
			return a.lv.StartDomain(ctx, name)
		}
	}
}

func splitTarget(t string) (pool, name string) {
	for i := 0; i < len(t); i++ {
		if t[i] == '/' {
			return t[:i], t[i+1:]
		}
	}
	return "", t
}
