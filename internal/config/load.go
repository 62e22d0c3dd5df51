package config

import (
	"fmt"
	"os"

	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// extensionPrefix marks top-level keys that Load ignores, so that YAML
// anchors for shared VM settings have somewhere to live.
const extensionPrefix = "x-"

// LoadFile reads and loads a config file; see Load.
func LoadFile(path string) (*Config, *yamlsrc.Doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	return Load(path, data)
}

// Load reads a config in YAML or JSON through yamlsrc: unknown keys (with
// a "did you mean"), wrong types, bad sizes and duplicate keys are all
// reported together in a yamlsrc.Problems error whose problems carry the
// file, line, column and field path.
//
// When the document parsed but some fields were wrong, Load returns the
// partial config (wrong fields left unset) together with the error, so
// that `config validate` can report the remaining problems in the same
// run. Callers that only want a usable config check err alone. The Doc
// locates the problems that Validate and CheckHost find later.
func Load(name string, data []byte) (*Config, *yamlsrc.Doc, error) {
	cfg := &Config{}
	doc, err := yamlsrc.Load(name, data, cfg,
		yamlsrc.What("config"), yamlsrc.IgnoreTopLevel(extensionPrefix), yamlsrc.KeyNoun("vms", "VM name"))
	if doc.File == nil {
		return nil, doc, err
	}
	return cfg, doc, err
}

// DecodeNode reads cpuPinning: "auto" or a list of CPU sets.
func (p *CPUPinning) DecodeNode(n yamlsrc.Node) {
	switch n.Kind() {
	case yamlsrc.KindString:
		if n.Text() == pinningAuto {
			*p = CPUPinning{Auto: true}
			return
		}
		n.Errorf(`expected "auto" or a list with one CPU set per vCPU (e.g. ["0-1", "2-3"]), got %q`, n.Text())
	case yamlsrc.KindList:
		var sets []string
		n.Decode(&sets)
		*p = CPUPinning{Sets: sets}
	default:
		n.Errorf(`expected "auto" or a list of CPU sets, got %s`, n.Describe())
	}
}
