package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/units"
	"github.com/deskvm/deskvm/internal/vmctl"
)

func init() {
	registerVerb(vmVerb{name: "memstats", short: "Show the memory balloon's statistics", make: newVMMemstatsCmd})
	registerVerb(vmVerb{name: "setmem", short: "Change the running VM's memory through the balloon", make: newVMSetmemCmd})
}

type vmMemstatsOptions struct {
	outputOption
	period int
}

func newVMMemstatsCmd(g *globalOptions, d *vmDeps, name string) *cobra.Command {
	o := &vmMemstatsOptions{period: -1}
	cmd := &cobra.Command{
		Use:   "memstats",
		Short: "Show the memory balloon's statistics",
		Long: `Shows the statistics of the VM's virtio memory balloon with units:
actual (memory the guest has now), unused, usable, available,
disk_caches, rss (host memory QEMU uses), swap_in, swap_out, the page
fault counters and when the guest last reported. --output json gives
memory in bytes.

Everything but actual and rss comes from the balloon driver in the guest,
every memballoon.statsInterval seconds; with an interval of 0 the guest
reports nothing. --period N sets the interval of the running VM (until
it stops).`,
		Args: cobra.NoArgs,
	}
	o.add(cmd)
	cmd.Flags().IntVar(&o.period, "period", -1, "set the guest's statistics interval in seconds (0 turns it off) before reading")
	return verbCommand(g, d, name, cmd, func(ctx context.Context, s *vmSession, _ []string) error {
		if err := o.check(); err != nil {
			return err
		}
		if !s.dom.Active {
			return &ExitError{Code: 1, Err: fmt.Errorf("vm %s is not running: memory statistics exist only while it runs", name)}
		}
		info, err := vmctl.Inspect(s.dom.LiveXML)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		if !info.Balloon {
			return &ExitError{Code: 1, Err: fmt.Errorf("vm %s has no memory balloon (memballoon.enable is false), so there are no balloon statistics", name)}
		}
		if o.period >= 0 {
			if err := s.lv.SetMemoryStatsPeriod(ctx, name, o.period, libvirt.MemoryLive); err != nil {
				return &ExitError{Code: 1, Err: err}
			}
			info.StatsPeriod = o.period
		}
		stats, err := s.lv.MemoryStats(ctx, name)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		if o.output == "json" {
			return writeJSON(g.stdout, vmctl.MemStatsToJSON(name, stats, info.StatsPeriod))
		}
		tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
		for _, r := range vmctl.MemStatRows(stats) {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Key, r.Value, r.What)
		}
		tw.Flush()
		if !vmctl.GuestReportsStats(stats) {
			why := "the guest's balloon driver has not reported yet"
			if info.StatsPeriod == 0 {
				why = "statistics are off (memballoon.statsInterval is 0; --period 5 turns them on until the VM stops)"
			}
			fmt.Fprintf(g.stderr, "vm %s: only QEMU's side is known: %s\n", name, why)
		}
		return nil
	})
}

func newVMSetmemCmd(g *globalOptions, d *vmDeps, name string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "setmem SIZE",
		Short: "Change the running VM's memory through the balloon",
		Long: `Sets the running VM's memory (the balloon target) to SIZE, a size with a
binary unit as in the config (1536M, 2G). The guest's balloon driver
gives memory back to the host or takes it back over a few seconds;
memstats shows "actual" follow.

SIZE is bounded by the VM's maximum memory (the config's memory), which
cannot change while the VM runs. setmem is refused, and nothing changes,
when the VM is not running, has no balloon, or its memory is backed by
hugepages (the balloon cannot give hugepages back to the host). The
change lasts until the VM stops; currentMemory in the config sets the
memory at boot.`,
		Args: cobra.ExactArgs(1),
	}
	return verbCommand(g, d, name, cmd, func(ctx context.Context, s *vmSession, args []string) error {
		// The same sizes as the config's memory option (512M, 1536M; not 1.5G).
		sz, err := units.ParseSize(args[0])
		if err != nil {
			return &ExitError{Code: 2, Err: fmt.Errorf("setmem %s: %w", args[0], err)}
		}
		size := sz.Bytes()
		before, err := vmctl.SetMem(ctx, s.lv, name, size)
		var refused *vmctl.RefusedError
		if errors.As(err, &refused) {
			return &ExitError{Code: 1, Err: fmt.Errorf("setmem refused, nothing changed: %w", err)}
		}
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		fmt.Fprintf(g.stdout, "vm %s: memory %s → %s (the guest follows within seconds; see memstats)\n",
			name, vmctl.HumanBytes(before), vmctl.HumanBytes(size/1024*1024))
		return nil
	})
}
