package fetch

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress tells the user how a download goes: a progress bar when the
// writer is a terminal, a plain line at every 10% or every 5 s otherwise
// (a CI log or a pipe gets no carriage returns). A nil writer is quiet.
type progress struct {
	w    io.Writer
	name string
	tty  bool
	now  func() time.Time

	bar      *progressbar.ProgressBar
	total    int64
	from     int64 // bytes present when this transfer started
	began    time.Time
	lastLine time.Time
	lastTen  int64 // last 10% step printed
}

// plainEvery is the longest pause between plain progress lines.
const plainEvery = 5 * time.Second

func newProgress(w io.Writer, name string) *progress {
	return &progress{w: w, name: name, tty: isTerminal(w), now: time.Now}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// note prints one line between bars (waiting, resuming, starting over).
func (p *progress) note(msg string) {
	if p.w == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintf(p.w, "%s: %s\n", p.name, msg)
}

// start begins a transfer of total bytes (-1: unknown) of which done are
// there already.
func (p *progress) start(what string, total, done int64) { p.begin("downloading", what, total, done) }

// begin starts a bar or plain lines for verb ("downloading", "hashing").
func (p *progress) begin(verb, what string, total, done int64) {
	if p.w == nil {
		return
	}
	p.total, p.from, p.began, p.lastLine = total, done, p.now(), p.now()
	p.lastTen = -1
	if total > 0 {
		p.lastTen = done * 10 / total
	}
	switch {
	case done > 0 && total > 0:
		fmt.Fprintf(p.w, "%s: resuming %s at %s of %s\n", p.name, what, formatBytes(done), formatBytes(total))
	case total > 0:
		fmt.Fprintf(p.w, "%s: %s %s (%s)\n", p.name, verb, what, formatBytes(total))
	default:
		fmt.Fprintf(p.w, "%s: %s %s\n", p.name, verb, what)
	}
	if p.tty {
		if p.bar != nil {
			_ = p.bar.Exit()
		}
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		_ = p.bar.Set64(done)
	}
}

// add reports that n bytes are there now.
func (p *progress) add(n int64) {
	if p.w == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Set64(n)
		return
	}
	now := p.now()
	if p.total > 0 {
		if ten := n * 10 / p.total; ten > p.lastTen {
			p.lastTen = ten
			p.lastLine = now
			if n < p.total {
				fmt.Fprintf(p.w, "%s: %d%% (%s of %s, %s)\n", p.name, ten*10, formatBytes(n), formatBytes(p.total), p.rate(n, now))
			}
			return
		}
	}
	if now.Sub(p.lastLine) >= plainEvery {
		p.lastLine = now
		if p.total > 0 {
			fmt.Fprintf(p.w, "%s: %d%% (%s of %s, %s)\n", p.name, n*100/p.total, formatBytes(n), formatBytes(p.total), p.rate(n, now))
		} else {
			fmt.Fprintf(p.w, "%s: %s (%s)\n", p.name, formatBytes(n), p.rate(n, now))
		}
	}
}

func (p *progress) rate(n int64, now time.Time) string {
	s := now.Sub(p.began).Seconds()
	if s <= 0 {
		return "-"
	}
	return formatBytes(int64(float64(n-p.from)/s)) + "/s"
}

// finish closes the bar and prints the total.
func (p *progress) finish(n int64) {
	if p.w == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
	now := p.now()
	fmt.Fprintf(p.w, "%s: done, %s in %.1f s (%s)\n", p.name, formatBytes(n), now.Sub(p.began).Seconds(), p.rate(n, now))
}

// formatBytes writes a byte count in binary units, one decimal.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
