package ocr

import (
	"path/filepath"
	"testing"
)

func BenchmarkPrepare(b *testing.B) {
	img := toRGBA(loadPNG(b, filepath.Join(corpusDir(), "gtk-language.png")))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ink := inkImage(img)
		segment(ink, ink.Rect)
	}
}
