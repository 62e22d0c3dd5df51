package ocr

import (
	"context"
	"image"
	"image/color"
	"strings"
	"testing"
	"testing/fstest"
)

func cellFontByName(t *testing.T, name string) *cellFont {
	t.Helper()
	fonts, err := loadCellFonts()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fonts {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no cell font %s", name)
	return nil
}

// drawCells draws text with font f at cell (col, row) of the grid whose
// origin is org, each cell in fg on bg.
func drawCells(img *image.RGBA, f *cellFont, org image.Point, col, row int, text string, fg, bg color.RGBA) {
	glyph := map[rune]glyphKey{}
	for k, r := range f.glyphs {
		glyph[r] = k
	}
	for i, r := range []rune(text) {
		x0, y0 := org.X+(col+i)*f.w, org.Y+row*f.h
		k := glyph[r]
		for y := 0; y < f.h; y++ {
			for x := 0; x < f.w; x++ {
				c := bg
				if k[y]>>(f.w-1-x)&1 == 1 {
					c = fg
				}
				img.SetRGBA(x0+x, y0+y, c)
			}
		}
	}
}

func TestCellFontsLoad(t *testing.T) {
	fonts, err := loadCellFonts()
	if err != nil {
		t.Fatal(err)
	}
	if len(fonts) < 4 {
		t.Fatalf("%d cell fonts, want efi, vga, fb and ter", len(fonts))
	}
	for _, f := range fonts {
		for c := rune('!'); c <= '~'; c++ {
			found := false
			for _, r := range f.glyphs {
				if r == c {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s: no glyph for %q", f.name, c)
			}
		}
	}
}

func TestParseCellFontRefuses(t *testing.T) {
	for name, text := range map[string]string{
		"no header":    "0041 00\n",
		"bad size":     "font x 40x8\n",
		"short rows":   "font x 8x2\n0041 00\n",
		"wide bits":    "font x 4x1\n0041 f0\n",
		"duplicate":    "font x 8x1\n0041 18\n0042 18\n",
		"no glyphs":    "font x 8x1\n",
		"bad code":     "font x 8x1\nzz 18\n",
		"two headers":  "font x 8x1\nfont y 8x1\n",
		"extra fields": "font x 8x1\n0041 18 19\n",
	} {
		if _, err := parseCellFont([]byte(text)); err == nil {
			t.Errorf("%s: parsed %q", name, text)
		}
	}
	if _, err := parseCellFonts(fstest.MapFS{"cellfonts/a.txt": {Data: []byte("font a 8x1\n0041 18\n")}}); err != nil {
		t.Fatal(err)
	}
}

// TestReadCellsExact draws identifiers that Tesseract confuses (0/O, l/1,
// punctuation) in each font, on a plain background and on a highlight
// bar, on a grid that does not start at 0, and reads them back exactly.
func TestReadCellsExact(t *testing.T) {
	lines := []string{
		"PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x0,0xFFFF,0x0)",
		"link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff",
		"Il1| O0o @ {x86_64} `tick' \"q\" ~$%^&*",
	}
	for _, name := range []string{"efi-8x19", "vga-9x16", "fb-8x16", "fixed-8x16", "ter-16x32", "xterm-6x13", "xterm-9x15"} {
		t.Run(name, func(t *testing.T) {
			f := cellFontByName(t, name)
			img := image.NewRGBA(image.Rect(0, 0, 70*f.w+5, 8*f.h+3))
			bg := color.RGBA{0, 0, 0xa8, 0xff}
			fillRect(img, img.Rect, bg)
			org := image.Pt(5, 3)
			fg := color.RGBA{0xc0, 0xc0, 0xc0, 0xff}
			bar := color.RGBA{0xff, 0xff, 0xff, 0xff}
			for i, l := range lines {
				drawCells(img, f, org, 2, 2*i, l, fg, bg)
			}
			// A highlight bar: black on white, wider than its text.
			drawCells(img, f, org, 1, 7, " Boot Manager "+strings.Repeat(" ", 10), color.RGBA{A: 0xff}, bar)
			res, err := NewTesseract(failRunner{t}).Recognize(context.Background(), img, img.Rect)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Join(lines, "\n") + "\nBoot Manager\n"
			if got := res.Text(); got != want {
				t.Errorf("read\n%s\nwant\n%s", got, want)
			}
			for _, l := range res.Lines {
				if l.Confidence != 1 {
					t.Errorf("%q: confidence %v", l.Text, l.Confidence)
				}
			}
			m := Find(res, Query{Text: "Boot Manager"})
			if len(m) != 1 {
				t.Fatalf("Boot Manager: %d matches", len(m))
			}
			row := image.Rect(org.X+2*f.w, org.Y+7*f.h, org.X+14*f.w, org.Y+8*f.h)
			if b := m[0].BBox; b.Min.X != row.Min.X || !b.In(row) {
				t.Errorf("Boot Manager at %v, want in its cells %v from their left edge", b, row)
			}
		})
	}
}

// failRunner fails the test when anything is given to Tesseract.
type failRunner struct{ t *testing.T }

func (r failRunner) Run(ctx context.Context, img []byte) ([]byte, error) {
	r.t.Errorf("tesseract was run on a screen of cell-font text")
	return nil, nil
}

// TestReadCellsLeavesOtherText: text in a font that is not a cell font
// (anti-aliased, or an unknown bitmap font) and a line with a glyph the
// font does not have go to Tesseract, whole.
func TestReadCellsLeavesOtherText(t *testing.T) {
	f := cellFontByName(t, "efi-8x19")
	img := image.NewRGBA(image.Rect(0, 0, 400, 120))
	fillRect(img, img.Rect, color.White)
	drawText(img, 10, 20, "Plain basicfont text", color.Black) // 7x13, not a cell font here
	drawCells(img, f, image.Pt(0, 0), 2, 3, "Known Glyphs", color.RGBA{A: 0xff}, color.RGBA{0xff, 0xff, 0xff, 0xff})
	white := color.RGBA{0xff, 0xff, 0xff, 0xff}
	drawCells(img, f, image.Pt(0, 0), 2, 5, "Mixed   Install  now", color.RGBA{A: 0xff}, white)
	// A glyph of no font (two bars) between blank cells after "Mixed",
	// and as the last letter of "Install": "Install?" must not be read
	// as "Install".
	for _, col := range []int{8, 17} {
		for y := 5*f.h + 4; y < 5*f.h+14; y++ {
			img.SetRGBA(col*f.w+1, y, color.RGBA{A: 0xff})
			img.SetRGBA(col*f.w+6, y, color.RGBA{A: 0xff})
		}
	}
	ink := inkImage(img)
	ps := (&Tesseract{}).pieces(ink, segment(ink, ink.Rect))
	cells, partial, rest := readCells(img, ps, nil)
	got := lineTexts(cells)
	if len(got) != 1 || got[0] != "Known Glyphs" {
		t.Errorf("read as cells: %q, want only \"Known Glyphs\"", got)
	}
	part := lineTexts(partial)
	if len(part) != 1 || part[0] != "Mixed now" {
		t.Errorf("read in part: %q, want \"Mixed now\" (the unknown glyph and the word it is in left out)", part)
	}
	if len(rest) != 2 {
		t.Errorf("%d pieces left for tesseract, want 2 (basicfont text, the line with an unknown glyph)", len(rest))
	}
}

// lineTexts is the text of every line of the readings.
func lineTexts(texts map[uint64]pieceText) []string {
	var out []string
	for _, pt := range texts {
		for _, l := range pt.lines {
			out = append(out, newLine(l).Text)
		}
	}
	return out
}

// TestJoinCellLines: pieces of one cell row up to two blank cells apart
// become one line; three cells apart, on another row or in another font
// they stay apart.
func TestJoinCellLines(t *testing.T) {
	f, g := &cellFont{name: "a", w: 8, h: 16}, &cellFont{name: "b", w: 8, h: 16}
	cl := func(font *cellFont, col, row int, text string) Line {
		var ws []Word
		x := col * 8
		for _, w := range strings.Fields(text) {
			ws = append(ws, Word{Text: w, Confidence: 1, BBox: image.Rect(x, row*16, x+8*len(w), row*16+16)})
			x += 8 * (len(w) + 1)
		}
		l := newLine(ws)
		l.cell = font
		return l
	}
	plain := cl(nil, 30, 0, "tesseract")
	plain.cell = nil
	got := joinCellLines([]Line{
		cl(f, 0, 0, "major minor"), cl(f, 13, 0, "#blocks"), cl(f, 22, 0, "name"), // gaps of 2 cells
		cl(f, 0, 1, "5."), cl(f, 3, 1, "iPXE"), // a gap of 1
		cl(f, 0, 2, "Select Language"), cl(f, 18, 2, "<Standard English>"), // a gap of 3
		cl(f, 0, 3, "font"), cl(g, 6, 3, "other"), // two fonts
		cl(f, 0, 4, "cells"), plain,
	})
	var texts []string
	for _, l := range got {
		texts = append(texts, l.Text)
	}
	want := []string{"major minor #blocks name", "5. iPXE", "Select Language", "<Standard English>", "font", "other", "cells", "tesseract"}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("joined %q, want %q", texts, want)
	}
}
