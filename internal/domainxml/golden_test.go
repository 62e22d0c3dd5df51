package domainxml

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/deskvm/deskvm/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current renderer")

func goldenPath(name string) string { return filepath.Join("testdata", name+".golden") }

func TestGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, gc := range goldenCases() {
		if seen[gc.name] {
			t.Fatalf("duplicate case %s", gc.name)
		}
		seen[gc.name] = true
		t.Run(gc.name, func(t *testing.T) {
			c, f := gc.build()
			got, err := RenderXML(c, gc.name, f, gc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			again, err := RenderXML(c, gc.name, f, gc.opts...)
			if err != nil || again != got {
				t.Fatalf("second render differs (err %v)", err)
			}
			compareGolden(t, gc.name, got)
		})
	}
	for _, ex := range examples {
		c := loadExample(t, ex)
		for _, vm := range c.EnabledVMs() {
			name := "example-" + strings.TrimSuffix(filepath.Base(ex), ".yaml") + "-" + vm
			seen[name] = true
			t.Run(name, func(t *testing.T) {
				got, err := RenderXML(c, vm, deskHost())
				if err != nil {
					t.Fatal(err)
				}
				compareGolden(t, name, got)
			})
		}
	}
	// No stale goldens left behind by a renamed case.
	files, _ := filepath.Glob("testdata/*.golden")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".golden")
		if !seen[name] {
			t.Errorf("%s has no case", f)
		}
	}
}

// examples are the configs shipped in examples/; every enabled VM of
// each must load, validate and render.
var examples = []string{"../../examples/desktop.yaml", "../../examples/demo.yaml"}

func loadExample(t *testing.T, path string) *config.Config {
	t.Helper()
	c, _, err := config.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	config.FillDefaults(c)
	if err := config.Validate(c).Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(c.EnabledVMs()) == 0 {
		t.Fatalf("%s: no enabled VM", path)
	}
	return c
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	p := goldenPath(name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got), go test -update rewrites it:\n%s", p, d)
	}
}
