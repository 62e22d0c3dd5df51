package ocr

import (
	"context"
	"image"
	"path/filepath"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/testutil"
)

// BenchmarkOutputEarlyVsExit compares, on a canvas of two changed lines,
// returning as soon as tesseract's hOCR footer arrives with waiting for
// the process to exit (its teardown frees the whole model).
func BenchmarkOutputEarlyVsExit(t *testing.B) {
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
	a := NewProcessPool(TesseractOptions{waitExit: true, Warm: 1})
	b := NewProcessPool(TesseractOptions{Warm: 1})
	defer a.Close()
	defer b.Close()
	var da, db []time.Duration
	for i := 0; i < t.N; i++ {
		for j, p := range []*ProcessPool{a, b} {
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
			if j == 0 {
				da = append(da, d)
			} else {
				db = append(db, d)
			}
		}
	}
	t.ReportMetric(median(da), "exit-ms")
	t.ReportMetric(median(db), "early-ms")
}
