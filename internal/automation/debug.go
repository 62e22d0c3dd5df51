package automation

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"time"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// StepRecord is what the report shows about one step.
type StepRecord struct {
	N           int
	Command     string
	Description string // secrets already replaced
	Pos         yamlsrc.Location
	Start       time.Time
	Duration    time.Duration
	Attempts    int
	OCRRuns     int
	OCRTime     time.Duration
	Searched    string
	Found       *FoundRecord
	Click       *image.Point
	Err         string // redacted
	NotRun      bool

	Screenshot string // file names relative to the debug dir
	Annotated  string
	OCRJSON    string
	Thumbnail  []byte // JPEG

	frame   Frame
	reading *Reading
}

// FoundRecord is where a target was found.
type FoundRecord struct {
	Text    string
	BBox    Box
	Point   image.Point
	Matches int
}

// HealthRecord is what the report shows about the health check.
type HealthRecord struct {
	Description string
	Attempts    int
	Output      string
	Duration    time.Duration
	Err         string
}

// Recorder writes the debug directory: per-step screenshots, annotated
// screenshots, OCR JSON, and at the end report.html.
type Recorder struct {
	opts   Options
	red    *Redactor
	script *Script
	steps  []*StepRecord
}

func newRecorder(opts Options, red *Redactor, s *Script) *Recorder {
	return &Recorder{opts: opts, red: red, script: s}
}

func (rc *Recorder) begin(st Step) *StepRecord {
	rec := &StepRecord{N: stepIndex(st), Command: st.Command(), Description: rc.red.String(st.Describe()), Pos: st.Position(), Start: time.Now()}
	rc.steps = append(rc.steps, rec)
	return rec
}

// record saves the step's screen (always in debug mode, and on failure in
// the failure directory) and returns the screenshot path on failure.
func (rc *Recorder) record(ctx context.Context, r *runner, rec *StepRecord, st Step, stepErr error) string {
	dir := rc.opts.DebugDir
	full := dir != ""
	if !full {
		dir = rc.opts.FailureDir
		if stepErr == nil || dir == "" {
			return ""
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	f := rec.frame
	if f.Image == nil && r.sess != nil {
		if cur, err := r.sess.Frame(ctx); err == nil {
			f = cur
		}
	}
	if f.Image == nil {
		return ""
	}
	rd := rec.reading
	if rd == nil && full && r.opts.Eye != nil {
		if got, err := r.read(ctx, f); err == nil {
			rd = got
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.log.Error("create debug directory", "err", err)
		return ""
	}
	base := fmt.Sprintf("%03d-%s", rec.N, rec.Command)
	shotPath := filepath.Join(dir, base+".png")
	img := rc.blankSecrets(f.Image, rd)
	if err := writePNG(shotPath, img); err != nil {
		r.log.Error("write screenshot", "err", err)
		return ""
	}
	rec.Screenshot = base + ".png"
	if !full {
		return shotPath
	}
	if rd != nil {
		red := rc.red.Reading(rd)
		data, err := json.MarshalIndent(red, "", "  ")
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, base+"-ocr.json"), append(data, '\n'), 0o644)
		}
		if err != nil {
			r.log.Error("write ocr json", "err", err)
		} else {
			rec.OCRJSON = base + "-ocr.json"
		}
	}
	ann := annotate(img, rc.red.Reading(rd), rec.Found, rec.Click)
	if err := writePNG(filepath.Join(dir, base+"-annotated.png"), ann); err != nil {
		r.log.Error("write annotated screenshot", "err", err)
	} else {
		rec.Annotated = base + "-annotated.png"
	}
	rec.Thumbnail = thumbnail(ann, 360)
	if stepErr != nil {
		return shotPath
	}
	return ""
}

// blankSecrets paints over words that show a secret, so a password typed
// into a visible field does not end up in a PNG.
func (rc *Recorder) blankSecrets(img *image.RGBA, rd *Reading) *image.RGBA {
	if rd == nil || len(rc.red.secrets) == 0 {
		return img
	}
	var boxes []image.Rectangle
	for _, l := range rd.Texts {
		hit := false
		for _, w := range l.Words {
			if rc.red.Contains(w.Text) {
				boxes, hit = append(boxes, w.BBox.Rect()), true
			}
		}
		if !hit && rc.red.Contains(l.Text) {
			boxes = append(boxes, l.BBox.Rect())
		}
	}
	if len(boxes) == 0 {
		return img
	}
	out := cloneRGBA(img)
	for _, b := range boxes {
		draw.Draw(out, b.Inset(-2), image.Black, image.Point{}, draw.Src)
	}
	return out
}

func (rc *Recorder) screenshot(ctx context.Context, r *runner, s *Screenshot) error {
	f, err := r.sess.Frame(ctx)
	if err != nil {
		return fmt.Errorf("read screen: %w", err)
	}
	r.cur.frame = f
	dir := rc.opts.DebugDir
	if dir == "" {
		dir = rc.opts.ScreenshotDir
	}
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	var rd *Reading
	if len(rc.red.secrets) > 0 && r.opts.Eye != nil {
		// Only read the screen when there is something to hide.
		if rd, err = r.read(ctx, f); err != nil {
			return err
		}
		r.cur.reading = rd
	}
	path := filepath.Join(dir, s.Name+".png")
	if err := writePNG(path, rc.blankSecrets(f.Image, rd)); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	r.log.Info("screenshot saved", "path", path)
	return nil
}

// finish adds the steps that never ran and writes report.html.
func (rc *Recorder) finish(res *Result) (string, error) {
	if rc.opts.DebugDir == "" {
		return "", nil
	}
	seen := map[int]bool{}
	for _, s := range rc.steps {
		seen[s.N] = true
	}
	for _, st := range rc.script.Steps {
		if n := stepIndex(st); !seen[n] {
			rc.steps = append(rc.steps, &StepRecord{N: n, Command: st.Command(), Description: rc.red.String(st.Describe()), Pos: st.Position(), NotRun: true})
		}
	}
	if err := os.MkdirAll(rc.opts.DebugDir, 0o755); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	path := filepath.Join(rc.opts.DebugDir, "report.html")
	var b bytes.Buffer
	if err := renderReport(&b, rc.script, rc.steps, res, rc.red); err != nil {
		return "", fmt.Errorf("render report: %w", err)
	}
	if err := writeFileAtomic(path, b.Bytes()); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	return path, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writePNG(path string, img image.Image) error {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, img); err != nil {
		return err
	}
	return writeFileAtomic(path, b.Bytes())
}

func cloneRGBA(img *image.RGBA) *image.RGBA {
	out := image.NewRGBA(img.Bounds())
	copy(out.Pix, img.Pix)
	return out
}

var (
	boxColor   = color.RGBA{0, 170, 0, 255}
	foundColor = color.RGBA{0, 90, 255, 255}
	clickColor = color.RGBA{255, 0, 0, 255}
	labelBG    = color.RGBA{255, 255, 224, 255}
)

// annotate draws a green box round every recognised line, the found
// target in blue, and a red cross-hair where a click landed. The line
// texts go into a panel right of the screen, level with their line, so
// they never hide the screen itself; small screens are scaled up 2x so
// the boxes stay readable.
func annotate(img *image.RGBA, rd *Reading, found *FoundRecord, click *image.Point) *image.RGBA {
	face := basicfont.Face7x13
	scale := 1
	if img.Bounds().Dx() < 1000 {
		scale = 2
	}
	const panel = 460
	sb := img.Bounds()
	w, h := sb.Dx()*scale, sb.Dy()*scale
	out := image.NewRGBA(image.Rect(0, 0, w+panel, h))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.RGBA{250, 250, 245, 255}), image.Point{}, draw.Src)
	if scale == 1 {
		draw.Draw(out, image.Rect(0, 0, w, h), img, sb.Min, draw.Src)
	} else {
		xdraw.NearestNeighbor.Scale(out, image.Rect(0, 0, w, h), img, sb, xdraw.Src, nil)
	}
	sc := func(r image.Rectangle) image.Rectangle {
		r = r.Sub(sb.Min)
		return image.Rect(r.Min.X*scale, r.Min.Y*scale, r.Max.X*scale, r.Max.Y*scale)
	}
	lineH := face.Metrics().Height.Ceil() + 2
	nextY := 0
	if rd != nil {
		for _, l := range rd.Texts {
			r := sc(l.BBox.Rect())
			strokeRect(out, r.Inset(-1), 1, boxColor)
			label := l.Text
			if max := (panel - 12) / 7; len([]rune(label)) > max {
				label = string([]rune(label)[:max-3]) + "..."
			}
			y := (r.Min.Y + r.Max.Y + lineH) / 2
			if y < nextY+lineH {
				y = nextY + lineH
			}
			nextY = y
			drawLabel(out, face, label, image.Pt(w+6, y))
		}
	}
	if found != nil {
		strokeRect(out, sc(found.BBox.Rect()).Inset(-3), 3, foundColor)
	}
	if click != nil {
		p := click.Sub(sb.Min).Mul(scale)
		crossHair(out, p, clickColor)
	}
	return out
}

func strokeRect(img *image.RGBA, r image.Rectangle, width int, c color.Color) {
	u := image.NewUniform(c)
	for i := 0; i < width; i++ {
		rr := r.Inset(-i)
		draw.Draw(img, image.Rect(rr.Min.X, rr.Min.Y, rr.Max.X, rr.Min.Y+1), u, image.Point{}, draw.Src)
		draw.Draw(img, image.Rect(rr.Min.X, rr.Max.Y-1, rr.Max.X, rr.Max.Y), u, image.Point{}, draw.Src)
		draw.Draw(img, image.Rect(rr.Min.X, rr.Min.Y, rr.Min.X+1, rr.Max.Y), u, image.Point{}, draw.Src)
		draw.Draw(img, image.Rect(rr.Max.X-1, rr.Min.Y, rr.Max.X, rr.Max.Y), u, image.Point{}, draw.Src)
	}
}

// drawLabel writes text with its bottom-left corner at p, on a light
// background so it stays readable over any screen.
func drawLabel(img *image.RGBA, face font.Face, text string, p image.Point) {
	if text == "" {
		return
	}
	w := font.MeasureString(face, text).Ceil()
	h := face.Metrics().Height.Ceil()
	if p.Y-h < img.Bounds().Min.Y {
		p.Y = img.Bounds().Min.Y + h
	}
	bg := image.Rect(p.X, p.Y-h, p.X+w+2, p.Y)
	draw.Draw(img, bg, image.NewUniform(labelBG), image.Point{}, draw.Src)
	d := font.Drawer{Dst: img, Src: image.NewUniform(color.RGBA{0, 80, 0, 255}), Face: face,
		Dot: fixed.P(p.X+1, p.Y-face.Metrics().Descent.Ceil())}
	d.DrawString(text)
}

func crossHair(img *image.RGBA, p image.Point, c color.Color) {
	u := image.NewUniform(c)
	const arm, gap, thick = 18, 3, 1
	for _, r := range []image.Rectangle{
		image.Rect(p.X-arm, p.Y-thick, p.X-gap, p.Y+thick+1),
		image.Rect(p.X+gap+1, p.Y-thick, p.X+arm+1, p.Y+thick+1),
		image.Rect(p.X-thick, p.Y-arm, p.X+thick+1, p.Y-gap),
		image.Rect(p.X-thick, p.Y+gap+1, p.X+thick+1, p.Y+arm+1),
	} {
		draw.Draw(img, r, u, image.Point{}, draw.Src)
	}
	strokeRect(img, image.Rect(p.X-8, p.Y-8, p.X+9, p.Y+9), 1, c)
}

// thumbnail scales an image to the given width and encodes it as JPEG.
func thumbnail(img image.Image, width int) []byte {
	b := img.Bounds()
	if b.Dx() == 0 || b.Dy() == 0 {
		return nil
	}
	h := b.Dy() * width / b.Dx()
	if h < 1 {
		h = 1
	}
	dst := image.NewRGBA(image.Rect(0, 0, width, h))
	xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, xdraw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 75}); err != nil {
		return nil
	}
	return out.Bytes()
}

func dataURI(mime string, data []byte) string {
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data)
}
