package image

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/automation/live"
	"github.com/deskvm/deskvm/internal/image/fetch"
	"github.com/deskvm/deskvm/internal/image/windows"
	"github.com/deskvm/deskvm/internal/ocr"
	"github.com/deskvm/deskvm/internal/qemu"
	"github.com/deskvm/deskvm/internal/vnc"
)

// DefaultPressKeysFor is how long Enter is sent after a Windows build VM
// starts: the CD's "Press any key to boot from CD or DVD" shows a few
// seconds after the firmware starts and waits about five; an Enter after
// it lands on Setup screens the answer file skips.
const DefaultPressKeysFor = 30 * time.Second

// windowsBuild is the typed state the Windows steps share.
type windowsBuild struct {
	buildCommon
	work      string // OUT/.NAME.build-*
	sockDir   string // short directory for the QMP and swtpm sockets
	winISO    fetch.Result
	virtioISO fetch.Result
	password  string
	plan      *windows.Plan
	serialLog string
	proc      *qemu.Process
	screen    *screenKeeper
	ssh       *winSSH
	script    *automation.Script // the recipe's automationConfig, loaded
	pressDone chan struct{}      // closed when the press-any-key phase ends
}

// windowsStepNames are the steps of a Windows build, in order.
func windowsStepNames(r *Recipe) []string {
	var names []string
	for _, s := range (&windowsBuild{buildCommon: buildCommon{r: r}}).stepList() {
		names = append(names, s.Name)
	}
	return names
}

func newWindowsBuild(ctx context.Context, r *Recipe, src *Source, opts Options) (*windowsBuild, error) {
	b := &windowsBuild{buildCommon: newBuildCommon(r, src, opts)}
	var err error
	if b.recipeDigest, err = r.Digest(src); err != nil {
		return nil, err
	}
	code := windows.OVMFCode
	if *r.SecureBoot {
		code = windows.OVMFCodeSecure
	}
	if b.tools, err = toolVersions(ctx, opts.Version, "uefi", code); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *windowsBuild) stepList() []Step {
	return []Step{
		{"fetch inputs", b.stepFetch},
		{"answer media", b.stepAnswer},
		{"prepare disk", b.stepDisk},
		{"start swtpm", b.stepTPM},
		{"boot", b.stepBoot},
		{"wait for ssh", b.stepWaitSSH},
		{"health check", b.stepHealth},
		{"power off", b.stepPowerOff},
		{"compact", b.stepCompact},
		{"write outputs", b.stepOutputs},
	}
}

// inputRecords names both ISOs by digest (fetching them when fetchIt).
func (b *windowsBuild) inputRecords(ctx context.Context, fetchIt bool) error {
	b.inputs = nil
	for _, in := range []struct {
		key string
		v   *Input
		res *fetch.Result
	}{{"windowsIso", b.r.WindowsISO, &b.winISO}, {"virtioDriversIso", b.r.VirtioDriversISO, &b.virtioISO}} {
		rec := InputRecord{Name: in.key, URL: in.v.URL, SHA256: in.v.SHA256}
		fs := fetch.Source{URL: in.v.URL, SHA256: in.v.SHA256}
		if in.v.Path != "" {
			fs = fetch.Source{Path: b.src.ResolvePath(in.v.Path), SHA256: in.v.SHA256}
			rec.Path = fs.Path
		}
		if fetchIt || in.v.Path != "" {
			var res fetch.Result
			var err error
			if fetchIt {
				res, err = b.opts.Fetcher.Fetch(ctx, in.key, fs)
			} else {
				var ok bool
				res, ok, err = b.opts.Fetcher.Lookup(ctx, fs)
				if err == nil && !ok {
					err = fmt.Errorf("%s is not available", fs.Path)
				}
			}
			if err != nil {
				if in.v.Path != "" {
					return b.src.Problem(in.key+".path", "%v", err)
				}
				return fmt.Errorf("%s: %w", in.key, err)
			}
			*in.res = res
			rec.SHA256, rec.Size = res.SHA256, res.Size
		}
		b.inputs = append(b.inputs, rec)
	}
	if b.r.PasswordFile != "" {
		pw, err := b.r.password(b.src)
		if err != nil {
			return err
		}
		// A changed password file changes the image: its digest (not
		// the password) is an input.
		b.inputs = append(b.inputs, InputRecord{Name: "passwordFile", SHA256: sha256Hex([]byte("deskvm-secret\x00" + pw))})
	}
	if b.r.AutomationConfig != "" {
		// The script drives Setup: a changed script changes the image.
		path := b.src.ResolvePath(b.r.AutomationConfig)
		data, err := os.ReadFile(path)
		if err != nil {
			return b.src.Problem("automationConfig", "%v", err)
		}
		b.inputs = append(b.inputs, InputRecord{Name: "automationConfig", Path: path, SHA256: sha256Hex(data)})
	}
	return nil
}

func (b *windowsBuild) run(ctx context.Context) (*Result, error) {
	return b.runPipeline(ctx, b.inputRecords, b.stepList)
}

func (b *windowsBuild) stepFetch(ctx context.Context) error {
	work, err := os.MkdirTemp(b.out.Dir, "."+b.r.Name+".build-")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	b.work = work
	b.cleanups.Push("work directory "+work, func(context.Context) error { return os.RemoveAll(work) })
	// Unix socket paths must stay under 108 bytes.
	if b.sockDir, err = os.MkdirTemp("", "deskvm-win-"); err != nil {
		return err
	}
	sd := b.sockDir
	b.cleanups.Push("socket directory", func(context.Context) error { return os.RemoveAll(sd) })
	if err := b.inputRecords(ctx, true); err != nil {
		return err
	}
	if b.password, err = b.r.password(b.src); err != nil {
		return err
	}
	// Loaded (and so checked) before anything boots, as deskvm image
	// plan does; ${PASSWORD} is the recipe's password, a secret.
	b.script, err = loadAutomation(b.r, b.src, b.password)
	return err
}

// stepAnswer reads both ISOs, selects the edition and writes
// autounattend.xml and the answer media into the work directory.
func (b *windowsBuild) stepAnswer(ctx context.Context) error {
	port := b.r.SSHPort
	if port == 0 {
		var err error
		if port, err = qemu.FreeLocalPort(); err != nil {
			return err
		}
	}
	vnc, err := qemu.FreeLocalPort()
	if err != nil {
		return err
	}
	if vnc <= 5900 {
		vnc = 5900 + 100 + vnc%1000
	}
	accel := b.opts.Accel
	if accel == "" {
		accel = qemu.DetectAccel()
	}
	s := windowsSpec(b.r, b.password, b.winISO.Path, b.virtioISO.Path, b.work, accel, port, vnc-5900)
	p, err := windows.Prepare(s)
	if err != nil {
		if b.r.Edition != "" && strings.Contains(err.Error(), "edition") {
			return b.src.Problem("edition", "%v", err)
		}
		return err
	}
	if p.TPMDir != "" {
		p.TPMSocket = filepath.Join(b.sockDir, "tpm.sock")
		p.Machine.TPMSocket = p.TPMSocket
	}
	p.Machine.QMP = qemu.QMP{Path: filepath.Join(b.sockDir, "qmp.sock")}
	b.serialLog = filepath.Join(b.work, "serial.log")
	p.Machine.SerialLog = b.serialLog
	b.plan = p
	b.opts.note("edition %d %q, drivers %s, answer media %s", p.Edition.Index, p.Edition.Name, p.WindowsVersion, filepath.Base(p.AnswerPath))
	return nil
}

func (b *windowsBuild) stepDisk(ctx context.Context) error {
	if err := qemu.CopyVars(b.plan.VarsTemplate, b.plan.Vars); err != nil {
		return err
	}
	return runTool(ctx, "qemu-img", "create", "-q", "-f", "qcow2", b.plan.Disk, strconv.FormatUint(b.r.DiskSize.Bytes(), 10))
}

// stepTPM starts swtpm (TPM 2.0) with its state in the work directory;
// it is moved to NAME.tpm/ with the image.
func (b *windowsBuild) stepTPM(ctx context.Context) error {
	p := b.plan
	if p.TPMDir == "" {
		return nil
	}
	if err := os.MkdirAll(p.TPMDir, 0o700); err != nil {
		return err
	}
	// Not the step's context: swtpm lives until the cleanup stops it.
	cmd := qemu.SwtpmCommand(context.WithoutCancel(ctx), p.TPMDir, p.TPMSocket)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("swtpm: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	b.cleanups.Push("swtpm (pid "+strconv.Itoa(cmd.Process.Pid)+")", func(ctx context.Context) error {
		select {
		case <-done: // exits by itself when QEMU disconnects
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		return nil
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(p.TPMSocket); err == nil {
			return nil
		}
		select {
		case err := <-done:
			return fmt.Errorf("swtpm exited: %v %s", err, strings.TrimSpace(stderr.String()))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("swtpm made no control socket within 10s")
		}
	}
}

// stepBoot starts QEMU (kept running across Setup's reboots: no
// -no-reboot) and answers "Press any key to boot from CD or DVD" with
// Enter through QMP for PressKeysFor.
func (b *windowsBuild) stepBoot(ctx context.Context) error {
	m := b.plan.Machine
	p, err := qemu.Start(ctx, m, b.opts.Log)
	if errors.Is(err, qemu.ErrPortInUse) && b.r.SSHPort != 0 {
		return b.src.Problem("sshPort", "port %d on 127.0.0.1 is in use; pick another or leave sshPort out for a free one", b.r.SSHPort)
	}
	if err != nil {
		return err
	}
	b.proc = p
	b.cleanups.Push("qemu (pid "+strconv.Itoa(p.Pid())+")", func(context.Context) error {
		if b.ssh != nil {
			b.ssh.close()
		}
		p.Kill()
		return nil
	})
	b.screen = &screenKeeper{qmp: p.QMP, path: filepath.Join(b.work, "screen.png")}
	press := b.opts.PressKeysFor
	if press == 0 {
		press = DefaultPressKeysFor
	}
	b.pressDone = make(chan struct{})
	if press > 0 {
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		b.cleanups.Push("press any key", func(context.Context) error { cancel(); return nil })
		go func() {
			defer close(b.pressDone)
			n, err := windows.PressAnyKey(pctx, p.QMP, 500*time.Millisecond, press)
			b.opts.log().Info("press any key: Enter sent", "times", n, "err", err)
		}()
	} else {
		close(b.pressDone)
	}
	port := 0
	for _, f := range m.NICs[0].Forwards {
		if f.GuestPort == 22 {
			port = f.HostPort
		}
	}
	b.ssh = &winSSH{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), user: b.r.Username, password: b.password,
		knownHosts: filepath.Join(b.work, "known_hosts"), log: b.opts.log()}
	b.opts.note("qemu pid %d, vnc 127.0.0.1:%d, ssh on %s", p.Pid(), 5900+m.VNC.Display, b.ssh.addr)
	return nil
}

// stepWaitSSH waits across Setup's reboots until SSH accepts the
// account from the answer file, and, with automationConfig, until the
// script (started after the press-any-key phase, while SSH is polled)
// has finished. QEMU exiting first, installTimeout passing or a failed
// script step fail the build, with the last screen saved as
// OUT/NAME.failed-screen.png.
func (b *windowsBuild) stepWaitSSH(ctx context.Context) error {
	timeout := b.r.InstallTimeout.Duration
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var (
		auto     <-chan error // the script's result; nil once received
		autoBusy bool
	)
	if b.script != nil {
		actx, cancel := context.WithCancel(ctx)
		ch := make(chan error, 1)
		go func() { ch <- b.runAutomation(actx) }()
		auto, autoBusy = ch, true
		defer func() {
			// A build that fails otherwise stops the script and waits
			// for its report before the cleanup stops QEMU.
			cancel()
			if autoBusy {
				<-ch
			}
		}()
	}
	// Keep the last screen: after QEMU exits it cannot be asked. Apart
	// from the SSH attempts, which can each hang for many seconds.
	sctx, stopShots := context.WithCancel(ctx)
	shotsDone := make(chan struct{})
	go func() {
		defer close(shotsDone)
		tick := time.NewTicker(screenEvery)
		defer tick.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
				b.screen.take(sctx)
			}
		}
	}()
	defer func() { stopShots(); <-shotsDone }()
	// SSH is tried in the background (an attempt can hang for many
	// seconds), so that a failed script or QEMU's exit is seen at once.
	pctx, stopPoll := context.WithCancel(ctx)
	sshCh := make(chan error, 1)
	polling := true
	poll := func() { go func() { sshCh <- b.ssh.connect(pctx) }() }
	poll()
	defer func() {
		stopPoll()
		if polling {
			<-sshCh
		}
	}()
	var last error
	sshUp := false
	for {
		var retry <-chan time.Time
		if !polling && !sshUp {
			retry = time.After(3 * time.Second)
		}
		select {
		case err := <-sshCh:
			polling = false
			if err != nil {
				last = err
				if errors.Is(err, automation.ErrHostKeyChanged) {
					return err
				}
				continue
			}
			sshUp = true
			if !autoBusy {
				return nil
			}
			b.opts.note("ssh answers; waiting for the automation script to finish")
		case <-retry:
			polling = true
			poll()
		case err := <-auto:
			auto, autoBusy = nil, false
			if err != nil {
				select {
				case <-b.proc.Exited():
					return fmt.Errorf("qemu exited while the automation script ran (%s); %s; serial console ends:\n%s", orNone(b.proc.Stderr()), b.saveScreen(false), tailLines(b.serialLog, 15))
				default:
				}
				return fmt.Errorf("%w; %s", err, b.saveAutomationScreen(err))
			}
			if sshUp {
				return nil
			}
		case <-b.proc.Exited():
			return fmt.Errorf("qemu exited before ssh answered (%s); %s; serial console ends:\n%s", orNone(b.proc.Stderr()), b.saveScreen(false), tailLines(b.serialLog, 15))
		case <-deadline.C:
			if sshUp {
				return fmt.Errorf("the automation script did not finish within installTimeout %s (ssh answered); %s", timeout, b.saveScreen(true))
			}
			return fmt.Errorf("ssh %s@%s did not answer within installTimeout %s (last: %v); %s; serial console ends:\n%s", b.r.Username, b.ssh.addr, timeout, last, b.saveScreen(true), tailLines(b.serialLog, 15))
		case <-ctx.Done():
			return fmt.Errorf("waiting for ssh: %w; %s", ctx.Err(), b.saveScreen(true))
		}
	}
}

// runAutomation runs the recipe's automationConfig against the build
// VM's VNC display once the press-any-key phase is over, with the same
// runner as deskvm automate --vnc. Its debug output (screenshots, OCR,
// automation.log, report.html; secrets redacted) goes to the work
// directory and is moved to OUT/NAME.automation/ when the script fails.
func (b *windowsBuild) runAutomation(ctx context.Context) error {
	select {
	case <-b.pressDone:
	case <-ctx.Done():
		return ctx.Err()
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.plan.Machine.VNC.Port()))
	log := b.opts.log()
	pool := ocr.NewProcessPool(ocr.TesseractOptions{})
	defer pool.Close()
	go pool.Warm()
	debug := filepath.Join(b.work, "automation")
	opts := automation.Options{
		Dial:           live.DialVNC(addr, vnc.Options{Logger: log, Shared: true}),
		Eye:            &live.Eye{Engine: ocr.NewReader(pool)},
		Logger:         log,
		Progress:       noteWriter{&b.opts},
		DebugDir:       debug,
		KnownHostsFile: b.ssh.knownHosts,
	}
	b.opts.note("automation %s: %d steps on %s", b.script.File, len(b.script.Steps), addr)
	res, err := automation.Run(ctx, b.script, opts)
	if err == nil {
		b.opts.note("automation succeeded in %s", res.Duration.Round(time.Second))
		return nil
	}
	kept := b.out.AutomationDir()
	msg := err.Error()
	os.RemoveAll(kept)
	if rerr := os.Rename(debug, kept); rerr == nil {
		msg = strings.ReplaceAll(msg, debug, kept)
	} else {
		kept = "not kept: " + rerr.Error()
	}
	return &automationError{msg: fmt.Sprintf("automationConfig %s: %s\ndebug output: %s", b.script.File, msg, kept), err: err}
}

// automationError is a failed automationConfig run; it wraps the
// runner's *automation.StepError (or HealthError, or the cause).
type automationError struct {
	msg string
	err error
}

func (e *automationError) Error() string { return e.msg }
func (e *automationError) Unwrap() error { return e.err }

// noteWriter passes the runner's progress lines on as build notes.
type noteWriter struct{ o *Options }

func (w noteWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.o.note("automation: %s", l)
	}
	return len(p), nil
}

// screenEvery is how often the build keeps the screen while it waits:
// a guest that powers off a few seconds after the firmware (a missed CD
// prompt under TCG takes about 14 s) leaves its last screen behind.
const screenEvery = 3 * time.Second

func orNone(s string) string {
	if s == "" {
		return "no message"
	}
	return s
}

// saveAutomationScreen saves the screen the failed script step read
// (the runner's screenshot, which does not depend on QEMU still running)
// as OUT/NAME.failed-screen.png, or the screen now when there is none.
func (b *windowsBuild) saveAutomationScreen(err error) string {
	var se *automation.StepError
	if errors.As(err, &se) && se.Screenshot != "" {
		path := strings.ReplaceAll(se.Screenshot, filepath.Join(b.work, "automation"), b.out.AutomationDir())
		data, rerr := os.ReadFile(path)
		if rerr == nil {
			rerr = writeFileAtomic(b.out.FailedScreen(), data, 0o644)
		}
		if rerr == nil {
			return "the failed step's screen is saved as " + b.out.FailedScreen()
		}
	}
	return b.saveScreen(true)
}

// saveScreen copies the last screen (taken now when QEMU still runs)
// into the output directory and says where it is.
func (b *windowsBuild) saveScreen(now bool) string {
	if now {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b.screen.take(ctx)
		cancel()
	}
	src, at := b.screen.last()
	if src == "" {
		return "no screenshot could be taken"
	}
	data, err := os.ReadFile(src)
	if err == nil {
		err = writeFileAtomic(b.out.FailedScreen(), data, 0o644)
	}
	if err != nil {
		return "the last screenshot was not saved: " + err.Error()
	}
	return fmt.Sprintf("the last screen (%s) is saved as %s", at.Format(time.TimeOnly), b.out.FailedScreen())
}

func (b *windowsBuild) stepHealth(ctx context.Context) error {
	h := b.r.Health
	var last error
	for attempt := 0; attempt <= h.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Second):
			}
		}
		out, err := b.ssh.run(ctx, h.Command, h.Timeout.Duration)
		if err == nil && h.Expect != "" && !strings.Contains(out, h.Expect) {
			err = fmt.Errorf("output does not contain %q: %q", h.Expect, truncate(out, 300))
		}
		if err == nil {
			b.opts.log().Info("health check passed", "command", h.Command, "output", truncate(strings.TrimSpace(out), 500))
			return nil
		}
		last = err
	}
	return fmt.Errorf("health check %q failed %d time(s), last: %w", h.Command, h.Retries+1, last)
}

// stepPowerOff presses the ACPI power button (Windows shuts down on it),
// again every 30 s, and kills QEMU as the last resort (an error).
func (b *windowsBuild) stepPowerOff(ctx context.Context) error {
	b.ssh.close()
	deadline := time.After(5 * time.Minute)
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		b.proc.QMP.Powerdown(pctx)
		cancel()
		select {
		case <-b.proc.Exited():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			b.proc.Kill()
			return errors.New("the guest did not power off within 5m; qemu was killed (the disk may not be clean)")
		case <-time.After(30 * time.Second):
		}
	}
}

func (b *windowsBuild) stepCompact(ctx context.Context) error {
	return b.compactDisk(ctx, b.plan.Disk)
}

func (b *windowsBuild) stepOutputs(ctx context.Context) error {
	m, err := b.newManifest(ctx)
	if err != nil {
		return err
	}
	r := b.r
	m.Boot = BootRecord{Firmware: "uefi", MemoryMiB: r.Memory.MiB, CPUs: r.CPUs, Username: r.Username, Health: *r.Health,
		SecureBoot: *r.SecureBoot, Edition: fmt.Sprintf("%d %s", b.plan.Edition.Index, b.plan.Edition.Name)}
	// Everything but the manifest first; the manifest last.
	if err := os.Rename(b.plan.Vars, b.out.EFIVars()); err != nil {
		return fmt.Errorf("uefi vars: %w", err)
	}
	m.Boot.EFIVars = filepath.Base(b.out.EFIVars())
	if b.plan.TPMDir != "" {
		os.RemoveAll(b.out.TPMDir())
		if err := os.Rename(b.plan.TPMDir, b.out.TPMDir()); err != nil {
			return fmt.Errorf("tpm state: %w", err)
		}
		m.Boot.TPM = filepath.Base(b.out.TPMDir()) + "/"
	}
	os.Remove(b.out.FailedScreen())
	os.RemoveAll(b.out.AutomationDir())
	return b.publish(m)
}

// screenKeeper keeps the latest QMP screendump.
type screenKeeper struct {
	qmp    *qemu.QMPClient
	path   string
	taking sync.Mutex // one screendump at a time (one temporary file)
	mu     sync.Mutex
	ok     bool
	at     time.Time
}

func (s *screenKeeper) take(ctx context.Context) {
	if s == nil || s.qmp == nil {
		return
	}
	s.taking.Lock()
	defer s.taking.Unlock()
	tmp := s.path + ".tmp"
	if _, err := s.qmp.Execute(ctx, "screendump", map[string]any{"filename": tmp, "format": "png"}); err != nil {
		return
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return
	}
	s.mu.Lock()
	s.ok, s.at = true, time.Now()
	s.mu.Unlock()
}

func (s *screenKeeper) last() (string, time.Time) {
	if s == nil {
		return "", time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ok {
		return "", time.Time{}
	}
	return s.path, s.at
}

// winSSH is the build's SSH session into the guest, as the answer
// file's account with its password; the host key is remembered on first
// contact and required from then on.
type winSSH struct {
	addr, user, password, knownHosts string
	log                              *slog.Logger
	mu                               sync.Mutex
	client                           *ssh.Client
}

func (w *winSSH) connect(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.client != nil {
		return nil
	}
	cfg := &ssh.ClientConfig{
		User: w.user,
		Auth: []ssh.AuthMethod{ssh.Password(w.password), ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			a := make([]string, len(qs))
			for i := range a {
				a[i] = w.password
			}
			return a, nil
		})},
		HostKeyCallback:   automation.TrustOnFirstUse(w.knownHosts, w.log),
		HostKeyAlgorithms: automation.HostKeyAlgorithms(w.knownHosts, w.addr),
		Timeout:           20 * time.Second,
	}
	c, err := dialSSH(ctx, w.addr, cfg)
	if err != nil {
		return err
	}
	w.client = c
	return nil
}

func (w *winSSH) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.client != nil {
		w.client.Close()
		w.client = nil
	}
}

// run runs cmd once (reconnecting if needed) within timeout.
func (w *winSSH) run(ctx context.Context, cmd string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := w.connect(ctx); err != nil {
		return "", err
	}
	w.mu.Lock()
	c := w.client
	w.mu.Unlock()
	sess, err := c.NewSession()
	if err != nil {
		w.close()
		return "", fmt.Errorf("ssh session: %w", err)
	}
	defer sess.Close()
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	defer stop()
	out, err := sess.CombinedOutput(cmd)
	if err != nil {
		if ctx.Err() != nil {
			return string(out), fmt.Errorf("command %q: %w", cmd, ctx.Err())
		}
		return string(out), fmt.Errorf("command %q: %w: %s", cmd, err, truncate(strings.TrimSpace(string(out)), 300))
	}
	return string(out), nil
}
