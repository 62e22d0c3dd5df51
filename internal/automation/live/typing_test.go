package live

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/vnc"
)

// typingText is 200 characters holding every printable ASCII character
// (space to tilde) at least twice.
func typingText() string {
	var b strings.Builder
	for b.Len() < 200 {
		for c := byte(' '); c <= '~' && b.Len() < 200; c++ {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// typingGuest is the tiny guest with a VGA console on a VNC socket; init
// copies what is typed on tty1 into typedFile (tinyguest.tty1cat).
type typingGuest struct {
	g    *testutil.RunningGuest
	sock string
}

const typedFile = "/tmp/typed.txt"

func bootTypingGuest(t testing.TB) *typingGuest {
	t.Helper()
	sockDir, err := os.MkdirTemp("", "deskvm-type-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "vnc.sock")
	g := testutil.BootTinyGuestQEMU(t, testutil.TinyGuestOptions{
		Append:    "tinyguest.tty1cat=" + typedFile,
		ExtraArgs: []string{"-vga", "std", "-vnc", "unix:" + sock},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := g.WaitSSH(ctx); err != nil {
		t.Fatalf("ssh: %v\nserial:\n%s", err, g.SerialOutput())
	}
	// SSH is up after init started its children, the tty1 reader among them.
	if out, err := g.Run(ctx, "pidof cat"); err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("no reader on tty1: %q %v", out, err)
	}
	return &typingGuest{g: g, sock: sock}
}

// typeLine types text and Enter through VNC with the given delay between
// keys, waits until the guest has the whole line in typedFile, and
// returns that line and how long the type step took.
func (tg *typingGuest) typeLine(ctx context.Context, t testing.TB, text string, delay time.Duration, eye automation.Eye, debug string) (string, time.Duration) {
	got, took, ok := tg.tryLine(ctx, t, text, delay, eye, debug, 30*time.Second)
	if !ok {
		all, _ := tg.g.Run(ctx, "od -c "+typedFile+" | tail -5")
		t.Fatalf("the guest never got the end of the line; it has %q; %s", got, all)
	}
	return got, took
}

// tryLine is typeLine that reports a line the guest did not finish
// within wait (its Enter was lost) instead of failing.
func (tg *typingGuest) tryLine(ctx context.Context, t testing.TB, text string, delay time.Duration, eye automation.Eye, debug string, wait time.Duration) (string, time.Duration, bool) {
	t.Helper()
	// The reader appends line after line; this run's line is the next.
	out, err := tg.g.Run(ctx, "wc -l < "+typedFile)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("wc: %q", out)
	}
	src := "boot_commands:\n"
	if text != "" {
		src += fmt.Sprintf("  - type: {text: %s, delay_ms: %d}\n", strconv.Quote(text), delay.Milliseconds())
	}
	src += "  - key: enter\n"
	if eye != nil {
		// Second evidence, on the screen: the console echoes the line.
		// OCR reads the VGA font's digits reliably, its punctuation and
		// runs of capitals less so (it splits and confuses V/U).
		src += "  - wait: {text: '0123456789', contains: true, index: 1, timeout: 20}\n"
	}
	s := parse(t, src)
	res, err := automation.Run(ctx, s, automation.Options{Dial: DialVNC("unix:"+tg.sock, vnc.Options{}), Eye: eye, DebugDir: debug})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	took := res.Steps[0].Duration
	deadline := time.Now().Add(wait)
	for {
		out, err := tg.g.Run(ctx, fmt.Sprintf("tail -n +%d %s", lines+1, typedFile))
		if err == nil && strings.HasSuffix(out, "\n") {
			return strings.TrimSuffix(out, "\n"), took, true
		}
		if time.Now().After(deadline) {
			return out, took, false
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// Typing: 200 characters with every printable ASCII character go over VNC
// (QEMU's extended key events, Shift where the US layout needs it) into
// the guest's console at the default rate (100 characters/s), and the
// guest gets exactly them. The echoed line is also read back by OCR.
// Faster rates are measured by BenchmarkTyping.
func TestTypeEveryPrintableASCIIIntoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a guest")
	}
	testutil.RequiresTesseract(t)
	tg := bootTypingGuest(t)
	o := liveOptions(t, "")
	text := typingText()
	for c := byte(' '); c <= '~'; c++ {
		if !strings.ContainsRune(text, rune(c)) {
			t.Fatalf("test text lacks %q", c)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	delay := automation.DefaultTypeDelay
	got, took := tg.typeLine(ctx, t, text, delay, o.Eye, os.Getenv("DESKVM_TYPING_DEBUG"))
	if got != text {
		t.Errorf("the guest got\n%q\nwant\n%q", got, text)
	}
	rate := float64(len(text)) / took.Seconds()
	t.Logf("delay %s: %d characters in %s = %.1f chars/s, exact: %v", delay, len(text), took.Round(time.Millisecond), rate, got == text)
	if rate < 99 {
		t.Errorf("typing rate %.1f chars/s at the default delay, want about 100", rate)
	}
}

// BenchmarkTyping measures typing rates into the real guest, each run
// checked character for character; the default delay is the baseline.
//
//	go test -run '^$' -bench Typing -benchtime 3x ./internal/automation/live/
func BenchmarkTyping(b *testing.B) {
	tg := bootTypingGuest(b)
	text := typingText()
	ctx := context.Background()
	for _, delay := range []time.Duration{automation.DefaultTypeDelay, 7 * time.Millisecond, 5 * time.Millisecond, 2 * time.Millisecond} {
		b.Run(fmt.Sprintf("delay=%s", delay), func(b *testing.B) {
			var total time.Duration
			lost := 0
			for i := 0; i < b.N; i++ {
				got, took, ok := tg.tryLine(ctx, b, text, delay, nil, os.Getenv("DESKVM_TYPING_DEBUG"), 5*time.Second)
				total += took
				if !ok {
					// The Enter was lost: end the line so the next run starts clean.
					tg.tryLine(ctx, b, "", 0, nil, "", 30*time.Second)
				}
				if got != text {
					lost++
				}
			}
			b.ReportMetric(float64(len(text)*b.N)/total.Seconds(), "chars/s")
			b.ReportMetric(float64(lost), "runs-with-errors")
		})
	}
}
