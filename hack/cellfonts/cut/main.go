// Command cut cuts a screen that shows known characters in a fixed-cell
// font into glyphs and writes them in the format internal/ocr embeds
// (internal/ocr/cellfonts/*.txt). hack/cellfonts/capture.sh runs it.
//
//	cut -png SCREEN.png -cell WxH -text CHARS.txt -name NAME -source TEXT -out FILE
//
// CHARS.txt has the characters as they appear on the screen: each of its
// lines is a row of cells starting at column 0 of the console, the rows
// one under another. Consoles centre their text area, so the grid starts
// at ((W-cols*w)/2, (H-rows*h)/2) for some cols and rows (or at -ox,
// -oy, such as xterm's border); the tool finds the row where the
// characters start and checks that every ASCII character is a distinct
// glyph of one colour on its row's background. Characters outside ASCII
// that the font does not have (drawn blank, or like another) are left
// out with a note.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math/bits"
	"os"
	"sort"
	"strings"
)

func main() {
	var pngPath, cell, textPath, name, source, out string
	var ox, oy int
	flag.StringVar(&pngPath, "png", "", "screen (PNG)")
	flag.StringVar(&cell, "cell", "", "cell size WxH")
	flag.StringVar(&textPath, "text", "", "the characters shown, a row per line")
	flag.StringVar(&name, "name", "", "font name")
	flag.StringVar(&source, "source", "", "where the glyphs were captured")
	flag.StringVar(&out, "out", "", "font file to write")
	flag.IntVar(&ox, "ox", -1, "grid origin x (default: try every centred grid)")
	flag.IntVar(&oy, "oy", -1, "grid origin y (default: try every centred grid)")
	flag.Parse()
	if err := run(pngPath, cell, textPath, name, source, out, ox, oy); err != nil {
		fmt.Fprintln(os.Stderr, "cut:", err)
		os.Exit(1)
	}
}

func run(pngPath, cell, textPath, name, source, out string, ox, oy int) error {
	var w, h int
	if _, err := fmt.Sscanf(cell, "%dx%d", &w, &h); err != nil || w < 1 || w > 32 || h < 1 || h > 32 {
		return fmt.Errorf("-cell %q: want WxH, each up to 32 (what internal/ocr loads)", cell)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		return err
	}
	src, err := png.Decode(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", pngPath, err)
	}
	img := image.NewRGBA(src.Bounds())
	draw.Draw(img, img.Rect, src, src.Bounds().Min, draw.Src)
	text, err := os.ReadFile(textPath)
	if err != nil {
		return err
	}
	var rows [][]rune
	for _, l := range strings.Split(strings.TrimRight(string(text), "\n"), "\n") {
		rows = append(rows, []rune(l))
	}
	W, H := img.Rect.Dx(), img.Rect.Dy()
	// Consoles centre their text area: its origin is ((W-cols*w)/2,
	// (H-rows*h)/2) for some number of columns and rows (Linux: 0, 0).
	type cand struct {
		x, y, border int
		glyphs       map[rune][]uint32
		notes        []string
	}
	var found []cand
	var lastErr error
	var xs, ys []int
	for cols := W / w; cols >= len(rows[0]); cols-- {
		xs = append(xs, (W-cols*w)/2)
	}
	for nrows := H / h; nrows >= len(rows); nrows-- {
		ys = append(ys, (H-nrows*h)/2)
	}
	if ox >= 0 {
		xs = []int{ox}
	}
	if oy >= 0 {
		ys = []int{oy}
	}
	for _, x0 := range xs {
		for _, y00 := range ys {
			for r := 0; y00+(r+len(rows))*h <= H; r++ {
				glyphs, notes, err := cut(img, w, h, x0, y00+r*h, rows)
				if err != nil {
					lastErr = err
					continue
				}
				found = append(found, cand{x0, y00 + r*h, border(glyphs, w, h), glyphs, notes})
			}
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("%s: the characters are on no row of a centred %dx%d grid; last problem: %v", pngPath, w, h, lastErr)
	}
	// Several origins can pass when glyphs have empty margins; the right
	// one has the least ink on the cells' borders.
	sort.SliceStable(found, func(i, j int) bool { return found[i].border < found[j].border })
	best := found[0]
	fmt.Fprintf(os.Stderr, "cut: %s: characters at (%d,%d), %d glyphs (%d origins passed)\n", name, best.x, best.y, len(best.glyphs), len(found))
	for _, n := range best.notes {
		fmt.Fprintln(os.Stderr, "cut:", n)
	}
	return write(out, name, source, w, h, best.glyphs)
}

// border counts glyph pixels on the cells' top row and left column.
func border(glyphs map[rune][]uint32, w, h int) int {
	n := 0
	for _, g := range glyphs {
		for y, row := range g {
			if y == 0 {
				n += bits.OnesCount32(row)
			} else if row>>(w-1)&1 == 1 {
				n++
			}
		}
	}
	return n
}

// cut reads the rows of characters whose first row starts at (x0, y0).
func cut(img *image.RGBA, w, h, x0, y0 int, rows [][]rune) (map[rune][]uint32, []string, error) {
	glyphs := map[rune][]uint32{}
	seen := map[string]rune{}
	var notes []string
	for i, row := range rows {
		y := y0 + i*h
		// The row's background: the cell after its last character.
		end := image.Rect(x0+len(row)*w, y, x0+(len(row)+1)*w, y+h)
		if !end.In(img.Rect) {
			return nil, nil, fmt.Errorf("row %d runs off the screen", i+1)
		}
		cs := colours(img, end)
		if len(cs) != 1 {
			return nil, nil, fmt.Errorf("row %d: the cell after it is not blank", i+1)
		}
		bg := cs[0]
		if ok := len(colours(img, image.Rect(x0-w, y, x0, y+h))) == 1; !ok && x0 >= w {
			return nil, nil, fmt.Errorf("row %d: the cell before it is not blank", i+1)
		}
		var fg color.RGBA
		for j, c := range row {
			r := image.Rect(x0+j*w, y, x0+(j+1)*w, y+h)
			cs := colours(img, r)
			var other []color.RGBA
			for _, k := range cs {
				if k != bg {
					other = append(other, k)
				}
			}
			ascii := c < 0x80
			switch {
			case len(other) == 0:
				if ascii {
					return nil, nil, fmt.Errorf("row %d: %q is blank", i+1, c)
				}
				notes = append(notes, fmt.Sprintf("%U %c drawn blank, left out", c, c))
				continue
			case len(other) > 1:
				return nil, nil, fmt.Errorf("row %d: %q has %d colours", i+1, c, len(cs))
			}
			if fg == (color.RGBA{}) {
				fg = other[0]
			} else if other[0] != fg {
				return nil, nil, fmt.Errorf("row %d: %q in another colour", i+1, c)
			}
			bits := make([]uint32, h)
			for yy := 0; yy < h; yy++ {
				for xx := 0; xx < w; xx++ {
					if img.RGBAAt(r.Min.X+xx, r.Min.Y+yy) == fg {
						bits[yy] |= 1 << (w - 1 - xx)
					}
				}
			}
			k := fmt.Sprint(bits)
			if prev, dup := seen[k]; dup {
				if ascii && prev < 0x80 {
					return nil, nil, fmt.Errorf("row %d: %q looks like %q", i+1, c, prev)
				}
				notes = append(notes, fmt.Sprintf("%U %c drawn like %c, left out", c, c, prev))
				continue
			}
			seen[k] = c
			glyphs[c] = bits
		}
	}
	return glyphs, notes, nil
}

func colours(img *image.RGBA, r image.Rectangle) []color.RGBA {
	var cs []color.RGBA
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := img.RGBAAt(x, y)
			found := false
			for _, k := range cs {
				if k == c {
					found = true
					break
				}
			}
			if !found {
				cs = append(cs, c)
			}
		}
	}
	return cs
}

func write(path, name, source string, w, h int, glyphs map[rune][]uint32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	fmt.Fprintf(bw, "# Glyphs of a fixed-cell font as drawn on a real screen, captured by\n")
	fmt.Fprintf(bw, "# hack/cellfonts/capture.sh from %s.\n", source)
	fmt.Fprintf(bw, "# A line per glyph: code point, then the cell's rows top to bottom in hex,\n")
	fmt.Fprintf(bw, "# %d digits a row, most significant bit leftmost, 1 = ink.\n", (w+3)/4)
	fmt.Fprintf(bw, "font %s %dx%d\n", name, w, h)
	var cs []rune
	for c := range glyphs {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i] < cs[j] })
	digits := (w + 3) / 4
	for _, c := range cs {
		fmt.Fprintf(bw, "%04X ", c)
		for _, row := range glyphs[c] {
			fmt.Fprintf(bw, "%0*x", digits, row)
		}
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
