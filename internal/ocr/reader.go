package ocr

import (
	"bytes"
	"context"
	"image"
	"runtime"
	"sort"
	"sync"
)

// Reader reads successive frames of one screen. It remembers the last
// frame, its prepared ink and what every line image said, so a frame
// that changed in a few places costs only the preparation of the changed
// rows and the recognition of the lines that are new. Unchanged lines
// are found again by content, also when they moved (a scrolled list).
//
// A Reader is safe for concurrent use; reads are serialised.
type Reader struct {
	eng *Tesseract

	mu    sync.Mutex
	prev  *image.RGBA
	runs  []uint32
	raw   *image.Gray // ink before cleaning
	ink   *image.Gray
	last  *Result
	bands map[[2]int][]image.Rectangle // line boxes of each row band
	cache map[uint64]*cacheEntry
	gen   int
	stats ReadStats
	grid  cellGrid // the cell font grid of the last frame
}

// ReadStats describe the last Read.
type ReadStats struct {
	ChangedRows int // rows that differed from the previous frame
	Lines       int // line images on the screen
	Cached      int // of those, already known
	Cells       int // distinct line images read as cell-font glyphs, without tesseract
	Read        int // distinct line images given to tesseract
	Reread      int // of those, read a second time at another enlargement (weak first reading)
}

// Stats describes the last Read.
func (r *Reader) Stats() ReadStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

type cacheEntry struct {
	text pieceText
	used int // generation of the last frame that contained it
}

// cacheKeep is how many frames a line no longer on screen stays cached
// (dialogs that come back, list items scrolled out and in).
const cacheKeep = 16

// NewReader makes a Reader that runs tesseract through r.
func NewReader(r Runner) *Reader {
	return &Reader{eng: NewTesseract(r), cache: map[uint64]*cacheEntry{}}
}

// Recognize reads img and returns the lines inside region, keeping only
// words whose centre is in it. It makes Reader an Engine.
func (r *Reader) Recognize(ctx context.Context, img image.Image, region image.Rectangle) (*Result, error) {
	res, err := r.Read(ctx, img)
	if err != nil {
		return nil, err
	}
	if img.Bounds().In(region) {
		return res, nil
	}
	out := &Result{}
	for _, l := range res.Lines {
		if ws := wordsIn(l.Words, region); len(ws) > 0 {
			nl := newLine(ws)
			for _, a := range l.alts {
				if ws := wordsIn(a.Words, region); len(ws) > 0 {
					nl.alts = append(nl.alts, newLine(ws))
				}
			}
			out.Lines = append(out.Lines, nl)
		}
	}
	return out, nil
}

// Read returns the text of the whole image. It finds the rows that
// changed since the previous Read by comparing them (about 1 ms for a
// 1280×800 screen).
func (r *Reader) Read(ctx context.Context, img image.Image) (*Result, error) {
	return r.read(ctx, img, nil)
}

// ReadChanged is Read for a caller that knows which rectangles changed
// since the previous call (a VNC client does): only those rows are
// compared and prepared again. Pixels outside changed must be those of
// the previous frame; the first call, or one after the size changed,
// reads everything.
func (r *Reader) ReadChanged(ctx context.Context, img image.Image, changed []image.Rectangle) (*Result, error) {
	if changed == nil {
		changed = []image.Rectangle{}
	}
	return r.read(ctx, img, changed)
}

func (r *Reader) read(ctx context.Context, img image.Image, changed []image.Rectangle) (*Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	src := toRGBA(img)
	b := src.Rect
	var dirty [][2]int // row ranges [y0,y1) that changed
	if r.prev == nil || r.prev.Rect != b {
		r.prev = image.NewRGBA(b)
		r.runs = make([]uint32, b.Dx()*b.Dy())
		r.raw = image.NewGray(b)
		r.ink = image.NewGray(b)
		r.last = nil
		r.bands = nil
		dirty = [][2]int{{b.Min.Y, b.Max.Y}}
	} else if changed != nil {
		dirty = rowsOf(changed, b)
	} else {
		dirty = changedRows(r.prev, src)
	}
	r.stats = ReadStats{}
	for _, d := range dirty {
		r.stats.ChangedRows += d[1] - d[0]
	}
	if len(dirty) == 0 && r.last != nil {
		r.stats.Lines, r.stats.Cached = len(r.last.Lines), len(r.last.Lines)
		return r.last, nil
	}
	var inked [][2]int // rows whose ink may have changed
	for _, d := range dirty {
		copyRows(r.prev, src, d[0], d[1])
		inked = append(inked, r.update(d[0], d[1]))
	}
	// Cut lines again only in bands of rows that touch changed ink.
	bands := make(map[[2]int][]image.Rectangle, len(r.bands))
	var boxes []image.Rectangle
	for _, br := range rowBands(r.ink, b) {
		ls, ok := r.bands[br]
		if !ok || overlapsAny(br, inked) {
			ls = segmentBand(r.ink, image.Rect(b.Min.X, br[0], b.Max.X, br[1]))
		}
		bands[br] = ls
		boxes = append(boxes, ls...)
	}
	r.bands = bands
	pieces := r.eng.pieces(r.ink, boxes)
	r.gen++
	texts := make(map[uint64]pieceText, len(pieces))
	var todo []piece
	for _, p := range pieces {
		if e, ok := r.cache[p.key]; ok {
			e.used = r.gen
			texts[p.key] = e.text
			continue
		}
		todo = append(todo, p)
	}
	r.stats.Lines, r.stats.Cached = len(pieces), len(pieces)-len(todo)
	got, st, err := r.eng.readAll(ctx, r.prev, r.ink, todo, &r.grid)
	if err != nil {
		r.prev = nil // start afresh next time
		return nil, err
	}
	r.stats.Cells, r.stats.Read, r.stats.Reread = st.Cells, st.Read, st.Reread
	for k, v := range got {
		texts[k] = v
		r.cache[k] = &cacheEntry{text: v, used: r.gen}
	}
	for k, e := range r.cache {
		if r.gen-e.used > cacheKeep {
			delete(r.cache, k)
		}
	}
	r.last = assemble(pieces, texts)
	return r.last, nil
}

// update recomputes the ink of rows [y0,y1) after they changed. A
// pixel's ink depends on rows up to inkReach away, and line cleaning on
// runs up to maxInkRunV long, so those neighbours are recomputed or
// looked at too; only rows whose ink can have changed are written.
func (r *Reader) update(y0, y1 int) [2]int {
	b := r.prev.Rect
	parallelRows(y0, y1, func(a, e int) { runMap(r.runs, r.prev, a, e) })
	i0, i1 := max(y0-inkReach, b.Min.Y), min(y1+inkReach, b.Max.Y)
	parallelRows(i0, i1, func(a, e int) { inkRows(r.raw, r.prev, r.runs, a, e) })
	c0, c1 := max(i0-maxInkRunV, b.Min.Y), min(i1+maxInkRunV, b.Max.Y)
	work := image.NewGray(image.Rect(b.Min.X, c0, b.Max.X, c1))
	copy(work.Pix, r.raw.Pix[(c0-b.Min.Y)*r.raw.Stride:(c1-b.Min.Y)*r.raw.Stride])
	cleanInk(work, work.Rect)
	copy(r.ink.Pix[(i0-b.Min.Y)*r.ink.Stride:(i1-b.Min.Y)*r.ink.Stride],
		work.Pix[(i0-c0)*work.Stride:(i1-c0)*work.Stride])
	return [2]int{i0, i1}
}

func overlapsAny(r [2]int, rs [][2]int) bool {
	for _, o := range rs {
		if r[0] < o[1] && o[0] < r[1] {
			return true
		}
	}
	return false
}

// parallelRows splits [y0,y1) over the CPUs.
func parallelRows(y0, y1 int, f func(a, e int)) {
	n := runtime.NumCPU()
	if n < 2 || y1-y0 < 64 {
		f(y0, y1)
		return
	}
	var wg sync.WaitGroup
	step := (y1 - y0 + n - 1) / n
	for a := y0; a < y1; a += step {
		e := min(a+step, y1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(a, e)
		}()
	}
	wg.Wait()
}

// changedRows compares two frames of equal bounds row by row.
func changedRows(old, cur *image.RGBA) [][2]int {
	b := cur.Rect
	w := 4 * b.Dx()
	var out [][2]int
	start := -1
	for y := b.Min.Y; y < b.Max.Y; y++ {
		o := old.Pix[(y-b.Min.Y)*old.Stride:][:w]
		c := cur.Pix[(y-b.Min.Y)*cur.Stride:][:w]
		same := bytes.Equal(o, c)
		if !same && start < 0 {
			start = y
		}
		if same && start >= 0 {
			out = append(out, [2]int{start, y})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, b.Max.Y})
	}
	// Close ranges whose recomputation would overlap anyway.
	merged := out[:0]
	for _, d := range out {
		if n := len(merged); n > 0 && d[0]-merged[n-1][1] <= 2*(inkReach+maxInkRunV) {
			merged[n-1][1] = d[1]
			continue
		}
		merged = append(merged, d)
	}
	return merged
}

// rowsOf turns rectangles into merged row ranges inside b.
func rowsOf(rs []image.Rectangle, b image.Rectangle) [][2]int {
	var out [][2]int
	for _, r := range rs {
		r = r.Intersect(b)
		if !r.Empty() {
			out = append(out, [2]int{r.Min.Y, r.Max.Y})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	merged := out[:0]
	for _, d := range out {
		if n := len(merged); n > 0 && d[0] <= merged[n-1][1]+2*(inkReach+maxInkRunV) {
			merged[n-1][1] = max(merged[n-1][1], d[1])
			continue
		}
		merged = append(merged, d)
	}
	return merged
}

func copyRows(dst, src *image.RGBA, y0, y1 int) {
	b := src.Rect
	w := 4 * b.Dx()
	for y := y0; y < y1; y++ {
		copy(dst.Pix[(y-b.Min.Y)*dst.Stride:][:w], src.Pix[(y-b.Min.Y)*src.Stride:][:w])
	}
}
