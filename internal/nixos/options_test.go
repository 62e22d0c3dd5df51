package nixos

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/deskvm/deskvm/internal/config"
)

var update = flag.Bool("update", false, "rewrite nix/options.nix")

// TestOptionsNixUpToDate fails when nix/options.nix is not what the
// config schema generates; -update rewrites it.
func TestOptionsNixUpToDate(t *testing.T) {
	opts, err := config.Options()
	if err != nil {
		t.Fatal(err)
	}
	want, err := GenerateOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", OptionsFile)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/nixos -run TestOptionsNixUpToDate -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./internal/nixos -run TestOptionsNixUpToDate -update", OptionsFile)
	}
}
