package macos

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"os"

	"github.com/deskvm/deskvm/internal/image/fetch"
)

// Downloaded are the verified recovery files.
type Downloaded struct {
	Image     fetch.Result // BaseSystem.dmg
	Chunklist fetch.Result // BaseSystem.chunklist
	Chunks    int
	Trailer   UDIFTrailer
}

// Download fetches the chunklist, whose RSA signature is checked before
// the cache keeps it, then the image, checked chunk by chunk against it
// while it streams (a bad chunk stops the download and nothing is kept),
// and finally reads the image's UDIF trailer. keys nil means Apple's.
func Download(ctx context.Context, f *fetch.Fetcher, a Assets, keys []*rsa.PublicKey) (Downloaded, error) {
	if keys == nil {
		keys = AppleKeys()
	}
	var d Downloaded
	var err error
	d.Chunklist, err = f.Fetch(ctx, "BaseSystem.chunklist", fetch.Source{
		URL: a.Chunklist.URL, Header: a.Chunklist.Header(),
		Verify: func() fetch.Verifier { return &signedChunklist{keys: keys} },
	})
	if err != nil {
		return d, fmt.Errorf("macOS recovery chunklist: %w", err)
	}
	b, err := os.ReadFile(d.Chunklist.Path)
	if err != nil {
		return d, fmt.Errorf("macOS recovery chunklist: %w", err)
	}
	cl, err := ParseChunklist(b, keys)
	if err != nil {
		return d, fmt.Errorf("macOS recovery chunklist: %w", err)
	}
	d.Chunks = len(cl.Chunks)
	d.Image, err = f.Fetch(ctx, "BaseSystem.dmg", fetch.Source{
		URL: a.Image.URL, Header: a.Image.Header(),
		Verify: func() fetch.Verifier { return cl.Verifier() },
	})
	if err != nil {
		return d, fmt.Errorf("macOS recovery image: %w", err)
	}
	img, err := os.Open(d.Image.Path)
	if err != nil {
		return d, fmt.Errorf("macOS recovery image: %w", err)
	}
	defer img.Close()
	d.Trailer, err = CheckUDIF(img, d.Image.Size)
	if err != nil {
		return d, fmt.Errorf("macOS recovery image: %w", err)
	}
	return d, nil
}

// signedChunklist buffers a chunklist (bounded) and checks its signature.
type signedChunklist struct {
	keys []*rsa.PublicKey
	buf  bytes.Buffer
	err  error
}

func (s *signedChunklist) Write(p []byte) (int, error) {
	if s.buf.Len()+len(p) > MaxChunklistSize {
		s.err = fmt.Errorf("chunklist larger than %d bytes", MaxChunklistSize)
		return 0, s.err
	}
	return s.buf.Write(p)
}

func (s *signedChunklist) Verify() error {
	if s.err != nil {
		return s.err
	}
	_, err := ParseChunklist(s.buf.Bytes(), s.keys)
	return err
}
