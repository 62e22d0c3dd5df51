package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/image/unattend"
	"github.com/deskvm/deskvm/internal/iso"
	"github.com/deskvm/deskvm/internal/winmedia"
)

func init() { registerImage("validate-iso", newImageValidateISOCmd) }

type validateISOOptions struct {
	outputOption
	kind           string
	windowsVersion string
}

func newImageValidateISOCmd(g *globalOptions) *cobra.Command {
	o := &validateISOOptions{}
	cmd := &cobra.Command{
		Use:   "validate-iso PATH",
		Short: "Check a Windows install ISO (editions, boot files) or a virtio-win ISO without mounting it",
		Long: `Reads the ISO file directly (UDF and ISO 9660 with Joliet/Rock Ridge; no
mount, no external tools) and checks it.

Windows media: finds efi/boot/bootx64.efi, boot/etfsboot.com and
sources/install.wim or install.esd, and lists the editions (index, name,
edition ID, version) from the WIM's XML metadata. Use a listed name as the
recipe's edition, or its index as imageIndex.

virtio-win media (detected by a viostor folder, or --kind virtio-win):
checks that the driver folders the answer file names exist for
--windows-version (viostor\w11\amd64, NetKVM\w11\amd64, …).

Only headers and the XML are read, so a multi-GB ISO takes milliseconds.
Exit status: 0 valid, 1 not valid (the problems say why), 2 bad arguments
or not an ISO.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidateISO(g, o, args[0])
		},
	}
	o.add(cmd)
	cmd.Flags().StringVar(&o.kind, "kind", "auto", "media kind: auto, windows or virtio-win")
	cmd.Flags().StringVar(&o.windowsVersion, "windows-version", "w11", "virtio-win driver folder version: w10, w11, 2k19, 2k22 or 2k25")
	return cmd
}

func runValidateISO(g *globalOptions, o *validateISOOptions, path string) error {
	if err := o.check(); err != nil {
		return err
	}
	switch o.kind {
	case "auto", winmedia.KindWindows, winmedia.KindVirtio:
	default:
		return &ExitError{Code: 2, Err: fmt.Errorf("--kind %q: want auto, windows or virtio-win", o.kind)}
	}
	if !unattend.KnownVersion(o.windowsVersion) {
		return &ExitError{Code: 2, Err: fmt.Errorf("--windows-version %q: want w10, w11, 2k19, 2k22 or 2k25", o.windowsVersion)}
	}
	im, f, err := iso.OpenFile(path)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	defer f.Close()
	kind := o.kind
	if kind == "auto" {
		kind = winmedia.GuessKind(im)
	}
	var r winmedia.Report
	if kind == winmedia.KindVirtio {
		r = winmedia.CheckVirtio(im, unattend.DriverFolders(o.windowsVersion))
	} else {
		r = winmedia.CheckWindows(im)
	}
	if o.output == "json" {
		if err := writeJSON(g.stdout, r); err != nil {
			return err
		}
	} else {
		printValidateISO(g, path, r)
	}
	if !r.Valid {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s is not valid %s media: %s", path, r.Kind, strings.Join(r.Problems, "; "))}
	}
	return nil
}

func printValidateISO(g *globalOptions, path string, r winmedia.Report) {
	w := g.stdout
	fmt.Fprintf(w, "%s: %s media, volume %q (%s)\n", path, r.Kind, r.VolumeLabel, strings.Join(r.Filesystems, ", "))
	if r.Kind == winmedia.KindVirtio {
		for _, p := range r.DriverPaths {
			fmt.Fprintf(w, "  driver folder %s\n", p)
		}
	} else {
		for _, p := range []struct{ what, path string }{{"UEFI loader", r.EFILoader}, {"BIOS boot", r.BIOSBoot}, {"install image", r.InstallImage}} {
			if p.path != "" {
				fmt.Fprintf(w, "  %-13s %s\n", p.what, p.path)
			}
		}
		if len(r.Editions) > 0 {
			fmt.Fprintf(w, "  editions:\n")
			for _, e := range r.Editions {
				extra := []string{}
				for _, s := range []string{e.EditionID, e.Architecture, e.Version} {
					if s != "" {
						extra = append(extra, s)
					}
				}
				fmt.Fprintf(w, "  %4d  %s", e.Index, e.Name)
				if len(extra) > 0 {
					fmt.Fprintf(w, "  (%s)", strings.Join(extra, ", "))
				}
				fmt.Fprintln(w)
			}
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	if r.Valid {
		fmt.Fprintln(w, "valid")
	}
}
