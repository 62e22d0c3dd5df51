package vnc

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"image"
	"io"
)

// Server-to-client message types (RFC 6143 §7.6).
const (
	msgFramebufferUpdate   = 0
	msgSetColourMapEntries = 1
	msgBell                = 2
	msgServerCutText       = 3
)

type eventKind int

const (
	eventNone eventKind = iota
	eventUpdate
	eventBell
	eventCutText
)

// event is the outcome of one server message.
type event struct {
	kind    eventKind
	rects   []image.Rectangle // eventUpdate: changed pixel areas
	resized bool
	extKey  bool   // the server acknowledged QEMU extended key events
	text    string // eventCutText
}

// updateAreaFactor bounds the pixels one FramebufferUpdate may paint, as
// a multiple of the framebuffer area. Real servers paint each pixel at
// most about once per update; without a bound, a few bytes of CopyRect
// headers could keep the client copying gigabytes.
const updateAreaFactor = 8

// decoder parses server messages from the stream and applies pixel data
// to img, its working framebuffer. It is used by one goroutine only and is
// free of network side effects so it can be fuzzed.
type decoder struct {
	r    *bufio.Reader
	opts *Options
	img  *image.RGBA

	// coverage marks pixels received since connect or resize, until the
	// whole framebuffer has been painted once; then it is dropped.
	coverage []bool
	uncover  int

	zrle zrleStream
	buf  []byte // scratch for headers and tiles
}

func newDecoder(r *bufio.Reader, opts *Options, w, h int) *decoder {
	d := &decoder{r: r, opts: opts, buf: make([]byte, 64*64*4)}
	d.resize(w, h)
	return d
}

func (d *decoder) size() (int, int) { return d.img.Rect.Dx(), d.img.Rect.Dy() }

func (d *decoder) complete() bool { return d.coverage == nil }

func (d *decoder) resize(w, h int) {
	d.img = image.NewRGBA(image.Rect(0, 0, w, h))
	d.coverage = make([]bool, w*h)
	d.uncover = w * h
	if d.uncover == 0 {
		d.coverage = nil
	}
}

func (d *decoder) cover(r image.Rectangle) {
	if d.coverage == nil {
		return
	}
	w := d.img.Rect.Dx()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := d.coverage[y*w+r.Min.X : y*w+r.Max.X]
		for i, c := range row {
			if !c {
				row[i] = true
				d.uncover--
			}
		}
	}
	if d.uncover == 0 {
		d.coverage = nil
	}
}

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// next reads and applies one server message.
func (d *decoder) next() (event, error) {
	t, err := d.r.ReadByte()
	if err != nil {
		return event{}, fmt.Errorf("read message type: %w", err)
	}
	switch t {
	case msgFramebufferUpdate:
		return d.framebufferUpdate()
	case msgSetColourMapEntries:
		// The client uses true colour, so colour maps do not matter; they
		// are validated and skipped.
		h, err := d.read(5)
		if err != nil {
			return event{}, fmt.Errorf("read SetColourMapEntries: %w", err)
		}
		first, n := int(binary.BigEndian.Uint16(h[1:])), int(binary.BigEndian.Uint16(h[3:]))
		if first+n > 1<<16 {
			return event{}, protoErr("SetColourMapEntries: entries %d..%d beyond 65535", first, first+n-1)
		}
		if _, err := d.r.Discard(6 * n); err != nil {
			return event{}, fmt.Errorf("read SetColourMapEntries: %w", err)
		}
		return event{}, nil
	case msgBell:
		return event{kind: eventBell}, nil
	case msgServerCutText:
		h, err := d.read(7)
		if err != nil {
			return event{}, fmt.Errorf("read ServerCutText: %w", err)
		}
		n := int64(binary.BigEndian.Uint32(h[3:]))
		if n > int64(d.opts.MaxCutText) {
			// Too long to keep; skipping is safe because the length is known.
			if _, err := io.CopyN(io.Discard, d.r, n); err != nil {
				return event{}, fmt.Errorf("read ServerCutText: %w", err)
			}
			return event{}, nil
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(d.r, b); err != nil {
			return event{}, fmt.Errorf("read ServerCutText: %w", err)
		}
		return event{kind: eventCutText, text: latin1(b)}, nil
	default:
		return event{}, protoErr("unknown server message type %d", t)
	}
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// read returns the next n bytes in the scratch buffer.
func (d *decoder) read(n int) ([]byte, error) {
	if n > len(d.buf) {
		d.buf = make([]byte, n)
	}
	b := d.buf[:n]
	_, err := io.ReadFull(d.r, b)
	return b, err
}

func (d *decoder) framebufferUpdate() (event, error) {
	h, err := d.read(3)
	if err != nil {
		return event{}, fmt.Errorf("read FramebufferUpdate: %w", err)
	}
	n := int(binary.BigEndian.Uint16(h[1:]))
	if n > d.opts.MaxRects {
		return event{}, protoErr("FramebufferUpdate with %d rectangles exceeds the limit of %d", n, d.opts.MaxRects)
	}
	ev := event{kind: eventUpdate}
	budget := updateAreaFactor * d.img.Rect.Dx() * d.img.Rect.Dy()
	for i := 0; i < n; i++ {
		rh, err := d.read(12)
		if err != nil {
			return event{}, fmt.Errorf("read rectangle %d header: %w", i, err)
		}
		x, y := int(binary.BigEndian.Uint16(rh[0:])), int(binary.BigEndian.Uint16(rh[2:]))
		w, hh := int(binary.BigEndian.Uint16(rh[4:])), int(binary.BigEndian.Uint16(rh[6:]))
		enc := Encoding(int32(binary.BigEndian.Uint32(rh[8:])))
		r := image.Rect(x, y, x+w, y+hh)

		switch enc {
		case EncodingDesktopSize:
			if err := d.opts.checkSize(w, hh); err != nil {
				return event{}, fmt.Errorf("DesktopSize: %w", err)
			}
			d.resize(w, hh)
			ev.resized, ev.rects = true, nil
			budget = updateAreaFactor * w * hh
			continue
		case EncodingExtendedDesktopSize:
			if err := d.extendedDesktopSize(w, hh); err != nil {
				return event{}, err
			}
			if w != d.img.Rect.Dx() || hh != d.img.Rect.Dy() {
				d.resize(w, hh)
				ev.resized, ev.rects = true, nil
				budget = updateAreaFactor * w * hh
			}
			continue
		case EncodingQEMUExtendedKey:
			ev.extKey = true
			continue
		}

		if !r.In(d.img.Rect) {
			return event{}, protoErr("rectangle %d %v (encoding %d) outside the %dx%d framebuffer", i, r, enc, d.img.Rect.Dx(), d.img.Rect.Dy())
		}
		budget -= w * hh
		if budget < 0 {
			return event{}, protoErr("FramebufferUpdate paints more than %d times the framebuffer area", updateAreaFactor)
		}
		switch enc {
		case EncodingRaw:
			err = d.raw(r)
		case EncodingCopyRect:
			err = d.copyRect(r)
		case EncodingZRLE:
			err = d.zrleRect(r)
		default:
			return event{}, protoErr("rectangle %d has encoding %d, which was not requested", i, enc)
		}
		if err != nil {
			return event{}, fmt.Errorf("rectangle %d %v: %w", i, r, err)
		}
		if !r.Empty() {
			d.cover(r)
			ev.rects = append(ev.rects, r)
		}
	}
	if ev.resized {
		// Report the whole new framebuffer as changed.
		ev.rects = append([]image.Rectangle{d.img.Rect}, ev.rects...)
	}
	return ev, nil
}

func (d *decoder) extendedDesktopSize(w, h int) error {
	b, err := d.read(4)
	if err != nil {
		return fmt.Errorf("read ExtendedDesktopSize: %w", err)
	}
	screens := int(b[0])
	if _, err := d.r.Discard(16 * screens); err != nil {
		return fmt.Errorf("read ExtendedDesktopSize screens: %w", err)
	}
	if err := d.opts.checkSize(w, h); err != nil {
		return fmt.Errorf("ExtendedDesktopSize: %w", err)
	}
	return nil
}

// raw reads rows straight into the framebuffer; only the alpha byte, which
// the server sends as padding, needs setting afterwards.
func (d *decoder) raw(r image.Rectangle) error {
	if r.Empty() {
		return nil
	}
	n := r.Dx() * 4
	for y := r.Min.Y; y < r.Max.Y; y++ {
		off := d.img.PixOffset(r.Min.X, y)
		row := d.img.Pix[off : off+n]
		if _, err := io.ReadFull(d.r, row); err != nil {
			return fmt.Errorf("read raw pixels: %w", err)
		}
		for i := 3; i < len(row); i += 4 {
			row[i] = 0xff
		}
	}
	return nil
}

func (d *decoder) copyRect(r image.Rectangle) error {
	b, err := d.read(4)
	if err != nil {
		return fmt.Errorf("read CopyRect source: %w", err)
	}
	sx, sy := int(binary.BigEndian.Uint16(b[0:])), int(binary.BigEndian.Uint16(b[2:]))
	if r.Empty() {
		return nil
	}
	src := image.Rect(sx, sy, sx+r.Dx(), sy+r.Dy())
	if !src.In(d.img.Rect) {
		return protoErr("CopyRect source %v outside the framebuffer", src)
	}
	n := r.Dx() * 4
	// Overlapping areas: walk rows away from the destination so no source
	// row is overwritten before it is read; copy() handles overlap within a row.
	rows := r.Dy()
	for i := 0; i < rows; i++ {
		j := i
		if sy < r.Min.Y {
			j = rows - 1 - i
		}
		so := d.img.PixOffset(sx, sy+j)
		do := d.img.PixOffset(r.Min.X, r.Min.Y+j)
		copy(d.img.Pix[do:do+n], d.img.Pix[so:so+n])
	}
	return nil
}

// zrleStream is ZRLE's zlib stream, which lasts for the whole connection:
// each rectangle's data is appended to in, and the inflater reads on from
// where the previous rectangle ended. Because every rectangle ends with a
// zlib sync flush, the inflater never needs bytes of a rectangle that has
// not arrived yet as long as exactly the rectangle's pixels are read.
type zrleStream struct {
	in  bytes.Buffer
	zr  io.ReadCloser
	out *bufio.Reader
}

func (d *decoder) zrleRect(r image.Rectangle) error {
	b, err := d.read(4)
	if err != nil {
		return fmt.Errorf("read ZRLE length: %w", err)
	}
	n := int64(binary.BigEndian.Uint32(b))
	// Incompressible data grows by a few bytes per 64 KiB block; a tile
	// needs at most 3 bytes per pixel plus a subencoding byte.
	if limit := int64(r.Dx())*int64(r.Dy())*4 + 64<<10; n > limit {
		return protoErr("ZRLE data of %d bytes for a %dx%d rectangle", n, r.Dx(), r.Dy())
	}
	z := &d.zrle
	// CopyN grows the buffer only as bytes actually arrive.
	if _, err := io.CopyN(&z.in, d.r, n); err != nil {
		return fmt.Errorf("read ZRLE data: %w", err)
	}
	if z.zr == nil {
		zr, err := zlib.NewReader(&z.in)
		if err != nil {
			return protoErr("ZRLE zlib stream: %v", err)
		}
		z.zr = zr
		z.out = bufio.NewReaderSize(zr, 16<<10)
	}
	for ty := r.Min.Y; ty < r.Max.Y; ty += 64 {
		for tx := r.Min.X; tx < r.Max.X; tx += 64 {
			tile := image.Rect(tx, ty, min(tx+64, r.Max.X), min(ty+64, r.Max.Y))
			if err := d.zrleTile(tile); err != nil {
				return err
			}
		}
	}
	return nil
}

var errZRLEUnexpected = fmt.Errorf("%w: ZRLE data ended inside a tile", ErrProtocol)

func (d *decoder) zread(n int) ([]byte, error) {
	b := d.buf[:n]
	if _, err := io.ReadFull(d.zrle.out, b); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errZRLEUnexpected
		}
		return nil, protoErr("ZRLE zlib stream: %v", err)
	}
	return b, nil
}

// zrleTile decodes one tile (RFC 6143 §7.7.6). CPIXELs are 3 bytes, R G B,
// because of the pixel format this client sets.
func (d *decoder) zrleTile(t image.Rectangle) error {
	sub, err := d.zread(1)
	if err != nil {
		return err
	}
	tw, th := t.Dx(), t.Dy()
	s := sub[0]
	var palette [128][4]byte
	switch {
	case s == 0: // raw CPIXELs
		px, err := d.zread(tw * th * 3)
		if err != nil {
			return err
		}
		for y := 0; y < th; y++ {
			off := d.img.PixOffset(t.Min.X, t.Min.Y+y)
			row := d.img.Pix[off : off+tw*4]
			src := px[y*tw*3 : (y+1)*tw*3]
			for x := 0; x < tw; x++ {
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = src[3*x], src[3*x+1], src[3*x+2], 0xff
			}
		}
		return nil
	case s == 1: // solid
		c, err := d.zread(3)
		if err != nil {
			return err
		}
		d.fill(t, [4]byte{c[0], c[1], c[2], 0xff})
		return nil
	case s <= 16: // packed palette
		if err := d.zpalette(palette[:s]); err != nil {
			return err
		}
		bits := 4
		switch {
		case s == 2:
			bits = 1
		case s <= 4:
			bits = 2
		}
		rowBytes := (tw*bits + 7) / 8
		packed, err := d.zread(rowBytes * th)
		if err != nil {
			return err
		}
		mask := byte(1<<bits - 1)
		for y := 0; y < th; y++ {
			off := d.img.PixOffset(t.Min.X, t.Min.Y+y)
			row := d.img.Pix[off : off+tw*4]
			src := packed[y*rowBytes:]
			for x := 0; x < tw; x++ {
				bit := x * bits
				idx := src[bit/8] >> (8 - bits - bit%8) & mask
				if int(idx) >= int(s) {
					return protoErr("ZRLE palette index %d beyond a palette of %d", idx, s)
				}
				copy(row[4*x:4*x+4], palette[idx][:])
			}
		}
		return nil
	case s == 128: // plain RLE
		return d.zrleRuns(t, nil)
	case s >= 130: // palette RLE
		n := int(s) - 128
		if err := d.zpalette(palette[:n]); err != nil {
			return err
		}
		return d.zrleRuns(t, palette[:n])
	default:
		return protoErr("ZRLE subencoding %d is not defined", s)
	}
}

func (d *decoder) zpalette(p [][4]byte) error {
	b, err := d.zread(3 * len(p))
	if err != nil {
		return err
	}
	for i := range p {
		p[i] = [4]byte{b[3*i], b[3*i+1], b[3*i+2], 0xff}
	}
	return nil
}

// zrleRuns decodes run-length tiles: plain (palette nil) or with a palette.
func (d *decoder) zrleRuns(t image.Rectangle, palette [][4]byte) error {
	tw := t.Dx()
	total := tw * t.Dy()
	out := d.zrle.out
	for i := 0; i < total; {
		var c [4]byte
		run := 1
		if palette == nil {
			b, err := d.zread(3)
			if err != nil {
				return err
			}
			c = [4]byte{b[0], b[1], b[2], 0xff}
			n, err := d.zrunLength(out)
			if err != nil {
				return err
			}
			run = n
		} else {
			idx, err := out.ReadByte()
			if err != nil {
				return errZRLEUnexpected
			}
			if int(idx&0x7f) >= len(palette) {
				return protoErr("ZRLE palette index %d beyond a palette of %d", idx&0x7f, len(palette))
			}
			c = palette[idx&0x7f]
			if idx&0x80 != 0 {
				n, err := d.zrunLength(out)
				if err != nil {
					return err
				}
				run = n
			}
		}
		if run > total-i {
			return protoErr("ZRLE run of %d pixels overflows the tile", run)
		}
		for ; run > 0; run-- {
			off := d.img.PixOffset(t.Min.X+i%tw, t.Min.Y+i/tw)
			copy(d.img.Pix[off:off+4], c[:])
			i++
		}
	}
	return nil
}

func (d *decoder) zrunLength(out *bufio.Reader) (int, error) {
	n := 1
	for {
		b, err := out.ReadByte()
		if err != nil {
			return 0, errZRLEUnexpected
		}
		n += int(b)
		if b != 255 {
			return n, nil
		}
		if n > 64*64 {
			return 0, protoErr("ZRLE run longer than a tile")
		}
	}
}

func (d *decoder) fill(r image.Rectangle, c [4]byte) {
	n := r.Dx() * 4
	first := d.img.PixOffset(r.Min.X, r.Min.Y)
	row := d.img.Pix[first : first+n]
	for i := 0; i < n; i += 4 {
		copy(row[i:i+4], c[:])
	}
	for y := r.Min.Y + 1; y < r.Max.Y; y++ {
		off := d.img.PixOffset(r.Min.X, y)
		copy(d.img.Pix[off:off+n], row)
	}
}
