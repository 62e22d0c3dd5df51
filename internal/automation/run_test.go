package automation

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/deskvm/deskvm/internal/keysym"
)

func run(t *testing.T, r *rig, src string, mod ...func(*Options)) (*Result, error) {
	t.Helper()
	s := mustParse(t, src)
	o := r.options(t)
	for _, m := range mod {
		m(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return Run(ctx, s, o)
}

func TestTypeShiftAndOrder(t *testing.T) {
	r := newRig()
	if _, err := run(t, r, "boot_commands:\n  - type: {text: 'aB!c#', delay_ms: 0}\n  - type: 'D'\n  - key: 'A'\n  - key: tab\n"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a down", "a up",
		// Shift stays down over a run of shifted characters.
		"shift down", "B down", "B up", "! down", "! up", "shift up",
		"c down", "c up",
		"shift down", "# down", "# up", "shift up",
		"shift down", "D down", "D up", "shift up",
		"shift down", "A down", "A up", "shift up",
		"tab down", "tab up",
	}
	if diff := cmp.Diff(want, r.screen.eventStrings()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Every printable ASCII character maps to a keysym equal to its code, with
// shift exactly for A-Z and the US layout's shifted symbols.
func TestCharStrokeCoversPrintableASCII(t *testing.T) {
	shifted := 0
	for c := rune(0x20); c < 0x7f; c++ {
		k, err := keysym.Char(c)
		if err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		if k.Keysym != keysym.Keysym(c) {
			t.Errorf("%q keysym %#x", c, k.Keysym)
		}
		if k.Shift {
			shifted++
		}
	}
	if shifted != 26+21 {
		t.Errorf("%d shifted characters, want 47", shifted)
	}
}

func TestTypeDelay(t *testing.T) {
	r := newRig()
	start := time.Now()
	if _, err := run(t, r, "boot_commands:\n  - type: {text: 'abcdef', delay_ms: 20}\n"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("6 characters at 20 ms took %s, want >= 100ms", d)
	}
}

func TestHotkeyOrder(t *testing.T) {
	r := newRig()
	if _, err := run(t, r, "boot_commands:\n  - hotkey: {modifiers: [ctrl, alt], key: delete}\n  - hotkey: cmd+space\n"); err != nil {
		t.Fatal(err)
	}
	want := []string{"ctrl down", "alt down", "delete down", "delete up", "alt up", "ctrl up",
		"super down", "  down", "  up", "super up"}
	if diff := cmp.Diff(want, r.screen.eventStrings()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestClickPointIndexOffsets(t *testing.T) {
	// Lines are 20 px apart from y=10, 14 px high, 8 px per character.
	r := newRig("Agree to the terms", "Cancel", "I Agree")
	src := `boot_commands:
  - click: Cancel
  - click: {text: Agree, index: -1, xoffset: 50, yoffset: -3}
  - click: {text: agree, index: 0, offset: {x: 1, y: 2}}
  - double_click: Cancel
  - right_click: Cancel
  - click_at: {x: 7, y: 9}
  - move_mouse: {x: 100, y: 101}
`
	if _, err := run(t, r, src); err != nil {
		t.Fatal(err)
	}
	// Cancel: box 10,30 48x14 -> centre 34,37. "I Agree": 10,50 56x14 -> 38,57.
	// "Agree to the terms": 10,10 144x14 -> 82,17.
	want := []string{
		"ptr(34,37,0)", "ptr(34,37,1)", "ptr(34,37,0)",
		"ptr(88,54,0)", "ptr(88,54,1)", "ptr(88,54,0)",
		"ptr(83,19,0)", "ptr(83,19,1)", "ptr(83,19,0)",
		"ptr(34,37,0)", "ptr(34,37,1)", "ptr(34,37,0)", "ptr(34,37,1)", "ptr(34,37,0)",
		"ptr(34,37,0)", "ptr(34,37,4)", "ptr(34,37,0)",
		"ptr(7,9,0)", "ptr(7,9,1)", "ptr(7,9,0)",
		"ptr(100,101,0)",
	}
	if diff := cmp.Diff(want, r.screen.eventStrings()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// A click waits until its target stands still: a list that scrolls right
// after it was drawn gets the click on the row's new place, and a screen
// that keeps changing elsewhere (a blinking cursor) does not hold the
// click back once the target was found at the same place twice.
func TestClickWaitsForTargetToStandStill(t *testing.T) {
	r := newRig("Dutch", "English", "Esperanto")
	// "English" moves from line 2 (centre y=37) to line 4 (y=77) 100 ms in.
	time.AfterFunc(100*time.Millisecond, func() { r.screen.setText("Croatian", "Danish", "Dutch", "English", "Esperanto") })
	if _, err := run(t, r, "boot_commands:\n  - click: English\n"); err != nil {
		t.Fatal(err)
	}
	if got := r.screen.eventStrings(); len(got) != 3 || got[1] != "ptr(38,77,1)" {
		t.Errorf("events %v, want a click on English at its new place 38,77", got)
	}

	r = newRig("Name:", "English", "|")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		cursor := []string{"|", " "}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				r.screen.setText("Name:", "English", cursor[i%2])
			}
		}
	}()
	start := time.Now()
	if _, err := run(t, r, "boot_commands:\n  - click: {text: English, timeout: 5}\n"); err != nil {
		t.Fatal(err)
	}
	if got := r.screen.eventStrings(); len(got) != 3 || got[1] != "ptr(38,37,1)" {
		t.Errorf("events %v, want a click on English at 38,37", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("click behind a blinking cursor took %s", d)
	}
}

func TestRegionLimitsMatches(t *testing.T) {
	r := newRig("OK", "OK")
	// Only the second "OK" (y=30..44) lies in the region.
	if _, err := run(t, r, "boot_commands:\n  - click: {text: OK, region: {x: 0, y: 25, width: 100, height: 30}}\n"); err != nil {
		t.Fatal(err)
	}
	if got := r.screen.eventStrings()[0]; got != "ptr(18,37,0)" {
		t.Errorf("clicked %s, want the second OK at 18,37", got)
	}
	// A region with no match times out.
	_, err := run(t, newRig("OK"), "boot_commands:\n  - wait: {text: OK, timeout: 0.1, region: {x: 200, y: 0, width: 10, height: 10}}\n")
	if err == nil {
		t.Fatal("wait outside the region succeeded")
	}
}

// A wait must re-read the screen when, and only when, it changed: the
// change is noticed at once, not on the next tick of a timer.
func TestWaitReactsToScreenChange(t *testing.T) {
	r := newRig("Loading")
	var changedAt time.Time
	go func() {
		time.Sleep(300 * time.Millisecond)
		changedAt = time.Now()
		r.screen.setText("Welcome")
	}()
	if _, err := run(t, r, "boot_commands:\n  - wait: {text: Welcome, timeout: 10}\n"); err != nil {
		t.Fatal(err)
	}
	if lag := time.Since(changedAt); lag > 100*time.Millisecond {
		t.Errorf("wait returned %s after the change", lag)
	}
	if n := r.eye.readCount(); n != 2 {
		t.Errorf("OCR ran %d times, want 2 (before and after the one change)", n)
	}
}

func TestWaitTimeoutError(t *testing.T) {
	r := newRig("Booting from Hard Disk...", "No bootable device.")
	var failDir string
	start := time.Now()
	_, err := run(t, r, "boot_commands:\n  - key: enter\n  - wait:\n      text: Select a language\n      timeout: 0.3\n", func(o *Options) { failDir = o.FailureDir })
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("failing wait took %s", took)
	}
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *StepError", err)
	}
	if se.Line() != 3 {
		t.Errorf("line = %d", se.Line())
	}
	msg := err.Error()
	for _, want := range []string{
		`test.yaml:3:5: step 2 (wait): timed out after 300ms waiting for "Select a language"`,
		"| Booting from Hard Disk...", "| No bootable device.",
		"screenshot: " + filepath.Join(failDir, "002-wait.png"),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if _, err := os.Stat(se.Screenshot); err != nil {
		t.Errorf("screenshot not saved: %v", err)
	}
	if n := r.eye.readCount(); n != 1 {
		t.Errorf("OCR ran %d times on an unchanged screen, want 1", n)
	}
}

func TestWaitGone(t *testing.T) {
	r := newRig("Loading components")
	go func() {
		time.Sleep(100 * time.Millisecond)
		r.screen.setText("Loading components", "50%") // still there
		time.Sleep(100 * time.Millisecond)
		r.screen.setText("Done")
	}()
	start := time.Now()
	if _, err := run(t, r, "boot_commands:\n  - wait_gone: {text: Loading, timeout: 5}\n"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("wait_gone returned after %s, before the text went", d)
	}
	_, err := run(t, newRig("Loading"), "boot_commands:\n  - wait_gone: {text: Loading, timeout: 0.1}\n")
	if err == nil || !strings.Contains(err.Error(), `"Loading" is still on the screen`) {
		t.Errorf("err = %v", err)
	}
}

func TestWaitStill(t *testing.T) {
	r := newRig("a")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				r.screen.setText("frame", string(rune('a'+i)))
			}
		}
	}()
	start := time.Now()
	_, err := run(t, r, "boot_commands:\n  - wait_still: {seconds: 0.2, timeout: 5}\n")
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	// 5 changes 50 ms apart, then 200 ms of stillness.
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("wait_still returned after %s while the screen was changing", d)
	}
	// A screen that never settles times out.
	busy := newRig("x")
	done := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
				busy.screen.setText("tick")
			}
		}
	}()
	_, err = run(t, busy, "boot_commands:\n  - wait_still: {seconds: 0.2, timeout: 0.5}\n")
	close(done)
	if err == nil || !strings.Contains(err.Error(), "never stayed still") {
		t.Errorf("err = %v", err)
	}
}

// A dropped connection is re-dialled and the step retried on the new one.
func TestDroppedConnectionRedialsAndRetries(t *testing.T) {
	r := newRig()
	r.screen.failAfter = 3 // the second event of "key: enter" fails
	r.dialErrs = 0
	res, err := run(t, r, "boot_commands:\n  - key: tab\n  - key: enter\n  - key: esc\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.dials != 2 {
		t.Errorf("dialled %d times, want 2", r.dials)
	}
	// The third event failed and was not delivered.
	want := []string{"tab down", "tab up", "enter down", "enter up", "0xff1b down", "0xff1b up"}
	if diff := cmp.Diff(want, r.screen.eventStrings()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if res.Steps[1].Attempts != 2 {
		t.Errorf("step 2 attempts = %d", res.Steps[1].Attempts)
	}
	// Re-dialling is bounded: a screen that stays away fails the step.
	r2 := newRig()
	r2.screen.failAfter = 1
	r2.dialErrs = 0
	_, err = run(t, r2, "boot_commands:\n  - key: tab\n", func(o *Options) {
		o.Dial = func(ctx context.Context) (Session, error) {
			r2.dials++
			if r2.dials > 1 {
				return nil, errors.New("connection refused")
			}
			return &fakeSession{fakeScreen: r2.screen}, nil
		}
		o.Redials = 3
	})
	if err == nil || !strings.Contains(err.Error(), "re-dial failed") || r2.dials != 4 {
		t.Errorf("err = %v after %d dials", err, r2.dials)
	}
}

func TestMaxInstallTime(t *testing.T) {
	r := newRig("nothing")
	start := time.Now()
	_, err := run(t, r, "max_install_time: 0.2\nboot_commands:\n  - wait: {text: never, timeout: 60}\n")
	if !errors.Is(err, ErrMaxInstallTime) {
		t.Fatalf("err = %v, want max_install_time", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
	var se *StepError
	if !errors.As(err, &se) || se.Line() != 3 {
		t.Errorf("err does not name line 3: %v", err)
	}
}

func TestBootWait(t *testing.T) {
	r := newRig()
	start := time.Now()
	if _, err := run(t, r, "boot_wait: 0.15\nboot_commands:\n  - key: tab\n"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("boot_wait not honoured: %s", d)
	}
}

// Ctrl-C stops the run and still leaves the debug output.
func TestCancelWritesDebugOutput(t *testing.T) {
	r := newRig("Installing the base system")
	dir := t.TempDir()
	s := mustParse(t, "boot_commands:\n  - key: tab\n  - wait: {text: Finish, timeout: 60}\n  - key: enter\n")
	o := r.options(t)
	o.DebugDir = dir
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := Run(ctx, s, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	for _, f := range []string{"automation.log", "report.html", "001-key.png", "002-wait.png", "002-wait-annotated.png", "002-wait-ocr.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	report, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{`id="step-1"`, `id="step-2"`, `id="step-3"`, "not run", "context canceled", "Installing the base system"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// Secrets typed from ${VAR}, password files, text marked secret in the
// script and the health check's password never reach the log, the OCR
// JSON or the report, even when the screen shows them and a step fails.
func TestSecretsNeverWritten(t *testing.T) {
	const envSecret, fileSecret, hcSecret, litSecret = "Env-Pa55word", "File-Pa55word", "Hc-Pa55word", "Lit-Pa55word"
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte(fileSecret+"\n"), 0o600)
	src := `boot_commands:
  - type: {text: "` + litSecret + `", secret: true}
  - type: "${ROOT_PW}"
  - type: {password_file: ` + pw + `}
  - wait: {text: "Password: ` + envSecret + `", timeout: 5}
  - wait: {text: nope, timeout: 0.1}
health_check: {type: ssh, user: root, password: "` + hcSecret + `"}
`
	s := mustParse(t, src, LoadOptions{LookupEnv: func(k string) (string, bool) { return envSecret, k == "ROOT_PW" }})
	r := newRig("Password:")
	// The guest echoes what was typed, as an unmasked field would.
	var typed strings.Builder
	var mu sync.Mutex
	r.screen.react = func(e event) {
		if e.Pointer || !e.Down || e.Key == keysym.ShiftL {
			return
		}
		mu.Lock()
		typed.WriteRune(rune(e.Key))
		text := strings.TrimPrefix(typed.String(), litSecret)
		mu.Unlock()
		if len(text) == len(envSecret) || len(text) == len(envSecret)+len(fileSecret) {
			r.screen.setText("Password: "+text[:len(envSecret)], "Again: "+text[len(envSecret):])
		}
	}
	debug := filepath.Join(dir, "debug")
	o := r.options(t)
	o.DebugDir = debug
	var logBuf strings.Builder
	o.Logger = newTestLogger(&logBuf)
	var progress strings.Builder
	o.Progress = &progress
	_, err := Run(context.Background(), s, o)
	if err == nil {
		t.Fatal("the last wait should fail")
	}
	if strings.Contains(err.Error(), envSecret) {
		t.Errorf("error message holds the secret: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(debug, "*"))
	if len(files) < 8 {
		t.Fatalf("only %d debug files", len(files))
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".png") {
			continue
		}
		data, _ := os.ReadFile(f)
		checked++
		for _, sec := range []string{envSecret, fileSecret, hcSecret, litSecret} {
			if i := strings.Index(string(data), sec); i >= 0 {
				t.Errorf("%s contains secret %q: %s", filepath.Base(f), sec, data[max(0, i-200):i+50])
			}
		}
	}
	if checked < 4 { // log, report, >=2 OCR JSON
		t.Errorf("checked only %d text files", checked)
	}
	for name, out := range map[string]string{"logger": logBuf.String(), "progress": progress.String()} {
		for _, sec := range []string{envSecret, fileSecret, hcSecret, litSecret} {
			if strings.Contains(out, sec) {
				t.Errorf("%s output contains secret %q", name, sec)
			}
		}
	}
	ocr, _ := os.ReadFile(filepath.Join(debug, "005-wait-ocr.json"))
	if !strings.Contains(string(ocr), Redacted) {
		t.Errorf("OCR JSON of the screen showing the password lacks ***:\n%s", ocr)
	}
	// The wait for the secret did find it: matching uses the real text.
	report, _ := os.ReadFile(filepath.Join(debug, "report.html"))
	if !strings.Contains(string(report), `id="step-4" class="step step-ok"`) {
		t.Errorf("step 4 did not succeed")
	}
}
