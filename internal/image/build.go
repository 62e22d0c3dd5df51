package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/deskvm/deskvm/internal/image/fetch"
)

// Options are the build's surroundings; the recipe says what to build.
type Options struct {
	// OutDir receives NAME.qcow2, NAME.manifest.json, NAME.run, NAME.ssh/.
	OutDir string
	// Fetcher brings the inputs; its CacheDir also keeps the build
	// records (CacheDir/builds) that make a cache hit fast.
	Fetcher *fetch.Fetcher
	Log     *slog.Logger
	// Progress hears about steps (nil: quiet).
	Progress Progress
	// Force rebuilds even when the outputs are up to date.
	Force bool
	// Accel forces kvm or tcg; "" detects.
	Accel string
	// Version is deskvm's version, recorded in the manifest and part of
	// the cache key.
	Version string
	// PressKeysFor is how long a Windows build sends Enter after QEMU
	// starts, for the CD's "Press any key to boot from CD or DVD"
	// (default 30s; negative: none, for tests of a missed prompt).
	PressKeysFor time.Duration
}

// Result is what a build did.
type Result struct {
	Outputs  Outputs
	Manifest *Manifest
	CacheHit bool
}

func (o *Options) log() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}

func (o *Options) note(format string, a ...any) {
	if o.Progress != nil {
		o.Progress.Note(format, a...)
	}
}

func (o *Options) cacheDir() (string, error) {
	if o.Fetcher != nil && o.Fetcher.CacheDir != "" {
		return o.Fetcher.CacheDir, nil
	}
	return fetch.DefaultCacheDir()
}

// Build builds the recipe, or answers "cache hit" when OUT already holds
// its image, unchanged, built from the same recipe, inputs and tools.
func Build(ctx context.Context, r *Recipe, src *Source, opts Options) (*Result, error) {
	if opts.Fetcher == nil {
		opts.Fetcher = &fetch.Fetcher{Log: opts.Log}
	}
	if opts.OutDir == "" {
		return nil, errors.New("build: no output directory")
	}
	out, err := filepath.Abs(opts.OutDir)
	if err != nil {
		return nil, err
	}
	opts.OutDir = out
	switch r.Kind {
	case KindLinux:
		b, err := newLinuxBuild(ctx, r, src, opts)
		if err != nil {
			return nil, err
		}
		return b.run(ctx)
	case KindWindows:
		b, err := newWindowsBuild(ctx, r, src, opts)
		if err != nil {
			return nil, err
		}
		return b.run(ctx)
	case KindMacOS:
		return nil, fmt.Errorf("build %s: kind macos is planned only (deskvm image plan): the build needs its Setup Assistant script run against a real macOS screen, which has not been done", r.Name)
	default:
		return nil, fmt.Errorf("build %s: unknown kind %q", r.Name, r.Kind)
	}
}

// checkCache is the cache-hit test: same key in the manifest and the
// image still has the digest the manifest records. It reads no input and
// boots nothing; the image is hashed only when it changed since its
// record was written.
func checkCache(o Outputs, key, cacheDir string, log *slog.Logger) (*Manifest, bool) {
	m, err := ReadManifest(o.Manifest())
	if err != nil {
		return nil, false
	}
	if m.CacheKey != key {
		log.Debug("cache miss: recipe, inputs or tools changed", "manifest", o.Manifest())
		return nil, false
	}
	img := filepath.Join(o.Dir, m.Output.File)
	digest, fromRecord, err := imageDigest(cacheDir, img)
	if err != nil || digest != m.Output.SHA256 {
		log.Debug("cache miss: image missing or changed", "image", img, "err", err)
		return nil, false
	}
	if !fromRecord {
		writeOutputRecord(cacheDir, img, digest)
	}
	if m.Boot.SSHKey != "" {
		if _, err := os.Stat(filepath.Join(o.Dir, m.Boot.SSHKey)); err != nil {
			return nil, false
		}
	}
	return m, true
}

func newInstanceID(name string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "deskvm-" + name + "-" + hex.EncodeToString(b)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o644)
}

// shq quotes one argument for the guest's shell.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// buildCommon is what a build of any kind has: the recipe and where its
// outputs go, what decides the cache key, the cleanup stack, the step
// times and the manifest the last step writes.
type buildCommon struct {
	r    *Recipe
	src  *Source
	opts Options
	out  Outputs

	recipeDigest string
	tools        Tools
	inputs       []InputRecord
	key          string

	cleanups Cleanups
	compact  string // OUT/.NAME.qcow2.partial-*, renamed to the image at the end
	steps    []StepTime
	manifest *Manifest
}

func newBuildCommon(r *Recipe, src *Source, opts Options) buildCommon {
	return buildCommon{r: r, src: src, opts: opts, out: Outputs{Dir: opts.OutDir, Name: r.Name}}
}

// runPipeline is a build of any kind: the inputs recorded (from the
// cache, nothing fetched), a cache hit returned without booting, else the
// steps run on the cleanup stack and the manifest rewritten with the last
// step's time too.
func (b *buildCommon) runPipeline(ctx context.Context, inputRecords func(context.Context, bool) error, stepList func() []Step) (_ *Result, err error) {
	log := b.opts.log()
	if err := inputRecords(ctx, false); err != nil {
		return nil, err
	}
	b.key = cacheKey(b.recipeDigest, b.inputs, b.tools)
	cacheDir, err := b.opts.cacheDir()
	if err != nil {
		return nil, err
	}
	if !b.opts.Force {
		if m, ok := checkCache(b.out, b.key, cacheDir, log); ok {
			b.opts.note("cache hit: %s is up to date (built %s); nothing booted", b.out.Image(), m.BuiltAt.Format(time.RFC3339))
			return &Result{Outputs: b.out, Manifest: m, CacheHit: true}, nil
		}
	}
	if err := os.MkdirAll(b.out.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	defer func() {
		if cerr := b.cleanups.Run(log); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := runSteps(ctx, stepList(), &b.steps, b.opts.Progress, log); err != nil {
		return nil, fmt.Errorf("build %s: %w", b.r.Name, err)
	}
	// The manifest was written inside the last step; now it gets that
	// step's time too.
	b.manifest.Steps = b.steps
	if err := writeJSON(b.out.Manifest(), b.manifest); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &Result{Outputs: b.out, Manifest: b.manifest}, nil
}

// compactDisk writes disk compressed into b.compact, a temporary file
// beside the output that the cleanup stack removes unless it became the
// image.
func (b *buildCommon) compactDisk(ctx context.Context, disk string) error {
	f, err := os.CreateTemp(b.out.Dir, "."+b.r.Name+".qcow2.partial-")
	if err != nil {
		return err
	}
	f.Close()
	b.compact = f.Name()
	// CreateTemp makes 0600; the image is read by others (libvirt's QEMU
	// user when it is a Desktop VM's baseImage).
	if err := os.Chmod(b.compact, 0o644); err != nil {
		return err
	}
	b.cleanups.Push("partial image "+b.compact, func(context.Context) error {
		if err := os.Remove(b.compact); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	})
	return runTool(ctx, "qemu-img", "convert", "-c", "-O", "qcow2", disk, b.compact)
}

// newManifest is the manifest of the compacted image without its boot
// record, which each kind fills in.
func (b *buildCommon) newManifest(ctx context.Context) (*Manifest, error) {
	info, err := qemuImgInfo(ctx, b.compact)
	if err != nil {
		return nil, err
	}
	digest, err := fileSHA256(b.compact)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(b.compact)
	if err != nil {
		return nil, err
	}
	return &Manifest{
		Name: b.r.Name, Kind: b.r.Kind, RecipeDigest: b.recipeDigest, CacheKey: b.key, Inputs: b.inputs,
		Output: OutputRecord{File: filepath.Base(b.out.Image()), Format: "qcow2", SHA256: digest, VirtualSize: info.VirtualSize, Size: st.Size()},
		Tools:  b.tools, BuiltAt: time.Now().UTC().Truncate(time.Second),
		Steps: append([]StepTime(nil), b.steps...),
	}, nil
}

// publish renames the compacted image to its final name, records its
// digest for later cache checks and writes the manifest last, so a
// manifest never names an output that is not there.
func (b *buildCommon) publish(m *Manifest) error {
	if err := os.Rename(b.compact, b.out.Image()); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if cacheDir, err := b.opts.cacheDir(); err == nil {
		if err := writeOutputRecord(cacheDir, b.out.Image(), m.Output.SHA256); err != nil {
			b.opts.log().Warn("build record not written; the next cache check hashes the image", "err", err)
		}
	}
	if err := writeJSON(b.out.Manifest(), m); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	b.manifest = m
	return nil
}
