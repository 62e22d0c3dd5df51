package cli

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/vmctl"
)

func init() { register("list", newListCmd) }

// listRow is one VM of deskvm list.
type listRow struct {
	vmctl.Status
	// InConfig: the VM is in the config file; Enabled: and not disabled.
	InConfig bool `json:"inConfig"`
	Enabled  bool `json:"enabled"`
	// Defined: libvirt has a domain of that name.
	Defined bool   `json:"defined"`
	Note    string `json:"note,omitempty"`
}

func newListCmd(g *globalOptions) *cobra.Command { return newListCmdWith(g, realVMDeps()) }

func newListCmdWith(g *globalOptions, d *vmDeps) *cobra.Command {
	o := &outputOption{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the VMs of the config and the domains deskvm manages",
		Long: `Lists every VM of the config and every libvirt domain that carries
deskvm's metadata, one row each: name, state, vCPUs, memory (current
balloon target and maximum), autostart and pending restart. A VM of the
config that libvirt does not have yet is "undefined" (run deskvm apply);
a disabled one that is gone is "disabled". Without a config file (and
no -f) only the managed domains are listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			rows, err := listRows(cmd.Context(), g, d)
			if err != nil {
				return err
			}
			if o.output == "json" {
				if rows == nil {
					rows = []listRow{}
				}
				return writeJSON(g.stdout, rows)
			}
			printList(g, rows)
			return nil
		},
	}
	o.add(cmd)
	return cmd
}

func listRows(ctx context.Context, g *globalOptions, d *vmDeps) ([]listRow, error) {
	cfg, err := loadOptionalConfig(g)
	if err != nil {
		return nil, err
	}
	lv, err := d.dial(ctx, connectURI(g, cfg))
	if err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	defer lv.Close()
	doms, err := lv.Domains(ctx)
	if err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	return buildListRows(cfg, doms, os.Getenv(envDomainPrefix)), nil
}

// buildListRows joins the config with libvirt's domains. Managed domains
// outside the config are listed when their name starts with prefix
// (empty: all), as plan confines itself with DESKVM_DOMAIN_PREFIX.
func buildListRows(cfg *config.Config, doms []libvirt.Domain, prefix string) []listRow {
	byName := map[string]libvirt.Domain{}
	for _, dm := range doms {
		byName[dm.Name] = dm
	}
	var rows []listRow
	seen := map[string]bool{}
	if cfg != nil {
		for _, name := range cfg.VMNames() {
			vm := cfg.VMs[name]
			seen[name] = true
			r := listRow{InConfig: true, Enabled: vm != nil && vm.Enabled()}
			if cfg.Enable != nil && !*cfg.Enable {
				r.Enabled = false
			}
			dm, ok := byName[name]
			if !ok {
				r.Status = vmctl.Status{Name: name, State: "undefined"}
				if vm != nil {
					r.MaxMemory, r.CurrentMemory, r.VCPUs = vm.Memory.Bytes(), vm.CurrentMemory.Bytes(), vm.VCPUs
					r.Autostart = vm.AutoStart != nil && *vm.AutoStart
				}
				r.Note = "not defined; run deskvm apply"
				if !r.Enabled {
					r.State, r.Note = "disabled", ""
				}
				rows = append(rows, r)
				continue
			}
			r.Defined = true
			st, _, err := vmctl.StatusOf(dm)
			if err != nil {
				r.Status = vmctl.Status{Name: name, State: string(dm.State)}
				r.Note = err.Error()
			} else {
				r.Status = st
			}
			switch {
			case !r.Managed:
				r.Note = "a domain deskvm did not define has this name"
			case !r.Enabled:
				r.Note = "disabled; apply removes it"
			}
			rows = append(rows, r)
		}
	}
	for _, dm := range doms {
		if seen[dm.Name] || !strings.HasPrefix(dm.Name, prefix) {
			continue
		}
		st, _, err := vmctl.StatusOf(dm)
		if err != nil || !st.Managed {
			continue
		}
		r := listRow{Status: st, Defined: true, Note: "not in the config"}
		if cfg != nil {
			r.Note = "not in the config; apply removes it"
		}
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}

func printList(g *globalOptions, rows []listRow) {
	if len(rows) == 0 {
		fmt.Fprintln(g.stdout, "No VMs.")
		return
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tVCPUS\tMEMORY\tAUTOSTART\tPENDING RESTART\tNOTE")
	for _, r := range rows {
		mem := vmctl.HumanBytes(r.MaxMemory)
		if r.CurrentMemory != 0 && r.CurrentMemory != r.MaxMemory {
			mem = vmctl.HumanBytes(r.CurrentMemory) + " of " + mem
		}
		if r.MaxMemory == 0 {
			mem = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Name, r.State, r.VCPUs, mem, yesNo(r.Autostart), yesNo(r.PendingRestart), r.Note)
	}
	tw.Flush()
}
