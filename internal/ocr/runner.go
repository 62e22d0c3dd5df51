package ocr

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
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
	// Warm is how many processes the pool starts ahead of need (default
	// 2); the pool starts more when more images are read at once.
	// Negative means none are started ahead.
	Warm int
}

// DefaultPSM is the page segmentation mode used on composed canvases:
// measured on the corpus, see docs/ocr.md.
const DefaultPSM = 6

// Tesseract's start-up (loading the language model) costs 100–200 ms of
// CPU, and the first image a process reads costs 25–60 ms more than the
// next ones (its first LSTM run), several times the recognition of a few
// lines. So the pool keeps its processes for the life of the pool: each
// runs `tesseract - stdout -c stream_filelist=1 ... tsv`, which reads
// image file names from stdin one line at a time and writes each page's
// TSV as soon as the page is read. The pool writes an image to a file of
// its own (in /dev/shm when there is one), sends its name and the name of
// a blank 8×8 image, and the blank page's first TSV row (level 1, its
// page number) marks the end of the image's rows.

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

// maxPages: a process is replaced after reading this many images, so
// that whatever tesseract keeps from page to page cannot grow without
// bound.
const maxPages = 2000

// ProcessPool runs tesseract processes that stay up and read one image
// after another.
type ProcessPool struct {
	args []string
	path string
	warm int

	initOnce sync.Once
	dir      string // image files
	blank    string // the end-of-image marker page
	initErr  error

	mu       sync.Mutex
	ready    *sync.Cond // signalled when Warm has a process in place or gave up
	idle     []*tessProc
	starting int // processes being started by Warm
	active   int // requests running
	closed   bool
	spawned  int // processes started, for tests and benchmarks
	nextID   int
	pending  sync.WaitGroup
}

type tessProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *tailBuffer
	img    string // this process's image file
	pages  int    // pages sent so far (images and markers)
	done   chan struct{}
}

// NewProcessPool prepares a pool; processes start on first use or Warm.
func NewProcessPool(o TesseractOptions) *ProcessPool {
	path := o.Path
	if path == "" {
		path = "tesseract"
	}
	psm := o.PSM
	if psm == 0 {
		psm = DefaultPSM
	}
	args := []string{"-", "stdout", "--psm", strconv.Itoa(psm), "-c", "stream_filelist=1"}
	cfg := o.Config
	if cfg == nil {
		cfg = DefaultConfig
	}
	for _, c := range cfg {
		args = append(args, "-c", c)
	}
	args = append(args, "tsv")
	warm := o.Warm
	if warm == 0 {
		warm = 2
	}
	if warm < 0 {
		warm = 0
	}
	p := &ProcessPool{args: args, path: path, warm: warm}
	p.ready = sync.NewCond(&p.mu)
	return p
}

// Spawned reports how many tesseract processes were started so far.
func (p *ProcessPool) Spawned() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spawned
}

// init makes the directory for image files and the marker page.
func (p *ProcessPool) init() error {
	p.initOnce.Do(func() {
		base := ""
		if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
			base = "/dev/shm"
		}
		removeStale(base)
		prefix := "deskvm-ocr-" + strconv.Itoa(os.Getpid()) + "-"
		dir, err := os.MkdirTemp(base, prefix)
		if err != nil && base != "" {
			removeStale("")
			dir, err = os.MkdirTemp("", prefix)
		}
		if err != nil {
			p.initErr = fmt.Errorf("tesseract image directory: %w", err)
			return
		}
		p.dir = dir
		p.blank = filepath.Join(dir, "blank.pgm")
		blank := image.NewGray(image.Rect(0, 0, 8, 8))
		for i := range blank.Pix {
			blank.Pix[i] = 255
		}
		if err := os.WriteFile(p.blank, encodePGM(blank), 0o600); err != nil {
			p.initErr = fmt.Errorf("tesseract marker page: %w", err)
		}
	})
	return p.initErr
}

// removeStale removes the image directories of pools whose process has
// ended without Close (killed, crashed): their names carry its pid.
func removeStale(base string) {
	if base == "" {
		base = os.TempDir()
	}
	dirs, _ := filepath.Glob(filepath.Join(base, "deskvm-ocr-*-*"))
	for _, d := range dirs {
		f := strings.SplitN(strings.TrimPrefix(filepath.Base(d), "deskvm-ocr-"), "-", 2)
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if pr, err := os.FindProcess(pid); err == nil && pr.Signal(syscall.Signal(0)) == nil {
			continue // still running
		}
		_ = os.RemoveAll(d)
	}
}

func (p *ProcessPool) start() (*tessProc, error) {
	if err := p.init(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.mu.Unlock()
	cmd := exec.Command(p.path, p.args...)
	// OpenMP threads make tesseract several times slower on small
	// machines; parallelism comes from running several processes.
	// Even with one thread, libgomp ends every parallel region (one per
	// LSTM time step) with a futex wake system call: ~18,000 per
	// canvas, about 1.5–2 µs each on this VM. Run with those regions
	// inline (an LD_PRELOAD stub, measured only), tesseract spent 22%
	// less CPU on the same canvases for identical TSV; a tesseract built
	// without OpenMP should do the same. See docs/benchmarks.md.
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1", "GLIBC_TUNABLES="+mallocTunables)
	// Do not wait for output pipes held open by anything the process
	// left behind once it has been killed.
	cmd.WaitDelay = time.Second
	tp := &tessProc{cmd: cmd, stderr: &tailBuffer{}, img: filepath.Join(p.dir, "page"+strconv.Itoa(id)+".pgm"), done: make(chan struct{})}
	cmd.Stderr = tp.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start tesseract: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start tesseract: %w", err)
	}
	tp.stdin, tp.out = in, bufio.NewReaderSize(out, 64*1024)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start tesseract: %w", err)
	}
	p.mu.Lock()
	p.spawned++
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(tp.done)
	}()
	return tp, nil
}

// Warm starts processes until the configured number wait idle, and has
// each read a line of text first, so that the first image it is given
// does not pay for its first recognition.
func (p *ProcessPool) Warm() {
	p.mu.Lock()
	need := p.warm - len(p.idle) - p.starting - p.active
	if need < 0 || p.closed {
		need = 0
	}
	p.starting += need
	p.mu.Unlock()
	var wg sync.WaitGroup
	for i := 0; i < need; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tp, err := p.start()
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), warmUpTimeout)
				_, err = tp.run(ctx, warmUpPage(), p.blank)
				cancel()
			}
			p.mu.Lock()
			p.starting--
			p.ready.Broadcast()
			if err != nil || p.closed {
				p.mu.Unlock()
				if tp != nil {
					tp.kill()
				}
				return
			}
			p.idle = append(p.idle, tp)
			p.mu.Unlock()
		}()
	}
	wg.Wait()
}

// warmUpTimeout bounds a new process's start-up and first recognition.
const warmUpTimeout = 30 * time.Second

// warmUpPage is a line of text for a new process's first recognition.
var warmUpPage = sync.OnceValue(func() []byte {
	line := image.NewGray(image.Rect(0, 0, 220, 20))
	draw.Draw(line, line.Rect, image.White, image.Point{}, draw.Src)
	d := font.Drawer{Dst: line, Src: image.Black, Face: basicfont.Face7x13, Dot: fixed.P(6, 15)}
	d.DrawString("Warm up 0123 HTTP /dev/vda1")
	page := image.NewGray(image.Rect(0, 0, 460, 60))
	draw.Draw(page, page.Rect, image.White, image.Point{}, draw.Src)
	drawScaled(page, image.Pt(10, 10), line, line.Rect, 4)
	return encodePGM(page)
})

// WaitWarm blocks until processes started in the background are in
// place (benchmarks use it to measure warm latency).
func (p *ProcessPool) WaitWarm() { p.pending.Wait() }

func (p *ProcessPool) take() (*tessProc, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("tesseract pool closed")
	}
	p.active++
	// A process Warm is starting is ready sooner than a new one.
	for len(p.idle) == 0 && p.starting > 0 && !p.closed {
		p.ready.Wait()
	}
	if p.closed {
		p.active--
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
	tp, err := p.start()
	if err != nil {
		p.mu.Lock()
		p.active--
		p.mu.Unlock()
	}
	return tp, err
}

// Run has a tesseract process read img and returns its TSV output.
func (p *ProcessPool) Run(ctx context.Context, img []byte) ([]byte, error) {
	tp, err := p.take()
	if err != nil {
		return nil, err
	}
	out, err := tp.run(ctx, img, p.blank)
	p.mu.Lock()
	p.active--
	keep := err == nil && !p.closed && tp.pages < 2*maxPages
	if keep {
		p.idle = append(p.idle, tp)
	}
	refill := !keep && !p.closed && p.active == 0
	if refill {
		p.pending.Add(1)
	}
	p.mu.Unlock()
	if !keep {
		tp.kill()
	}
	if refill {
		// Replace it once no request runs, so its start-up does not
		// compete with recognition for the CPU.
		go func() {
			defer p.pending.Done()
			p.Warm()
		}()
	}
	return out, err
}

// run writes img to the process's file, sends its name and the marker's,
// and collects the image's TSV rows.
func (tp *tessProc) run(ctx context.Context, img []byte, marker string) ([]byte, error) {
	if err := os.WriteFile(tp.img, img, 0o600); err != nil {
		return nil, fmt.Errorf("tesseract image: %w", err)
	}
	page := strconv.Itoa(tp.pages + 1)
	end := []byte("1\t" + strconv.Itoa(tp.pages+2) + "\t")
	tp.pages += 2
	type result struct {
		out []byte
		err error
	}
	got := make(chan result, 1)
	go func() {
		if _, err := io.WriteString(tp.stdin, tp.img+"\n"+marker+"\n"); err != nil {
			got <- result{err: err}
			return
		}
		var out []byte
		for {
			row, err := tp.out.ReadSlice('\n')
			if err != nil {
				got <- result{err: err}
				return
			}
			if bytes.HasPrefix(row, end) {
				got <- result{out: out}
				return
			}
			// Rows of this page: level, then the page number.
			if i := bytes.IndexByte(row, '\t'); i > 0 && bytes.HasPrefix(row[i+1:], []byte(page+"\t")) {
				out = append(out, row...)
			}
		}
	}()
	select {
	case <-ctx.Done():
		tp.kill()
		return nil, fmt.Errorf("tesseract: %w", ctx.Err())
	case r := <-got:
		if r.err != nil {
			tp.kill()
			return nil, fmt.Errorf("tesseract: %w: %s", r.err, bytes.TrimSpace(tp.stderr.Bytes()))
		}
		return r.out, nil
	}
}

func (tp *tessProc) kill() {
	if tp.cmd.Process != nil {
		_ = tp.cmd.Process.Kill()
	}
	_ = tp.stdin.Close()
	<-tp.done
	_ = os.Remove(tp.img)
}

// Close stops the processes and removes the image files.
func (p *ProcessPool) Close() error {
	p.pending.Wait()
	p.mu.Lock()
	p.closed = true
	p.ready.Broadcast()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, tp := range idle {
		tp.kill()
	}
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
	return nil
}

// tailBuffer keeps the last 4 KiB written to it (tesseract's stderr: a
// line per page, and the reason when it fails).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - 4096; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}
