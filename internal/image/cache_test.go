package image

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCacheHitAndMiss: an output is reused only for the same recipe, the
// same input digests and the same tools, while the image still has the
// sha256 its manifest records and its generated key is there. Any change
// is a miss (a rebuild). The manifest has a health check without a
// timeout: it once came back unreadable (a zero duration written as "").
func TestCacheHitAndMiss(t *testing.T) {
	dir, cacheDir := t.TempDir(), t.TempDir()
	o := Outputs{Dir: dir, Name: "deb"}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	inputs := []InputRecord{{Name: "cloudImage", URL: "http://x/a.qcow2", SHA256: sha256Hex([]byte("base"))}}
	tools := Tools{Deskvm: "v1", QEMU: "7.2.22", QEMUImg: "7.2.22", OVMFSHA256: "ab"}
	key := cacheKey("recipe1", inputs, tools)
	if err := os.WriteFile(o.Image(), []byte("image bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(o.SSHDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(o.SSHDir(), "id_ed25519"), []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := Manifest{Name: "deb", Kind: KindLinux, RecipeDigest: "recipe1", CacheKey: key, Inputs: inputs, Tools: tools,
		Output: OutputRecord{File: "deb.qcow2", SHA256: sha256Hex([]byte("image bytes"))},
		Boot:   BootRecord{SSHKey: "deb.ssh/id_ed25519"}}
	if err := writeJSON(o.Manifest(), m); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(o.Manifest()); err != nil {
		t.Fatal(err)
	}
	hit := func() bool { _, ok := checkCache(o, key, cacheDir, log); return ok }
	if !hit() {
		t.Fatal("same recipe, inputs and tools: want a cache hit")
	}
	if !hit() {
		t.Fatal("second lookup (from the output record): want a cache hit")
	}

	changedInput := []InputRecord{{Name: "cloudImage", URL: "http://x/a.qcow2", SHA256: sha256Hex([]byte("other base"))}}
	newerQEMU := tools
	newerQEMU.QEMU = "8.0.0"
	newerOVMF := tools
	newerOVMF.OVMFSHA256 = "cd"
	for name, k := range map[string]string{
		"recipe changed":   cacheKey("recipe2", inputs, tools),
		"input changed":    cacheKey("recipe1", changedInput, tools),
		"input added":      cacheKey("recipe1", append(inputs, InputRecord{Name: "extra", SHA256: "00"}), tools),
		"qemu changed":     cacheKey("recipe1", inputs, newerQEMU),
		"firmware changed": cacheKey("recipe1", inputs, newerOVMF),
	} {
		if k == key {
			t.Errorf("%s: same cache key", name)
		}
		if _, ok := checkCache(o, k, cacheDir, log); ok {
			t.Errorf("%s: cache hit, want a rebuild", name)
		}
	}

	// The image was changed after the build (same size, new mtime).
	if err := os.WriteFile(o.Image(), []byte("IMAGE BYTES"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(o.Image(), later, later); err != nil {
		t.Fatal(err)
	}
	if hit() {
		t.Error("image changed since the build: cache hit, want a rebuild")
	}
	if err := os.WriteFile(o.Image(), []byte("image bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !hit() {
		t.Fatal("image restored: want a cache hit")
	}
	if err := os.RemoveAll(o.SSHDir()); err != nil {
		t.Fatal(err)
	}
	if hit() {
		t.Error("generated key gone: cache hit, want a rebuild")
	}
	if err := os.Remove(o.Image()); err != nil {
		t.Fatal(err)
	}
	if _, ok := checkCache(o, key, cacheDir, log); ok {
		t.Error("image gone: cache hit")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }
