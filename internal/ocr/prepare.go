package ocr

import (
	"image"
	"image/draw"
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
	solidBlock = 5
	solidDark  = 64
)

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
			c := [3]uint8{row[4*x], row[4*x+1], row[4*x+2]}
			x1 := x + 1
			for x1 < w && near(row[4*x1:4*x1+3], c) {
				x1++
			}
			v := uint32(0)
			if x1-x >= minBgRun {
				v = 1<<31 | uint32(c[0])<<16 | uint32(c[1])<<8 | uint32(c[2])
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

// inkRows computes the ink of rows [y0,y1) of src into dst (same bounds),
// given the run map of all rows.
func inkRows(dst *image.Gray, src *image.RGBA, runs []uint32, y0, y1 int) {
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	for y := y0; y < y1; y++ {
		ry := y - b.Min.Y
		row := src.Pix[ry*src.Stride : ry*src.Stride+4*w]
		out := dst.Pix[ry*dst.Stride : ry*dst.Stride+w]
		rr := runs[ry*w : (ry+1)*w]
		var left *[3]uint8
		for x := 0; x < w; {
			if rr[x] != 0 {
				c := unpack(rr[x])
				out[x] = inkValue(row[4*x:4*x+3], c)
				left = &c
				x++
				continue
			}
			// A gap between long runs: text, or small things.
			x1 := x + 1
			for x1 < w && rr[x1] == 0 {
				x1++
			}
			var right *[3]uint8
			if x1 < w {
				c := unpack(rr[x1])
				right = &c
			}
			bg, ok := surroundingBackground(runs, w, h, ry, x, x1)
			if !ok {
				bg = gapBackground(row[4*x:4*x1], left, right)
			}
			for k := x; k < x1; k++ {
				out[k] = inkValue(row[4*k:4*k+3], bg)
			}
			x = x1
		}
	}
}

func unpack(v uint32) [3]uint8 { return [3]uint8{uint8(v >> 16), uint8(v >> 8), uint8(v)} }

// surroundingBackground votes, over the gap's columns, for the colour of
// the nearest long run above or below: the background a line of text
// sits on shows in the rows just above and below its glyphs, even when
// the glyphs leave no long run in their own rows (a highlighted button,
// an input field that starts where its text starts).
func surroundingBackground(runs []uint32, w, h, ry, x0, x1 int) ([3]uint8, bool) {
	type vote struct {
		v uint32
		n int
	}
	var votes [4]vote
	nv := 0
	for x := x0; x < x1; x++ {
		for k := 1; k <= vertReach; k++ {
			v := uint32(0)
			if ry-k >= 0 {
				v = runs[(ry-k)*w+x]
			}
			if v == 0 && ry+k < h {
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
func gapBackground(px []uint8, left, right *[3]uint8) [3]uint8 {
	switch {
	case left != nil && right != nil:
		if *left == *right {
			return *left
		}
		nl, nr := 0, 0
		for i := 0; i+2 < len(px); i += 4 {
			if near(px[i:i+3], *left) {
				nl++
			} else if near(px[i:i+3], *right) {
				nr++
			}
		}
		if nr > nl {
			return *right
		}
		return *left
	case left != nil:
		return *left
	case right != nil:
		return *right
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

// eraseLines whitens long straight ink runs inside r (rows and columns).
func eraseLines(g *image.Gray, r image.Rectangle) {
	r = r.Intersect(g.Rect)
	// Mark first, erase after, so a frame corner is found by both passes.
	w, h := r.Dx(), r.Dy()
	if w <= 0 || h <= 0 {
		return
	}
	kill := make([]bool, w*h)
	at := func(x, y int) bool { return g.Pix[(y-g.Rect.Min.Y)*g.Stride+(x-g.Rect.Min.X)] < inkCutoff }
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; {
			if !at(x, y) {
				x++
				continue
			}
			x1 := x + 1
			for x1 < r.Max.X && at(x1, y) {
				x1++
			}
			if x1-x >= maxInkRunH {
				for k := x; k < x1; k++ {
					kill[(y-r.Min.Y)*w+k-r.Min.X] = true
				}
			}
			x = x1
		}
	}
	for x := r.Min.X; x < r.Max.X; x++ {
		for y := r.Min.Y; y < r.Max.Y; {
			if !at(x, y) {
				y++
				continue
			}
			y1 := y + 1
			for y1 < r.Max.Y && at(x, y1) {
				y1++
			}
			if y1-y >= maxInkRunV || y1-y >= maxThinRunV && thinColumn(g, x, y, y1, r) {
				for k := y; k < y1; k++ {
					kill[(k-r.Min.Y)*w+x-r.Min.X] = true
				}
			}
			y = y1
		}
	}
	// Dotted lines (focus rectangles): single ink pixels every other
	// pixel, horizontally or vertically.
	for y := r.Min.Y; y < r.Max.Y; y++ {
		markDotted(w, func(i int) bool { return at(r.Min.X+i, y) }, func(i int) { kill[(y-r.Min.Y)*w+i] = true }, maxInkRunH/2)
	}
	for x := r.Min.X; x < r.Max.X; x++ {
		markDotted(h, func(i int) bool { return at(x, r.Min.Y+i) }, func(i int) { kill[i*w+x-r.Min.X] = true }, maxThinRunV/2)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if kill[y*w+x] {
				g.Pix[(y+r.Min.Y-g.Rect.Min.Y)*g.Stride+(x+r.Min.X-g.Rect.Min.X)] = 255
			}
		}
	}
}

// markDotted marks runs of at least minDots isolated ink pixels spaced
// two apart along a line of n pixels.
func markDotted(n int, ink func(int) bool, mark func(int), minDots int) {
	start, dots := -1, 0
	flush := func() {
		if dots >= minDots {
			for k := 0; k < dots; k++ {
				mark(start + 2*k)
			}
		}
		start, dots = -1, 0
	}
	for i := 0; i < n; i++ {
		if !ink(i) {
			continue
		}
		isolated := (i == 0 || !ink(i-1)) && (i+1 >= n || !ink(i+1))
		if !isolated {
			flush()
			continue
		}
		if dots > 0 && i == start+2*dots {
			dots++
			continue
		}
		flush()
		start, dots = i, 1
	}
	flush()
}

// thinColumn reports whether the ink of column x in rows [y0,y1) is a
// line at most 2 px wide in most rows.
func thinColumn(g *image.Gray, x, y0, y1 int, r image.Rectangle) bool {
	thin := 0
	for y := y0; y < y1; y++ {
		w := 1
		for k := x - 1; k >= r.Min.X && k >= x-3 && g.Pix[(y-g.Rect.Min.Y)*g.Stride+(k-g.Rect.Min.X)] < inkCutoff; k-- {
			w++
		}
		for k := x + 1; k < r.Max.X && k <= x+3 && g.Pix[(y-g.Rect.Min.Y)*g.Stride+(k-g.Rect.Min.X)] < inkCutoff; k++ {
			w++
		}
		if w <= 2 {
			thin++
		}
	}
	return thin*10 >= (y1-y0)*8
}

// eraseSolid whitens every solidBlock×solidBlock square that is all ink.
func eraseSolid(g *image.Gray, r image.Rectangle) {
	r = r.Intersect(g.Rect)
	w, h := r.Dx(), r.Dy()
	if w < solidBlock || h < solidBlock {
		return
	}
	// col[x] counts consecutive ink pixels ending at the current row.
	col := make([]int, w)
	kill := make([]bool, w*h)
	for y := 0; y < h; y++ {
		row := g.Pix[(y+r.Min.Y-g.Rect.Min.Y)*g.Stride+(r.Min.X-g.Rect.Min.X):]
		run := 0
		for x := 0; x < w; x++ {
			if row[x] < solidDark {
				col[x]++
			} else {
				col[x] = 0
			}
			if col[x] >= solidBlock {
				run++
			} else {
				run = 0
			}
			if run >= solidBlock {
				for yy := y - solidBlock + 1; yy <= y; yy++ {
					for xx := x - solidBlock + 1; xx <= x; xx++ {
						kill[yy*w+xx] = true
					}
				}
			}
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if kill[y*w+x] {
				g.Pix[(y+r.Min.Y-g.Rect.Min.Y)*g.Stride+(x+r.Min.X-g.Rect.Min.X)] = 255
			}
		}
	}
}

// inkImage prepares the whole of src.
func inkImage(src *image.RGBA) *image.Gray {
	g := image.NewGray(src.Rect)
	runs := make([]uint32, src.Rect.Dx()*src.Rect.Dy())
	runMap(runs, src, src.Rect.Min.Y, src.Rect.Max.Y)
	inkRows(g, src, runs, src.Rect.Min.Y, src.Rect.Max.Y)
	eraseLines(g, g.Rect)
	eraseSolid(g, g.Rect)
	return g
}
