package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/domainxml"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/session"
)

func init() { register("render", newRenderCmd) }

type renderOptions struct {
	secrets bool
	probe   session.ProbeFunc
}

func newRenderCmd(g *globalOptions) *cobra.Command { return newRenderCmdWith(g, nil) }

// newRenderCmdWith takes the host probe; nil probes this machine, asking
// libvirt at the config's connect URI for its version.
func newRenderCmdWith(g *globalOptions, probe session.ProbeFunc) *cobra.Command {
	o := &renderOptions{probe: probe}
	cmd := &cobra.Command{
		Use:   "render VM",
		Short: "Print the libvirt domain XML of a VM",
		Long: `Print the libvirt domain XML that apply would define for VM.

The config is loaded, defaulted and validated first; any error stops the
command. Facts about the VM host (CPU topology, firmware paths, virtiofsd)
fill in what the XML needs, but nothing on it is checked or changed, so a
config meant for another host renders here too: what the host lacks is
left for libvirt to choose (firmware) or left out (automatic CPU pinning
on a host with too few CPUs). The VM host is this machine, or, for a
remote connect URI (qemu+ssh://HOST/system), the host behind it as its
libvirt describes it; what libvirt does not tell (firmware vars
templates, virtiofsd) is left for it to choose, with a warning.

The display password (graphics.passwordFile) is left out unless --secrets
is given, so the output is safe to paste.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRender(cmd.Context(), g, o, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.secrets, "secrets", false, "include the display password from graphics.passwordFile")
	return cmd
}

func runRender(ctx context.Context, g *globalOptions, o *renderOptions, name string) error {
	cfg, src, ps, err := loadCheckedConfig(g)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	if ps.HasErrors() {
		printProblems(g.stderr, ps)
		fmt.Fprintf(g.stderr, "%s: %s\n", src.Name, plural(len(ps.Errors()), "error"))
		return silentExit(1)
	}
	if cfg.VMs[name] == nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("render: no VM %q in %s (VMs: %s)", name, src.Name, strings.Join(cfg.VMNames(), ", "))}
	}
	var opts []domainxml.Option
	if o.secrets && cfg.VMs[name].Graphics.PasswordFile != "" {
		pw, err := session.GraphicsPassword(cfg, name)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		opts = append(opts, domainxml.WithGraphicsPassword(pw))
	}
	probe := o.probe
	if probe == nil {
		probe = session.FactsProbe(cfg.Connect, (&hostfacts.Prober{Connect: cfg.Connect}).Probe, session.DialCaps)
	}
	pctx, cancel := context.WithTimeout(ctx, session.ProbeTimeout)
	facts, err := probe(pctx)
	cancel()
	if err != nil {
		// Rendering needs no host; without facts libvirt picks firmware.
		fmt.Fprintf(g.stderr, "warning: rendering without host facts: %v\n", err)
		facts = nil
	}
	warnUnknownFacts(g.stderr, cfg.Connect, facts)
	xml, err := domainxml.RenderXML(cfg, name, facts, opts...)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	fmt.Fprint(g.stdout, xml)
	return nil
}
