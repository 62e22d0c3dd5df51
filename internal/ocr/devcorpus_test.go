package ocr

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/testutil"
)

// The development corpus (testdata/devcorpus, made by
// hack/ocrcorpus/generate.sh) holds real screens of several kinds, each
// phrase tagged with the failure classes it exercises, so that recall
// can be told per screen kind and per class. See docs/ocr.md,
// "Development corpus".

// Thresholds: exactly what the engine achieves on the corpus now. Raise
// them when the engine gets better; the goal is every phrase and 0 false.
const (
	devCorpusMinFound = 535
	devCorpusMaxFalse = 0
)

// The corpus's extent (issue 14 asks for at least 40 screens of 5 kinds).
const (
	devCorpusMinScreens = 43
	devCorpusMinKinds   = 5
)

type devImage struct {
	File    string              `json:"file"`
	Kind    string              `json:"kind"`
	Size    string              `json:"size"`
	Present []string            `json:"present"`
	Absent  []string            `json:"absent"`
	Classes map[string][]string `json:"classes"`
}

type devLabels struct {
	About  string     `json:"about"`
	Images []devImage `json:"images"`
}

var (
	devKinds   = []string{"gtk", "terminal", "firmware", "bootloader", "console", "installer"}
	devClasses = []string{"heading-band", "acronym", "identifier", "large-font", "table", "coloured", "highlight-bar"}
)

const devCorpusDir = "testdata/devcorpus"

func loadDevCorpus(t testing.TB) devLabels {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(devCorpusDir, "labels.json"))
	if err != nil {
		t.Fatalf("read dev corpus labels: %v", err)
	}
	var l devLabels
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		t.Fatalf("parse %s/labels.json: %v", devCorpusDir, err)
	}
	return l
}

// classesOf returns the failure classes a phrase of im is tagged with,
// or "plain".
func (im devImage) classesOf(phrase string) []string {
	var out []string
	for _, c := range devClasses {
		for _, p := range im.Classes[c] {
			if p == phrase {
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		out = []string{"plain"}
	}
	return out
}

// TestDevCorpusLabels checks the labels themselves: every screen exists
// with the size it claims, kinds and classes are known names, class tags
// name present phrases, and every screen has a hard absent phrase (one
// that differs from a present phrase, or a run of its words, by at most
// two letters or digits).
func TestDevCorpusLabels(t *testing.T) {
	l := loadDevCorpus(t)
	kinds := map[string]int{}
	for _, im := range l.Images {
		f, err := os.Open(filepath.Join(devCorpusDir, im.File))
		if err != nil {
			t.Errorf("%s: %v", im.File, err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", im.File, err)
			continue
		}
		if got := fmt.Sprintf("%dx%d", cfg.Width, cfg.Height); got != im.Size {
			t.Errorf("%s: size %s, labels say %q", im.File, got, im.Size)
		}
		if !contains(devKinds, im.Kind) {
			t.Errorf("%s: unknown kind %q (known: %v)", im.File, im.Kind, devKinds)
		}
		kinds[im.Kind]++
		if len(im.Present) < 4 || len(im.Absent) < 3 {
			t.Errorf("%s: %d present and %d absent phrases; want at least 4 and 3", im.File, len(im.Present), len(im.Absent))
		}
		for c, ps := range im.Classes {
			if !contains(devClasses, c) {
				t.Errorf("%s: unknown class %q (known: %v)", im.File, c, devClasses)
			}
			for _, p := range ps {
				if !contains(im.Present, p) {
					t.Errorf("%s: classes.%s names %q, which is not a present phrase", im.File, c, p)
				}
			}
		}
		for _, a := range im.Absent {
			if contains(im.Present, a) {
				t.Errorf("%s: %q is both present and absent", im.File, a)
			}
		}
		if !hasHardAbsent(im) {
			t.Errorf("%s: no absent phrase is one or two letters off a present phrase", im.File)
		}
	}
	if len(l.Images) < devCorpusMinScreens || len(kinds) < devCorpusMinKinds {
		t.Errorf("%d screens of %d kinds; want at least %d of %d", len(l.Images), len(kinds), devCorpusMinScreens, devCorpusMinKinds)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func hasHardAbsent(im devImage) bool {
	for _, a := range im.Absent {
		if hardOf(im, a) != "" {
			return true
		}
	}
	return false
}

// hardOf returns the present phrase that absent phrase a is one or two
// letters or digits off (compared with a run of as many of its words),
// or "".
func hardOf(im devImage, a string) string {
	aw := strings.Fields(strings.ToLower(a))
	for _, p := range im.Present {
		pw := strings.Fields(strings.ToLower(p))
		for i := 0; i+len(aw) <= len(pw); i++ {
			d := levenshtein([]rune(strings.Join(aw, " ")), []rune(strings.Join(pw[i:i+len(aw)], " ")))
			if d >= 1 && d <= 2 {
				return p
			}
		}
	}
	return ""
}

// tally counts phrases of one row of the report.
type tally struct{ screens, present, found, absent, falsePos int }

func (t tally) String() string {
	return fmt.Sprintf("%7d %8d %6d %7.1f%% %7d %6d", t.screens, t.present, t.found, 100*float64(t.found)/float64(max(t.present, 1)), t.absent, t.falsePos)
}

// devScore is the outcome of reading the corpus with one reader.
type devScore struct {
	total   tally
	kinds   map[string]*tally
	classes map[string]*tally
	misses  []string
	wrong   []string
}

// scoreDevCorpus reads every screen with read and matches the labels
// with the fuzzy phrase search scripts use.
func scoreDevCorpus(t testing.TB, read func(im devImage, img image.Image) (*Result, error)) devScore {
	l := loadDevCorpus(t)
	s := devScore{kinds: map[string]*tally{}, classes: map[string]*tally{}}
	get := func(m map[string]*tally, k string) *tally {
		if m[k] == nil {
			m[k] = &tally{}
		}
		return m[k]
	}
	for _, im := range l.Images {
		img := loadPNG(t, filepath.Join(devCorpusDir, im.File))
		start := time.Now()
		res, err := read(im, img)
		if err != nil {
			t.Fatalf("%s: %v", im.File, err)
		}
		el := time.Since(start)
		k := get(s.kinds, im.Kind)
		k.screens++
		s.total.screens++
		seen := map[string]bool{}
		n := 0
		for _, p := range im.Present {
			ok := len(Find(res, Query{Text: p, Fuzzy: true})) > 0
			for _, tl := range []*tally{&s.total, k} {
				tl.present++
				if ok {
					tl.found++
				}
			}
			for _, c := range im.classesOf(p) {
				ct := get(s.classes, c)
				if !seen[c] {
					seen[c] = true
					ct.screens++
				}
				ct.present++
				if ok {
					ct.found++
				}
			}
			if ok {
				n++
			} else {
				s.misses = append(s.misses, fmt.Sprintf("%s: %q", im.File, p))
			}
		}
		// An absent phrase counts for the classes of the present phrase
		// it is a near miss of (ordinary absent phrases: plain).
		for _, a := range im.Absent {
			m := Find(res, Query{Text: a, Fuzzy: true})
			tls := []*tally{&s.total, k}
			for _, c := range im.classesOf(hardOf(im, a)) {
				tls = append(tls, get(s.classes, c))
			}
			for _, tl := range tls {
				tl.absent++
				if len(m) > 0 {
					tl.falsePos++
				}
			}
			if len(m) > 0 {
				s.wrong = append(s.wrong, fmt.Sprintf("%s: %q (as %q)", im.File, a, m[0].Text))
			}
		}
		t.Logf("%s: %d/%d present found in %v", im.File, n, len(im.Present), el.Round(time.Millisecond))
		if n < len(im.Present) && os.Getenv("DESKVM_OCR_DUMP") != "" {
			t.Logf("  text:\n%s", indent(res.Text()))
		}
	}
	return s
}

// report is the per-kind and per-class table (the one in docs/ocr.md).
func (s devScore) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %7s %8s %6s %8s %7s %6s\n", "", "screens", "present", "found", "recall", "absent", "false")
	keys := func(m map[string]*tally) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	for _, k := range keys(s.kinds) {
		fmt.Fprintf(&b, "kind %-15s %s\n", k, s.kinds[k])
	}
	for _, c := range keys(s.classes) {
		fmt.Fprintf(&b, "class %-14s %s\n", c, s.classes[c])
	}
	fmt.Fprintf(&b, "%-20s %s\n", "all", s.total)
	if len(s.misses) > 0 {
		fmt.Fprintf(&b, "missed:\n  %s\n", strings.Join(s.misses, "\n  "))
	}
	if len(s.wrong) > 0 {
		fmt.Fprintf(&b, "absent but found:\n  %s\n", strings.Join(s.wrong, "\n  "))
	}
	return b.String()
}

// TestDevCorpusRecall reads the development corpus with the engine and
// holds it to what it achieves (devCorpusMinFound, devCorpusMaxFalse).
func TestDevCorpusRecall(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 40+ screens; not in -short")
	}
	testutil.RequiresTesseract(t)
	pool := NewProcessPool(TesseractOptions{})
	defer pool.Close()
	eng := NewTesseract(pool)
	s := scoreDevCorpus(t, func(im devImage, img image.Image) (*Result, error) {
		eng.dump = dumper(t, "dev-"+strings.TrimSuffix(im.File, ".png"))
		return eng.Recognize(context.Background(), img, img.Bounds())
	})
	t.Logf("development corpus, engine:\n%s", s.report())
	if s.total.found < devCorpusMinFound {
		t.Errorf("%d of %d present phrases found; the engine found %d before", s.total.found, s.total.present, devCorpusMinFound)
	} else if s.total.found > devCorpusMinFound {
		t.Logf("%d present phrases found, more than devCorpusMinFound (%d): raise it", s.total.found, devCorpusMinFound)
	}
	if s.total.falsePos > devCorpusMaxFalse {
		t.Errorf("%d absent phrases found; at most %d allowed", s.total.falsePos, devCorpusMaxFalse)
	}
}

// BenchmarkDevCorpusPlain scores plain `tesseract IMAGE stdout tsv` (the
// baseline of TESTING.md: default settings and threads, lines as
// Tesseract groups them) on the development corpus with the same phrase
// search, and logs the same table.
//
//	go test ./internal/ocr -run '^$' -bench DevCorpusPlain -benchtime 1x -v
func BenchmarkDevCorpusPlain(b *testing.B) {
	testutil.RequiresTesseract(b)
	for i := 0; i < b.N; i++ {
		s := scoreDevCorpus(b, func(im devImage, _ image.Image) (*Result, error) {
			return plainRead(filepath.Join(devCorpusDir, im.File))
		})
		b.Logf("development corpus, plain tesseract:\n%s", s.report())
		b.ReportMetric(100*float64(s.total.found)/float64(max(s.total.present, 1)), "recall-%")
		b.ReportMetric(float64(s.total.falsePos), "false")
	}
}

// plainRead runs tesseract on a PNG file with its defaults and groups
// the words into Tesseract's own lines.
func plainRead(path string) (*Result, error) {
	cmd := exec.Command("tesseract", path, "stdout", "tsv")
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "OMP_THREAD_LIMIT=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("plain tesseract %s: %w", path, err)
	}
	words, err := parseTSV(out)
	if err != nil {
		return nil, err
	}
	type key struct{ block, par, line int }
	var order []key
	lines := map[key][]Word{}
	for _, w := range words {
		k := key{w.block, w.par, w.line}
		if _, ok := lines[k]; !ok {
			order = append(order, k)
		}
		lines[k] = append(lines[k], Word{Text: w.text, Confidence: w.conf, BBox: w.box})
	}
	res := &Result{}
	for _, k := range order {
		res.Lines = append(res.Lines, newLine(lines[k]))
	}
	return res, nil
}

// levenshtein is the edit distance of a and b.
func levenshtein(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
