package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNixOptionsCommand: the hidden deskvm nix-options prints the
// committed nix/options.nix (internal/nixos checks that it is current).
func TestNixOptionsCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"deskvm", "nix-options"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "nix", "options.nix"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatal("deskvm nix-options differs from nix/options.nix")
	}
}
