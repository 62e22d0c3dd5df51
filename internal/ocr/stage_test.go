package ocr

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStageTimes(t *testing.T) {
	if os.Getenv("DESKVM_OCR_STAGES") == "" {
		t.Skip("dev only")
	}
	img := loadPNG(t, filepath.Join(corpusDir(), os.Getenv("DESKVM_OCR_STAGES")))
	pool := NewProcessPool(TesseractOptions{})
	defer pool.Close()
	pool.Warm()
	eng := NewTesseract(pool)
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		src := toRGBA(img)
		t1 := time.Now()
		ink := inkImage(src)
		t2 := time.Now()
		boxes := segment(ink, ink.Rect)
		t3 := time.Now()
		ps := eng.pieces(ink, boxes)
		t4 := time.Now()
		pool.WaitWarm()
		time.Sleep(300 * time.Millisecond)
		t5 := time.Now()
		_, err := eng.read(context.Background(), ink, ps)
		if err != nil {
			t.Fatal(err)
		}
		t6 := time.Now()
		t.Logf("rgba %v ink %v segment %v (%d pieces) hash %v read %v", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), len(boxes), t4.Sub(t3), t6.Sub(t5))
	}
}

func TestDumpScales(t *testing.T) {
	if os.Getenv("DESKVM_OCR_STAGES") == "" {
		t.Skip("dev only")
	}
	img := loadPNG(t, filepath.Join(corpusDir(), os.Getenv("DESKVM_OCR_STAGES")))
	for _, s := range []int{1, 2, 3} {
		eng := NewTesseract(nil)
		eng.maxScale = s
		ink := inkImage(toRGBA(img))
		ps := eng.pieces(ink, segment(ink, ink.Rect))
		c, _ := compose(ink, ps, 1600)
		os.WriteFile(filepath.Join("/tmp/dump", "scale"+itoa(s)+".pgm"), encodePGM(c), 0o644)
	}
}

func TestStageSmallChange(t *testing.T) {
	if os.Getenv("DESKVM_OCR_STAGES") == "" {
		t.Skip("dev only")
	}
	img := loadPNG(t, filepath.Join(corpusDir(), os.Getenv("DESKVM_OCR_STAGES")))
	bo := img.Bounds()
	rect := image.Rect(bo.Dx()/4, bo.Dy()*3/8, bo.Dx()/4+bo.Dx()/2, bo.Dy()*3/8+bo.Dy()/10)
	pool := NewProcessPool(TesseractOptions{})
	defer pool.Close()
	rd := NewReader(pool)
	ctx := context.Background()
	rd.Read(ctx, img)
	for i := 0; i < 4; i++ {
		next := changeRegion(img, rect, i)
		pool.Warm()
		pool.WaitWarm()
		time.Sleep(1500 * time.Millisecond)
		t0 := time.Now()
		src := toRGBA(next)
		d := changedRows(rd.prev, src)
		t1 := time.Now()
		rd.Read(ctx, next)
		t2 := time.Now()
		t.Logf("diff %v read %v stats %+v", t1.Sub(t0), t2.Sub(t1), rd.Stats())
		_ = d
	}
}
