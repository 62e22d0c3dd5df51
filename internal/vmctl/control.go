package vmctl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deskvm/deskvm/internal/domainxml"
	"github.com/deskvm/deskvm/internal/libvirt"
)

// Libvirt is what the verbs need from libvirt; *libvirt.Conn and
// *libvirttest.Fake implement it.
type Libvirt interface {
	AddressLister
	URI() string
	Domain(ctx context.Context, name string) (libvirt.Domain, error)
	StartDomain(ctx context.Context, name string) error
	ShutdownDomain(ctx context.Context, name string) error
	DestroyDomain(ctx context.Context, name string) error
	MemoryStats(ctx context.Context, name string) (map[string]uint64, error)
	SetMemory(ctx context.Context, name string, kib uint64, scope libvirt.MemoryScope) error
	SetMemoryStatsPeriod(ctx context.Context, name string, seconds int, scope libvirt.MemoryScope) error
}

// ErrNotRunning: the verb needs a running VM.
var ErrNotRunning = errors.New("not running")

// IgnoredError: the guest did not power off after the ACPI request.
type IgnoredError struct {
	Name    string
	Timeout time.Duration
	State   libvirt.DomainState
}

func (e *IgnoredError) Error() string {
	return fmt.Sprintf("vm %s is still %s %s after the ACPI shutdown request: the guest ignored it (no ACPI power button handling, or it is busy or asking someone); force-stop powers it off at once",
		e.Name, e.State, e.Timeout)
}

// RefusedError: a change was refused before anything was done.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// Status is what status and list show for one VM.
type Status struct {
	Name       string `json:"name"`
	State      string `json:"state"`
	Persistent bool   `json:"persistent"`
	Autostart  bool   `json:"autostart"`
	Managed    bool   `json:"managed"`
	// Memory in bytes: the maximum, the balloon target, and what the
	// balloon reports the guest has (running VMs only).
	MaxMemory     uint64            `json:"maxMemory"`
	CurrentMemory uint64            `json:"currentMemory"`
	ActualMemory  uint64            `json:"actualMemory,omitempty"`
	VCPUs         int               `json:"vcpus"`
	Pinning       map[string]string `json:"pinning,omitempty"`
	EmulatorPin   string            `json:"emulatorPin,omitempty"`
	// PendingRestart: the VM runs an older definition than its current one.
	PendingRestart bool     `json:"pendingRestart"`
	Displays       []string `json:"displays,omitempty"`
}

// GetStatus reads the status of domain name, and the DomainInfo of the
// definition it runs (live) or will boot (inactive).
func GetStatus(ctx context.Context, lv Libvirt, name string) (Status, DomainInfo, error) {
	d, err := lv.Domain(ctx, name)
	if err != nil {
		return Status{}, DomainInfo{}, err
	}
	st, info, err := StatusOf(d)
	if err != nil {
		return Status{}, DomainInfo{}, err
	}
	if d.Active && info.Balloon {
		// Statistics are an extra; a guest without them still has a status.
		if ms, err := lv.MemoryStats(ctx, name); err == nil {
			st.ActualMemory = ms["actual"] * 1024
		}
	}
	return st, info, nil
}

// StatusOf is the status of a domain from what Domain returned, without
// the balloon's actual value.
func StatusOf(d libvirt.Domain) (Status, DomainInfo, error) {
	doc := d.LiveXML
	if !d.Active || doc == "" {
		doc = d.InactiveXML
	}
	info, err := Inspect(doc)
	if err != nil {
		return Status{}, DomainInfo{}, fmt.Errorf("domain %q: %w", d.Name, err)
	}
	st := Status{Name: d.Name, State: string(d.State), Persistent: d.Persistent, Autostart: d.Autostart,
		Managed: info.Managed, MaxMemory: info.MaxMemoryKiB * 1024, CurrentMemory: info.CurrentMemoryKiB * 1024,
		VCPUs: info.VCPUs, EmulatorPin: info.EmulatorPin, PendingRestart: PendingRestart(d)}
	if len(info.Pinning) > 0 {
		st.Pinning = map[string]string{}
		for v, set := range info.Pinning {
			st.Pinning[fmt.Sprint(v)] = set
		}
	}
	if d.Active {
		for _, disp := range info.Displays {
			if u := disp.URI(); u != "" {
				st.Displays = append(st.Displays, u)
			}
		}
	}
	return st, info, nil
}

// PendingRestart reports whether a running domain was redefined since it
// started: its live and inactive definitions differ as plan judges them
// (domainxml.DefinitionChange: config hash and display passwords).
func PendingRestart(d libvirt.Domain) bool {
	if !d.Active || !d.Persistent || d.LiveXML == "" || d.InactiveXML == "" {
		return false
	}
	return domainxml.DefinitionChange(d.LiveXML, d.InactiveXML) != ""
}

// Start starts a defined domain; ErrNotRunning is never returned, an
// already running domain is reported with alreadyRunning.
func Start(ctx context.Context, lv Libvirt, name string) (alreadyRunning bool, err error) {
	d, err := lv.Domain(ctx, name)
	if err != nil {
		return false, err
	}
	if d.Active {
		return true, nil
	}
	return false, lv.StartDomain(ctx, name)
}

// Stop asks the guest to power off (ACPI) and waits until the domain is
// off, checking every poll, for at most timeout. A guest still running
// then gives an *IgnoredError; a domain that was not running gives
// ErrNotRunning.
func Stop(ctx context.Context, lv Libvirt, name string, timeout, poll time.Duration) error {
	d, err := lv.Domain(ctx, name)
	if err != nil {
		return err
	}
	if !d.Active {
		return fmt.Errorf("vm %s: %w", name, ErrNotRunning)
	}
	if err := lv.ShutdownDomain(ctx, name); err != nil {
		return err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("stop vm %s: %w", name, ctx.Err())
		case <-deadline.C:
			d, err := lv.Domain(ctx, name)
			if err == nil && !d.Active {
				return nil
			}
			return &IgnoredError{Name: name, Timeout: timeout, State: d.State}
		case <-tick.C:
			d, err := lv.Domain(ctx, name)
			if errors.Is(err, libvirt.ErrNotFound) {
				return nil // a transient domain is gone once off
			}
			if err != nil {
				return err
			}
			if !d.Active {
				return nil
			}
		}
	}
}

// ForceStop powers the domain off at once.
func ForceStop(ctx context.Context, lv Libvirt, name string) error {
	d, err := lv.Domain(ctx, name)
	if err != nil {
		return err
	}
	if !d.Active {
		return fmt.Errorf("vm %s: %w", name, ErrNotRunning)
	}
	return lv.DestroyDomain(ctx, name)
}

// MinSetMemory is the smallest balloon target setmem accepts: below it
// a guest is out of memory rather than smaller.
const MinSetMemory = 32 << 20

// SetMem changes a running domain's balloon target to bytes (rounded
// down to KiB). It refuses with a *RefusedError, changing nothing, when
// the VM is off, has no balloon, is backed by hugepages (the balloon
// would take memory from the guest without giving it to the host), or
// when bytes is above the maximum or below MinSetMemory. It returns the
// previous target in bytes.
func SetMem(ctx context.Context, lv Libvirt, name string, bytes uint64) (before uint64, err error) {
	d, err := lv.Domain(ctx, name)
	if err != nil {
		return 0, err
	}
	if !d.Active {
		return 0, &RefusedError{fmt.Sprintf("vm %s is not running: setmem changes the memory of a running VM; for its next boot set currentMemory in the config and apply", name)}
	}
	info, err := Inspect(d.LiveXML)
	if err != nil {
		return 0, fmt.Errorf("domain %q: %w", name, err)
	}
	maxB := info.MaxMemoryKiB * 1024
	switch {
	case !info.Balloon:
		return 0, &RefusedError{fmt.Sprintf("vm %s has no memory balloon (memballoon.enable is false), so its memory cannot change while it runs", name)}
	case info.Hugepages:
		return 0, &RefusedError{fmt.Sprintf("vm %s is backed by hugepages: the balloon cannot give hugepage memory back to the host, so setmem would only take memory from the guest; turn hugepages off to resize memory at run time", name)}
	case bytes > maxB:
		return 0, &RefusedError{fmt.Sprintf("%s is above the maximum memory of vm %s (%s); the maximum cannot change while the VM runs: raise memory in the config, apply, and restart the VM",
			HumanBytes(bytes), name, HumanBytes(maxB))}
	case bytes < MinSetMemory:
		return 0, &RefusedError{fmt.Sprintf("%s is below the smallest memory setmem allows (%s): the guest would run out of memory", HumanBytes(bytes), HumanBytes(MinSetMemory))}
	}
	if err := lv.SetMemory(ctx, name, bytes/1024, libvirt.MemoryLive); err != nil {
		return 0, err
	}
	return info.CurrentMemoryKiB * 1024, nil
}

// HumanBytes writes a size in binary units with one decimal where it
// matters: 256 MiB, 1.5 GiB, 812.3 KiB.
func HumanBytes(b uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v := float64(b)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", b)
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
