package ocr

import (
	"context"
	"fmt"
	"hash/maphash"
	"image"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// pieceText is what Tesseract read in one piece, boxes relative to the
// piece's top-left corner in original pixels.
type pieceText struct {
	lines [][]Word
	// alts is a second reading at another enlargement, made when the
	// first one was weak (see reread).
	alts [][]Word
	// font is the cell font the lines were read in (readCells), nil when
	// Tesseract read them; word boxes are then whole cells. known and bad
	// count the cells that were known glyphs and those that were not.
	font       *cellFont
	known, bad int
}

// Tesseract is the stateless Engine: it prepares the region, reads every
// line and returns the result. Reader adds the per-line cache.
type Tesseract struct {
	runner  Runner
	workers int
	// canvasWidth bounds composed canvases (wide canvases keep the number
	// of shelves, and so Tesseract's line finding, small).
	canvasWidth int
	maxScale    int // in halves; 0: no limit
	// dump, when set (tests), receives every canvas before it is read.
	dump func(*image.Gray)
}

// NewTesseract makes an engine that runs tesseract through r, reading up
// to runtime.NumCPU() canvases at once.
func NewTesseract(r Runner) *Tesseract {
	return &Tesseract{runner: r, workers: runtime.NumCPU(), canvasWidth: 1600}
}

var hashSeed = maphash.MakeSeed()

// Recognize reads the text inside region of img.
func (t *Tesseract) Recognize(ctx context.Context, img image.Image, region image.Rectangle) (*Result, error) {
	region = region.Intersect(img.Bounds())
	if region.Empty() {
		return &Result{}, nil
	}
	src := toRGBA(img)
	sub, ok := src.SubImage(region).(*image.RGBA)
	if !ok {
		return nil, fmt.Errorf("ocr: unexpected sub-image type")
	}
	ink := inkImage(sub)
	pieces := t.pieces(ink, segment(ink, ink.Rect))
	texts, _, err := t.readAll(ctx, sub, ink, pieces, nil)
	if err != nil {
		return nil, err
	}
	return assemble(pieces, texts), nil
}

// readAll reads pieces: those drawn in a cell font from img's cells (on
// grid g, which may be nil), the others with tesseract, weak ones a
// second time. It returns the text per piece key and counts for
// ReadStats (Cells, Read, Reread).
func (t *Tesseract) readAll(ctx context.Context, img *image.RGBA, ink *image.Gray, ps []piece, g *cellGrid) (map[uint64]pieceText, ReadStats, error) {
	cells, partial, rest := readCells(img, ps, g)
	st := ReadStats{Cells: len(cells)}
	texts, err := t.read(ctx, ink, rest)
	if err != nil {
		return nil, st, err
	}
	st.Read = len(texts)
	if st.Reread, err = t.reread(ctx, ink, rest, texts); err != nil {
		return nil, st, err
	}
	withCells(texts, cells, partial)
	return texts, st, nil
}

// weakConfidence: a piece with a word Tesseract is less sure of than this
// is read a second time at another enlargement.
var weakConfidence = 0.80

// altKey marks the key of a piece's second reading.
const altKey = 0x9e3779b97f4a7c15

// reread reads again, at a second enlargement, the pieces whose first
// reading was weak (a word below weakConfidence, or no word at all)
// where that can matter (rereadWorth), and keeps that reading as the pieces' alternative: Find accepts a phrase
// in either. Small and large text fail in different ways (thin strokes
// merge when enlarged little, big glyphs split into pieces), so a line
// misread at one scale is often read right at the other.
// It returns how many pieces it read again.
func (t *Tesseract) reread(ctx context.Context, ink *image.Gray, ps []piece, texts map[uint64]pieceText) (int, error) {
	var alts []piece
	seen := map[uint64]bool{}
	for _, p := range ps {
		pt, ok := texts[p.key]
		if !ok || seen[p.key] || !rereadWorth(pt) {
			continue
		}
		seen[p.key] = true
		a := p
		a.scale2 = altScale(p.scale2)
		a.key = p.key ^ altKey
		alts = append(alts, a)
	}
	if len(alts) == 0 {
		return 0, nil
	}
	got, err := t.read(ctx, ink, alts)
	if err != nil {
		return 0, err
	}
	for _, a := range alts {
		k := a.key ^ altKey
		pt := texts[k]
		pt.alts = got[a.key].lines
		texts[k] = pt
	}
	return len(alts), nil
}

func weak(pt pieceText) bool {
	if len(pt.lines) == 0 {
		return true
	}
	for _, l := range pt.lines {
		for _, w := range l {
			if w.Confidence < weakConfidence {
				return true
			}
		}
	}
	return false
}

// shortLine: a first reading of at most this many words is read again
// whenever it is weak. Headings and labels, which scripts wait for, are
// short: with 3 here "Debian archive mirror country:" of the graphical
// installer stayed "Debian archive minor country:" and a script's wait
// for it timed out (TestE2EDebianInstallerGTK).
const shortLine = 8

// rereadWorth tells whether a weak first reading (see weak) is worth a
// second one: when it has no word, few words (shortLine) or weak words
// for at least half of them, or a weak word that is not a plain word
// (see plainWord): numbers, identifiers, paths, acronyms, words with
// stray marks. A long line (a sentence of more than shortLine words)
// whose only unsure words are plain words is not read
// again: on the corpora no phrase was found only in the second reading
// of such a line, and reading a long line again costs as much as its
// first reading (Tesseract's LSTM runs over its whole length).
func rereadWorth(pt pieceText) bool {
	if !weak(pt) {
		return false
	}
	n, low := 0, 0
	plain := true
	for _, l := range pt.lines {
		for _, w := range l {
			n++
			if w.Confidence < weakConfidence {
				low++
				plain = plain && plainWord(w.Text)
			}
		}
	}
	return n <= shortLine || 2*low >= n || !plain
}

// plainWord: ASCII letters, lower case after the first, and at most
// sentence punctuation at the end ("language", "Select", "process.").
func plainWord(s string) bool {
	s = strings.TrimRight(s, ".,:;")
	for i, r := range s {
		if !('a' <= r && r <= 'z' || i == 0 && 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

// altScale is the second enlargement (in halves) for a piece read at s:
// twice as large for text read at 1× or 1.5×, 3× for 2×, and 1.5× for
// text that was enlarged more.
func altScale(s int) int {
	switch {
	case s <= 3:
		return 4
	case s == 4:
		return 6
	}
	return 3
}

// pieces attaches scale and content key to line boxes.
func (t *Tesseract) pieces(ink *image.Gray, boxes []image.Rectangle) []piece {
	ps := make([]piece, len(boxes))
	var h maphash.Hash
	for i, b := range boxes {
		s := scaleFor(b.Dy(), antiAliased(ink, b))
		if t.maxScale > 0 && s > t.maxScale {
			s = t.maxScale
		}
		h.SetSeed(hashSeed)
		var hdr [3]byte
		hdr[0], hdr[1], hdr[2] = byte(s), byte(b.Dx()), byte(b.Dx()>>8)
		h.Write(hdr[:])
		for y := b.Min.Y; y < b.Max.Y; y++ {
			off := (y-ink.Rect.Min.Y)*ink.Stride + (b.Min.X - ink.Rect.Min.X)
			h.Write(ink.Pix[off : off+b.Dx()])
		}
		ps[i] = piece{src: b, scale2: s, key: h.Sum64()}
	}
	return ps
}

// minCanvasArea keeps small jobs on one process: a second process would
// cost more in start-up than it saves.
const minCanvasArea = 40_000

// read recognises pieces, several canvases in parallel, and returns the
// text per piece key.
func (t *Tesseract) read(ctx context.Context, ink *image.Gray, ps []piece) (map[uint64]pieceText, error) {
	out := make(map[uint64]pieceText, len(ps))
	// Identical pieces (a repeated "-" column) are read once.
	var todo []piece
	seen := make(map[uint64]bool, len(ps))
	area := 0
	for _, p := range ps {
		if seen[p.key] {
			continue
		}
		seen[p.key] = true
		todo = append(todo, p)
		area += areaOf(p)
	}
	if len(todo) == 0 {
		return out, nil
	}
	k := t.workers
	if k < 1 {
		k = 1
	}
	if n := (area + minCanvasArea - 1) / minCanvasArea; n < k {
		k = n
	}
	groups := balance(todo, k)
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
	)
	for _, g := range groups {
		wg.Add(1)
		go func(g []piece) {
			defer wg.Done()
			res, err := t.readCanvas(ctx, ink, g)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			for k, v := range res {
				out[k] = v
			}
		}(g)
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, nil
}

// balance splits pieces into k groups of similar scaled area.
func balance(ps []piece, k int) [][]piece {
	if k <= 1 {
		return [][]piece{ps}
	}
	sorted := append([]piece(nil), ps...)
	sort.SliceStable(sorted, func(i, j int) bool { return areaOf(sorted[i]) > areaOf(sorted[j]) })
	groups := make([][]piece, k)
	sums := make([]int, k)
	for _, p := range sorted {
		best := 0
		for i := 1; i < k; i++ {
			if sums[i] < sums[best] {
				best = i
			}
		}
		groups[best] = append(groups[best], p)
		sums[best] += areaOf(p)
	}
	return groups
}

func areaOf(p piece) int { return scaled(p.src.Dx(), p.scale2) * scaled(p.src.Dy(), p.scale2) }

func (t *Tesseract) readCanvas(ctx context.Context, ink *image.Gray, ps []piece) (map[uint64]pieceText, error) {
	canvas, pl := compose(ink, ps, t.canvasWidth)
	if t.dump != nil {
		t.dump(canvas)
	}
	tsv, err := t.runner.Run(ctx, encodePGM(canvas))
	if err != nil {
		return nil, err
	}
	words, err := parseTSV(tsv)
	if err != nil {
		return nil, err
	}
	return distribute(words, pl), nil
}

// distribute assigns canvas words to the pieces they fall in and maps
// their boxes back to original pixels relative to each piece.
func distribute(words []tsvWord, pl []placement) map[uint64]pieceText {
	type lineKey struct{ block, par, line int }
	type acc struct {
		order []lineKey
		lines map[lineKey][]Word
	}
	accs := make([]acc, len(pl))
	for _, w := range words {
		c := image.Pt((w.box.Min.X+w.box.Max.X)/2, (w.box.Min.Y+w.box.Max.Y)/2)
		idx := -1
		for i, p := range pl {
			// Margins around a piece still belong to it.
			m := p.dst.Dy()/2 + 2
			if c.In(p.dst.Inset(-m)) {
				idx = i
				break
			}
		}
		if idx < 0 {
			continue
		}
		p := pl[idx]
		b := w.box.Intersect(p.dst)
		if b.Empty() {
			continue
		}
		s2 := p.scale2
		rel := image.Rect(
			floorDiv(2*(b.Min.X-p.dst.Min.X), s2), floorDiv(2*(b.Min.Y-p.dst.Min.Y), s2),
			(2*(b.Max.X-p.dst.Min.X)+s2-1)/s2, (2*(b.Max.Y-p.dst.Min.Y)+s2-1)/s2)
		a := &accs[idx]
		if a.lines == nil {
			a.lines = map[lineKey][]Word{}
		}
		k := lineKey{w.block, w.par, w.line}
		if _, ok := a.lines[k]; !ok {
			a.order = append(a.order, k)
		}
		a.lines[k] = append(a.lines[k], Word{Text: w.text, Confidence: w.conf, BBox: rel})
	}
	out := make(map[uint64]pieceText, len(pl))
	for i, p := range pl {
		var pt pieceText
		for _, k := range accs[i].order {
			ws := accs[i].lines[k]
			sort.SliceStable(ws, func(a, b int) bool { return ws[a].BBox.Min.X < ws[b].BBox.Min.X })
			pt.lines = append(pt.lines, ws)
		}
		out[p.key] = pt
	}
	return out
}

// assemble places every piece's text at its position and orders lines.
func assemble(ps []piece, texts map[uint64]pieceText) *Result {
	res := &Result{}
	place := func(p piece, lines [][]Word, font *cellFont) []Line {
		var out []Line
		for _, ws := range lines {
			moved := make([]Word, len(ws))
			for i, w := range ws {
				w.BBox = w.BBox.Add(p.src.Min)
				if font == nil {
					w.BBox = w.BBox.Intersect(p.src)
				}
				moved[i] = w
			}
			l := newLine(moved)
			l.cell = font
			out = append(out, l)
		}
		return out
	}
	for _, p := range ps {
		pt := texts[p.key]
		lines, alts := place(p, pt.lines, pt.font), place(p, pt.alts, nil)
		if len(lines) == 0 {
			lines, alts = alts, nil
		}
		if len(lines) > 0 {
			lines[0].alts = alts
		}
		res.Lines = append(res.Lines, lines...)
	}
	sortReadingOrder(res.Lines)
	res.Lines = joinCellLines(res.Lines)
	return res
}

// sortReadingOrder sorts lines top to bottom; lines whose vertical
// centres lie within half a line height of the first line of a row form
// that row and are sorted left to right.
func sortReadingOrder(ls []Line) {
	sort.SliceStable(ls, func(i, j int) bool {
		return ls[i].BBox.Min.Y+ls[i].BBox.Max.Y < ls[j].BBox.Min.Y+ls[j].BBox.Max.Y
	})
	for start := 0; start < len(ls); {
		first := ls[start].BBox
		end := start + 1
		for end < len(ls) {
			b := ls[end].BBox
			h := min(first.Dy(), b.Dy())
			if abs((b.Min.Y+b.Max.Y)-(first.Min.Y+first.Max.Y)) > h { // centres > h/2 apart
				break
			}
			end++
		}
		row := ls[start:end]
		sort.SliceStable(row, func(i, j int) bool { return row[i].BBox.Min.X < row[j].BBox.Min.X })
		start = end
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
