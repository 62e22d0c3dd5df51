package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// The -update flag may be defined by another test file of this package
// too (golden files); define it only when nobody did.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files and docs/cli.md")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestCLIDocs keeps docs/cli.md equal to what the commands say about
// themselves; -update rewrites it.
func TestCLIDocs(t *testing.T) {
	var buf bytes.Buffer
	if err := writeCLIDocs(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "cli.md")
	if updating() {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -run TestCLIDocs -update)", err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Fatalf("docs/cli.md is stale: run go test ./internal/cli -run TestCLIDocs -update")
	}
	for _, want := range []string{"## deskvm vm NAME ssh", "## deskvm list", "## deskvm install-commands", "## deskvm completion", "--timeout"} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("docs/cli.md lacks %q", want)
		}
	}
}
