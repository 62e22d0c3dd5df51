package config

import (
	"os"
	"testing"

	"github.com/goccy/go-yaml"
)

// BenchmarkLoad loads examples/desktop.yaml through yamlsrc (strict,
// positioned, every problem). Baseline in the same run:
// BenchmarkUnmarshalGoccy decodes the same file into the same Config with
// goccy/go-yaml's Unmarshal (no positions, first error only).
func BenchmarkLoad(b *testing.B) {
	data := readExample(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := Load("desktop.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalGoccy(b *testing.B) {
	data := readExample(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var c Config
		if err := yaml.UnmarshalWithOptions(data, &c, yaml.UseJSONUnmarshaler()); err != nil {
			b.Fatal(err)
		}
	}
}

func readExample(b *testing.B) []byte {
	data, err := os.ReadFile("../../examples/desktop.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var c Config
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.UseJSONUnmarshaler()); err != nil || len(c.VMs) == 0 {
		b.Fatalf("baseline cannot read the example: %v", err)
	}
	return data
}
