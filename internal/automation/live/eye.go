// Package live connects the automation runner to the real parts: the VNC
// client for the screen, keyboard and pointer, Tesseract OCR for reading,
// and libvirt for finding a VM's VNC address.
package live

import (
	"context"
	"image"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/ocr"
)

// Eye reads screens with an OCR engine and finds targets with ocr.Find.
type Eye struct {
	Engine ocr.Engine
}

// Read recognises the whole screen.
func (e *Eye) Read(ctx context.Context, img *image.RGBA) (*automation.Reading, error) {
	res, err := e.Engine.Recognize(ctx, img, img.Bounds())
	if err != nil {
		return nil, err
	}
	return ReadingOf(res), nil
}

// Find matches the target on the OCR result behind the reading.
func (e *Eye) Find(r *automation.Reading, t automation.Target) []automation.Match {
	res := r.Raw
	if res == nil {
		res = resultOf(r)
	}
	ms := ocr.Find(res, ocr.Query{Text: t.Text, Regex: t.Regex, Contains: t.Contains, Fuzzy: t.Fuzzy, Region: t.Region})
	out := make([]automation.Match, len(ms))
	for i, m := range ms {
		out[i] = automation.Match{Text: m.Text, BBox: m.BBox, Point: m.Point}
	}
	return out
}

// ReadingOf converts an OCR result to the runner's reading (the reference
// JSON shape), keeping the result for Find.
func ReadingOf(res *ocr.Result) *automation.Reading {
	return &automation.Reading{Texts: res.JSON().Texts, Raw: res}
}

// resultOf rebuilds an OCR result from a reading that did not come from
// Read (for example one loaded from an -ocr.json file).
func resultOf(r *automation.Reading) *ocr.Result {
	res := &ocr.Result{}
	for _, l := range r.Texts {
		ol := ocr.Line{Text: l.Text, Confidence: l.Confidence, BBox: l.BBox.Rect()}
		for _, w := range l.Words {
			ol.Words = append(ol.Words, ocr.Word{Text: w.Text, Confidence: w.Confidence, BBox: w.BBox.Rect()})
		}
		res.Lines = append(res.Lines, ol)
	}
	return res
}
