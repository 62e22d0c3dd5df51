package automation

import (
	"fmt"
	"sort"
	"strings"

	"github.com/deskvm/deskvm/internal/vnc"
)

// X11 keysyms, as RFB key events carry them (the vnc package's table).
const (
	KeysymBackSpace = vnc.KeyBackspace
	KeysymTab       = vnc.KeyTab
	KeysymReturn    = vnc.KeyReturn
	KeysymPause     = vnc.KeyPause
	KeysymEscape    = vnc.KeyEscape
	KeysymHome      = vnc.KeyHome
	KeysymLeft      = vnc.KeyLeft
	KeysymUp        = vnc.KeyUp
	KeysymRight     = vnc.KeyRight
	KeysymDown      = vnc.KeyDown
	KeysymPageUp    = vnc.KeyPageUp
	KeysymPageDown  = vnc.KeyPageDown
	KeysymEnd       = vnc.KeyEnd
	KeysymPrint     = vnc.KeyPrint
	KeysymInsert    = vnc.KeyInsert
	KeysymMenu      = vnc.KeyMenu
	KeysymF1        = vnc.KeyF1
	KeysymShiftL    = vnc.KeyShiftL
	KeysymControlL  = vnc.KeyControlL
	KeysymCapsLock  = vnc.KeyCapsLock
	KeysymAltL      = vnc.KeyAltL
	KeysymSuperL    = vnc.KeySuperL
	KeysymDelete    = vnc.KeyDelete
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

// CharStroke maps a character to the key that types it on a US layout
// (the vnc package's table). QEMU's extended key events are scancodes, so
// shift has to be pressed explicitly for upper case and symbols; the
// keysym itself is the shifted one so that servers reading keysyms agree.
func CharStroke(r rune) (Stroke, error) {
	sym, shift, ok := vnc.ASCIIKeysym(r)
	if !ok {
		return Stroke{}, fmt.Errorf("character %U cannot be typed on a US keyboard layout", r)
	}
	return Stroke{Keysym: sym, Shift: shift}, nil
}
