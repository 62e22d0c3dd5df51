package fetch

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testSize = 3<<20 + 12345 // a few buffers, not a round number

func newFetcher(t *testing.T) *Fetcher {
	return &Fetcher{CacheDir: t.TempDir(), retryWait: 10 * time.Millisecond}
}

// contentFiles lists regular files below the cache's download area other
// than records and locks: what a failed download must not leave.
func contentFiles(t *testing.T, cacheDir string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(cacheDir, "downloads")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "locks" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func checkContent(t *testing.T, r Result, want []byte) {
	t.Helper()
	got, err := os.ReadFile(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("content of %s differs from the served file (%d vs %d bytes)", r.Path, len(got), len(want))
	}
	if r.SHA256 != sha256Hex(want) || r.Size != int64(len(want)) {
		t.Fatalf("result %+v, want sha256 %s size %d", r, sha256Hex(want), len(want))
	}
}

func TestFetchDownloadsOnceThenCacheHit(t *testing.T) {
	content := randomBytes(t, testSize)
	srv := newTestServer(t, content)
	f := newFetcher(t)
	src := Source{URL: srv.URL + "/debian.qcow2", SHA256: strings.ToUpper(sha256Hex(content))}
	r, err := f.Fetch(context.Background(), "image", src)
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, r, content)
	if r.Cached {
		t.Error("first fetch reported as cached")
	}
	if want := filepath.Join(f.CacheDir, "downloads", "sha256", sha256Hex(content)); r.Path != want {
		t.Errorf("path %s, want %s", r.Path, want)
	}
	fi, _ := os.Stat(r.Path)
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("cached file mode %v, want read-only", fi.Mode())
	}
	var rec blobRecord
	if err := readJSON(r.Path+".json", &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.URLs) != 1 || rec.URLs[0] != src.URL || rec.Size != testSize {
		t.Errorf("record %+v", rec)
	}
	if left := contentFiles(t, f.CacheDir); len(left) != 3 { // blob, its record, by-url record, nothing partial
		t.Errorf("cache holds %v", left)
	}

	r2, err := f.Fetch(context.Background(), "image", src)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Cached || r2.Path != r.Path || r2.SHA256 != r.SHA256 {
		t.Errorf("second fetch %+v, want a cache hit of %+v", r2, r)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
	// Lookup finds it without the network, and misses an unknown digest.
	if _, ok, err := f.Lookup(context.Background(), src); !ok || err != nil {
		t.Errorf("Lookup = %v, %v", ok, err)
	}
	if _, ok, _ := f.Lookup(context.Background(), Source{URL: src.URL, SHA256: strings.Repeat("0", 64)}); ok {
		t.Error("Lookup found content for a digest never fetched")
	}
}

func TestFetchHashMismatchLeavesNothing(t *testing.T) {
	content := randomBytes(t, testSize)
	srv := newTestServer(t, content)
	f := newFetcher(t)
	wrong := sha256Hex([]byte("something else"))
	url := srv.URL + "/debian.qcow2"
	_, err := f.Fetch(context.Background(), "image", Source{URL: url, SHA256: wrong})
	var mm *MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("err = %v, want a MismatchError", err)
	}
	want := "hash mismatch for " + url + ": expected " + wrong + ", got " + sha256Hex(content)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if left := contentFiles(t, f.CacheDir); len(left) != 0 {
		t.Errorf("a mismatch left %v in the cache", left)
	}
	// Nothing cached under the wrong name either: the next try downloads.
	if _, ok, _ := f.Lookup(context.Background(), Source{URL: url, SHA256: wrong}); ok {
		t.Error("mismatched content is found by Lookup")
	}
}

func TestFetchResumesAfterDroppedConnection(t *testing.T) {
	content := randomBytes(t, testSize)
	srv := newTestServer(t, content)
	srv.dropNext = 1 << 20
	f := newFetcher(t)
	r, err := f.Fetch(context.Background(), "image", Source{URL: srv.URL + "/img", SHA256: sha256Hex(content)})
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, r, content)
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("server saw %d requests, want 2 (cut, then resumed)", len(reqs))
	}
	rng, ifRange := reqs[1].Get("Range"), reqs[1].Get("If-Range")
	if !strings.HasPrefix(rng, "bytes=") || rng == "bytes=0-" || ifRange != `"v1"` {
		t.Fatalf("second request Range %q If-Range %q, want a resume from the cut with the ETag", rng, ifRange)
	}
	if sent := srv.bytesSent(); sent > testSize+(1<<20) {
		t.Errorf("server sent %d bytes for a %d-byte file cut at 1 MiB: not resumed", sent, testSize)
	}
}

func TestFetchResumesPartialOfEarlierRun(t *testing.T) {
	content := randomBytes(t, testSize)
	srv := newTestServer(t, content)
	srv.holdNext = 2 << 20
	f := newFetcher(t)
	src := Source{URL: srv.URL + "/img", SHA256: sha256Hex(content)}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	f.Progress = &syncWriter{w: &out}
	reached := at(f, 2<<20)
	done := make(chan error, 1)
	go func() { _, err := f.Fetch(ctx, "image", src); done <- err }()
	// Cancel once the partial file holds the first 2 MiB, like Ctrl-C.
	partial := (cache{f.CacheDir}).partialPath(src.URL)
	<-reached
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted fetch: %v", err)
	}
	if _, err := os.Stat(partial); err != nil {
		t.Fatalf("interrupted download left no partial file: %v", err)
	}

	f2 := &Fetcher{CacheDir: f.CacheDir}
	r, err := f2.Fetch(context.Background(), "image", src)
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, r, content)
	reqs := srv.requests()
	if got := reqs[len(reqs)-1].Get("Range"); got != "bytes=2097152-" {
		t.Errorf("resumed with Range %q, want bytes=2097152-", got)
	}
	if _, err := os.Stat(partial); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial file still there after success: %v", err)
	}
	if !strings.Contains(out.String(), "image: downloading ") {
		t.Errorf("progress output %q", out.String())
	}
}

func TestFetchServerWithoutRangeSupport(t *testing.T) {
	content := randomBytes(t, testSize)
	srv := newTestServer(t, content)
	srv.noRange = true
	srv.dropNext = 1 << 20
	f := newFetcher(t)
	r, err := f.Fetch(context.Background(), "image", Source{URL: srv.URL + "/img", SHA256: sha256Hex(content)})
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, r, content)
	reqs := srv.requests()
	if len(reqs) != 2 || reqs[1].Get("Range") == "" {
		t.Fatalf("want a second request asking for a range, got %d requests", len(reqs))
	}
	// The server answered 200 with the whole file; the fetcher started over.
	if sent := srv.bytesSent(); sent != testSize+(1<<20) {
		t.Errorf("server sent %d bytes, want the cut 1 MiB plus the whole file", sent)
	}
}

func TestFetchChangedETagStartsOver(t *testing.T) {
	old := randomBytes(t, testSize)
	srv := newTestServer(t, old)
	srv.holdNext = 1 << 20
	f := newFetcher(t)
	reached := at(f, 1<<20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	url := srv.URL + "/img"
	go func() { _, err := f.Fetch(ctx, "image", Source{URL: url, SHA256: sha256Hex(old)}); done <- err }()
	<-reached
	cancel()
	<-done

	// The file on the server is replaced; so is its ETag.
	fresh := randomBytes(t, testSize)
	srv.mu.Lock()
	srv.content, srv.etag = fresh, `"v2"`
	srv.mu.Unlock()
	r, err := f.Fetch(context.Background(), "image", Source{URL: url, SHA256: sha256Hex(fresh)})
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, r, fresh)
	last := srv.requests()[len(srv.requests())-1]
	if last.Get("If-Range") != `"v1"` || last.Get("Range") != "bytes=1048576-" {
		t.Errorf("resume request Range %q If-Range %q", last.Get("Range"), last.Get("If-Range"))
	}
}

func TestFetchResumeOfChangedFileWithSameETagStartsOver(t *testing.T) {
	// A server that replaces the file but keeps its validator breaks a
	// resume; the digest catches it and one whole download repairs it.
	old := randomBytes(t, testSize)
	srv := newTestServer(t, old)
	srv.holdNext = 1 << 20
	f := newFetcher(t)
	reached := at(f, 1<<20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	url := srv.URL + "/img"
	go func() { _, err := f.Fetch(ctx, "image", Source{URL: url, SHA256: sha256Hex(old)}); done <- err }()
	<-reached
	cancel()
	<-done
	fresh := randomBytes(t, testSize)
	srv.mu.Lock()
	srv.content = fresh
	srv.mu.Unlock()
	r, err := f.Fetch(context.Background(), "image", Source{URL: url, SHA256: sha256Hex(fresh)})
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, r, fresh)
	reqs := srv.requests()
	if n := len(reqs); n != 3 || reqs[1].Get("Range") == "" || reqs[2].Get("Range") != "" {
		t.Errorf("want cut, resume, whole download; got %d requests", n)
	}
}

func TestFetchFileChangedDuringResumeWithSameETag(t *testing.T) {
	// The connection drops at 1 MiB; before the resume the file changes
	// on the server, its ETag does not. The resumed bytes mismatch, and
	// one whole download repairs it within the same Fetch.
	old := randomBytes(t, testSize)
	fresh := randomBytes(t, testSize)
	srv := newTestServer(t, old)
	srv.dropNext = 1 << 20
	f := newFetcher(t)
	var once sync.Once
	f.written = func(n int64) {
		if n >= 1<<20 {
			once.Do(func() {
				srv.mu.Lock()
				srv.content = fresh
				srv.mu.Unlock()
			})
		}
	}
	r, err := f.Fetch(context.Background(), "image", Source{URL: srv.URL + "/img", SHA256: sha256Hex(fresh)})
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, r, fresh)
	reqs := srv.requests()
	if len(reqs) != 3 || reqs[1].Get("Range") != "bytes=1048576-" || reqs[2].Get("Range") != "" {
		t.Errorf("want cut, resume, whole download; got %d requests", len(reqs))
	}
}

func TestFetchHTTPErrors(t *testing.T) {
	content := randomBytes(t, 1000)
	t.Run("404 is final", func(t *testing.T) {
		srv := newTestServer(t, content)
		srv.failNext = []int{404}
		f := newFetcher(t)
		_, err := f.Fetch(context.Background(), "image", Source{URL: srv.URL + "/gone", SHA256: sha256Hex(content)})
		if err == nil || !strings.Contains(err.Error(), "404 Not Found") || !strings.Contains(err.Error(), srv.URL+"/gone") {
			t.Fatalf("err = %v", err)
		}
		if n := len(srv.requests()); n != 1 {
			t.Errorf("%d requests for a 404, want 1", n)
		}
		if left := contentFiles(t, f.CacheDir); len(left) != 0 {
			t.Errorf("left %v", left)
		}
	})
	t.Run("503 is retried", func(t *testing.T) {
		srv := newTestServer(t, content)
		srv.failNext = []int{503, 503}
		f := newFetcher(t)
		r, err := f.Fetch(context.Background(), "image", Source{URL: srv.URL + "/img", SHA256: sha256Hex(content)})
		if err != nil {
			t.Fatal(err)
		}
		checkContent(t, r, content)
		if n := len(srv.requests()); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
	})
	t.Run("503 forever gives up", func(t *testing.T) {
		srv := newTestServer(t, content)
		srv.failNext = []int{503, 503, 503, 503}
		f := newFetcher(t)
		f.Attempts = 3
		_, err := f.Fetch(context.Background(), "image", Source{URL: srv.URL + "/img", SHA256: sha256Hex(content)})
		if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") || !strings.Contains(err.Error(), "503") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestFetchStalledConnectionIsResumed(t *testing.T) {
	content := randomBytes(t, testSize)
	srv := newTestServer(t, content)
	srv.holdNext = 1 << 20 // sends 1 MiB, then nothing
	f := newFetcher(t)
	f.StallTimeout = 300 * time.Millisecond
	r, err := f.Fetch(context.Background(), "image", Source{URL: srv.URL + "/img", SHA256: sha256Hex(content)})
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, r, content)
	if got := srv.requests()[1].Get("Range"); got != "bytes=1048576-" {
		t.Errorf("after the stall: Range %q", got)
	}

	// A server that accepts and never answers is retried too.
	srv2 := newTestServer(t, content)
	srv2.failNext = []int{hang}
	f = newFetcher(t)
	f.StallTimeout = 300 * time.Millisecond
	r, err = f.Fetch(context.Background(), "image", Source{URL: srv2.URL + "/img", SHA256: sha256Hex(content)})
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, r, content)
	if n := len(srv2.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestFetchSendsHeadersAndPinsBySHA512(t *testing.T) {
	content := randomBytes(t, 50000)
	srv := newTestServer(t, content)
	f := newFetcher(t)
	sum := sha512.Sum512(content)
	src := Source{URL: srv.URL + "/debian.qcow2", SHA512: hex.EncodeToString(sum[:]),
		Header: http.Header{"Cookie": {"AssetToken=secret"}}}
	r, err := f.Fetch(context.Background(), "image", src)
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, r, content)
	if got := srv.requests()[0].Get("Cookie"); got != "AssetToken=secret" {
		t.Errorf("Cookie %q", got)
	}
	// The second fetch finds it by URL and recorded SHA-512.
	r2, err := f.Fetch(context.Background(), "image", src)
	if err != nil || !r2.Cached {
		t.Fatalf("second fetch %+v, %v", r2, err)
	}
	bad := src
	bad.SHA512 = strings.Repeat("ab", 64)
	_, err = f.Fetch(context.Background(), "image", bad)
	var mm *MismatchError
	if !errors.As(err, &mm) || mm.Algo != "sha512" {
		t.Fatalf("err = %v, want a sha512 mismatch", err)
	}
	if n := len(srv.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestConcurrentFetchesDownloadOnce(t *testing.T) {
	content := randomBytes(t, testSize)
	srv := newTestServer(t, content)
	dir := t.TempDir()
	src := Source{URL: srv.URL + "/img", SHA256: sha256Hex(content)}
	var wg sync.WaitGroup
	results := make([]Result, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = (&Fetcher{CacheDir: dir}).Fetch(context.Background(), "image", src)
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		checkContent(t, results[i], content)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("3 concurrent fetches made %d requests, want 1", n)
	}
}

func TestCorruptCacheEntryIsFetchedAgain(t *testing.T) {
	content := randomBytes(t, testSize)
	srv := newTestServer(t, content)
	f := newFetcher(t)
	src := Source{URL: srv.URL + "/img", SHA256: sha256Hex(content)}
	r, err := f.Fetch(context.Background(), "image", src)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a byte in place: the size stays, the mtime moves.
	if err := os.Chmod(r.Path, 0o644); err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(r.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt([]byte{content[100] ^ 0xff}, 100); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(r.Path, future, future); err != nil {
		t.Fatal(err)
	}
	r2, err := f.Fetch(context.Background(), "image", src)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Cached {
		t.Error("a corrupted cache file was used")
	}
	checkContent(t, r2, content)
	if n := len(srv.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}

	// A correct file without a record (copied in by hand) is adopted.
	if err := os.Remove(r2.Path + ".json"); err != nil {
		t.Fatal(err)
	}
	r3, err := f.Fetch(context.Background(), "image", src)
	if err != nil || !r3.Cached {
		t.Fatalf("fetch with a missing record: %+v, %v", r3, err)
	}
}

func TestFetchPath(t *testing.T) {
	f := newFetcher(t)
	var out bytes.Buffer
	f.Progress = &out
	p := filepath.Join(t.TempDir(), "local.qcow2")
	content := randomBytes(t, 100000)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := f.Fetch(context.Background(), "image", Source{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if r.Path != p || r.SHA256 != sha256Hex(content) || r.Size != int64(len(content)) || r.Cached {
		t.Fatalf("first: %+v", r)
	}
	if !strings.HasPrefix(out.String(), "image: hashing "+p+" (97.7 KiB)\nimage: done, 97.7 KiB in ") {
		t.Errorf("progress: %q", out.String())
	}
	out.Reset()
	r, err = f.Fetch(context.Background(), "image", Source{Path: p, SHA256: sha256Hex(content)})
	if err != nil || !r.Cached || r.SHA256 != sha256Hex(content) {
		t.Fatalf("second: %+v, %v", r, err)
	}
	if out.Len() != 0 {
		t.Errorf("a cached digest printed %q", out.String())
	}
	// Changed content with a new mtime: hashed again.
	changed := append(content[:len(content):len(content)], 'x')
	if err := os.WriteFile(p, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = f.Fetch(context.Background(), "image", Source{Path: p})
	if err != nil || r.Cached || r.SHA256 != sha256Hex(changed) {
		t.Fatalf("after change: %+v, %v", r, err)
	}
	_, err = f.Fetch(context.Background(), "image", Source{Path: p, SHA256: sha256Hex(content)})
	want := "hash mismatch for " + p + ": expected " + sha256Hex(content) + ", got " + sha256Hex(changed)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	// Same size, same mtime, other bytes: the recorded digest is trusted
	// (documented), unless it disagrees with the pin; then the file is
	// read again.
	st, _ := os.Stat(p)
	flipped := bytes.Clone(changed)
	flipped[0] ^= 1
	if err := os.WriteFile(p, flipped, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	r, err = f.Fetch(context.Background(), "image", Source{Path: p})
	if err != nil || !r.Cached || r.SHA256 != sha256Hex(changed) {
		t.Fatalf("unpinned, same size and mtime: %+v, %v", r, err)
	}
	r, err = f.Fetch(context.Background(), "image", Source{Path: p, SHA256: sha256Hex(flipped)})
	if err != nil || r.Cached || r.SHA256 != sha256Hex(flipped) {
		t.Fatalf("pinned to the new content: %+v, %v", r, err)
	}
	if _, err := f.Fetch(context.Background(), "image", Source{Path: filepath.Join(t.TempDir(), "missing")}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := f.Fetch(context.Background(), "image", Source{Path: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

func TestSourceValidation(t *testing.T) {
	sum := strings.Repeat("a", 64)
	for _, tc := range []struct {
		src  Source
		want string
	}{
		{Source{}, "neither url nor path"},
		{Source{URL: "https://x/a", Path: "/a", SHA256: sum}, "both url and path"},
		{Source{URL: "https://x/a"}, "has no sha256"},
		{Source{URL: "https://x/a", SHA256: "abc"}, "is not 64 hex digits"},
		{Source{URL: "https://x/a", SHA256: strings.Repeat("g", 64)}, "is not 64 hex digits"},
		{Source{URL: "https://x/a", SHA512: sum}, "is not 128 hex digits"},
		{Source{URL: "ftp://x/a", SHA256: sum}, "only http and https"},
		{Source{URL: "https://user:pw@/a", SHA256: sum}, "only http and https"},
		{Source{Path: "/a", SHA256: "xyz"}, "is not 64 hex digits"},
	} {
		_, err := newFetcher(t).Fetch(context.Background(), "image", tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.src, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("error shows the URL's password: %v", err)
		}
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg-test")
	if d, err := DefaultCacheDir(); err != nil || d != "/tmp/xdg-test/deskvm" {
		t.Errorf("with XDG_CACHE_HOME: %q, %v", d, err)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/someone")
	if d, err := DefaultCacheDir(); err != nil || d != "/home/someone/.cache/deskvm" {
		t.Errorf("without: %q, %v", d, err)
	}
}

// at returns a channel closed once f has written n bytes of a download
// (the first time only).
func at(f *Fetcher, n int64) <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	f.written = func(got int64) {
		if got >= n {
			once.Do(func() { close(ch) })
		}
	}
	return ch
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
