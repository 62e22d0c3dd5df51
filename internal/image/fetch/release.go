package fetch

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Release names a distribution's cloud image by release. Resolve turns it
// into a Source with a dated, versioned URL and the digest the publisher
// lists for it, never a rolling "latest"/"release" URL whose content
// changes under a pinned digest.
type Release struct {
	Distro  string // "debian", "ubuntu" or "virtio-win"
	Release string // codename or number: "bookworm", "12", "noble", "24.04"
	Arch    string // "amd64" (default) or "arm64"
	// Variant is Debian's image flavour: "genericcloud" (default, the
	// cloud kernel), "generic" or "nocloud". Ubuntu has one.
	Variant string
	// Version is the dated build: "20240717-1811" for Debian, "20240423"
	// or "20240423.1" for Ubuntu, "0.1.262-2" for virtio-win. Empty: the
	// newest build listed.
	Version string
}

// Resolved is a release pinned to one build.
type Resolved struct {
	Source  Source // URL plus SHA512 (Debian) or SHA256 (Ubuntu); URL only (virtio-win)
	Version string
	SumsURL string // the checksum list the digest came from; "" when none is published
}

// Resolver looks releases up on the publishers' servers. The bases are
// variables so that tests serve captured listings from a local server.
type Resolver struct {
	Client     *http.Client
	DebianBase string // default https://cloud.debian.org/images/cloud/
	UbuntuBase string // default https://cloud-images.ubuntu.com/releases/
	// VirtioWinBase is Fedora's archive of virtio-win builds (one
	// directory per build; the rolling stable-/latest-virtio are never
	// used).
	VirtioWinBase string
}

var (
	debianReleases = map[string]string{"buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14"}
	ubuntuReleases = map[string]string{"focal": "20.04", "jammy": "22.04", "noble": "24.04", "oracular": "24.10", "plucky": "25.04", "questing": "25.10"}

	debianVersion = regexp.MustCompile(`^[0-9]{8}-[0-9]+$`)
	ubuntuVersion = regexp.MustCompile(`^[0-9]{8}(\.[0-9]+)?$`)
	// virtio-win builds: 0.1.262-2 (directory virtio-win-0.1.262-2/).
	virtioWinVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+$`)
)

// codename maps a release given by name or number to (codename, number).
func codename(table map[string]string, rel string) (string, string, bool) {
	rel = strings.ToLower(strings.TrimSpace(rel))
	if n, ok := table[rel]; ok {
		return rel, n, true
	}
	for c, n := range table {
		if n == rel {
			return c, n, true
		}
	}
	return "", "", false
}

func known(table map[string]string) string {
	var out []string
	for c, n := range table {
		out = append(out, c+" ("+n+")")
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// layout is where a publisher keeps its builds and checksums.
type layout struct {
	dir     string         // URL of the directory that lists the builds
	prefix  string         // a build directory's name before its version
	version *regexp.Regexp // a dated/numbered version, never a rolling name
	example string
	file    func(version string) string
	sums    string // checksum list in the build directory; "" if none
	digits  int    // hex digits of its digests
}

// Resolve pins rel to a versioned URL and its published digest. For
// virtio-win, which publishes no checksum list, the Source carries the
// versioned URL only (Resolved.SumsURL is empty): the caller decides how
// to trust the first download.
func (r *Resolver) Resolve(ctx context.Context, rel Release) (Resolved, error) {
	arch := cmp.Or(rel.Arch, "amd64")
	if arch != "amd64" && arch != "arm64" {
		return Resolved{}, fmt.Errorf("release %s %s: arch %q: want amd64 or arm64", rel.Distro, rel.Release, rel.Arch)
	}
	var l layout
	switch strings.ToLower(rel.Distro) {
	case "debian":
		code, num, ok := codename(debianReleases, rel.Release)
		if !ok {
			return Resolved{}, fmt.Errorf("debian release %q: unknown; known: %s", rel.Release, known(debianReleases))
		}
		variant := cmp.Or(rel.Variant, "genericcloud")
		if variant != "genericcloud" && variant != "generic" && variant != "nocloud" {
			return Resolved{}, fmt.Errorf("debian variant %q: want genericcloud, generic or nocloud", rel.Variant)
		}
		l = layout{
			dir: joinURL(cmp.Or(r.DebianBase, "https://cloud.debian.org/images/cloud/"), code+"/"), version: debianVersion, example: "20240717-1811",
			file: func(v string) string { return "debian-" + num + "-" + variant + "-" + arch + "-" + v + ".qcow2" },
			sums: "SHA512SUMS", digits: 128, // Debian lists SHA-512 only
		}
	case "ubuntu":
		code, num, ok := codename(ubuntuReleases, rel.Release)
		if !ok {
			return Resolved{}, fmt.Errorf("ubuntu release %q: unknown; known: %s", rel.Release, known(ubuntuReleases))
		}
		if rel.Variant != "" {
			return Resolved{}, fmt.Errorf("ubuntu has no image variants (got %q)", rel.Variant)
		}
		l = layout{
			dir: joinURL(cmp.Or(r.UbuntuBase, "https://cloud-images.ubuntu.com/releases/"), code+"/"), prefix: "release-", version: ubuntuVersion, example: "20240423",
			file: func(string) string { return "ubuntu-" + num + "-server-cloudimg-" + arch + ".img" },
			sums: "SHA256SUMS", digits: 64,
		}
	case "virtio-win":
		if rel.Release != "" || rel.Variant != "" || arch != "amd64" {
			return Resolved{}, errors.New("virtio-win has no releases, variants or architectures; give a version (like 0.1.262-2) or none for the newest")
		}
		l = layout{
			dir: joinURL(cmp.Or(r.VirtioWinBase, "https://fedorapeople.org/groups/virt/virtio-win/direct-downloads/archive-virtio/"), ""), prefix: "virtio-win-", version: virtioWinVersion, example: "0.1.262-2",
			// Build 0.1.262-2 keeps virtio-win-0.1.262.iso.
			file: func(v string) string { return "virtio-win-" + v[:strings.LastIndex(v, "-")] + ".iso" },
		}
	default:
		return Resolved{}, fmt.Errorf("release distro %q: want debian, ubuntu or virtio-win", rel.Distro)
	}
	version := rel.Version
	if version != "" && !l.version.MatchString(version) {
		return Resolved{}, fmt.Errorf("%s version %q is not a dated or numbered build (like %s); rolling names such as latest are not pinned", rel.Distro, version, l.example)
	}
	if version == "" {
		index, err := r.get(ctx, l.dir)
		if err != nil {
			return Resolved{}, err
		}
		version = NewestVersion(ParseIndex(index), l.prefix, l.version)
		if version == "" {
			return Resolved{}, fmt.Errorf("no dated build listed at %s", l.dir)
		}
	}
	buildURL := joinURL(l.dir, l.prefix+version+"/")
	file := l.file(version)
	src := Source{URL: joinURL(buildURL, file)}
	if l.sums == "" {
		return Resolved{Source: src, Version: version}, nil
	}
	sumsURL := joinURL(buildURL, l.sums)
	text, err := r.get(ctx, sumsURL)
	if err != nil {
		return Resolved{}, err
	}
	sums, err := ParseSums(text)
	if err != nil {
		return Resolved{}, fmt.Errorf("%s: %w", sumsURL, err)
	}
	digest, ok := sums[file]
	if !ok {
		return Resolved{}, fmt.Errorf("%s lists no %s", sumsURL, file)
	}
	if len(digest) != l.digits {
		return Resolved{}, fmt.Errorf("%s: digest of %s has %d hex digits, want %d", sumsURL, file, len(digest), l.digits)
	}
	if l.digits == 128 {
		src.SHA512 = digest
	} else {
		src.SHA256 = digest
	}
	return Resolved{Source: src, Version: version, SumsURL: sumsURL}, nil
}

func joinURL(base, rel string) string {
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + rel
}

// maxListing bounds what a listing or checksum file may be.
const maxListing = 4 << 20

func (r *Resolver) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", redact(u), resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxListing+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact(u), err)
	}
	if len(b) > maxListing {
		return nil, fmt.Errorf("GET %s: more than %d bytes", redact(u), maxListing)
	}
	return b, nil
}

// ParseSums reads a checksum list in the GNU coreutils form ("<hex>  name"
// or "<hex> *name", as in SHA256SUMS/SHA512SUMS) or the BSD form
// ("SHA256 (name) = <hex>"). It returns file name → lowercase hex digest
// (SHA-256 or SHA-512 by length). A malformed line is an error naming it.
func ParseSums(text []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var sum, name string
		if algo, rest, ok := strings.Cut(line, " ("); ok && (algo == "SHA256" || algo == "SHA512") {
			i := strings.LastIndex(rest, ") = ")
			if i < 0 {
				return nil, fmt.Errorf("line %d: %q is not \"%s (name) = digest\"", n, clip(line), algo)
			}
			name, sum = rest[:i], rest[i+4:]
		} else {
			s, rest, ok := strings.Cut(line, " ")
			if !ok || rest == "" {
				return nil, fmt.Errorf("line %d: %q is not \"digest  name\"", n, clip(line))
			}
			sum = s
			switch rest[0] {
			case ' ', '*':
				name = rest[1:]
			default:
				name = rest
			}
		}
		sum = strings.ToLower(sum)
		if _, err := hex.DecodeString(sum); err != nil || len(sum) != 64 && len(sum) != 128 {
			return nil, fmt.Errorf("line %d: %q is not a SHA-256 or SHA-512 digest", n, clip(sum))
		}
		if name == "" {
			return nil, fmt.Errorf("line %d: no file name", n)
		}
		if old, dup := out[name]; dup && old != sum {
			return nil, fmt.Errorf("line %d: %s listed twice with different digests", n, clip(name))
		}
		out[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

var hrefRE = regexp.MustCompile(`(?i)<a\s[^>]*href\s*=\s*"([^"]*)"`)

// ParseIndex returns the link targets of a directory listing (Apache or
// nginx autoindex), unescaped, in page order.
func ParseIndex(page []byte) []string {
	var out []string
	for _, m := range hrefRE.FindAllSubmatch(page, -1) {
		h := html.UnescapeString(string(m[1]))
		if u, err := url.PathUnescape(h); err == nil {
			h = u
		}
		out = append(out, h)
	}
	return out
}

// NewestVersion picks the newest dated build among directory links
// ("20240717-1811/" or "release-20240423/") that match pattern after
// prefix; rolling names (latest/, daily/, release/) never match.
func NewestVersion(links []string, prefix string, pattern *regexp.Regexp) string {
	var best string
	for _, l := range links {
		l = strings.TrimPrefix(l, "./")
		if !strings.HasSuffix(l, "/") || strings.Contains(strings.TrimSuffix(l, "/"), "/") {
			continue
		}
		v, ok := strings.CutPrefix(strings.TrimSuffix(l, "/"), prefix)
		if !ok || !pattern.MatchString(v) {
			continue
		}
		if best == "" || compareVersions(v, best) > 0 {
			best = v
		}
	}
	return best
}

// compareVersions orders dotted/dashed numeric build names numerically
// part by part (so 20240717-10000 is after 20240717-999).
func compareVersions(a, b string) int {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '.' })
	}
	pa, pb := split(a), split(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.ParseUint(pa[i], 10, 64)
		y, _ := strconv.ParseUint(pb[i], 10, 64)
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(pa), len(pb))
}
