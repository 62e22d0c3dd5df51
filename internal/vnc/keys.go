package vnc

import "strings"

// X11 keysyms for keys without a printable character. Printable ASCII
// characters are their own keysyms (see ASCIIKeysym).
const (
	KeyBackspace  uint32 = 0xff08
	KeyTab        uint32 = 0xff09
	KeyReturn     uint32 = 0xff0d
	KeyPause      uint32 = 0xff13
	KeyScrollLock uint32 = 0xff14
	KeySysReq     uint32 = 0xff15
	KeyEscape     uint32 = 0xff1b
	KeyHome       uint32 = 0xff50
	KeyLeft       uint32 = 0xff51
	KeyUp         uint32 = 0xff52
	KeyRight      uint32 = 0xff53
	KeyDown       uint32 = 0xff54
	KeyPageUp     uint32 = 0xff55
	KeyPageDown   uint32 = 0xff56
	KeyEnd        uint32 = 0xff57
	KeyPrint      uint32 = 0xff61
	KeyInsert     uint32 = 0xff63
	KeyMenu       uint32 = 0xff67
	KeyNumLock    uint32 = 0xff7f
	KeyKPEnter    uint32 = 0xff8d
	KeyF1         uint32 = 0xffbe // F2…F24 follow consecutively; see KeyF
	KeyF24        uint32 = 0xffd5
	KeyShiftL     uint32 = 0xffe1
	KeyShiftR     uint32 = 0xffe2
	KeyControlL   uint32 = 0xffe3
	KeyControlR   uint32 = 0xffe4
	KeyCapsLock   uint32 = 0xffe5
	KeyMetaL      uint32 = 0xffe7
	KeyMetaR      uint32 = 0xffe8
	KeyAltL       uint32 = 0xffe9
	KeyAltR       uint32 = 0xffea
	KeySuperL     uint32 = 0xffeb
	KeySuperR     uint32 = 0xffec
	KeyDelete     uint32 = 0xffff
	KeySpace      uint32 = 0x0020
)

// KeyF returns the keysym of function key Fn, 1 <= n <= 24.
func KeyF(n int) (uint32, bool) {
	if n < 1 || n > 24 {
		return 0, false
	}
	return KeyF1 + uint32(n-1), true
}

// usShifted maps each character that needs Shift on a US keyboard to the
// character on the same key without Shift.
var usShifted = map[byte]byte{
	'~': '`', '!': '1', '@': '2', '#': '3', '$': '4', '%': '5', '^': '6',
	'&': '7', '*': '8', '(': '9', ')': '0', '_': '-', '+': '=',
	'{': '[', '}': ']', '|': '\\', ':': ';', '"': '\'', '<': ',', '>': '.', '?': '/',
}

// ASCIIKeysym maps a printable ASCII character (space to '~'), or '\n'
// and '\t', to its keysym and says whether Shift must be held for it on a
// US keyboard.
func ASCIIKeysym(ch rune) (keysym uint32, shift bool, ok bool) {
	switch {
	case ch == '\n':
		return KeyReturn, false, true
	case ch == '\t':
		return KeyTab, false, true
	case ch < 0x20 || ch > 0x7e:
		return 0, false, false
	case ch >= 'A' && ch <= 'Z':
		return uint32(ch), true, true
	}
	_, shift = usShifted[byte(ch)]
	return uint32(ch), shift, true
}

// xtBase holds set-1 XT scancodes of the US layout's unshifted
// characters. Keys with an 0xE0 prefix are written 0x80|code, which is
// how QEMU's extended key event numbers them.
var xtBase = map[byte]uint32{
	'1': 0x02, '2': 0x03, '3': 0x04, '4': 0x05, '5': 0x06, '6': 0x07, '7': 0x08,
	'8': 0x09, '9': 0x0a, '0': 0x0b, '-': 0x0c, '=': 0x0d,
	'q': 0x10, 'w': 0x11, 'e': 0x12, 'r': 0x13, 't': 0x14, 'y': 0x15, 'u': 0x16,
	'i': 0x17, 'o': 0x18, 'p': 0x19, '[': 0x1a, ']': 0x1b,
	'a': 0x1e, 's': 0x1f, 'd': 0x20, 'f': 0x21, 'g': 0x22, 'h': 0x23, 'j': 0x24,
	'k': 0x25, 'l': 0x26, ';': 0x27, '\'': 0x28, '`': 0x29, '\\': 0x2b,
	'z': 0x2c, 'x': 0x2d, 'c': 0x2e, 'v': 0x2f, 'b': 0x30, 'n': 0x31, 'm': 0x32,
	',': 0x33, '.': 0x34, '/': 0x35, ' ': 0x39,
}

var xtNamed = map[uint32]uint32{
	KeyEscape: 0x01, KeyBackspace: 0x0e, KeyTab: 0x0f, KeyReturn: 0x1c,
	KeyControlL: 0x1d, KeyShiftL: 0x2a, KeyShiftR: 0x36, KeyAltL: 0x38,
	KeyCapsLock: 0x3a, KeyNumLock: 0x45, KeyScrollLock: 0x46,
	KeySysReq: 0x54, KeyKPEnter: 0x9c, KeyControlR: 0x9d, KeyAltR: 0xb8,
	KeyPrint: 0xb7, KeyPause: 0xc6,
	KeyHome: 0xc7, KeyUp: 0xc8, KeyPageUp: 0xc9, KeyLeft: 0xcb, KeyRight: 0xcd,
	KeyEnd: 0xcf, KeyDown: 0xd0, KeyPageDown: 0xd1, KeyInsert: 0xd2, KeyDelete: 0xd3,
	KeySuperL: 0xdb, KeySuperR: 0xdc, KeyMetaL: 0xdb, KeyMetaR: 0xdc, KeyMenu: 0xdd,
}

// xtFunction are F1…F24. F13 and above follow QEMU's numbering
// (keycodemapdb "qnum"), which is not contiguous.
var xtFunction = [24]uint32{
	0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x57, 0x58,
	0x5d, 0x5e, 0x5f, 0x55, 0x83, 0xf7, 0x84, 0x5a, 0x74, 0xf9, 0x6d, 0x6f,
}

// XTScancode returns the XT scancode (QEMU numbering: 0x80 marks an 0xE0
// prefixed key) of the key that produces keysym on a US keyboard. Shifted
// characters map to their key, e.g. '!' to the '1' key.
func XTScancode(keysym uint32) (uint32, bool) {
	if keysym >= KeyF1 && keysym <= KeyF24 {
		return xtFunction[keysym-KeyF1], true
	}
	if c, ok := xtNamed[keysym]; ok {
		return c, true
	}
	if keysym >= 0x20 && keysym <= 0x7e {
		ch := byte(keysym)
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if base, ok := usShifted[ch]; ok {
			ch = base
		}
		c, ok := xtBase[ch]
		return c, ok
	}
	return 0, false
}

// keyNames are the key names automation scripts use (PRODUCT.md §3.1).
var keyNames = map[string]uint32{
	"enter": KeyReturn, "return": KeyReturn, "tab": KeyTab, "space": KeySpace,
	"backspace": KeyBackspace, "delete": KeyDelete, "del": KeyDelete,
	"esc": KeyEscape, "escape": KeyEscape,
	"up": KeyUp, "down": KeyDown, "left": KeyLeft, "right": KeyRight,
	"home": KeyHome, "end": KeyEnd, "pageup": KeyPageUp, "pagedown": KeyPageDown,
	"insert": KeyInsert, "menu": KeyMenu,
	"shift": KeyShiftL, "ctrl": KeyControlL, "control": KeyControlL, "alt": KeyAltL,
	"cmd": KeySuperL, "win": KeySuperL, "super": KeySuperL, "meta": KeySuperL,
}

// KeysymByName looks up a key by the names automation scripts use:
// enter/return, tab, space, backspace, delete, esc/escape, arrows, home,
// end, pageup, pagedown, insert, f1…f24, shift, ctrl, alt,
// cmd/win/super/meta, or a single printable ASCII character.
// Case-insensitive.
func KeysymByName(name string) (uint32, bool) {
	if len(name) == 1 {
		k, _, ok := ASCIIKeysym(rune(name[0]))
		return k, ok
	}
	n := strings.ToLower(name)
	if k, ok := keyNames[n]; ok {
		return k, true
	}
	if len(n) >= 2 && n[0] == 'f' {
		v := 0
		for _, c := range n[1:] {
			if c < '0' || c > '9' || v > 24 {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		if n[1] != '0' {
			return KeyF(v)
		}
	}
	return 0, false
}
