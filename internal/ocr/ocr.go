// Package ocr reads text from screen images. It prepares a screen for
// Tesseract (light-on-dark and coloured bars become dark-on-white ink,
// the screen is cut into single text lines, small text is scaled up),
// runs the tesseract command on composed canvases in parallel, caches
// what it read per line image, and finds phrases in the result.
package ocr

import (
	"context"
	"image"
	"strings"
)

// Engine recognises the text in one region of an image. All coordinates
// in the Result are in img's pixel space.
type Engine interface {
	Recognize(ctx context.Context, img image.Image, region image.Rectangle) (*Result, error)
}

// Result is the text found on an image, lines in reading order.
type Result struct {
	Lines []Line
}

// Line is one line of text: words that sit side by side, separated by
// no more than ordinary word spacing.
type Line struct {
	Text       string // the words joined by single spaces
	Confidence float64
	BBox       image.Rectangle
	Words      []Word
	// alts are other readings of the same place on the screen (a second
	// enlargement of a line read with low confidence); Find accepts a
	// phrase in any of them.
	alts []Line
	// cell is the cell font the line was read in, if any.
	cell *cellFont
}

// Word is one recognised word with its confidence (0–1) and box.
type Word struct {
	Text       string
	Confidence float64
	BBox       image.Rectangle
}

// Text is the plain text of the result, one line per Line.
func (r *Result) Text() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	for _, l := range r.Lines {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// newLine builds a Line from words ordered left to right.
func newLine(words []Word) Line {
	l := Line{Words: words}
	texts := make([]string, len(words))
	sum := 0.0
	for i, w := range words {
		texts[i] = w.Text
		sum += w.Confidence
		if i == 0 {
			l.BBox = w.BBox
		} else {
			l.BBox = l.BBox.Union(w.BBox)
		}
	}
	l.Text = strings.Join(texts, " ")
	if len(words) > 0 {
		l.Confidence = sum / float64(len(words))
	}
	return l
}
