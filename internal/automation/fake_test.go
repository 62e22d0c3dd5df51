package automation

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/deskvm/deskvm/internal/keysym"
)

// event is one recorded key or pointer event.
type event struct {
	Key     keysym.Keysym
	Down    bool
	X, Y    int
	Buttons Button
	Pointer bool
}

func (e event) String() string {
	if e.Pointer {
		return fmt.Sprintf("ptr(%d,%d,%d)", e.X, e.Y, e.Buttons)
	}
	dir := "up"
	if e.Down {
		dir = "down"
	}
	return fmt.Sprintf("%s %s", keyName(e.Key), dir)
}

func keyName(k keysym.Keysym) string {
	switch k {
	case keysym.ShiftL:
		return "shift"
	case keysym.ControlL:
		return "ctrl"
	case keysym.AltL:
		return "alt"
	case keysym.SuperL:
		return "super"
	case keysym.Return:
		return "enter"
	case keysym.Delete:
		return "delete"
	case keysym.Tab:
		return "tab"
	}
	if k >= 0x20 && k < 0x7f {
		return string(rune(k))
	}
	return fmt.Sprintf("0x%x", k)
}

// fakeScreen is a screen whose text is set by the test. Each change makes
// a new image; fakeEye looks the text up by image.
type fakeScreen struct {
	mu       sync.Mutex
	seq      uint64
	img      *image.RGBA
	changed  chan struct{}
	readings map[*image.RGBA]*Reading
	events   []event
	// react is called (without the lock) after every input event so a
	// test can change the screen in response.
	react func(e event)
	// failAfter makes the n-th input event (1-based) fail with
	// ErrScreenLost; 0 never.
	failAfter int
	nEvents   int
	frames    int
}

func newFakeScreen(lines ...string) *fakeScreen {
	s := &fakeScreen{changed: make(chan struct{}), readings: map[*image.RGBA]*Reading{}}
	s.setText(lines...)
	return s
}

// setText shows lines of text, one per 20 pixels, each word 8 px per char.
func (s *fakeScreen) setText(lines ...string) {
	rd := &Reading{}
	for i, l := range lines {
		y := 10 + 20*i
		tl := TextLine{Text: l, Confidence: 95, BBox: Box{X: 10, Y: y, Width: 8 * len(l), Height: 14}}
		x := 10
		for _, w := range strings.Fields(l) {
			tl.Words = append(tl.Words, Word{Text: w, Confidence: 95, BBox: Box{X: x, Y: y, Width: 8 * len(w), Height: 14}})
			x += 8 * (len(w) + 1)
		}
		rd.Texts = append(rd.Texts, tl)
	}
	s.show(rd)
}

func (s *fakeScreen) show(rd *Reading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img := image.NewRGBA(image.Rect(0, 0, 320, 200))
	// Make each frame look different so a PNG diff would show it.
	img.Set(0, 0, color.RGBA{uint8(s.seq), uint8(s.seq >> 8), uint8(s.seq >> 16), 255})
	s.img = img
	s.readings[img] = rd
	s.seq++
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *fakeScreen) Frame(ctx context.Context) (Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames++
	return Frame{Image: s.img, Seq: s.seq}, nil
}

func (s *fakeScreen) WaitChange(ctx context.Context, seq uint64) error {
	for {
		s.mu.Lock()
		cur, ch := s.seq, s.changed
		s.mu.Unlock()
		if cur > seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (s *fakeScreen) input(e event) error {
	s.mu.Lock()
	s.nEvents++
	if s.failAfter > 0 && s.nEvents == s.failAfter {
		s.mu.Unlock()
		return fmt.Errorf("write: broken pipe: %w", ErrScreenLost)
	}
	s.events = append(s.events, e)
	react := s.react
	s.mu.Unlock()
	if react != nil {
		react(e)
	}
	return nil
}

func (s *fakeScreen) KeyEvent(ctx context.Context, k keysym.Keysym, down bool) error {
	return s.input(event{Key: k, Down: down})
}

func (s *fakeScreen) PointerEvent(ctx context.Context, x, y int, b Button) error {
	return s.input(event{Pointer: true, X: x, Y: y, Buttons: b})
}

func (s *fakeScreen) eventStrings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.events))
	for i, e := range s.events {
		out[i] = e.String()
	}
	return out
}

// fakeSession shares the screen but counts Close.
type fakeSession struct {
	*fakeScreen
	closed bool
}

func (f *fakeSession) Close() error { f.closed = true; return nil }

// fakeEye returns the readings registered by fakeScreen and matches
// case-insensitively on substrings of lines (good enough for the runner's
// logic; the real matching is the OCR package's).
type fakeEye struct {
	mu     sync.Mutex
	screen *fakeScreen
	reads  int
}

func (e *fakeEye) Read(ctx context.Context, img *image.RGBA) (*Reading, error) {
	e.mu.Lock()
	e.reads++
	e.mu.Unlock()
	e.screen.mu.Lock()
	defer e.screen.mu.Unlock()
	rd, ok := e.screen.readings[img]
	if !ok {
		return nil, fmt.Errorf("fake eye: unknown image")
	}
	return rd, nil
}

func (e *fakeEye) readCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reads
}

func (e *fakeEye) Find(rd *Reading, t Target) []Match {
	var out []Match
	for _, l := range rd.Texts {
		var ok bool
		if t.Regex != nil {
			ok = t.Regex.MatchString(l.Text)
		} else {
			ok = regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(t.Text) + `\b`).MatchString(l.Text)
		}
		if ok {
			r := l.BBox.Rect()
			out = append(out, Match{Text: l.Text, BBox: r, Point: image.Pt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2)})
		}
	}
	return out
}

// rig bundles a fake screen, eye and dial counter for one test.
type rig struct {
	screen *fakeScreen
	eye    *fakeEye
	dials  int
	// dialErrs fail the first dials.
	dialErrs int
}

func newRig(lines ...string) *rig {
	s := newFakeScreen(lines...)
	return &rig{screen: s, eye: &fakeEye{screen: s}}
}

func (r *rig) options(t *testing.T) Options {
	return Options{
		Dial: func(ctx context.Context) (Session, error) {
			r.dials++
			if r.dials <= r.dialErrs {
				return nil, fmt.Errorf("connection refused")
			}
			return &fakeSession{fakeScreen: r.screen}, nil
		},
		Eye:         r.eye,
		RedialDelay: 1,
		FailureDir:  t.TempDir(),
	}
}

func mustParse(t *testing.T, src string, opts ...LoadOptions) *Script {
	t.Helper()
	var o LoadOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.LookupEnv == nil {
		o.LookupEnv = func(string) (string, bool) { return "", false }
	}
	s, err := Parse("test.yaml", []byte(src), o)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return s
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func mustRegex(t *testing.T, s string) *regexp.Regexp {
	t.Helper()
	return regexp.MustCompile(s)
}
