// Package vnc is an RFB 3.8 client (RFC 6143) for reading a virtual
// machine's screen and sending it keys and pointer events.
//
// A Client keeps a live copy of the remote framebuffer: a goroutine reads
// the server's updates into it and keeps one incremental update request
// outstanding at all times, so changes arrive as soon as the server has
// them. Consumers take consistent copies with Snapshot and learn about
// changes through Subscribe or WaitUpdate rather than by polling.
//
// The client asks for 32-bit little-endian true colour laid out like
// image.RGBA, and understands the Raw, CopyRect and ZRLE encodings, the
// DesktopSize and ExtendedDesktopSize pseudo-encodings (the framebuffer
// follows the guest's resolution) and QEMU's extended key event, which
// sends layout-independent XT scancodes.
//
// Every size the server announces is checked against Options limits before
// anything is allocated, so a hostile server cannot make the client
// allocate without bound or panic.
package vnc

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskvm/deskvm/internal/keysym"
)

// Encoding is an RFB encoding or pseudo-encoding number.
type Encoding int32

// Encodings this client understands.
const (
	EncodingRaw                 Encoding = 0
	EncodingCopyRect            Encoding = 1
	EncodingZRLE                Encoding = 16
	EncodingDesktopSize         Encoding = -223
	EncodingQEMUExtendedKey     Encoding = -258
	EncodingExtendedDesktopSize Encoding = -308
)

// DefaultEncodings is what Dial announces when Options.Encodings is nil,
// in order of preference. Raw comes before ZRLE because over loopback the
// server's zlib work costs more than moving raw pixels (see
// docs/benchmarks.md, section VNC).
var DefaultEncodings = []Encoding{
	EncodingRaw, EncodingCopyRect, EncodingZRLE,
	EncodingDesktopSize, EncodingExtendedDesktopSize,
	EncodingQEMUExtendedKey,
}

// QEMU's pointer-type-change pseudo-encoding (-257) is deliberately not
// supported: once a client announces it, QEMU reads pointer positions of a
// relative mouse as offsets from 0x7FFF, so absolute clicks would fly off.

// Options configure a connection. The zero value is usable: no password,
// exclusive access, no logging, default limits.
type Options struct {
	// Password for VNC authentication (security type 2). Only its first 8
	// bytes are used, as in every VNC implementation. Never logged.
	Password string
	// Shared asks the server to keep other clients connected.
	Shared bool
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
	// Encodings to announce, in order of preference; nil means
	// DefaultEncodings. Raw is always understood even if not listed.
	Encodings []Encoding
	// DisableExtendedKeyEvent makes KeyEvent always send plain keysym
	// events even when the server offers QEMU's extended key event.
	DisableExtendedKeyEvent bool

	// Limits against a hostile or broken server. Zero means the default.
	MaxWidth, MaxHeight int // default 16384 each
	MaxPixels           int // width*height, default 8192*4096 (128 MiB of RGBA)
	MaxRects            int // rectangles in one FramebufferUpdate, default 65535
	MaxNameLength       int // desktop name, default 65536 bytes
	MaxCutText          int // longer server clipboard texts are skipped, default 1 MiB

	// WriteTimeout bounds each message sent to the server when the
	// caller's context has no earlier deadline; default 10 s.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds Dial's handshake when ctx has no deadline;
	// default 30 s.
	HandshakeTimeout time.Duration

	// RefreshKeepAlive is how often, with no other input going out, the
	// client nudges QEMU to keep scanning the screen quickly (see
	// keepRefreshing). Default 100 ms; negative disables it.
	RefreshKeepAlive time.Duration

	// OnBell is called from the reader goroutine for each Bell message.
	// It must not block.
	OnBell func()
	// OnCutText is called from the reader goroutine with the server's
	// clipboard text (Latin-1 decoded). It must not block.
	OnCutText func(text string)
}

func (o *Options) setDefaults() {
	if o.MaxWidth <= 0 {
		o.MaxWidth = 16384
	}
	if o.MaxHeight <= 0 {
		o.MaxHeight = 16384
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = 8192 * 4096
	}
	if o.MaxRects <= 0 {
		o.MaxRects = 65535
	}
	if o.MaxNameLength <= 0 {
		o.MaxNameLength = 1 << 16
	}
	if o.MaxCutText <= 0 {
		o.MaxCutText = 1 << 20
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 30 * time.Second
	}
	if o.RefreshKeepAlive == 0 {
		o.RefreshKeepAlive = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Encodings == nil {
		o.Encodings = DefaultEncodings
	}
}

func (o *Options) checkSize(w, h int) error {
	if w > o.MaxWidth || h > o.MaxHeight || w*h > o.MaxPixels {
		return fmt.Errorf("%w: framebuffer %dx%d exceeds the limit (%dx%d, %d pixels)", ErrProtocol, w, h, o.MaxWidth, o.MaxHeight, o.MaxPixels)
	}
	return nil
}

// Update describes one complete FramebufferUpdate (or several, merged for
// a subscriber that fell behind).
type Update struct {
	// Seq is the framebuffer's sequence number after this update; it
	// grows by one per FramebufferUpdate message.
	Seq uint64
	// Rects are the changed areas in framebuffer coordinates. They may
	// overlap. After a resize they cover the whole new framebuffer once
	// it has been painted.
	Rects []image.Rectangle
	// Resized is set when the framebuffer size changed; Size is the new size.
	Resized bool
	Size    image.Point
}

// maxMergedRects bounds an Update merged for a slow subscriber; beyond it
// the rectangles collapse into their bounding box.
const maxMergedRects = 1024

func (u *Update) merge(n Update) {
	u.Seq = n.Seq
	u.Resized = u.Resized || n.Resized
	u.Size = n.Size
	if len(u.Rects)+len(n.Rects) > maxMergedRects {
		var b image.Rectangle
		for _, r := range u.Rects {
			b = b.Union(r)
		}
		for _, r := range n.Rects {
			b = b.Union(r)
		}
		u.Rects = []image.Rectangle{b}
		return
	}
	u.Rects = append(append([]image.Rectangle(nil), u.Rects...), n.Rects...)
}

// Client is a connection to one RFB server. Its methods are safe for
// concurrent use.
type Client struct {
	conn net.Conn
	opts Options
	log  *slog.Logger
	name string

	extKeys   atomic.Bool  // server acknowledged QEMU extended key events
	lastInput atomic.Int64 // unix nanoseconds of the last key or pointer message

	wmu sync.Mutex // serialises writes so messages never interleave

	dec *decoder // owned by the reader goroutine

	mu       sync.Mutex
	pub      *image.RGBA // state after the last complete update
	seq      uint64
	complete bool          // every pixel of pub has been received
	changed  chan struct{} // closed and replaced after each update
	subs     map[*subscriber]struct{}

	done      chan struct{}
	errOnce   sync.Once
	err       error
	closeOnce sync.Once
}

type subscriber struct{ ch chan Update }

// Dial connects to addr and completes the RFB handshake. addr is
// "host:port" for TCP or "unix:/path" for a Unix socket. The returned
// client already has an update request outstanding; use WaitFullFrame to
// wait for the first complete picture.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	network, address := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", p
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("vnc: dial %s: %w", addr, err)
	}
	c, err := NewClient(ctx, conn, opts)
	if err != nil {
		return nil, fmt.Errorf("vnc %s: %w", addr, err)
	}
	return c, nil
}

// NewClient runs the RFB handshake on an established connection and takes
// ownership of it (it is closed on failure and by Close).
func NewClient(ctx context.Context, conn net.Conn, opts Options) (*Client, error) {
	opts.setDefaults()
	br := bufio.NewReaderSize(conn, 64<<10)

	deadline := time.Now().Add(opts.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	init, err := handshake(br, conn, &opts)
	if !stop() || ctx.Err() != nil {
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		conn.Close()
		if d, ok := ctx.Deadline(); ok && ctx.Err() == nil && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
			// The connection's deadline was the context's; say so even if
			// the context has not noticed yet.
			err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
		} else if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, fmt.Errorf("handshake: %w", err)
	}
	conn.SetDeadline(time.Time{})

	c := &Client{
		conn:    conn,
		opts:    opts,
		log:     opts.Logger,
		name:    init.name,
		changed: make(chan struct{}),
		subs:    map[*subscriber]struct{}{},
		done:    make(chan struct{}),
	}
	c.dec = newDecoder(br, &c.opts, init.width, init.height)
	c.pub = image.NewRGBA(image.Rect(0, 0, init.width, init.height))
	c.log.Debug("vnc connected", "name", init.name, "width", init.width, "height", init.height,
		"protocol", fmt.Sprintf("3.%d", init.version), "server_bpp", init.format.BitsPerPixel)

	if err := c.sendSetup(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	go c.readLoop()
	if c.opts.RefreshKeepAlive > 0 {
		go c.keepRefreshing(c.opts.RefreshKeepAlive)
	}
	return c, nil
}

func (c *Client) sendSetup(ctx context.Context) error {
	msg := make([]byte, 0, 20+4+4*len(c.opts.Encodings)+10)
	var pf [20]byte // SetPixelFormat: type 0, 3 padding, format
	rgbaFormat.marshal(pf[4:])
	msg = append(msg, pf[:]...)
	encs := c.opts.Encodings
	msg = append(msg, 2, 0) // SetEncodings
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(encs)))
	for _, e := range encs {
		msg = binary.BigEndian.AppendUint32(msg, uint32(e))
	}
	w, h := c.dec.size()
	msg = appendUpdateRequest(msg, false, w, h)
	if err := c.send(ctx, msg); err != nil {
		return fmt.Errorf("send setup: %w", err)
	}
	return nil
}

func appendUpdateRequest(b []byte, incremental bool, w, h int) []byte {
	b = append(b, 3, boolByte(incremental), 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	return binary.BigEndian.AppendUint16(b, uint16(h))
}

// send writes one complete message. A write that fails part way leaves
// the stream corrupt, so it ends the connection.
func (c *Client) send(ctx context.Context, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-c.done:
		return c.err
	default:
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	deadline := time.Now().Add(c.opts.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.conn.SetWriteDeadline(deadline)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.conn.SetWriteDeadline(time.Unix(1, 0))
		close(fired)
	})
	n, err := c.conn.Write(msg)
	if !stop() {
		<-fired // so the late deadline cannot hit the next write
	}
	if err == nil {
		return nil
	}
	if n == 0 && ctx.Err() != nil {
		return ctx.Err()
	}
	c.fail(fmt.Errorf("write: %w", err))
	return c.err
}

// fail records why the connection ended and closes it. The first call wins.
func (c *Client) fail(cause error) {
	c.errOnce.Do(func() {
		if errors.Is(cause, ErrClosed) {
			c.err = ErrClosed
		} else {
			c.err = fmt.Errorf("%w: %w", ErrDisconnected, cause)
			c.log.Debug("vnc disconnected", "err", cause)
		}
		c.conn.Close()
		close(c.done)
	})
}

// Close ends the connection. Calls after Close return ErrClosed.
func (c *Client) Close() error {
	c.closeOnce.Do(func() { c.fail(ErrClosed) })
	return nil
}

// Done is closed when the connection has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is nil while connected, ErrClosed after Close, and otherwise an
// error wrapping ErrDisconnected.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Name is the desktop name from ServerInit.
func (c *Client) Name() string { return c.name }

// ExtendedKeyEvents reports whether KeyEvent sends QEMU extended key
// events (the server offered them and they were not disabled).
func (c *Client) ExtendedKeyEvents() bool {
	return c.extKeys.Load() && !c.opts.DisableExtendedKeyEvent
}

// Size is the current framebuffer size.
func (c *Client) Size() image.Point {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pub.Rect.Size()
}

// Seq is the number of FramebufferUpdates applied so far.
func (c *Client) Seq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// Snapshot returns a copy of the framebuffer as it was after the last
// complete FramebufferUpdate (never a half-applied one).
func (c *Client) Snapshot() *image.RGBA {
	img, _ := c.SnapshotSeq()
	return img
}

// SnapshotSeq is Snapshot plus the sequence number the copy belongs to.
func (c *Client) SnapshotSeq() (*image.RGBA, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := &image.RGBA{
		Pix:    append([]byte(nil), c.pub.Pix...),
		Stride: c.pub.Stride,
		Rect:   c.pub.Rect,
	}
	return img, c.seq
}

// Subscribe returns a channel that receives an Update after each complete
// FramebufferUpdate published after the call (compare Seq to tell what
// came before). The reader never blocks on a subscriber: if one has
// not taken the previous Update yet, the two are merged, so no change is
// lost. cancel releases the subscription; the channel is closed when the
// connection ends or cancel is called.
func (c *Client) Subscribe() (<-chan Update, func()) {
	s := &subscriber{ch: make(chan Update, 1)}
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		close(s.ch)
		return s.ch, func() {}
	default:
	}
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			c.mu.Lock()
			if _, ok := c.subs[s]; ok {
				delete(c.subs, s)
				close(s.ch)
			}
			c.mu.Unlock()
		})
	}
}

// WaitUpdate blocks until the sequence number exceeds since and returns
// the new one.
func (c *Client) WaitUpdate(ctx context.Context, since uint64) (uint64, error) {
	return c.waitFor(ctx, func() bool { return c.seq > since })
}

// WaitFullFrame blocks until every pixel of the current framebuffer has
// been received at least once since connecting (or since the last
// resize), and returns the sequence number at that point.
func (c *Client) WaitFullFrame(ctx context.Context) (uint64, error) {
	return c.waitFor(ctx, func() bool { return c.complete })
}

func (c *Client) waitFor(ctx context.Context, cond func() bool) (uint64, error) {
	for {
		c.mu.Lock()
		ok, seq, ch := cond(), c.seq, c.changed
		c.mu.Unlock()
		if ok {
			return seq, nil
		}
		select {
		case <-ch:
		case <-c.done:
			return seq, c.err
		case <-ctx.Done():
			return seq, ctx.Err()
		}
	}
}

// RequestUpdate sends a FramebufferUpdateRequest for the whole screen. The
// client already keeps an incremental request outstanding; a
// non-incremental one makes the server resend everything.
func (c *Client) RequestUpdate(ctx context.Context, incremental bool) error {
	sz := c.Size()
	return c.send(ctx, appendUpdateRequest(make([]byte, 0, 10), incremental, sz.X, sz.Y))
}

// Pointer button masks for PointerEvent.
const (
	ButtonLeft      uint8 = 1 << 0
	ButtonMiddle    uint8 = 1 << 1
	ButtonRight     uint8 = 1 << 2
	ButtonWheelUp   uint8 = 1 << 3
	ButtonWheelDown uint8 = 1 << 4
)

// PointerEvent moves the pointer to (x, y) with the given buttons held.
// A click is a PointerEvent with the button followed by one without.
func (c *Client) PointerEvent(ctx context.Context, x, y int, buttons uint8) error {
	sz := c.Size()
	if x < 0 || y < 0 || x >= sz.X || y >= sz.Y {
		return fmt.Errorf("vnc: pointer position (%d,%d) outside the %dx%d screen", x, y, sz.X, sz.Y)
	}
	msg := []byte{5, buttons, byte(x >> 8), byte(x), byte(y >> 8), byte(y)}
	return c.sendInput(ctx, msg)
}

// KeyEvent presses (down) or releases a key given as an X11 keysym. When
// the server offered QEMU's extended key event and the keysym has a US
// layout XT scancode, the scancode is sent too, so the guest sees the
// physical key whatever keymap QEMU was started with. Shifted characters
// are not shifted automatically: press keysym.ShiftL around them (see
// keysym.Char).
func (c *Client) KeyEvent(ctx context.Context, k keysym.Keysym, down bool) error {
	if c.ExtendedKeyEvents() {
		if code, ok := k.XTScancode(); ok {
			msg := make([]byte, 12)
			msg[0], msg[1] = 255, 0
			binary.BigEndian.PutUint16(msg[2:], uint16(boolByte(down)))
			binary.BigEndian.PutUint32(msg[4:], uint32(k))
			binary.BigEndian.PutUint32(msg[8:], code)
			return c.sendInput(ctx, msg)
		}
	}
	msg := []byte{4, boolByte(down), 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(msg[4:], uint32(k))
	return c.sendInput(ctx, msg)
}

func (c *Client) sendInput(ctx context.Context, msg []byte) error {
	c.lastInput.Store(time.Now().UnixNano())
	return c.send(ctx, msg)
}

// keepRefreshing works around QEMU's adaptive screen refresh: while the
// screen is idle QEMU scans it less and less often, up to every 3 s, so a
// change the guest makes on its own (a dialog appearing) would reach the
// client up to 3 s late. Any client message of type 4 or above resets
// QEMU's interval to 30 ms. A key release for a key that is not pressed is
// such a message that QEMU filters out before the guest sees it
// (qkbd_state_key_event drops key-ups without a key-down), so it is sent
// whenever no other input went out for a period. Only QEMU (recognised by
// its extended key event) gets it.
func (c *Client) keepRefreshing(period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	msg := make([]byte, 12)
	msg[0] = 255
	binary.BigEndian.PutUint32(msg[4:], uint32(keysym.F24))
	code, _ := keysym.F24.XTScancode()
	binary.BigEndian.PutUint32(msg[8:], code)
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		if !c.extKeys.Load() || time.Since(time.Unix(0, c.lastInput.Load())) < period {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.WriteTimeout)
		err := c.sendInput(ctx, msg)
		cancel()
		if err != nil {
			return
		}
	}
}

// ClientCutText sends text to the server's clipboard. RFB carries Latin-1;
// other characters are replaced by '?'.
func (c *Client) ClientCutText(ctx context.Context, text string) error {
	msg := make([]byte, 8, 8+len(text))
	msg[0] = 6
	latin := make([]byte, 0, len(text))
	for _, r := range text {
		if r > 0xff {
			r = '?'
		}
		latin = append(latin, byte(r))
	}
	binary.BigEndian.PutUint32(msg[4:], uint32(len(latin)))
	return c.send(ctx, append(msg, latin...))
}

// readLoop applies server messages until the connection ends.
func (c *Client) readLoop() {
	bg := context.Background()
	for {
		ev, err := c.dec.next()
		if err != nil {
			c.fail(err)
			c.closeSubscribers()
			return
		}
		// Before publishing, so that whoever wakes on the update sees it.
		if ev.extKey && !c.extKeys.Swap(true) {
			c.log.Debug("vnc server offers QEMU extended key events")
		}
		switch ev.kind {
		case eventUpdate:
			c.publish(ev)
			// Keep exactly one request in flight: the server answers an
			// incremental request as soon as something changes.
			w, h := c.dec.size()
			if err := c.send(bg, appendUpdateRequest(make([]byte, 0, 10), !ev.resized, w, h)); err != nil {
				c.closeSubscribers()
				return
			}
		case eventBell:
			if c.opts.OnBell != nil {
				c.opts.OnBell()
			}
		case eventCutText:
			if c.opts.OnCutText != nil {
				c.opts.OnCutText(ev.text)
			}
		}
	}
}

// publish copies the changed rectangles of the decoder's working image to
// the published one and tells waiters and subscribers.
func (c *Client) publish(ev event) {
	work := c.dec.img
	c.mu.Lock()
	if ev.resized || c.pub.Rect != work.Rect {
		c.pub = image.NewRGBA(work.Rect)
		copy(c.pub.Pix, work.Pix)
		c.log.Debug("vnc framebuffer resized", "width", work.Rect.Dx(), "height", work.Rect.Dy())
	} else {
		for _, r := range ev.rects {
			copyRect(c.pub, work, r)
		}
	}
	c.seq++
	c.complete = c.dec.complete()
	u := Update{Seq: c.seq, Rects: ev.rects, Resized: ev.resized, Size: work.Rect.Size()}
	for s := range c.subs {
		select {
		case s.ch <- u:
		default:
			// The subscriber has an unread Update: merge with it. Only this
			// goroutine sends, so after taking the old one the send succeeds.
			m := u
			select {
			case old := <-s.ch:
				old.merge(u)
				m = old
			default:
			}
			s.ch <- m
		}
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *Client) closeSubscribers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		delete(c.subs, s)
		close(s.ch)
	}
}

// copyRect copies r (inside both images) from src to dst row by row.
func copyRect(dst, src *image.RGBA, r image.Rectangle) {
	r = r.Intersect(dst.Rect).Intersect(src.Rect)
	if r.Empty() {
		return
	}
	n := r.Dx() * 4
	for y := r.Min.Y; y < r.Max.Y; y++ {
		d := dst.PixOffset(r.Min.X, y)
		s := src.PixOffset(r.Min.X, y)
		copy(dst.Pix[d:d+n], src.Pix[s:s+n])
	}
}
