package ocr

import (
	"context"
	"image"
	"path/filepath"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/testutil"
)

// BenchmarkRunTwoLines reads a canvas of two changed lines (what a
// re-read after a small change gives tesseract) with a warm process of
// the pool, and reports the median wall time.
func BenchmarkRunTwoLines(t *testing.B) {
	testutil.RequiresTesseract(t)
	img := loadPNG(t, filepath.Join(corpusDir(), "text-main-menu.png"))
	bo := img.Bounds()
	rect := image.Rect(bo.Dx()/4, bo.Dy()*3/8, bo.Dx()/4+bo.Dx()/2, bo.Dy()*3/8+bo.Dy()/10)
	next := changeRegion(img, rect, 7)
	ink := inkImage(toRGBA(next))
	eng := NewTesseract(nil)
	var ps []piece
	for _, p := range eng.pieces(ink, segment(ink, ink.Rect)) {
		if p.src.Overlaps(rect) {
			ps = append(ps, p)
		}
	}
	c, _ := compose(ink, ps, 1600)
	data := encodePGM(c)
	p := NewProcessPool(TesseractOptions{Warm: 1})
	defer p.Close()
	var ds []time.Duration
	for i := 0; i < t.N; i++ {
		waitReady(t, p)
		t0 := time.Now()
		out, err := p.Run(context.Background(), data)
		d := time.Since(t0)
		if err != nil {
			t.Fatal(err)
		}
		if w, _ := parseTSV(out); len(w) < 8 {
			t.Fatalf("%d words", len(w))
		}
		ds = append(ds, d)
	}
	t.ReportMetric(median(ds), "ms-median")
}
