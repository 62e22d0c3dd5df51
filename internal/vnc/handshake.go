package vnc

import (
	"bufio"
	"crypto/des"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Security types (RFC 6143 §7.1.2).
const (
	securityInvalid = 0
	securityNone    = 1
	securityVNCAuth = 2
)

// protocolVersion is the minor version agreed with the server: 3, 7 or 8.
type protocolVersion int

// serverInit is what the server tells about itself after the handshake.
type serverInit struct {
	width, height int
	format        PixelFormat
	name          string
	version       protocolVersion
}

// PixelFormat is the RFB pixel format (RFC 6143 §7.4).
type PixelFormat struct {
	BitsPerPixel, Depth             uint8
	BigEndian, TrueColour           bool
	RedMax, GreenMax, BlueMax       uint16
	RedShift, GreenShift, BlueShift uint8
}

// rgbaFormat makes the server send pixels laid out as R, G, B, pad in
// memory, which is image.RGBA's layout apart from the alpha byte.
var rgbaFormat = PixelFormat{
	BitsPerPixel: 32, Depth: 24, BigEndian: false, TrueColour: true,
	RedMax: 255, GreenMax: 255, BlueMax: 255,
	RedShift: 0, GreenShift: 8, BlueShift: 16,
}

func (pf PixelFormat) marshal(b []byte) {
	b[0], b[1] = pf.BitsPerPixel, pf.Depth
	b[2], b[3] = boolByte(pf.BigEndian), boolByte(pf.TrueColour)
	binary.BigEndian.PutUint16(b[4:], pf.RedMax)
	binary.BigEndian.PutUint16(b[6:], pf.GreenMax)
	binary.BigEndian.PutUint16(b[8:], pf.BlueMax)
	b[10], b[11], b[12] = pf.RedShift, pf.GreenShift, pf.BlueShift
	b[13], b[14], b[15] = 0, 0, 0
}

func parsePixelFormat(b []byte) PixelFormat {
	return PixelFormat{
		BitsPerPixel: b[0], Depth: b[1], BigEndian: b[2] != 0, TrueColour: b[3] != 0,
		RedMax:   binary.BigEndian.Uint16(b[4:]),
		GreenMax: binary.BigEndian.Uint16(b[6:]),
		BlueMax:  binary.BigEndian.Uint16(b[8:]),
		RedShift: b[10], GreenShift: b[11], BlueShift: b[12],
	}
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// handshake runs the RFB opening (version, security, ClientInit,
// ServerInit) on a fresh connection.
func handshake(br *bufio.Reader, w io.Writer, o *Options) (*serverInit, error) {
	var vbuf [12]byte
	if _, err := io.ReadFull(br, vbuf[:]); err != nil {
		return nil, fmt.Errorf("read protocol version: %w", err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(string(vbuf[:]), "RFB %03d.%03d\n", &major, &minor); err != nil || major != 3 {
		return nil, fmt.Errorf("%w: not an RFB 3.x server (greeting %q)", ErrProtocol, vbuf[:])
	}
	// RFC 6143 §7.1.1: unknown minors are treated as 3.3; anything newer
	// than 3.8 (e.g. Apple's 3.889) speaks 3.8.
	ver := protocolVersion(3)
	switch {
	case minor >= 8:
		ver = 8
	case minor == 7:
		ver = 7
	}
	if _, err := fmt.Fprintf(w, "RFB 003.%03d\n", int(ver)); err != nil {
		return nil, fmt.Errorf("write protocol version: %w", err)
	}

	secType, err := negotiateSecurity(br, w, ver, o.Password != "")
	if err != nil {
		return nil, err
	}
	if secType == securityVNCAuth {
		var challenge [16]byte
		if _, err := io.ReadFull(br, challenge[:]); err != nil {
			return nil, fmt.Errorf("read vnc auth challenge: %w", err)
		}
		resp := vncAuthResponse(o.Password, challenge)
		if _, err := w.Write(resp[:]); err != nil {
			return nil, fmt.Errorf("write vnc auth response: %w", err)
		}
	}
	// 3.8 always sends a SecurityResult; earlier versions only after VNC auth.
	if ver == 8 || secType == securityVNCAuth {
		var res [4]byte
		if _, err := io.ReadFull(br, res[:]); err != nil {
			return nil, fmt.Errorf("read security result: %w", err)
		}
		if binary.BigEndian.Uint32(res[:]) != 0 {
			reason := "no reason given"
			if ver == 8 {
				if r, err := readReason(br); err == nil {
					reason = r
				}
			}
			return nil, fmt.Errorf("%w: server says %q", ErrAuth, reason)
		}
	}

	// ClientInit: the shared flag.
	if _, err := w.Write([]byte{boolByte(o.Shared)}); err != nil {
		return nil, fmt.Errorf("write client init: %w", err)
	}
	var si [24]byte
	if _, err := io.ReadFull(br, si[:]); err != nil {
		return nil, fmt.Errorf("read server init: %w", err)
	}
	init := &serverInit{
		width:   int(binary.BigEndian.Uint16(si[0:])),
		height:  int(binary.BigEndian.Uint16(si[2:])),
		format:  parsePixelFormat(si[4:20]),
		version: ver,
	}
	if err := o.checkSize(init.width, init.height); err != nil {
		return nil, fmt.Errorf("server init: %w", err)
	}
	nameLen := binary.BigEndian.Uint32(si[20:])
	if nameLen > uint32(o.MaxNameLength) {
		return nil, fmt.Errorf("%w: server init: desktop name of %d bytes exceeds the limit of %d", ErrProtocol, nameLen, o.MaxNameLength)
	}
	name := make([]byte, nameLen)
	if _, err := io.ReadFull(br, name); err != nil {
		return nil, fmt.Errorf("read desktop name: %w", err)
	}
	init.name = string(name)
	return init, nil
}

// negotiateSecurity picks a security type: None when offered, else VNC
// authentication when a password is available.
func negotiateSecurity(br *bufio.Reader, w io.Writer, ver protocolVersion, havePassword bool) (byte, error) {
	if ver == 3 {
		// 3.3: the server decides and sends a u32.
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, fmt.Errorf("read security type: %w", err)
		}
		t := binary.BigEndian.Uint32(b[:])
		switch t {
		case securityInvalid:
			reason, err := readReason(br)
			if err != nil {
				return 0, fmt.Errorf("read refusal reason: %w", err)
			}
			return 0, fmt.Errorf("%w: server refused the connection: %q", ErrProtocol, reason)
		case securityNone:
			return securityNone, nil
		case securityVNCAuth:
			if !havePassword {
				return 0, fmt.Errorf("%w: server requires a password and none was given", ErrAuth)
			}
			return securityVNCAuth, nil
		default:
			return 0, fmt.Errorf("%w: unsupported security type %d", ErrProtocol, t)
		}
	}
	n, err := br.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("read security types: %w", err)
	}
	if n == 0 {
		reason, err := readReason(br)
		if err != nil {
			return 0, fmt.Errorf("read refusal reason: %w", err)
		}
		return 0, fmt.Errorf("%w: server refused the connection: %q", ErrProtocol, reason)
	}
	types := make([]byte, n)
	if _, err := io.ReadFull(br, types); err != nil {
		return 0, fmt.Errorf("read security types: %w", err)
	}
	var hasNone, hasAuth bool
	for _, t := range types {
		hasNone = hasNone || t == securityNone
		hasAuth = hasAuth || t == securityVNCAuth
	}
	var choice byte
	switch {
	case hasNone:
		choice = securityNone
	case hasAuth && havePassword:
		choice = securityVNCAuth
	case hasAuth:
		return 0, fmt.Errorf("%w: server requires a password and none was given", ErrAuth)
	default:
		return 0, fmt.Errorf("%w: no supported security type among %v (supported: 1 None, 2 VNC authentication)", ErrProtocol, types)
	}
	if _, err := w.Write([]byte{choice}); err != nil {
		return 0, fmt.Errorf("write security type: %w", err)
	}
	return choice, nil
}

// maxReasonLength bounds failure reason strings; they are only shown to
// a person, so anything longer is truncated.
const maxReasonLength = 4096

func readReason(br *bufio.Reader) (string, error) {
	var b [4]byte
	if _, err := io.ReadFull(br, b[:]); err != nil {
		return "", err
	}
	n := int64(binary.BigEndian.Uint32(b[:]))
	keep := min(n, maxReasonLength)
	buf := make([]byte, keep)
	if _, err := io.ReadFull(br, buf); err != nil {
		return "", err
	}
	if _, err := io.CopyN(io.Discard, br, n-keep); err != nil {
		return "", err
	}
	// QEMU counts a C string's terminating NUL in the length.
	return strings.TrimRight(string(buf), "\x00"), nil
}

// vncAuthResponse encrypts the challenge with DES-ECB, keyed by the first
// eight bytes of the password with the bits of each byte reversed (a quirk
// of the original VNC implementation that every server expects).
func vncAuthResponse(password string, challenge [16]byte) [16]byte {
	var key [8]byte
	copy(key[:], password)
	for i, b := range key {
		key[i] = reverseBits(b)
	}
	block, err := des.NewCipher(key[:])
	if err != nil {
		// des.NewCipher only fails for a key that is not 8 bytes long.
		panic(err)
	}
	var out [16]byte
	block.Encrypt(out[0:8], challenge[0:8])
	block.Encrypt(out[8:16], challenge[8:16])
	return out
}

func reverseBits(b byte) byte {
	b = b>>4 | b<<4
	b = (b&0xcc)>>2 | (b&0x33)<<2
	b = (b&0xaa)>>1 | (b&0x55)<<1
	return b
}
