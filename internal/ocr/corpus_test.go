package ocr

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/testutil"
)

type corpusLabels struct {
	Images []struct {
		File    string   `json:"file"`
		Present []string `json:"present"`
		Absent  []string `json:"absent"`
	} `json:"images"`
}

// corpusDir is the labelled screenshot set; DESKVM_OCR_CORPUS points the
// test at another set with the same labels.json format.
func corpusDir() string {
	if d := os.Getenv("DESKVM_OCR_CORPUS"); d != "" {
		return d
	}
	return filepath.Join("testdata", "corpus")
}

func loadCorpus(t testing.TB) corpusLabels {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir(), "labels.json"))
	if err != nil {
		t.Fatalf("read corpus labels: %v", err)
	}
	var l corpusLabels
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatalf("parse corpus labels: %v", err)
	}
	return l
}

func loadPNG(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return img
}

// TestCorpusRecall reads every labelled screen and requires at least 98%
// of the present phrases found and no absent phrase found, with the
// same fuzzy phrase search scripts use.
func TestCorpusRecall(t *testing.T) {
	testutil.RequiresTesseract(t)
	labels := loadCorpus(t)
	pool := NewProcessPool(TesseractOptions{})
	defer pool.Close()
	eng := NewTesseract(pool)
	ctx := context.Background()
	found, present, falsePos := 0, 0, 0
	for _, im := range labels.Images {
		img := loadPNG(t, filepath.Join(corpusDir(), im.File))
		eng.dump = dumper(t, strings.TrimSuffix(im.File, ".png"))
		start := time.Now()
		res, err := eng.Recognize(ctx, img, img.Bounds())
		if err != nil {
			t.Fatalf("%s: %v", im.File, err)
		}
		el := time.Since(start)
		var misses, wrong []string
		for _, p := range im.Present {
			present++
			if len(Find(res, Query{Text: p, Fuzzy: true})) > 0 {
				found++
			} else {
				misses = append(misses, p)
			}
		}
		for _, a := range im.Absent {
			if m := Find(res, Query{Text: a, Fuzzy: true}); len(m) > 0 {
				falsePos++
				wrong = append(wrong, fmt.Sprintf("%q (as %q)", a, m[0].Text))
			}
		}
		t.Logf("%s: %d/%d present found in %v", im.File, len(im.Present)-len(misses), len(im.Present), el.Round(time.Millisecond))
		if len(misses) > 0 {
			t.Logf("  missed: %q", misses)
		}
		if len(wrong) > 0 {
			t.Logf("  absent but found: %s", strings.Join(wrong, ", "))
		}
		if len(misses) > 0 || len(wrong) > 0 || testing.Verbose() && os.Getenv("DESKVM_OCR_DUMP") != "" {
			t.Logf("  text:\n%s", indent(res.Text()))
		}
	}
	recall := float64(found) / float64(max(present, 1))
	t.Logf("corpus: %d of %d present phrases found (%.1f%%), %d absent phrases found", found, present, 100*recall, falsePos)
	if recall < 0.98 {
		t.Errorf("recall %.1f%% is below 98%%", 100*recall)
	}
	if falsePos > 0 {
		t.Errorf("%d absent phrases were found", falsePos)
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// TestRecognizeRegion reads only the button row of the graphical
// installer; boxes come back in the screen's coordinates.
func TestRecognizeRegion(t *testing.T) {
	testutil.RequiresTesseract(t)
	img := loadPNG(t, filepath.Join(corpusDir(), "gtk-language.png"))
	pool := NewProcessPool(TesseractOptions{Warm: 1})
	defer pool.Close()
	region := image.Rect(1000, 750, 1280, 800)
	res, err := NewTesseract(pool).Recognize(context.Background(), img, region)
	if err != nil {
		t.Fatal(err)
	}
	ms := Find(res, Query{Text: "Continue", Fuzzy: true})
	if len(ms) != 1 || !ms[0].BBox.In(region) || ms[0].Point.X < 1180 {
		t.Fatalf("Continue in the button row: %+v\n%s", ms, res.Text())
	}
	if len(Find(res, Query{Text: "Screenshot", Fuzzy: true})) != 0 {
		t.Error("text outside the region was read")
	}
}
