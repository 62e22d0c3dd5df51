package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/deskvm/deskvm/internal/config"
)

// The generated part of docs/config.md lies between these markers; the
// prose around it is written by hand.
const (
	configDocsBegin = "<!-- BEGIN GENERATED from the config schema by `go test ./internal/cli -run TestConfigDocs -update`; do not edit -->"
	configDocsEnd   = "<!-- END GENERATED -->"
)

// configReference is the generated part of docs/config.md: the profile
// table and every option with its type, default and description, all
// from config.Options (the jsonschema tags and FillDefaults), so that an
// option's text lives once, in Go.
func configReference(opts []config.Option) (string, error) {
	var b strings.Builder
	b.WriteString(configDocsBegin + "\n\n")
	b.WriteString("### Profiles\n\n`profile` picks the defaults of these options:\n\n")
	paths, table := config.ProfileTable(opts)
	b.WriteString("| option |")
	for i, p := range config.Profiles {
		label := "`" + p + "`"
		if i == 0 {
			label += " (default)"
		}
		b.WriteString(" " + label + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(config.Profiles)) + "\n")
	for _, path := range paths {
		fmt.Fprintf(&b, "| `%s` |", path)
		for _, p := range config.Profiles {
			fmt.Fprintf(&b, " %s |", docValue(table[p][path]))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nA value written in the file always wins over the profile.\n")

	section := func(title string, match func(string) bool) {
		fmt.Fprintf(&b, "\n### %s\n\n", title)
		b.WriteString("| option | type | default | description |\n|---|---|---|---|\n")
		for _, o := range opts {
			if !match(o.Path) || o.Type == "object" {
				continue
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", o.Path, docType(o), docDefault(o), cell(o.Description))
		}
	}
	section("Global options", func(p string) bool { return !strings.HasPrefix(p, "vms.") })
	section("Per-VM options", func(p string) bool { return strings.HasPrefix(p, "vms.") })
	b.WriteString("\n" + configDocsEnd + "\n")
	return b.String(), nil
}

// replaceGenerated puts gen between the markers of doc.
func replaceGenerated(doc []byte, gen string) ([]byte, error) {
	i := bytes.Index(doc, []byte(configDocsBegin))
	j := bytes.Index(doc, []byte(configDocsEnd))
	if i < 0 || j < i {
		return nil, fmt.Errorf("docs/config.md lacks the generated-section markers")
	}
	end := j + len(configDocsEnd)
	if end < len(doc) && doc[end] == '\n' {
		end++
	}
	var out bytes.Buffer
	out.Write(doc[:i])
	out.WriteString(gen)
	out.Write(doc[end:])
	return out.Bytes(), nil
}

// docType is an option's type in words.
func docType(o config.Option) string {
	switch o.Type {
	case "boolean":
		return "bool"
	case "integer":
		switch {
		case o.Minimum != nil && o.Maximum != nil:
			return fmt.Sprintf("integer %g–%g", *o.Minimum, *o.Maximum)
		case o.Minimum != nil:
			return fmt.Sprintf("integer ≥ %g", *o.Minimum)
		}
		return "integer"
	case "string":
		if len(o.Enum) > 0 {
			q := make([]string, len(o.Enum))
			for i, e := range o.Enum {
				q[i] = "`" + e + "`"
			}
			return strings.Join(q, " \\| ")
		}
		return patternName(o.Pattern)
	case "pinning":
		return "list of CPU sets, or `auto`"
	case "array":
		if o.Items != nil && o.Items.Type == "object" {
			return "list of groups (below)"
		}
		if o.Items != nil {
			name := docType(*o.Items)
			if strings.HasSuffix(name, "s") {
				return "list of " + name + "es"
			}
			return "list of " + name + "s"
		}
		return "list"
	case "map":
		if o.Items != nil && o.Items.Type == "object" {
			return "map of name to the options below"
		}
		if o.Items != nil {
			return "map of name to " + docType(*o.Items)
		}
		return "map"
	}
	return o.Type
}

// patternName names the kind of string a schema pattern accepts.
func patternName(p string) string {
	switch {
	case p == "":
		return "string"
	case strings.Contains(p, "KiB"):
		return "size"
	case strings.Contains(p, `\^?[0-9]+`):
		return "CPU set"
	case strings.Contains(p, "{12}"):
		return "UUID"
	case strings.Contains(p, "(:[0-9a-fA-F]{2}){5}"):
		return "MAC address"
	case strings.Contains(p, "bridge:"):
		return "`default` \\| `user` \\| `none` \\| `bridge:NAME`"
	case strings.Contains(p, `\.[0-7]`):
		return "PCI address"
	}
	return "name"
}

func docDefault(o config.Option) string {
	if o.Required {
		return "required"
	}
	if o.Path == "vms" {
		return "none"
	}
	switch o.Default.Kind {
	case config.FixedDefault:
		return docValue(o.Default.Value)
	case config.ProfileDefault:
		var parts []string
		for _, p := range config.Profiles {
			parts = append(parts, fmt.Sprintf("%s (%s)", docValue(o.Default.ByProfile[p]), p))
		}
		return "by profile: " + strings.Join(parts, ", ")
	case config.DerivedDefault:
		return cell(o.Default.Text)
	}
	return "none"
}

func docValue(v any) string {
	if s, ok := v.(string); ok {
		return "`" + s + "`"
	}
	b, _ := json.Marshal(v)
	return "`" + string(b) + "`"
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}
