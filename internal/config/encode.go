package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/goccy/go-yaml"

	"github.com/deskvm/deskvm/internal/units"
)

// MarshalYAML writes the config as YAML in field order, with every option
// that has a value: after FillDefaults that is the fully defaulted config,
// including false and 0 (which the json tags' omitempty would hide).
// The output loads back into the same config.
func (c *Config) MarshalYAML() ([]byte, error) {
	v, _ := ordered(reflect.ValueOf(c))
	return yaml.MarshalWithOptions(v, yaml.Indent(2), yaml.IndentSequence(true), yaml.UseLiteralStyleIfMultiline(true))
}

// MarshalIndentJSON writes the same as MarshalYAML, as indented JSON.
func (c *Config) MarshalIndentJSON() ([]byte, error) {
	v, _ := ordered(reflect.ValueOf(c))
	var buf bytes.Buffer
	if err := writeJSON(&buf, v); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

var (
	cpuPinningType = reflect.TypeFor[CPUPinning]()
	sizeType       = reflect.TypeFor[units.Size]()
)

// ordered turns a config value into yaml.MapSlice / []any / scalars,
// leaving out what is unset: nil pointers, empty strings, lists and maps,
// and structs with nothing set.
func ordered(v reflect.Value) (any, bool) {
	if v.Type() == sizeType {
		s := v.Interface().(units.Size)
		return s.String(), s.IsSet()
	}
	if v.Type() == cpuPinningType {
		p := v.Interface().(CPUPinning)
		if p.IsZero() {
			return nil, false
		}
		return p.value(), true
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil, false
		}
		return ordered(v.Elem())
	case reflect.Struct:
		if v.IsZero() {
			return nil, false
		}
		var ms yaml.MapSlice
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := jsonName(f)
			if name == "-" {
				continue
			}
			if fv, ok := ordered(v.Field(i)); ok {
				ms = append(ms, yaml.MapItem{Key: name, Value: fv})
			}
		}
		return ms, true
	case reflect.Map:
		if v.Len() == 0 {
			return nil, false
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		var ms yaml.MapSlice
		for _, k := range keys {
			ev := v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))
			fv, ok := ordered(ev)
			if !ok {
				// A VM with nothing set is still a VM.
				fv = yaml.MapSlice{}
			}
			ms = append(ms, yaml.MapItem{Key: k, Value: fv})
		}
		return ms, true
	case reflect.Slice:
		if v.Len() == 0 {
			return nil, false
		}
		out := make([]any, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			ev, ok := ordered(v.Index(i))
			if !ok {
				ev = ""
			}
			out = append(out, ev)
		}
		return out, true
	case reflect.String:
		if v.Len() == 0 {
			return nil, false
		}
		return v.String(), true
	case reflect.Int:
		return int(v.Int()), true
	case reflect.Bool:
		return v.Bool(), true
	}
	panic("config: cannot encode " + v.Type().String())
}

func jsonName(f reflect.StructField) string {
	name := f.Tag.Get("json")
	for i := 0; i < len(name); i++ {
		if name[i] == ',' {
			name = name[:i]
			break
		}
	}
	if name == "" {
		return f.Name
	}
	return name
}

func writeJSON(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case yaml.MapSlice:
		buf.WriteByte('{')
		for i, item := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSONScalar(buf, fmt.Sprint(item.Key)); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := writeJSON(buf, item.Value); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	default:
		return writeJSONScalar(buf, x)
	}
	return nil
}

// writeJSONScalar writes without HTML escaping, so extraDevices XML stays
// readable.
func writeJSONScalar(buf *bytes.Buffer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Write(bytes.TrimRight(b.Bytes(), "\n"))
	return nil
}
