package config

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Option is one option of the config as generated documentation and the
// NixOS module see it: read from the JSON Schema (type, enum, pattern,
// bounds, description) and from FillDefaults (the default), so that the
// descriptions live once, in the jsonschema tags of the Go types, and the
// defaults once, in FillDefaults.
type Option struct {
	// Path is the dotted option path; "<name>" stands for a map key
	// (vms.<name>.memory) and "*" for a list item (portForwards.*.host).
	Path string
	// Type is the schema type: boolean, integer, string, array, map,
	// object (a group of options) or pinning (a list of CPU sets or "auto").
	Type string
	// Items is the element of an array or map; nil for objects of options.
	Items *Option
	// Enum lists the allowed values of a string option.
	Enum []string
	// Pattern is the regular expression (JSON Schema dialect) a string
	// must match, as editors check it; Validate is the authority.
	Pattern string
	// Minimum and Maximum bound an integer; nil when unbounded.
	Minimum, Maximum *float64
	// Required marks an option that must be set when its group is.
	Required bool
	// KeyPattern and KeyMaxLength constrain the names of a map (vms).
	KeyPattern   string
	KeyMaxLength int
	// Description is the option's text from the jsonschema tag.
	Description string
	// Default describes the value the option has when it is not set.
	Default Default
}

// DefaultKind says how an unset option gets its value.
type DefaultKind int

const (
	// NoDefault: unset stays unset (e.g. sshUser, boot).
	NoDefault DefaultKind = iota
	// FixedDefault: always Value.
	FixedDefault
	// ProfileDefault: ByProfile[profile].
	ProfileDefault
	// DerivedDefault: computed from other options or the VM name; Text
	// says how.
	DerivedDefault
)

// Default is the default of one option.
type Default struct {
	Kind      DefaultKind
	Value     any            // FixedDefault
	ByProfile map[string]any // ProfileDefault: profile name to value
	Text      string         // DerivedDefault (and a readable form of the others)
}

// Options lists every option of the config in schema order (leaves and
// groups), with defaults found by running FillDefaults on probe configs:
// a default that changes with the profile is a ProfileDefault, one that
// changes with other options or the VM name is a DerivedDefault.
func Options() ([]Option, error) {
	raw, err := Schema()
	if err != nil {
		return nil, err
	}
	var root schemaNode
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("read config schema: %w", err)
	}
	probes, err := defaultProbes()
	if err != nil {
		return nil, err
	}
	w := &optionWalker{defs: root.Defs, probes: probes}
	w.object(&root, "")
	return w.out, nil
}

// schemaNode is the part of JSON Schema that deskvm's schema uses.
type schemaNode struct {
	Type                 string                 `json:"type"`
	Ref                  string                 `json:"$ref"`
	Description          string                 `json:"description"`
	Enum                 []string               `json:"enum"`
	Const                string                 `json:"const"`
	Pattern              string                 `json:"pattern"`
	Minimum              *float64               `json:"minimum"`
	Maximum              *float64               `json:"maximum"`
	Required             []string               `json:"required"`
	Items                *schemaNode            `json:"items"`
	OneOf                []*schemaNode          `json:"oneOf"`
	AdditionalProperties json.RawMessage        `json:"additionalProperties"`
	Properties           orderedProps           `json:"properties"`
	PropertyNames        *schemaNode            `json:"propertyNames"`
	MaxLength            int                    `json:"maxLength"`
	Defs                 map[string]*schemaNode `json:"$defs"`
}

// orderedProps keeps the properties in the schema's (the Go fields') order.
type orderedProps struct {
	names []string
	nodes map[string]*schemaNode
}

func (p *orderedProps) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	p.nodes = map[string]*schemaNode{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		var n schemaNode
		if err := dec.Decode(&n); err != nil {
			return err
		}
		p.names = append(p.names, name)
		p.nodes[name] = &n
	}
	return nil
}

type optionWalker struct {
	defs   map[string]*schemaNode
	probes *probeSet
	out    []Option
}

func (w *optionWalker) deref(n *schemaNode) *schemaNode {
	if n.Ref == "" {
		return n
	}
	d := w.defs[strings.TrimPrefix(n.Ref, "#/$defs/")]
	if d == nil {
		return n
	}
	return d
}

// object lists the properties of an object node under prefix.
func (w *optionWalker) object(n *schemaNode, prefix string) {
	req := map[string]bool{}
	for _, r := range n.Required {
		req[r] = true
	}
	for _, name := range n.Properties.names {
		p := n.Properties.nodes[name]
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		o := w.option(p, path)
		o.Required = req[name]
		w.out = append(w.out, o)
		if o.Type == "object" {
			w.object(w.deref(p), path)
		}
		if o.Items != nil && o.Items.Type == "object" {
			w.object(w.deref(w.itemNode(p)), o.Items.Path)
		}
	}
}

func (w *optionWalker) itemNode(p *schemaNode) *schemaNode {
	d := w.deref(p)
	if d.Items != nil {
		return d.Items
	}
	var item schemaNode
	if json.Unmarshal(d.AdditionalProperties, &item) == nil {
		return &item
	}
	return nil
}

// option describes node p at path (without its sub-options).
func (w *optionWalker) option(p *schemaNode, path string) Option {
	d := w.deref(p)
	o := Option{Path: path, Description: p.Description, Pattern: d.Pattern, Enum: d.Enum, Minimum: d.Minimum, Maximum: d.Maximum}
	// A property that only points at its type ("… (see CPUPinning).")
	// takes the type's own description.
	if d != p && d.Description != "" && (o.Description == "" || strings.Contains(o.Description, "(see ")) {
		o.Description = d.Description
	}
	switch {
	case len(d.OneOf) > 0:
		o.Type = "pinning"
		for _, alt := range d.OneOf {
			if alt.Type == "array" && alt.Items != nil {
				o.Items = &Option{Path: path + ".*", Type: alt.Items.Type, Pattern: alt.Items.Pattern}
			}
			if alt.Const != "" {
				o.Enum = append(o.Enum, alt.Const)
			}
		}
	case d.Type == "array":
		o.Type = "array"
		it := w.option(d.Items, path+".*")
		o.Items = &it
	case d.Type == "object" && len(d.AdditionalProperties) > 0 && string(d.AdditionalProperties) != "false":
		o.Type = "map"
		if d.PropertyNames != nil {
			o.KeyPattern, o.KeyMaxLength = d.PropertyNames.Pattern, d.PropertyNames.MaxLength
		}
		it := w.option(w.itemNode(p), path+".<name>")
		o.Items = &it
	default:
		o.Type = d.Type
	}
	// Groups, maps and lists of groups have no default of their own.
	if o.Type != "object" && o.Type != "map" && (o.Items == nil || o.Items.Type != "object") {
		o.Default = w.probes.defaultOf(path, o.Description)
	}
	return o
}

// probeSet holds fully defaulted probe configs as generic JSON values.
type probeSet struct {
	// base and perturbed configs per profile, and the perturbed input.
	base, perturbed map[string]any
	perturbedInput  any
	// unset is the base probe without a profile; unsetInput its input.
	unset, unsetInput any
}

// The probes: the same VM with nothing set, and a VM with another name,
// other memory, OS and display, under other global defaults. What differs
// between them (and is not set by the probe) is derived from those.
const (
	probeUnset     = `{"vms":{"a":{"portForwards":[{"host":2222,"guest":22}]}}}`
	probeBase      = `{"profile":%q,"vms":{"a":{"portForwards":[{"host":2222,"guest":22}]}}}`
	probePerturbed = `{"profile":%q,"accelerator":"tcg","defaultStoragePool":"p2",
		"vms":{"b":{"memory":"8G","osType":"macos","display":"looking-glass","portForwards":[{"host":2222,"guest":22}]}}}`
)

// Profiles are the values of profile, in the schema's order.
var Profiles = []string{string(ProfileOccasional), string(ProfileAlwaysOn)}

func defaultProbes() (*probeSet, error) {
	ps := &probeSet{base: map[string]any{}, perturbed: map[string]any{}}
	if err := json.Unmarshal([]byte(fmt.Sprintf(probePerturbed, Profiles[0])), &ps.perturbedInput); err != nil {
		return nil, fmt.Errorf("default probe: %w", err)
	}
	if err := json.Unmarshal([]byte(probeUnset), &ps.unsetInput); err != nil {
		return nil, fmt.Errorf("default probe: %w", err)
	}
	var err error
	if ps.unset, err = defaulted(probeUnset); err != nil {
		return nil, err
	}
	for _, prof := range Profiles {
		for tmpl, into := range map[string]map[string]any{probeBase: ps.base, probePerturbed: ps.perturbed} {
			if into[prof], err = defaulted(fmt.Sprintf(tmpl, prof)); err != nil {
				return nil, err
			}
		}
	}
	return ps, nil
}

// defaulted is the JSON config in after FillDefaults, as a generic value.
func defaulted(in string) (any, error) {
	var c Config
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		return nil, fmt.Errorf("default probe: %w", err)
	}
	FillDefaults(&c)
	out, err := c.MarshalIndentJSON()
	if err != nil {
		return nil, fmt.Errorf("default probe: %w", err)
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("default probe: %w", err)
	}
	return v, nil
}

// lookup finds path in a JSON value of a probe: <name> is the probe's
// only VM, * the first list item.
func lookup(v any, path string) (any, bool) {
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			if seg == "<name>" {
				if len(x) != 1 {
					return nil, false
				}
				for _, e := range x {
					v = e
				}
				continue
			}
			e, ok := x[seg]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			if seg != "*" || len(x) == 0 {
				return nil, false
			}
			v = x[0]
		default:
			return nil, false
		}
	}
	return v, true
}

// defaultClause finds "0 (default) computes it", "sata (default for …)".
var defaultClause = regexp.MustCompile(`[^,;:.]*\(default[^)]*\)[^,;:.]*`)

var defaultSentence = regexp.MustCompile(`(?:^|\. )Default:? (.+?)\.(?:\s|$)`)

// defaultOf classifies the default of path from the probes; description
// gives the text of derived defaults ("Default: memory.").
func (ps *probeSet) defaultOf(path, description string) Default {
	if _, set := lookup(ps.unsetInput, path); set {
		return Default{Kind: NoDefault} // required: every probe sets it
	}
	if path == "profile" {
		v, _ := lookup(ps.unset, path)
		return Default{Kind: FixedDefault, Value: v}
	}
	occ, alw := Profiles[0], Profiles[1]
	a, aok := lookup(ps.base[occ], path)
	b, bok := lookup(ps.base[alw], path)
	derived := false
	if _, set := lookup(ps.perturbedInput, path); !set {
		c, cok := lookup(ps.perturbed[occ], path)
		d, dok := lookup(ps.perturbed[alw], path)
		derived = aok != cok || bok != dok || !equalJSON(a, c) || !equalJSON(b, d)
	}
	text := ""
	if m := defaultSentence.FindStringSubmatch(description); m != nil {
		text = m[1]
	} else if cs := defaultClause.FindAllString(description, -1); cs != nil {
		for i := range cs {
			cs[i] = strings.TrimSpace(cs[i])
		}
		text = strings.Join(cs, ", ")
	}
	switch {
	case derived:
		if text == "" {
			text = "computed by deskvm (see the description)"
		}
		return Default{Kind: DerivedDefault, Text: text}
	case aok != bok || !equalJSON(a, b):
		return Default{Kind: ProfileDefault, ByProfile: map[string]any{occ: a, alw: b}, Text: text}
	case aok:
		return Default{Kind: FixedDefault, Value: a}
	}
	return Default{Kind: NoDefault}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// ProfileTable is the profile-dependent defaults: option path to value,
// per profile, in path order of the options.
func ProfileTable(opts []Option) (paths []string, byProfile map[string]map[string]any) {
	byProfile = map[string]map[string]any{}
	for _, p := range Profiles {
		byProfile[p] = map[string]any{}
	}
	for _, o := range opts {
		if o.Default.Kind != ProfileDefault {
			continue
		}
		paths = append(paths, o.Path)
		for p, v := range o.Default.ByProfile {
			byProfile[p][o.Path] = v
		}
	}
	return paths, byProfile
}
