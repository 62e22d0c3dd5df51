// Package fetch brings the inputs of an image build onto this machine and
// names each one by its SHA-256, so that a build manifest can list every
// input by digest and a rebuild can tell whether anything changed.
//
// A URL source is downloaded into a content-addressed cache
// (CacheDir/downloads/sha256/<hex>). The digest is computed while the bytes
// stream to a partial file; the partial file is renamed to its final,
// digest-named place only when the digest matches the one the caller
// pinned. A mismatch is an error that names the URL and both digests and
// removes the partial file. An interrupted download (dropped connection,
// Ctrl-C) is resumed with Range + If-Range, within the same Fetch call and
// by a later one.
//
// A path source is not copied: the file is hashed where it is and the
// digest is remembered by path, size and modification time, so that a
// second build with an unchanged file does not read it again.
//
// Trust in the cache: a cached file is trusted when its size and
// modification time equal the ones recorded when it was verified.
// Re-hashing gigabytes on every build would cost seconds to minutes; a
// recorded size+mtime catches truncation, replacement and ordinary edits,
// and anything that does not match is hashed again before use (and
// removed if it is not what its name says).
//
// The package is shared by the Linux, Windows and macOS builders: Source
// carries extra request headers (cookies such as Apple's AssetToken) and
// an optional streaming Verifier (a chunklist check) for publishers that
// do not list a digest for the file itself.
package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Source is one input of a build: exactly one of URL and Path.
type Source struct {
	// URL is an http(s) address of a pinned, versioned file.
	URL string
	// Path is a local file; it is hashed in place, never copied.
	Path string
	// SHA256 is the expected digest (hex). With a URL, one of SHA256,
	// SHA512 or Verify is required; with a Path it is optional and
	// checked when given.
	SHA256 string
	// SHA512 is an alternative pin for publishers that only list
	// SHA512SUMS (Debian's cloud images). The cache is still addressed
	// by SHA-256, which is computed as well.
	SHA512 string
	// Header is sent with every request for URL (cookies, tokens). It is
	// never logged and is not part of any cache key.
	Header http.Header
	// Verify, when set, makes a Verifier that sees every byte of the
	// content, in order, and then decides. It runs in addition to the
	// digests, also on a cache hit.
	Verify func() Verifier
}

// Verifier checks content that streams through it (for example SHA-256
// digests of fixed chunks listed in a chunklist).
type Verifier interface {
	// Write sees the content in order. An error rejects the content at
	// once (a long download stops early).
	io.Writer
	// Verify is called after the last byte; a non-nil error rejects the
	// content, which is then not kept.
	Verify() error
}

// Result names a fetched input.
type Result struct {
	// Path of the content: the cache file for a URL, the absolute path
	// for a Path source. Treat it as read-only.
	Path   string
	SHA256 string
	Size   int64
	// Cached is true when nothing was downloaded (or, for a path, when
	// the digest came from the hash cache).
	Cached bool
}

// Fetcher fetches sources into a cache. The zero value works: the cache is
// DefaultCacheDir, the client http.DefaultClient, and it is quiet.
type Fetcher struct {
	// CacheDir is the deskvm cache root; downloads go below
	// CacheDir/downloads, path digests below CacheDir/hashes.
	CacheDir string
	Client   *http.Client
	// Progress receives user-facing progress: a progress bar when it is
	// a terminal, a plain line every 10% or 5 s otherwise. Nil: quiet.
	Progress io.Writer
	Log      *slog.Logger
	// StallTimeout ends an attempt that received no byte for this long
	// (the download is then resumed); default 60 s.
	StallTimeout time.Duration
	// Attempts bounds consecutive attempts that make no progress;
	// default 5. An attempt that received bytes before it failed is
	// retried at once and does not count.
	Attempts int

	// retryWait is the first pause after a failed attempt without
	// progress (doubling each time); tests shorten it.
	retryWait time.Duration
	// written, when set, hears the byte count after every write to a
	// partial file (tests wait on it instead of polling the file).
	written func(n int64)
}

// DefaultCacheDir is $XDG_CACHE_HOME/deskvm, else ~/.cache/deskvm.
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	return filepath.Join(d, "deskvm"), nil
}

// MismatchError is returned when content does not have the pinned digest.
type MismatchError struct {
	Where    string // URL (without user info) or path
	Algo     string // "sha256" or "sha512"
	Expected string
	Got      string
}

// Error reads "hash mismatch for URL: expected …, got …"; a SHA-512 pin
// says so at the end.
func (e *MismatchError) Error() string {
	msg := fmt.Sprintf("hash mismatch for %s: expected %s, got %s", e.Where, e.Expected, e.Got)
	if e.Algo != "sha256" {
		msg += " (" + e.Algo + ")"
	}
	return msg
}

// VerifyError is returned when a Source's Verifier rejects the content.
type VerifyError struct {
	Where string
	Err   error
}

func (e *VerifyError) Error() string { return fmt.Sprintf("verify %s: %v", e.Where, e.Err) }
func (e *VerifyError) Unwrap() error { return e.Err }

// isContentError tells a wrong file (mismatch, rejected by a Verifier)
// from a failed transfer.
func isContentError(err error) bool {
	var m *MismatchError
	var v *VerifyError
	return errors.As(err, &m) || errors.As(err, &v)
}

// Fetch makes src available locally and returns where it is and its
// SHA-256. name labels progress and log lines ("debian cloud image").
func (f *Fetcher) Fetch(ctx context.Context, name string, src Source) (Result, error) {
	if err := src.validate(); err != nil {
		return Result{}, fmt.Errorf("fetch %s: %w", name, err)
	}
	dir, err := f.cacheDir()
	if err != nil {
		return Result{}, fmt.Errorf("fetch %s: %w", name, err)
	}
	c := cache{dir: dir}
	var r Result
	if src.Path != "" {
		r, err = f.fetchPath(ctx, c, name, src)
	} else {
		r, err = f.fetchURL(ctx, c, name, src)
	}
	if err != nil {
		return Result{}, fmt.Errorf("fetch %s: %w", name, err)
	}
	return r, nil
}

// Lookup reports whether src is available without downloading anything:
// a URL source whose content is in the cache, or a path source (which is
// hashed if its digest is not cached). It never touches the network.
func (f *Fetcher) Lookup(ctx context.Context, src Source) (Result, bool, error) {
	if err := src.validate(); err != nil {
		return Result{}, false, err
	}
	dir, err := f.cacheDir()
	if err != nil {
		return Result{}, false, err
	}
	c := cache{dir: dir}
	if src.Path != "" {
		r, err := f.fetchPath(ctx, c, "", src)
		return r, err == nil, err
	}
	r, ok, err := f.cached(ctx, c, src)
	return r, ok, err
}

func (f *Fetcher) cacheDir() (string, error) {
	if f.CacheDir != "" {
		return f.CacheDir, nil
	}
	return DefaultCacheDir()
}

func (f *Fetcher) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (f *Fetcher) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	return http.DefaultClient
}

func (s *Source) validate() error {
	switch {
	case s.URL == "" && s.Path == "":
		return errors.New("source has neither url nor path")
	case s.URL != "" && s.Path != "":
		return errors.New("source has both url and path; give one")
	}
	for _, d := range []struct {
		name string
		val  *string
		n    int
	}{{"sha256", &s.SHA256, sha256.Size}, {"sha512", &s.SHA512, sha512.Size}} {
		if *d.val == "" {
			continue
		}
		v := strings.ToLower(strings.TrimSpace(*d.val))
		if b, err := hex.DecodeString(v); err != nil || len(b) != d.n {
			return fmt.Errorf("%s %q is not %d hex digits", d.name, *d.val, 2*d.n)
		}
		*d.val = v
	}
	if s.URL == "" {
		return nil
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("url %q: only http and https URLs can be fetched", redact(s.URL))
	}
	if s.SHA256 == "" && s.SHA512 == "" && s.Verify == nil {
		return fmt.Errorf("url %s has no sha256: a download must be pinned to its digest", redact(s.URL))
	}
	return nil
}

// redact drops user info (a password) from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// digests hashes a stream with SHA-256 and, when asked, SHA-512 and a
// Verifier. It is rebuilt from the start whenever a download restarts.
type digests struct {
	src    *Source
	sha256 hash.Hash
	sha512 hash.Hash // nil unless src.SHA512
	verify Verifier  // nil unless src.Verify
	verr   error     // the Verifier's first Write error
	w      io.Writer
}

func newDigests(src *Source) *digests {
	d := &digests{src: src, sha256: sha256.New()}
	ws := []io.Writer{d.sha256}
	if src.SHA512 != "" {
		d.sha512 = sha512.New()
		ws = append(ws, d.sha512)
	}
	if src.Verify != nil {
		d.verify = src.Verify()
		ws = append(ws, verifyWriter{d})
	}
	d.w = ws[0]
	if len(ws) > 1 {
		d.w = io.MultiWriter(ws...)
	}
	return d
}

func (d *digests) Write(p []byte) (int, error) { return d.w.Write(p) }

// verifyWriter keeps the Verifier's first error and never fails the
// write, so the digests always see every byte.
type verifyWriter struct{ d *digests }

func (v verifyWriter) Write(p []byte) (int, error) {
	if v.d.verr == nil {
		if _, err := v.d.verify.Write(p); err != nil {
			v.d.verr = err
		}
	}
	return len(p), nil
}

// rejected is the Verifier's early verdict, if any.
func (d *digests) rejected(where string) error {
	if d.verr != nil {
		return &VerifyError{Where: where, Err: d.verr}
	}
	return nil
}

func (d *digests) sum256() string { return hex.EncodeToString(d.sha256.Sum(nil)) }

func (d *digests) sum512() string {
	if d.sha512 == nil {
		return ""
	}
	return hex.EncodeToString(d.sha512.Sum(nil))
}

// check compares the finished stream with the pins.
func (d *digests) check(where string) error {
	if got := d.sum256(); d.src.SHA256 != "" && got != d.src.SHA256 {
		return &MismatchError{Where: where, Algo: "sha256", Expected: d.src.SHA256, Got: got}
	}
	if got := d.sum512(); d.src.SHA512 != "" && got != d.src.SHA512 {
		return &MismatchError{Where: where, Algo: "sha512", Expected: d.src.SHA512, Got: got}
	}
	if err := d.rejected(where); err != nil {
		return err
	}
	if d.verify != nil {
		if err := d.verify.Verify(); err != nil {
			return &VerifyError{Where: where, Err: err}
		}
	}
	return nil
}

// ctxReader stops a long local read when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// copyBufSize is large enough that hashing, not syscalls, dominates.
const copyBufSize = 1 << 20
