package automation

import (
	"fmt"
	"sort"
	"strings"
)

// X11 keysyms, as RFB key events carry them.
const (
	KeysymBackSpace = 0xff08
	KeysymTab       = 0xff09
	KeysymReturn    = 0xff0d
	KeysymPause     = 0xff13
	KeysymEscape    = 0xff1b
	KeysymHome      = 0xff50
	KeysymLeft      = 0xff51
	KeysymUp        = 0xff52
	KeysymRight     = 0xff53
	KeysymDown      = 0xff54
	KeysymPageUp    = 0xff55
	KeysymPageDown  = 0xff56
	KeysymEnd       = 0xff57
	KeysymPrint     = 0xff61
	KeysymInsert    = 0xff63
	KeysymMenu      = 0xff67
	KeysymF1        = 0xffbe
	KeysymShiftL    = 0xffe1
	KeysymControlL  = 0xffe3
	KeysymCapsLock  = 0xffe5
	KeysymAltL      = 0xffe9
	KeysymSuperL    = 0xffeb
	KeysymDelete    = 0xffff
)

// keyNames maps every accepted key name (lower case) to its keysym. cmd,
// win, super and meta are all the "Windows"/"Command" key: QEMU sends
// Super_L as that key's scancode, which macOS guests read as Command.
var keyNames = func() map[string]uint32 {
	m := map[string]uint32{
		"enter": KeysymReturn, "return": KeysymReturn,
		"tab":       KeysymTab,
		"space":     ' ',
		"backspace": KeysymBackSpace,
		"delete":    KeysymDelete, "del": KeysymDelete,
		"esc": KeysymEscape, "escape": KeysymEscape,
		"up": KeysymUp, "down": KeysymDown, "left": KeysymLeft, "right": KeysymRight,
		"home": KeysymHome, "end": KeysymEnd,
		"pageup": KeysymPageUp, "page_up": KeysymPageUp, "pgup": KeysymPageUp,
		"pagedown": KeysymPageDown, "page_down": KeysymPageDown, "pgdn": KeysymPageDown,
		"insert": KeysymInsert,
		"menu":   KeysymMenu, "printscreen": KeysymPrint, "pause": KeysymPause,
		"capslock": KeysymCapsLock,
		"shift":    KeysymShiftL,
		"ctrl":     KeysymControlL, "control": KeysymControlL,
		"alt": KeysymAltL, "option": KeysymAltL,
		"cmd": KeysymSuperL, "command": KeysymSuperL, "win": KeysymSuperL, "windows": KeysymSuperL,
		"super": KeysymSuperL, "meta": KeysymSuperL,
	}
	for i := 1; i <= 24; i++ {
		m[fmt.Sprintf("f%d", i)] = KeysymF1 + uint32(i-1)
	}
	return m
}()

var modifierKeysyms = map[uint32]bool{KeysymShiftL: true, KeysymControlL: true, KeysymAltL: true, KeysymSuperL: true}

// usShifted are the printable ASCII characters that need shift on a US
// keyboard (besides A-Z).
const usShifted = `~!@#$%^&*()_+{}|:"<>?`

// LookupKey returns the keysym of a key name: a name from the key table
// (case-insensitive) or one printable ASCII character.
func LookupKey(name string) (uint32, bool) {
	if len(name) == 1 && name[0] >= 0x20 && name[0] < 0x7f {
		return uint32(name[0]), true
	}
	k, ok := keyNames[strings.ToLower(name)]
	return k, ok
}

// IsModifier reports whether a keysym is shift, ctrl, alt or super.
func IsModifier(keysym uint32) bool { return modifierKeysyms[keysym] }

// KeyNames lists the accepted key names, sorted, for error messages and docs.
func KeyNames() []string {
	names := make([]string, 0, len(keyNames))
	for n := range keyNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Stroke is one character as key presses: its keysym and whether shift
// must be held on a US layout.
type Stroke struct {
	Keysym uint32
	Shift  bool
}

// CharStroke maps a character to the key that types it on a US layout.
// QEMU's extended key events are scancodes, so shift has to be pressed
// explicitly for upper case and symbols; the keysym itself is the shifted
// one so that servers reading keysyms agree.
func CharStroke(r rune) (Stroke, error) {
	switch {
	case r == '\n':
		return Stroke{Keysym: KeysymReturn}, nil
	case r == '\t':
		return Stroke{Keysym: KeysymTab}, nil
	case r >= 'A' && r <= 'Z':
		return Stroke{Keysym: uint32(r), Shift: true}, nil
	case r >= 0x20 && r < 0x7f:
		return Stroke{Keysym: uint32(r), Shift: strings.ContainsRune(usShifted, r)}, nil
	}
	return Stroke{}, fmt.Errorf("character %U cannot be typed on a US keyboard layout", r)
}
