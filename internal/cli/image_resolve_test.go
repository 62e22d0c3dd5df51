package cli

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// imageMirror is a local stand-in for cloud.debian.org and
// cloud-images.ubuntu.com: directory listings, checksum lists and one image
// per distro, served over real HTTP.
func imageMirror(t *testing.T, sha512Override string) (url string, img []byte, hits func(string) int) {
	img = make([]byte, 300000)
	if _, err := rand.Read(img); err != nil {
		t.Fatal(err)
	}
	s256 := sha256.Sum256(img)
	s512 := sha512.Sum512(img)
	d512 := hex.EncodeToString(s512[:])
	if sha512Override != "" {
		d512 = sha512Override
	}
	var mu sync.Mutex
	count := map[string]int{}
	files := map[string]string{
		"/debian/bookworm/":                         `<a href="20240211-1654/">20240211-1654/</a> <a href="20240717-1811/">20240717-1811/</a> <a href="latest/">latest/</a>`,
		"/debian/bookworm/20240717-1811/SHA512SUMS": d512 + "  debian-12-genericcloud-amd64-20240717-1811.qcow2\n",
		"/debian/bookworm/20240717-1811/debian-12-genericcloud-amd64-20240717-1811.qcow2": string(img),
		"/ubuntu/noble/": `<a href="release-20240423/">release-20240423/</a> <a href="release/">release/</a>`,
		"/ubuntu/noble/release-20240423/SHA256SUMS":                             hex.EncodeToString(s256[:]) + " *ubuntu-24.04-server-cloudimg-amd64.img\n",
		"/ubuntu/noble/release-20240423/ubuntu-24.04-server-cloudimg-amd64.img": string(img),
		"/virtio/": `<a href="virtio-win-0.1.248-1/">x</a> <a href="virtio-win-0.1.262-2/">x</a>`,
		"/virtio/virtio-win-0.1.262-2/virtio-win-0.1.262.iso": isoLike(img),
		"/virtio/virtio-win-0.1.248-1/virtio-win-0.1.248.iso": string(img), // not an ISO
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		count[r.URL.Path]++
		mu.Unlock()
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, img, func(p string) int { mu.Lock(); defer mu.Unlock(); return count[p] }
}

func TestImageResolveUbuntuNeedsNoDownload(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	url, img, hits := imageMirror(t, "")
	code, out, errOut := runDeskvm("image", "resolve", "ubuntu", "24.04", "--mirror", url+"/ubuntu")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	sum := sha256.Sum256(img)
	want := fmt.Sprintf("# ubuntu 24.04, build 20240423; digest from %s/ubuntu/noble/release-20240423/SHA256SUMS\ncloudImage:\n  url: %s/ubuntu/noble/release-20240423/ubuntu-24.04-server-cloudimg-amd64.img\n  sha256: %x\n", url, url, sum)
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	if n := hits("/ubuntu/noble/release-20240423/ubuntu-24.04-server-cloudimg-amd64.img"); n != 0 {
		t.Errorf("the image was downloaded %d times", n)
	}
}

func TestImageResolveDebianDownloadsForSHA256(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	url, img, hits := imageMirror(t, "")
	code, out, errOut := runDeskvm("image", "resolve", "debian", "bookworm", "--mirror", url+"/debian", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep resolveReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	s256, s512 := sha256.Sum256(img), sha512.Sum512(img)
	if rep.Version != "20240717-1811" || rep.SHA256 != hex.EncodeToString(s256[:]) || rep.SHA512 != hex.EncodeToString(s512[:]) ||
		rep.URL != url+"/debian/bookworm/20240717-1811/debian-12-genericcloud-amd64-20240717-1811.qcow2" {
		t.Errorf("report %+v", rep)
	}
	if want := filepath.Join(cache, "deskvm", "downloads", "sha256", rep.SHA256); rep.Cached != want {
		t.Errorf("cached at %q, want %q", rep.Cached, want)
	}
	if b, err := os.ReadFile(rep.Cached); err != nil || len(b) != len(img) {
		t.Errorf("cached file: %d bytes, %v", len(b), err)
	}
	if !strings.Contains(errOut, "lists no SHA-256") || !strings.Contains(errOut, "done, 293.0 KiB") {
		t.Errorf("stderr: %q", errOut)
	}
	// Again: found in the cache, not downloaded a second time.
	if code, _, errOut := runDeskvm("image", "resolve", "debian", "12", "--mirror", url+"/debian"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := hits("/debian/bookworm/20240717-1811/debian-12-genericcloud-amd64-20240717-1811.qcow2"); n != 1 {
		t.Errorf("image downloaded %d times, want 1", n)
	}
}

func TestImageResolveErrors(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	bad := strings.Repeat("ab", 64)
	url, _, _ := imageMirror(t, bad)
	code, _, errOut := runDeskvm("image", "resolve", "debian", "bookworm", "--mirror", url+"/debian")
	if code != 1 || !strings.Contains(errOut, "hash mismatch for "+url+"/debian/bookworm/20240717-1811/debian-12-genericcloud-amd64-20240717-1811.qcow2: expected "+bad) || !strings.Contains(errOut, "(sha512)") {
		t.Errorf("mismatch: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runDeskvm("image", "resolve", "fedora", "40"); code != 2 || !strings.Contains(errOut, `distro "fedora"`) {
		t.Errorf("fedora: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runDeskvm("image", "resolve", "debian", "bookworm", "--version", "latest", "--mirror", url+"/debian"); code != 1 || !strings.Contains(errOut, "not a dated or numbered build") {
		t.Errorf("latest: exit %d: %s", code, errOut)
	}
}

// isoLike is img with an ISO 9660 volume descriptor signature.
func isoLike(img []byte) string {
	b := append([]byte(nil), img...)
	copy(b[32769:], "CD001")
	return string(b)
}

func TestImageResolveVirtioWin(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	url, img, _ := imageMirror(t, "")
	code, out, errOut := runDeskvm("image", "resolve", "virtio-win", "--mirror", url+"/virtio")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	sum := sha256.Sum256([]byte(isoLike(img)))
	want := fmt.Sprintf("# virtio-win 0.1.262-2; no published checksum: sha256 of the copy downloaded now\nvirtioDriversIso:\n  url: %s/virtio/virtio-win-0.1.262-2/virtio-win-0.1.262.iso\n  sha256: %x\n", url, sum)
	if out != want || !strings.Contains(errOut, "publishes no checksums") {
		t.Errorf("got:\n%s\nwant:\n%s\nstderr: %s", out, want, errOut)
	}
	code, _, errOut = runDeskvm("image", "resolve", "virtio-win", "--version", "0.1.248-1", "--mirror", url+"/virtio")
	if code != 1 || !strings.Contains(errOut, "not the expected file type") {
		t.Errorf("a file that is no ISO: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runDeskvm("image", "resolve", "virtio-win", "stable"); code != 2 {
		t.Errorf("virtio-win with a release: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runDeskvm("image", "resolve", "debian"); code != 2 {
		t.Errorf("debian without a release: exit %d: %s", code, errOut)
	}
}
