package automation

import (
	"context"
	"errors"
	"image"
)

// ErrScreenLost marks an error caused by a dropped connection to the
// screen (VNC). Run re-dials and retries the current step when it sees it;
// adapters wrap their transport's disconnect error with it.
var ErrScreenLost = errors.New("screen connection lost")

// Frame is one picture of the screen. Seq grows whenever the screen's
// contents changed, so two frames with the same Seq show the same thing.
// The image belongs to the caller: adapters hand out a copy.
type Frame struct {
	Image *image.RGBA
	Seq   uint64
}

// Screen is where the pictures come from.
type Screen interface {
	// Frame returns the current screen.
	Frame(ctx context.Context) (Frame, error)
	// WaitChange blocks until the screen's Seq is past seq, the context
	// ends, or the connection drops.
	WaitChange(ctx context.Context, seq uint64) error
}

// Keyboard sends key presses and releases by X11 keysym.
type Keyboard interface {
	KeyEvent(ctx context.Context, keysym uint32, down bool) error
}

// Pointer moves the pointer to absolute screen coordinates with the given
// button mask (ButtonLeft|ButtonRight..., 0 for none pressed).
type Pointer interface {
	PointerEvent(ctx context.Context, x, y int, buttons Button) error
}

// Session is one connection to a VM's screen.
type Session interface {
	Screen
	Keyboard
	Pointer
	Close() error
}

// Dialer opens a session; Run calls it at the start and again after a
// dropped connection.
type Dialer func(ctx context.Context) (Session, error)

// Box is a rectangle as the OCR JSON writes it.
type Box struct {
	X      int `json:"x"`
	Y      int `json:"y"`
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Rect converts the box to an image.Rectangle.
func (b Box) Rect() image.Rectangle { return image.Rect(b.X, b.Y, b.X+b.Width, b.Y+b.Height) }

// BoxOf converts a rectangle to a Box.
func BoxOf(r image.Rectangle) Box { return Box{X: r.Min.X, Y: r.Min.Y, Width: r.Dx(), Height: r.Dy()} }

// Word is one recognised word.
type Word struct {
	Text       string  `json:"text"`
	Confidence float64 `json:"confidence"`
	BBox       Box     `json:"bbox"`
}

// TextLine is one line of recognised text.
type TextLine struct {
	Text       string  `json:"text"`
	Confidence float64 `json:"confidence"`
	BBox       Box     `json:"bbox"`
	Words      []Word  `json:"words,omitempty"`
}

// Reading is what OCR read on one frame, in the reference's JSON shape
// ({"texts": [...]}). Raw keeps the OCR engine's own result so its Find
// can work on it without a conversion back.
type Reading struct {
	Texts []TextLine `json:"texts"`
	Raw   any        `json:"-"`
}

// Text returns the lines joined by newlines: what "was on the screen".
func (r *Reading) Text() string {
	if r == nil {
		return ""
	}
	var b []byte
	for i, l := range r.Texts {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, l.Text...)
	}
	return string(b)
}

// Match is one place where a target was found.
type Match struct {
	Text  string          // the recognised text that matched
	BBox  image.Rectangle // around the matched words
	Point image.Point     // where a click goes (normally the centre)
}

// Eye reads text on screen images and finds targets in what it read.
type Eye interface {
	Read(ctx context.Context, img *image.RGBA) (*Reading, error)
	// Find returns every match of the target in reading order (top to
	// bottom, left to right); it honours Text/Regex, Contains, Fuzzy and
	// Region. Index is applied by the runner.
	Find(r *Reading, t Target) []Match
}
