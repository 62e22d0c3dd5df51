package ocr

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/deskvm/deskvm/internal/testutil"
)

var (
	white = color.RGBA{255, 255, 255, 255}
	black = color.RGBA{0, 0, 0, 255}
	grey  = color.RGBA{170, 170, 170, 255}
	red   = color.RGBA{170, 0, 0, 255}
	teal  = color.RGBA{41, 128, 120, 255}
)

func canvasRGBA(w, h int, bg color.Color) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(m, m.Rect, image.NewUniform(bg), image.Point{}, draw.Src)
	return m
}

func fillRect(m *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(m, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// drawText draws s with its baseline at (x, y) in basicfont 7×13.
func drawText(m *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: m, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func inkAt(g *image.Gray, x, y int) bool { return g.GrayAt(x, y).Y < inkCutoff }

// sameInk compares the ink masks of two prepared images inside r.
func sameInk(t *testing.T, a, b *image.Gray, r image.Rectangle) {
	t.Helper()
	diff := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if inkAt(a, x, y) != inkAt(b, x, y) {
				diff++
			}
		}
	}
	if diff > 0 {
		t.Errorf("%d pixels differ in ink", diff)
	}
}

func countInk(g *image.Gray, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if inkAt(g, x, y) {
				n++
			}
		}
	}
	return n
}

func TestInkPolarity(t *testing.T) {
	const s = "Light on dark reads like dark on light"
	dark := canvasRGBA(400, 40, black)
	drawText(dark, 10, 25, s, grey)
	light := canvasRGBA(400, 40, white)
	drawText(light, 10, 25, s, black)
	a, b := inkImage(dark), inkImage(light)
	if countInk(a, a.Rect) < 200 {
		t.Fatalf("light-on-dark text lost: %d ink pixels", countInk(a, a.Rect))
	}
	sameInk(t, a, b, a.Rect)
}

func TestInkHighlightBar(t *testing.T) {
	const s = "English - English"
	// A bar with two rows of padding that begins 2 px before the text,
	// inside a panel: its colour, not the panel's, is the background.
	for _, c := range []struct {
		name  string
		panel color.Color
		bar   color.Color
		fg    color.Color
	}{
		{"teal bar", white, teal, white},
		{"red button", grey, red, white},
		{"input field", grey, color.RGBA{0, 0, 170, 255}, grey},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := canvasRGBA(300, 40, c.panel)
			fillRect(m, image.Rect(20, 8, 160, 28), c.bar)
			drawText(m, 22, 23, s, c.fg)
			ref := canvasRGBA(300, 40, white)
			drawText(ref, 22, 23, s, black)
			got, want := inkImage(m), inkImage(ref)
			sameInk(t, got, want, image.Rect(0, 0, 300, 40))
		})
	}
}

// The strokes of a large console font (Terminus 16×32, light grey on
// black) are as long as a background run: a "t" whose bar is 11 px long
// and 2 px thick, an "m" whose top is 12 px long over three 3-px stems,
// an "E" whose bars are 11 px. They are ink, not background.
func TestInkLargeFontStrokes(t *testing.T) {
	grey := color.RGBA{170, 170, 170, 255}
	m := canvasRGBA(200, 60, black)
	// t: stem x 14–17, rows 10–33; bar x 10–21, rows 18–20.
	fillRect(m, image.Rect(14, 10, 17, 34), grey)
	fillRect(m, image.Rect(10, 18, 21, 20), grey)
	// m: top x 40–52, rows 18–20; stems at 40, 45, 50 (3 px), rows 18–34.
	fillRect(m, image.Rect(40, 18, 52, 20), grey)
	for _, x := range []int{40, 45, 50} {
		fillRect(m, image.Rect(x, 18, x+3, 34), grey)
	}
	// E: stem x 70–73, rows 10–34; bars 11 px at rows 10, 21, 32.
	fillRect(m, image.Rect(70, 10, 73, 34), grey)
	for _, y := range []int{10, 21, 32} {
		fillRect(m, image.Rect(70, y, 81, y+2), grey)
	}
	g := inkImage(m)
	for _, r := range []image.Rectangle{
		image.Rect(10, 18, 21, 20), image.Rect(40, 18, 52, 20),
		image.Rect(70, 10, 81, 12), image.Rect(70, 21, 81, 23), image.Rect(70, 32, 81, 34),
	} {
		if n, want := countInk(g, r), r.Dx()*r.Dy(); n != want {
			t.Errorf("stroke %v: %d of %d pixels are ink", r, n, want)
		}
	}
	if n := countInk(g, image.Rect(100, 0, 200, 60)); n > 0 {
		t.Errorf("background: %d ink pixels", n)
	}
}

func TestCleanInkRemovesFramesAndCursor(t *testing.T) {
	m := canvasRGBA(400, 100, white)
	// A 1-px frame (button sides are 30 px tall), a dotted focus line,
	// a long underline and an 8×16 cursor block.
	frame := image.Rect(10, 10, 210, 40)
	fillRect(m, image.Rect(frame.Min.X, frame.Min.Y, frame.Max.X, frame.Min.Y+1), black)
	fillRect(m, image.Rect(frame.Min.X, frame.Max.Y-1, frame.Max.X, frame.Max.Y), black)
	fillRect(m, image.Rect(frame.Min.X, frame.Min.Y, frame.Min.X+1, frame.Max.Y), black)
	fillRect(m, image.Rect(frame.Max.X-1, frame.Min.Y, frame.Max.X, frame.Max.Y), black)
	for x := 20; x < 200; x += 2 {
		m.Set(x, 14, black)
	}
	fillRect(m, image.Rect(10, 70, 300, 71), black)
	drawText(m, 20, 32, "Go Back", black)
	fillRect(m, image.Rect(80, 20, 88, 36), black)
	g := inkImage(m)
	for _, r := range []image.Rectangle{
		image.Rect(10, 10, 210, 11), image.Rect(10, 10, 11, 40), image.Rect(209, 10, 210, 40),
		image.Rect(20, 14, 200, 15), image.Rect(10, 70, 300, 71), image.Rect(80, 20, 88, 36),
	} {
		if n := countInk(g, r); n > 0 {
			t.Errorf("%v: %d ink pixels left", r, n)
		}
	}
	if n := countInk(g, image.Rect(20, 18, 75, 36)); n < 40 {
		t.Errorf("text erased: %d ink pixels", n)
	}
}

// A selected row of a list (GTK tree view): the highlight bar ends at the
// list's 1-px frame, and the 2 px of window background left of the frame
// come out as ink (the bar's colour is their background). With the frame
// they are a 3-px stroke; once the frame's long line is gone they are a
// thin line like a button side, and go too. And the side of a button
// whose anti-aliased shade wavers around the ink cutoff (one pixel just
// lighter every so often) is still one line.
func TestCleanInkLinesBesideFramesAndFaint(t *testing.T) {
	window := color.RGBA{246, 245, 244, 255}
	frameC := color.RGBA{205, 199, 194, 255}
	bar := color.RGBA{53, 132, 228, 255}
	m := canvasRGBA(300, 140, window)
	list := image.Rect(2, 10, 280, 120)
	fillRect(m, list, frameC)
	fillRect(m, list.Inset(1), white)
	fillRect(m, image.Rect(3, 40, 279, 63), bar)
	drawText(m, 10, 56, "/dev/vda1", white)
	// Outside the list, a button side 30 px long: ink 155 with a pixel at
	// 171 every 8 rows.
	side := color.RGBA{196, 196, 196, 255}
	fillRect(m, image.Rect(290, 75, 291, 105), side)
	for y := 80; y < 105; y += 8 {
		m.Set(290, y, color.RGBA{204, 204, 204, 255})
	}
	g := inkImage(m)
	if n := countInk(g, image.Rect(0, 40, 3, 63)); n > 0 {
		t.Errorf("bar edge beside the frame: %d ink pixels left", n)
	}
	if n := countInk(g, image.Rect(289, 70, 292, 110)); n > 0 {
		t.Errorf("faint button side: %d ink pixels left", n)
	}
	if n := countInk(g, image.Rect(10, 44, 75, 60)); n < 40 {
		t.Errorf("text erased: %d ink pixels", n)
	}
}

func TestSegmentLines(t *testing.T) {
	m := canvasRGBA(640, 120, white)
	drawText(m, 10, 20, "Bosnian", black)
	drawText(m, 200, 20, "Bosanski", black) // far: another piece
	drawText(m, 10, 45, "Please enter the hostname", black)
	drawText(m, 10, 70, "-", black) // too small to be a line
	drawText(m, 10, 100, "Go Back", black)
	drawText(m, 500, 100, "Continue", black)
	g := inkImage(m)
	got := segment(g, g.Rect)
	wantStarts := []image.Point{{10, 0}, {200, 0}, {10, 0}, {10, 0}, {500, 0}}
	if len(got) != len(wantStarts) {
		t.Fatalf("got %d pieces %v, want %d", len(got), got, len(wantStarts))
	}
	for i, r := range got {
		if abs(r.Min.X-wantStarts[i].X) > 1 {
			t.Errorf("piece %d at %v, want x=%d", i, r, wantStarts[i].X)
		}
		if r.Dy() > 14 {
			t.Errorf("piece %d is %d px tall: more than one line", i, r.Dy())
		}
	}
	if got[2].Dx() < 150 {
		t.Errorf("sentence split at word spaces: %v", got[2])
	}
}

// blurred is m with each pixel averaged with its right and lower
// neighbours: text drawn in basicfont gets the grey edges of
// anti-aliased text.
func blurred(m *image.RGBA) *image.RGBA {
	out := image.NewRGBA(m.Rect)
	b := m.Rect
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var s [3]int
			for _, d := range []image.Point{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				c := m.RGBAAt(min(x+d.X, b.Max.X-1), min(y+d.Y, b.Max.Y-1))
				s[0], s[1], s[2] = s[0]+int(c.R), s[1]+int(c.G), s[2]+int(c.B)
			}
			out.SetRGBA(x, y, color.RGBA{uint8(s[0] / 4), uint8(s[1] / 4), uint8(s[2] / 4), 255})
		}
	}
	return out
}

// The cells of one table row in anti-aliased text are cut to the row's
// height, so that a cell with only digits or small letters is enlarged
// like the cells beside it; pixel-font rows are left as they are.
func TestSegmentEvensRowCells(t *testing.T) {
	m := canvasRGBA(600, 60, white)
	drawText(m, 10, 30, "Typing", black) // ascenders and descenders
	drawText(m, 150, 30, "0", black)     // digits only
	drawText(m, 250, 30, "none", black)  // small letters only
	for _, c := range []struct {
		name   string
		img    *image.RGBA
		evened bool
	}{{"anti-aliased", blurred(m), true}, {"pixel font", m, false}} {
		t.Run(c.name, func(t *testing.T) {
			g := inkImage(c.img)
			row := segment(g, g.Rect)
			if len(row) != 3 {
				t.Fatalf("cells %v, want 3", row)
			}
			same := row[0].Min.Y == row[1].Min.Y && row[1].Min.Y == row[2].Min.Y &&
				row[0].Max.Y == row[1].Max.Y && row[1].Max.Y == row[2].Max.Y
			if same != c.evened {
				t.Errorf("cells %v: evened=%v, want %v", row, same, c.evened)
			}
		})
	}
}

// A cell grows only over empty rows: not into ink above or below it in
// its columns, and not to the height of a piece more than twice as tall.
func TestEvenRowsStopsAtInk(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 300, 60))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	grey := func(r image.Rectangle) { // anti-aliased ink
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				g.SetGray(x, y, color.Gray{100})
			}
		}
	}
	a, b := image.Rect(10, 20, 50, 32), image.Rect(100, 22, 130, 30)
	tall := image.Rect(200, 5, 210, 50)
	grey(a)
	grey(b)
	grey(tall)
	grey(image.Rect(100, 20, 130, 21)) // ink in b's columns, above it
	got := evenRows(g, []image.Rectangle{a, b, tall})
	if want := image.Rect(100, 21, 130, 32); got[1] != want {
		t.Errorf("b: %v, want %v", got[1], want)
	}
	if got[0] != a || got[2] != tall {
		t.Errorf("a: %v, tall: %v; want them unchanged", got[0], got[2])
	}
}

func TestSegmentTouchingLines(t *testing.T) {
	// Two lines joined by a tall glyph column (CJK fills its cell).
	m := canvasRGBA(300, 60, white)
	drawText(m, 10, 20, "Chinese (Simplified)", black)
	drawText(m, 10, 36, "Chinese (Traditional)", black)
	fillRect(m, image.Rect(170, 8, 172, 38), black)
	g := inkImage(m)
	got := segment(g, g.Rect)
	if len(got) < 2 {
		t.Fatalf("touching lines not split: %v", got)
	}
}

func TestComposeDistributeRoundTrip(t *testing.T) {
	m := canvasRGBA(640, 200, white)
	drawText(m, 100, 50, "Continue", black)
	drawText(m, 300, 150, "Go Back", black)
	g := inkImage(m)
	eng := NewTesseract(nil)
	ps := eng.pieces(g, segment(g, g.Rect))
	if len(ps) != 2 {
		t.Fatalf("pieces: %v", ps)
	}
	canvas, pl := compose(g, ps, 400)
	// Pretend tesseract found one word exactly covering each placed piece.
	var words []tsvWord
	for i, p := range pl {
		words = append(words, tsvWord{block: 1, par: 1, line: i + 1, text: "w", conf: 0.9, box: p.dst})
		if !p.dst.In(canvas.Rect) {
			t.Errorf("placement %v outside canvas %v", p.dst, canvas.Rect)
		}
	}
	texts := distribute(words, pl)
	res := assemble(ps, texts)
	if len(res.Lines) != 2 {
		t.Fatalf("lines: %+v", res.Lines)
	}
	for i, l := range res.Lines {
		if l.BBox != ps[i].src {
			t.Errorf("line %d box %v, want the piece %v", i, l.BBox, ps[i].src)
		}
	}
}

// countingRunner answers every canvas with no words and records the
// canvases' sizes.
type countingRunner struct {
	mu    sync.Mutex
	calls int
}

func (c *countingRunner) Run(ctx context.Context, img []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return []byte("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"), nil
}

func TestReaderCacheAndIncrementalInk(t *testing.T) {
	base := toRGBA(loadPNG(t, filepath.Join(corpusDir(), "gtk-language.png")))
	run := &countingRunner{}
	rd := NewReader(run)
	ctx := context.Background()
	if _, err := rd.Read(ctx, base); err != nil {
		t.Fatal(err)
	}
	st := rd.Stats()
	if run.calls == 0 || st.Read == 0 || st.Cached != 0 {
		t.Fatalf("first read: %d calls, stats %+v", run.calls, st)
	}
	// Same frame again: nothing is run.
	calls := run.calls
	if _, err := rd.Read(ctx, base); err != nil {
		t.Fatal(err)
	}
	if run.calls != calls || rd.Stats().Read != 0 {
		t.Errorf("unchanged frame ran tesseract: %d calls, stats %+v", run.calls-calls, rd.Stats())
	}
	// One word changes: one canvas with that line only.
	next := image.NewRGBA(base.Rect)
	copy(next.Pix, base.Pix)
	fillRect(next, image.Rect(18, 88, 140, 104), color.RGBA{237, 235, 233, 255})
	drawText(next, 18, 100, "Pick a language", black)
	if _, err := rd.Read(ctx, next); err != nil {
		t.Fatal(err)
	}
	st = rd.Stats()
	// (A second call reads the same line at another enlargement when
	// the first reading was weak.)
	if run.calls != calls+1+st.Reread || st.Read != 1 || st.Reread > 1 || st.Cached != st.Lines-1 {
		t.Errorf("small change: %d calls, stats %+v; want 1 call reading 1 line (2 with a second reading)", run.calls-calls, st)
	}
	// The incrementally updated ink equals preparing the frame afresh,
	// and so do the line boxes, partly reused from the previous frame.
	full := inkImage(next)
	sameInk(t, rd.ink, full, full.Rect)
	var boxes []image.Rectangle
	for _, br := range rowBands(rd.ink, rd.ink.Rect) {
		boxes = append(boxes, rd.bands[br]...)
	}
	if want := segment(full, full.Rect); fmt.Sprint(boxes) != fmt.Sprint(want) {
		t.Errorf("line boxes after a change:\n%v\nwant\n%v", boxes, want)
	}
	// Told which rectangle changed, the Reader reads the same.
	calls = run.calls
	again := image.NewRGBA(base.Rect)
	copy(again.Pix, next.Pix)
	drawText(again, 18, 100, "Pick a language!", black)
	if _, err := rd.ReadChanged(ctx, again, []image.Rectangle{image.Rect(18, 88, 140, 104)}); err != nil {
		t.Fatal(err)
	}
	if st := rd.Stats(); run.calls != calls+1+st.Reread || st.Read != 1 || st.Reread > 1 || st.ChangedRows != 16 {
		t.Errorf("ReadChanged: %d calls, stats %+v", run.calls-calls, st)
	}
	sameInk(t, rd.ink, inkImage(again), full.Rect)
	calls = run.calls
	if _, err := rd.ReadChanged(ctx, again, nil); err != nil || run.calls != calls || rd.Stats().ChangedRows != 0 {
		t.Errorf("ReadChanged with nothing changed: %v, %d calls", err, run.calls-calls)
	}
	// Content that moved is found in the cache: shift the whole screen
	// down by 4 px (bars and lists keep their text).
	moved := image.NewRGBA(base.Rect)
	draw.Draw(moved, moved.Rect, image.NewUniform(color.RGBA{237, 235, 233, 255}), image.Point{}, draw.Src)
	draw.Draw(moved, base.Rect.Add(image.Pt(0, 4)), base, image.Point{}, draw.Src)
	if _, err := rd.Read(ctx, moved); err != nil {
		t.Fatal(err)
	}
	st = rd.Stats()
	if st.Cached*10 < st.Lines*8 {
		t.Errorf("moved screen: only %d of %d lines from the cache", st.Cached, st.Lines)
	}
}

// countRunner counts calls to a real runner.
type countRunner struct {
	Runner
	mu    sync.Mutex
	calls int
}

func (c *countRunner) Run(ctx context.Context, img []byte) ([]byte, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Runner.Run(ctx, img)
}

func TestReaderRereadsOnlyChange(t *testing.T) {
	testutil.RequiresTesseract(t)
	img := loadPNG(t, filepath.Join(corpusDir(), "text-hostname.png"))
	pool := NewProcessPool(TesseractOptions{})
	defer pool.Close()
	run := &countRunner{Runner: pool}
	rd := NewReader(run)
	ctx := context.Background()
	res, err := rd.Read(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if len(Find(res, Query{Text: "Configure the network", Fuzzy: true})) != 1 {
		t.Fatalf("first read:\n%s", res.Text())
	}
	calls := run.calls
	if _, err := rd.Read(ctx, img); err != nil || run.calls != calls {
		t.Fatalf("unchanged frame: %v, %d tesseract runs", err, run.calls-calls)
	}
	// New text in the empty blue area above the dialog (3% of the screen).
	next := changeRegion(img, image.Rect(320, 120, 960, 160), 42)
	res, err = rd.Read(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	st := rd.Stats()
	if run.calls != calls+1 || st.Read != 2 || st.Cached != st.Lines-2 {
		t.Errorf("after the change: %d runs, stats %+v; want 1 run reading the 2 new lines", run.calls-calls, st)
	}
	for _, p := range []string{"Installing package 42 of 1200", "Configure the network", "Go Back"} {
		if len(Find(res, Query{Text: p, Fuzzy: true})) != 1 {
			t.Errorf("%q not found after the change:\n%s", p, res.Text())
		}
	}
}
