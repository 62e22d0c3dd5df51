package macos

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/image/fetch"
	"github.com/deskvm/deskvm/internal/testutil"
)

// fakeRecovery serves the recovery protocol as macrecovery.py speaks it:
// a session cookie on GET /, the image info for a POST of cid/sn/bid/k/fg/os
// with that cookie, and the two assets behind AssetToken cookies.
type fakeRecovery struct {
	t         *testing.T
	dmg, cnkl []byte
	mu        sync.Mutex
	posts     []map[string]string
	srv       *httptest.Server
}

func newFakeRecovery(t *testing.T, dmg, cnkl []byte) *fakeRecovery {
	f := &fakeRecovery{t: t, dmg: dmg, cnkl: cnkl}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "InternetRecovery/1.0" {
			http.Error(w, "bad agent", http.StatusForbidden)
			return
		}
		w.Header().Add("Set-Cookie", "session=S3SS10N; Path=/; HttpOnly")
	})
	hexRE := func(n int) *regexp.Regexp { return regexp.MustCompile(fmt.Sprintf("^[0-9A-F]{%d}$", n)) }
	mux.HandleFunc("POST /InstallationPayload/RecoveryImage", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "session=S3SS10N" || r.Header.Get("Content-Type") != "text/plain" {
			http.Error(w, "no session", http.StatusForbidden)
			return
		}
		b, _ := io.ReadAll(r.Body)
		fields := map[string]string{}
		var order []string
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, "=")
			fields[k] = v
			order = append(order, k)
		}
		f.mu.Lock()
		f.posts = append(f.posts, fields)
		f.mu.Unlock()
		if strings.Join(order, ",") != "cid,sn,bid,k,fg,os" || !hexRE(16).MatchString(fields["cid"]) ||
			!hexRE(64).MatchString(fields["k"]) || !hexRE(64).MatchString(fields["fg"]) {
			http.Error(w, "bad request fields "+string(b), http.StatusBadRequest)
			return
		}
		if fields["bid"] != "Mac-827FAC58A8FDFA22" {
			http.Error(w, "unknown board", http.StatusNotFound)
			return
		}
		base := "http://" + r.Host
		io.WriteString(w, "AP: 072-12345\nAU: "+base+"/assets/BaseSystem.dmg\nAH: AAAA\nAT: expires=1~image-token\nCU: "+base+"/assets/BaseSystem.chunklist\nCH: BBBB\nCT: expires=1~chunk-token\n")
	})
	serve := func(token string, body *[]byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Cookie") != "AssetToken="+token {
				http.Error(w, "bad token", http.StatusForbidden)
				return
			}
			http.ServeContent(w, r, "", time.Unix(1700000000, 0), strings.NewReader(string(*body)))
		}
	}
	mux.HandleFunc("GET /assets/BaseSystem.dmg", serve("expires=1~image-token", &f.dmg))
	mux.HandleFunc("GET /assets/BaseSystem.chunklist", serve("expires=1~chunk-token", &f.cnkl))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func TestRecoveryResolveAndDownload(t *testing.T) {
	key := signingKey(t)
	keys := []*rsa.PublicKey{&key.PublicKey}
	dmg := makeDMG(300_000)
	fake := newFakeRecovery(t, dmg, makeChunklist(t, dmg, 64<<10, SignatureRSA2048, key))
	rel, err := LookupRelease("Sonoma")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rc := &Recovery{BaseURL: fake.srv.URL}
	assets, err := rc.Resolve(ctx, rel)
	if err != nil {
		t.Fatal(err)
	}
	if assets.Product != "072-12345" || !strings.HasSuffix(assets.Image.URL, "/BaseSystem.dmg") || assets.Chunklist.Token != "expires=1~chunk-token" {
		t.Fatalf("%+v", assets)
	}
	if p := fake.posts[0]; p["sn"] != "00000000000000000" || p["os"] != "default" {
		t.Errorf("posted %v", p)
	}
	f := &fetch.Fetcher{CacheDir: t.TempDir()}
	d, err := Download(ctx, f, assets, keys)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(d.Image.Path)
	if string(got) != string(dmg) || d.Chunks != 5 || d.Trailer.DataForkLength != 300_000 {
		t.Fatalf("downloaded %d bytes, %d chunks, %+v", len(got), d.Chunks, d.Trailer)
	}

	// A tampered image is refused and not kept under its name.
	bad := append([]byte{}, dmg...)
	bad[200_000] ^= 0xFF
	fake.dmg = bad
	_, err = Download(ctx, &fetch.Fetcher{CacheDir: t.TempDir()}, assets, keys)
	if err == nil || !strings.Contains(err.Error(), "SHA-256 differs from the chunklist") {
		t.Fatalf("tampered image: %v", err)
	}
	// A chunklist signed by another key (here: checked against Apple's).
	fake.dmg = dmg
	_, err = Download(ctx, &fetch.Fetcher{CacheDir: t.TempDir()}, assets, nil)
	if err == nil || !strings.Contains(err.Error(), "does not verify with Apple's key") {
		t.Fatalf("foreign signature: %v", err)
	}
	// An unsigned (digest-only) chunklist is refused, not skipped.
	fake.cnkl = makeChunklist(t, dmg, 64<<10, SignatureDigest, nil)
	_, err = Download(ctx, &fetch.Fetcher{CacheDir: t.TempDir()}, assets, keys)
	if err == nil || !strings.Contains(err.Error(), "refusing an unsigned chunklist") {
		t.Fatalf("unsigned chunklist: %v", err)
	}
	// A board the service does not know.
	rel.BoardID = "Mac-0000000000000000"
	if _, err := rc.Resolve(ctx, rel); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown board: %v", err)
	}
}

func TestLookupRelease(t *testing.T) {
	for _, n := range []string{"sequoia", "macOS Sequoia", "SEQUOIA"} {
		if r, err := LookupRelease(n); err != nil || r.BoardID != "Mac-7BA5B2D9E42DDD94" {
			t.Errorf("%s: %+v %v", n, r, err)
		}
	}
	_, err := LookupRelease("cheetah")
	if err == nil || !strings.Contains(err.Error(), "known: bigsur, catalina") || !strings.Contains(err.Error(), "tahoe") {
		t.Errorf("%v", err)
	}
	seen := map[string]bool{}
	for _, r := range Releases {
		if seen[r.Name] || !regexp.MustCompile(`^Mac-[0-9A-F]{8,16}$`).MatchString(r.BoardID) || len(r.MLB) != 17 || (r.OSType != "default" && r.OSType != "latest") {
			t.Errorf("bad table row %+v", r)
		}
		seen[r.Name] = true
	}
}

// The installer disk is a GPT disk whose FAT32 partition holds
// com.apple.recovery.boot with the two files, as mtools and fsck.fat see it.
func TestWriteRecoveryDisk(t *testing.T) {
	mcopy := testutil.RequiresCommand(t, "mtype")
	fsck := testutil.RequiresCommand(t, "fsck.fat")
	dir := t.TempDir()
	dmg := makeDMG(3 << 20)
	cnkl := makeChunklist(t, dmg, 1<<20, SignatureRSA2048, signingKey(t))
	os.WriteFile(filepath.Join(dir, "BaseSystem.dmg"), dmg, 0o644)
	os.WriteFile(filepath.Join(dir, "BaseSystem.chunklist"), cnkl, 0o644)
	disk := filepath.Join(dir, "recovery.img")
	if err := WriteRecoveryDisk(disk, filepath.Join(dir, "BaseSystem.dmg"), filepath.Join(dir, "BaseSystem.chunklist")); err != nil {
		t.Fatal(err)
	}
	img := disk + "@@1M" // the partition starts at sector 2048
	for name, want := range map[string][]byte{"BaseSystem.dmg": dmg, "BaseSystem.chunklist": cnkl} {
		got, err := exec.Command(mcopy, "-i", img, "::/"+RecoveryFolder+"/"+name).Output()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s on the disk: %v (%d bytes, want %d)", name, err, len(got), len(want))
		}
	}
	part := filepath.Join(dir, "part.img")
	raw, _ := os.ReadFile(disk)
	os.WriteFile(part, raw[1<<20:], 0o644)
	// go-diskfs v1.9.4 leaves two things fsck.fat mentions and that no
	// reader of the files minds: the FSInfo free-cluster count unset
	// (0xFFFFFFFF, "unknown", which the spec allows) and the ".." entry
	// of a directory in the root pointing at the root's cluster instead
	// of 0. Anything else is a failure.
	out, _ := exec.Command(fsck, "-n", part).CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "", strings.HasPrefix(line, "fsck.fat "), line == "/"+RecoveryFolder,
			strings.HasPrefix(line, "Invalid '..' entry in the second slot"),
			strings.HasPrefix(line, "Free cluster summary uninitialized"),
			line == "Leaving filesystem unchanged.", strings.HasPrefix(line, part+": 4 files"):
		default:
			t.Errorf("fsck.fat: %s\n%s", line, out)
		}
	}
	if _, err := os.Stat(disk + ".tmp"); err == nil {
		t.Error("temporary file left")
	}
}
