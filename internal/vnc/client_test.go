package vnc

import (
	"bytes"
	"context"
	"crypto/des"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/keysym"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialT(t *testing.T, addr string, o Options) *Client {
	t.Helper()
	o.RefreshKeepAlive = -1 // tests of the keep-alive turn it on themselves
	c, err := Dial(testCtx(t), addr, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sameImage reports the first differing pixel.
func sameImage(t *testing.T, got, want *image.RGBA) {
	t.Helper()
	if got.Rect != want.Rect {
		t.Fatalf("image bounds %v, want %v", got.Rect, want.Rect)
	}
	for y := want.Rect.Min.Y; y < want.Rect.Max.Y; y++ {
		for x := want.Rect.Min.X; x < want.Rect.Max.X; x++ {
			if g, w := got.RGBAAt(x, y), want.RGBAAt(x, y); g != w {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, g, w)
			}
		}
	}
}

func TestHandshake38None(t *testing.T) {
	var encs []Encoding
	addr, done := startFake(t, func(s *fakeServer) {
		encs = s.handshake38(320, 200, "test desktop")
	})
	c := dialT(t, addr, Options{})
	<-done
	if c.Name() != "test desktop" || c.Size() != image.Pt(320, 200) {
		t.Errorf("name %q size %v", c.Name(), c.Size())
	}
	if !slices.Equal(encs, DefaultEncodings) {
		t.Errorf("announced encodings %v, want %v", encs, DefaultEncodings)
	}
}

func TestHandshakeOlderVersions(t *testing.T) {
	for _, tc := range []struct {
		greeting, reply string
		security        []byte // what the server sends after the version
		result          bool   // server sends a SecurityResult
	}{
		{"RFB 003.003\n", "RFB 003.003\n", u32(securityNone), false},
		{"RFB 003.007\n", "RFB 003.007\n", []byte{2, 5, securityNone}, false},
		{"RFB 003.889\n", "RFB 003.008\n", []byte{1, securityNone}, true},
		{"RFB 003.005\n", "RFB 003.003\n", u32(securityNone), false},
	} {
		t.Run(strings.TrimSpace(tc.greeting), func(t *testing.T) {
			addr, done := startFake(t, func(s *fakeServer) {
				s.write([]byte(tc.greeting))
				s.expect("version", []byte(tc.reply))
				s.write(tc.security)
				if tc.security[0] != 0 || len(tc.security) != 4 {
					s.expect("security choice", []byte{securityNone})
				}
				if tc.result {
					s.write(u32(0))
				}
				s.expect("shared flag", []byte{1})
				s.serverInit(64, 48, "old")
				s.readSetup(64, 48)
			})
			c := dialT(t, addr, Options{Shared: true})
			<-done
			if c.Name() != "old" {
				t.Errorf("name %q", c.Name())
			}
		})
	}
}

// naiveReverse reverses bits one at a time, independently of reverseBits.
func naiveReverse(b byte) byte {
	var r byte
	for i := 0; i < 8; i++ {
		if b&(1<<i) != 0 {
			r |= 1 << (7 - i)
		}
	}
	return r
}

func TestReverseBits(t *testing.T) {
	for i := 0; i < 256; i++ {
		if got, want := reverseBits(byte(i)), naiveReverse(byte(i)); got != want {
			t.Fatalf("reverseBits(%#x) = %#x, want %#x", i, got, want)
		}
	}
	if reverseBits(0x01) != 0x80 || reverseBits(0x0f) != 0xf0 {
		t.Fatal("reverseBits basic cases")
	}
}

// vncAuthServer checks the client's DES response as a server would.
func vncAuthServer(password string, challenge, resp []byte) bool {
	key := make([]byte, 8)
	copy(key, password)
	for i := range key {
		key[i] = naiveReverse(key[i])
	}
	b, _ := des.NewCipher(key)
	want := make([]byte, 16)
	b.Encrypt(want[:8], challenge[:8])
	b.Encrypt(want[8:], challenge[8:])
	return bytes.Equal(want, resp)
}

func TestVNCAuth(t *testing.T) {
	challenge := []byte("0123456789abcdef")
	for _, tc := range []struct {
		name, password string
		ok             bool
	}{
		{"right", "s3cret", true},
		{"wrong", "guess", false},
		{"longer than 8 bytes uses the first 8", "s3cret\x00\x00ignored", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, done := startFake(t, func(s *fakeServer) {
				s.write([]byte("RFB 003.008\n"))
				s.expect("version", []byte("RFB 003.008\n"))
				s.write([]byte{1, securityVNCAuth})
				s.expect("security type", []byte{securityVNCAuth})
				s.write(challenge)
				if !vncAuthServer("s3cret", challenge, s.read(16)) {
					s.write(u32(1), u32(uint32(len("Authentication failed"))), []byte("Authentication failed"))
					return
				}
				s.write(u32(0))
				s.read(1)
				s.serverInit(8, 8, "auth")
				s.readSetup(8, 8)
			})
			c, err := Dial(testCtx(t), addr, Options{Password: tc.password, RefreshKeepAlive: -1})
			<-done
			if tc.ok {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				c.Close()
				return
			}
			if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), `"Authentication failed"`) {
				t.Fatalf("Dial error %v, want ErrAuth with the server's reason", err)
			}
			if strings.Contains(err.Error(), tc.password) {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}
}

func TestSecurityRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		security []byte
		password string
		want     error
		wantText string
	}{
		{"refused with reason", cat([]byte{0}, u32(9), []byte("too many!")), "", ErrProtocol, `"too many!"`},
		{"password needed", []byte{1, securityVNCAuth}, "", ErrAuth, "requires a password"},
		{"unsupported types", []byte{2, 18, 19}, "x", ErrProtocol, "no supported security type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, done := startFake(t, func(s *fakeServer) {
				s.write([]byte("RFB 003.008\n"))
				s.read(12)
				s.write(tc.security)
				s.r.ReadByte() // wait for the client to give up
			})
			_, err := Dial(testCtx(t), addr, Options{Password: tc.password})
			<-done
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("Dial error %v, want %v containing %s", err, tc.want, tc.wantText)
			}
		})
	}
}

func TestDialContextCancel(t *testing.T) {
	addr, _ := startFake(t, func(s *fakeServer) {
		s.r.ReadByte() // say nothing until the client hangs up
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, addr, Options{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial error %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Dial took %v after its context expired", d)
	}
}

func TestHostileServerInit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		w, h       int
		nameLength uint32
		want       string
	}{
		{"huge framebuffer", 65535, 65535, 0, "exceeds the limit"},
		{"huge name", 8, 8, 1 << 31, "desktop name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, done := startFake(t, func(s *fakeServer) {
				s.write([]byte("RFB 003.008\n"))
				s.read(12)
				s.write([]byte{1, securityNone})
				s.read(1)
				s.write(u32(0))
				s.read(1)
				si := make([]byte, 24)
				binary.BigEndian.PutUint16(si[0:], uint16(tc.w))
				binary.BigEndian.PutUint16(si[2:], uint16(tc.h))
				binary.BigEndian.PutUint32(si[20:], tc.nameLength)
				s.write(si)
				s.r.ReadByte()
			})
			_, err := Dial(testCtx(t), addr, Options{})
			<-done
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Dial error %v, want protocol error about %s", err, tc.want)
			}
		})
	}
}

func TestRawUpdateAndContinuousRequests(t *testing.T) {
	const w, h = 100, 70
	want := pattern(w, h, 0)
	subscribed, gotFirst := make(chan struct{}), make(chan struct{})
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(w, h, "raw")
		<-subscribed
		// The whole screen in two rectangles.
		top, bottom := image.Rect(0, 0, w, 30), image.Rect(0, 30, w, h)
		s.write(update(
			rect(0, 0, w, 30, EncodingRaw, rawPixels(want, top)),
			rect(0, 30, w, h-30, EncodingRaw, rawPixels(want, bottom)),
		))
		// After each update the client asks for the next, incrementally.
		s.expect("incremental request", updateRequest(true, w, h))
		<-gotFirst
		small := image.Rect(10, 20, 13, 22)
		for y := small.Min.Y; y < small.Max.Y; y++ {
			for x := small.Min.X; x < small.Max.X; x++ {
				want.SetRGBA(x, y, color.RGBA{1, 2, 3, 255})
			}
		}
		s.write(update(rect(10, 20, 3, 2, EncodingRaw, rawPixels(want, small))))
		s.expect("incremental request", updateRequest(true, w, h))
	})
	c := dialT(t, addr, Options{})
	ctx := testCtx(t)
	updates, cancel := c.Subscribe()
	defer cancel()
	close(subscribed)
	seq, err := c.WaitFullFrame(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u := <-updates
	if u.Seq != seq || len(u.Rects) != 2 || u.Rects[0] != image.Rect(0, 0, w, 30) || u.Resized {
		t.Fatalf("first update %+v (full frame at seq %d)", u, seq)
	}
	close(gotFirst)
	u = <-updates
	if u.Seq != seq+1 || len(u.Rects) != 1 || u.Rects[0] != image.Rect(10, 20, 13, 22) {
		t.Fatalf("second update %+v", u)
	}
	<-done
	sameImage(t, c.Snapshot(), want)
}

func TestWaitFullFrameNeedsEveryPixel(t *testing.T) {
	const w, h = 40, 30
	img := pattern(w, h, 3)
	step := make(chan struct{})
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(w, h, "partial")
		s.write(update(rect(0, 0, w, 10, EncodingRaw, rawPixels(img, image.Rect(0, 0, w, 10)))))
		s.read(10)
		<-step
		s.write(update(rect(0, 10, w, 20, EncodingRaw, rawPixels(img, image.Rect(0, 10, w, h)))))
		s.read(10)
	})
	c := dialT(t, addr, Options{})
	ctx := testCtx(t)
	if _, err := c.WaitUpdate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.WaitFullFrame(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFullFrame after a partial frame: %v, want deadline exceeded", err)
	}
	close(step)
	seq, err := c.WaitFullFrame(ctx)
	if err != nil || seq != 2 {
		t.Fatalf("WaitFullFrame = %d, %v", seq, err)
	}
	<-done
	sameImage(t, c.Snapshot(), img)
}

// copyRef is CopyRect done the obvious way, through a temporary copy.
func copyRef(img *image.RGBA, dst image.Rectangle, sx, sy int) {
	tmp := image.NewRGBA(dst)
	for y := 0; y < dst.Dy(); y++ {
		for x := 0; x < dst.Dx(); x++ {
			tmp.SetRGBA(dst.Min.X+x, dst.Min.Y+y, img.RGBAAt(sx+x, sy+y))
		}
	}
	copyRect(img, tmp, dst)
}

func TestCopyRectOverlapping(t *testing.T) {
	const w, h = 50, 40
	want := pattern(w, h, 9)
	moves := []struct {
		dst    image.Rectangle
		sx, sy int
	}{
		{image.Rect(5, 5, 45, 35), 3, 2},   // down-right, overlapping
		{image.Rect(2, 1, 40, 30), 6, 7},   // up-left, overlapping
		{image.Rect(0, 10, 50, 20), 0, 12}, // same column, up
		{image.Rect(10, 0, 50, 40), 0, 0},  // right, full height
		{image.Rect(0, 0, 1, 1), 49, 39},   // single pixel
	}
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(w, h, "copy")
		var rects [][]byte
		rects = append(rects, rect(0, 0, w, h, EncodingRaw, rawPixels(want, want.Rect)))
		for _, m := range moves {
			rects = append(rects, rect(m.dst.Min.X, m.dst.Min.Y, m.dst.Dx(), m.dst.Dy(), EncodingCopyRect, cat(u16(m.sx), u16(m.sy))))
		}
		s.write(update(rects...))
		s.read(10)
	})
	c := dialT(t, addr, Options{Encodings: []Encoding{EncodingCopyRect, EncodingRaw}})
	if _, err := c.WaitFullFrame(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	<-done
	for _, m := range moves {
		copyRef(want, m.dst, m.sx, m.sy)
	}
	sameImage(t, c.Snapshot(), want)
}

func TestDesktopSize(t *testing.T) {
	for _, enc := range []Encoding{EncodingDesktopSize, EncodingExtendedDesktopSize} {
		t.Run(map[Encoding]string{EncodingDesktopSize: "DesktopSize", EncodingExtendedDesktopSize: "ExtendedDesktopSize"}[enc], func(t *testing.T) {
			img := pattern(30, 20, 1)
			subscribed := make(chan struct{})
			addr, done := startFake(t, func(s *fakeServer) {
				s.handshake38(10, 10, "resize")
				<-subscribed
				s.write(update(rect(0, 0, 10, 10, EncodingRaw, rawPixels(pattern(10, 10, 0), image.Rect(0, 0, 10, 10)))))
				s.read(10)
				var payload []byte
				if enc == EncodingExtendedDesktopSize {
					payload = cat([]byte{1, 0, 0, 0}, u32(0), u16(0), u16(0), u16(30), u16(20), u32(0))
				}
				s.write(update(rect(0, 0, 30, 20, enc, payload)))
				// After a resize the client asks for everything again.
				s.expect("non-incremental request", updateRequest(false, 30, 20))
				s.write(update(rect(0, 0, 30, 20, EncodingRaw, rawPixels(img, img.Rect))))
				s.expect("incremental request", updateRequest(true, 30, 20))
			})
			c := dialT(t, addr, Options{})
			ctx := testCtx(t)
			updates, cancel := c.Subscribe()
			defer cancel()
			close(subscribed)
			// Updates may arrive merged; the resize must show either way.
			u := <-updates
			for !u.Resized {
				u = <-updates
			}
			if !u.Resized || u.Size != image.Pt(30, 20) || !slices.Contains(u.Rects, image.Rect(0, 0, 30, 20)) {
				t.Fatalf("resize update %+v", u)
			}
			if got := c.Size(); got != image.Pt(30, 20) {
				t.Fatalf("Size %v after resize", got)
			}
			if _, err := c.WaitUpdate(ctx, 2); err != nil {
				t.Fatal(err)
			}
			if _, err := c.WaitFullFrame(ctx); err != nil {
				t.Fatal(err)
			}
			<-done
			sameImage(t, c.Snapshot(), img)
		})
	}
}

func TestZRLE(t *testing.T) {
	const w, h = 150, 100 // partial tiles at the right and bottom edges
	want := image.NewRGBA(image.Rect(0, 0, w, h))
	// Regions that make the encoder use every subencoding: solid, 2, 3,
	// 5-colour palettes, long runs and noise.
	palette := []color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {9, 9, 9, 255}, {200, 100, 50, 255}}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var c color.RGBA
			switch {
			case x < 64 && y < 64:
				c = color.RGBA{10, 20, 30, 255}
			case x < 128 && y < 64:
				c = palette[(x/3+y/5)%2]
			case y < 64:
				c = palette[(x+y)%3]
			case x < 64:
				c = palette[(x/7*y/3)%5]
			case x < 128:
				c = color.RGBA{uint8(x * 31), uint8(y * 17), uint8(x * y), 255}
			default:
				c = palette[(x/11)%4]
			}
			want.SetRGBA(x, y, c)
		}
	}
	second := pattern(w, h, 5)
	for y := 40; y < 60; y++ {
		for x := 0; x < w; x++ {
			second.SetRGBA(x, y, palette[(x/20)%3])
		}
	}
	checked := make(chan struct{})
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(w, h, "zrle")
		e := newZRLEEncoder()
		var variant int
		s.write(update(
			e.rect(want, image.Rect(0, 0, w, 64), tileAuto(&variant)),
			e.rect(want, image.Rect(0, 64, w, h), tileAuto(&variant)),
		))
		s.read(10)
		<-checked
		// A second update continues the same zlib stream.
		r := image.Rect(3, 30, 140, 70)
		s.write(update(e.rect(second, r, tileAuto(&variant))))
		s.read(10)
		variant = 1
		s.write(update(e.rect(second, r, tileAuto(&variant))))
		s.read(10)
	})
	c := dialT(t, addr, Options{Encodings: []Encoding{EncodingZRLE}})
	ctx := testCtx(t)
	if _, err := c.WaitFullFrame(ctx); err != nil {
		t.Fatal(err)
	}
	sameImage(t, c.Snapshot(), want)
	close(checked)
	if _, err := c.WaitUpdate(ctx, 2); err != nil {
		t.Fatal(err)
	}
	<-done
	copyRect(want, second, image.Rect(3, 30, 140, 70))
	sameImage(t, c.Snapshot(), want)
}

func TestOtherServerMessages(t *testing.T) {
	var bells atomic.Int32
	texts := make(chan string, 2)
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(4, 4, "msgs")
		// SetColourMapEntries: first colour 0, two entries; then a Bell
		// proves the stream stayed in step.
		s.write([]byte{1, 0}, u16(0), u16(2), make([]byte, 12))
		s.write([]byte{2})
		s.write([]byte{3, 0, 0, 0}, u32(6), []byte{'h', 0xe9, 'l', 'l', 'o', '!'})
		s.write([]byte{3, 0, 0, 0}, u32(100), bytes.Repeat([]byte{'x'}, 100)) // over MaxCutText: skipped
		s.write([]byte{3, 0, 0, 0}, u32(2), []byte("ok"))
		s.write(update(rect(0, 0, 4, 4, EncodingRaw, make([]byte, 64))))
		s.read(10)
	})
	c := dialT(t, addr, Options{
		MaxCutText: 50,
		OnBell:     func() { bells.Add(1) },
		OnCutText:  func(s string) { texts <- s },
	})
	if _, err := c.WaitFullFrame(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	<-done
	if bells.Load() != 1 {
		t.Errorf("%d bells, want 1", bells.Load())
	}
	if a, b := <-texts, <-texts; a != "héllo!" || b != "ok" {
		t.Errorf("cut texts %q, %q", a, b)
	}
}

func TestKeyEvents(t *testing.T) {
	extAck := make(chan struct{})
	got := make(chan []byte, 4)
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(8, 8, "keys")
		got <- s.read(8) // before the server offers extended keys: plain KeyEvent
		s.write(update(rect(0, 0, 8, 8, EncodingQEMUExtendedKey, nil)))
		s.expect("incremental request", updateRequest(true, 8, 8))
		close(extAck)
		got <- s.read(12)
		got <- s.read(12)
		got <- s.read(8) // a keysym without a scancode falls back to KeyEvent
	})
	c := dialT(t, addr, Options{})
	ctx := testCtx(t)
	if c.ExtendedKeyEvents() {
		t.Fatal("extended key events before the server offered them")
	}
	if err := c.KeyEvent(ctx, 'a', true); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, []byte{4, 1, 0, 0, 0, 0, 0, 'a'}) {
		t.Errorf("plain KeyEvent % x", b)
	}
	<-extAck
	if _, err := c.WaitUpdate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if !c.ExtendedKeyEvents() {
		t.Fatal("extended key events not used after the server offered them")
	}
	c.KeyEvent(ctx, 'A', true)
	if b := <-got; !bytes.Equal(b, cat([]byte{255, 0}, u16(1), u32('A'), u32(0x1e))) {
		t.Errorf("extended KeyEvent for 'A': % x", b)
	}
	c.KeyEvent(ctx, keysym.Up, false)
	if b := <-got; !bytes.Equal(b, cat([]byte{255, 0}, u16(0), u32(uint32(keysym.Up)), u32(0xc8))) {
		t.Errorf("extended KeyEvent for Up: % x", b)
	}
	c.KeyEvent(ctx, 0x20ac, true) // EuroSign: no US key
	if b := <-got; !bytes.Equal(b, cat([]byte{4, 1, 0, 0}, u32(0x20ac))) {
		t.Errorf("fallback KeyEvent % x", b)
	}
	<-done
}

func TestExtendedKeyEventsCanBeDisabled(t *testing.T) {
	ready := make(chan struct{})
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(8, 8, "keys")
		s.write(update(rect(0, 0, 8, 8, EncodingQEMUExtendedKey, nil)))
		s.expect("incremental request", updateRequest(true, 8, 8))
		close(ready)
		s.expect("plain KeyEvent", []byte{4, 0, 0, 0, 0, 0, 0xff, 0x0d})
	})
	c := dialT(t, addr, Options{DisableExtendedKeyEvent: true})
	ctx := testCtx(t)
	<-ready
	if err := c.KeyEvent(ctx, keysym.Return, false); err != nil {
		t.Fatal(err)
	}
	<-done
}

func TestRefreshKeepAlive(t *testing.T) {
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(8, 8, "keepalive")
		s.write(update(rect(0, 0, 8, 8, EncodingQEMUExtendedKey, nil)))
		s.read(10)
		// Unprompted: a release of F24, which QEMU drops before the guest.
		s.expect("keep-alive", cat([]byte{255, 0}, u16(0), u32(uint32(keysym.F24)), u32(0x6f)))
		s.expect("keep-alive", cat([]byte{255, 0}, u16(0), u32(uint32(keysym.F24)), u32(0x6f)))
	})
	c, err := Dial(testCtx(t), addr, Options{RefreshKeepAlive: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-done
}

func TestPointerEvent(t *testing.T) {
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(800, 600, "pointer")
		s.expect("PointerEvent", []byte{5, ButtonLeft | ButtonRight, 0x01, 0x2c, 0x02, 0x57})
		s.expect("PointerEvent", []byte{5, 0, 0, 0, 0, 0})
	})
	c := dialT(t, addr, Options{})
	ctx := testCtx(t)
	if err := c.PointerEvent(ctx, 300, 599, ButtonLeft|ButtonRight); err != nil {
		t.Fatal(err)
	}
	if err := c.PointerEvent(ctx, 800, 10, 0); err == nil || !strings.Contains(err.Error(), "outside the 800x600 screen") {
		t.Fatalf("pointer outside the screen: %v", err)
	}
	c.PointerEvent(ctx, 0, 0, 0)
	<-done
}

func TestClientCutText(t *testing.T) {
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(8, 8, "cut")
		s.expect("ClientCutText", cat([]byte{6, 0, 0, 0}, u32(4), []byte{'a', 0xe9, '?', 'z'}))
	})
	c := dialT(t, addr, Options{})
	if err := c.ClientCutText(testCtx(t), "aé€z"); err != nil {
		t.Fatal(err)
	}
	<-done
}

func TestDisconnect(t *testing.T) {
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(8, 8, "bye")
	})
	c := dialT(t, addr, Options{})
	updates, _ := c.Subscribe()
	<-done // the server hangs up
	ctx := testCtx(t)
	if _, err := c.WaitUpdate(ctx, 100); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("WaitUpdate after hang-up: %v, want ErrDisconnected", err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("Done not closed")
	}
	if !errors.Is(c.Err(), ErrDisconnected) {
		t.Fatalf("Err() = %v", c.Err())
	}
	if _, ok := <-updates; ok {
		t.Fatal("subscription channel still open")
	}
	if err := c.KeyEvent(ctx, 'a', true); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("KeyEvent after hang-up: %v", err)
	}
	c.Close()
	if !errors.Is(c.Err(), ErrDisconnected) {
		t.Fatalf("Close replaced the cause: %v", c.Err())
	}
}

func TestClose(t *testing.T) {
	addr, _ := startFake(t, func(s *fakeServer) {
		s.handshake38(8, 8, "close")
		s.r.ReadByte()
	})
	c := dialT(t, addr, Options{})
	c.Close()
	if _, err := c.WaitUpdate(testCtx(t), 5); !errors.Is(err, ErrClosed) || errors.Is(err, ErrDisconnected) {
		t.Fatalf("WaitUpdate after Close: %v, want ErrClosed", err)
	}
	if err := c.PointerEvent(testCtx(t), 1, 1, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("PointerEvent after Close: %v", err)
	}
}

func TestHostileUpdates(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  []byte
		opts Options
		want string
	}{
		{"rectangle outside", update(rect(5, 5, 10, 10, EncodingRaw, nil)), Options{}, "outside the 8x8 framebuffer"},
		{"rectangle beyond 16 bits", update(rect(65535, 0, 2, 1, EncodingRaw, nil)), Options{}, "outside"},
		{"CopyRect source outside", update(rect(0, 0, 4, 4, EncodingCopyRect, cat(u16(6), u16(0)))), Options{}, "CopyRect source"},
		{"unrequested encoding", update(rect(0, 0, 1, 1, 7, nil)), Options{}, "not requested"},
		{"too many rectangles", cat([]byte{0, 0}, u16(300)), Options{MaxRects: 200}, "exceeds the limit of 200"},
		{"resize too big", update(rect(0, 0, 9000, 9000, EncodingDesktopSize, nil)), Options{}, "exceeds the limit"},
		{"CopyRect storm", update(slices.Repeat([][]byte{rect(0, 0, 8, 8, EncodingCopyRect, cat(u16(0), u16(0)))}, 9)...), Options{}, "more than 8 times"},
		{"ZRLE length", update(rect(0, 0, 8, 8, EncodingZRLE, u32(1<<30))), Options{}, "ZRLE data of"},
		{"unknown message", []byte{77}, Options{}, "unknown server message type 77"},
		{"colour map beyond 65535", cat([]byte{1, 0}, u16(65535), u16(2)), Options{}, "beyond 65535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, done := startFake(t, func(s *fakeServer) {
				s.handshake38(8, 8, "hostile")
				s.write(tc.msg)
				s.r.ReadByte()
			})
			o := tc.opts
			o.Encodings = []Encoding{EncodingRaw, EncodingCopyRect, EncodingZRLE, EncodingDesktopSize}
			c := dialT(t, addr, o)
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("client did not drop the connection")
			}
			<-done
			err := c.Err()
			if !errors.Is(err, ErrDisconnected) || !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Err() = %v, want a protocol error about %q", err, tc.want)
			}
		})
	}
}

func TestSlowSubscriberGetsMergedUpdates(t *testing.T) {
	subscribed := make(chan struct{})
	addr, done := startFake(t, func(s *fakeServer) {
		s.handshake38(20, 20, "merge")
		<-subscribed
		for i := 0; i < 5; i++ {
			s.write(update(rect(i, i, 1, 1, EncodingRaw, make([]byte, 4))))
			s.read(10)
		}
	})
	c := dialT(t, addr, Options{})
	updates, cancel := c.Subscribe()
	defer cancel()
	close(subscribed)
	if _, err := c.WaitUpdate(testCtx(t), 4); err != nil {
		t.Fatal(err)
	}
	<-done
	u := <-updates
	if u.Seq != 5 || len(u.Rects) != 5 || u.Rects[4] != image.Rect(4, 4, 5, 5) {
		t.Fatalf("merged update %+v", u)
	}
	cancel()
	cancel() // idempotent
}
