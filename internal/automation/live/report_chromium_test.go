package live

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/testutil"
)

// checkReportInChromium opens report.html in headless Chromium, as a
// person's browser would: the page loads without console errors, the DOM
// Chromium built holds every step of the run with its description and
// status, the failure, and thumbnails that decode; a screenshot of the
// page is not blank.
func checkReportInChromium(t *testing.T, report string, s *automation.Script, res *automation.Result, failure string) {
	t.Helper()
	chromium := testutil.RequiresCommand(t, "chromium")
	url := "file://" + report

	dom, logs := runChromium(t, chromium, "--dump-dom", url)
	for _, l := range strings.Split(logs, "\n") {
		// Page errors (scripts, console) are logged as CONSOLE lines; the
		// rest of stderr is the browser's own noise (no D-Bus here).
		if strings.Contains(l, ":CONSOLE") {
			t.Errorf("chromium console: %s", l)
		}
	}
	text := html.UnescapeString(dom)
	// Every step of the script has its row: the ones that ran with their
	// outcome, the rest as not run.
	red := automation.NewRedactor(s.Secrets)
	for i, st := range s.Steps {
		n, class, desc := i+1, "step-notrun", red.String(st.Describe())
		if i < len(res.Steps) {
			class = "step-ok"
			if res.Steps[i].Err != "" {
				class = "step-failed"
			}
		}
		row := regexp.MustCompile(fmt.Sprintf(`(?s)<tr id="step-%d" class="step %s">(.*?)</tr>`, n, class)).FindStringSubmatch(text)
		if row == nil {
			t.Errorf("DOM has no row for step %d (%s)", n, class)
			continue
		}
		pos := st.Position()
		if !strings.Contains(row[1], desc) || !strings.Contains(row[1], fmt.Sprintf("%d:%d", pos.Line, pos.Column)) {
			t.Errorf("row of step %d lacks %q at %d:%d:\n%s", n, desc, pos.Line, pos.Column, row[1])
		}
	}
	if n := strings.Count(text, `<tr id="step-`); n != len(s.Steps) {
		t.Errorf("DOM has %d step rows, the script %d steps", n, len(s.Steps))
	}
	fail := regexp.MustCompile(`(?s)<pre id="failure">(.*?)</pre>`).FindStringSubmatch(text)
	if fail == nil || !strings.Contains(fail[1], failure) || !strings.Contains(fail[1], "screen text:") {
		t.Errorf("DOM does not show the failure %q with the screen text: %v", failure, fail)
	}
	thumbs := regexp.MustCompile(`<img class="thumb" alt="[^"]*" src="data:image/jpeg;base64,([^"]+)"`).FindAllStringSubmatch(dom, -1)
	want := 0
	for _, st := range res.Steps {
		if len(st.Thumbnail) > 0 {
			want++
		}
	}
	if len(thumbs) != want || want == 0 {
		t.Errorf("DOM has %d thumbnails, the run made %d", len(thumbs), want)
	}
	for i, m := range thumbs {
		b, err := base64.StdEncoding.DecodeString(m[1])
		if err == nil {
			_, err = jpeg.Decode(bytes.NewReader(b))
		}
		if err != nil {
			t.Errorf("thumbnail %d: %v", i+1, err)
		}
	}

	shot := filepath.Join(t.TempDir(), "report.png")
	runChromium(t, chromium, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	ink, colours := inkOf(img)
	t.Logf("report screenshot %s: %.1f%% non-white pixels, %d colours", img.Bounds().Size(), ink*100, colours)
	if ink < 0.03 || colours < 100 {
		t.Errorf("the report's screenshot looks blank: %.1f%% non-white, %d colours", ink*100, colours)
	}
}

// runChromium runs headless Chromium with a throw-away profile and returns
// its stdout and stderr.
func runChromium(t *testing.T, chromium string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), errb.String()
}

// inkOf returns the share of pixels that are not (nearly) white and the
// number of distinct colours.
func inkOf(img image.Image) (float64, int) {
	b := img.Bounds()
	colours := map[uint32]bool{}
	ink := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if r < 240 || g < 240 || bl < 240 {
				ink++
			}
			if len(colours) < 10000 {
				colours[r<<16|g<<8|bl] = true
			}
		}
	}
	return float64(ink) / float64(b.Dx()*b.Dy()), len(colours)
}
