package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/image/fetch"
)

func init() { registerImage("resolve", newImageResolveCmd) }

type imageResolveOptions struct {
	outputOption
	arch, variant, version, mirror string
	download                       bool
}

func newImageResolveCmd(g *globalOptions) *cobra.Command {
	o := &imageResolveOptions{}
	cmd := &cobra.Command{
		Use:   "resolve DISTRO [RELEASE]",
		Short: "Pin a Debian/Ubuntu cloud image release or a virtio-win build to a versioned URL and its sha256 for a recipe",
		Long: `Looks up the newest dated build of a release (or the one given with
--version) on the publisher's server and prints a cloudImage entry for a
recipe: the versioned URL of that build (never a rolling latest/ or
release/ one) and its sha256.

DISTRO is debian (RELEASE bookworm or 12, …; --variant genericcloud,
generic or nocloud) or ubuntu (RELEASE noble or 24.04, jammy or 22.04, …).

Ubuntu lists SHA-256 digests in the build's SHA256SUMS, so nothing is
downloaded. Debian lists only SHA-512 (SHA512SUMS): the image is then
downloaded into the deskvm cache, checked against that SHA-512, and its
sha256 computed — the build that uses the entry finds it in the cache.
--download downloads an Ubuntu image too.

DISTRO virtio-win (no RELEASE) picks the newest numbered build in Fedora's
virtio-win archive (or --version, like 0.1.262-2) and prints a
virtioDriversIso entry. virtio-win publishes no checksums, so the ISO is
downloaded, checked to be an ISO 9660 image, and the sha256 of that
download is printed: it pins what you got, not what the publisher vouches
for.`,
		Example: `  deskvm image resolve debian bookworm
  deskvm image resolve ubuntu 24.04 --arch arm64 -o json
  deskvm image resolve virtio-win`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			release := ""
			if len(args) == 2 {
				release = args[1]
			}
			return runImageResolve(cmd.Context(), g, o, args[0], release)
		},
	}
	o.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.arch, "arch", "amd64", "architecture: amd64 or arm64")
	f.StringVar(&o.variant, "variant", "", "Debian image variant: genericcloud (default), generic or nocloud")
	f.StringVar(&o.version, "version", "", "a dated build (20240717-1811 for Debian, 20240423 for Ubuntu); default the newest listed")
	f.StringVar(&o.mirror, "mirror", "", "base URL of the distro's image tree (default https://cloud.debian.org/images/cloud/, https://cloud-images.ubuntu.com/releases/ or Fedora's virtio-win archive-virtio/)")
	f.BoolVar(&o.download, "download", false, "download the image into the cache even when its sha256 is listed")
	return cmd
}

type resolveReport struct {
	Distro  string `json:"distro"`
	Release string `json:"release"`
	Version string `json:"version"`
	URL     string `json:"url"`
	SHA256  string `json:"sha256"`
	SHA512  string `json:"sha512,omitempty"`
	SumsURL string `json:"sumsUrl,omitempty"`
	// Cached is the file in the deskvm cache when it was downloaded.
	Cached string `json:"cached,omitempty"`
}

func runImageResolve(ctx context.Context, g *globalOptions, o *imageResolveOptions, distro, release string) error {
	if err := o.check(); err != nil {
		return err
	}
	distro = strings.ToLower(distro)
	r := &fetch.Resolver{}
	switch distro {
	case "debian":
		r.DebianBase = o.mirror
	case "ubuntu":
		r.UbuntuBase = o.mirror
	case "virtio-win":
		r.VirtioWinBase = o.mirror
	default:
		return &ExitError{Code: 2, Err: fmt.Errorf("distro %q: want debian, ubuntu or virtio-win", distro)}
	}
	if (distro == "virtio-win") != (release == "") {
		return &ExitError{Code: 2, Err: fmt.Errorf("%s: give a RELEASE for debian and ubuntu, none for virtio-win", distro)}
	}
	res, err := r.Resolve(ctx, fetch.Release{Distro: distro, Release: release, Arch: o.arch, Variant: o.variant, Version: o.version})
	if err != nil {
		return err
	}
	rep := resolveReport{Distro: distro, Release: release, Version: res.Version, URL: res.Source.URL,
		SHA256: res.Source.SHA256, SHA512: res.Source.SHA512, SumsURL: res.SumsURL}
	if rep.SHA256 == "" || o.download {
		switch {
		case res.SumsURL == "":
			// Nothing published to check against: prove the file type.
			res.Source.Verify = fetch.ISO9660()
			fmt.Fprintf(g.stderr, "%s publishes no checksums: downloading it to compute the sha256 of this copy (checked to be an ISO 9660 image)\n", distro)
		case rep.SHA256 == "":
			fmt.Fprintf(g.stderr, "%s lists no SHA-256 for this image: downloading it to compute one (checked against the published SHA-512)\n", res.SumsURL)
		}
		log := slog.New(slog.DiscardHandler)
		if g.verbose {
			log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		dir, err := fetch.DefaultCacheDir()
		if err != nil {
			return err
		}
		f := &fetch.Fetcher{CacheDir: dir, Progress: g.stderr, Log: log}
		got, err := f.Fetch(ctx, distro+" "+release, res.Source)
		if err != nil {
			return err
		}
		rep.SHA256, rep.Cached = got.SHA256, got.Path
	}
	if o.output == "json" {
		return writeJSON(g.stdout, rep)
	}
	if rep.SumsURL == "" {
		fmt.Fprintf(g.stdout, "# %s %s; no published checksum: sha256 of the copy downloaded now\nvirtioDriversIso:\n  url: %s\n  sha256: %s\n",
			distro, rep.Version, rep.URL, rep.SHA256)
		return nil
	}
	fmt.Fprintf(g.stdout, "# %s %s, build %s; digest from %s\ncloudImage:\n  url: %s\n  sha256: %s\n",
		distro, release, rep.Version, rep.SumsURL, rep.URL, rep.SHA256)
	return nil
}
