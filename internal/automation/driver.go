package automation

import (
	"context"
	"errors"
	"image"

	"github.com/deskvm/deskvm/internal/keysym"
	"github.com/deskvm/deskvm/internal/ocr"
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
	KeyEvent(ctx context.Context, k keysym.Keysym, down bool) error
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

// The reading's parts are the OCR JSON shapes that `deskvm ocr` prints
// too (package ocr owns them), so a step's -ocr.json file and the ocr
// command's output are one format.
type (
	// Box is a rectangle as x, y, width, height.
	Box = ocr.BoxJSON
	// Word is one recognised word.
	Word = ocr.WordJSON
	// TextLine is one line of recognised text with its words.
	TextLine = ocr.TextJSON
)

// BoxOf converts a rectangle to a Box.
func BoxOf(r image.Rectangle) Box { return ocr.Box(r) }

// Reading is what OCR read on one frame, in the reference's JSON shape
// ({"texts": [...]}). Raw keeps the OCR engine's own result so its Find
// can work on it without a conversion back; nil for a reading that did
// not come from the engine (one loaded from an -ocr.json file).
type Reading struct {
	Texts []TextLine  `json:"texts"`
	Raw   *ocr.Result `json:"-"`
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
