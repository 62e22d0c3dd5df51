// Package units holds typed values that input files spell as text: a
// Size such as 16G. It is a leaf package (standard library only), so the
// config, image recipes and the renderers share one type.
package units

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

const (
	KiB = uint64(1) << 10
	MiB = uint64(1) << 20
	GiB = uint64(1) << 30
	TiB = uint64(1) << 40
)

var sizeUnits = map[string]uint64{
	"B": 1,
	"K": KiB, "KiB": KiB,
	"M": MiB, "MiB": MiB,
	"G": GiB, "GiB": GiB,
	"T": TiB, "TiB": TiB,
}

// sizeForms is the hint every size error ends with.
const sizeForms = "want a whole number with a binary unit, like 16G, 16GiB, 16384M or 512K"

// Size is a number of bytes read from text like 16G, 16GiB, 16384M or 512K.
// It keeps the text it was read from, so that it is written back (config
// defaults output, the hash of a VM's config, messages) as the user wrote
// it. The zero Size is "unset".
type Size struct {
	bytes uint64
	text  string
}

// Bytes makes a Size of n bytes, written in the largest unit that divides
// it exactly (FormatSize).
func Bytes(n uint64) Size { return Size{bytes: n, text: FormatSize(n)} }

// MustParseSize is ParseSize for constants; it panics on a bad size.
func MustParseSize(s string) Size {
	sz, err := ParseSize(s)
	if err != nil {
		panic(err)
	}
	return sz
}

// ParseSize parses a size like 16G, 16GiB, 16384M or 512K. Units are
// binary (K = 1024). Decimal units (GB, MB) and bare numbers are rejected
// rather than guessed, because both are ambiguous.
func ParseSize(s string) (Size, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	if num == "" {
		return Size{}, fmt.Errorf("invalid size %q: %s", s, sizeForms)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		switch {
		case unit == "":
			return Size{}, fmt.Errorf("invalid size %q: missing unit; %s", s, sizeForms)
		case strings.HasSuffix(unit, "B") && sizeUnits[strings.TrimSuffix(unit, "B")] > 1:
			return Size{}, fmt.Errorf("invalid size %q: %q is a decimal unit; use %s or %siB", s, unit, strings.TrimSuffix(unit, "B"), strings.TrimSuffix(unit, "B"))
		case sizeUnits[strings.ToUpper(unit)] > 1:
			return Size{}, fmt.Errorf("invalid size %q: unit %q must be upper case (%s)", s, unit, strings.ToUpper(unit))
		}
		return Size{}, fmt.Errorf("invalid size %q: %s", s, sizeForms)
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return Size{}, fmt.Errorf("invalid size %q: number too large", s)
	}
	hi, lo := bits.Mul64(n, mult)
	if hi != 0 {
		return Size{}, fmt.Errorf("invalid size %q: too large", s)
	}
	return Size{bytes: lo, text: s}, nil
}

// Bytes is the size in bytes.
func (s Size) Bytes() uint64 { return s.bytes }

// KiB is the size in KiB, rounded down.
func (s Size) KiB() uint64 { return s.bytes / KiB }

// IsSet reports whether the size was given (a given 0G is set).
func (s Size) IsSet() bool { return s.text != "" }

// IsZero reports whether the size is unset (for encoding/json's omitzero).
func (s Size) IsZero() bool { return !s.IsSet() }

// Or is s when set, otherwise def (defaults).
func (s Size) Or(def Size) Size {
	if s.IsSet() {
		return s
	}
	return def
}

// String is the size as written (16GiB stays 16GiB); "" when unset.
func (s Size) String() string { return s.text }

// MarshalText writes the size as written.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.text), nil }

// UnmarshalText reads a size with ParseSize; the error quotes the text.
func (s *Size) UnmarshalText(b []byte) error {
	sz, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = sz
	return nil
}

// FormatSize writes bytes in the largest binary unit that divides them
// exactly (16G, 1536M, 512K, 100B), the form ParseSize reads back.
func FormatSize(b uint64) string {
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"T", TiB}, {"G", GiB}, {"M", MiB}, {"K", KiB}} {
		if b != 0 && b%u.mult == 0 {
			return strconv.FormatUint(b/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatUint(b, 10) + "B"
}
