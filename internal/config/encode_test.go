package config

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

var update = flag.Bool("update", false, "rewrite docs/config.schema.json")

// The defaults output is a config file that loads back to the same config.
func TestDefaultsOutputRoundTrips(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	files = append(files, "testdata/full.json", "testdata/anchors.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, _, err := LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			FillDefaults(c)
			y, err := c.MarshalYAML()
			if err != nil {
				t.Fatal(err)
			}
			j, err := c.MarshalIndentJSON()
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range []struct {
				name string
				data []byte
			}{{"defaults.yaml", y}, {"defaults.json", j}} {
				back, _, err := Load(out.name, out.data)
				if err != nil {
					t.Fatalf("%s does not load: %v\n%s", out.name, err, out.data)
				}
				FillDefaults(back)
				if !reflect.DeepEqual(back, c) {
					t.Errorf("%s loads as a different config:\n%s", out.name, out.data)
				}
			}
			// Plain encoding/json reads the JSON form too (CPUPinning's UnmarshalJSON).
			var viaJSON Config
			if err := json.Unmarshal(j, &viaJSON); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&viaJSON, c) {
				t.Errorf("encoding/json reads a different config")
			}
		})
	}
}

func TestDefaultsOutputShowsFalseAndZero(t *testing.T) {
	c := mustLoad(t, "vms:\n  a: {}\n")
	FillDefaults(c)
	y, _ := c.MarshalYAML()
	for _, want := range []string{"tpm: false", "secureBoot: false", "autoStart: false", "iothreads: 0", "onDemand: false", "statsInterval: 5"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("defaults lack %q:\n%s", want, y)
		}
	}
	if strings.Contains(string(y), "lookingGlass") || strings.Contains(string(y), "boot:") {
		t.Errorf("defaults show options that are not in effect:\n%s", y)
	}
}

func TestCPUPinningCodecs(t *testing.T) {
	for _, tt := range []struct {
		json string
		want CPUPinning
	}{
		{`"auto"`, CPUPinning{Auto: true}},
		{`["0-1","2"]`, CPUPinning{Sets: []string{"0-1", "2"}}},
		{`null`, CPUPinning{}},
	} {
		var p CPUPinning
		if err := json.Unmarshal([]byte(tt.json), &p); err != nil || !reflect.DeepEqual(p, tt.want) {
			t.Errorf("UnmarshalJSON(%s) = %+v, %v", tt.json, p, err)
		}
		if b, _ := json.Marshal(tt.want); string(b) != tt.json {
			t.Errorf("MarshalJSON(%+v) = %s, want %s", tt.want, b, tt.json)
		}
		var y CPUPinning
		if err := yaml.Unmarshal([]byte(tt.json), &y); err != nil || !reflect.DeepEqual(y, tt.want) {
			t.Errorf("UnmarshalYAML(%s) = %+v, %v", tt.json, y, err)
		}
	}
	for _, bad := range []string{`"0-3"`, `[1]`, `{}`, `3`} {
		var p CPUPinning
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("UnmarshalJSON(%s) accepted", bad)
		}
		if err := yaml.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("UnmarshalYAML(%s) accepted", bad)
		}
	}
	out, err := yaml.Marshal(struct {
		P CPUPinning `yaml:"p"`
	}{CPUPinning{Auto: true}})
	if err != nil || strings.TrimSpace(string(out)) != "p: auto" {
		t.Errorf("MarshalYAML = %q, %v", out, err)
	}
}

// docs/config.schema.json is generated (make generate); it must not be stale.
func TestSchemaIsCurrent(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/config.schema.json"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/config -run TestSchemaIsCurrent -update, or make generate)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s is stale: run `make generate` (or go test ./internal/config -run TestSchemaIsCurrent -update)", path)
	}
}

func TestSchemaDescribesEveryField(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]map[string]any `json:"properties"`
		Defs       map[string]struct {
			Properties           map[string]map[string]any `json:"properties"`
			AdditionalProperties *bool                     `json:"additionalProperties"`
		} `json:"$defs"`
		AdditionalProperties *bool `json:"additionalProperties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	check := func(where string, props map[string]map[string]any) {
		for name, p := range props {
			if d, _ := p["description"].(string); len(d) < 10 {
				t.Errorf("%s.%s has no useful description: %q", where, name, d)
			}
		}
	}
	check("Config", s.Properties)
	if s.AdditionalProperties == nil || *s.AdditionalProperties {
		t.Errorf("root allows additional properties")
	}
	for name, d := range s.Defs {
		check(name, d.Properties)
		if d.Properties != nil && (d.AdditionalProperties == nil || *d.AdditionalProperties) {
			t.Errorf("%s allows additional properties", name)
		}
	}
	vm := s.Defs["VM"].Properties
	if vm["memory"]["pattern"] != sizePattern {
		t.Errorf("memory has no size pattern: %v", vm["memory"])
	}
	if _, ok := s.Defs["CPUPinning"]; !ok {
		t.Errorf("no CPUPinning definition")
	}
}
