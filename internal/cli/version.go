package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func init() { register("version", newVersionCmd) }

// version is stamped at link time by packagers (the flake:
// -X github.com/deskvm/deskvm/internal/cli.version=…); otherwise the Go
// module's version is used.
var version string

func newVersionCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print deskvm's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if v != "" {
				fmt.Fprintln(g.stdout, "deskvm", v)
				return nil
			}
			v = "devel"
			if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
				v = bi.Main.Version
			}
			fmt.Fprintln(g.stdout, "deskvm", v)
			return nil
		},
	}
}
