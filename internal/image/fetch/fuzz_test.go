package fetch

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
)

// FuzzParseSums: any text either fails with a line number or yields names
// mapped to lowercase SHA-256/SHA-512 hex digests that a second parse of
// the re-rendered list reproduces.
func FuzzParseSums(f *testing.F) {
	for _, p := range []string{"testdata/release/debian/bookworm/20240717-1811/SHA512SUMS", "testdata/release/ubuntu/noble/release-20240423/SHA256SUMS"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("SHA256 (a) = " + strings.Repeat("0", 64) + "\n"))
	f.Add([]byte(strings.Repeat("a", 64) + " *x\r\n#c\n\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		sums, err := ParseSums(text)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") && !strings.Contains(err.Error(), "token too long") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		var b strings.Builder
		for name, sum := range sums {
			if _, err := hex.DecodeString(sum); err != nil || (len(sum) != 64 && len(sum) != 128) || strings.ToLower(sum) != sum {
				t.Fatalf("digest %q for %q", sum, name)
			}
			if name == "" {
				t.Fatal("empty name")
			}
			if strings.ContainsAny(name, "\n") {
				t.Fatalf("name with a newline: %q", name)
			}
			if strings.HasSuffix(name, "\r") || strings.HasPrefix(name, "#") {
				continue // not representable in a re-rendered list
			}
			fmt.Fprintf(&b, "%s  %s\n", sum, name)
		}
		again, err := ParseSums([]byte(b.String()))
		if err != nil {
			t.Fatalf("re-rendered list fails: %v\n%s", err, b.String())
		}
		for name, sum := range again {
			if sums[name] != sum {
				t.Fatalf("%q: %q then %q", name, sums[name], sum)
			}
		}
	})
}

// FuzzParseIndex: any page gives links, and NewestVersion picks one of
// them that is a dated build.
func FuzzParseIndex(f *testing.F) {
	for _, p := range []string{"testdata/release/debian/bookworm/index.html", "testdata/release/ubuntu/noble/index.html"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<a href="20240101-1/"><a href="release-20240101.2/">`))
	f.Fuzz(func(t *testing.T, page []byte) {
		links := ParseIndex(page)
		for _, pre := range []string{"", "release-"} {
			pattern := debianVersion
			if pre != "" {
				pattern = ubuntuVersion
			}
			v := NewestVersion(links, pre, pattern)
			if v == "" {
				continue
			}
			if !pattern.MatchString(v) {
				t.Fatalf("newest %q does not match %v", v, pattern)
			}
			found := false
			for _, l := range links {
				if strings.TrimPrefix(l, "./") == pre+v+"/" {
					found = true
				}
			}
			if !found {
				t.Fatalf("newest %q is not among the links %q", v, links)
			}
		}
	})
}

// FuzzParseContentRange: an accepted header is consistent and reads back
// the same after formatting.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes 100-199/*", "bytes 5-4/10", "bytes -1-3/4", "bytes 1-2/2", "items 0-1/2", " bytes 0-0/1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, total, err := parseContentRange(s)
		if err != nil {
			return
		}
		if first < 0 || last < first || (total != -1 && total <= last) {
			t.Fatalf("%q gave %d-%d/%d", s, first, last, total)
		}
		size := "*"
		if total >= 0 {
			size = fmt.Sprint(total)
		}
		f2, l2, t2, err := parseContentRange(fmt.Sprintf("bytes %d-%d/%s", first, last, size))
		if err != nil || f2 != first || l2 != last || t2 != total {
			t.Fatalf("%q does not read back: %d-%d/%d, %v", s, f2, l2, t2, err)
		}
	})
}
