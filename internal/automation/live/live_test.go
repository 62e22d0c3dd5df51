package live

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/ocr"
	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/vnc"
	"github.com/deskvm/deskvm/internal/vnc/vnctest"
)

func liveOptions(t testing.TB, addr string) automation.Options {
	testutil.RequiresTesseract(t)
	pool := ocr.NewProcessPool(ocr.TesseractOptions{})
	t.Cleanup(func() { pool.Close() })
	return automation.Options{
		Dial:        DialVNC(addr, vnc.Options{}),
		Eye:         &Eye{Engine: ocr.NewReader(pool)},
		RedialDelay: 200 * time.Millisecond,
	}
}

func parse(t testing.TB, src string) *automation.Script {
	t.Helper()
	s, err := automation.Parse("live.yaml", []byte(src), automation.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A wait for text that never comes, on a real QEMU screen read by real
// OCR, fails within its timeout, names its line, shows the screen's text
// and leaves the screenshot and the report.
func TestFailingWaitOnSeaBIOS(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	q := vnctest.Start(t, vnctest.Options{})
	o := liveOptions(t, q.Addr)
	o.DebugDir = t.TempDir()
	s := parse(t, `boot_commands:
  - wait: {text: 'No bootable device', timeout: 60}
  - screenshot: bios
  - wait: {text: 'Select a language', timeout: 3}
  - key: enter
`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := automation.Run(ctx, s, o)
	var se *automation.StepError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a step error", err)
	}
	if se.Line() != 4 {
		t.Errorf("failed at line %d, want 4", se.Line())
	}
	if d := res.Steps[2].Duration; d < 3*time.Second || d > 6*time.Second {
		t.Errorf("the 3 s wait failed after %s", d)
	}
	msg := err.Error()
	for _, want := range []string{"live.yaml:4:5: step 3 (wait): timed out after 3s waiting for \"Select a language\"", "screen text:", "screenshot: "} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(strings.ToLower(msg), "bootable") {
		t.Errorf("error does not show the screen's text:\n%s", msg)
	}
	if _, err := os.Stat(se.Screenshot); err != nil {
		t.Errorf("screenshot: %v", err)
	}
	report, err := os.ReadFile(filepath.Join(o.DebugDir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="step-1" class="step step-ok"`, `id="step-3" class="step step-failed"`, `id="step-4" class="step step-notrun"`, "data:image/jpeg;base64,"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, f := range []string{"001-wait.png", "001-wait-annotated.png", "001-wait-ocr.json", "003-wait.png", "automation.log"} {
		if _, err := os.Stat(filepath.Join(o.DebugDir, f)); err != nil {
			t.Errorf("debug file: %v", err)
		}
	}
	checkReportInChromium(t, filepath.Join(o.DebugDir, "report.html"), s, res, "timed out after 3s waiting for")
}

// A VNC server that goes away mid-run is re-dialled, and the step retried
// on the new connection.
func TestRedialAfterDroppedConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	q := vnctest.Start(t, vnctest.Options{})
	o := liveOptions(t, q.Addr)
	s := parse(t, `boot_commands:
  - wait: {text: 'No bootable device', timeout: 60}
  - wait_gone: {text: 'No bootable device', timeout: 60}
`)
	// The second dial goes to another QEMU that has not started its guest,
	// so its screen lacks the text and wait_gone passes there.
	dials := 0
	first := o.Dial
	o.Dial = func(ctx context.Context) (automation.Session, error) {
		dials++
		if dials == 1 {
			return first(ctx)
		}
		q2 := vnctest.Start(t, vnctest.Options{Paused: true})
		return DialVNC(q2.Addr, vnc.Options{})(ctx)
	}
	// Kill the first QEMU as soon as step 1 is done.
	o.Progress = progressFunc(func(line string) {
		if strings.HasPrefix(line, "step 1 ") {
			q.Kill()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := automation.Run(ctx, s, o)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if dials != 2 || res.Steps[1].Attempts != 2 {
		t.Errorf("dials %d, step 2 attempts %d; want a re-dial and a retry", dials, res.Steps[1].Attempts)
	}
}

type progressFunc func(string)

func (f progressFunc) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		f(l)
	}
	return len(p), nil
}

// BenchmarkWaitLatency measures how long a wait takes to return after the
// text appears on a real VNC screen: SeaBIOS shows "Select boot device"
// right after Esc, and the benchmark times the wait that follows the key.
//
//	go test -run '^$' -bench WaitLatency -benchtime 10x ./internal/automation/live/
func BenchmarkWaitLatency(b *testing.B) {
	q := vnctest.Start(b, vnctest.Options{BootMenu: 20 * time.Second, Paused: true})
	o := liveOptions(b, q.Addr)
	// After a reset the old menu can still be on the screen for a moment;
	// wait_gone keeps the next iteration from matching it.
	s := parse(b, `boot_commands:
  - wait_gone: {text: 'Select boot device', timeout: 60}
  - wait: {text: 'Press ESC for boot menu', timeout: 60}
  - key: esc
  - wait: {text: 'Select boot device', timeout: 20}
`)
	ctx := context.Background()
	if _, err := q.Monitor(ctx, "cont"); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 {
			if _, err := q.Monitor(ctx, "system_reset"); err != nil {
				b.Fatal(err)
			}
		}
		res, err := automation.Run(ctx, s, o)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, res.Steps[3].Duration)
	}
	b.StopTimer()
	b.Logf("wait latencies: %v", lat)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "ms-median")
	b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "ms-max")
}
