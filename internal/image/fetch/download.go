package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// cached returns src's content from the cache without any network access.
func (f *Fetcher) cached(ctx context.Context, c cache, src Source) (Result, bool, error) {
	hex := src.SHA256
	if hex == "" {
		var ur urlRecord
		if err := readJSON(c.urlPath(src.URL), &ur); err != nil || ur.URL != src.URL {
			return Result{}, false, nil
		}
		hex = ur.SHA256
	}
	rec, ok, err := c.blob(ctx, hex)
	if err != nil || !ok {
		return Result{}, false, err
	}
	if src.SHA512 != "" && rec.SHA512 != src.SHA512 {
		return Result{}, false, nil
	}
	if src.Verify != nil {
		d, _, err := hashFile(ctx, c.blobPath(hex), &Source{Verify: src.Verify}, nil)
		if err != nil {
			return Result{}, false, fmt.Errorf("cache: %w", err)
		}
		err = d.rejected(redact(src.URL))
		if err == nil {
			err = d.verify.Verify()
		}
		if err != nil {
			f.log().Info("cached content fails verification, fetching again", "url", redact(src.URL), "err", err)
			return Result{}, false, nil
		}
	}
	if err := c.addURL(&rec, src.URL); err != nil {
		return Result{}, false, fmt.Errorf("cache: %w", err)
	}
	return Result{Path: c.blobPath(hex), SHA256: hex, Size: rec.Size, Cached: true}, true, nil
}

func (f *Fetcher) fetchURL(ctx context.Context, c cache, name string, src Source) (Result, error) {
	where := redact(src.URL)
	if r, ok, err := f.cached(ctx, c, src); err != nil || ok {
		if ok {
			f.log().Debug("cache hit", "name", name, "url", where, "path", r.Path)
		}
		return r, err
	}
	p := newProgress(f.Progress, name)
	unlock, err := lock(ctx, c.lockPath(src.URL), func() {
		p.note("waiting for another deskvm that downloads " + where)
	})
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	// The other deskvm may have finished this very download.
	if r, ok, err := f.cached(ctx, c, src); err != nil || ok {
		return r, err
	}
	d := &download{f: f, c: c, src: &src, where: where, path: c.partialPath(src.URL), prog: p}
	return d.run(ctx)
}

// download is one URL on its way into the cache. The partial file and the
// digests always cover the same n bytes.
type download struct {
	f     *Fetcher
	c     cache
	src   *Source
	where string
	path  string // partial file
	prog  *progress

	file      *os.File
	dig       *digests
	n         int64
	total     int64 // -1 when the server does not say
	validator string
	resumed   bool // some of the bytes came before a Range request
}

// retryable marks an attempt's failure that another attempt may cure.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

var errStalled = errors.New("stalled")

func (d *download) run(ctx context.Context) (Result, error) {
	if err := os.MkdirAll(filepath.Dir(d.path), 0o755); err != nil {
		return Result{}, fmt.Errorf("cache: %w", err)
	}
	fh, err := os.OpenFile(d.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return Result{}, fmt.Errorf("cache: %w", err)
	}
	d.file = fh
	defer func() {
		if d.file != nil {
			d.file.Close()
		}
	}()
	if err := d.adopt(ctx); err != nil {
		return Result{}, err
	}
	for again := false; ; again = true {
		err := d.transfer(ctx)
		if err == nil {
			if err = d.dig.check(d.where); err == nil {
				break
			}
		} else if !isContentError(err) {
			var re *retryable
			if !errors.As(err, &re) && ctx.Err() == nil && !isLocal(err) {
				// A permanent answer (404, 403): the partial file
				// will not be resumed.
				d.discard()
			}
			return Result{}, err
		}
		if d.resumed && !again {
			// A server that changed the file but not its validator
			// breaks a resume; one whole download tells.
			d.prog.note("resumed download does not match; downloading it whole once more")
			d.f.log().Info("resumed download does not match, starting over", "url", d.where, "err", err)
			if err := d.reset(); err != nil {
				return Result{}, err
			}
			continue
		}
		d.discard()
		return Result{}, err
	}
	return d.commit()
}

// adopt takes over the partial file of an earlier, interrupted run when
// it belongs to this URL and can be resumed safely; else it starts empty.
func (d *download) adopt(ctx context.Context) error {
	d.dig = newDigests(d.src)
	d.total = -1
	fi, err := d.file.Stat()
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	var rec partialRecord
	if fi.Size() == 0 || readJSON(d.path+".json", &rec) != nil || rec.URL != d.src.URL || rec.Validator == "" {
		return d.reset()
	}
	n, err := io.CopyBuffer(d.dig, ctxReader{ctx, io.LimitReader(d.file, fi.Size())}, make([]byte, copyBufSize))
	if err != nil {
		return fmt.Errorf("cache: read partial download: %w", err)
	}
	d.n, d.validator, d.resumed = n, rec.Validator, true
	d.f.log().Debug("resuming partial download", "url", d.where, "bytes", n)
	return nil
}

func (d *download) reset() error {
	if err := d.file.Truncate(0); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if _, err := d.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	d.dig = newDigests(d.src)
	d.n, d.validator, d.resumed = 0, "", false
	return nil
}

// discard removes the partial file and its record.
func (d *download) discard() {
	d.file.Close()
	d.file = nil
	_ = os.Remove(d.path)
	_ = os.Remove(d.path + ".json")
}

// transfer runs attempts until the content is complete. An attempt that
// received bytes before it failed is resumed at once; attempts without
// progress are retried after a growing pause, Attempts times at most.
func (d *download) transfer(ctx context.Context) error {
	attempts := d.f.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	wait := d.f.retryWait
	if wait <= 0 {
		wait = time.Second
	}
	failures := 0
	for {
		before := d.n
		err := d.attempt(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var re *retryable
		if !errors.As(err, &re) {
			return err
		}
		if d.n > before {
			failures, wait = 0, d.f.retryWait
			if wait <= 0 {
				wait = time.Second
			}
			d.prog.note(fmt.Sprintf("connection lost at %s (%v); resuming", formatBytes(d.n), err))
			d.f.log().Info("download interrupted, resuming", "url", d.where, "at", d.n, "err", err)
			continue
		}
		failures++
		if failures >= attempts {
			return fmt.Errorf("GET %s: giving up after %d attempts: %w", d.where, failures, err)
		}
		d.f.log().Info("download attempt failed, retrying", "url", d.where, "attempt", failures, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
}

// attempt is one GET: from the start, or from byte n with Range + If-Range
// when a validator says which version of the file the bytes are from.
func (d *download) attempt(ctx context.Context) error {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(actx, http.MethodGet, d.src.URL, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", d.where, err)
	}
	for k, vs := range d.src.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if d.n > 0 && d.validator == "" {
		if err := d.reset(); err != nil {
			return err
		}
	}
	if d.n > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", d.n))
		req.Header.Set("If-Range", d.validator)
	}
	// The stall timer covers the wait for the answer too: a server that
	// accepts and then says nothing is a stalled attempt.
	stall := d.f.StallTimeout
	if stall <= 0 {
		stall = time.Minute
	}
	watchdog := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer watchdog.Stop()
	resp, err := d.f.client().Do(req)
	if err != nil {
		if errors.Is(context.Cause(actx), errStalled) {
			return &retryable{fmt.Errorf("GET %s: no answer for %s", d.where, stall)}
		}
		return &retryable{fmt.Errorf("GET %s: %w", d.where, err)}
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, _, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || start != d.n {
			if rerr := d.reset(); rerr != nil {
				return rerr
			}
			return &retryable{fmt.Errorf("GET %s: asked for bytes from %d, got Content-Range %q", d.where, d.n, resp.Header.Get("Content-Range"))}
		}
		d.total = total
		if d.n > 0 {
			d.resumed = true
			d.f.log().Debug("resuming download", "url", d.where, "from", d.n)
		}
	case http.StatusOK:
		if d.n > 0 {
			// No range support, or the validator no longer matches.
			d.f.log().Info("server sent the whole file, starting over", "url", d.where, "had", d.n)
			if err := d.reset(); err != nil {
				return err
			}
		}
		d.total = resp.ContentLength
	case http.StatusRequestedRangeNotSatisfiable:
		if err := d.reset(); err != nil {
			return err
		}
		return &retryable{fmt.Errorf("GET %s: %s", d.where, resp.Status)}
	default:
		err := fmt.Errorf("GET %s: %s", d.where, resp.Status)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests {
			return &retryable{err}
		}
		return err
	}
	if v := validator(resp.Header); v != "" {
		d.validator = v
	}
	if err := writeJSON(d.path+".json", partialRecord{URL: d.src.URL, Validator: d.validator}); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	d.prog.start(d.where, d.total, d.n)
	watchdog.Reset(stall)
	s := &sink{d: d}
	_, err = io.CopyBuffer(s, &watchedReader{r: resp.Body, t: watchdog, stall: stall}, make([]byte, copyBufSize))
	switch {
	case s.err != nil:
		return s.err
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(context.Cause(actx), errStalled):
		return &retryable{fmt.Errorf("GET %s: no data for %s", d.where, stall)}
	default:
		return &retryable{fmt.Errorf("GET %s: %w", d.where, err)}
	}
}

// validator picks the If-Range value: a strong ETag (a weak one is not
// allowed there), else Last-Modified.
func validator(h http.Header) string {
	if e := h.Get("ETag"); e != "" && !strings.HasPrefix(e, "W/") {
		return e
	}
	return h.Get("Last-Modified")
}

// sink writes to the partial file, then the digests, then progress; a
// write error of the file is local and not retried.
type sink struct {
	d   *download
	err error
}

func (s *sink) Write(p []byte) (int, error) {
	n, err := s.d.file.Write(p)
	if n > 0 {
		_, _ = s.d.dig.Write(p[:n])
		s.d.n += int64(n)
		if err := s.d.dig.rejected(s.d.where); err != nil {
			s.err = err
			return n, err
		}
		s.d.prog.add(s.d.n)
		if s.d.f.written != nil {
			s.d.f.written(s.d.n)
		}
	}
	if err != nil {
		s.err = &localError{fmt.Errorf("cache: write %s: %w", s.d.path, err)}
		return n, s.err
	}
	return n, nil
}

type localError struct{ err error }

func (l *localError) Error() string { return l.err.Error() }
func (l *localError) Unwrap() error { return l.err }

func isLocal(err error) bool {
	var l *localError
	return errors.As(err, &l)
}

// watchedReader restarts the stall timer whenever bytes arrive.
type watchedReader struct {
	r     io.Reader
	t     *time.Timer
	stall time.Duration
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.t.Reset(w.stall)
	}
	return n, err
}

// commit moves the verified partial file to its digest name.
func (d *download) commit() (Result, error) {
	if err := d.file.Sync(); err != nil {
		return Result{}, fmt.Errorf("cache: %w", err)
	}
	if err := d.file.Chmod(0o444); err != nil {
		return Result{}, fmt.Errorf("cache: %w", err)
	}
	if err := d.file.Close(); err != nil {
		d.file = nil
		return Result{}, fmt.Errorf("cache: %w", err)
	}
	d.file = nil
	hex := d.dig.sum256()
	blob := d.c.blobPath(hex)
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return Result{}, fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(d.path, blob); err != nil {
		return Result{}, fmt.Errorf("cache: %w", err)
	}
	_ = os.Remove(d.path + ".json")
	fi, err := os.Stat(blob)
	if err != nil {
		return Result{}, fmt.Errorf("cache: %w", err)
	}
	rec := blobRecord{SHA256: hex, SHA512: d.dig.sum512(), Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano(), FetchedAt: time.Now().UTC()}
	if err := writeJSON(blob+".json", rec); err != nil {
		return Result{}, fmt.Errorf("cache: %w", err)
	}
	if err := d.c.addURL(&rec, d.src.URL); err != nil {
		return Result{}, fmt.Errorf("cache: %w", err)
	}
	d.prog.finish(d.n)
	d.f.log().Debug("downloaded", "url", d.where, "sha256", hex, "size", fi.Size())
	return Result{Path: blob, SHA256: hex, Size: fi.Size()}, nil
}
