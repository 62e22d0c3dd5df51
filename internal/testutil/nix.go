package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequiresNix needs nix-instantiate (Debian's nix-bin) and returns its
// path. Nix runs here without a daemon: give it a fresh NIX_STATE_DIR
// (NixEnv).
func RequiresNix(t testing.TB) string {
	t.Helper()
	return RequiresCommand(t, "nix-instantiate")
}

// NixEnv is the environment for a daemonless Nix of the test: its own
// state directory, and no build-users group (there is none here).
func NixEnv(t testing.TB) []string {
	t.Helper()
	return append(os.Environ(),
		"NIX_STATE_DIR="+t.TempDir(),
		"NIX_CONFIG=build-users-group =\nexperimental-features = nix-command flakes",
		"NIX_PATH=",
	)
}

// NixpkgsLib is the directory of nixpkgs' lib that the NixOS module is
// evaluated with: $DESKVM_NIXPKGS_LIB, or shared/nixpkgs-lib/lib beside
// the repository or one of its parent directories.
func NixpkgsLib(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("DESKVM_NIXPKGS_LIB"); d != "" {
		return d
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		cand := filepath.Join(dir, "shared", "nixpkgs-lib", "lib")
		if _, err := os.Stat(filepath.Join(cand, "default.nix")); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	Missing(t, "nixpkgs' lib (shared/nixpkgs-lib/lib beside the repository, or DESKVM_NIXPKGS_LIB)")
	return ""
}

// NixCommand is name (nix-instantiate, nix) with NixEnv.
func NixCommand(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = NixEnv(t)
	return cmd
}
