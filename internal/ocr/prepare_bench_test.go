package ocr

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"path/filepath"
	"testing"
)

// BenchmarkPrepare is the Go side of a full-frame read: ink, cleaning,
// line cutting.
func BenchmarkPrepare(b *testing.B) {
	img := toRGBA(loadPNG(b, filepath.Join(corpusDir(), "gtk-language.png")))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ink := inkImage(img)
		segment(ink, ink.Rect)
	}
}

// BenchmarkEncodeCanvas compares the formats a canvas could be sent to
// tesseract in (tesseract decodes all of them in about the same time).
func BenchmarkEncodeCanvas(b *testing.B) {
	img := toRGBA(loadPNG(b, filepath.Join(corpusDir(), "gtk-language.png")))
	ink := inkImage(img)
	eng := NewTesseract(nil)
	canvas, _ := compose(ink, eng.pieces(ink, segment(ink, ink.Rect)), 1600)
	b.Run("pgm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_ = encodePGM(canvas)
		}
	})
	b.Run("png-fastest", func(b *testing.B) {
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		for i := 0; i < b.N; i++ {
			var buf bytes.Buffer
			_ = enc.Encode(&buf, canvas)
		}
	})
	b.Run("png-none", func(b *testing.B) {
		enc := png.Encoder{CompressionLevel: png.NoCompression}
		for i := 0; i < b.N; i++ {
			var buf bytes.Buffer
			_ = enc.Encode(&buf, canvas)
		}
	})
}

// BenchmarkReaderGoSide is a re-read after a 5% change with tesseract
// replaced by a runner that answers at once: the Go side of the time.
func BenchmarkReaderGoSide(b *testing.B) {
	img := loadPNG(b, filepath.Join(corpusDir(), "gtk-language.png"))
	bo := img.Bounds()
	rect := image.Rect(bo.Dx()/4, bo.Dy()*3/8, bo.Dx()/4+bo.Dx()/2, bo.Dy()*3/8+bo.Dy()/10)
	rd := NewReader(&countingRunner{})
	ctx := context.Background()
	if _, err := rd.Read(ctx, img); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		next := changeRegion(img, rect, i) // new text: never cached
		b.StartTimer()
		if _, err := rd.Read(ctx, next); err != nil {
			b.Fatal(err)
		}
		if st := rd.Stats(); st.Read != 2 {
			b.Fatalf("stats %+v", st)
		}
	}
}

// BenchmarkRecognizeGoSide is a full-frame read with tesseract replaced
// by a runner that answers at once.
func BenchmarkRecognizeGoSide(b *testing.B) {
	img := toRGBA(loadPNG(b, filepath.Join(corpusDir(), "gtk-language.png")))
	eng := NewTesseract(&countingRunner{})
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		if _, err := eng.Recognize(ctx, img, img.Bounds()); err != nil {
			b.Fatal(err)
		}
	}
}
