package ocr

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"image"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Cell fonts. Firmware, boot loaders and Linux consoles draw text in a
// fixed-cell bitmap font on a grid: every cell holds one glyph in two
// colours, pixel for pixel the same each time. Such text is read here by
// looking each cell up among the glyphs of the fonts these programs use
// (captured from the real programs by hack/cellfonts/capture.sh), not by
// Tesseract: exact where Tesseract confuses 0/O/@, l/1/I or loses
// punctuation, independent of colours (a highlight bar is just another
// pair), and some hundred times cheaper. A line that is not entirely
// made of known glyphs on one grid goes to Tesseract as before.

//go:embed cellfonts/*.txt
var cellFontFiles embed.FS

// maxCellRows bounds the height of a cell font (the key is a fixed array).
const maxCellRows = 32

type glyphKey [maxCellRows]uint32

// cellFont is one font: its cell size and its glyphs by bitmap.
type cellFont struct {
	name   string
	w, h   int
	mask   uint32 // w low bits set
	glyphs map[glyphKey]rune
}

var loadCellFonts = sync.OnceValues(func() ([]*cellFont, error) {
	return parseCellFonts(cellFontFiles)
})

func parseCellFonts(fsys fs.FS) ([]*cellFont, error) {
	names, err := fs.Glob(fsys, "cellfonts/*.txt")
	if err != nil {
		return nil, err
	}
	var fonts []*cellFont
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		f, err := parseCellFont(data)
		if err != nil {
			return nil, fmt.Errorf("ocr: cell font %s: %w", n, err)
		}
		fonts = append(fonts, f)
	}
	return fonts, nil
}

// parseCellFont reads the format hack/cellfonts/cut writes: comment
// lines, "font NAME WxH", then a line per glyph: the code point in hex
// and the rows in hex, (W+3)/4 digits each.
func parseCellFont(data []byte) (*cellFont, error) {
	var f *cellFont
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1024), 1<<16)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		fields := strings.Fields(t)
		if fields[0] == "font" {
			if f != nil || len(fields) != 3 {
				return nil, fmt.Errorf("line %d: want one \"font NAME WxH\"", line)
			}
			f = &cellFont{name: fields[1], glyphs: map[glyphKey]rune{}}
			if _, err := fmt.Sscanf(fields[2], "%dx%d", &f.w, &f.h); err != nil || f.w < 1 || f.w > 32 || f.h < 1 || f.h > maxCellRows {
				return nil, fmt.Errorf("line %d: bad cell size %q", line, fields[2])
			}
			f.mask = uint32(1)<<f.w - 1
			continue
		}
		if f == nil || len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want \"font NAME WxH\" before glyphs \"CODE ROWS\"", line)
		}
		c, err := strconv.ParseUint(fields[0], 16, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d: code point: %w", line, err)
		}
		digits := (f.w + 3) / 4
		if len(fields[1]) != digits*f.h {
			return nil, fmt.Errorf("line %d: %d hex digits, want %d", line, len(fields[1]), digits*f.h)
		}
		var k glyphKey
		for y := 0; y < f.h; y++ {
			v, err := strconv.ParseUint(fields[1][y*digits:(y+1)*digits], 16, 32)
			if err != nil || uint32(v)&^f.mask != 0 {
				return nil, fmt.Errorf("line %d: row %d: bad bits", line, y+1)
			}
			k[y] = uint32(v)
		}
		if prev, dup := f.glyphs[k]; dup {
			return nil, fmt.Errorf("line %d: %U has the glyph of %U", line, rune(c), prev)
		}
		f.glyphs[k] = rune(c)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if f == nil || len(f.glyphs) == 0 {
		return nil, fmt.Errorf("no glyphs")
	}
	return f, nil
}

// What a cell holds.
const (
	cellBlank   = iota // one colour
	cellGlyph          // a known glyph
	cellUnknown        // two colours, no known glyph
	cellForeign        // more than two colours: not a cell font
)

// classify looks at the w×h cell at (x, y) of img. Ink is what differs
// from the cell's top-left pixel; a cell whose glyph is not known that
// way is looked up inverted too (a glyph whose top-left pixel is ink).
func (f *cellFont) classify(img *image.RGBA, x, y int) (rune, int) {
	if !image.Rect(x, y, x+f.w, y+f.h).In(img.Rect) {
		return 0, cellForeign
	}
	var k glyphKey
	off0 := (y-img.Rect.Min.Y)*img.Stride + (x-img.Rect.Min.X)*4
	p := img.Pix[off0 : off0+3]
	c0 := uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
	c1, two := uint32(0), false
	for yy := 0; yy < f.h; yy++ {
		off := off0 + yy*img.Stride
		row := img.Pix[off : off+4*f.w]
		var bits uint32
		for xx := 0; xx < f.w; xx++ {
			c := uint32(row[4*xx]) | uint32(row[4*xx+1])<<8 | uint32(row[4*xx+2])<<16
			if c == c0 {
				continue
			}
			if !two {
				c1, two = c, true
			} else if c != c1 {
				return 0, cellForeign
			}
			bits |= 1 << (f.w - 1 - xx)
		}
		k[yy] = bits
	}
	if !two {
		return ' ', cellBlank
	}
	if r, ok := f.glyphs[k]; ok {
		return r, cellGlyph
	}
	for yy := 0; yy < f.h; yy++ {
		k[yy] ^= f.mask
	}
	if r, ok := f.glyphs[k]; ok {
		return r, cellGlyph
	}
	return 0, cellUnknown
}

// cellGrid remembers the font and grid the last line was read on: the
// lines of one screen share them, so the search is made once.
type cellGrid struct {
	font   *cellFont
	ox, oy int // grid origin modulo the cell size
}

// probeCells is how many non-blank cells from a line's start must be
// known glyphs for a grid to be taken.
const probeCells = 3

// readCells reads the pieces drawn in a cell font. It returns the texts
// of pieces read completely, those of pieces read in part (a line that
// also holds cells of no known glyph: a logo behind it, a character the
// font lacks; at least as many known glyphs as such cells, two of them
// letters or digits), and the pieces for Tesseract, including those read
// in part. g, if not nil, carries the grid from one call to the next.
func readCells(img *image.RGBA, ps []piece, g *cellGrid) (cells, partial map[uint64]pieceText, rest []piece) {
	fonts, err := loadCellFonts()
	if err != nil || len(fonts) == 0 {
		return nil, nil, ps
	}
	if g == nil {
		g = &cellGrid{}
	}
	cells, partial = map[uint64]pieceText{}, map[uint64]pieceText{}
	failed := 0 // searches in a row that found no grid
	var late []piece
	for _, p := range ps {
		if _, done := cells[p.key]; done {
			continue
		}
		pt, complete := g.readPiece(img, fonts, p.src, failed < maxFailedSearches)
		if complete {
			cells[p.key] = pt
			failed = 0
			continue
		}
		failed++
		if g.font == nil {
			late = append(late, p) // read in part once a grid is known
		} else if usablePart(pt) {
			partial[p.key] = pt
		}
		rest = append(rest, p)
	}
	// Lines before the first line that set the grid get their partial
	// reading now.
	for _, p := range late {
		if g.font == nil {
			break
		}
		if pt, _ := g.readPiece(img, fonts, p.src, false); usablePart(pt) {
			partial[p.key] = pt
		}
	}
	return cells, partial, rest
}

// usablePart tells whether a partial reading is worth keeping: at least
// as many known glyphs as unknown cells, two of them letters or digits.
func usablePart(pt pieceText) bool { return pt.known >= pt.bad && alnums(pt) >= minAlnum }

// maxFailedSearches: after this many lines in a row on which no font and
// grid fit, the rest of the screen is only tried on the grid already
// known. A screen of two-colour text in a font that was not captured
// costs about 1 ms a line to search (every font at every offset); a
// screen of captured fonts finds its grid on its first lines.
const maxFailedSearches = 8

// withCells adds the cell readings to what Tesseract read: a complete
// one is the piece's text; a partial one is too, and Tesseract's reading
// of the whole piece becomes its other reading (Find accepts a phrase in
// either).
func withCells(texts, cells, partial map[uint64]pieceText) {
	for k, v := range cells {
		texts[k] = v
	}
	for k, v := range partial {
		t := texts[k]
		v.alts = append(append([][]Word(nil), t.lines...), t.alts...)
		texts[k] = v
	}
}

// readPiece reads the line box b on a font's grid; complete tells
// whether every cell it covers is blank or a known glyph. A partial
// reading is only made on a grid known from a complete one. Without
// search only the known grid is tried.
func (g *cellGrid) readPiece(img *image.RGBA, fonts []*cellFont, b image.Rectangle, search bool) (pt pieceText, complete bool) {
	if g.font != nil {
		f := g.font
		ox := b.Min.X - mod(b.Min.X-g.ox, f.w)
		oy := b.Min.Y - mod(b.Min.Y-g.oy, f.h)
		if pt, complete = readOnGrid(img, f, b, ox, oy); complete {
			return pt, true
		}
	}
	if !search {
		return pt, false
	}
	for _, f := range fonts {
		for oy := b.Min.Y; oy > b.Min.Y-f.h; oy-- {
			for ox := b.Min.X; ox > b.Min.X-f.w; ox-- {
				if !probe(img, f, b, ox, oy) {
					continue
				}
				if all, ok := readOnGrid(img, f, b, ox, oy); ok && alnums(all) >= minAlnum {
					g.font, g.ox, g.oy = f, mod(ox, f.w), mod(oy, f.h)
					return all, true
				}
			}
		}
	}
	return pt, false
}

// minAlnum is how many letters or digits a line must have to set a
// grid: fonts share simple glyphs (dashes, bars, box lines) at various
// places in the cell, and a line of only those could match a font the
// screen does not use.
const minAlnum = 2

func alnums(pt pieceText) int {
	n := 0
	for _, l := range pt.lines {
		for _, w := range l {
			for _, r := range w.Text {
				if unicode.IsLetter(r) || unicode.IsDigit(r) {
					n++
				}
			}
		}
	}
	return n
}

// probe tells whether the first probeCells non-blank cells of the row
// at (ox, oy) are known glyphs: a cheap test before reading the line.
func probe(img *image.RGBA, f *cellFont, b image.Rectangle, ox, oy int) bool {
	n := 0
	for x := ox; x < b.Max.X && n < probeCells; x += f.w {
		_, st := f.classify(img, x, oy)
		switch st {
		case cellGlyph:
			n++
		case cellBlank:
			if x == ox {
				return false // the line's first ink is in this cell
			}
		default:
			return false
		}
	}
	return n > 0
}

// readOnGrid reads every cell row of b on the grid through (ox, oy);
// words are runs of glyphs between blank cells, their boxes the cells'
// relative to b's corner. A word with a cell of no known glyph in it is
// left out whole: "Installs" with an unknown "s" must not become
// "Install". complete tells whether all cells were blank or known
// glyphs.
func readOnGrid(img *image.RGBA, f *cellFont, b image.Rectangle, ox, oy int) (pieceText, bool) {
	var pt pieceText
	for y := oy; y < b.Max.Y; y += f.h {
		var words []Word
		var cur []rune
		var box image.Rectangle
		broken := false // the current word has an unknown cell
		flush := func() {
			if len(cur) > 0 && !broken {
				words = append(words, Word{Text: string(cur), Confidence: 1, BBox: box.Sub(b.Min)})
			}
			cur, broken = nil, false
		}
		for x := ox; x < b.Max.X; x += f.w {
			r, st := f.classify(img, x, y)
			switch st {
			case cellBlank:
				flush()
			case cellGlyph:
				cell := image.Rect(x, y, x+f.w, y+f.h)
				if len(cur) == 0 {
					box = cell
				} else {
					box = box.Union(cell)
				}
				cur = append(cur, r)
				pt.known++
			default:
				broken = true
				pt.bad++
			}
		}
		flush()
		if len(words) > 0 {
			pt.lines = append(pt.lines, words)
		}
	}
	pt.font = f
	return pt, pt.bad == 0 && len(pt.lines) > 0
}

// maxCellGap is the widest run of blank cells inside one line of cell
// text. Line cutting splits at gaps of 1.5 ink heights, which in a
// terminal are two or three spaces ("major minor  #blocks  name"), or
// one after a narrow glyph ("5. iPXE"); on a cell grid the gap is known
// exactly, so the pieces of one row are joined again across up to two
// blank cells. Columns further apart stay separate lines.
const maxCellGap = 2

// joinCellLines joins neighbouring lines (in reading order) read on one
// row of the same cell font that are at most maxCellGap cells apart.
func joinCellLines(ls []Line) []Line {
	out := ls[:0]
	for _, l := range ls {
		if n := len(out); n > 0 {
			p := &out[n-1]
			if p.cell != nil && p.cell == l.cell && p.BBox.Min.Y == l.BBox.Min.Y &&
				l.BBox.Min.X >= p.BBox.Max.X && l.BBox.Min.X-p.BBox.Max.X <= maxCellGap*l.cell.w {
				alts := append(p.alts, l.alts...)
				*p = newLine(append(append([]Word(nil), p.Words...), l.Words...))
				p.cell, p.alts = l.cell, alts
				continue
			}
		}
		out = append(out, l)
	}
	return out
}

func mod(a, m int) int {
	a %= m
	if a < 0 {
		a += m
	}
	return a
}
