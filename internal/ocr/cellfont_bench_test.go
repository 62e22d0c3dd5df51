package ocr

import (
	"context"
	"image"
	"image/color"
	"path/filepath"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/testutil"
)

// cellBenchScreens are firmware and console screens of the development
// corpus, 1280×800, drawn in cell fonts: OVMF's shell (EFI 8×19), GRUB's
// command line on UEFI, and the Linux console in Terminus 16×32.
var cellBenchScreens = []string{"uefi-shell-pci.png", "grub-cmdline.png", "console-large-boot.png"}

// BenchmarkCellScreens alternates plain tesseract and a full read of a
// cell-font screen (no cache), idle and with one core busy, and reports
// both medians, their ratio and the lines tesseract still read.
func BenchmarkCellScreens(b *testing.B) {
	testutil.RequiresTesseract(b)
	underLoad(b, func(b *testing.B) {
		for _, name := range cellBenchScreens {
			b.Run(name, func(b *testing.B) {
				path := filepath.Join("testdata", "devcorpus", name)
				img := toRGBA(loadPNG(b, path))
				pool := NewProcessPool(TesseractOptions{})
				defer pool.Close()
				var plain, ours []time.Duration
				lines := 0
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					plainTesseract(b, path)
					plain = append(plain, time.Since(t0))
					waitReady(b, pool)
					rd := NewReader(pool) // a fresh reader: nothing cached
					t0 = time.Now()
					if _, err := rd.Read(context.Background(), img); err != nil {
						b.Fatal(err)
					}
					ours = append(ours, time.Since(t0))
					lines = rd.Stats().Read
				}
				b.ReportMetric(median(plain), "plain-ms")
				b.ReportMetric(median(ours), "ocr-ms")
				b.ReportMetric(median(plain)/median(ours), "speedup")
				b.ReportMetric(float64(lines), "tesseract-lines")
			})
		}
	})
}

// BenchmarkCellSearch is what looking for cell fonts costs on screens
// that have none: the graphical installer (anti-aliased), and 1280×800
// of two-colour text in basicfont 7×13, a bitmap font that was not
// captured (searched on 8 lines, then given up).
func BenchmarkCellSearch(b *testing.B) {
	basic := image.NewRGBA(image.Rect(0, 0, 1280, 800))
	fillRect(basic, basic.Rect, color.Black)
	for y := 14; y < 800; y += 18 {
		drawText(basic, 4, y, "Loading module 42 of 1200: virtio_net (drivers/net/virtio_net.ko) ... ok", color.White)
	}
	for _, c := range []struct {
		name string
		img  *image.RGBA
	}{
		{"gtk-language", toRGBA(loadPNG(b, filepath.Join(corpusDir(), "gtk-language.png")))},
		{"basicfont", basic},
	} {
		b.Run(c.name, func(b *testing.B) {
			ink := inkImage(c.img)
			ps := (&Tesseract{}).pieces(ink, segment(ink, ink.Rect))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if cells, _, _ := readCells(c.img, ps, nil); len(cells) != 0 {
					b.Fatalf("%d lines read as cells", len(cells))
				}
			}
			b.ReportMetric(float64(len(ps)), "lines")
		})
	}
}
