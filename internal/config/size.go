package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// maxCPUID bounds CPU numbers in a CPU set, so a typo like 1000000 is an
// error instead of a huge allocation; libvirt's own limit is similar.
const maxCPUID = 8191

// ParseCPUSet parses a libvirt-style CPU set ("0-3,8,10-11", "0-7,^3")
// into sorted, distinct CPU IDs.
func ParseCPUSet(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("invalid CPU set %q: empty", s)
	}
	set := map[int]bool{}
	var excluded []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		exclude := strings.HasPrefix(part, "^")
		part = strings.TrimPrefix(part, "^")
		lo, hi, err := parseCPURange(part)
		if err != nil {
			return nil, fmt.Errorf("invalid CPU set %q: %w", s, err)
		}
		if exclude {
			if lo != hi {
				return nil, fmt.Errorf("invalid CPU set %q: ^ excludes a single CPU, not %q", s, part)
			}
			excluded = append(excluded, lo)
			continue
		}
		for c := lo; c <= hi; c++ {
			set[c] = true
		}
	}
	for _, c := range excluded {
		delete(set, c)
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("invalid CPU set %q: selects no CPU", s)
	}
	out := make([]int, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Ints(out)
	return out, nil
}

func parseCPURange(part string) (int, int, error) {
	a, b, isRange := strings.Cut(part, "-")
	lo, err := parseCPUID(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	hi, err := parseCPUID(b)
	if err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %q runs backwards", part)
	}
	return lo, hi, nil
}

func parseCPUID(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("missing CPU number")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a CPU number", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxCPUID {
		return 0, fmt.Errorf("CPU %s is beyond %d", s, maxCPUID)
	}
	return n, nil
}

// FormatCPUSet writes CPU IDs as a compact CPU set ("0-3,8").
func FormatCPUSet(cpus []int) string {
	c := append([]int(nil), cpus...)
	sort.Ints(c)
	var parts []string
	for i := 0; i < len(c); {
		j := i
		for j+1 < len(c) && c[j+1] <= c[j]+1 {
			j++
		}
		if c[i] == c[j] {
			parts = append(parts, strconv.Itoa(c[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", c[i], c[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// PCIAddress is a host PCI device address.
type PCIAddress struct {
	Domain   uint16
	Bus      uint8
	Slot     uint8
	Function uint8
}

func (a PCIAddress) String() string {
	return fmt.Sprintf("%04x:%02x:%02x.%x", a.Domain, a.Bus, a.Slot, a.Function)
}

// ParsePCIAddress parses "0000:01:00.0" or "01:00.0" (domain 0), the
// forms lspci prints.
func ParsePCIAddress(s string) (PCIAddress, error) {
	bad := func(why string) (PCIAddress, error) {
		return PCIAddress{}, fmt.Errorf("invalid PCI address %q: %s; want DDDD:BB:SS.F or BB:SS.F, e.g. 0000:01:00.0", s, why)
	}
	rest, fn, ok := strings.Cut(s, ".")
	if !ok {
		return bad("missing .function")
	}
	parts := strings.Split(rest, ":")
	var dom string
	switch len(parts) {
	case 2:
		dom = "0"
	case 3:
		dom, parts = parts[0], parts[1:]
		if len(dom) != 4 {
			return bad("domain must be 4 hex digits")
		}
	default:
		return bad("wrong number of parts")
	}
	hex := func(v string, digits int, max uint64) (uint64, bool) {
		if v == "" || len(v) > digits {
			return 0, false
		}
		n, err := strconv.ParseUint(v, 16, 64)
		return n, err == nil && n <= max
	}
	d, ok1 := hex(dom, 4, math.MaxUint16)
	b, ok2 := hex(parts[0], 2, 0xff)
	sl, ok3 := hex(parts[1], 2, 0x1f)
	f, ok4 := hex(fn, 1, 7)
	switch {
	case !ok1:
		return bad("bad domain")
	case !ok2:
		return bad("bad bus")
	case !ok3:
		return bad("slot must be 00-1f")
	case !ok4:
		return bad("function must be 0-7")
	}
	return PCIAddress{Domain: uint16(d), Bus: uint8(b), Slot: uint8(sl), Function: uint8(f)}, nil
}
