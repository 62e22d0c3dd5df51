package ocr

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cpuRunner runs a fresh tesseract per call and sums its CPU time.
type cpuRunner struct {
	args []string
	mu   sync.Mutex
	cpu  time.Duration
	n    int
}

func (c *cpuRunner) Run(ctx context.Context, img []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "tesseract", c.args...)
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1", "GLIBC_TUNABLES="+mallocTunables)
	cmd.Stdin = bytes.NewReader(img)
	out, err := cmd.Output()
	c.mu.Lock()
	c.cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	c.n++
	c.mu.Unlock()
	return out, err
}

func TestTune(t *testing.T) {
	spec := os.Getenv("DESKVM_OCR_TUNE") // psm,maxScale,gapFactor,width
	if spec == "" {
		t.Skip("dev only")
	}
	var v [4]int
	for i, f := range bytes.Split([]byte(spec), []byte(",")) {
		v[i], _ = strconv.Atoi(string(f))
	}
	gapFactorX = v[2]
	labels := loadCorpus(t)
	// Start-up cost of one process, to subtract.
	base := &cpuRunner{args: []string{"stdin", "stdout", "--psm", "7", "tsv"}}
	small := []byte("P5\n8 8\n255\n" + string(bytes.Repeat([]byte{255}, 64)))
	for i := 0; i < 3; i++ {
		base.Run(context.Background(), small)
	}
	startup := base.cpu / time.Duration(base.n)
	args := []string{"stdin", "stdout", "--psm", strconv.Itoa(v[0]), "-c", "tessedit_do_invert=0"}
	for _, c := range strings.Fields(os.Getenv("DESKVM_OCR_TUNE_C")) {
		args = append(args, "-c", c)
	}
	run := &cpuRunner{args: append(args, "tsv")}
	eng := NewTesseract(run)
	eng.maxScale = v[1]
	eng.canvasWidth = v[3]
	found, present, fp := 0, 0, 0
	var misses []string
	for _, im := range labels.Images {
		img := loadPNG(t, filepath.Join(corpusDir(), im.File))
		res, err := eng.Recognize(context.Background(), img, img.Bounds())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range im.Present {
			present++
			if len(Find(res, Query{Text: p, Fuzzy: true})) > 0 {
				found++
			} else {
				misses = append(misses, im.File+":"+p)
			}
		}
		for _, a := range im.Absent {
			if len(Find(res, Query{Text: a, Fuzzy: true})) > 0 {
				fp++
			}
		}
	}
	rec := run.cpu - time.Duration(run.n)*startup
	t.Logf("%s %s: found %d/%d fp %d; %d runs, recognition CPU %v total (startup %v each) misses %q", spec, os.Getenv("DESKVM_OCR_TUNE_C"), found, present, fp, run.n, rec.Round(time.Millisecond), startup.Round(time.Millisecond), misses)
}

func TestGenCanvases(t *testing.T) {
	name := os.Getenv("DESKVM_OCR_GEN")
	if name == "" {
		t.Skip("dev only")
	}
	img := loadPNG(t, filepath.Join(corpusDir(), name))
	for _, gf := range []int{0, 1, 2} {
		gapFactorX = gf
		eng := NewTesseract(nil)
		ink := inkImage(toRGBA(img))
		ps := eng.pieces(ink, segment(ink, ink.Rect))
		c, _ := compose(ink, ps, 1600)
		os.WriteFile(filepath.Join("/tmp/dump", "gap"+strconv.Itoa(gf)+".pgm"), encodePGM(c), 0o644)
	}
	gapFactorX = 1
}

func TestGenScales(t *testing.T) {
	name := os.Getenv("DESKVM_OCR_GENSCALE")
	if name == "" {
		t.Skip("dev only")
	}
	img := loadPNG(t, filepath.Join(corpusDir(), name))
	for _, s := range []int{2, 3, 4} {
		eng := NewTesseract(nil)
		eng.maxScale = s
		ink := inkImage(toRGBA(img))
		ps := eng.pieces(ink, segment(ink, ink.Rect))
		c, _ := compose(ink, ps, 1600)
		os.WriteFile(filepath.Join("/tmp/dump", "s"+strconv.Itoa(s)+".pgm"), encodePGM(c), 0o644)
	}
}

func TestGenOneLine(t *testing.T) {
	name := os.Getenv("DESKVM_OCR_GENLINE")
	if name == "" {
		t.Skip("dev only")
	}
	img := loadPNG(t, filepath.Join(corpusDir(), name))
	eng := NewTesseract(nil)
	ink := inkImage(toRGBA(img))
	ps := eng.pieces(ink, segment(ink, ink.Rect))
	var keep []piece
	for _, p := range ps {
		if p.src.Dy() <= 22 {
			keep = append(keep, p)
		}
	}
	c, _ := compose(ink, keep, 1<<20)
	os.WriteFile("/tmp/dump/oneline.pgm", encodePGM(c), 0o644)
	c, _ = compose(ink, keep, 1600)
	os.WriteFile("/tmp/dump/shelf.pgm", encodePGM(c), 0o644)
	t.Logf("%d of %d pieces", len(keep), len(ps))
}
