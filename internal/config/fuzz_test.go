package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// FuzzLoad: Load never panics; it either fails with yamlsrc.Problems or returns a
// config that FillDefaults, Validate, Hash and the defaults output handle,
// and a config without errors survives the defaults round trip.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/*.yaml")
	more, _ := filepath.Glob("testdata/*")
	for _, s := range append(seeds, more...) {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("vms:\n  a: {cpuPinning: auto, memory: 1G}\n  b: *x\n"))
	f.Add([]byte(`{"vms": {"a": {"portForwards": [{"host": 1, "guest": 2}], "network": "user"}}}`))
	f.Add([]byte("x-a: &a {vcpus: 2}\nvms: {a: {<<: [*a, *a]}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, src, err := Load("fuzz.yaml", data)
		if err != nil {
			var ps yamlsrc.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("Load error %v is not yamlsrc.Problems", err)
			}
		} else if cfg == nil {
			t.Fatal("Load returned neither config nor error")
		}
		if cfg == nil {
			return
		}
		FillDefaults(cfg)
		ps := src.Locate(Validate(cfg))
		for _, name := range cfg.VMNames() {
			_ = Hash(cfg.VMs[name], cfg)
		}
		_ = CheckHost(cfg, twoCPUHost())
		out, merr := cfg.MarshalYAML()
		if merr != nil {
			t.Fatalf("MarshalYAML: %v", merr)
		}
		if err == nil && !ps.HasErrors() {
			if _, _, err := Load("defaults.yaml", out); err != nil {
				t.Fatalf("defaults output of a valid config does not load: %v\ninput:\n%s\noutput:\n%s", err, data, out)
			}
		}
	})
}
