package automation

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/deskvm/deskvm/internal/keysym"
)

// Options are what Run needs besides the script.
type Options struct {
	Dial Dialer
	Eye  Eye
	// HealthCheck runs the script's health_check; nil means the SSH check
	// (CheckSSH) with KnownHostsFile.
	HealthCheck    func(ctx context.Context, hc *HealthCheck) (HealthResult, error)
	KnownHostsFile string
	// Logger receives the detailed log (automation.log); nil discards.
	// Run redacts secrets from everything it logs.
	Logger *slog.Logger
	// Progress receives one line per step for a person; nil discards.
	Progress io.Writer
	// DebugDir, when set, receives per-step screenshots, annotated
	// screenshots, OCR JSON and report.html.
	DebugDir string
	// FailureDir receives the screenshot of a failed step when DebugDir is
	// empty (the CLI uses a temporary directory).
	FailureDir string
	// ScreenshotDir is where screenshot: NAME steps write when DebugDir is
	// empty; default the current directory.
	ScreenshotDir string
	// StepRetries bounds how often one step is retried after a dropped
	// connection (default 3); Redials bounds dial attempts each time
	// (default 5), RedialDelay spaces them (default 1 s).
	StepRetries int
	Redials     int
	RedialDelay time.Duration
	// Settle is how long the screen must be quiet after a change before a
	// wait reads it (default 40 ms, at most 6 times that in all): screens
	// are often drawn in several updates, and reading a half-drawn one
	// costs a whole OCR pass.
	Settle time.Duration
	// ClickStill is how long the screen must stay unchanged after a click
	// target was found before the click is sent (default 250 ms); see
	// clickOn.
	ClickStill time.Duration
}

// ErrMaxInstallTime is the cause when max_install_time ran out.
var ErrMaxInstallTime = errors.New("max_install_time exceeded")

// StepError is the failure of one step; its message names the step's
// place in the script, and for waits what was on the screen.
type StepError struct {
	Step       Step
	Err        error
	ScreenText string // OCR text of the last screen read, redacted
	Screenshot string // path of the saved screenshot, if any
	red        *Redactor
}

func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v", StepLabel(e.Step), e.Err)
	if e.Screenshot != "" {
		fmt.Fprintf(&b, "\nscreenshot: %s", e.Screenshot)
	}
	if e.ScreenText != "" {
		b.WriteString("\nscreen text:\n")
		for _, l := range strings.Split(e.ScreenText, "\n") {
			b.WriteString("  | " + l + "\n")
		}
	} else if e.Screenshot != "" {
		b.WriteString("\nscreen text: (none recognised)")
	}
	return e.red.String(strings.TrimRight(b.String(), "\n"))
}

func (e *StepError) Unwrap() error { return e.Err }

// Line is the script line of the failed step.
func (e *StepError) Line() int { return e.Step.Position().Line }

// HealthError is a failed health check.
type HealthError struct {
	Check *HealthCheck
	Err   error
}

func (e *HealthError) Error() string {
	return fmt.Sprintf("%s: health_check: %v", e.Check.Pos, e.Err)
}
func (e *HealthError) Unwrap() error { return e.Err }

// Result is what happened in a run.
type Result struct {
	Steps       []*StepRecord
	HealthCheck *HealthRecord
	Started     time.Time
	Duration    time.Duration
	Err         error
	ReportPath  string
}

type runner struct {
	s       *Script
	opts    Options
	log     *slog.Logger
	red     *Redactor
	sess    Session
	rec     *Recorder
	reading struct {
		seq   uint64
		valid bool
		r     *Reading
	}
	// recent remembers readings by image content: a blinking cursor makes
	// the screen alternate between two pictures, and neither needs OCR twice.
	recent []cachedReading
	// per step: what the step looked at, for the debug output
	cur *StepRecord
}

// Run executes the script's steps and health check. It returns an error
// (a *StepError, *HealthError, or the context's cause) when the run did
// not succeed; the Result is always filled, and the debug output is
// written in either case.
func Run(ctx context.Context, s *Script, opts Options) (*Result, error) {
	if opts.StepRetries <= 0 {
		opts.StepRetries = 3
	}
	if opts.Redials <= 0 {
		opts.Redials = 5
	}
	if opts.RedialDelay <= 0 {
		opts.RedialDelay = time.Second
	}
	if opts.Settle <= 0 {
		opts.Settle = 40 * time.Millisecond
	}
	if opts.ClickStill <= 0 {
		opts.ClickStill = 250 * time.Millisecond
	}
	red := NewRedactor(s.Secrets)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.DebugDir != "" {
		if err := os.MkdirAll(opts.DebugDir, 0o755); err != nil {
			return &Result{Err: err}, fmt.Errorf("debug directory: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(opts.DebugDir, "automation.log"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return &Result{Err: err}, fmt.Errorf("debug log: %w", err)
		}
		defer f.Close()
		log = slog.New(teeHandler{log.Handler(), slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})})
	}
	log = slog.New(red.Handler(log.Handler()))
	r := &runner{s: s, opts: opts, log: log, red: red}
	r.rec = newRecorder(opts, red, s)
	res := &Result{Started: time.Now()}
	err := r.run(ctx, res)
	res.Duration = time.Since(res.Started)
	res.Err = err
	res.Steps = r.rec.steps
	if err != nil {
		log.Error("run failed", "err", err)
	} else {
		log.Info("run succeeded", "duration", res.Duration)
	}
	path, rerr := r.rec.finish(res)
	res.ReportPath = path
	if rerr != nil {
		log.Error("write debug report", "err", rerr)
		if err == nil {
			err = rerr
		}
	}
	if r.sess != nil {
		r.sess.Close()
	}
	return res, err
}

func (r *runner) run(ctx context.Context, res *Result) error {
	if r.s.MaxInstallTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.s.MaxInstallTime, fmt.Errorf("%w (%s)", ErrMaxInstallTime, r.s.MaxInstallTime))
		defer cancel()
	}
	r.log.Info("run start", "script", r.s.File, "steps", len(r.s.Steps), "boot_wait", r.s.BootWait, "max_install_time", r.s.MaxInstallTime)
	if len(r.s.Steps) > 0 {
		if r.s.BootWait > 0 {
			r.progress("boot_wait %s", r.s.BootWait)
			if err := sleep(ctx, r.s.BootWait); err != nil {
				return r.ctxErr(ctx, err)
			}
		}
		if err := r.redial(ctx); err != nil {
			return r.ctxErr(ctx, err)
		}
	}
	for _, st := range r.s.Steps {
		if err := r.step(ctx, st); err != nil {
			return err
		}
	}
	if r.s.HealthCheck != nil {
		return r.health(ctx, res)
	}
	return nil
}

// ctxErr prefers the context's cause (max_install_time) over the bare
// "context deadline exceeded".
func (r *runner) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if c := context.Cause(ctx); c != nil {
			return c
		}
	}
	return err
}

func (r *runner) progress(format string, args ...any) {
	if r.opts.Progress != nil {
		fmt.Fprintln(r.opts.Progress, r.red.String(fmt.Sprintf(format, args...)))
	}
}

func (r *runner) redial(ctx context.Context) error {
	if r.sess != nil {
		r.sess.Close()
		r.sess = nil
	}
	r.reading.valid = false
	var last error
	for i := 0; i < r.opts.Redials; i++ {
		if i > 0 {
			if err := sleep(ctx, r.opts.RedialDelay); err != nil {
				return fmt.Errorf("dial screen: %w (last error: %v)", err, last)
			}
		}
		s, err := r.opts.Dial(ctx)
		if err == nil {
			r.sess = s
			r.log.Info("screen connected", "attempt", i+1)
			return nil
		}
		last = err
		r.log.Warn("dial screen failed", "attempt", i+1, "err", err)
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("dial screen: %d attempts failed: %w", r.opts.Redials, last)
}

func (r *runner) step(ctx context.Context, st Step) error {
	rec := r.rec.begin(st)
	r.cur = rec
	r.log.Info("step start", "step", rec.N, "line", st.Position().Line, "cmd", st.Command(), "what", st.Describe())
	var err error
	for attempt := 1; ; attempt++ {
		rec.Attempts = attempt
		err = r.exec(ctx, st)
		if err == nil || !errors.Is(err, ErrScreenLost) || ctx.Err() != nil || attempt > r.opts.StepRetries {
			break
		}
		r.log.Warn("screen connection lost; re-dialling and retrying the step", "step", rec.N, "attempt", attempt, "err", err)
		r.progress("  connection lost (%v); re-dialling", err)
		if derr := r.redial(ctx); derr != nil {
			err = fmt.Errorf("%w; re-dial failed: %v", err, derr)
			break
		}
	}
	if err != nil {
		err = r.ctxErr(ctx, err)
	}
	rec.Duration = time.Since(rec.Start)
	var se *StepError
	if err != nil {
		se = &StepError{Step: st, Err: err, red: r.red}
		if r.reading.valid {
			se.ScreenText = r.red.String(r.reading.r.Text())
		}
	}
	// The debug output and the failure screenshot must be written even
	// when Ctrl-C or max_install_time ended the context.
	shot := r.rec.record(context.WithoutCancel(ctx), r, rec, st, err)
	if se != nil {
		se.Screenshot = shot
		rec.Err = r.red.String(se.Error())
		r.log.Error("step failed", "step", rec.N, "line", st.Position().Line, "cmd", st.Command(), "err", se)
		r.progress("step %d (line %d) %s: FAILED after %s", rec.N, st.Position().Line, st.Describe(), rec.Duration.Round(time.Millisecond))
		return se
	}
	r.log.Info("step done", "step", rec.N, "duration", rec.Duration)
	r.progress("step %d (line %d) %s: ok (%s)", rec.N, st.Position().Line, st.Describe(), rec.Duration.Round(time.Millisecond))
	return nil
}

func (r *runner) exec(ctx context.Context, st Step) error {
	switch s := st.(type) {
	case *Wait:
		_, err := r.waitFor(ctx, s.Target, s.Timeout, false)
		return err
	case *WaitGone:
		_, err := r.waitFor(ctx, s.Target, s.Timeout, true)
		return err
	case *WaitStill:
		return r.waitStill(ctx, s)
	case *Click:
		return r.clickOn(ctx, s)
	case *ClickAt:
		return r.click(ctx, s.At, ButtonLeft, 1)
	case *MoveMouse:
		r.cur.Click = nil
		if err := r.sess.PointerEvent(ctx, s.To.X, s.To.Y, 0); err != nil {
			return fmt.Errorf("move pointer: %w", err)
		}
		return nil
	case *Type:
		return r.typeText(ctx, s)
	case *Key:
		return r.key(ctx, s)
	case *Hotkey:
		return r.hotkey(ctx, s)
	case *Delay:
		return sleep(ctx, s.Duration)
	case *Screenshot:
		return r.rec.screenshot(ctx, r, s)
	}
	return fmt.Errorf("step type %T not implemented", st)
}

// read returns the OCR reading of a frame, reusing the last one when the
// screen did not change.
func (r *runner) read(ctx context.Context, f Frame) (*Reading, error) {
	if r.reading.valid && r.reading.seq == f.Seq {
		return r.reading.r, nil
	}
	h := hashImage(f.Image)
	for _, c := range r.recent {
		if c.hash == h {
			r.reading.seq, r.reading.valid, r.reading.r = f.Seq, true, c.r
			return c.r, nil
		}
	}
	start := time.Now()
	rd, err := r.opts.Eye.Read(ctx, f.Image)
	if err != nil {
		return nil, fmt.Errorf("read screen text: %w", err)
	}
	r.reading.seq, r.reading.valid, r.reading.r = f.Seq, true, rd
	r.recent = append(r.recent, cachedReading{hash: h, r: rd})
	if len(r.recent) > 4 {
		r.recent = r.recent[1:]
	}
	if r.cur != nil {
		r.cur.OCRRuns++
		r.cur.OCRTime += time.Since(start)
	}
	r.log.Debug("ocr", "seq", f.Seq, "lines", len(rd.Texts), "took", time.Since(start))
	return rd, nil
}

// find applies the region and index on top of the eye's matches.
func (r *runner) find(rd *Reading, t Target) (Match, bool, int) {
	all := r.opts.Eye.Find(rd, t)
	if t.Region != nil {
		kept := all[:0:0]
		for _, m := range all {
			if m.BBox.In(*t.Region) || m.Point.In(*t.Region) {
				kept = append(kept, m)
			}
		}
		all = kept
	}
	i := t.Index
	if i < 0 {
		i += len(all)
	}
	if i < 0 || i >= len(all) {
		return Match{}, false, len(all)
	}
	return all[i], true, len(all)
}

// waitFor waits until the target is on the screen (or, with gone, until it
// is not). It reads the screen again only after the screen changed.
func (r *runner) waitFor(ctx context.Context, t Target, timeout time.Duration, gone bool) (Match, error) {
	return r.waitUntil(ctx, t, time.Now().Add(timeout), timeout, gone)
}

// waitUntil is waitFor with a deadline; timeout is what errors call it.
func (r *runner) waitUntil(ctx context.Context, t Target, deadline time.Time, timeout time.Duration, gone bool) (Match, error) {
	r.cur.Searched = r.red.String(t.String())
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var lastSeq uint64
	first := true
	var count int
	for {
		f, err := r.sess.Frame(wctx)
		if err != nil {
			return Match{}, r.waitErr(ctx, wctx, t, timeout, gone, count, fmt.Errorf("read screen: %w", err))
		}
		if first || f.Seq != lastSeq {
			first, lastSeq = false, f.Seq
			rd, err := r.read(wctx, f)
			if err != nil {
				return Match{}, r.waitErr(ctx, wctx, t, timeout, gone, count, err)
			}
			r.cur.frame, r.cur.reading = f, rd
			m, ok, n := r.find(rd, t)
			count = n
			if ok != gone {
				if ok {
					r.cur.Found = &FoundRecord{Text: r.red.line(m.Text), BBox: BoxOf(m.BBox), Point: m.Point, Matches: n}
				}
				return m, nil
			}
		}
		if err := r.sess.WaitChange(wctx, f.Seq); err != nil {
			return Match{}, r.waitErr(ctx, wctx, t, timeout, gone, count, err)
		}
		if err := r.settle(wctx, f.Seq+1); err != nil {
			return Match{}, r.waitErr(ctx, wctx, t, timeout, gone, count, err)
		}
	}
}

// clickOn finds the click's text and clicks it once the target is known
// to stand still: the screen stayed unchanged for ClickStill after the
// text was found, or the text was found at the same place again after a
// change (a blinking cursor or a spinner elsewhere). A screen that is
// still moving would put the click somewhere else: the Debian installer
// scrolls its language list to the selected row a moment after drawing
// it, and a click sent on the first picture selected another language.
func (r *runner) clickOn(ctx context.Context, s *Click) error {
	deadline := time.Now().Add(s.Timeout)
	var last *image.Point
	for {
		m, err := r.waitUntil(ctx, s.Target, deadline, s.Timeout, false)
		if err != nil {
			return err
		}
		still := last != nil && *last == m.Point
		if !still {
			if still, err = r.stillFor(ctx, r.cur.frame.Seq, r.opts.ClickStill); err != nil {
				return err
			}
		}
		if still {
			return r.click(ctx, m.Point.Add(s.Offset), s.Button, s.Count)
		}
		p := m.Point
		last = &p
		r.log.Debug("screen changed after the click target was found; looking again", "x", p.X, "y", p.Y)
	}
}

// stillFor reports whether the screen stays at frame seq for d.
func (r *runner) stillFor(ctx context.Context, seq uint64, d time.Duration) (bool, error) {
	qctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := r.sess.WaitChange(qctx, seq)
	switch {
	case err == nil:
		return false, nil
	case qctx.Err() != nil && ctx.Err() == nil:
		return true, nil
	}
	return false, err
}

// settle waits until the screen has been quiet for opts.Settle after a
// change, but no longer than six times that in all.
func (r *runner) settle(ctx context.Context, seq uint64) error {
	limit := time.Now().Add(6 * r.opts.Settle)
	for time.Now().Before(limit) {
		qctx, cancel := context.WithTimeout(ctx, r.opts.Settle)
		f, err := r.sess.Frame(qctx)
		if err == nil {
			err = r.sess.WaitChange(qctx, f.Seq)
		}
		quiet := err != nil && qctx.Err() != nil && ctx.Err() == nil
		cancel()
		if quiet {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) waitErr(ctx, wctx context.Context, t Target, timeout time.Duration, gone bool, count int, err error) error {
	if ctx.Err() == nil && wctx.Err() != nil {
		if gone {
			return fmt.Errorf("timed out after %s: %s is still on the screen", timeout, t)
		}
		if count > 0 && t.Index != 0 {
			return fmt.Errorf("timed out after %s waiting for %s: only %d match(es) on the screen", timeout, t, count)
		}
		return fmt.Errorf("timed out after %s waiting for %s", timeout, t)
	}
	return err
}

func (r *runner) waitStill(ctx context.Context, s *WaitStill) error {
	wctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	for {
		f, err := r.sess.Frame(wctx)
		if err != nil {
			return r.stillErr(ctx, wctx, s, err)
		}
		r.cur.frame = f
		qctx, qcancel := context.WithTimeout(wctx, s.Still)
		err = r.sess.WaitChange(qctx, f.Seq)
		quiet := err != nil && qctx.Err() != nil && wctx.Err() == nil
		qcancel()
		if quiet {
			return nil
		}
		if err != nil {
			return r.stillErr(ctx, wctx, s, err)
		}
	}
}

func (r *runner) stillErr(ctx, wctx context.Context, s *WaitStill, err error) error {
	if ctx.Err() == nil && wctx.Err() != nil {
		return fmt.Errorf("timed out after %s: the screen never stayed still for %s", s.Timeout, s.Still)
	}
	return err
}

func (r *runner) click(ctx context.Context, p image.Point, b Button, count int) error {
	r.cur.Click = &p
	if err := r.sess.PointerEvent(ctx, p.X, p.Y, 0); err != nil {
		return fmt.Errorf("move pointer: %w", err)
	}
	for i := 0; i < count; i++ {
		if err := r.sess.PointerEvent(ctx, p.X, p.Y, b); err != nil {
			return fmt.Errorf("press button: %w", err)
		}
		if err := r.sess.PointerEvent(ctx, p.X, p.Y, 0); err != nil {
			return fmt.Errorf("release button: %w", err)
		}
	}
	r.log.Debug("clicked", "x", p.X, "y", p.Y, "button", b, "count", count)
	return nil
}

func (r *runner) tap(ctx context.Context, k keysym.Keysym) error {
	if err := r.sess.KeyEvent(ctx, k, true); err != nil {
		return fmt.Errorf("press key: %w", err)
	}
	if err := r.sess.KeyEvent(ctx, k, false); err != nil {
		return fmt.Errorf("release key: %w", err)
	}
	return nil
}

func (r *runner) stroke(ctx context.Context, k keysym.Stroke) error {
	if k.Shift {
		if err := r.sess.KeyEvent(ctx, keysym.ShiftL, true); err != nil {
			return fmt.Errorf("press shift: %w", err)
		}
	}
	if err := r.tap(ctx, k.Keysym); err != nil {
		return err
	}
	if k.Shift {
		if err := r.sess.KeyEvent(ctx, keysym.ShiftL, false); err != nil {
			return fmt.Errorf("release shift: %w", err)
		}
	}
	return nil
}

// typeText types one character per delay. Keys are scheduled against
// the start time so the rate does not drift with network latency. Shift
// stays down across a run of shifted characters, as a person's finger
// does: fewer events for the guest's small keyboard queue (QEMU's PS/2
// keyboard holds 16 bytes and drops what does not fit while the guest is
// not scheduled).
func (r *runner) typeText(ctx context.Context, s *Type) error {
	start := time.Now()
	shift := false
	defer func() {
		if shift {
			r.sess.KeyEvent(context.WithoutCancel(ctx), keysym.ShiftL, false)
		}
	}()
	for i, ch := range []rune(s.Text) {
		if i > 0 && s.Delay > 0 {
			if err := sleepUntil(ctx, start.Add(time.Duration(i)*s.Delay)); err != nil {
				return err
			}
		}
		k, err := keysym.Char(ch)
		if err != nil {
			return err // checked at load time; unreachable
		}
		if k.Shift != shift {
			if err := r.sess.KeyEvent(ctx, keysym.ShiftL, k.Shift); err != nil {
				return fmt.Errorf("type character %d: shift: %w", i+1, err)
			}
			shift = k.Shift
		}
		if err := r.tap(ctx, k.Keysym); err != nil {
			return fmt.Errorf("type character %d: %w", i+1, err)
		}
	}
	if shift {
		shift = false
		if err := r.sess.KeyEvent(ctx, keysym.ShiftL, false); err != nil {
			return fmt.Errorf("release shift: %w", err)
		}
	}
	return nil
}

func (r *runner) key(ctx context.Context, k *Key) error {
	if len(k.Name) == 1 {
		st, err := keysym.Char(rune(k.Name[0]))
		if err == nil {
			return r.stroke(ctx, st)
		}
	}
	return r.tap(ctx, k.Keysym)
}

// hotkey presses the modifiers in order, taps the key, and releases the
// modifiers in reverse order. Modifiers already pressed are released even
// when a later event fails, so a dropped step does not leave ctrl held.
func (r *runner) hotkey(ctx context.Context, h *Hotkey) error {
	var held []keysym.Keysym
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			r.sess.KeyEvent(context.WithoutCancel(ctx), held[i], false)
		}
	}
	for _, m := range h.Modifiers {
		if err := r.sess.KeyEvent(ctx, m.Keysym, true); err != nil {
			release()
			return fmt.Errorf("press %s: %w", m.Name, err)
		}
		held = append(held, m.Keysym)
	}
	if err := r.tap(ctx, h.Key.Keysym); err != nil {
		release()
		return err
	}
	for i := len(held) - 1; i >= 0; i-- {
		if err := r.sess.KeyEvent(ctx, held[i], false); err != nil {
			held = held[:i]
			release()
			return fmt.Errorf("release modifier: %w", err)
		}
	}
	return nil
}

func (r *runner) health(ctx context.Context, res *Result) error {
	hc := r.s.HealthCheck
	check := r.opts.HealthCheck
	if check == nil {
		check = func(ctx context.Context, hc *HealthCheck) (HealthResult, error) {
			return CheckSSH(ctx, hc, SSHOptions{KnownHostsFile: r.opts.KnownHostsFile, Logger: r.log})
		}
	}
	r.log.Info("health check start", "what", hc.Describe())
	r.progress("health_check %s", hc.Describe())
	start := time.Now()
	hr, err := check(ctx, hc)
	res.HealthCheck = &HealthRecord{Description: hc.Describe(), Attempts: hr.Attempts, Output: r.red.String(hr.Output), Duration: time.Since(start)}
	if err != nil {
		err = &HealthError{Check: hc, Err: r.ctxErr(ctx, err)}
		res.HealthCheck.Err = r.red.String(err.Error())
		r.progress("health_check: FAILED after %d attempt(s)", hr.Attempts)
		return err
	}
	r.progress("health_check: ok after %d attempt(s)", hr.Attempts)
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func sleepUntil(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	return sleep(ctx, d)
}

// teeHandler sends each record to two handlers (the caller's logger and
// automation.log).
type teeHandler [2]slog.Handler

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t[0].Enabled(ctx, l) || t[1].Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			if e := h.Handle(ctx, r.Clone()); e != nil {
				err = e
			}
		}
	}
	return err
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t[0].WithAttrs(as), t[1].WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t[0].WithGroup(name), t[1].WithGroup(name)}
}

type cachedReading struct {
	hash uint64
	r    *Reading
}

var imageHashSeed = maphash.MakeSeed()

func hashImage(img *image.RGBA) uint64 {
	var h maphash.Hash
	h.SetSeed(imageHashSeed)
	b := img.Bounds()
	fmt.Fprintf(&h, "%d,%d,%d,%d;", b.Min.X, b.Min.Y, b.Max.X, b.Max.Y)
	row := b.Dx() * 4
	for y := 0; y < b.Dy(); y++ {
		off := y * img.Stride
		h.Write(img.Pix[off : off+row])
	}
	return h.Sum64()
}
