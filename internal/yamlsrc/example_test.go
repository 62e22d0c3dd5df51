package yamlsrc_test

import (
	"errors"
	"fmt"

	"github.com/deskvm/deskvm/internal/units"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// recipe is a schema: a tagged Go struct. Field names come from the json tags.
type recipe struct {
	Name     string     `json:"name"`
	Memory   units.Size `json:"memory,omitempty"`
	DiskSize units.Size `json:"diskSize,omitempty"`
	Packages []string   `json:"packages,omitempty"`
}

// validate is the schema's own check, returning problems by field path.
func (r *recipe) validate() yamlsrc.Problems {
	var ps yamlsrc.Problems
	if r.Name == "" {
		ps = append(ps, yamlsrc.Errorf("name", "a recipe needs a name"))
	}
	if r.DiskSize.IsSet() && r.DiskSize.Bytes() < r.Memory.Bytes() {
		ps = append(ps, yamlsrc.Errorf("diskSize", "%s is smaller than memory %s", r.DiskSize, r.Memory))
	}
	return ps
}

func Example() {
	data := []byte(`name: debian
memory: 16GB
diskSzie: 20G
packages: openssh-server
`)
	var r recipe
	doc, err := yamlsrc.Load("recipe.yaml", data, &r, yamlsrc.What("recipe"))
	var ps yamlsrc.Problems
	if errors.As(err, &ps) {
		fmt.Println(ps)
	}

	// The schema's checks run on what loaded; Locate adds the positions.
	data = []byte("name: debian\nmemory: 16G\ndiskSize: 8G\n")
	r = recipe{}
	doc, err = yamlsrc.Load("recipe.yaml", data, &r)
	fmt.Println(err, r.Memory.Bytes())
	fmt.Println(doc.Locate(r.validate()))
	pos, _ := doc.Pos("diskSize")
	fmt.Println("diskSize is at", pos)
	// Output:
	// recipe.yaml:2:9: memory: invalid size "16GB": "GB" is a decimal unit; use G or GiB
	// recipe.yaml:3:1: diskSzie: unknown field "diskSzie"; did you mean "diskSize"?
	// recipe.yaml:4:11: packages: expected a list, got a string ("openssh-server")
	// <nil> 17179869184
	// recipe.yaml:3:11: diskSize: 8G is smaller than memory 16G
	// diskSize is at 3:11
}
