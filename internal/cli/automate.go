package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/automation/live"
	"github.com/deskvm/deskvm/internal/ocr"
	"github.com/deskvm/deskvm/internal/secret"
	"github.com/deskvm/deskvm/internal/vnc"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

func init() { register("automate", newAutomateCmd) }

// Exit statuses of deskvm automate.
const (
	automateExitStep        = 1   // a step failed (its line is in the message)
	automateExitInvalid     = 2   // the script or the arguments are wrong
	automateExitHealth      = 3   // the steps passed, the health check did not
	automateExitInterrupted = 130 // Ctrl-C
)

type automateOptions struct {
	vncAddr         string
	vm              string
	passwordFile    string
	vncPasswordFile string
	debugDir        string
	knownHosts      string
	dryRun          bool
}

func newAutomateCmd(g *globalOptions) *cobra.Command {
	o := &automateOptions{}
	cmd := &cobra.Command{
		Use:   "automate SCRIPT.yaml (--vnc HOST:PORT | --vm NAME)",
		Short: "Drive a VM's screen with an automation script (VNC + OCR)",
		Long: `Runs an automation script: waits for text on the VM's screen (read by OCR),
clicks on it, types and presses keys, then runs the script's health check.
The whole script is checked before the first key is sent.

${PASSWORD} in the script is the content of --password-file; other ${NAME}s
come from the environment. Both are secrets: they never appear in logs or
debug output.

Exit status: 0 success, 1 a step failed (the message names its line),
2 invalid script or arguments, 3 the health check failed, 130 interrupted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAutomate(cmd.Context(), g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.vncAddr, "vnc", "", "VNC server address HOST:PORT")
	f.StringVar(&o.vm, "vm", "", "running libvirt domain whose VNC display to use (at --connect, else the config's connect)")
	f.StringVar(&o.passwordFile, "password-file", "", "file whose content is ${PASSWORD} in the script")
	f.StringVar(&o.vncPasswordFile, "vnc-password-file", "", "file with the VNC server's password")
	f.StringVar(&o.debugDir, "debug", "", "write per-step screenshots, OCR JSON, automation.log and report.html to DIR")
	f.StringVar(&o.knownHosts, "known-hosts", "", "known_hosts file for the SSH health check (default ~/.cache/deskvm/known_hosts)")
	f.BoolVar(&o.dryRun, "dry-run", false, "check the script and print its steps without connecting")
	return cmd
}

func runAutomate(ctx context.Context, g *globalOptions, o *automateOptions, path string) error {
	lo := automation.LoadOptions{}
	if o.passwordFile != "" {
		pw, err := secret.ReadFile(o.passwordFile)
		if err != nil {
			return &ExitError{Code: automateExitInvalid, Err: fmt.Errorf("--password-file: %w", err)}
		}
		lo.Vars = map[string]string{"PASSWORD": pw}
	}
	script, err := automation.Load(path, lo)
	if err != nil {
		var le yamlsrc.Problems
		if errors.As(err, &le) {
			fmt.Fprintf(g.stderr, "deskvm: %s: %d problem(s), nothing was sent:\n%s\n", path, len(le), le)
			return silentExit(automateExitInvalid)
		}
		return &ExitError{Code: automateExitInvalid, Err: err}
	}
	if o.dryRun {
		printScript(g.stdout, script)
		return nil
	}
	if (o.vncAddr == "") == (o.vm == "") && len(script.Steps) > 0 {
		return &ExitError{Code: automateExitInvalid, Err: errors.New("automate: give exactly one of --vnc HOST:PORT or --vm NAME (or --dry-run)")}
	}

	var logger *slog.Logger
	if g.verbose {
		logger = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts := automation.Options{
		Logger:         logger,
		Progress:       g.stdout,
		DebugDir:       o.debugDir,
		ScreenshotDir:  ".",
		KnownHostsFile: o.knownHosts,
	}
	if o.debugDir == "" {
		// A failed step's screenshot has to go somewhere even without --debug.
		dir, err := os.MkdirTemp("", "deskvm-automate-")
		if err != nil {
			return fmt.Errorf("automate: %w", err)
		}
		defer removeIfEmpty(dir)
		opts.FailureDir = dir
	}
	if len(script.Steps) > 0 {
		addr := o.vncAddr
		// Shared, so that a person watching the VM (or deskvm screenshot)
		// is not disconnected by the run, nor the run by them.
		vo := vnc.Options{Logger: logger, Shared: true}
		if o.vm != "" {
			d, err := vmDisplay(ctx, g, o.vm, automateExitInvalid)
			if err != nil {
				return err
			}
			addr, vo.Password = d.Addr, d.Password
		}
		if o.vncPasswordFile != "" {
			if vo.Password, err = secret.ReadFile(o.vncPasswordFile); err != nil {
				return &ExitError{Code: automateExitInvalid, Err: fmt.Errorf("--vnc-password-file: %w", err)}
			}
		}
		opts.Dial = live.DialVNC(addr, vo)
		pool := ocr.NewProcessPool(ocr.TesseractOptions{})
		defer pool.Close()
		go pool.Warm() // tesseract loads its model while the VNC session starts
		opts.Eye = &live.Eye{Engine: ocr.NewReader(pool)}
		fmt.Fprintf(g.stdout, "automate %s: %d steps on %s\n", path, len(script.Steps), addr)
	}

	res, err := automation.Run(ctx, script, opts)
	if res != nil && res.ReportPath != "" {
		defer fmt.Fprintf(g.stdout, "report: %s\n", res.ReportPath)
	}
	if err == nil {
		fmt.Fprintf(g.stdout, "automation succeeded in %s\n", res.Duration.Round(time.Millisecond))
		return nil
	}
	var (
		se *automation.StepError
		he *automation.HealthError
	)
	code := automateExitStep
	switch {
	case errors.Is(err, context.Canceled):
		code = automateExitInterrupted
	case errors.As(err, &he):
		code = automateExitHealth
	case errors.As(err, &se):
		code = automateExitStep
	}
	return &ExitError{Code: code, Err: err}
}

// printScript shows what a script will do, one step per line with its
// place in the file.
func printScript(w io.Writer, s *automation.Script) {
	fmt.Fprintf(w, "%s: valid, %d steps", s.File, len(s.Steps))
	if s.BootWait > 0 {
		fmt.Fprintf(w, ", boot_wait %s", s.BootWait)
	}
	if s.MaxInstallTime > 0 {
		fmt.Fprintf(w, ", max_install_time %s", s.MaxInstallTime)
	}
	fmt.Fprintln(w)
	red := automation.NewRedactor(s.Secrets)
	for i, st := range s.Steps {
		p := st.Position()
		fmt.Fprintf(w, "%4d  line %-4d %-12s %s\n", i+1, p.Line, st.Command(), red.String(st.Describe()))
	}
	if hc := s.HealthCheck; hc != nil {
		fmt.Fprintf(w, "      line %-4d %-12s %s\n", hc.Pos.Line, "health_check", red.String(hc.Describe()))
	}
}

func removeIfEmpty(dir string) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) == 0 {
		os.Remove(dir)
	}
}
