package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/config"
)

// TestConfigDocs keeps the option reference in docs/config.md equal to
// what the config schema says (descriptions from the jsonschema tags,
// defaults from FillDefaults); -update rewrites the generated section.
func TestConfigDocs(t *testing.T) {
	opts, err := config.Options()
	if err != nil {
		t.Fatal(err)
	}
	gen, err := configReference(opts)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "config.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := replaceGenerated(doc, gen)
	if err != nil {
		t.Fatal(err)
	}
	if updating() {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		doc = want
	}
	if string(doc) != string(want) {
		t.Fatalf("docs/config.md's option reference is stale: run go test ./internal/cli -run TestConfigDocs -update")
	}
	// Every option is in the reference, with Go's description.
	for _, o := range opts {
		if o.Type == "object" {
			continue
		}
		row := "| `" + o.Path + "` |"
		if !strings.Contains(gen, row) {
			t.Errorf("no row for %s", o.Path)
		}
		if !strings.Contains(gen, cell(o.Description)) {
			t.Errorf("%s: description missing", o.Path)
		}
	}
	for _, want := range []string{"| `vms.<name>.memory` | size | `4G` |", "| `hugepages.enable` | bool | by profile: `false` (occasional), `true` (always-on) |", "| `vms.<name>.currentMemory` | size | memory |"} {
		if !strings.Contains(gen, want) {
			t.Errorf("reference lacks %q", want)
		}
	}
}
