package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// cache is the on-disk layout below the deskvm cache root:
//
//	downloads/sha256/<hex>          verified content, named by its SHA-256
//	downloads/sha256/<hex>.json     blobRecord: size, mtime, URLs, SHA-512
//	downloads/by-url/<key>.json     urlRecord: which digest a URL gave last
//	downloads/partial/<key>         a download in progress (resumable)
//	downloads/partial/<key>.json    partialRecord: URL and its validator
//	downloads/locks/<key>           flock, one download per URL at a time
//	hashes/<key>.json               pathRecord: digest of a local file
//
// <key> is the SHA-256 of the URL (or of the absolute path), so no name
// from the network becomes a file name.
type cache struct{ dir string }

type blobRecord struct {
	SHA256    string    `json:"sha256"`
	SHA512    string    `json:"sha512,omitempty"`
	Size      int64     `json:"size"`
	MtimeNs   int64     `json:"mtimeNs"`
	URLs      []string  `json:"urls,omitempty"`
	FetchedAt time.Time `json:"fetchedAt"`
}

type urlRecord struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
}

type partialRecord struct {
	URL string `json:"url"`
	// Validator is the If-Range value: a strong ETag, else Last-Modified.
	Validator string `json:"validator,omitempty"`
}

type pathRecord struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtimeNs"`
	Inode   uint64 `json:"inode"`
	SHA256  string `json:"sha256"`
	SHA512  string `json:"sha512,omitempty"`
}

func key(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (c cache) blobPath(hex string) string {
	return filepath.Join(c.dir, "downloads", "sha256", hex)
}
func (c cache) urlPath(u string) string {
	return filepath.Join(c.dir, "downloads", "by-url", key(u)+".json")
}
func (c cache) partialPath(u string) string {
	return filepath.Join(c.dir, "downloads", "partial", key(u))
}
func (c cache) lockPath(u string) string {
	return filepath.Join(c.dir, "downloads", "locks", key(u))
}
func (c cache) pathRecordPath(abs string) string {
	return filepath.Join(c.dir, "hashes", key(abs)+".json")
}

// blob returns the cached content with digest hex if it is there and
// trustworthy: its size and mtime are the recorded ones, or, failing
// that, hashing it again gives hex (the record is then rewritten).
// Content that is not what its name says is removed.
func (c cache) blob(ctx context.Context, hex string) (blobRecord, bool, error) {
	p := c.blobPath(hex)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return blobRecord{}, false, nil
	}
	if err != nil {
		return blobRecord{}, false, fmt.Errorf("cache: %w", err)
	}
	var rec blobRecord
	recErr := readJSON(p+".json", &rec)
	if recErr == nil && rec.SHA256 == hex && rec.Size == fi.Size() && rec.MtimeNs == fi.ModTime().UnixNano() {
		return rec, true, nil
	}
	// Unknown or changed since it was verified: hash it again.
	d, size, err := hashFile(ctx, p, &Source{SHA256: hex}, nil)
	if err != nil {
		return blobRecord{}, false, fmt.Errorf("cache: %w", err)
	}
	if d.sum256() != hex {
		_ = os.Remove(p)
		_ = os.Remove(p + ".json")
		return blobRecord{}, false, nil
	}
	fi, err = os.Stat(p)
	if err != nil {
		return blobRecord{}, false, fmt.Errorf("cache: %w", err)
	}
	if recErr != nil || rec.SHA256 != hex {
		rec = blobRecord{SHA256: hex, FetchedAt: fi.ModTime().UTC()}
	}
	rec.Size, rec.MtimeNs = size, fi.ModTime().UnixNano()
	if err := writeJSON(p+".json", rec); err != nil {
		return blobRecord{}, false, fmt.Errorf("cache: %w", err)
	}
	return rec, true, nil
}

// hashFile streams a file through the digests src asks for; p, when not
// nil, shows how far it is.
func hashFile(ctx context.Context, path string, src *Source, p *progress) (*digests, int64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer fh.Close()
	d := newDigests(src)
	var r io.Reader = ctxReader{ctx, fh}
	if p != nil {
		if fi, err := fh.Stat(); err == nil {
			p.begin("hashing", path, fi.Size(), 0)
		}
		r = &progressReader{r: r, p: p}
	}
	n, err := io.CopyBuffer(d, r, make([]byte, copyBufSize))
	if err != nil {
		return nil, 0, fmt.Errorf("hash %s: %w", path, err)
	}
	if p != nil {
		p.finish(n)
	}
	return d, n, nil
}

type progressReader struct {
	r io.Reader
	p *progress
	n int64
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.n += int64(n)
	pr.p.add(pr.n)
	return n, err
}

// readJSON reads a record; a missing or unreadable one is an error the
// callers treat as "not known".
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeJSON replaces a record atomically (temp file + rename), so a
// reader never sees half a record.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.json")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return nil
}

// addURL remembers that u served the content of rec (for by-URL lookups
// of sources pinned by SHA-512 or a Verifier only).
func (c cache) addURL(rec *blobRecord, u string) error {
	if !slices.Contains(rec.URLs, u) {
		rec.URLs = append(rec.URLs, u)
		if err := writeJSON(c.blobPath(rec.SHA256)+".json", rec); err != nil {
			return err
		}
	}
	want := urlRecord{URL: u, SHA256: rec.SHA256}
	var have urlRecord
	if readJSON(c.urlPath(u), &have) == nil && have == want {
		return nil // a cache hit writes nothing
	}
	return writeJSON(c.urlPath(u), want)
}

// lock takes an exclusive flock on path, waiting for another deskvm that
// holds it, until ctx ends.
func lock(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	unlock = func() { _ = fh.Close() } // closing releases the flock
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		return unlock, nil
	} else if !errors.Is(err, syscall.EWOULDBLOCK) {
		fh.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	waiting()
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(fh.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			fh.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return unlock, nil
	case <-ctx.Done():
		// The blocked flock returns once the other holder is done; the
		// lock is dropped right after.
		go func() { <-done; fh.Close() }()
		return nil, ctx.Err()
	}
}
