package vnc

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"image"
	"image/color"
	"io"
	"net"
	"testing"
	"time"
)

// fakeServer is the server side of one RFB connection, scripted by a test.
type fakeServer struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// startFake listens on loopback and runs script for the first connection.
// The returned channel closes when the script is done.
func startFake(t testing.TB, script func(s *fakeServer)) (addr string, done <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		script(&fakeServer{t: t, conn: c, r: bufio.NewReader(c)})
	}()
	return l.Addr().String(), ch
}

func (s *fakeServer) write(parts ...[]byte) {
	for _, p := range parts {
		if _, err := s.conn.Write(p); err != nil {
			s.t.Errorf("fake server write: %v", err)
			return
		}
	}
}

func (s *fakeServer) read(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.r, b); err != nil {
		s.t.Errorf("fake server read %d bytes: %v", n, err)
	}
	return b
}

// expect reads len(want) bytes and compares them.
func (s *fakeServer) expect(what string, want []byte) {
	got := s.read(len(want))
	if !bytes.Equal(got, want) {
		s.t.Errorf("%s: client sent % x, want % x", what, got, want)
	}
}

// handshake38 runs a 3.8 handshake with security None and reads the
// client's setup messages; it returns the encodings the client announced.
func (s *fakeServer) handshake38(w, h int, name string) []Encoding {
	s.write([]byte("RFB 003.008\n"))
	s.expect("version", []byte("RFB 003.008\n"))
	s.write([]byte{1, securityNone})
	s.expect("security type", []byte{securityNone})
	s.write(u32(0))
	s.read(1) // shared flag
	s.serverInit(w, h, name)
	return s.readSetup(w, h)
}

func (s *fakeServer) serverInit(w, h int, name string) {
	si := make([]byte, 24)
	binary.BigEndian.PutUint16(si[0:], uint16(w))
	binary.BigEndian.PutUint16(si[2:], uint16(h))
	PixelFormat{BitsPerPixel: 16, Depth: 16, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5}.marshal(si[4:20])
	binary.BigEndian.PutUint32(si[20:], uint32(len(name)))
	s.write(si, []byte(name))
}

// readSetup checks SetPixelFormat and the first FramebufferUpdateRequest
// and returns the announced encodings.
func (s *fakeServer) readSetup(w, h int) []Encoding {
	want := make([]byte, 20)
	rgbaFormat.marshal(want[4:])
	s.expect("SetPixelFormat", want)
	hdr := s.read(4)
	if hdr[0] != 2 {
		s.t.Errorf("SetEncodings type %d", hdr[0])
	}
	n := int(binary.BigEndian.Uint16(hdr[2:]))
	var encs []Encoding
	for _, b := range [][]byte{s.read(4 * n)} {
		for i := 0; i < n; i++ {
			encs = append(encs, Encoding(int32(binary.BigEndian.Uint32(b[4*i:]))))
		}
	}
	s.expect("first FramebufferUpdateRequest", updateRequest(false, w, h))
	return encs
}

func updateRequest(incremental bool, w, h int) []byte {
	return appendUpdateRequest(nil, incremental, w, h)
}

func u16(v int) []byte    { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// update builds a FramebufferUpdate from rectangles made by rect.
func update(rects ...[]byte) []byte {
	return cat([]byte{0, 0}, u16(len(rects)), cat(rects...))
}

func rect(x, y, w, h int, enc Encoding, payload []byte) []byte {
	return cat(u16(x), u16(y), u16(w), u16(h), u32(uint32(enc)), payload)
}

// rawPixels encodes img's r in the client's pixel format, with a junk
// padding byte that the client must replace by opaque alpha.
func rawPixels(img *image.RGBA, r image.Rectangle) []byte {
	var b []byte
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := img.RGBAAt(x, y)
			b = append(b, c.R, c.G, c.B, 0x5a)
		}
	}
	return b
}

// pattern is a deterministic, opaque test picture.
func pattern(w, h, seed int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x*7 + seed), uint8(y*13 + seed), uint8((x ^ y) + seed), 255})
		}
	}
	return img
}

// zrleEncoder produces ZRLE rectangles over one persistent zlib stream.
type zrleEncoder struct {
	buf bytes.Buffer
	zw  *zlib.Writer
}

func newZRLEEncoder() *zrleEncoder {
	e := &zrleEncoder{}
	e.zw = zlib.NewWriter(&e.buf)
	return e
}

// tileFunc writes one tile's uncompressed bytes.
type tileFunc func(img *image.RGBA, t image.Rectangle) []byte

// rect returns a full ZRLE rectangle (header and data) for img's r, with
// each tile encoded by the given encoder.
func (e *zrleEncoder) rect(img *image.RGBA, r image.Rectangle, enc tileFunc) []byte {
	var plain []byte
	for ty := r.Min.Y; ty < r.Max.Y; ty += 64 {
		for tx := r.Min.X; tx < r.Max.X; tx += 64 {
			plain = append(plain, enc(img, image.Rect(tx, ty, min(tx+64, r.Max.X), min(ty+64, r.Max.Y)))...)
		}
	}
	e.zw.Write(plain)
	e.zw.Flush() // sync flush, as servers do at the end of each rectangle
	data := append([]byte(nil), e.buf.Bytes()...)
	e.buf.Reset()
	return rect(r.Min.X, r.Min.Y, r.Dx(), r.Dy(), EncodingZRLE, cat(u32(uint32(len(data))), data))
}

func cpixel(c color.RGBA) []byte { return []byte{c.R, c.G, c.B} }

func tileRaw(img *image.RGBA, t image.Rectangle) []byte {
	b := []byte{0}
	for y := t.Min.Y; y < t.Max.Y; y++ {
		for x := t.Min.X; x < t.Max.X; x++ {
			b = append(b, cpixel(img.RGBAAt(x, y))...)
		}
	}
	return b
}

// paletteOf lists the tile's colours in first-seen order.
func paletteOf(img *image.RGBA, t image.Rectangle) ([]color.RGBA, map[color.RGBA]int) {
	var pal []color.RGBA
	idx := map[color.RGBA]int{}
	for y := t.Min.Y; y < t.Max.Y; y++ {
		for x := t.Min.X; x < t.Max.X; x++ {
			c := img.RGBAAt(x, y)
			if _, ok := idx[c]; !ok {
				idx[c] = len(pal)
				pal = append(pal, c)
			}
		}
	}
	return pal, idx
}

// tileAuto picks the subencoding a server would: solid, packed palette,
// palette RLE for few colours, plain RLE or raw otherwise; variant rotates
// among the choices so all of them are exercised.
func tileAuto(variant *int) tileFunc {
	return func(img *image.RGBA, t image.Rectangle) []byte {
		pal, idx := paletteOf(img, t)
		*variant++
		switch {
		case len(pal) == 1:
			return append([]byte{1}, cpixel(pal[0])...)
		case len(pal) <= 16 && *variant%2 == 0:
			b := []byte{byte(len(pal))}
			for _, c := range pal {
				b = append(b, cpixel(c)...)
			}
			bits := 4
			if len(pal) == 2 {
				bits = 1
			} else if len(pal) <= 4 {
				bits = 2
			}
			for y := t.Min.Y; y < t.Max.Y; y++ {
				var cur byte
				n := 0
				for x := t.Min.X; x < t.Max.X; x++ {
					cur = cur<<bits | byte(idx[img.RGBAAt(x, y)])
					n += bits
					if n == 8 {
						b, cur, n = append(b, cur), 0, 0
					}
				}
				if n > 0 {
					b = append(b, cur<<(8-n))
				}
			}
			return b
		case len(pal) <= 127:
			b := []byte{byte(128 + len(pal))}
			for _, c := range pal {
				b = append(b, cpixel(c)...)
			}
			forRuns(img, t, func(c color.RGBA, n int) {
				if n == 1 {
					b = append(b, byte(idx[c]))
					return
				}
				b = append(b, byte(idx[c])|0x80)
				b = appendRun(b, n)
			})
			return b
		case *variant%2 == 0:
			b := []byte{128}
			forRuns(img, t, func(c color.RGBA, n int) {
				b = append(b, cpixel(c)...)
				b = appendRun(b, n)
			})
			return b
		default:
			return tileRaw(img, t)
		}
	}
}

func forRuns(img *image.RGBA, t image.Rectangle, emit func(c color.RGBA, n int)) {
	var cur color.RGBA
	n := 0
	for y := t.Min.Y; y < t.Max.Y; y++ {
		for x := t.Min.X; x < t.Max.X; x++ {
			c := img.RGBAAt(x, y)
			if n > 0 && c == cur {
				n++
				continue
			}
			if n > 0 {
				emit(cur, n)
			}
			cur, n = c, 1
		}
	}
	if n > 0 {
		emit(cur, n)
	}
}

func appendRun(b []byte, n int) []byte {
	n--
	for n >= 255 {
		b = append(b, 255)
		n -= 255
	}
	return append(b, byte(n))
}
