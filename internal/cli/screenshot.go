package cli

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/secret"
	"github.com/deskvm/deskvm/internal/vnc"
)

func init() { register("screenshot", newScreenshotCmd) }

type screenshotOptions struct {
	vncAddr      string
	vm           string
	passwordFile string
	output       string
	timeout      time.Duration
}

func newScreenshotCmd(g *globalOptions) *cobra.Command {
	o := &screenshotOptions{}
	cmd := &cobra.Command{
		Use:   "screenshot (--vnc HOST:PORT | --vm NAME) -o FILE.png",
		Short: "Save a VM's screen as a PNG, read over VNC",
		Long: `Connects to a VNC server (a VM's display), waits until the whole screen
has been received once, and writes it as a PNG. The file appears only
when it is complete.

--vnc takes HOST:PORT (e.g. 127.0.0.1:5900) or unix:/path/to/socket.
--vm NAME finds the running domain's VNC display through libvirt (at
--connect, else the config's connect) and uses its password, else the
VM's graphics.passwordFile.
--password-file holds the VNC password (a trailing newline is ignored).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runScreenshot(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.vncAddr, "vnc", "", "VNC server address, HOST:PORT or unix:PATH")
	f.StringVar(&o.vm, "vm", "", "running libvirt domain whose VNC display to use (at --connect, else the config's connect)")
	f.StringVar(&o.passwordFile, "password-file", "", "file holding the VNC password")
	f.StringVarP(&o.output, "output", "o", "", "PNG file to write (required)")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up after this long")
	return cmd
}

func runScreenshot(ctx context.Context, g *globalOptions, o *screenshotOptions) error {
	if (o.vncAddr == "") == (o.vm == "") {
		return &ExitError{Code: 2, Err: errors.New("screenshot: give exactly one of --vnc HOST:PORT or --vm NAME")}
	}
	if o.output == "" {
		return &ExitError{Code: 2, Err: errors.New("screenshot: -o FILE.png is required")}
	}
	if o.timeout <= 0 {
		return &ExitError{Code: 2, Err: fmt.Errorf("screenshot: --timeout %v must be positive", o.timeout)}
	}
	opts := vnc.Options{Shared: true, Logger: slog.New(slog.DiscardHandler)}
	if g.verbose {
		opts.Logger = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.vm != "" {
		d, err := vmDisplay(ctx, g, o.vm, 1)
		if err != nil {
			return err
		}
		o.vncAddr, opts.Password = d.Addr, d.Password
	}
	if o.passwordFile != "" {
		pw, err := secret.ReadFile(o.passwordFile)
		if err != nil {
			return fmt.Errorf("screenshot: %w", err)
		}
		opts.Password = pw
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c, err := vnc.Dial(ctx, o.vncAddr, opts)
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	defer c.Close()
	if _, err := c.WaitFullFrame(ctx); err != nil {
		return fmt.Errorf("screenshot: waiting for the screen from %s: %w", o.vncAddr, err)
	}
	img := c.Snapshot()
	if err := writePNGAtomic(o.output, img); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	fmt.Fprintf(g.stdout, "%s: %dx%d\n", o.output, img.Rect.Dx(), img.Rect.Dy())
	return nil
}

// writePNGAtomic writes to a temporary file next to path and renames it,
// so a reader never sees a half-written PNG under the final name.
func writePNGAtomic(path string, img image.Image) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := encodePNG(tmp, img); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func encodePNG(w io.Writer, img image.Image) error {
	// Screens are mostly flat colour; the fastest level compresses them
	// well and keeps a 1280x800 capture well under 100 ms.
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return enc.Encode(w, img)
}
