package ocr

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// dumper writes canvases to $DESKVM_OCR_DUMP (for looking at what
// Tesseract is given); nil when unset.
func dumper(t testing.TB, name string) func(*image.Gray) {
	dir := os.Getenv("DESKVM_OCR_DUMP")
	if dir == "" {
		return nil
	}
	var n atomic.Int32
	return func(g *image.Gray) {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-canvas%d.png", name, n.Add(1))))
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		_ = png.Encode(f, g)
	}
}
