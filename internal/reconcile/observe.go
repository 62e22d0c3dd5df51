package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/libvirt"
)

// Observe reads what MakePlan compares the config with: every domain
// (both definitions), every pool, the volumes of the active pools, and
// deskvm's firewall table. It changes nothing.
func Observe(ctx context.Context, lv libvirt.Client, h host.Host, table string) (*Observed, error) {
	if table == "" {
		table = host.DefaultFirewallTable
	}
	doms, err := lv.Domains(ctx)
	if err != nil {
		return nil, fmt.Errorf("observe: %w", err)
	}
	pools, err := lv.Pools(ctx)
	if err != nil {
		return nil, fmt.Errorf("observe: %w", err)
	}
	obs := &Observed{Domains: doms, Pools: pools, Volumes: map[string][]libvirt.Volume{}}
	for _, p := range pools {
		if !p.Active {
			continue
		}
		vs, err := lv.Volumes(ctx, p.Name)
		if errors.Is(err, libvirt.ErrNotFound) {
			continue // removed since the list
		}
		if err != nil {
			return nil, fmt.Errorf("observe: %w", err)
		}
		obs.Volumes[p.Name] = vs
	}
	if h != nil {
		st, err := h.Firewall(ctx, table)
		if err != nil {
			obs.FirewallErr = err.Error()
		} else {
			obs.Firewall = &st
		}
	}
	return obs, nil
}
