package ocr

import (
	"context"
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
