package ocr

import (
	"image"
	"image/draw"
	"sync"
)

// Preparation turns a screen into "ink": a grey image that is white where
// a pixel has its local background colour and darker the more it differs
// from it. Text becomes dark-on-white whatever its colours were —
// light-on-dark terminals, white on a teal highlight bar, red titles on
// grey — so one Tesseract setting reads them all.
//
// The local background is found per row: runs of (nearly) one colour at
// least minBgRun pixels long are background; between two such runs the
// background is whichever of the two neighbouring colours is more common
// in the gap (a word on a highlight bar that starts right at the word
// still gets the bar's colour).
const (
	minBgRun  = 10 // px; longer than any stroke or gap inside a word of screen fonts
	runTol    = 6  // per channel; lets gradients count as one background
	inkGain   = 2  // ink = 255 - gain*distance, so a distance of 128 is black
	inkCutoff = 170
	// Straight lines are frames, underlines, scroll bars and the edges of
	// bars, not text: ink runs at least this long are erased.
	maxInkRunH = 50
	maxInkRunV = 40
	// Thin (1–2 px) vertical lines are erased from this length on: the
	// sides of buttons and boxes; glyph stems of screen fonts are shorter.
	maxThinRunV = 20
	// Dark ink that fills a solidBlock×solidBlock square is a cursor or a
	// filled box, not a stroke of a screen font.
	solidBlock = 6
	solidDark  = 64
)

var hlenPool, killPool, runsPool sync.Pool

// getBuf returns a zeroed slice of n elements from pool.
func getBuf[T any](pool *sync.Pool, n int) []T {
	if p, ok := pool.Get().(*[]T); ok && cap(*p) >= n {
		b := (*p)[:n]
		clear(b)
		return b
	}
	return make([]T, n)
}

// toRGBA returns img as *image.RGBA, copying only when it has to.
func toRGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok {
		return m
	}
	b := img.Bounds()
	m := image.NewRGBA(b)
	draw.Draw(m, b, img, b.Min, draw.Src)
	return m
}

// runMap marks, per pixel, the colour of the long run it belongs to
// (bit 31 set) or 0 when it is in no long run.
func runMap(dst []uint32, src *image.RGBA, y0, y1 int) {
	b := src.Rect
	w := b.Dx()
	for y := y0; y < y1; y++ {
		row := src.Pix[(y-b.Min.Y)*src.Stride : (y-b.Min.Y)*src.Stride+4*w]
		out := dst[(y-b.Min.Y)*w : (y-b.Min.Y+1)*w]
		for x := 0; x < w; {
			r, g, bl := row[4*x], row[4*x+1], row[4*x+2]
			x1 := x + 1
			for ; x1 < w; x1++ {
				p := row[4*x1 : 4*x1+3 : 4*x1+3]
				if absDiff(p[0], r) > runTol || absDiff(p[1], g) > runTol || absDiff(p[2], bl) > runTol {
					break
				}
			}
			v := uint32(0)
			if x1-x >= minBgRun {
				v = 1<<31 | uint32(r)<<16 | uint32(g)<<8 | uint32(bl)
			}
			for k := x; k < x1; k++ {
				out[k] = v
			}
			x = x1
		}
	}
}

// vertReach is how far up and down a gap looks for the background that
// surrounds it: half a text line of the largest common screen fonts.
const vertReach = 12

// tallReach: a long run is background only where its colour also runs
// through the tallReach rows above or below it. Background (a window, a highlight
// bar) is taller than that; the horizontal strokes of large console fonts
// (Terminus 16×32: 11 px long, 2–3 px thick) are as long as a background
// run but not as tall, and are ink.
const tallReach = 4

// tallWidth: the colour must continue so in this many adjacent columns
// (a stroke crossing the run, such as the stem of a large "t" under its
// bar, is narrower).
const tallWidth = 5

// maxStrokeRun: only runs shorter than this must be tall to be
// background. A stroke of one glyph is no longer than the glyph cell of
// a large console font (16 px for Terminus 16×32); longer runs are
// background as they always were (a field whose text starts at its left
// edge has no tall stretch in its rows below the text).
const maxStrokeRun = 24

// inkReach is how many rows away a pixel's ink can depend on.
const inkReach = vertReach + tallReach

// inkRows computes the ink of rows [y0,y1) of src into dst (same bounds),
// given the run map of all rows.
func inkRows(dst *image.Gray, src *image.RGBA, runs []uint32, y0, y1 int) {
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	// Background pixels of the rows and of those the gaps look at.
	t0, t1 := max(y0-b.Min.Y-vertReach, 0), min(y1-b.Min.Y+vertReach, h)
	bgBuf := getBuf[bool](&bgPool, (t1-t0)*w)
	defer bgPool.Put(&bgBuf)
	bgm := bgMap{t0: t0, w: w, m: bgBuf}
	for ry := t0; ry < t1; ry++ {
		bgRowOf(src, runs, w, h, ry, bgBuf[(ry-t0)*w:(ry-t0+1)*w])
	}
	for y := y0; y < y1; y++ {
		ry := y - b.Min.Y
		row := src.Pix[ry*src.Stride : ry*src.Stride+4*w]
		out := dst.Pix[ry*dst.Stride : ry*dst.Stride+w]
		rr := runs[ry*w : (ry+1)*w]
		bgRow := bgBuf[(ry-t0)*w : (ry-t0+1)*w]
		var left, right [3]uint8
		hasLeft := false
		for x := 0; x < w; {
			if bgRow[x] {
				// Within tolerance of its run's colour: background.
				out[x] = 255
				left, hasLeft = unpack(rr[x]), true
				x++
				continue
			}
			// A gap between long runs: text, or small things.
			x1 := x + 1
			for x1 < w && !bgRow[x1] {
				x1++
			}
			hasRight := x1 < w
			if hasRight {
				right = unpack(rr[x1])
			}
			bg, ok := surroundingBackground(bgm, runs, w, h, ry, x, x1)
			if !ok {
				bg = gapBackground(row[4*x:4*x1], left, right, hasLeft, hasRight)
			}
			for k := x; k < x1; k++ {
				out[k] = inkValue(row[4*k:4*k+3], bg)
			}
			x = x1
		}
	}
}

var bgPool sync.Pool

// bgMap tells which pixels of rows [t0, t0+len/w) are background.
type bgMap struct {
	t0, w int
	m     []bool
}

func (b bgMap) at(y, x int) bool {
	i := (y-b.t0)*b.w + x
	return i >= 0 && i < len(b.m) && b.m[i]
}

// bgRowOf marks the pixels of row y that are background: in a run of at
// least maxStrokeRun px, or in a long run whose colour continues
// tallReach rows up or down in tallWidth adjacent columns somewhere
// along it, or in a long run more than a row thick that a stem at most
// maxStemWidth px wide separates from background of its colour.
func bgRowOf(src *image.RGBA, runs []uint32, w, h, y int, out []bool) []bool {
	rr := runs[y*w : (y+1)*w]
	for x := 0; x < w; {
		v := rr[x]
		x1 := x + 1
		for x1 < w && rr[x1] == v {
			x1++
		}
		if v != 0 {
			tall, n := x1-x >= maxStrokeRun, 0
			for k := x; k < x1 && !tall; k++ {
				n++
				if !tallAt(src, w, h, y, k, v) {
					n = 0
				}
				tall = n >= tallWidth
			}
			for k := x; k < x1; k++ {
				out[k] = tall
			}
		}
		x = x1
	}
	return out
}

// tallAt reports whether the run colour v continues through the
// tallReach pixels above or the tallReach pixels below pixel (x, y) (row
// y relative to src's top; each pixel within the run tolerance of the
// one before, so vertical gradients continue).
func tallAt(src *image.RGBA, w, h, y, x int, v uint32) bool {
	_ = w
	for _, dir := range [2]int{-1, 1} {
		if y+dir*tallReach < 0 || y+dir*tallReach >= h {
			continue
		}
		prev := unpack(v)
		ok := true
		for k := 1; ok && k <= tallReach; k++ {
			off := (y+dir*k)*src.Stride + 4*x
			p := src.Pix[off : off+3 : off+3]
			ok = near(p, prev)
			prev = [3]uint8{p[0], p[1], p[2]}
		}
		if ok {
			return true
		}
	}
	return false
}

// thickRun reports whether pixel (x, y) is background (see bgRowOf) in a
// long run v that has the same run colour directly above or below: an
// area of background, not a one-pixel line (the edge of a frame is not
// what text inside sits on).
func thickRun(bg bgMap, runs []uint32, w, h, y, x int, v uint32) bool {
	if v == 0 || !bg.at(y, x) {
		return false
	}
	return y > 0 && sameRun(runs[(y-1)*w+x], v) || y+1 < h && sameRun(runs[(y+1)*w+x], v)
}

// sameRun compares run colours with the run tolerance (bars are often
// vertical gradients, one shade per row).
func sameRun(a, b uint32) bool {
	if a == 0 || b == 0 {
		return false
	}
	ca := unpack(a)
	return near(ca[:], unpack(b))
}

func unpack(v uint32) [3]uint8 { return [3]uint8{uint8(v >> 16), uint8(v >> 8), uint8(v)} }

// surroundingBackground votes, over the gap's columns, for the colour of
// the nearest long run above or below: the background a line of text
// sits on shows in the rows just above and below its glyphs, even when
// the glyphs leave no long run in their own rows (a highlighted button,
// an input field that starts where its text starts).
func surroundingBackground(bg bgMap, runs []uint32, w, h, ry, x0, x1 int) ([3]uint8, bool) {
	type vote struct {
		v uint32
		n int
	}
	var votes [4]vote
	nv := 0
	for x := x0; x < x1; x++ {
		for k := 1; k <= vertReach; k++ {
			v := uint32(0)
			if ry-k >= 0 && thickRun(bg, runs, w, h, ry-k, x, runs[(ry-k)*w+x]) {
				v = runs[(ry-k)*w+x]
			}
			if v == 0 && ry+k < h && thickRun(bg, runs, w, h, ry+k, x, runs[(ry+k)*w+x]) {
				v = runs[(ry+k)*w+x]
			}
			if v == 0 {
				continue
			}
			found := false
			for i := 0; i < nv; i++ {
				if votes[i].v == v {
					votes[i].n++
					found = true
					break
				}
			}
			if !found && nv < len(votes) {
				votes[nv] = vote{v, 1}
				nv++
			}
			break
		}
	}
	if nv == 0 {
		return [3]uint8{}, false
	}
	best := 0
	for i := 1; i < nv; i++ {
		if votes[i].n > votes[best].n {
			best = i
		}
	}
	return unpack(votes[best].v), true
}

// gapBackground picks the background of a gap between two long runs.
func gapBackground(px []uint8, left, right [3]uint8, hasLeft, hasRight bool) [3]uint8 {
	switch {
	case hasLeft && hasRight:
		if left == right {
			return left
		}
		nl, nr := 0, 0
		for i := 0; i+2 < len(px); i += 4 {
			if near(px[i:i+3], left) {
				nl++
			} else if near(px[i:i+3], right) {
				nr++
			}
		}
		if nr > nl {
			return right
		}
		return left
	case hasLeft:
		return left
	case hasRight:
		return right
	}
	// No long run in the whole row: take the commonest exact colour of a
	// few candidates (the row is short or all text).
	type cand struct {
		c [3]uint8
		n int
	}
	var cs [8]cand
	nc := 0
	for i := 0; i+2 < len(px); i += 4 {
		c := [3]uint8{px[i], px[i+1], px[i+2]}
		found := false
		for j := 0; j < nc; j++ {
			if cs[j].c == c {
				cs[j].n++
				found = true
				break
			}
		}
		if !found && nc < len(cs) {
			cs[nc] = cand{c, 1}
			nc++
		}
	}
	best := 0
	for j := 1; j < nc; j++ {
		if cs[j].n > cs[best].n {
			best = j
		}
	}
	return cs[best].c
}

func near(p []uint8, c [3]uint8) bool {
	return absDiff(p[0], c[0]) <= runTol && absDiff(p[1], c[1]) <= runTol && absDiff(p[2], c[2]) <= runTol
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func inkValue(p []uint8, bg [3]uint8) uint8 {
	d := absDiff(p[0], bg[0])
	if v := absDiff(p[1], bg[1]); v > d {
		d = v
	}
	if v := absDiff(p[2], bg[2]); v > d {
		d = v
	}
	d *= inkGain
	if d > 255 {
		d = 255
	}
	return uint8(255 - d)
}

// cleanInk whitens what is ink but not text inside r: long straight
// lines (frames, underlines, scroll bars), thin vertical lines (sides of
// buttons), dotted lines (focus rectangles) and solid blocks (cursors).
func cleanInk(g *image.Gray, r image.Rectangle) {
	r = r.Intersect(g.Rect)
	w, h := r.Dx(), r.Dy()
	if w <= 0 || h <= 0 {
		return
	}
	pix := func(x, y int) []uint8 {
		off := (y+r.Min.Y-g.Rect.Min.Y)*g.Stride + (r.Min.X - g.Rect.Min.X) + x
		return g.Pix[off : off+w-x]
	}
	// hlen: length of the horizontal ink run through each ink pixel
	// (capped at 255); 0 for background.
	// Scratch buffers are reused: fresh megabytes cost page faults, which
	// are slow on virtual machines.
	hlen := getBuf[uint8](&hlenPool, w*h)
	defer hlenPool.Put(&hlen)
	kill := getBuf[bool](&killPool, w*h)
	defer killPool.Put(&kill)
	parallelRows(0, h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			horizontalClean(pix(0, y), hlen[y*w:(y+1)*w], kill[y*w:(y+1)*w])
		}
	})
	// Solid blocks: solidCol counts dark pixels above, inclusive.
	solidCol := make([]uint8, w)
	for y := 0; y < h; y++ {
		row := pix(0, y)
		run := 0
		for x := 0; x < w; x++ {
			if row[x] < solidDark {
				if solidCol[x] < 255 {
					solidCol[x]++
				}
			} else {
				solidCol[x] = 0
			}
			if solidCol[x] >= solidBlock {
				run++
			} else {
				run = 0
			}
			if run >= solidBlock {
				for yy := y - solidBlock + 1; yy <= y; yy++ {
					kr := kill[yy*w:]
					for xx := x - solidBlock + 1; xx <= x; xx++ {
						kr[xx] = true
					}
				}
			}
		}
	}
	// Long vertical lines first: what they leave beside them is measured
	// without them. A highlight bar that ends at a list's frame leaves a
	// 2-px edge that is thin only once the frame's column is gone.
	parallelRows(0, w, func(x0, x1 int) {
		for x := x0; x < x1; x++ {
			longVertical(hlen, kill, w, h, x)
		}
	})
	parallelRows(0, h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			withoutKilled(hlen[y*w:(y+1)*w], kill[y*w:(y+1)*w])
		}
	})
	parallelRows(0, w, func(x0, x1 int) {
		for x := x0; x < x1; x++ {
			verticalClean(hlen, kill, w, h, x, func(y int) bool { return pix(x, y)[0] < faintCutoff })
		}
	})
	parallelRows(0, h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			row := pix(0, y)
			for x, k := range kill[y*w : (y+1)*w] {
				if k {
					row[x] = 255
				}
			}
		}
	})
}

// horizontalClean fills hlen for one row and marks long runs and dotted
// lines for erasing.
func horizontalClean(row []uint8, hl []uint8, kl []bool) {
	w := len(hl)
	for x := 0; x < w; {
		if row[x] >= inkCutoff {
			x++
			continue
		}
		x1 := x + 1
		for x1 < w && row[x1] < inkCutoff {
			x1++
		}
		n := x1 - x
		v := uint8(min(n, 255))
		for k := x; k < x1; k++ {
			hl[k] = v
		}
		if n >= maxInkRunH {
			for k := x; k < x1; k++ {
				kl[k] = true
			}
		}
		x = x1
	}
	// Horizontal dotted lines: isolated pixels two apart.
	start, dots := -1, 0
	flush := func() {
		if dots >= maxInkRunH/2 {
			for k := 0; k < dots; k++ {
				kl[start+2*k] = true
			}
		}
		start, dots = -1, 0
	}
	for x := 0; x < w; x++ {
		if hl[x] != 1 {
			if hl[x] > 1 {
				flush()
			}
			continue
		}
		if dots > 0 && x == start+2*dots {
			dots++
			continue
		}
		flush()
		start, dots = x, 1
	}
	flush()
}

// longVertical marks the vertical ink runs of column x at least
// maxInkRunV long.
func longVertical(hlen []uint8, kill []bool, w, h, x int) {
	for y := 0; y < h; {
		if hlen[y*w+x] == 0 {
			y++
			continue
		}
		y1 := y
		for y1 < h && hlen[y1*w+x] != 0 {
			y1++
		}
		if y1-y >= maxInkRunV {
			for k := y; k < y1; k++ {
				kill[k*w+x] = true
			}
		}
		y = y1
	}
}

// withoutKilled sets the horizontal run length of each ink pixel of a row
// to that of its run without the pixels marked for erasing (which count
// as 1: they stay ink for the vertical runs they are part of).
func withoutKilled(hl []uint8, kl []bool) {
	for x := 0; x < len(hl); {
		if hl[x] == 0 || kl[x] {
			if hl[x] != 0 {
				hl[x] = 1
			}
			x++
			continue
		}
		x1 := x + 1
		for x1 < len(hl) && hl[x1] != 0 && !kl[x1] {
			x1++
		}
		v := uint8(min(x1-x, 255))
		for k := x; k < x1; k++ {
			hl[k] = v
		}
		x = x1
	}
}

// maxBridge and faintCutoff: a vertical run of ink goes on through up to
// maxBridge pixels lighter than inkCutoff but darker than faintCutoff
// when ink follows.
const (
	maxBridge   = 2
	faintCutoff = 200
)

// bridge returns how many faint pixels from row y on column x lead to ink
// (at most maxBridge), or 0.
func bridge(hlen []uint8, w, h, x, y int, faint func(y int) bool) int {
	for k := 0; k < maxBridge && y+k < h; k++ {
		if !faint(y + k) {
			return 0
		}
		if y+k+1 < h && hlen[(y+k+1)*w+x] != 0 {
			return k + 1
		}
	}
	return 0
}

// verticalClean marks long and thin vertical runs and vertical dotted
// lines of column x.
func verticalClean(hlen []uint8, kill []bool, w, h, x int, faint func(y int) bool) {
	for y := 0; y < h; {
		if hlen[y*w+x] == 0 {
			y++
			continue
		}
		y1, thin := y, 0
		for y1 < h {
			if hlen[y1*w+x] == 0 {
				// An anti-aliased line whose shade wavers around the
				// ink cutoff goes on through a pixel or two just
				// lighter than that.
				b := bridge(hlen, w, h, x, y1, faint)
				if b == 0 {
					break
				}
				thin += b
				y1 += b
				continue
			}
			if hlen[y1*w+x] <= 2 {
				thin++
			}
			y1++
		}
		n := y1 - y
		if n >= maxInkRunV || n >= maxThinRunV && thin*10 >= n*8 {
			for k := y; k < y1; k++ {
				kill[k*w+x] = true
			}
		}
		y = y1
	}
	// Vertical dotted lines.
	start, dots := -1, 0
	for y := 0; y <= h; y++ {
		isolated := y < h && hlen[y*w+x] != 0 && (y == 0 || hlen[(y-1)*w+x] == 0) && (y+1 >= h || hlen[(y+1)*w+x] == 0)
		if isolated && dots > 0 && y == start+2*dots {
			dots++
			continue
		}
		if isolated || y == h || hlen[y*w+x] != 0 {
			if dots >= maxThinRunV/2 {
				for k := 0; k < dots; k++ {
					kill[(start+2*k)*w+x] = true
				}
			}
			start, dots = -1, 0
			if isolated {
				start, dots = y, 1
			}
		}
	}
}

// inkImage prepares the whole of src.
func inkImage(src *image.RGBA) *image.Gray {
	g := image.NewGray(src.Rect)
	runs := getBuf[uint32](&runsPool, src.Rect.Dx()*src.Rect.Dy()) // runMap writes every element
	defer runsPool.Put(&runs)
	parallelRows(src.Rect.Min.Y, src.Rect.Max.Y, func(a, e int) { runMap(runs, src, a, e) })
	parallelRows(src.Rect.Min.Y, src.Rect.Max.Y, func(a, e int) { inkRows(g, src, runs, a, e) })
	cleanInk(g, g.Rect)
	return g
}
