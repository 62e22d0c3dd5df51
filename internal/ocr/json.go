package ocr

import "image"

// The JSON shapes below are the reference engine's OCR output, which
// `deskvm ocr` prints and the automation debug files contain.

// BoxJSON is a rectangle as x, y, width, height.
type BoxJSON struct {
	X      int `json:"x"`
	Y      int `json:"y"`
	Width  int `json:"width"`
	Height int `json:"height"`
}

// WordJSON is one word.
type WordJSON struct {
	Text       string  `json:"text"`
	Confidence float64 `json:"confidence"`
	BBox       BoxJSON `json:"bbox"`
}

// TextJSON is one line of text with its words.
type TextJSON struct {
	Text       string     `json:"text"`
	Confidence float64    `json:"confidence"`
	BBox       BoxJSON    `json:"bbox"`
	Words      []WordJSON `json:"words"`
}

// ResultJSON is a whole OCR result: {"texts": [...]}.
type ResultJSON struct {
	Texts []TextJSON `json:"texts"`
}

// PointJSON is a click point.
type PointJSON struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// MatchJSON is one phrase match.
type MatchJSON struct {
	Text  string    `json:"text"`
	BBox  BoxJSON   `json:"bbox"`
	Point PointJSON `json:"point"`
	Line  int       `json:"line"`
	Score float64   `json:"score"`
}

// MatchesJSON is the result of a search: {"matches": [...]}.
type MatchesJSON struct {
	Matches []MatchJSON `json:"matches"`
}

// Rect converts the box back to an image.Rectangle.
func (b BoxJSON) Rect() image.Rectangle { return image.Rect(b.X, b.Y, b.X+b.Width, b.Y+b.Height) }

// Box converts a rectangle.
func Box(r image.Rectangle) BoxJSON {
	return BoxJSON{X: r.Min.X, Y: r.Min.Y, Width: r.Dx(), Height: r.Dy()}
}

// round3 keeps confidences short in JSON.
func round3(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }

// JSON converts a result to its JSON shape (never nil slices).
func (r *Result) JSON() ResultJSON {
	out := ResultJSON{Texts: []TextJSON{}}
	if r == nil {
		return out
	}
	for _, l := range r.Lines {
		t := TextJSON{Text: l.Text, Confidence: round3(l.Confidence), BBox: Box(l.BBox), Words: []WordJSON{}}
		for _, w := range l.Words {
			t.Words = append(t.Words, WordJSON{Text: w.Text, Confidence: round3(w.Confidence), BBox: Box(w.BBox)})
		}
		out.Texts = append(out.Texts, t)
	}
	return out
}

// MatchesToJSON converts matches to their JSON shape.
func MatchesToJSON(ms []Match) MatchesJSON {
	out := MatchesJSON{Matches: []MatchJSON{}}
	for _, m := range ms {
		out.Matches = append(out.Matches, MatchJSON{
			Text: m.Text, BBox: Box(m.BBox), Point: PointJSON{m.Point.X, m.Point.Y},
			Line: m.Line, Score: round3(m.Score),
		})
	}
	return out
}
