package session

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/vmctl"
)

// VMLister is what LookupVM reads from a libvirt connection;
// *libvirt.Conn has it.
type VMLister interface {
	Domain(ctx context.Context, name string) (libvirt.Domain, error)
	Domains(ctx context.Context) ([]libvirt.Domain, error)
}

// UnknownVMError: the name is neither an enabled VM of the config nor a
// domain deskvm manages (a usage error, not a failure).
type UnknownVMError struct {
	Name string
	URI  string
	// Disabled: the config has the VM with enable: false.
	Disabled bool
	// Known are the enabled VMs of the config and the managed domains.
	Known []string
}

func (e *UnknownVMError) Error() string {
	msg := fmt.Sprintf("unknown VM %q", e.Name)
	if e.Disabled {
		msg = fmt.Sprintf("vm %s is disabled in the config (enable: false)", e.Name)
	}
	if len(e.Known) == 0 {
		return fmt.Sprintf("%s; no VMs are configured or managed by deskvm at %s", msg, e.URI)
	}
	return fmt.Sprintf("%s; VMs: %s", msg, strings.Join(e.Known, ", "))
}

// LookupVM finds VM name in libvirt (at uri, which only names it in
// errors): a domain with deskvm's metadata, or one the config enables. A
// domain of that name without deskvm's metadata is refused (deskvm leaves
// it alone), as is a configured VM that is not defined yet; any other
// name is an *UnknownVMError. cfg may be nil (no config file).
func LookupVM(ctx context.Context, lv VMLister, cfg *config.Config, uri, name string) (libvirt.Domain, error) {
	var vm *config.VM
	if cfg != nil {
		vm = cfg.VMs[name]
	}
	inConfig := vm != nil && vm.Enabled()
	dom, err := lv.Domain(ctx, name)
	switch {
	case err == nil:
		st, _, serr := vmctl.StatusOf(dom)
		if serr == nil && st.Managed {
			return dom, nil
		}
		if serr == nil && inConfig {
			return libvirt.Domain{}, fmt.Errorf("vm %s: libvirt has a domain %s that deskvm did not define (no deskvm metadata); deskvm leaves it alone", name, name)
		}
	case errors.Is(err, libvirt.ErrNotFound):
		if inConfig {
			return libvirt.Domain{}, fmt.Errorf("vm %s is in the config but not defined in libvirt (%s): run deskvm apply", name, uri)
		}
	default:
		return libvirt.Domain{}, err
	}
	return libvirt.Domain{}, &UnknownVMError{Name: name, URI: uri, Disabled: vm != nil, Known: KnownVMs(ctx, lv, cfg)}
}

// KnownVMs are the enabled VMs of the config (cfg may be nil) and the
// domains deskvm manages, sorted.
func KnownVMs(ctx context.Context, lv VMLister, cfg *config.Config) []string {
	set := map[string]bool{}
	if cfg != nil {
		for _, n := range cfg.EnabledVMs() {
			set[n] = true
		}
	}
	if lv != nil {
		if doms, err := lv.Domains(ctx); err == nil {
			for _, d := range doms {
				if st, _, err := vmctl.StatusOf(d); err == nil && st.Managed {
					set[d.Name] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
