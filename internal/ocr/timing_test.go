package ocr

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type timingRunner struct {
	r   Runner
	log func(string, ...any)
}

func (t timingRunner) Run(ctx context.Context, img []byte) ([]byte, error) {
	t0 := time.Now()
	out, err := t.r.Run(ctx, img)
	t.log("run %d bytes in %v", len(img), time.Since(t0))
	return out, err
}

func TestTimingDev(t *testing.T) {
	name := os.Getenv("DESKVM_OCR_TIMING")
	if name == "" {
		t.Skip("dev only")
	}
	img := loadPNG(t, filepath.Join(corpusDir(), name))
	pool := NewProcessPool(TesseractOptions{})
	defer pool.Close()
	eng := NewTesseract(timingRunner{pool, t.Logf})
	for i := 0; i < 4; i++ {
		waitReady(t, pool)
		t0 := time.Now()
		ink := inkImage(toRGBA(img))
		ps := eng.pieces(ink, segment(ink, ink.Rect))
		t1 := time.Now()
		eng.read(context.Background(), ink, ps)
		t.Logf("prep %v read %v", t1.Sub(t0), time.Since(t1))
	}
}

func TestTimingSmallDev(t *testing.T) {
	name := os.Getenv("DESKVM_OCR_TIMING")
	if name == "" {
		t.Skip("dev only")
	}
	img := loadPNG(t, filepath.Join(corpusDir(), name))
	bo := img.Bounds()
	rect := image.Rect(bo.Dx()/4, bo.Dy()*3/8, bo.Dx()/4+bo.Dx()/2, bo.Dy()*3/8+bo.Dy()/10)
	pool := NewProcessPool(TesseractOptions{})
	defer pool.Close()
	rd := NewReader(timingRunner{pool, t.Logf})
	rd.Read(context.Background(), img)
	for i := 0; i < 5; i++ {
		next := changeRegion(img, rect, i)
		waitReady(t, pool)
		t0 := time.Now()
		rd.Read(context.Background(), next)
		t.Logf("read %v", time.Since(t0))
	}
}

func TestWarmConfigDev(t *testing.T) {
	if os.Getenv("DESKVM_OCR_WARMCFG") == "" {
		t.Skip("dev only")
	}
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
	t.Logf("canvas %v, %d pieces", c.Rect, len(ps))
	for _, cfg := range [][]string{
		{"tessedit_do_invert=0"},
		{"tessedit_do_invert=0", "load_system_dawg=0", "load_freq_dawg=0"},
		{"tessedit_do_invert=0", "load_system_dawg=0", "load_freq_dawg=0", "load_punc_dawg=0", "load_number_dawg=0"},
		{"tessedit_do_invert=0", "textord_heavy_nr=0", "textord_tabfind_find_tables=0"},
	} {
		for _, psm := range []int{6, 7} {
			pool := NewProcessPool(TesseractOptions{Config: cfg, PSM: psm})
			var ds []time.Duration
			var out []byte
			for i := 0; i < 5; i++ {
				waitReady(t, pool)
				t0 := time.Now()
				out, _ = pool.Run(context.Background(), data)
				ds = append(ds, time.Since(t0))
			}
			pool.Close()
			words, _ := parseTSV(out)
			t.Logf("psm %d %v: median %.1f ms, %d words", psm, cfg, median(ds), len(words))
		}
	}
}
