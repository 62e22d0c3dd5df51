package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	starts := []string{dir}
	// A clone (git clone . /tmp/x) looks beside the checkout it came from.
	if out, err := exec.Command("git", "-C", dir, "remote", "get-url", "origin").Output(); err == nil {
		if origin := strings.TrimSpace(string(out)); filepath.IsAbs(origin) {
			starts = append(starts, origin)
		}
	}
	for _, start := range starts {
		if lib := sharedNixpkgsLib(start); lib != "" {
			return lib
		}
	}
	Missing(t, "nixpkgs' lib (shared/nixpkgs-lib/lib beside the repository or the repository it was cloned from, or DESKVM_NIXPKGS_LIB)")
	return ""
}

// sharedNixpkgsLib is shared/nixpkgs-lib/lib in dir or a parent of it.
func sharedNixpkgsLib(dir string) string {
	for {
		cand := filepath.Join(dir, "shared", "nixpkgs-lib", "lib")
		if _, err := os.Stat(filepath.Join(cand, "default.nix")); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// NixCommand is name (nix-instantiate, nix) with NixEnv.
func NixCommand(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = NixEnv(t)
	return cmd
}
