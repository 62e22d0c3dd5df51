package ocr

import "image"

// Segmentation cuts the ink image into single text lines by recursive
// XY-cuts: split at empty rows, then split each band at empty column
// gaps wider than gapFactor times the band's height (wider than any word
// space, narrower than the gap between table columns or between buttons),
// and repeat until nothing splits.
const (
	gapFactor     = 1.5
	minGap        = 8
	maxGap        = 30  // a band of several lines still splits at columns
	minLineHeight = 5   // px; lone dashes, dots and underscores carry no words
	maxLineHeight = 100 // px; taller pieces are pictures, not text
)

// segment returns the line boxes inside r in reading order.
func segment(g *image.Gray, r image.Rectangle) []image.Rectangle {
	r = r.Intersect(g.Rect)
	var out []image.Rectangle
	for _, b := range rowBands(g, r) {
		out = append(out, segmentBand(g, image.Rect(r.Min.X, b[0], r.Max.X, b[1]))...)
	}
	return out
}

// rowBands returns the runs [y0,y1) of rows of r that have ink: the
// first cut, which Reader also uses to cut again only bands that changed.
func rowBands(g *image.Gray, r image.Rectangle) [][2]int {
	var out [][2]int
	start := -1
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := g.Pix[(y-g.Rect.Min.Y)*g.Stride+(r.Min.X-g.Rect.Min.X):][:r.Dx()]
		has := false
		for _, v := range row {
			if v < inkCutoff {
				has = true
				break
			}
		}
		if has && start < 0 {
			start = y
		}
		if !has && start >= 0 {
			out = append(out, [2]int{start, y})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, r.Max.Y})
	}
	return out
}

// segmentBand cuts one band of rows into line boxes.
func segmentBand(g *image.Gray, r image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	stack := []image.Rectangle{r}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		bands := splitRows(g, cur)
		if len(bands) == 0 {
			continue
		}
		if len(bands) > 1 {
			for i := len(bands) - 1; i >= 0; i-- {
				stack = append(stack, bands[i])
			}
			continue
		}
		band := bands[0]
		gap := min(max(int(gapFactor*float64(band.Dy())), minGap), maxGap)
		cols := splitCols(g, band, gap)
		if len(cols) == 1 && cols[0] == band {
			if a, b, ok := splitWeakRow(g, band); ok {
				stack = append(stack, b, a)
				continue
			}
			if band.Dy() >= minLineHeight && band.Dy() <= maxLineHeight && hasContrast(g, band) {
				out = append(out, band)
			}
			continue
		}
		for i := len(cols) - 1; i >= 0; i-- {
			stack = append(stack, cols[i])
		}
	}
	return evenRows(g, out)
}

// evenRows gives the pieces that sit side by side on one row of text (the
// cells of a table row, a label and its value) the row's height: the
// union of their extents, as far as it adds only empty rows. A piece's
// height decides its enlargement, and without this a cell with only
// digits ("0"), only small letters ("none") or no descenders comes out
// larger than the cells beside it in the same font.
func evenRows(g *image.Gray, boxes []image.Rectangle) []image.Rectangle {
	out := make([]image.Rectangle, len(boxes))
	smooth := make([]bool, len(boxes))
	text := make([]image.Rectangle, len(boxes))
	for i, b := range boxes {
		smooth[i] = antiAliased(g, b)
		text[i] = textRows(g, b)
	}
	for i, b := range boxes {
		u := b
		for j, o := range text {
			if j == i || !smooth[i] || !smooth[j] || !sameRow(text[i], o) {
				continue
			}
			u.Min.Y, u.Max.Y = min(u.Min.Y, o.Min.Y), max(u.Max.Y, o.Max.Y)
		}
		for u.Min.Y < b.Min.Y && !emptyRows(g, image.Rect(b.Min.X, u.Min.Y, b.Max.X, b.Min.Y)) {
			u.Min.Y++
		}
		for u.Max.Y > b.Max.Y && !emptyRows(g, image.Rect(b.Min.X, b.Max.Y, b.Max.X, u.Max.Y)) {
			u.Max.Y--
		}
		out[i] = u
	}
	return out
}

// sameRow reports whether o sits beside b on b's line of text: its
// vertical centre lies within b's extent and the other way round, and it
// is at most twice as tall.
func sameRow(b, o image.Rectangle) bool {
	cb, co := b.Min.Y+b.Max.Y, o.Min.Y+o.Max.Y
	return co > 2*b.Min.Y && co < 2*b.Max.Y && cb > 2*o.Min.Y && cb < 2*o.Max.Y &&
		o.Dy() <= 2*b.Dy() && b.Dy() <= 2*o.Dy()
}

// textRows trims r's top and bottom rows whose ink lies only at its left
// and right ends: the sides of a button whose label the piece holds are
// not part of the label's height.
func textRows(g *image.Gray, r image.Rectangle) image.Rectangle {
	const edge = 3
	inner := func(y int) bool {
		row := g.Pix[(y-g.Rect.Min.Y)*g.Stride+(r.Min.X-g.Rect.Min.X):][:r.Dx()]
		for x := edge; x < r.Dx()-edge; x++ {
			if row[x] < inkCutoff {
				return true
			}
		}
		return false
	}
	t := r
	for t.Min.Y < t.Max.Y && !inner(t.Min.Y) {
		t.Min.Y++
	}
	for t.Max.Y > t.Min.Y && !inner(t.Max.Y-1) {
		t.Max.Y--
	}
	if t.Empty() {
		return r
	}
	return t
}

// antiAliased reports whether the ink in r has the grey levels of
// anti-aliased text (see smoothPercent); pixel fonts have none.
func antiAliased(g *image.Gray, r image.Rectangle) bool {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := g.Pix[(y-g.Rect.Min.Y)*g.Stride+(r.Min.X-g.Rect.Min.X):][:r.Dx()]
		for _, v := range row {
			if v >= 48 && v < 208 {
				n++
			}
		}
	}
	return n*100 >= smoothPercent*r.Dx()*r.Dy()/10
}

// emptyRows reports whether r holds no ink.
func emptyRows(g *image.Gray, r image.Rectangle) bool { return !anyDarker(g, r, inkCutoff) }

// anyDarker reports whether a pixel of r is darker than v.
func anyDarker(g *image.Gray, r image.Rectangle, v uint8) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := g.Pix[(y-g.Rect.Min.Y)*g.Stride+(r.Min.X-g.Rect.Min.X):][:r.Dx()]
		for _, p := range row {
			if p < v {
				return true
			}
		}
	}
	return false
}

// splitRows trims r to its ink and splits it at empty rows.
func splitRows(g *image.Gray, r image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	start := -1
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := g.Pix[(y-g.Rect.Min.Y)*g.Stride+(r.Min.X-g.Rect.Min.X):]
		has := false
		for x := 0; x < r.Dx(); x++ {
			if row[x] < inkCutoff {
				has = true
				break
			}
		}
		if has && start < 0 {
			start = y
		}
		if !has && start >= 0 {
			out = append(out, trimCols(g, image.Rect(r.Min.X, start, r.Max.X, y)))
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, trimCols(g, image.Rect(r.Min.X, start, r.Max.X, r.Max.Y)))
	}
	return out
}

func trimCols(g *image.Gray, r image.Rectangle) image.Rectangle {
	x0, x1 := r.Dx(), 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := g.Pix[(y-g.Rect.Min.Y)*g.Stride+(r.Min.X-g.Rect.Min.X):][:r.Dx()]
		for x := 0; x < x0; x++ {
			if row[x] < inkCutoff {
				x0 = x
				break
			}
		}
		for x := r.Dx() - 1; x >= x1; x-- {
			if row[x] < inkCutoff {
				x1 = x + 1
				break
			}
		}
	}
	if x0 >= x1 {
		return image.Rectangle{}
	}
	return image.Rect(r.Min.X+x0, r.Min.Y, r.Min.X+x1, r.Max.Y)
}

// splitCols splits r at runs of at least gap empty columns.
func splitCols(g *image.Gray, r image.Rectangle, gap int) []image.Rectangle {
	w := r.Dx()
	colHas := make([]bool, w)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := g.Pix[(y-g.Rect.Min.Y)*g.Stride+(r.Min.X-g.Rect.Min.X):]
		for x := 0; x < w; x++ {
			if row[x] < inkCutoff {
				colHas[x] = true
			}
		}
	}
	var out []image.Rectangle
	start, lastInk := -1, -1
	for x := 0; x < w; x++ {
		if !colHas[x] {
			continue
		}
		if start < 0 {
			start = x
		} else if x-lastInk-1 >= gap {
			out = append(out, image.Rect(r.Min.X+start, r.Min.Y, r.Min.X+lastInk+1, r.Max.Y))
			start = x
		}
		lastInk = x
	}
	if start >= 0 {
		out = append(out, image.Rect(r.Min.X+start, r.Min.Y, r.Min.X+lastInk+1, r.Max.Y))
	}
	return out
}

// minContrastInk: a piece whose darkest ink is lighter than this has too
// little contrast to be text anyone is meant to read (scroll-bar thumbs,
// shaded boxes); reading it only costs time.
const minContrastInk = 110

func hasContrast(g *image.Gray, r image.Rectangle) bool { return anyDarker(g, r, minContrastInk) }

// splitWeakRow splits a band of two lines that touch (tall glyphs such as
// CJK fill whole character cells) at its emptiest row, when both parts
// look like lines of text: a row with at most 1/8 of the busiest row's
// ink, and each part at least minSplitPart rows tall with a busiest row
// at least 40% as busy as the other part's, so descenders and accents
// are never cut off.
func splitWeakRow(g *image.Gray, r image.Rectangle) (image.Rectangle, image.Rectangle, bool) {
	const minSplitPart = 7
	if r.Dy() < 2*minSplitPart+1 || r.Dy() < 20 {
		return r, r, false
	}
	counts := make([]int, r.Dy())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := g.Pix[(y-g.Rect.Min.Y)*g.Stride+(r.Min.X-g.Rect.Min.X):]
		n := 0
		for x := 0; x < r.Dx(); x++ {
			if row[x] < inkCutoff {
				n++
			}
		}
		counts[y-r.Min.Y] = n
	}
	best, bestN := -1, 0
	for i := minSplitPart; i <= len(counts)-minSplitPart; i++ {
		if best < 0 || counts[i] < bestN || counts[i] == bestN && abs(i-len(counts)/2) < abs(best-len(counts)/2) {
			best, bestN = i, counts[i]
		}
	}
	maxOf := func(c []int) int {
		m := 0
		for _, v := range c {
			m = max(m, v)
		}
		return m
	}
	top, bot := maxOf(counts[:best]), maxOf(counts[best+1:])
	if bestN*8 > max(top, bot) || top*10 < bot*4 || bot*10 < top*4 {
		return r, r, false
	}
	a := trimCols(g, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+best))
	b := trimCols(g, image.Rect(r.Min.X, r.Min.Y+best+1, r.Max.X, r.Max.Y))
	if a.Empty() || b.Empty() {
		return r, r, false
	}
	return a, b, true
}
