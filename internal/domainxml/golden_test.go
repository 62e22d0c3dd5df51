package domainxml

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
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
			p := goldenPath(gc.name)
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
		})
	}
	// No stale goldens left behind by a renamed case.
	files, _ := filepath.Glob("testdata/*.golden")
	for _, f := range files {
		name := filepath.Base(f)
		name = name[:len(name)-len(".golden")]
		if !seen[name] && !yamlCase(name) {
			t.Errorf("%s has no case", f)
		}
	}
}

// yamlCase reports whether a golden belongs to a YAML example case.
func yamlCase(name string) bool {
	_, err := os.Stat(filepath.Join("testdata", name+".yaml"))
	return err == nil
}
