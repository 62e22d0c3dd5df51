package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file shows the fetcher doing what the macOS builder needs: a
// BaseSystem.dmg and its .chunklist from a CDN that wants a cookie, the
// dmg checked chunk by chunk while it streams. The chunklist layout is
// Apple's (as read by OpenCore's macrecovery.py): a 0x24-byte header
// "CNKL", then per chunk a little-endian uint32 size and a SHA-256. The
// signature is not checked here; the real reader belongs to the macOS
// builder.

type chunk struct {
	size uint32
	sum  [32]byte
}

func makeChunklist(content []byte, chunkSize int) []byte {
	var chunks []chunk
	for off := 0; off < len(content); off += chunkSize {
		end := min(off+chunkSize, len(content))
		chunks = append(chunks, chunk{uint32(end - off), sha256.Sum256(content[off:end])})
	}
	var b bytes.Buffer
	b.WriteString("CNKL")
	binary.Write(&b, binary.LittleEndian, uint32(0x24))
	b.Write([]byte{1, 1, 2, 0}) // version, chunk method, signature method, padding
	binary.Write(&b, binary.LittleEndian, uint64(len(chunks)))
	binary.Write(&b, binary.LittleEndian, uint64(0x24))
	binary.Write(&b, binary.LittleEndian, uint64(0x24+0x24*len(chunks)))
	for _, c := range chunks {
		binary.Write(&b, binary.LittleEndian, c.size)
		b.Write(c.sum[:])
	}
	digest := sha256.Sum256(b.Bytes())
	b.Write(digest[:]) // signature method 2: the digest only
	return b.Bytes()
}

func parseChunklist(b []byte) ([]chunk, error) {
	if len(b) < 0x24 || string(b[:4]) != "CNKL" || binary.LittleEndian.Uint32(b[4:]) != 0x24 {
		return nil, errors.New("not a chunklist")
	}
	n := binary.LittleEndian.Uint64(b[12:])
	if off := binary.LittleEndian.Uint64(b[20:]); off != 0x24 || n == 0 || n > uint64(len(b))/0x24 {
		return nil, errors.New("bad chunk table")
	}
	var out []chunk
	for i := uint64(0); i < n; i++ {
		e := b[0x24+0x24*i:]
		var c chunk
		c.size = binary.LittleEndian.Uint32(e)
		copy(c.sum[:], e[4:0x24])
		out = append(out, c)
	}
	return out, nil
}

// chunkVerifier checks each chunk's SHA-256 as the bytes stream by.
type chunkVerifier struct {
	chunks []chunk
	i      int
	in     uint32
	h      hash.Hash
}

func (v *chunkVerifier) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if v.i >= len(v.chunks) {
			return 0, errors.New("more data than the chunklist lists")
		}
		c := v.chunks[v.i]
		k := min(int(c.size-v.in), len(p))
		v.h.Write(p[:k])
		v.in += uint32(k)
		p = p[k:]
		if v.in == c.size {
			if !bytes.Equal(v.h.Sum(nil), c.sum[:]) {
				return 0, fmt.Errorf("chunk %d: SHA-256 differs from the chunklist", v.i)
			}
			v.i, v.in = v.i+1, 0
			v.h.Reset()
		}
	}
	return n, nil
}

func (v *chunkVerifier) Verify() error {
	if v.i != len(v.chunks) {
		return fmt.Errorf("%d of %d chunks", v.i, len(v.chunks))
	}
	return nil
}

// chunklistShape accepts anything that parses as a chunklist: the
// chunklist itself has no published digest.
type chunklistShape struct{ b bytes.Buffer }

func (c *chunklistShape) Write(p []byte) (int, error) { return c.b.Write(p) }
func (c *chunklistShape) Verify() error {
	_, err := parseChunklist(c.b.Bytes())
	return err
}

func TestFetchDmgWithChunklist(t *testing.T) {
	dmg := randomBytes(t, 5<<20+777)
	list := makeChunklist(dmg, 1<<20)
	var mu sync.Mutex
	served := map[string][]byte{"/BaseSystem.dmg": dmg, "/BaseSystem.chunklist": list}
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		body := served[r.URL.Path]
		mu.Unlock()
		if c, err := r.Cookie("AssetToken"); err != nil || c.Value != "tok" {
			http.Error(w, "no token", http.StatusForbidden)
			return
		}
		w.Header().Set("ETag", `"1"`)
		http.ServeContent(w, r, "", time.Unix(1700000000, 0), bytes.NewReader(body))
	}))
	defer srv.Close()
	f := newFetcher(t)
	hdr := http.Header{"Cookie": {"AssetToken=tok"}}

	fetchPair := func() (Result, Result, error) {
		cl, err := f.Fetch(context.Background(), "chunklist", Source{URL: srv.URL + "/BaseSystem.chunklist", Header: hdr,
			Verify: func() Verifier { return &chunklistShape{} }})
		if err != nil {
			return cl, Result{}, err
		}
		b, err := os.ReadFile(cl.Path)
		if err != nil {
			return cl, Result{}, err
		}
		chunks, err := parseChunklist(b)
		if err != nil {
			return cl, Result{}, err
		}
		d, err := f.Fetch(context.Background(), "BaseSystem.dmg", Source{URL: srv.URL + "/BaseSystem.dmg", Header: hdr,
			Verify: func() Verifier { return &chunkVerifier{chunks: chunks, h: sha256.New()} }})
		return cl, d, err
	}
	cl, d, err := fetchPair()
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, cl, list)
	checkContent(t, d, dmg)
	mu.Lock()
	if requests != 2 {
		t.Errorf("%d requests, want 2", requests)
	}
	mu.Unlock()
	// Again: both from the cache (the Verifier runs over the cached dmg).
	cl, d, err = fetchPair()
	mu.Lock()
	n := requests
	mu.Unlock()
	if err != nil || !cl.Cached || !d.Cached || n != 2 {
		t.Fatalf("second round: %+v %+v %v, %d requests", cl, d, err, n)
	}

	// A dmg that differs from its chunklist in the third chunk stops the
	// download there and leaves nothing behind.
	bad := bytes.Clone(dmg)
	bad[2<<20+5] ^= 1
	mu.Lock()
	served["/Other.dmg"] = bad
	mu.Unlock()
	chunks, _ := parseChunklist(list)
	_, err = f.Fetch(context.Background(), "dmg", Source{URL: srv.URL + "/Other.dmg", Header: hdr,
		Verify: func() Verifier { return &chunkVerifier{chunks: chunks, h: sha256.New()} }})
	var ve *VerifyError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "chunk 2: SHA-256 differs") {
		t.Fatalf("err = %v, want chunk 2 rejected", err)
	}
	if _, err := os.Stat((cache{f.CacheDir}).partialPath(srv.URL + "/Other.dmg")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rejected download left its partial file: %v", err)
	}
	// Without the cookie the CDN says 403, which is not retried.
	_, err = f.Fetch(context.Background(), "dmg", Source{URL: srv.URL + "/Third.dmg", Verify: func() Verifier { return &chunklistShape{} }})
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden") {
		t.Errorf("err = %v", err)
	}
}
