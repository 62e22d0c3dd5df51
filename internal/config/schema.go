package config

import (
	"encoding/json"
	"reflect"

	"github.com/invopop/jsonschema"
)

// Patterns for editors; Validate is the authority and explains failures.
const (
	sizePattern    = `^[0-9]+(B|K|KiB|M|MiB|G|GiB|T|TiB)$`
	cpuSetPattern  = `^\^?[0-9]+(-[0-9]+)?(,\^?[0-9]+(-[0-9]+)?)*$`
	uuidPattern    = `^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`
	macPattern     = `^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`
	namePattern    = `^[a-zA-Z0-9][a-zA-Z0-9._-]*$`
	networkPattern = `^(default|user|none|bridge:[^/: \t]{1,15})$`
	pciPattern     = `^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\.[0-7]$`
)

// SchemaID is the $id of the generated schema.
const SchemaID = "https://github.com/deskvm/deskvm/docs/config.schema.json"

// Schema is the JSON Schema of the config file, generated from the Go
// types (descriptions from their jsonschema tags), for editors and for
// docs/config.schema.json.
func Schema() ([]byte, error) {
	r := &jsonschema.Reflector{
		// additionalProperties: false everywhere, as Load is strict.
		AllowAdditionalProperties: false,
		ExpandedStruct:            true,
		// A size is a string in the file (sizePattern).
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == sizeType {
				return &jsonschema.Schema{Type: "string"}
			}
			return nil
		},
	}
	s := r.Reflect(&Config{})
	s.ID = SchemaID
	s.Title = "deskvm configuration"
	s.Description = "Desktop VMs for deskvm: the option tree of the NixOS option virtualisation.desktopVMs, as YAML or JSON."
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func setPattern(s *jsonschema.Schema, prop, pattern string) {
	if p, ok := s.Properties.Get(prop); ok && p != nil {
		p.Pattern = pattern
	}
}

// JSONSchemaExtend adds value patterns the tags cannot hold.
func (VM) JSONSchemaExtend(s *jsonschema.Schema) {
	for _, f := range []string{"memory", "currentMemory", "diskSize"} {
		setPattern(s, f, sizePattern)
	}
	setPattern(s, "uuid", uuidPattern)
	setPattern(s, "macAddress", macPattern)
	setPattern(s, "emulatorPin", cpuSetPattern)
	setPattern(s, "iothreadPin", cpuSetPattern)
	setPattern(s, "storagePool", namePattern)
	setPattern(s, "network", networkPattern)
	if p, ok := s.Properties.Get("pciDevices"); ok && p.Items != nil {
		p.Items.Pattern = pciPattern
	}
}

// JSONSchemaExtend adds value patterns the tags cannot hold.
func (Config) JSONSchemaExtend(s *jsonschema.Schema) {
	setPattern(s, "defaultStoragePool", namePattern)
	s.PatternProperties = map[string]*jsonschema.Schema{
		"^" + extensionPrefix: {Description: "ignored; a place for YAML anchors shared by VMs"},
	}
	if p, ok := s.Properties.Get("vms"); ok && p != nil {
		p.PropertyNames = &jsonschema.Schema{Pattern: namePattern, MaxLength: ptrU(maxNameLen)}
	}
}

func ptrU(n int) *uint64 { u := uint64(n); return &u }
