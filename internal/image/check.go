package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CheckOptions tune Check.
type CheckOptions struct {
	Options
	// Timeout bounds the boot until SSH and cloud-init are done
	// (default: DefaultBootTimeout).
	Timeout time.Duration
	// User and Keys, when set, replace the manifest's user in the check's
	// seed (the generalization test logs in as someone new).
	User     string
	Hostname string
}

// CheckResult is what a check saw.
type CheckResult struct {
	Steps []StepTime
	// InstanceID is cloud-init's instance during the check.
	InstanceID string
	// MachineID is the guest's /etc/machine-id during the check.
	MachineID string
	// Output is the health command's output.
	Output string
}

// Check boots an image built by Build on a throw-away overlay with a new
// seed (a new instance for cloud-init, a fresh key for the manifest's
// user) and runs its health check: the cached boot test. Nothing is
// written next to the image; the overlay and QEMU are gone afterwards.
func Check(ctx context.Context, imagePath string, opts CheckOptions) (_ *CheckResult, err error) {
	log := opts.log()
	abs, err := filepath.Abs(imagePath)
	if err != nil {
		return nil, err
	}
	dir, base := filepath.Split(abs)
	name := strings.TrimSuffix(base, filepath.Ext(base))
	out := Outputs{Dir: filepath.Clean(dir), Name: name}
	m, err := ReadManifest(out.Manifest())
	if err != nil {
		return nil, fmt.Errorf("check %s: %w (image check needs the manifest deskvm image build wrote beside the image)", imagePath, err)
	}
	if m.Kind != KindLinux {
		return nil, fmt.Errorf("check %s: kind %s is not checked by this deskvm yet", imagePath, m.Kind)
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultBootTimeout
	}
	user := m.Boot.Username
	if opts.User != "" {
		user = opts.User
	}
	hostname := m.Boot.Hostname
	if opts.Hostname != "" {
		hostname = opts.Hostname
	}
	health := m.Boot.Health
	if health.Timeout.Duration == 0 {
		health.Timeout.Duration = DefaultHealthTimeout
	}

	var cleanups Cleanups
	defer func() {
		if cerr := cleanups.Run(log); cerr != nil && err == nil {
			err = cerr
		}
	}()
	res := &CheckResult{}
	var (
		work, disk string
		key        KeyPair
		hostKey    KeyPair
		g          *guest
	)
	steps := []Step{
		{"verify image", func(ctx context.Context) error {
			digest, _, err := imageDigest(mustCacheDir(&opts.Options), abs)
			if err != nil {
				return err
			}
			if digest != m.Output.SHA256 {
				return fmt.Errorf("%s has sha256 %s, but its manifest records %s: the image changed since it was built", abs, digest, m.Output.SHA256)
			}
			return nil
		}},
		{"prepare overlay", func(ctx context.Context) error {
			var err error
			if work, err = os.MkdirTemp("", "deskvm-check-"+name+"-"); err != nil {
				return err
			}
			cleanups.Push("check directory "+work, func(context.Context) error { return os.RemoveAll(work) })
			disk = filepath.Join(work, "overlay.qcow2")
			return runTool(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", abs, disk)
		}},
		{"make seed", func(ctx context.Context) error {
			var err error
			if key, err = NewKeyPair("deskvm-check-" + name); err != nil {
				return err
			}
			if hostKey, err = NewKeyPair("deskvm-check-host"); err != nil {
				return err
			}
			r := &Recipe{Hostname: hostname}
			_, err = writeSeed(work, seedArgs(r, newInstanceID(name), user, []string{key.Public}, hostKey))
			return err
		}},
		{"boot", func(ctx context.Context) error {
			spec := bootSpec{
				Name: name + "-check", Disk: disk, Firmware: m.Boot.Firmware, MemoryMiB: m.Boot.MemoryMiB, CPUs: m.Boot.CPUs,
				SeedISO: filepath.Join(work, "seed.iso"), User: user, HostKey: hostKey.PrivateKey.PublicKey(), Work: work, Accel: opts.Accel, Log: opts.Log,
			}
			if m.Boot.EFIVars != "" {
				spec.VarsTemplate = filepath.Join(out.Dir, m.Boot.EFIVars)
			}
			var err error
			if g, err = bootGuest(ctx, spec, key.PrivateKey, &cleanups); err != nil {
				return err
			}
			opts.note("qemu pid %d, ssh on %s, serial log %s", g.proc.Pid(), g.addr, g.serialLog)
			return nil
		}},
		{"wait for ssh", func(ctx context.Context) error { return g.waitSSH(ctx, timeout) }},
		{"wait for cloud-init", func(ctx context.Context) error { return waitCloudInit(ctx, g, timeout) }},
		{"health check", func(ctx context.Context) error {
			var err error
			if res.Output, err = runHealth(ctx, g, &health); err != nil {
				return err
			}
			out, err := g.run(ctx, "cat /etc/machine-id; cat /var/lib/cloud/data/instance-id", time.Minute)
			if err != nil {
				return err
			}
			lines := strings.SplitN(strings.TrimSpace(out), "\n", 2)
			res.MachineID = strings.TrimSpace(lines[0])
			if len(lines) > 1 {
				res.InstanceID = strings.TrimSpace(lines[1])
			}
			return nil
		}},
		{"stop", func(ctx context.Context) error {
			// The overlay is thrown away: no need for a clean shutdown.
			g.closeSSH()
			g.proc.Kill()
			return nil
		}},
	}
	if err := runSteps(ctx, steps, &res.Steps, opts.Progress, log); err != nil {
		return nil, fmt.Errorf("check %s: %w", imagePath, err)
	}
	return res, nil
}

func mustCacheDir(o *Options) string {
	d, err := o.cacheDir()
	if err != nil {
		return os.TempDir()
	}
	return d
}
