package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deskvm/deskvm/internal/image/fetch"
	"github.com/deskvm/deskvm/internal/image/seed"
	"github.com/deskvm/deskvm/internal/qemu"
)

// Plan is everything a build would do, short of booting.
type Plan struct {
	Steps []string
	// Inputs say where each input is or would come from.
	Inputs []PlannedInput
	// Files are the generated media written into the plan directory.
	Files []string
	// Argv is the build VM's QEMU command line (binary first); the disk
	// is the overlay the build would make.
	Argv    []string
	Accel   string
	Outputs Outputs
	// Edition is the Windows edition the answer file selects.
	Edition string
	// Notes are lines for the user (what the plan could not check).
	Notes []string
}

// PlannedInput is one input of a plan.
type PlannedInput struct {
	Name, Source, SHA256, Path string
	Cached                     bool // false: the build downloads it
}

// MakePlan validates the recipe, resolves its inputs without downloading
// (a path input is hashed), writes the seed media (user-data, meta-data,
// network-config, seed.iso) into dir and returns the steps and QEMU
// command line of the build.
func MakePlan(ctx context.Context, r *Recipe, src *Source, dir string, opts Options) (*Plan, error) {
	if opts.Fetcher == nil {
		opts.Fetcher = &fetch.Fetcher{Log: opts.Log}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	switch r.Kind {
	case KindWindows, KindMacOS:
		p := &Plan{Outputs: Outputs{Dir: dir, Name: r.Name}, Accel: opts.Accel}
		if p.Accel == "" {
			p.Accel = qemu.DetectAccel()
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		mk := makeWindowsPlan
		if r.Kind == KindMacOS {
			mk = makeMacOSPlan
		}
		if err := mk(ctx, r, src, dir, opts, p); err != nil {
			return nil, err
		}
		return p, nil
	case KindLinux:
	default:
		return nil, fmt.Errorf("plan %s: unknown kind %q", r.Name, r.Kind)
	}
	b, err := newLinuxBuild(ctx, r, src, Options{OutDir: dir, Fetcher: opts.Fetcher, Log: opts.Log, Accel: opts.Accel, Version: opts.Version})
	if err != nil {
		return nil, err
	}
	p := &Plan{Outputs: b.out, Accel: opts.Accel}
	if p.Accel == "" {
		p.Accel = qemu.DetectAccel()
	}
	ci := r.CloudImage
	in := PlannedInput{Name: "cloudImage", Source: ci.URL, SHA256: ci.SHA256}
	fs := fetch.Source{URL: ci.URL, SHA256: ci.SHA256}
	if ci.Path != "" {
		fs = fetch.Source{Path: src.ResolvePath(ci.Path), SHA256: ci.SHA256}
		in.Source = fs.Path
	}
	res, ok, err := opts.Fetcher.Lookup(ctx, fs)
	if err != nil {
		if ci.Path != "" {
			return nil, src.Problem("cloudImage.path", "%v", err)
		}
		return nil, fmt.Errorf("cloudImage: %w", err)
	}
	if ok {
		in.Cached, in.Path, in.SHA256 = true, res.Path, res.SHA256
	}
	p.Inputs = append(p.Inputs, in)
	for _, s := range b.stepList() {
		p.Steps = append(p.Steps, s.Name)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// The plan's seed carries a key made for the plan; a build makes its
	// own, so nothing secret is left here that a build would use.
	key, err := NewKeyPair("deskvm-plan-" + r.Name)
	if err != nil {
		return nil, err
	}
	keys := []string{key.Public}
	if b.userKey != "" {
		keys = append(keys, b.userKey)
	}
	hostKey, err := NewKeyPair("deskvm-plan-host")
	if err != nil {
		return nil, err
	}
	args := seedArgs(r, "deskvm-"+r.Name+"-plan", r.Username, keys, hostKey)
	for _, f := range []struct {
		name   string
		render func(seed.Args) ([]byte, error)
	}{{"user-data", seed.UserData}, {"meta-data", seed.MetaData}, {"network-config", seed.NetworkConfig}} {
		data, err := f.render(args)
		if err != nil {
			return nil, fmt.Errorf("seed %s: %w", f.name, err)
		}
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return nil, err
		}
		p.Files = append(p.Files, path)
	}
	iso, err := writeSeed(dir, args)
	if err != nil {
		return nil, err
	}
	p.Files = append(p.Files, iso)

	spec := b.bootSpec()
	spec.Disk = filepath.Join(dir, "disk.qcow2")
	spec.Accel = p.Accel
	port := r.SSHPort
	if port == 0 {
		port = 2222 // a free port is picked at build time
	}
	vars := ""
	if r.Firmware == "uefi" {
		vars = filepath.Join(dir, "efivars.fd")
	}
	m := spec.machine(b.fw, iso, vars, filepath.Join(dir, "serial.log"), filepath.Join(dir, "qmp.sock"), port)
	argv, err := m.Args()
	if err != nil {
		return nil, err
	}
	p.Argv = append([]string{m.BinaryPath()}, argv...)
	return p, nil
}
