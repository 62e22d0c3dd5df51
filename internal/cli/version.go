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
			fmt.Fprintln(g.stdout, "deskvm", deskvmVersion())
			return nil
		},
	}
}

// deskvmVersion is the version set at link time, else the module version
// the binary was built from, else "devel" (also recorded in image
// manifests).
func deskvmVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}
