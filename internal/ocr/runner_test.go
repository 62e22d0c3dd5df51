package ocr

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

const echoBody = `[ "$OMP_THREAD_LIMIT" = 1 ] || { echo "OMP_THREAD_LIMIT unset" >&2; exit 3; }
[ "$1 $2 $3 $4" = "stdin stdout --psm 6" ] || { echo "args: $*" >&2; exit 4; }
n=$(wc -c)
printf '5\t1\t1\t1\t1\t1\t0\t0\t10\t10\t90\tbytes%s\n </body>\n</html>\n' $n
`

func TestProcessPoolRuns(t *testing.T) {
	p := NewProcessPool(TesseractOptions{Path: fakeTesseract(t, echoBody)})
	defer p.Close()
	p.Warm()
	if p.Spawned() != 2 {
		t.Fatalf("warm started %d processes, want 2", p.Spawned())
	}
	for i := 0; i < 3; i++ {
		out, err := p.Run(context.Background(), []byte("hello"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), "bytes5") {
			t.Fatalf("output %q", out)
		}
		p.WaitWarm()
	}
	// Each run used a warm process and started one replacement.
	if got := p.Spawned(); got != 2+3 {
		t.Errorf("spawned %d, want 5", got)
	}
}

func TestProcessPoolErrors(t *testing.T) {
	p := NewProcessPool(TesseractOptions{Path: fakeTesseract(t, "cat >/dev/null; echo 'Error: bad image' >&2; exit 1\n"), Warm: -1})
	_, err := p.Run(context.Background(), []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "bad image") {
		t.Errorf("want tesseract's stderr in the error, got %v", err)
	}
	p.Close()
	if _, err := p.Run(context.Background(), nil); err == nil {
		t.Error("closed pool ran")
	}

	slow := NewProcessPool(TesseractOptions{Path: fakeTesseract(t, "cat >/dev/null; sleep 30\n"), Warm: -1})
	defer slow.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err = slow.Run(ctx, []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 5*time.Second {
		t.Errorf("cancelled run: %v after %v", err, time.Since(t0))
	}

	missing := NewProcessPool(TesseractOptions{Path: filepath.Join(t.TempDir(), "nope"), Warm: -1})
	if _, err := missing.Run(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "start tesseract") {
		t.Errorf("missing command: %v", err)
	}
}
