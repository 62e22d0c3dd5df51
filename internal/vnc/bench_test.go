package vnc

import (
	"bufio"
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"testing"
)

// benchScreen is a real 1280x800 installer screen from the shared corpus,
// or a synthetic one of the same size when the corpus is not there.
func benchScreen(b *testing.B) *image.RGBA {
	b.Helper()
	if f, err := os.Open("../../../shared/corpus/gtk-language.png"); err == nil {
		defer f.Close()
		if img, err := png.Decode(f); err == nil {
			rgba := image.NewRGBA(img.Bounds())
			draw.Draw(rgba, rgba.Rect, img, img.Bounds().Min, draw.Src)
			return rgba
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, 1280, 800))
	draw.Draw(img, img.Rect, &image.Uniform{color.RGBA{240, 240, 240, 255}}, image.Point{}, draw.Src)
	for y := 100; y < 700; y += 20 {
		for x := 100; x < 1100; x++ {
			if (x*7+y)%5 < 2 {
				img.SetRGBA(x, y+(x%9), color.RGBA{20, 20, 20, 255})
			}
		}
	}
	return img
}

// benchDecode decodes one full-screen FramebufferUpdate per iteration.
func benchDecode(b *testing.B, msg func() []byte) {
	img := benchScreen(b)
	w, h := img.Rect.Dx(), img.Rect.Dy()
	data := msg()
	opts := Options{}
	opts.setDefaults()
	b.SetBytes(int64(w * h * 4))
	b.ReportAllocs()
	br := bufio.NewReaderSize(bytes.NewReader(data), 64<<10)
	d := newDecoder(br, &opts, w, h)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		br.Reset(bytes.NewReader(data))
		d.zrle = zrleStream{} // each message starts a new zlib stream
		ev, err := d.next()
		if err != nil || ev.kind != eventUpdate {
			b.Fatalf("decode: %v", err)
		}
	}
	b.ReportMetric(float64(len(data)), "wire-bytes")
}

// BenchmarkDecode compares the client's cost for a full 1280x800 frame
// in Raw and ZRLE (what the server saves in bytes, the client pays in CPU).
func BenchmarkDecode(b *testing.B) {
	img := benchScreen(b)
	b.Run("raw", func(b *testing.B) {
		benchDecode(b, func() []byte {
			return update(rect(0, 0, img.Rect.Dx(), img.Rect.Dy(), EncodingRaw, rawPixels(img, img.Rect)))
		})
	})
	b.Run("zrle", func(b *testing.B) {
		benchDecode(b, func() []byte {
			var variant int
			return update(newZRLEEncoder().rect(img, img.Rect, tileAuto(&variant)))
		})
	})
}

// BenchmarkPublish is the per-update cost of copying a full frame to the
// published image plus a Snapshot.
func BenchmarkPublishAndSnapshot(b *testing.B) {
	img := benchScreen(b)
	pub := image.NewRGBA(img.Rect)
	b.SetBytes(int64(len(img.Pix)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		copyRect(pub, img, img.Rect)
		_ = append([]byte(nil), pub.Pix...)
	}
}
