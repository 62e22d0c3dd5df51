package vnc

import (
	"bytes"
	"context"
	"image"
	"net"
	"runtime"
	"testing"
	"time"
)

// fuzzConn plays a recorded server stream and swallows what the client sends.
type fuzzConn struct{ r *bytes.Reader }

func (c *fuzzConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *fuzzConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *fuzzConn) Close() error                     { return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "fuzz"} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "fuzz"} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzOpts keeps framebuffers small so that the allocation bound is tight.
var fuzzOpts = Options{
	MaxWidth: 256, MaxHeight: 256, MaxPixels: 256 * 256, MaxCutText: 4096,
	MaxNameLength: 4096, RefreshKeepAlive: -1,
}

// fuzzSeeds are well-formed sessions covering every message and encoding.
func fuzzSeeds() [][]byte {
	greeting := cat([]byte("RFB 003.008\n"), []byte{1, securityNone}, u32(0))
	si := func(w, h int) []byte {
		b := make([]byte, 24)
		copy(b, cat(u16(w), u16(h)))
		rgbaFormat.marshal(b[4:20])
		return cat(b[:20], u32(4), []byte("fuzz"))
	}
	img := pattern(100, 70, 1)
	e := newZRLEEncoder()
	var variant int
	z1 := e.rect(img, image.Rect(0, 0, 100, 70), tileAuto(&variant))
	z2 := e.rect(img, image.Rect(10, 10, 80, 30), tileAuto(&variant))
	full := cat(greeting, si(100, 70),
		update(rect(0, 0, 100, 70, EncodingRaw, rawPixels(img, img.Rect))),
		update(rect(5, 5, 20, 20, EncodingCopyRect, cat(u16(7), u16(3)))),
		update(z1, z2),
		update(rect(0, 0, 0, 0, EncodingQEMUExtendedKey, nil)),
		[]byte{1, 0}, u16(0), u16(1), make([]byte, 6),
		[]byte{2},
		[]byte{3, 0, 0, 0}, u32(3), []byte("cut"),
		update(rect(0, 0, 30, 20, EncodingDesktopSize, nil)),
		update(rect(0, 0, 40, 10, EncodingExtendedDesktopSize, cat([]byte{1, 0, 0, 0}, make([]byte, 16)))),
		update(rect(0, 0, 40, 10, EncodingRaw, rawPixels(pattern(40, 10, 2), image.Rect(0, 0, 40, 10)))),
	)
	auth := cat([]byte("RFB 003.008\n"), []byte{2, securityVNCAuth, securityNone}, u32(0), si(8, 8), update(rect(0, 0, 8, 8, EncodingRaw, make([]byte, 256))))
	v33 := cat([]byte("RFB 003.003\n"), u32(securityNone), si(4, 4), update(rect(0, 0, 4, 4, EncodingRaw, make([]byte, 64))))
	refused := cat([]byte("RFB 003.008\n"), []byte{0}, u32(5), []byte("nope!"))
	return [][]byte{full, auth, v33, refused, greeting}
}

// FuzzServerMessages feeds arbitrary server streams to the client: the
// handshake and the update stream must never panic, hang, or allocate
// more than the configured limits allow.
func FuzzServerMessages(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := NewClient(ctx, &fuzzConn{r: bytes.NewReader(data)}, fuzzOpts)
		if err == nil {
			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatal("client still running after the stream ended")
			}
			if sz := c.Size(); sz.X > fuzzOpts.MaxWidth || sz.Y > fuzzOpts.MaxHeight {
				t.Fatalf("framebuffer %v beyond the limits", sz)
			}
			c.Close()
		}

		runtime.ReadMemStats(&after)
		// Each resize (at least 12 input bytes) may allocate a working and
		// a published framebuffer plus coverage; everything else is small.
		frame := uint64(fuzzOpts.MaxPixels) * 9
		limit := (uint64(len(data))/12+3)*frame + 8<<20
		if got := after.TotalAlloc - before.TotalAlloc; got > limit {
			t.Fatalf("allocated %d bytes for a %d-byte stream (limit %d)", got, len(data), limit)
		}
	})
}
