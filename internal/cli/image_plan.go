package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/image"
)

func init() { registerImage("plan", newImagePlanCmd) }

type imagePlanOptions struct {
	out   string
	accel string
}

func newImagePlanCmd(g *globalOptions) *cobra.Command {
	o := &imagePlanOptions{}
	cmd := &cobra.Command{
		Use:   "plan RECIPE --out DIR",
		Short: "Everything a build does short of booting: validate, resolve inputs, write the seed media, print the QEMU command line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, src, err := image.LoadFile(args[0])
			if err != nil {
				return err
			}
			opts, err := imageOptions(g, o.out, o.accel)
			if err != nil {
				return err
			}
			p, err := image.MakePlan(cmd.Context(), r, src, o.out, opts)
			if err != nil {
				return err
			}
			w := g.stdout
			fmt.Fprintf(w, "recipe %s (%s): outputs %s\n", r.Name, r.Kind, p.Outputs.Image())
			fmt.Fprintln(w, "inputs:")
			for _, in := range p.Inputs {
				state := "download on build"
				if in.Cached {
					state = "available at " + in.Path
				}
				fmt.Fprintf(w, "  %s: %s (sha256 %s) — %s\n", in.Name, in.Source, orUnknown(in.SHA256), state)
			}
			if p.Edition != "" {
				fmt.Fprintf(w, "edition: %s\n", p.Edition)
			}
			fmt.Fprintln(w, "steps:")
			for i, s := range p.Steps {
				fmt.Fprintf(w, "  %2d. %s\n", i+1, s)
			}
			fmt.Fprintln(w, "generated media:")
			for _, f := range p.Files {
				fmt.Fprintf(w, "  %s\n", f)
			}
			for _, n := range p.Notes {
				fmt.Fprintf(w, "note: %s\n", n)
			}
			fmt.Fprintf(w, "qemu command line (accel %s; the build picks a free SSH port unless sshPort is set):\n  %s\n", p.Accel, shellJoin(p.Argv))
			return nil
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "", "directory for the generated media (required)")
	cmd.Flags().StringVar(&o.accel, "accel", "", "kvm or tcg (default: kvm when /dev/kvm works)")
	cmd.MarkFlagRequired("out")
	return cmd
}

func orUnknown(s string) string {
	if s == "" {
		return "computed on build"
	}
	return s
}

func shellJoin(argv []string) string {
	var parts []string
	for _, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,@") == "" {
			parts = append(parts, a)
		} else {
			parts = append(parts, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
		}
	}
	return strings.Join(parts, " ")
}
