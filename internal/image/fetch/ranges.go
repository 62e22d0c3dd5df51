package fetch

import (
	"fmt"
	"strconv"
	"strings"
)

// parseContentRange reads a 206 answer's "bytes first-last/total" (total
// may be "*", returned as -1).
func parseContentRange(s string) (first, last, total int64, err error) {
	bad := func() (int64, int64, int64, error) {
		return 0, 0, 0, fmt.Errorf("invalid Content-Range %q", s)
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !ok {
		return bad()
	}
	span, size, ok := strings.Cut(rest, "/")
	if !ok {
		return bad()
	}
	a, b, ok := strings.Cut(span, "-")
	if !ok {
		return bad()
	}
	if first, err = parseCount(a); err != nil {
		return bad()
	}
	if last, err = parseCount(b); err != nil || last < first {
		return bad()
	}
	total = -1
	if size != "*" {
		if total, err = parseCount(size); err != nil || total <= last {
			return bad()
		}
	}
	return first, last, total, nil
}

// parseCount reads a non-negative decimal with digits only (no sign).
func parseCount(s string) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("not a count: %q", s)
	}
	return strconv.ParseInt(s, 10, 64)
}
