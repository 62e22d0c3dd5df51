package ocr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// Runner runs one tesseract recognition: image bytes (PGM) in, TSV out.
// It is the seam tests use to count and fake invocations.
type Runner interface {
	Run(ctx context.Context, img []byte) ([]byte, error)
}

// TesseractOptions configure the tesseract command.
type TesseractOptions struct {
	Path   string   // default "tesseract" from PATH
	PSM    int      // page segmentation mode; 0 means DefaultPSM
	Config []string // extra -c name=value settings
	// Warm is how many started processes wait for an image (default 2).
	// Negative means none: start a process per call.
	Warm int
	// OneShot starts the warm processes once (on Warm) and does not
	// replace them: for commands that read one image and exit.
	OneShot bool

	waitExit bool // tests: compare with waiting for the process to exit
}

// DefaultPSM is the page segmentation mode used on composed canvases:
// measured on the corpus, see docs/ocr.md.
const DefaultPSM = 6

// Tesseract's start-up (loading the language model) costs about 150 ms
// of CPU, several times the recognition of a few lines. The command
// loads its model before it reads the image from stdin, so the pool keeps
// processes started and blocked on stdin; a request then pays only for
// recognition, and a replacement is started after the request is done.

// mallocTunables keep glibc from returning memory to the kernel between
// lines and let it use transparent huge pages: tesseract allocates and
// frees large buffers per line, and on virtual machines each page fault
// is expensive (measured: page faults per run 7500 → 1100, start-up CPU
// about halved; see docs/ocr.md).
const mallocTunables = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=67108864:glibc.malloc.hugetlb=1"

// DefaultConfig are the -c settings used unless TesseractOptions.Config
// is set: the image is already dark-on-light, so tesseract's retry of
// poorly recognised lines in inverted colours only costs time.
var DefaultConfig = []string{"tessedit_do_invert=0"}

var hocrEnd = []byte(" </body>\n</html>\n")

// ProcessPool runs tesseract processes, keeping some warm.
type ProcessPool struct {
	args     []string
	path     string
	warm     int
	oneShot  bool
	waitExit bool

	mu       sync.Mutex
	idle     []*tessProc
	starting int // replacements being started
	active   int // requests running
	closed   bool
	spawned  int // processes started, for tests and benchmarks
	pending  sync.WaitGroup
}

type tessProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout bytes.Buffer // complete once output is closed
	output chan struct{}
	out    io.ReadCloser
	stderr bytes.Buffer
	done   chan error
}

// NewProcessPool prepares a pool; processes start on first use.
func NewProcessPool(o TesseractOptions) *ProcessPool {
	path := o.Path
	if path == "" {
		path = "tesseract"
	}
	psm := o.PSM
	if psm == 0 {
		psm = DefaultPSM
	}
	args := []string{"stdin", "stdout", "--psm", strconv.Itoa(psm)}
	cfg := o.Config
	if cfg == nil {
		cfg = DefaultConfig
	}
	for _, c := range cfg {
		args = append(args, "-c", c)
	}
	// hocr as well as tsv: its closing tags are the last thing tesseract
	// writes, so the output is known to be complete several ms before the
	// process has torn down its model and exited.
	args = append(args, "tsv", "hocr")
	if o.waitExit {
		args = args[:len(args)-1]
	}
	warm := o.Warm
	if warm == 0 {
		warm = 2
	}
	if warm < 0 {
		warm = 0
	}
	return &ProcessPool{args: args, path: path, warm: warm, oneShot: o.OneShot, waitExit: o.waitExit}
}

// Spawned reports how many tesseract processes were started so far.
func (p *ProcessPool) Spawned() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spawned
}

func (p *ProcessPool) start() (*tessProc, error) {
	cmd := exec.Command(p.path, p.args...)
	// OpenMP threads make tesseract several times slower on small
	// machines; parallelism comes from running several processes.
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1", "GLIBC_TUNABLES="+mallocTunables)
	// Do not wait for output pipes held open by anything the process
	// left behind once it has been killed.
	cmd.WaitDelay = time.Second
	tp := &tessProc{cmd: cmd, done: make(chan error, 1), output: make(chan struct{})}
	cmd.Stderr = &tp.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start tesseract: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start tesseract: %w", err)
	}
	tp.stdin, tp.out = in, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start tesseract: %w", err)
	}
	p.mu.Lock()
	p.spawned++
	p.mu.Unlock()
	go func() {
		// Read until the hOCR footer or end of output, then let Run go on.
		buf := make([]byte, 32*1024)
		for {
			n, err := out.Read(buf)
			tp.stdout.Write(buf[:n])
			if err != nil || bytes.HasSuffix(tp.stdout.Bytes(), hocrEnd) {
				break
			}
		}
		close(tp.output)
		_, _ = io.Copy(io.Discard, out)
		tp.done <- cmd.Wait()
	}()
	return tp, nil
}

// Warm starts processes until the configured number wait idle.
func (p *ProcessPool) Warm() {
	p.mu.Lock()
	need := p.warm - len(p.idle) - p.starting
	if need < 0 || p.closed {
		need = 0
	}
	p.starting += need
	p.mu.Unlock()
	for i := 0; i < need; i++ {
		tp, err := p.start()
		p.mu.Lock()
		p.starting--
		if err != nil || p.closed {
			p.mu.Unlock()
			if tp != nil {
				tp.kill()
			}
			continue
		}
		p.idle = append(p.idle, tp)
		p.mu.Unlock()
	}
}

// WaitWarm blocks until replacement processes started in the background
// are in place (benchmarks use it to measure warm latency).
func (p *ProcessPool) WaitWarm() { p.pending.Wait() }

func (p *ProcessPool) take() (*tessProc, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("tesseract pool closed")
	}
	if n := len(p.idle); n > 0 {
		tp := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return tp, nil
	}
	p.mu.Unlock()
	return p.start()
}

// Run feeds img to a warm tesseract process and returns its TSV output.
func (p *ProcessPool) Run(ctx context.Context, img []byte) ([]byte, error) {
	tp, err := p.take()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.active++
	p.mu.Unlock()
	defer p.refill()
	werr := make(chan error, 1)
	go func() {
		_, err := tp.stdin.Write(img)
		if cerr := tp.stdin.Close(); err == nil {
			err = cerr
		}
		werr <- err
	}()
	select {
	case <-ctx.Done():
		tp.kill()
		return nil, fmt.Errorf("tesseract: %w", ctx.Err())
	case <-tp.output:
		if bytes.HasSuffix(tp.stdout.Bytes(), hocrEnd) {
			// Complete; the process exits on its own, reaped by its
			// goroutine.
			return tp.stdout.Bytes(), nil
		}
		err := <-tp.done
		if werr := <-werr; werr != nil && err == nil {
			err = werr
		}
		if err == nil && p.waitExit {
			return tp.stdout.Bytes(), nil
		}
		if err == nil {
			err = errors.New("output ended early")
		}
		return nil, fmt.Errorf("tesseract: %w: %s", err, bytes.TrimSpace(tp.stderr.Bytes()))
	}
}

// refill starts replacements in the background once no request runs, so
// their start-up does not compete with recognition for the CPU.
func (p *ProcessPool) refill() {
	p.mu.Lock()
	p.active--
	idleNow := p.active == 0
	p.mu.Unlock()
	if p.warm == 0 || p.oneShot || !idleNow {
		return
	}
	p.pending.Add(1)
	go func() {
		defer p.pending.Done()
		p.Warm()
	}()
}

func (tp *tessProc) kill() {
	if tp.cmd.Process != nil {
		_ = tp.cmd.Process.Kill()
	}
	_ = tp.stdin.Close()
	_ = tp.out.Close() // also when something it started holds the pipe
	<-tp.done
	tp.done <- nil // later readers do not block
}

// Close stops the idle processes.
func (p *ProcessPool) Close() error {
	p.pending.Wait()
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, tp := range idle {
		tp.kill()
	}
	return nil
}
