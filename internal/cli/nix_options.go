package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/nixos"
)

func init() { register("nix-options", newNixOptionsCmd) }

// newNixOptionsCmd prints nix/options.nix. It is hidden: it is a build
// step of deskvm itself (go test ./internal/nixos -run
// TestOptionsNixUpToDate -update writes the file), not a user command.
func newNixOptionsCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:    "nix-options",
		Short:  "Print the NixOS option declarations of virtualisation.desktopVMs (nix/options.nix)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			opts, err := config.Options()
			if err != nil {
				return err
			}
			out, err := nixos.GenerateOptions(opts)
			if err != nil {
				return fmt.Errorf("nix options: %w", err)
			}
			_, err = g.stdout.Write(out)
			return err
		},
	}
}
