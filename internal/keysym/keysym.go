// Package keysym is the key vocabulary shared by the VNC client and the
// automation engine: X11 keysyms as RFB key events carry them, the key
// names automation scripts use, the US-layout characters and the XT
// scancodes QEMU's extended key events want. It is a leaf package
// (standard library only).
package keysym

import (
	"fmt"
	"sort"
	"strings"
)

// Keysym is an X11 keysym. Printable ASCII characters are their own
// keysyms ('a' is 0x61); other keys have the values below.
type Keysym uint32

// Keysyms of keys without a printable character.
const (
	BackSpace  Keysym = 0xff08
	Tab        Keysym = 0xff09
	Return     Keysym = 0xff0d
	Pause      Keysym = 0xff13
	ScrollLock Keysym = 0xff14
	SysReq     Keysym = 0xff15
	Escape     Keysym = 0xff1b
	Home       Keysym = 0xff50
	Left       Keysym = 0xff51
	Up         Keysym = 0xff52
	Right      Keysym = 0xff53
	Down       Keysym = 0xff54
	PageUp     Keysym = 0xff55
	PageDown   Keysym = 0xff56
	End        Keysym = 0xff57
	Print      Keysym = 0xff61
	Insert     Keysym = 0xff63
	Menu       Keysym = 0xff67
	NumLock    Keysym = 0xff7f
	KPEnter    Keysym = 0xff8d
	F1         Keysym = 0xffbe // F2…F24 follow consecutively; see F
	F24        Keysym = 0xffd5
	ShiftL     Keysym = 0xffe1
	ShiftR     Keysym = 0xffe2
	ControlL   Keysym = 0xffe3
	ControlR   Keysym = 0xffe4
	CapsLock   Keysym = 0xffe5
	MetaL      Keysym = 0xffe7
	MetaR      Keysym = 0xffe8
	AltL       Keysym = 0xffe9
	AltR       Keysym = 0xffea
	SuperL     Keysym = 0xffeb
	SuperR     Keysym = 0xffec
	Delete     Keysym = 0xffff
	Space      Keysym = 0x0020
)

// F returns the keysym of function key Fn, 1 <= n <= 24.
func F(n int) (Keysym, bool) {
	if n < 1 || n > 24 {
		return 0, false
	}
	return F1 + Keysym(n-1), true
}

// names maps every key name scripts may use (lower case) to its keysym.
// cmd, win, super and meta are all the "Windows"/"Command" key: QEMU
// sends Super_L as that key's scancode, which macOS guests read as Command.
var names = func() map[string]Keysym {
	m := map[string]Keysym{
		"enter": Return, "return": Return,
		"tab":       Tab,
		"space":     Space,
		"backspace": BackSpace,
		"delete":    Delete, "del": Delete,
		"esc": Escape, "escape": Escape,
		"up": Up, "down": Down, "left": Left, "right": Right,
		"home": Home, "end": End,
		"pageup": PageUp, "page_up": PageUp, "pgup": PageUp,
		"pagedown": PageDown, "page_down": PageDown, "pgdn": PageDown,
		"insert": Insert,
		"menu":   Menu, "printscreen": Print, "pause": Pause,
		"capslock": CapsLock,
		"shift":    ShiftL,
		"ctrl":     ControlL, "control": ControlL,
		"alt": AltL, "option": AltL,
		"cmd": SuperL, "command": SuperL, "win": SuperL, "windows": SuperL,
		"super": SuperL, "meta": SuperL,
	}
	for i := 1; i <= 24; i++ {
		m[fmt.Sprintf("f%d", i)], _ = F(i)
	}
	return m
}()

// Lookup returns the keysym of a key name: a name from the key table
// (case-insensitive) or one printable ASCII character.
func Lookup(name string) (Keysym, bool) {
	if len(name) == 1 && name[0] >= 0x20 && name[0] < 0x7f {
		return Keysym(name[0]), true
	}
	k, ok := names[strings.ToLower(name)]
	return k, ok
}

// Names lists the accepted key names, sorted, for error messages and docs.
func Names() []string {
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// IsModifier reports whether k is (left) shift, ctrl, alt or super.
func (k Keysym) IsModifier() bool {
	switch k {
	case ShiftL, ControlL, AltL, SuperL:
		return true
	}
	return false
}

// usShifted maps each character that needs Shift on a US keyboard to the
// character on the same key without Shift.
var usShifted = map[byte]byte{
	'~': '`', '!': '1', '@': '2', '#': '3', '$': '4', '%': '5', '^': '6',
	'&': '7', '*': '8', '(': '9', ')': '0', '_': '-', '+': '=',
	'{': '[', '}': ']', '|': '\\', ':': ';', '"': '\'', '<': ',', '>': '.', '?': '/',
}

// Stroke is one character as key presses: its keysym and whether shift
// must be held on a US layout.
type Stroke struct {
	Keysym Keysym
	Shift  bool
}

// Char maps a printable ASCII character (space to '~'), or '\n' and '\t',
// to the key that types it on a US keyboard. QEMU's extended key events
// are scancodes, so shift has to be pressed explicitly for upper case and
// symbols; the keysym itself is the shifted one so that servers reading
// keysyms agree.
func Char(ch rune) (Stroke, error) {
	switch {
	case ch == '\n':
		return Stroke{Keysym: Return}, nil
	case ch == '\t':
		return Stroke{Keysym: Tab}, nil
	case ch < 0x20 || ch > 0x7e:
		return Stroke{}, fmt.Errorf("character %U cannot be typed on a US keyboard layout", ch)
	case ch >= 'A' && ch <= 'Z':
		return Stroke{Keysym: Keysym(ch), Shift: true}, nil
	}
	_, shift := usShifted[byte(ch)]
	return Stroke{Keysym: Keysym(ch), Shift: shift}, nil
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

var xtNamed = map[Keysym]uint32{
	Escape: 0x01, BackSpace: 0x0e, Tab: 0x0f, Return: 0x1c,
	ControlL: 0x1d, ShiftL: 0x2a, ShiftR: 0x36, AltL: 0x38,
	CapsLock: 0x3a, NumLock: 0x45, ScrollLock: 0x46,
	SysReq: 0x54, KPEnter: 0x9c, ControlR: 0x9d, AltR: 0xb8,
	Print: 0xb7, Pause: 0xc6,
	Home: 0xc7, Up: 0xc8, PageUp: 0xc9, Left: 0xcb, Right: 0xcd,
	End: 0xcf, Down: 0xd0, PageDown: 0xd1, Insert: 0xd2, Delete: 0xd3,
	SuperL: 0xdb, SuperR: 0xdc, MetaL: 0xdb, MetaR: 0xdc, Menu: 0xdd,
}

// xtFunction are F1…F24. F13 and above follow QEMU's numbering
// (keycodemapdb "qnum"), which is not contiguous.
var xtFunction = [24]uint32{
	0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x57, 0x58,
	0x5d, 0x5e, 0x5f, 0x55, 0x83, 0xf7, 0x84, 0x5a, 0x74, 0xf9, 0x6d, 0x6f,
}

// XTScancode returns the XT scancode (QEMU numbering: 0x80 marks an 0xE0
// prefixed key) of the key that produces k on a US keyboard. Shifted
// characters map to their key, e.g. '!' to the '1' key.
func (k Keysym) XTScancode() (uint32, bool) {
	if k >= F1 && k <= F24 {
		return xtFunction[k-F1], true
	}
	if c, ok := xtNamed[k]; ok {
		return c, true
	}
	if k >= 0x20 && k <= 0x7e {
		ch := byte(k)
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
