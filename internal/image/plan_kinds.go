package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/image/fetch"
	"github.com/deskvm/deskvm/internal/image/macos"
	"github.com/deskvm/deskvm/internal/image/unattend"
	"github.com/deskvm/deskvm/internal/image/windows"
)

// lookupInput resolves an {url, sha256} or {path} input without
// downloading: a path is hashed, a URL is found in the cache or not.
func lookupInput(ctx context.Context, f *fetch.Fetcher, src *Source, key string, in *Input) (PlannedInput, fetch.Result, bool, error) {
	p := PlannedInput{Name: key, Source: in.URL, SHA256: in.SHA256}
	fs := fetch.Source{URL: in.URL, SHA256: in.SHA256}
	if in.Path != "" {
		fs = fetch.Source{Path: src.ResolvePath(in.Path), SHA256: in.SHA256}
		p.Source = fs.Path
	}
	res, ok, err := f.Lookup(ctx, fs)
	if err != nil {
		if in.Path != "" {
			return p, res, false, src.Problem(key+".path", "%v", err)
		}
		return p, res, false, fmt.Errorf("%s: %w", key, err)
	}
	if ok {
		p.Cached, p.Path, p.SHA256 = true, res.Path, res.SHA256
	}
	return p, res, ok, nil
}

// checkAutomation loads the recipe's automation script the way
// `deskvm automate --check` does; a script that does not load stops the
// plan and the build before anything boots (the reference swallowed the
// runner's failure).
func checkAutomation(r *Recipe, src *Source, password string) error {
	_, err := loadAutomation(r, src, password)
	return err
}

// loadAutomation loads the recipe's automation script (nil without
// automationConfig) with ${PASSWORD} the recipe's password, a secret.
func loadAutomation(r *Recipe, src *Source, password string) (*automation.Script, error) {
	if r.AutomationConfig == "" {
		return nil, nil
	}
	path := src.ResolvePath(r.AutomationConfig)
	s, err := automation.Load(path, automation.LoadOptions{Vars: map[string]string{"PASSWORD": password}})
	if err != nil {
		return nil, fmt.Errorf("automationConfig %s: %w", path, err)
	}
	return s, nil
}

// windowsSpec is the windows.Spec of a recipe with its media resolved.
func windowsSpec(r *Recipe, password, winISO, virtioISO, outDir, accel string, sshPort, vncDisplay int) windows.Spec {
	return windows.Spec{
		Name: r.Name, WindowsISO: winISO, VirtioISO: virtioISO, Edition: r.Edition, ImageIndex: r.ImageIndex,
		Username: r.Username, Password: password, ComputerName: r.ComputerName, TimeZone: r.Timezone,
		Locale: r.Locale, ProductKey: string(r.ProductKey), MemoryMiB: r.Memory.MiB, CPUs: r.CPUs,
		EnableTPM: *r.EnableTPM, SecureBoot: *r.SecureBoot, AnswerMedia: r.AnswerMedia,
		SSHPort: sshPort, RDPPort: r.RDPPort, VNCDisplay: vncDisplay, Accel: accel, OutDir: outDir,
	}
}

// makeWindowsPlan reads both ISOs (no mount, no download: URL inputs
// must be in the cache), selects the edition, writes autounattend.xml
// and the answer media into dir and returns the QEMU command line.
func makeWindowsPlan(ctx context.Context, r *Recipe, src *Source, dir string, opts Options, p *Plan) error {
	var isos [2]string
	for i, in := range []struct {
		key string
		v   *Input
	}{{"windowsIso", r.WindowsISO}, {"virtioDriversIso", r.VirtioDriversISO}} {
		pi, res, ok, err := lookupInput(ctx, opts.Fetcher, src, in.key, in.v)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("plan %s: %s %s is not downloaded yet; the plan reads the ISO (editions, driver folders), so fetch it first (deskvm image build downloads it) or give {path}", r.Name, in.key, in.v.URL)
		}
		p.Inputs = append(p.Inputs, pi)
		isos[i] = res.Path
	}
	password, err := r.password(src)
	if err != nil {
		return err
	}
	if err := checkAutomation(r, src, password); err != nil {
		return err
	}
	port := r.SSHPort
	if port == 0 {
		port = 2222 // a free port is picked at build time
	}
	wp, err := windows.Prepare(windowsSpec(r, password, isos[0], isos[1], dir, p.Accel, port, 0))
	if err != nil {
		if r.Edition != "" {
			return src.Problem("edition", "%v", err)
		}
		return fmt.Errorf("plan %s: %w", r.Name, err)
	}
	p.Files = append(p.Files, filepath.Join(dir, unattend.FileName), wp.AnswerPath)
	p.Edition = fmt.Sprintf("%d %q (build %d, drivers %s)", wp.Edition.Index, wp.Edition.Name, wp.Edition.Build, wp.WindowsVersion)
	argv, err := wp.Machine.Args()
	if err != nil {
		return err
	}
	p.Argv = append([]string{wp.Machine.BinaryPath()}, argv...)
	p.Steps = append(p.Steps, windowsStepNames(r)...)
	return nil
}

// makeMacOSPlan checks what can be checked without Apple's service: a
// BaseSystem.dmg file's UDIF trailer and sha256, the OpenCore image, the
// automation script; and returns the QEMU command line with the disks in
// OpenCore's order.
func makeMacOSPlan(ctx context.Context, r *Recipe, src *Source, dir string, opts Options, p *Plan) error {
	b := r.BaseSystem
	installer := filepath.Join(dir, r.Name+".recovery.img")
	switch {
	case b.Release != "":
		rel, err := macos.LookupRelease(b.Release)
		if err != nil {
			return src.Problem("baseSystem.release", "%v", err)
		}
		p.Inputs = append(p.Inputs, PlannedInput{Name: "baseSystem", Source: fmt.Sprintf("Apple recovery service, %s (board %s); BaseSystem.chunklist verified chunk by chunk on download", rel.Name, rel.BoardID)})
	default:
		in := &Input{URL: b.URL, SHA256: b.SHA256, Path: b.Path}
		pi, res, ok, err := lookupInput(ctx, opts.Fetcher, src, "baseSystem", in)
		if err != nil {
			return err
		}
		p.Inputs = append(p.Inputs, pi)
		if ok {
			f, err := os.Open(res.Path)
			if err != nil {
				return err
			}
			_, err = macos.CheckUDIF(f, res.Size)
			f.Close()
			if err != nil {
				return src.Problem("baseSystem", "%s: %v", res.Path, err)
			}
		}
	}
	oc := src.ResolvePath(r.OpenCore.Path)
	if _, err := qemuImgInfo(ctx, oc); err != nil {
		return src.Problem("openCore.path", "%v", err)
	}
	p.Inputs = append(p.Inputs, PlannedInput{Name: "openCore", Source: oc, Path: oc, Cached: true})
	password, err := r.password(src)
	if err != nil {
		return err
	}
	if err := checkAutomation(r, src, password); err != nil {
		return err
	}
	fw, _ := hostFirmware()
	port := r.SSHPort
	if port == 0 {
		port = 2222
	}
	m, err := macos.Machine(macos.MachineSpec{
		Name: r.Name, CPUs: r.CPUs, MemoryMiB: r.Memory.MiB, Accel: p.Accel,
		OVMFCode: fw.Code, OVMFVars: filepath.Join(dir, r.Name+".efivars.fd"),
		OpenCore: oc, Installer: installer, Target: filepath.Join(dir, r.Name+".qcow2"),
		SSHPort: port, QMPPath: filepath.Join(dir, r.Name+".qmp"),
	})
	if err != nil {
		return err
	}
	argv, err := m.Args()
	if err != nil {
		return err
	}
	p.Argv = append([]string{m.BinaryPath()}, argv...)
	p.Steps = []string{"fetch recovery image", "verify chunklist and UDIF", "make recovery disk", "prepare disk", "boot OpenCore",
		"run automationConfig (Setup Assistant)", "wait for ssh", "health check", "power off", "compact", "write outputs"}
	p.Notes = append(p.Notes, "macOS builds are planned only: deskvm image build refuses kind macos until the Setup Assistant automation has run against a real macOS screen")
	return nil
}
