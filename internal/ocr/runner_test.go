package ocr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTesseract writes a script that stands in for tesseract: it checks
// its environment and arguments, reads stdin and prints a TSV row
// echoing how many bytes it read.
func fakeTesseract(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tesseract")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// echoBody speaks tesseract's stream_filelist protocol: a file name per
// line in, the page's TSV out, starting with the page row.
const echoBody = `[ "$OMP_THREAD_LIMIT" = 1 ] || { echo "OMP_THREAD_LIMIT unset" >&2; exit 3; }
[ "$1 $2 $3 $4 $5 $6" = "- stdout --psm 6 -c stream_filelist=1" ] || { echo "args: $*" >&2; exit 4; }
n=0
while read -r f; do
	n=$((n+1))
	printf '1\t%d\t0\t0\t0\t0\t0\t0\t8\t8\t-1\t\n' $n
	printf '5\t%d\t1\t1\t1\t1\t0\t0\t10\t10\t90\tbytes%d\n' $n $(wc -c <"$f")
	echo "Page $n : $f" >&2
done
`

func TestProcessPoolRuns(t *testing.T) {
	p := NewProcessPool(TesseractOptions{Path: fakeTesseract(t, echoBody)})
	defer p.Close()
	p.Warm()
	if p.Spawned() != 2 {
		t.Fatalf("warm started %d processes, want 2", p.Spawned())
	}
	for i := 0; i < 5; i++ {
		msg := strings.Repeat("x", 5+i)
		out, err := p.Run(context.Background(), []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		// Only the image's rows, not the marker page's.
		if want := fmt.Sprintf("bytes%d\n", len(msg)); !strings.HasSuffix(string(out), want) || strings.Count(string(out), "\n") != 2 {
			t.Fatalf("run %d: output %q, want the page row and %q", i, out, want)
		}
	}
	// The processes stay up and read one image after another.
	if got := p.Spawned(); got != 2 {
		t.Errorf("spawned %d, want 2", got)
	}
	// Two at once use both; a third at the same time starts another.
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Run(context.Background(), []byte("abc")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := p.Spawned(); got < 2 || got > 3 {
		t.Errorf("spawned %d after 3 concurrent runs, want 2 or 3", got)
	}
}

// A process that died between two reads is replaced.
func TestProcessPoolReplacesDead(t *testing.T) {
	p := NewProcessPool(TesseractOptions{Path: fakeTesseract(t, echoBody), Warm: 1})
	defer p.Close()
	p.Warm()
	p.mu.Lock()
	victim := p.idle[0]
	p.mu.Unlock()
	_ = victim.cmd.Process.Kill()
	<-victim.done
	if _, err := p.Run(context.Background(), []byte("x")); err == nil {
		t.Fatal("read from a killed process succeeded")
	}
	p.WaitWarm()
	out, err := p.Run(context.Background(), []byte("xyz"))
	if err != nil || !strings.Contains(string(out), "bytes3") {
		t.Fatalf("after a dead process: %q, %v", out, err)
	}
	if got := p.Spawned(); got != 2 {
		t.Errorf("spawned %d, want 2", got)
	}
}

func TestProcessPoolErrors(t *testing.T) {
	p := NewProcessPool(TesseractOptions{Path: fakeTesseract(t, "read -r f; echo 'Error: bad image' >&2; exit 1\n"), Warm: -1})
	_, err := p.Run(context.Background(), []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "bad image") {
		t.Errorf("want tesseract's stderr in the error, got %v", err)
	}
	p.Close()
	if _, err := p.Run(context.Background(), nil); err == nil {
		t.Error("closed pool ran")
	}

	slow := NewProcessPool(TesseractOptions{Path: fakeTesseract(t, "read -r f; sleep 30\n"), Warm: -1})
	defer slow.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err = slow.Run(ctx, []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 5*time.Second {
		t.Errorf("cancelled run: %v after %v", err, time.Since(t0))
	}

	missing := NewProcessPool(TesseractOptions{Path: filepath.Join(t.TempDir(), "nope"), Warm: -1})
	defer missing.Close()
	if _, err := missing.Run(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "start tesseract") {
		t.Errorf("missing command: %v", err)
	}
}

// A read while Warm is starting processes waits for one of them instead
// of starting another.
func TestProcessPoolWaitsForWarm(t *testing.T) {
	p := NewProcessPool(TesseractOptions{Path: fakeTesseract(t, "sleep 0.3\n"+echoBody), Warm: 1})
	defer p.Close()
	go p.Warm()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		s := p.starting
		p.mu.Unlock()
		if s > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := p.Run(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := p.Spawned(); got != 1 {
		t.Errorf("spawned %d, want 1", got)
	}
}

// The image directory goes with Close, and one left behind by a process
// that ended without Close is removed by the next pool.
func TestProcessPoolImageDirectory(t *testing.T) {
	p := NewProcessPool(TesseractOptions{Path: fakeTesseract(t, echoBody), Warm: 1})
	if _, err := p.Run(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	dir := p.dir
	if !strings.Contains(filepath.Base(dir), fmt.Sprintf("deskvm-ocr-%d-", os.Getpid())) {
		t.Errorf("image directory %s does not name this process", dir)
	}
	p.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left after Close: %v", dir, err)
	}
	// A directory of a process that has ended (pid of a finished child).
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(filepath.Dir(dir), fmt.Sprintf("deskvm-ocr-%d-123", cmd.Process.Pid))
	if err := os.Mkdir(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	q := NewProcessPool(TesseractOptions{Path: fakeTesseract(t, echoBody), Warm: 1})
	defer q.Close()
	if _, err := q.Run(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		_ = os.RemoveAll(stale)
		t.Errorf("stale %s not removed: %v", stale, err)
	}
}

// TestRereadWorth: which weak first readings are read a second time.
func TestRereadWorth(t *testing.T) {
	line := func(spec string) pieceText {
		var ws []Word
		for _, f := range strings.Fields(spec) {
			c := 0.95
			if strings.HasPrefix(f, "?") {
				f, c = f[1:], 0.4
			}
			ws = append(ws, Word{Text: f, Confidence: c})
		}
		if len(ws) == 0 {
			return pieceText{}
		}
		return pieceText{lines: [][]Word{ws}}
	}
	for _, c := range []struct {
		spec string
		want bool
	}{
		{"", true}, // nothing read
		{"Choose the language to be used", false},                 // not weak
		{"?Gujarati", true},                                       // short line
		{"Go ?Back now", true},                                    // short line
		{"the default ?language for the installed system.", true}, // 7 words: not long
		{"Debian archive ?minor country:", true},                  // a heading; the second reading says "mirror"
		{"This language will also be the default ?language for the installed system.", false}, // one plain word in a long sentence
		{"is close to you on the network: be aware that ?nearby countries may not", false},
		{"Create a FAT32 partition on ?/dev/nvmeGnl", true}, // not a plain word
		{"Freeing unused decrypted memory: ?2@36K", true},
		{"UEFI QEMU ?HARDDISK QM00001 now", true},     // acronym
		{"?Usc the ?defauit ?languagc for all", true}, // half the words weak
	} {
		if got := rereadWorth(line(c.spec)); got != c.want {
			t.Errorf("rereadWorth(%q) = %v, want %v", c.spec, got, c.want)
		}
	}
}
