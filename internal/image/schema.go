package image

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/invopop/jsonschema"
)

// Schema is the JSON Schema of a recipe, generated from the Go types
// (descriptions from their jsonschema tags), for editors and for the
// reference in docs/images.md.
func Schema() ([]byte, error) {
	s := reflectSchema()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func reflectSchema() *jsonschema.Schema {
	r := &jsonschema.Reflector{AllowAdditionalProperties: false, ExpandedStruct: true, DoNotReference: true}
	s := r.Reflect(&Recipe{})
	s.ID = "https://github.com/deskvm/deskvm/docs/recipe.schema.json"
	s.Title = "deskvm image recipe"
	s.Description = "What deskvm image build builds: a Linux cloud image configured by cloud-init, an unattended Windows install or a macOS install."
	return s
}

// JSONSchemaExtend marks name as required and writes the patterns the
// tags cannot hold.
func (Recipe) JSONSchemaExtend(s *jsonschema.Schema) {
	s.Required = []string{"name"}
	if p, ok := s.Properties.Get("diskSize"); ok && p != nil {
		p.Pattern = `^[0-9]+(B|K|KiB|M|MiB|G|GiB|T|TiB)$`
	}
	if p, ok := s.Properties.Get("memory"); ok && p != nil {
		p.Type = ""
		p.OneOf = []*jsonschema.Schema{{Type: "integer", Minimum: "256"}, {Type: "string", Pattern: `^[0-9]+(M|MiB|G|GiB)$`}}
	}
}

// Reference is the recipe key reference of docs/images.md as a Markdown
// table, generated from the schema so the descriptions live once, in Go.
func Reference() string {
	var b strings.Builder
	b.WriteString("| key | type | description |\n|---|---|---|\n")
	var walk func(prefix string, s *jsonschema.Schema)
	walk = func(prefix string, s *jsonschema.Schema) {
		if s == nil || s.Properties == nil {
			return
		}
		for pair := s.Properties.Oldest(); pair != nil; pair = pair.Next() {
			key, p := prefix+pair.Key, pair.Value
			desc := strings.ReplaceAll(p.Description, "|", `\|`)
			if len(p.Enum) > 0 {
				var vals []string
				for _, e := range p.Enum {
					vals = append(vals, fmt.Sprint(e))
				}
				desc += " One of: " + strings.Join(vals, ", ") + "."
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", key, schemaType(p), desc)
			switch {
			case p.Type == "object":
				walk(key+".", p)
			case p.Type == "array" && p.Items != nil && p.Items.Type == "object":
				walk(key+"[].", p.Items)
			}
		}
	}
	walk("", reflectSchema())
	return b.String()
}

func schemaType(p *jsonschema.Schema) string {
	switch {
	case len(p.OneOf) > 0:
		var ts []string
		for _, o := range p.OneOf {
			ts = append(ts, o.Type)
		}
		return strings.Join(ts, " or ")
	case p.Type == "array" && p.Items != nil:
		return "list of " + p.Items.Type
	case p.Type == "":
		return "any"
	}
	return p.Type
}
