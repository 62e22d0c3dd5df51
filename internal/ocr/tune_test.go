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

	"github.com/deskvm/deskvm/internal/testutil"
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

// BenchmarkCorpusCPU reads the whole corpus with one fresh tesseract per
// canvas and reports recall and the CPU time tesseract spent recognising
// (its total CPU minus its start-up, measured on a blank image): the
// measure used to choose --psm, enlargement and canvas layout, because
// CPU time varies much less than wall time on a shared machine.
// DESKVM_OCR_TUNE=psm,maxScale2,gapFactor,canvasWidth and
// DESKVM_OCR_TUNE_C="name=value ..." select a variant.
func BenchmarkCorpusCPU(b *testing.B) {
	testutil.RequiresTesseract(b)
	spec := os.Getenv("DESKVM_OCR_TUNE")
	if spec == "" {
		spec = "6,0,1,1600"
	}
	var v [4]int
	for i, f := range strings.Split(spec, ",") {
		if i < len(v) {
			v[i], _ = strconv.Atoi(f)
		}
	}
	defer func(g, p int) { gapFactorX, scalePixel = g, p }(gapFactorX, scalePixel)
	gapFactorX = v[2]
	if sp, err := strconv.Atoi(os.Getenv("DESKVM_OCR_TUNE_PIXEL")); err == nil {
		scalePixel = sp
	}
	labels := loadCorpus(b)
	base := &cpuRunner{args: []string{"stdin", "stdout", "--psm", "7", "tsv"}}
	blank := []byte("P5\n8 8\n255\n" + string(bytes.Repeat([]byte{255}, 64)))
	for i := 0; i < 3; i++ {
		if _, err := base.Run(context.Background(), blank); err != nil {
			b.Fatal(err)
		}
	}
	startup := base.cpu / time.Duration(base.n)
	args := []string{"stdin", "stdout", "--psm", strconv.Itoa(v[0]), "-c", "tessedit_do_invert=0"}
	for _, c := range strings.Fields(os.Getenv("DESKVM_OCR_TUNE_C")) {
		args = append(args, "-c", c)
	}
	for i := 0; i < b.N; i++ {
		run := &cpuRunner{args: append(args, "tsv")}
		eng := NewTesseract(run)
		eng.maxScale = v[1]
		eng.canvasWidth = v[3]
		found, present, fp := 0, 0, 0
		for _, im := range labels.Images {
			img := loadPNG(b, filepath.Join(corpusDir(), im.File))
			res, err := eng.Recognize(context.Background(), img, img.Bounds())
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range im.Present {
				present++
				if len(Find(res, Query{Text: p, Fuzzy: true})) > 0 {
					found++
				}
			}
			for _, a := range im.Absent {
				if len(Find(res, Query{Text: a, Fuzzy: true})) > 0 {
					fp++
				}
			}
		}
		rec := run.cpu - time.Duration(run.n)*startup
		b.ReportMetric(float64(found), "found")
		b.ReportMetric(float64(present), "present")
		b.ReportMetric(float64(fp), "absent-found")
		b.ReportMetric(float64(rec)/float64(time.Millisecond), "recognition-cpu-ms")
		b.ReportMetric(float64(startup)/float64(time.Millisecond), "startup-cpu-ms")
	}
}
