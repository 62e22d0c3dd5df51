package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/vmctl"
)

func init() {
	registerVerb(vmVerb{name: "status", short: "Show state, memory, vCPUs and pinning, autostart, pending restart, display", make: newVMStatusCmd})
}

type outputOption struct{ output string }

func (o *outputOption) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
}

func (o *outputOption) check() error {
	if o.output != "text" && o.output != "json" {
		return &ExitError{Code: 2, Err: fmt.Errorf("--output %q: want text or json", o.output)}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newVMStatusCmd(g *globalOptions, d *vmDeps, name string) *cobra.Command {
	o := &outputOption{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show state, memory, vCPUs and pinning, autostart, pending restart, display",
		Long: `Shows the VM's state; its memory: actual (what the balloon reports the
guest has now), current (the balloon target) and max; its vCPUs and
their host CPU pinning; autostart; whether a restart is pending (the VM
runs an older definition than the one apply wrote); and the address of
its display.`,
		Args: cobra.NoArgs,
	}
	o.add(cmd)
	return verbCommand(g, d, name, cmd, func(ctx context.Context, s *vmSession, _ []string) error {
		if err := o.check(); err != nil {
			return err
		}
		st, _, err := vmctl.GetStatus(ctx, s.lv, name)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		if o.output == "json" {
			return writeJSON(g.stdout, st)
		}
		printStatus(g.stdout, st)
		return nil
	})
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printStatus(w io.Writer, st vmctl.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", st.Name)
	fmt.Fprintf(tw, "state:\t%s\n", st.State)
	mem := []string{}
	if st.ActualMemory > 0 {
		mem = append(mem, "actual "+vmctl.HumanBytes(st.ActualMemory))
	}
	mem = append(mem, "current "+vmctl.HumanBytes(st.CurrentMemory), "max "+vmctl.HumanBytes(st.MaxMemory))
	fmt.Fprintf(tw, "memory:\t%s\n", strings.Join(mem, ", "))
	pin := "not pinned"
	if len(st.Pinning) > 0 {
		info := vmctl.DomainInfo{Pinning: map[int]string{}}
		for k, v := range st.Pinning {
			var n int
			fmt.Sscan(k, &n)
			info.Pinning[n] = v
		}
		pin = "pinned " + info.PinningText()
	}
	if st.EmulatorPin != "" {
		pin += ", emulator on " + st.EmulatorPin
	}
	fmt.Fprintf(tw, "vcpus:\t%d (%s)\n", st.VCPUs, pin)
	fmt.Fprintf(tw, "autostart:\t%s\n", yesNo(st.Autostart))
	pending := yesNo(st.PendingRestart)
	if st.PendingRestart {
		pending += " (runs an older definition; the new one takes effect at the next start)"
	}
	fmt.Fprintf(tw, "pending restart:\t%s\n", pending)
	disp := "none"
	switch {
	case len(st.Displays) > 0:
		disp = strings.Join(st.Displays, ", ")
	case st.State != "running" && st.State != "paused":
		disp = "- (not running)"
	}
	fmt.Fprintf(tw, "display:\t%s\n", disp)
	tw.Flush()
}
