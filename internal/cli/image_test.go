package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Image verbs registered from their own files all come out under
// `deskvm image`, each built with the same global options.
func TestRegisterImageVerbs(t *testing.T) {
	saved := imageFactories
	t.Cleanup(func() { imageFactories = saved })
	imageFactories = nil
	var got []*globalOptions
	for _, name := range []string{"plan", "build", "check"} {
		registerImage(name, func(g *globalOptions) *cobra.Command {
			got = append(got, g)
			return &cobra.Command{Use: name, Short: "image " + name, RunE: func(*cobra.Command, []string) error { return nil }}
		})
	}
	var out bytes.Buffer
	root := NewRootCommand(nil, &out, &out)
	img, _, err := root.Find([]string{"image"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range img.Commands() {
		names = append(names, c.Name())
	}
	if strings.Join(names, " ") != "build check plan" {
		t.Errorf("image verbs %q, want build check plan", names)
	}
	if len(got) != 3 || got[0] != got[1] || got[1] != got[2] || got[0] == nil {
		t.Errorf("verbs built with %d option sets, want the same global options for all 3", len(got))
	}
}
