package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/session"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

func init() { register("config", newConfigCmd) }

func newConfigCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the config file and show its defaults and schema",
	}
	cmd.AddCommand(newConfigValidateCmd(g, probeForHostChecks), newConfigDefaultsCmd(g), newConfigSchemaCmd(g))
	return cmd
}

// probeForHostChecks reads what config.CheckHost needs. It skips the
// version queries (virsh, qemu), which cost a round trip to libvirtd that
// no host check uses.
func probeForHostChecks(ctx context.Context) (*hostfacts.Facts, error) {
	p := &hostfacts.Prober{Run: func(context.Context, string, ...string) ([]byte, error) {
		return nil, errors.New("versions are not needed for host checks")
	}}
	return p.Probe(ctx)
}

type configValidateOptions struct {
	host bool
	// probe reads this machine; dial reaches a remote host's libvirt (nil:
	// session.DialCaps).
	probe session.ProbeFunc
	dial  session.CapsDialFunc
}

func newConfigValidateCmd(g *globalOptions, probe session.ProbeFunc) *cobra.Command {
	return newConfigValidateCmdWith(g, probe, nil)
}

func newConfigValidateCmdWith(g *globalOptions, probe session.ProbeFunc, dial session.CapsDialFunc) *cobra.Command {
	o := &configValidateOptions{probe: probe, dial: dial}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the config file and report every problem",
		Long: `Check the config file and report every problem at once, each as
FILE:LINE:COL: error|warning: FIELD.PATH: message.

The checks of the config itself need nothing from this machine. Checks
against the host (pinned CPUs exist, hugepages, firmware, virtiofsd, files
and shared folders) are warnings, because the config may be meant for
another machine; --host makes them errors, as plan and apply do. With a
remote connect URI the host is the one behind it, as its libvirt
describes it; what libvirt cannot tell is not checked.

Exit status: 0 when there are no errors (warnings allowed), 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfigValidate(cmd.Context(), g, o)
		},
	}
	cmd.Flags().BoolVar(&o.host, "host", false, "check against this host too, as errors")
	return cmd
}

func runConfigValidate(ctx context.Context, g *globalOptions, o *configValidateOptions) error {
	cfg, src, ps, err := loadCheckedConfig(g)
	if err != nil {
		return err
	}
	if cfg != nil {
		ps = append(ps, hostProblems(ctx, g, o, cfg, src)...)
	}
	printProblems(g.stderr, ps)
	nerr, nwarn := len(ps.Errors()), len(ps.Warnings())
	if nerr > 0 {
		fmt.Fprintf(g.stderr, "%s: %s, %s\n", src.Name, plural(nerr, "error"), plural(nwarn, "warning"))
		return silentExit(1)
	}
	msg := fmt.Sprintf("config OK: %s", plural(len(cfg.VMs), "VM"))
	if nwarn > 0 {
		msg += ", " + plural(nwarn, "warning")
	}
	fmt.Fprintln(g.stdout, msg)
	return nil
}

// hostProblems runs the host checks: warnings, or errors with --host.
func hostProblems(ctx context.Context, g *globalOptions, o *configValidateOptions, cfg *config.Config, src *yamlsrc.Doc) yamlsrc.Problems {
	ctx, cancel := context.WithTimeout(ctx, session.ProbeTimeout)
	defer cancel()
	dial := o.dial
	if dial == nil {
		dial = session.DialCaps
	}
	facts, err := session.FactsProbe(cfg.Connect, o.probe, dial)(ctx)
	if err != nil {
		p := yamlsrc.Problem{File: src.Name, Message: fmt.Sprintf("host checks skipped: probe host: %v", err), Severity: yamlsrc.SeverityWarning}
		if o.host {
			p.Severity = yamlsrc.SeverityError
		}
		return yamlsrc.Problems{p}
	}
	warnUnknownFacts(g.stderr, cfg.Connect, facts)
	ps := src.Locate(config.CheckHost(cfg, facts))
	if o.host {
		ps = ps.AsErrors()
	}
	return ps
}

type configDefaultsOptions struct {
	output string
}

func newConfigDefaultsCmd(g *globalOptions) *cobra.Command {
	o := &configDefaultsOptions{}
	cmd := &cobra.Command{
		Use:   "defaults",
		Short: "Print the config with every default filled in",
		Long: `Print the config file with every option that has a value, defaults
included: those of the profile, the fixed ones, and the computed ones
(hugepages.count, UUID and MAC address derived from the VM name). The
output is a valid config file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.output != "yaml" && o.output != "json" {
				return fmt.Errorf("--output %q: want yaml or json", o.output)
			}
			cfg, _, ps, err := loadCheckedConfig(g)
			if err != nil {
				return err
			}
			if ps.HasErrors() {
				printProblems(g.stderr, ps.Errors())
				return silentExit(1)
			}
			var out []byte
			if o.output == "json" {
				out, err = cfg.MarshalIndentJSON()
			} else {
				out, err = cfg.MarshalYAML()
			}
			if err != nil {
				return fmt.Errorf("encode config: %w", err)
			}
			_, err = g.stdout.Write(out)
			return err
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

func newConfigSchemaCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the config file (for editors)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := config.Schema()
			if err != nil {
				return fmt.Errorf("config schema: %w", err)
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
}

// loadCheckedConfig loads and checks the config as the session does
// (session.Options.LoadConfig): file, --connect, defaults, validation.
func loadCheckedConfig(g *globalOptions) (*config.Config, *yamlsrc.Doc, yamlsrc.Problems, error) {
	return g.session().LoadConfig()
}

// printProblems writes one line per problem, in file order, as
// FILE:LINE:COL: SEVERITY: PATH: MESSAGE (the form editors jump to).
func printProblems(w io.Writer, ps yamlsrc.Problems) {
	ps = append(yamlsrc.Problems(nil), ps...)
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Pos, ps[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	for _, p := range ps {
		var b strings.Builder
		if loc := p.Location(); loc != "" {
			b.WriteString(loc + ": ")
		}
		b.WriteString(p.Severity.String() + ": ")
		if p.Path != "" {
			b.WriteString(p.Path + ": ")
		}
		b.WriteString(p.Message)
		fmt.Fprintln(w, b.String())
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
