package keysym

import "testing"

func TestLookup(t *testing.T) {
	for name, want := range map[string]Keysym{
		"enter": Return, "ENTER": Return, "esc": Escape, "f1": F1, "F24": F24, "cmd": SuperL,
		"win": SuperL, "pgdn": PageDown, "a": 'a', "Z": 'Z', "~": '~', " ": Space,
	} {
		if got, ok := Lookup(name); !ok || got != want {
			t.Errorf("Lookup(%q) = %#x, %v; want %#x", name, got, ok, want)
		}
	}
	for _, bad := range []string{"", "f0", "f25", "escap", "é"} {
		if k, ok := Lookup(bad); ok {
			t.Errorf("Lookup(%q) = %#x, want unknown", bad, k)
		}
	}
	if len(Names()) < 50 || Names()[0] > Names()[1] {
		t.Errorf("Names = %v", Names())
	}
}

func TestChar(t *testing.T) {
	for c := rune(0x20); c <= 0x7e; c++ {
		st, err := Char(c)
		if err != nil || st.Keysym != Keysym(c) {
			t.Errorf("Char(%q) = %+v, %v", c, st, err)
		}
		if _, ok := st.Keysym.XTScancode(); !ok {
			t.Errorf("%q has no US key", c)
		}
	}
	for c, shift := range map[rune]bool{'a': false, 'A': true, '1': false, '!': true, '/': false, '?': true} {
		if st, _ := Char(c); st.Shift != shift {
			t.Errorf("Char(%q).Shift = %v", c, st.Shift)
		}
	}
	if st, err := Char('\n'); err != nil || st.Keysym != Return {
		t.Errorf("newline = %+v, %v", st, err)
	}
	if _, err := Char('é'); err == nil || err.Error() != "character U+00E9 cannot be typed on a US keyboard layout" {
		t.Errorf("é: %v", err)
	}
}

// Scancodes as QEMU numbers them (keycodemapdb qnum): shifted characters
// on their base key, 0xE0-prefixed keys with 0x80.
func TestXTScancode(t *testing.T) {
	for k, want := range map[Keysym]uint32{
		'a': 0x1e, 'A': 0x1e, '!': 0x02, '1': 0x02, Up: 0xc8, Return: 0x1c, SuperL: 0xdb,
		F1: 0x3b, F1 + 12: 0x5d, F24: 0x6f, Delete: 0xd3,
	} {
		if got, ok := k.XTScancode(); !ok || got != want {
			t.Errorf("%#x.XTScancode() = %#x, %v; want %#x", k, got, ok, want)
		}
	}
	if _, ok := Keysym(0x20ac).XTScancode(); ok {
		t.Error("EuroSign has a US key")
	}
	if !ShiftL.IsModifier() || !SuperL.IsModifier() || Return.IsModifier() || Keysym('a').IsModifier() {
		t.Error("IsModifier wrong")
	}
}
