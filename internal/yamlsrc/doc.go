// Package yamlsrc is deskvm's one loading layer for YAML and JSON input
// files: the config, automation scripts and image recipes.
//
// Load decodes a document strictly into a tagged Go struct (field names
// from `json` tags, so one set of tags serves the loader, encoding/json and
// the JSON Schema) and reports every problem at once: syntax errors,
// unknown keys (with a "did you mean"), wrong types, duplicate keys, values
// a field type refuses. Each Problem carries the file, line, column and
// field path, and prints as "file:line:col: path: message".
//
// Field types read themselves in two ways:
//   - encoding.TextUnmarshaler: a string value is handed to UnmarshalText;
//     its error becomes a problem at the value (units.Size reads "16G"
//     this way).
//   - Unmarshaler: the type gets the Node and decides (a value that is
//     "auto" or a list, a step that is a phrase or a mapping).
//
// A schema's own validation, run after Load, returns problems with a
// field path only; Doc.Locate puts the file position on them, and Doc.Pos
// answers where a path is, so validators report positions too.
//
// YAML conveniences stay available: anchors, aliases and << merges, with a
// bound on the total work so that aliases cannot blow a small file up.
// JSON is read as YAML (a JSON document is a YAML flow mapping).
package yamlsrc

import (
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Doc is a loaded document: its name, parsed YAML, and where each field
// path is, kept so that problems found later can be pointed at in the file.
type Doc struct {
	// Name is the file name as given to Load.
	Name string
	// File is the parsed YAML; nil when parsing failed.
	File *ast.File

	positions map[string]srcPos
	lines     []string // the file's lines, for the column of a line in a block
}

// srcPos is where a field path appears: its key and, for scalars and flow
// collections, its value. For a literal block scalar (|), blockLines is
// its number of content lines, which follow the line of the | at value.
type srcPos struct {
	key, value Pos
	blockLines int
}

// Pos is where the field path appears in the file: the value for a
// scalar, otherwise the key (for a list item, the item).
func (d *Doc) Pos(path string) (Pos, bool) {
	if d == nil {
		return Pos{}, false
	}
	sp, ok := d.positions[path]
	if !ok {
		return Pos{}, false
	}
	if sp.value.IsValid() {
		return sp.value, true
	}
	return sp.key, sp.key.IsValid()
}

// KeyPos is where the key of the field path appears in the file.
func (d *Doc) KeyPos(path string) (Pos, bool) {
	if d == nil {
		return Pos{}, false
	}
	sp, ok := d.positions[path]
	return sp.key, ok && sp.key.IsValid()
}

// Locate returns the problems with File set to the document's name and
// Pos to where each path (or, for a field the file leaves out, the nearest
// enclosing field) appears in the file. Problems that have a position keep it.
func (d *Doc) Locate(ps Problems) Problems {
	if d == nil {
		return ps
	}
	out := make(Problems, len(ps))
	for i, p := range ps {
		if p.File == "" {
			p.File = d.Name
		}
		if !p.Pos.IsValid() && p.InnerLine > 0 {
			if pos, ok := d.innerPos(p.Path, p.InnerLine); ok {
				p.Pos = pos
				p.Message = strings.TrimPrefix(p.Message, innerLinePrefix(p.InnerLine))
			}
		}
		if !p.Pos.IsValid() {
			for path := p.Path; path != ""; path = ParentPath(path) {
				pos, ok := d.Pos(path)
				if p.OnKey && path == p.Path {
					pos, ok = d.KeyPos(path)
				}
				if ok {
					p.Pos = pos
					break
				}
			}
		}
		out[i] = p
	}
	return out
}

// innerPos is where line n of a multi-line string value is in the file,
// for a literal block scalar (|): the lines then match one to one. A line
// past the content (an error at the end of the text) is pointed at the
// last content line. Quoted and folded strings have no such mapping.
func (d *Doc) innerPos(path string, n int) (Pos, bool) {
	sp, ok := d.positions[path]
	if !ok || sp.blockLines == 0 || !sp.value.IsValid() {
		return Pos{}, false
	}
	line := sp.value.Line + min(n, sp.blockLines)
	col := 1
	if line-1 < len(d.lines) {
		text := d.lines[line-1]
		col = len(text) - len(strings.TrimLeft(text, " \t")) + 1
	}
	return Pos{Line: line, Column: col}, true
}

// ParentPath drops the last element of a field path: a.b[2] -> a.b -> a.
func ParentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// JoinPath appends a key to a field path.
func JoinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
