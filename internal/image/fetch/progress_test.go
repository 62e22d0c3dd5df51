package fetch

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/deskvm/deskvm/internal/testutil"
)

// fakeClock advances only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestPlainProgressLines(t *testing.T) {
	var out bytes.Buffer
	clock := &fakeClock{t: time.Unix(1000, 0)}
	p := newProgress(&out, "debian")
	p.now = clock.now
	if p.tty {
		t.Fatal("a buffer is not a terminal")
	}
	const total = 100 << 20
	p.start("http://mirror/debian.qcow2", total, 0)
	for n := int64(1 << 20); n <= total; n += 1 << 20 {
		clock.t = clock.t.Add(10 * time.Millisecond)
		p.add(n)
	}
	p.finish(total)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"debian: downloading http://mirror/debian.qcow2 (100.0 MiB)",
		"debian: 10% (10.0 MiB of 100.0 MiB, 100.0 MiB/s)",
		"debian: 20% (20.0 MiB of 100.0 MiB, 100.0 MiB/s)",
	}
	if len(lines) != 11 || lines[0] != want[0] || lines[1] != want[1] || lines[2] != want[2] {
		t.Fatalf("lines:\n%s", out.String())
	}
	if lines[10] != "debian: done, 100.0 MiB in 1.0 s (100.0 MiB/s)" {
		t.Errorf("last line %q", lines[10])
	}

	// Unknown size, slow: a line every 5 s, none in between.
	out.Reset()
	p = newProgress(&out, "iso")
	p.now = clock.now
	p.start("http://mirror/x.iso", -1, 0)
	for i := 1; i <= 12; i++ {
		clock.t = clock.t.Add(time.Second)
		p.add(int64(i) << 20)
	}
	if got := strings.Count(out.String(), "\n"); got != 3 || !strings.Contains(out.String(), "iso: 10.0 MiB (1.0 MiB/s)") {
		t.Errorf("unknown size:\n%s", out.String())
	}

	// Resuming names where it resumes.
	out.Reset()
	p = newProgress(&out, "img")
	p.start("u", 4<<20, 1<<20)
	if !strings.HasPrefix(out.String(), "img: resuming u at 1.0 MiB of 4.0 MiB\n") {
		t.Errorf("resume line %q", out.String())
	}
	// A nil writer is quiet and does not crash.
	q := newProgress(nil, "x")
	q.start("u", 10, 0)
	q.add(5)
	q.note("n")
	q.finish(10)
}

// openPTY opens a pseudo-terminal pair: the fetcher writes to tty, the
// test reads what a terminal would show from master.
func openPTY(t *testing.T) (master, tty *os.File) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		testutil.Missing(t, "pseudo-terminals (/dev/ptmx): "+err.Error())
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

func TestProgressBarOnTerminal(t *testing.T) {
	master, tty := openPTY(t)
	screen := make(chan string)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO once the tty side closes
		screen <- string(b)
	}()
	content := randomBytes(t, testSize)
	srv := newTestServer(t, content)
	f := newFetcher(t)
	f.Progress = tty
	if _, err := f.Fetch(context.Background(), "debian", Source{URL: srv.URL + "/img", SHA256: sha256Hex(content)}); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	got := <-screen
	t.Logf("terminal: %q", got)
	// The bar redraws in place (carriage returns) and shows sizes.
	if !strings.Contains(got, "\rdebian ") || !strings.Contains(got, "% |") || !strings.Contains(got, "/3.0 MiB") {
		t.Errorf("terminal showed %q", got)
	}
	if !strings.Contains(got, "debian: done, 3.0 MiB") {
		t.Errorf("no summary line in %q", got)
	}
}
