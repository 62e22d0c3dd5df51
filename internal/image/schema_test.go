package image

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated files (docs/images.md's recipe reference)")

const refBegin, refEnd = "<!-- recipe reference: generated from internal/image (go test ./internal/image -run TestDocsReference -update) -->\n", "<!-- end of recipe reference -->\n"

// TestDocsReference fails when the recipe reference in docs/images.md is
// not the one generated from the recipe types.
func TestDocsReference(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "images.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, refBegin), strings.Index(s, refEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated recipe reference between %q and %q", path, refBegin, refEnd)
	}
	want := s[:i+len(refBegin)] + Reference() + s[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != s {
		t.Errorf("%s: the recipe reference is stale; run go test ./internal/image -run TestDocsReference -update", path)
	}
	for _, key := range []string{"`cloudImage.sha256`", "`writeFiles[].permissions`", "`health.timeout`", "`diskSize`"} {
		if !strings.Contains(Reference(), key) {
			t.Errorf("reference lacks %s", key)
		}
	}
}

func TestSchemaIsJSON(t *testing.T) {
	b, err := Schema()
	if err != nil || !strings.Contains(string(b), `"additionalProperties": false`) || !strings.Contains(string(b), `"cloudImage"`) {
		t.Fatalf("schema: %v\n%s", err, b)
	}
}
