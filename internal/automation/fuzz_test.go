package automation

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// FuzzParse: Parse never panics; it either returns problems, each with
// the file and a position, or a script whose steps all know where they
// are and describe themselves.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/automation/*.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(referenceScript))
	f.Add([]byte("boot_commands:\n  - wait: {regex: 'a(b', region: {x: 1, y: 2, width: 3, height: 0}}\n  - hotkey: ctrl++\n"))
	f.Add([]byte("boot_commands:\n  - &s {type: '${PW}'}\n  - *s\n  - wait_still: {seconds: 1e9}\n  - key: enter\n    key: tab\n"))
	f.Add([]byte("health_check: {type: ssh, user: u, key: k, expect: {regex: x}, port: 99999999999999999999}\n"))
	dir := f.TempDir()
	file := filepath.Join(dir, "s.yaml")
	env := func(name string) (string, bool) { return "v-" + name, name != "UNSET" }
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(file, data, LoadOptions{LookupEnv: env})
		if err != nil {
			var ps yamlsrc.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %v is not yamlsrc.Problems", err)
			}
			for _, p := range ps {
				if p.File != file || !p.Pos.IsValid() || p.Message == "" {
					t.Fatalf("problem without file, position or message: %#v", p)
				}
			}
			if s != nil {
				t.Fatal("a script and an error")
			}
			return
		}
		for _, st := range s.Steps {
			if p := st.Position(); p.File != file || p.Line < 1 || p.Column < 1 {
				t.Fatalf("step %s at %v", st.Command(), p)
			}
			_ = st.Describe()
			_ = StepLabel(st)
		}
	})
}
