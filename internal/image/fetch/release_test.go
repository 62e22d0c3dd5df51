package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleDigest is how testdata/release made its synthetic digests.
func sampleDigest(n string, long bool) string {
	if long {
		s := sha512.Sum512([]byte("sample:" + n))
		return hex.EncodeToString(s[:])
	}
	s := sha256.Sum256([]byte("sample:" + n))
	return hex.EncodeToString(s[:])
}

func sampleServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.FileServer(http.Dir("testdata/release")))
	t.Cleanup(srv.Close)
	return srv
}

func TestResolveRelease(t *testing.T) {
	srv := sampleServer(t)
	r := &Resolver{DebianBase: srv.URL + "/debian", UbuntuBase: srv.URL + "/ubuntu/"}
	for _, tc := range []struct {
		rel                Release
		url, sums, version string
		sha256, sha512     string
	}{
		{
			rel:     Release{Distro: "debian", Release: "bookworm"},
			url:     srv.URL + "/debian/bookworm/20240717-1811/debian-12-genericcloud-amd64-20240717-1811.qcow2",
			sums:    srv.URL + "/debian/bookworm/20240717-1811/SHA512SUMS",
			version: "20240717-1811",
			sha512:  sampleDigest("debian-12-genericcloud-amd64-20240717-1811.qcow2", true),
		},
		{
			rel:     Release{Distro: "debian", Release: "12", Arch: "arm64", Variant: "nocloud", Version: "20240211-1654"},
			url:     srv.URL + "/debian/bookworm/20240211-1654/debian-12-nocloud-arm64-20240211-1654.qcow2",
			sums:    srv.URL + "/debian/bookworm/20240211-1654/SHA512SUMS",
			version: "20240211-1654",
			sha512:  sampleDigest("debian-12-nocloud-arm64-20240211-1654.qcow2", true),
		},
		{
			// release-20240521.1 is newer than release-20240521 and
			// release-20240423; release/ is rolling and ignored.
			rel:     Release{Distro: "ubuntu", Release: "noble"},
			url:     srv.URL + "/ubuntu/noble/release-20240521.1/ubuntu-24.04-server-cloudimg-amd64.img",
			sums:    srv.URL + "/ubuntu/noble/release-20240521.1/SHA256SUMS",
			version: "20240521.1",
			sha256:  sampleDigest("20240521.1ubuntu-24.04-server-cloudimg-amd64.img", false),
		},
		{
			rel:     Release{Distro: "Ubuntu", Release: "24.04", Version: "20240423"},
			url:     srv.URL + "/ubuntu/noble/release-20240423/ubuntu-24.04-server-cloudimg-amd64.img",
			sums:    srv.URL + "/ubuntu/noble/release-20240423/SHA256SUMS",
			version: "20240423",
			sha256:  sampleDigest("20240423ubuntu-24.04-server-cloudimg-amd64.img", false),
		},
	} {
		got, err := r.Resolve(context.Background(), tc.rel)
		if err != nil {
			t.Errorf("%+v: %v", tc.rel, err)
			continue
		}
		want := Resolved{Source: Source{URL: tc.url, SHA256: tc.sha256, SHA512: tc.sha512}, Version: tc.version, SumsURL: tc.sums}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%+v:\n got %+v\nwant %+v", tc.rel, got, want)
		}
	}
}

func TestResolveReleaseErrors(t *testing.T) {
	srv := sampleServer(t)
	r := &Resolver{DebianBase: srv.URL + "/debian/", UbuntuBase: srv.URL + "/ubuntu/"}
	for _, tc := range []struct {
		rel  Release
		want string
	}{
		{Release{Distro: "fedora", Release: "40"}, `distro "fedora"`},
		{Release{Distro: "debian", Release: "sid"}, `debian release "sid": unknown; known: `},
		{Release{Distro: "debian", Release: "bookworm", Version: "latest"}, "not a dated or numbered build"},
		{Release{Distro: "ubuntu", Release: "noble", Version: "release"}, "not a dated or numbered build"},
		{Release{Distro: "debian", Release: "bookworm", Arch: "i386"}, `arch "i386"`},
		{Release{Distro: "debian", Release: "bookworm", Variant: "azure"}, `variant "azure"`},
		{Release{Distro: "debian", Release: "bookworm", Version: "20990101-1"}, "404 Not Found"},
		{Release{Distro: "debian", Release: "trixie"}, "404 Not Found"},
		{Release{Distro: "ubuntu", Release: "noble", Arch: "arm64", Version: "20240423"}, ""},
	} {
		_, err := r.Resolve(context.Background(), tc.rel)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.rel, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.rel, err, tc.want)
		}
	}
}

// TestResolveThenFetch resolves a Debian release (SHA-512 pin) from a
// local mirror and downloads it through the fetcher.
func TestResolveThenFetch(t *testing.T) {
	content := randomBytes(t, 200000)
	sum := sha512.Sum512(content)
	name := "debian-12-genericcloud-amd64-20240717-1811.qcow2"
	index, err := os.ReadFile(filepath.Join("testdata", "release", "debian", "bookworm", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/bookworm/", func(w http.ResponseWriter, r *http.Request) { w.Write(index) })
	mux.HandleFunc("/bookworm/20240717-1811/SHA512SUMS", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s  %s\n%s  other.raw\n", hex.EncodeToString(sum[:]), name, strings.Repeat("0", 128))
	})
	mux.HandleFunc("/bookworm/20240717-1811/"+name, func(w http.ResponseWriter, r *http.Request) { w.Write(content) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	res, err := (&Resolver{DebianBase: srv.URL}).Resolve(context.Background(), Release{Distro: "debian", Release: "bookworm"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := newFetcher(t).Fetch(context.Background(), "debian", res.Source)
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, r, content)
}

func TestParseSums(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("B", 128)
	got, err := ParseSums([]byte("# comment\n" + a + "  plain name.img\r\n" + a + " *star.img\n\nSHA512 (bsd (1).img) = " + b + "\n" + a + " bare.img\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"plain name.img": a, "star.img": a, "bsd (1).img": strings.ToLower(b), "bare.img": a}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	for text, msg := range map[string]string{
		a + "\n":                  `line 1: "` + a + `" is not "digest  name"`,
		"x\n" + a[:63] + "  f\n":  "line 1",
		"ok\n":                    "line 1",
		a + "  f\n" + a + " *f\n": "", // same digest twice: fine
		a + "  f\n" + strings.Repeat("c", 64) + "  f\n": "line 2: f listed twice",
		"SHA256 (f) " + a + "\n":                        "line 1",
		a + "  \n":                                      "line 1: no file name",
		strings.Repeat("z", 64) + "  f\n":               "not a SHA-256 or SHA-512 digest",
	} {
		_, err := ParseSums([]byte(text))
		if msg == "" {
			if err != nil {
				t.Errorf("%q: %v", text, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: err = %v, want %q", text, err, msg)
		}
	}
}

func TestParseIndexAndNewestVersion(t *testing.T) {
	page, err := os.ReadFile("testdata/release/debian/bookworm/index.html")
	if err != nil {
		t.Fatal(err)
	}
	links := ParseIndex(page)
	if !strings.Contains(strings.Join(links, " "), "20240717-1811/ daily/ latest/") {
		t.Errorf("links %q", links)
	}
	if v := NewestVersion(links, "", debianVersion); v != "20240717-1811" {
		t.Errorf("newest %q", v)
	}
	if v := NewestVersion([]string{"20240717-999/", "20240717-1000/", "../", "x/20250101-1/", "20250101-1"}, "", debianVersion); v != "20240717-1000" {
		t.Errorf("newest by number %q", v)
	}
	if v := NewestVersion([]string{"release/", "current/"}, "release-", ubuntuVersion); v != "" {
		t.Errorf("rolling names gave %q", v)
	}
	if got := ParseIndex([]byte(`<A HREF="a%20b/">x</a><a class=x href="c&amp;d">`)); fmt.Sprint(got) != "[a b/ c&d]" {
		t.Errorf("unescaping: %q", got)
	}
}

func TestResolveVirtioWin(t *testing.T) {
	srv := sampleServer(t)
	r := &Resolver{VirtioWinBase: srv.URL + "/virtio-win/"}
	got, err := r.Resolve(context.Background(), Release{Distro: "virtio-win"})
	if err != nil {
		t.Fatal(err)
	}
	// 0.1.262-2 is the newest numbered build; 0.1.96/ has no build suffix.
	want := Resolved{Source: Source{URL: srv.URL + "/virtio-win/virtio-win-0.1.262-2/virtio-win-0.1.262.iso"}, Version: "0.1.262-2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	got, err = r.Resolve(context.Background(), Release{Distro: "virtio-win", Version: "0.1.248-1"})
	if err != nil || got.Source.URL != srv.URL+"/virtio-win/virtio-win-0.1.248-1/virtio-win-0.1.248.iso" {
		t.Errorf("pinned version: %+v, %v", got, err)
	}
	for _, rel := range []Release{{Distro: "virtio-win", Release: "stable"}, {Distro: "virtio-win", Version: "latest"}, {Distro: "virtio-win", Arch: "arm64"}} {
		if _, err := r.Resolve(context.Background(), rel); err == nil {
			t.Errorf("%+v: no error", rel)
		}
	}
}

func TestMagicVerifier(t *testing.T) {
	iso := make([]byte, 40000)
	copy(iso[32769:], "CD001")
	for _, tc := range []struct {
		content []byte
		split   []int
		ok      bool
	}{
		{iso, []int{40000}, true},
		{iso, []int{32770, 2, 39998 - 32770}, true}, // magic across writes
		{iso[:32771], []int{32771}, false},          // cut short
		{make([]byte, 40000), []int{40000}, false},  // no magic
	} {
		v := ISO9660()()
		off := 0
		for _, n := range tc.split {
			end := min(off+n, len(tc.content))
			v.Write(tc.content[off:end])
			off = end
		}
		if err := v.Verify(); (err == nil) != tc.ok {
			t.Errorf("split %v of %d bytes: %v", tc.split, len(tc.content), err)
		}
	}
}
