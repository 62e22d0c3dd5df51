package config

import (
	"encoding/json"
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/invopop/jsonschema"
)

// pinningAuto is the spelling of automatic pinning in the config.
const pinningAuto = "auto"

// IsZero reports whether no pinning is configured.
func (p CPUPinning) IsZero() bool { return !p.Auto && len(p.Sets) == 0 }

// value is the config form: "auto", the list, or nil.
func (p CPUPinning) value() any {
	switch {
	case p.Auto:
		return pinningAuto
	case len(p.Sets) > 0:
		return p.Sets
	}
	return nil
}

func (p *CPUPinning) set(v any) error {
	switch x := v.(type) {
	case nil:
		*p = CPUPinning{}
	case string:
		if x != pinningAuto {
			return fmt.Errorf(`cpuPinning: expected "auto" or a list of CPU sets, got %q`, x)
		}
		*p = CPUPinning{Auto: true}
	case []any:
		sets := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("cpuPinning[%d]: expected a CPU set string, got %v", i, e)
			}
			sets[i] = s
		}
		*p = CPUPinning{Sets: sets}
	default:
		return fmt.Errorf(`cpuPinning: expected "auto" or a list of CPU sets, got %v`, x)
	}
	return nil
}

// MarshalJSON writes "auto", a list of CPU sets, or null.
func (p CPUPinning) MarshalJSON() ([]byte, error) { return json.Marshal(p.value()) }

// UnmarshalJSON reads "auto", a list of CPU sets, or null.
func (p *CPUPinning) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return p.set(v)
}

// MarshalYAML writes "auto" or a list of CPU sets (goccy/go-yaml).
func (p CPUPinning) MarshalYAML() (any, error) { return p.value(), nil }

// UnmarshalYAML reads "auto" or a list of CPU sets (goccy/go-yaml). Load
// does not need it; it is here for code that decodes configs itself.
func (p *CPUPinning) UnmarshalYAML(b []byte) error {
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return err
	}
	return p.set(v)
}

// JSONSchema describes both forms for editors.
func (CPUPinning) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Description: `Host CPUs for the vCPUs: a list with one libvirt CPU set per vCPU ("0-1", "2,3"; vCPUs beyond the list float), or "auto" to pick whole physical cores (with their SMT siblings) from the host's topology, avoiding CPU 0 and cores pinned by other VMs.`,
		OneOf: []*jsonschema.Schema{
			{Type: "array", Items: &jsonschema.Schema{Type: "string", Pattern: cpuSetPattern}},
			{Type: "string", Const: pinningAuto},
		},
	}
}
