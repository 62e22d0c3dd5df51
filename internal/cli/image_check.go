package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/image"
)

func init() { registerImage("check", newImageCheckCmd) }

type imageCheckOptions struct {
	timeout time.Duration
	accel   string
}

func newImageCheckCmd(g *globalOptions) *cobra.Command {
	o := &imageCheckOptions{}
	cmd := &cobra.Command{
		Use:   "check IMAGE.qcow2",
		Short: "Boot a built image on a throw-away overlay and run its health check",
		Long: `Check reads IMAGE's manifest (written by image build beside it), verifies
the image's sha256, boots it on a temporary overlay with a fresh NoCloud
seed and key for the manifest's user, waits for SSH and cloud-init and
runs the recipe's health check. The image itself is not changed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := imageOptions(g, "", o.accel)
			if err != nil {
				return err
			}
			res, err := image.Check(cmd.Context(), args[0], image.CheckOptions{Options: opts, Timeout: o.timeout})
			if err != nil {
				return err
			}
			var total float64
			for _, s := range res.Steps {
				total += s.Seconds
			}
			fmt.Fprintf(g.stdout, "%s: healthy (booted, ssh, cloud-init done, health check passed in %.0fs)\n", args[0], total)
			if out := strings.TrimSpace(res.Output); out != "" {
				fmt.Fprintf(g.stdout, "health output: %s\n", out)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&o.timeout, "timeout", image.DefaultBootTimeout, "time for the boot until SSH and cloud-init are done")
	cmd.Flags().StringVar(&o.accel, "accel", "", "kvm or tcg (default: kvm when /dev/kvm works)")
	return cmd
}
