package image

import (
	"slices"
	"testing"
)

// TestSeedArgsInstallNix: installNix adds Nix's packages and puts the
// user in nix-users after the recipe's own packages and commands, without
// changing the recipe.
func TestSeedArgsInstallNix(t *testing.T) {
	host, err := NewKeyPair("host")
	if err != nil {
		t.Fatal(err)
	}
	r := &Recipe{Hostname: "h", Packages: []string{"htop"}, RunCmd: []string{"true"}, InstallNix: true}
	a := seedArgs(r, "i-1", "dev", nil, host)
	if want := []string{"htop", "nix-bin", "nix-setup-systemd"}; !slices.Equal(a.Packages, want) {
		t.Errorf("packages %q, want %q", a.Packages, want)
	}
	if want := []string{"true", "usermod -aG nix-users 'dev'"}; !slices.Equal(a.RunCmd, want) {
		t.Errorf("runcmd %q, want %q", a.RunCmd, want)
	}
	if len(r.Packages) != 1 || len(r.RunCmd) != 1 {
		t.Errorf("the recipe changed: %q %q", r.Packages, r.RunCmd)
	}
	r.InstallNix = false
	if a := seedArgs(r, "i-1", "dev", nil, host); !slices.Equal(a.Packages, r.Packages) || !slices.Equal(a.RunCmd, r.RunCmd) {
		t.Errorf("without installNix: %q %q", a.Packages, a.RunCmd)
	}
}
