package cli

import (
	"sort"

	"github.com/spf13/cobra"
)

// The image verbs (build, plan, check, validate-iso, …) live one per file
// and register here in init, like the top-level commands, so the Linux,
// Windows and macOS parts do not edit one shared list.
var imageFactories []commandFactory

func registerImage(name string, make func(g *globalOptions) *cobra.Command) {
	imageFactories = append(imageFactories, commandFactory{name: name, make: make})
}

func init() { register("image", newImageCmd) }

func newImageCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build, plan and check VM images (Linux, Windows, macOS)",
		Args:  cobra.NoArgs,
	}
	fs := append([]commandFactory(nil), imageFactories...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].name < fs[j].name })
	for _, f := range fs {
		cmd.AddCommand(f.make(g))
	}
	return cmd
}
