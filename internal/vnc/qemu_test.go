package vnc_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/keysym"
	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/vnc"
	"github.com/deskvm/deskvm/internal/vnc/vnctest"
)

// Integration tests against a real QEMU (TCG, no disk). The machine may
// be busy with other tests, so waits are generous; they end as soon as
// the screen shows what is expected.

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU; not in -short")
	}
}

func areaOf(u vnc.Update) int {
	n := 0
	for _, r := range u.Rects {
		n += r.Dx() * r.Dy()
	}
	return n
}

// waitSettled waits for a quiet period: no update touching more than 1%
// of the screen for quiet (SeaBIOS's blinking text cursor keeps sending
// tiny updates forever).
func waitSettled(ctx context.Context, t *testing.T, c *vnc.Client, quiet time.Duration) *image.RGBA {
	t.Helper()
	updates, cancel := c.Subscribe()
	defer cancel()
	timer := time.NewTimer(quiet)
	defer timer.Stop()
	for {
		select {
		case u, ok := <-updates:
			if !ok {
				t.Fatalf("connection ended while waiting for the screen to settle: %v", c.Err())
			}
			if areaOf(u)*100 > u.Size.X*u.Size.Y {
				timer.Reset(quiet)
			}
		case <-timer.C:
			return c.Snapshot()
		case <-ctx.Done():
			t.Fatalf("screen did not settle: %v", ctx.Err())
		}
	}
}

// ocr runs tesseract on img the way the product does (OMP_THREAD_LIMIT=1).
func ocr(ctx context.Context, t *testing.T, tesseract string, img image.Image) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "screen.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := exec.CommandContext(ctx, tesseract, path, "stdout")
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tesseract: %v: %s", err, stderr.String())
	}
	return string(out)
}

// waitText OCRs the settled screen until re matches, reading again after
// each change.
func waitText(ctx context.Context, t *testing.T, c *vnc.Client, tesseract string, re *regexp.Regexp) (string, *image.RGBA) {
	t.Helper()
	for {
		img := waitSettled(ctx, t, c, time.Second)
		text := ocr(ctx, t, tesseract, img)
		if re.MatchString(text) {
			return text, img
		}
		if ctx.Err() != nil {
			t.Fatalf("%v not on the screen; last read: %q", re, text)
		}
		t.Logf("waiting for %v; screen says %q", re, text)
	}
}

func nonBlank(img *image.RGBA) (lit int) {
	for i := 0; i < len(img.Pix); i += 4 {
		if img.Pix[i] > 64 || img.Pix[i+1] > 64 || img.Pix[i+2] > 64 {
			lit++
		}
	}
	return lit
}

// TestQEMUPasswordAndScreen uses one QEMU with a VNC password for the
// authentication checks, the captured screen and a dropped connection.
func TestQEMUPasswordAndScreen(t *testing.T) {
	skipShort(t)
	q := vnctest.Start(t, vnctest.Options{Password: "SECRET", TCP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	t.Run("wrong password rejected", func(t *testing.T) {
		_, err := vnc.Dial(ctx, q.Addr, vnc.Options{Password: "guess"})
		if !errors.Is(err, vnc.ErrAuth) {
			t.Fatalf("Dial with a wrong password: %v, want ErrAuth", err)
		}
		if strings.Contains(err.Error(), "guess") {
			t.Fatalf("error shows the password: %v", err)
		}
		t.Logf("refused: %v", err)
	})
	t.Run("no password rejected", func(t *testing.T) {
		if _, err := vnc.Dial(ctx, q.Addr, vnc.Options{}); !errors.Is(err, vnc.ErrAuth) {
			t.Fatalf("Dial without a password: %v, want ErrAuth", err)
		}
	})

	c, err := vnc.Dial(ctx, q.Addr, vnc.Options{Password: "SECRET"})
	if err != nil {
		t.Fatalf("Dial with the right password: %v", err)
	}
	defer c.Close()
	if _, err := c.WaitFullFrame(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("frame is non-blank and stable", func(t *testing.T) {
		img := waitSettled(ctx, t, c, 1500*time.Millisecond)
		if img.Rect.Dx() < 640 || img.Rect.Dy() < 400 {
			t.Fatalf("screen %v smaller than any VGA mode", img.Rect)
		}
		// SeaBIOS prints several lines of text: many light pixels, but
		// the screen is mostly black.
		lit, total := nonBlank(img), img.Rect.Dx()*img.Rect.Dy()
		if lit < 500 || lit > total/4 {
			t.Fatalf("%d of %d pixels lit; not a text screen", lit, total)
		}
		// Stable: a second capture a moment later differs by at most a
		// text cursor's worth of pixels.
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		again := c.Snapshot()
		diff := 0
		for i := 0; i < len(img.Pix); i += 4 {
			if !bytes.Equal(img.Pix[i:i+4], again.Pix[i:i+4]) {
				diff++
			}
		}
		if diff > 200 {
			t.Fatalf("%d pixels changed on a settled screen", diff)
		}
	})

	t.Run("tesseract reads No bootable device", func(t *testing.T) {
		tesseract := testutil.RequiresTesseract(t)
		text, img := waitText(ctx, t, c, tesseract, regexp.MustCompile(`No bootable device`))
		t.Logf("%v screen reads %q", img.Rect.Size(), text)
	})

	t.Run("dropped connection reported", func(t *testing.T) {
		q.Kill()
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatal("connection end not noticed")
		}
		if !errors.Is(c.Err(), vnc.ErrDisconnected) {
			t.Fatalf("Err() = %v, want ErrDisconnected", c.Err())
		}
		if err := c.KeyEvent(ctx, keysym.Return, true); !errors.Is(err, vnc.ErrDisconnected) {
			t.Fatalf("KeyEvent after QEMU died: %v", err)
		}
	})
}

// TestQEMUResizeAndKeys starts the guest paused to see QEMU's 640x480
// placeholder, follows the switch to SeaBIOS's 720x400 text mode, then
// opens SeaBIOS's boot menu with an extended key event.
func TestQEMUResizeAndKeys(t *testing.T) {
	skipShort(t)
	q := vnctest.Start(t, vnctest.Options{Paused: true, BootMenu: 60 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c, err := vnc.Dial(ctx, q.Addr, vnc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitFullFrame(ctx); err != nil {
		t.Fatal(err)
	}
	before := c.Size()
	updates, cancelSub := c.Subscribe()
	defer cancelSub()
	if _, err := q.Monitor(ctx, "cont"); err != nil {
		t.Fatal(err)
	}

	var resized vnc.Update
	for !resized.Resized {
		select {
		case u, ok := <-updates:
			if !ok {
				t.Fatalf("connection ended: %v", c.Err())
			}
			resized = u
		case <-ctx.Done():
			t.Fatalf("no DesktopSize after the guest started (size stays %v)", before)
		}
	}
	if resized.Size != image.Pt(720, 400) || resized.Size == before {
		t.Fatalf("resized from %v to %v, want 720x400 text mode", before, resized.Size)
	}
	if _, err := c.WaitFullFrame(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Snapshot().Rect.Size(); got != image.Pt(720, 400) {
		t.Fatalf("snapshot is %v after the resize", got)
	}
	t.Logf("followed resize %v -> %v", before, resized.Size)

	if !c.ExtendedKeyEvents() {
		t.Fatal("QEMU offers the extended key event, but the client does not use it")
	}

	tesseract := testutil.RequiresTesseract(t)
	waitText(ctx, t, c, tesseract, regexp.MustCompile(`Press ESC`))
	if err := c.KeyEvent(ctx, keysym.Escape, true); err != nil {
		t.Fatal(err)
	}
	if err := c.KeyEvent(ctx, keysym.Escape, false); err != nil {
		t.Fatal(err)
	}
	text, _ := waitText(ctx, t, c, tesseract, regexp.MustCompile(`Select boot device`))
	t.Logf("after ESC the screen reads %q", text)
}
