package ocr

import (
	"image"
	"sort"
)

// Lines are read by Tesseract several at a time: each line image (scaled
// up when small) is placed on a white canvas, shelf by shelf, with gaps
// wide enough that Tesseract never joins two of them into one word. One
// tesseract process then reads a whole canvas, which costs one process
// start instead of one per line.

// gapFactorX sets the space between pieces on a shelf, in piece heights:
// well above a word space, so Tesseract keeps pieces apart, and small,
// because the recogniser's work grows with the line length it scans.
var gapFactorX = 1

// piece is one line box to read, with how much to enlarge it.
type piece struct {
	src    image.Rectangle // in the original image
	scale2 int             // enlargement in halves: 2 is 1×, 3 is 1.5×, 4 is 2×
	key    uint64          // hash of its ink pixels and scale, for the cache
}

// placement is where a piece landed on a canvas.
type placement struct {
	piece
	dst image.Rectangle // the scaled piece on the canvas
}

// scaleFor picks the enlargement (in halves) for a line of height h (ink
// extent, ascenders to descenders). Pixel fonts (VGA text, firmware) have
// 1-px strokes and jagged diagonals that Tesseract misreads unless
// enlarged; anti-aliased (smooth) UI fonts carry their shape in the grey
// levels and read as well at 1× from 10 px on, for about a third less
// CPU (measured on the corpus, see docs/ocr.md).
func scaleFor(h int, smooth bool) int {
	switch {
	case smooth && h < smoothTarget:
		// Anti-aliased text is enlarged to about smoothTarget px, so
		// that the lines of one font come out alike whether or not
		// they have ascenders, and a canvas holds text of one size.
		return min(max((2*smoothTarget+h-1)/h, 2), 6)
	case h <= 9:
		return 6
	case smooth && h >= 10 && h <= 22:
		return scaleSmooth
	case h <= 22:
		return scalePixel
	}
	return 2
}

// smoothTarget is the height (px) anti-aliased lines are enlarged to.
var smoothTarget = 24

// scaleSmooth and scalePixel are the enlargements of anti-aliased and
// pixel-font text 10–22 px high.
var (
	scaleSmooth = 2
	scalePixel  = 4
)

// smoothPercent: a line whose pixels are at least this many tenths of a
// percent partly inked (grey levels 48–207) is anti-aliased.
const smoothPercent = 30

// scaled is n enlarged by s2/2, rounded up.
func scaled(n, s2 int) int { return (n*s2 + 1) / 2 }

// compose lays pieces out on one canvas no wider than maxW (or the widest
// piece) and draws their ink scaled up.
func compose(ink *image.Gray, ps []piece, maxW int) (*image.Gray, []placement) {
	type sized struct {
		p    piece
		w, h int
	}
	items := make([]sized, len(ps))
	for i, p := range ps {
		items[i] = sized{p, scaled(p.src.Dx(), p.scale2), scaled(p.src.Dy(), p.scale2)}
		if items[i].w+16 > maxW {
			maxW = items[i].w + 16
		}
	}
	// Tall pieces first keeps shelves even.
	sort.SliceStable(items, func(i, j int) bool { return items[i].h > items[j].h })
	var pl []placement
	x, y, shelfH := 0, 0, 0
	for _, it := range items {
		margin := it.h/2 + 4
		gapX := gapFactorX*it.h + 8
		if x > 0 && x+it.w+margin > maxW {
			y += shelfH
			x, shelfH = 0, 0
		}
		if x == 0 {
			x = margin
		}
		dst := image.Rect(x, y+margin, x+it.w, y+margin+it.h)
		pl = append(pl, placement{piece: it.p, dst: dst})
		x += it.w + gapX
		if hh := it.h + 2*margin; hh > shelfH {
			shelfH = hh
		}
	}
	height := y + shelfH
	if height == 0 {
		height = 1
	}
	// Only as wide as used: tesseract's page-level work grows with area.
	width := 1
	for _, p := range pl {
		width = max(width, p.dst.Max.X+p.dst.Dy()/2+4)
	}
	width = min(width, maxW)
	canvas := image.NewGray(image.Rect(0, 0, width, height))
	for i := range canvas.Pix {
		canvas.Pix[i] = 255
	}
	for _, p := range pl {
		drawScaled(canvas, p.dst.Min, ink, p.src, p.scale2)
	}
	return canvas, pl
}

// drawScaled draws src's rectangle r at dst's point at, enlarged s2/2
// times with bilinear interpolation (keeps anti-aliased strokes smooth).
func drawScaled(dst *image.Gray, at image.Point, src *image.Gray, r image.Rectangle, s2 int) {
	w, h := r.Dx(), r.Dy()
	get := func(x, y int) int {
		x = min(max(x, 0), w-1)
		y = min(max(y, 0), h-1)
		return int(src.Pix[(r.Min.Y+y-src.Rect.Min.Y)*src.Stride+(r.Min.X+x-src.Rect.Min.X)])
	}
	ow, oh := scaled(w, s2), scaled(h, s2)
	// Sample at pixel centres: source = (o+0.5)·2/s2 − 0.5
	// = (4o + 2 − s2) / (2·s2).
	den := 2 * s2
	for oy := 0; oy < oh; oy++ {
		fy := 4*oy + 2 - s2
		y0 := floorDiv(fy, den)
		wy := fy - y0*den
		row := dst.Pix[(at.Y+oy)*dst.Stride+at.X:]
		for ox := 0; ox < ow; ox++ {
			fx := 4*ox + 2 - s2
			x0 := floorDiv(fx, den)
			wx := fx - x0*den
			a, b := get(x0, y0), get(x0+1, y0)
			c, d := get(x0, y0+1), get(x0+1, y0+1)
			top := a*(den-wx) + b*wx
			bot := c*(den-wx) + d*wx
			row[ox] = uint8((top*(den-wy) + bot*wy) / (den * den))
		}
	}
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// encodePGM writes g as a binary PGM, the cheapest format to produce
// that tesseract reads from stdin.
func encodePGM(g *image.Gray) []byte {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	hdr := []byte("P5\n" + itoa(w) + " " + itoa(h) + "\n255\n")
	out := make([]byte, 0, len(hdr)+w*h)
	out = append(out, hdr...)
	for y := 0; y < h; y++ {
		out = append(out, g.Pix[y*g.Stride:y*g.Stride+w]...)
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
