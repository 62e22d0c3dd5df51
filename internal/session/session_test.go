package session

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/libvirt"
)

func TestURIPrecedence(t *testing.T) {
	withConnect := &config.Config{Connect: "qemu+ssh://box/system"}
	for _, tc := range []struct {
		flag string
		cfg  *config.Config
		want string
	}{
		{"", nil, libvirt.DefaultURI},
		{"", &config.Config{}, libvirt.DefaultURI},
		{"", withConnect, "qemu+ssh://box/system"},
		{"qemu:///session", withConnect, "qemu:///session"},
		{"qemu:///session", nil, "qemu:///session"},
	} {
		if got := (Options{Connect: tc.flag}).URI(tc.cfg); got != tc.want {
			t.Errorf("URI(flag %q, cfg %+v) = %q, want %q", tc.flag, tc.cfg, got, tc.want)
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Without -f and without a default file there is no config (nil, no
// error); the first default file that exists is loaded; --connect
// overrides its connect; a config with errors is a ProblemsError with
// positions.
func TestLoadOptionalConfig(t *testing.T) {
	dir := t.TempDir()
	o := Options{ConfigPaths: []string{filepath.Join(dir, "config.yaml"), filepath.Join(dir, "config.json")}}
	if cfg, ws, err := o.LoadOptionalConfig(); cfg != nil || ws != nil || err != nil {
		t.Fatalf("no config: %v %v %v", cfg, ws, err)
	}
	writeFile(t, dir, "config.json", `{"connect": "qemu+ssh://box/system", "accelerator": "tcg", "vms": {"j": {}}}`)
	cfg, _, err := o.LoadOptionalConfig()
	if err != nil || cfg == nil || cfg.VMs["j"] == nil || cfg.Connect != "qemu+ssh://box/system" {
		t.Fatalf("default json: %+v, %v", cfg, err)
	}
	o.Connect = "qemu:///session"
	if cfg, _, err = o.LoadOptionalConfig(); err != nil || cfg.Connect != "qemu:///session" || o.URI(cfg) != "qemu:///session" {
		t.Fatalf("--connect override: %+v, %v", cfg, err)
	}
	bad := writeFile(t, dir, "bad.yaml", "accelerator: tcg\nvms:\n  a:\n    vcpus: -3\n")
	o.ConfigFile = bad
	_, _, err = o.LoadOptionalConfig()
	var pe *ProblemsError
	if !errors.As(err, &pe) {
		t.Fatalf("bad config: %v", err)
	}
	found := false
	for _, p := range pe.Problems {
		found = found || (p.Location() == bad+":4:12" && p.Path == "vms.a.vcpus")
	}
	if !found {
		t.Errorf("bad config: no problem at %s:4:12 vms.a.vcpus in %+v", bad, pe.Problems)
	}
	if _, _, err := (Options{ConfigFile: filepath.Join(dir, "missing.yaml")}).LoadOptionalConfig(); err == nil {
		t.Error("a missing -f file loaded")
	}
	o = Options{ConfigFile: "-", Stdin: strings.NewReader("accelerator: tcg\nvms: {s: {}}\n")}
	if cfg, _, err := o.LoadOptionalConfig(); err != nil || cfg.VMs["s"] == nil {
		t.Errorf("stdin: %+v, %v", cfg, err)
	}
}
