package cli

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/image"
	"github.com/deskvm/deskvm/internal/image/fetch"
)

func init() { registerImage("build", newImageBuildCmd) }

type imageBuildOptions struct {
	out   string
	force bool
	accel string
}

func newImageBuildCmd(g *globalOptions) *cobra.Command {
	o := &imageBuildOptions{}
	cmd := &cobra.Command{
		Use:   "build RECIPE",
		Short: "Build a VM image from a recipe: fetch, boot, configure, check, generalize, compact",
		Long: `Build runs the recipe's steps one after another and prints each with its
time. The outputs are OUT/NAME.qcow2, NAME.manifest.json, NAME.run and,
when the recipe gives no sshPublicKey, the generated key pair in NAME.ssh/.
A second build of the same recipe with the same inputs and tools answers
"cache hit" without booting anything. On an error or Ctrl-C, QEMU is
stopped and the temporary files are removed; no output is left under its
final name half-written. -v shows QEMU's command line and the serial log.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImageBuild(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", ".", "output directory")
	f.BoolVar(&o.force, "force", false, "build even when the outputs are up to date")
	f.StringVar(&o.accel, "accel", "", "kvm or tcg (default: kvm when /dev/kvm works)")
	return cmd
}

func runImageBuild(cmd *cobra.Command, g *globalOptions, o *imageBuildOptions, recipe string) error {
	r, src, err := image.LoadFile(recipe)
	if err != nil {
		return err
	}
	opts, err := imageOptions(g, o.out, o.accel)
	if err != nil {
		return err
	}
	opts.Force = o.force
	res, err := image.Build(cmd.Context(), r, src, opts)
	if err != nil {
		return err
	}
	if res.CacheHit {
		return nil
	}
	m := res.Manifest
	var total float64
	for _, s := range m.Steps {
		total += s.Seconds
	}
	fmt.Fprintf(g.stdout, "built %s (%s, virtual %s) in %.0fs\n", res.Outputs.Image(), image.HumanBytes(m.Output.Size), image.HumanBytes(m.Output.VirtualSize), total)
	fmt.Fprintf(g.stdout, "  manifest %s\n", res.Outputs.Manifest())
	if m.Kind == image.KindLinux {
		fmt.Fprintf(g.stdout, "  run      %s\n", res.Outputs.Run())
	}
	if m.Boot.TPM != "" {
		fmt.Fprintf(g.stdout, "  tpm      %s\n", filepath.Join(res.Outputs.Dir, m.Boot.TPM))
	}
	if m.Boot.SSHKey != "" {
		fmt.Fprintf(g.stdout, "  ssh key  %s (user %s)\n", filepath.Join(res.Outputs.Dir, m.Boot.SSHKey), m.Boot.Username)
	}
	return nil
}

// imageOptions are the surroundings every image verb shares.
func imageOptions(g *globalOptions, out, accel string) (image.Options, error) {
	if accel != "" && accel != "kvm" && accel != "tcg" {
		return image.Options{}, fmt.Errorf("--accel %q: want kvm or tcg", accel)
	}
	log := slog.New(slog.DiscardHandler)
	if g.verbose {
		log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cache, err := fetch.DefaultCacheDir()
	if err != nil {
		return image.Options{}, err
	}
	return image.Options{
		OutDir:   out,
		Fetcher:  &fetch.Fetcher{CacheDir: cache, Progress: g.stderr, Log: log},
		Log:      log,
		Progress: &stepPrinter{w: g.stderr},
		Accel:    accel,
		Version:  deskvmVersion(),
	}, nil
}

// stepPrinter prints the steps of a build or check as they run.
type stepPrinter struct{ w io.Writer }

func (p *stepPrinter) StepStarted(n, of int, name string) {
	fmt.Fprintf(p.w, "[%d/%d] %s …\n", n, of, name)
}

func (p *stepPrinter) StepDone(n, of int, name string, took time.Duration, err error) {
	status := "done"
	if err != nil {
		status = "failed"
	}
	fmt.Fprintf(p.w, "[%d/%d] %s: %s in %s\n", n, of, name, status, took.Round(100*time.Millisecond))
}

func (p *stepPrinter) Note(format string, args ...any) {
	fmt.Fprintln(p.w, strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
}
