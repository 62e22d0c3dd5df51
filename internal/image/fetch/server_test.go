package fetch

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// testServer is a real HTTP server (httptest, loopback) serving one file
// through http.ServeContent, which implements Range and If-Range the way
// real servers do. Knobs make it misbehave the ways networks do.
type testServer struct {
	*httptest.Server
	mu       sync.Mutex
	content  []byte
	etag     string
	noRange  bool  // ignore Range (always 200 with the whole file)
	dropNext int64 // next request: cut the connection after this many body bytes
	holdNext int64 // next request: stop sending after this many bytes until released
	hold     chan struct{}
	failNext []int // next requests answer with these status codes (or hang)
	reqs     []http.Header
	sent     int64 // body bytes written over all requests
}

func newTestServer(t testing.TB, content []byte) *testServer {
	s := &testServer{content: content, etag: `"v1"`, hold: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.release()
		s.Close()
	})
	return s
}

// hang in failNext: the request gets no answer until the test ends.
const hang = -1

func (s *testServer) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.hold:
	default:
		close(s.hold)
	}
}

func (s *testServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.Header.Clone())
	content, etag, noRange := s.content, s.etag, s.noRange
	drop, hold := s.dropNext, s.holdNext
	s.dropNext, s.holdNext = 0, 0
	var fail int
	if len(s.failNext) > 0 {
		fail, s.failNext = s.failNext[0], s.failNext[1:]
	}
	s.mu.Unlock()
	if fail == hang {
		<-s.hold // accept, then say nothing
		return
	}
	if fail != 0 {
		http.Error(w, http.StatusText(fail), fail)
		return
	}
	if noRange {
		r.Header.Del("Range")
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	cw := &cutWriter{ResponseWriter: w, s: s, drop: drop, hold: hold}
	http.ServeContent(cw, r, "image.qcow2", time.Unix(1700000000, 0), bytes.NewReader(content))
}

func (s *testServer) requests() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.reqs...)
}

func (s *testServer) bytesSent() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// cutWriter passes body bytes through until a limit, then either aborts
// the connection (drop) or waits for release first (hold).
type cutWriter struct {
	http.ResponseWriter
	s          *testServer
	drop, hold int64
	n          int64
}

func (c *cutWriter) Write(p []byte) (int, error) {
	limit := c.drop
	if c.hold > 0 {
		limit = c.hold
	}
	if limit > 0 && c.n+int64(len(p)) > limit {
		k := limit - c.n
		n, _ := c.ResponseWriter.Write(p[:k])
		c.count(n)
		c.ResponseWriter.(http.Flusher).Flush()
		if c.hold > 0 {
			<-c.s.hold
		}
		panic(http.ErrAbortHandler) // the server closes the connection
	}
	n, err := c.ResponseWriter.Write(p)
	c.count(n)
	return n, err
}

func (c *cutWriter) count(n int) {
	c.n += int64(n)
	c.s.mu.Lock()
	c.s.sent += int64(n)
	c.s.mu.Unlock()
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
