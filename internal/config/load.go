package config

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Source is a loaded config file: its name and parsed YAML, kept so that a
// field path found wrong later (by Validate or CheckHost) can be pointed
// at in the file.
type Source struct {
	// Name is the file name as given to Load or LoadFile.
	Name string
	// File is the parsed YAML (JSON is parsed as YAML); nil when parsing failed.
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

// Position is where the field path appears in the file: the value for a
// scalar, otherwise the key.
func (s *Source) Position(path string) (Pos, bool) {
	if s == nil {
		return Pos{}, false
	}
	sp, ok := s.positions[path]
	if !ok {
		return Pos{}, false
	}
	if sp.value.IsValid() {
		return sp.value, true
	}
	return sp.key, sp.key.IsValid()
}

// KeyPosition is where the key of the field path appears in the file.
func (s *Source) KeyPosition(path string) (Pos, bool) {
	if s == nil {
		return Pos{}, false
	}
	sp, ok := s.positions[path]
	return sp.key, ok && sp.key.IsValid()
}

// Locate returns the problems with File set to the source's name and Pos
// to where each path (or, for a field the file leaves to its default, the
// nearest enclosing field) appears in the file.
func (s *Source) Locate(ps Problems) Problems {
	if s == nil {
		return ps
	}
	out := make(Problems, len(ps))
	for i, p := range ps {
		if p.File == "" {
			p.File = s.Name
		}
		if !p.Pos.IsValid() && p.innerLine > 0 {
			if pos, ok := s.innerPosition(p.Path, p.innerLine); ok {
				p.Pos = pos
				p.Message = strings.TrimPrefix(p.Message, innerLinePrefix(p.innerLine))
			}
		}
		if !p.Pos.IsValid() {
			for path := p.Path; path != ""; path = parentPath(path) {
				pos, ok := s.Position(path)
				if p.onKey && path == p.Path {
					pos, ok = s.KeyPosition(path)
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

// innerPosition is where line n of a multi-line string value is in the
// file, for a literal block scalar (|): the lines then match one to one.
// A line past the content (an error at the end of the text) is pointed at
// the last content line. Quoted and folded strings have no such mapping.
func (s *Source) innerPosition(path string, n int) (Pos, bool) {
	sp, ok := s.positions[path]
	if !ok || sp.blockLines == 0 || !sp.value.IsValid() {
		return Pos{}, false
	}
	line := sp.value.Line + min(n, sp.blockLines)
	col := 1
	if line-1 < len(s.lines) {
		text := s.lines[line-1]
		col = len(text) - len(strings.TrimLeft(text, " \t")) + 1
	}
	return Pos{Line: line, Column: col}, true
}

// parentPath drops the last element of a field path: a.b[2] -> a.b -> a.
func parentPath(p string) string {
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

// LoadFile reads and loads a config file; see Load.
func LoadFile(path string) (*Config, *Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	return Load(path, data)
}

// Load parses a config in YAML or JSON (JSON is read as YAML, so one
// strict loader serves both). Unknown keys (with a "did you mean"), wrong
// types and duplicate keys are all reported together in an *Error whose
// problems carry the file, line, column and field path.
//
// When the document parsed but some fields were wrong, Load returns the
// partial config (wrong fields left unset) together with the *Error, so
// that `config validate` can report the remaining problems in the same
// run. Callers that only want a usable config check err alone.
func Load(name string, data []byte) (*Config, *Source, error) {
	src := &Source{Name: name, positions: map[string]srcPos{}, lines: strings.Split(string(data), "\n")}
	file, err := parseYAML(data)
	if err != nil {
		return nil, src, (Problems{syntaxProblem(name, err)}).Err()
	}
	src.File = file

	var body ast.Node
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			p := Problem{Message: "a config file holds one YAML document; found another", File: name, Pos: tokenPos(doc.Body.GetToken())}
			return nil, src, (Problems{p}).Err()
		}
		body = doc.Body
	}
	cfg := &Config{}
	if body == nil {
		return cfg, src, nil
	}
	l := &loader{src: src, anchors: map[string]ast.Node{}, budget: maxLoadNodes}
	ast.Walk(anchorCollector(l.anchors), body)
	l.decode(body, reflect.ValueOf(cfg).Elem(), "")
	if err := l.problems.Err(); err != nil {
		return cfg, src, err
	}
	return cfg, src, nil
}

// parseYAML runs goccy's parser, turning a panic in it (third-party code
// fed with arbitrary input) into an error.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("yaml parser failed: %v", r)
		}
	}()
	// Duplicate keys are found by the loader instead, so that they are
	// reported together with every other problem.
	return parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
}

func syntaxProblem(name string, err error) Problem {
	p := Problem{File: name, Message: "yaml: " + err.Error(), Severity: SeverityError}
	var te interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if asErr(err, &te) {
		p.Pos = tokenPos(te.GetToken())
		p.Message = "yaml: " + te.GetMessage()
	}
	return p
}

func tokenPos(t *token.Token) Pos {
	if t == nil || t.Position == nil {
		return Pos{}
	}
	return Pos{Line: t.Position.Line, Column: t.Position.Column}
}

// maxLoadNodes bounds the work of one load, so that aliases cannot blow
// a small file up into a huge config ("billion laughs").
const maxLoadNodes = 200000

type loader struct {
	src      *Source
	anchors  map[string]ast.Node
	problems Problems
	budget   int
}

func (l *loader) errorAt(path string, pos Pos, format string, args ...any) {
	l.problems = append(l.problems, Problem{
		Path: path, Message: fmt.Sprintf(format, args...), Severity: SeverityError,
		File: l.src.Name, Pos: pos,
	})
}

type anchorCollector map[string]ast.Node

func (a anchorCollector) Visit(n ast.Node) ast.Visitor {
	if an, ok := n.(*ast.AnchorNode); ok && an.Name != nil && an.Name.GetToken() != nil {
		a[an.Name.GetToken().Value] = an.Value
	}
	return a
}

// resolve strips anchors, tags and aliases off a node.
func (l *loader) resolve(n ast.Node) (ast.Node, error) {
	for hops := 0; n != nil; hops++ {
		if hops > 100 {
			return nil, fmt.Errorf("aliases nested too deeply")
		}
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil && v.Value.GetToken() != nil {
				name = v.Value.GetToken().Value
			}
			target, ok := l.anchors[name]
			if !ok {
				return nil, fmt.Errorf("alias *%s names no anchor", name)
			}
			n = target
		default:
			return n, nil
		}
	}
	return nil, nil
}

func nodePos(n ast.Node) Pos {
	if n == nil {
		return Pos{}
	}
	if lit, ok := n.(*ast.LiteralNode); ok {
		return tokenPos(lit.Start)
	}
	return tokenPos(n.GetToken())
}

// literalLines is the number of content lines of a literal block scalar
// (|), 0 for any other node.
func literalLines(n ast.Node) int {
	lit, ok := n.(*ast.LiteralNode)
	if !ok || lit.Start == nil || !strings.HasPrefix(lit.Start.Value, "|") || lit.Value == nil {
		return 0
	}
	v := strings.TrimRight(lit.Value.Value, "\n")
	if v == "" {
		return 0
	}
	return strings.Count(v, "\n") + 1
}

// valuePos is the position worth pointing at for a value: a scalar's own;
// for a mapping or list the key says more than the opening bracket.
func valuePos(n ast.Node) Pos {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return Pos{}
	}
	return nodePos(n)
}

var cpuPinningType = reflect.TypeOf(CPUPinning{})

// extensionPrefix marks top-level keys that Load ignores.
const extensionPrefix = "x-"

// decode checks node n against the Go type of v and stores its value in
// v, recording every mismatch as a problem and the position of every field.
func (l *loader) decode(n ast.Node, v reflect.Value, path string) {
	if l.budget <= 0 {
		return
	}
	l.budget--
	if l.budget == 0 {
		l.errorAt(path, nodePos(n), "config too large (more than %d values, counting aliases)", maxLoadNodes)
		return
	}
	raw := n
	n, err := l.resolve(n)
	if err != nil {
		l.errorAt(path, nodePos(raw), "%v", err)
		return
	}
	if n == nil {
		return
	}
	if _, ok := n.(*ast.NullNode); ok {
		// null leaves the option unset: the JSON the NixOS module writes
		// may spell unset options as null.
		return
	}
	t := v.Type()
	switch {
	case t == cpuPinningType:
		l.decodePinning(n, v, path)
		return
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		l.decode(n, v.Elem(), path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		l.decodeMapping(n, path, func(key string, keyNode, val ast.Node, keyPos Pos) bool {
			idx, ok := jsonFields(t)[key]
			if !ok {
				// Top-level x-* keys are ignored, so that YAML anchors for
				// shared VM settings have somewhere to live (as in Compose files).
				return path == "" && strings.HasPrefix(key, extensionPrefix)
			}
			l.decode(val, v.Field(idx), joinPath(path, key))
			return true
		}, fieldNames(t))
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic("config: map key must be string: " + t.String())
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		l.decodeMapping(n, path, func(key string, keyNode, val ast.Node, keyPos Pos) bool {
			elem := reflect.New(t.Elem()).Elem()
			if elem.Kind() == reflect.Pointer {
				// A VM written as "name:" with nothing under it is a VM
				// with all defaults, not a missing one.
				elem.Set(reflect.New(t.Elem().Elem()))
			}
			l.decode(val, elem, joinPath(path, key))
			v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), elem)
			return true
		}, nil)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			l.errorAt(path, nodePos(n), "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			ip := fmt.Sprintf("%s[%d]", path, i)
			l.src.positions[ip] = srcPos{value: nodePos(item)}
			l.decode(item, s.Index(i), ip)
		}
		v.Set(s)
	case reflect.String:
		switch s := n.(type) {
		case *ast.StringNode:
			v.SetString(s.Value)
		case *ast.LiteralNode:
			if s.Value != nil {
				v.SetString(s.Value.Value)
			}
		default:
			hint := ""
			if isScalar(n) {
				hint = fmt.Sprintf(`; quote it ("%s") if you mean the text`, n.GetToken().Value)
			}
			l.errorAt(path, nodePos(n), "expected a string, got %s%s", describe(n), hint)
		}
	case reflect.Int:
		in, ok := n.(*ast.IntegerNode)
		if !ok {
			l.errorAt(path, nodePos(n), "expected a whole number, got %s", describe(n))
			return
		}
		var i64 int64
		switch x := in.Value.(type) {
		case int64:
			i64 = x
		case uint64:
			if x > uint64(1<<62) {
				l.errorAt(path, nodePos(n), "number %s is too large", in.GetToken().Value)
				return
			}
			i64 = int64(x)
		}
		if int64(int(i64)) != i64 || i64 > 1<<40 || i64 < -(1<<40) {
			l.errorAt(path, nodePos(n), "number %s is too large", in.GetToken().Value)
			return
		}
		v.SetInt(i64)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			l.errorAt(path, nodePos(n), "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b.Value)
	default:
		panic("config: unsupported field type " + t.String())
	}
}

// decodeMapping walks a mapping: explicit keys first, then keys merged in
// with "<<" that were not given explicitly (YAML merge semantics).
// set stores one entry and reports whether the key is known; valid lists
// the known keys for "did you mean" (nil for free-form maps).
func (l *loader) decodeMapping(n ast.Node, path string, set func(key string, keyNode, val ast.Node, keyPos Pos) bool, valid []string) {
	pairs, ok := mappingPairs(n)
	if !ok {
		l.errorAt(path, nodePos(n), "expected a mapping of options, got %s", describe(n))
		return
	}
	seen := map[string]Pos{}
	var merges []ast.Node
	for _, mv := range pairs {
		if mv == nil || mv.Key == nil {
			continue
		}
		if _, isMerge := mv.Key.(*ast.MergeKeyNode); isMerge {
			merges = append(merges, mv.Value)
			continue
		}
		l.decodePair(mv, path, seen, true, set, valid)
	}
	for _, m := range merges {
		for _, src := range l.mergeSources(m, path) {
			srcPairs, _ := mappingPairs(src)
			for _, mv := range srcPairs {
				if mv == nil || mv.Key == nil {
					continue
				}
				if _, isMerge := mv.Key.(*ast.MergeKeyNode); isMerge {
					l.errorAt(path, nodePos(mv.Key), "nested << merges are not supported")
					continue
				}
				l.decodePair(mv, path, seen, false, set, valid)
			}
		}
	}
}

func (l *loader) decodePair(mv *ast.MappingValueNode, path string, seen map[string]Pos, explicit bool, set func(string, ast.Node, ast.Node, Pos) bool, valid []string) {
	keyNode, err := l.resolve(mv.Key)
	keyPos := nodePos(mv.Key)
	if err != nil {
		l.errorAt(path, keyPos, "%v", err)
		return
	}
	key, ok := scalarKey(keyNode)
	if !ok {
		l.errorAt(path, keyPos, "keys must be names, got %s", describe(keyNode))
		return
	}
	fp := joinPath(path, key)
	if first, dup := seen[key]; dup {
		if explicit {
			what := "key"
			if path == "vms" {
				what = "VM name"
			}
			l.errorAt(fp, keyPos, "duplicate %s %q (first at line %d:%d)", what, key, first.Line, first.Column)
		}
		return
	}
	seen[key] = keyPos
	l.src.positions[fp] = srcPos{key: keyPos, value: valuePos(mv.Value), blockLines: literalLines(mv.Value)}
	if !set(key, keyNode, mv.Value, keyPos) {
		msg := fmt.Sprintf("unknown field %q", key)
		if s := suggest(key, valid); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else if len(valid) > 0 {
			msg += fmt.Sprintf(" (valid here: %s)", strings.Join(valid, ", "))
		}
		l.errorAt(fp, keyPos, "%s", msg)
	}
}

func (l *loader) mergeSources(m ast.Node, path string) []ast.Node {
	r, err := l.resolve(m)
	if err != nil {
		l.errorAt(path, nodePos(m), "%v", err)
		return nil
	}
	if seq, ok := r.(*ast.SequenceNode); ok {
		var out []ast.Node
		for _, item := range seq.Values {
			out = append(out, l.mergeSources(item, path)...)
		}
		return out
	}
	if _, ok := mappingPairs(r); !ok {
		l.errorAt(path, nodePos(m), "<< merges a mapping or a list of mappings, got %s", describe(r))
		return nil
	}
	return []ast.Node{r}
}

func (l *loader) decodePinning(n ast.Node, v reflect.Value, path string) {
	p := v.Addr().Interface().(*CPUPinning)
	switch s := n.(type) {
	case *ast.StringNode:
		if s.Value == "auto" {
			*p = CPUPinning{Auto: true}
			return
		}
		l.errorAt(path, nodePos(n), `expected "auto" or a list with one CPU set per vCPU (e.g. ["0-1", "2-3"]), got %q`, s.Value)
	case *ast.SequenceNode:
		var sets []string
		l.decode(n, reflect.ValueOf(&sets).Elem(), path)
		*p = CPUPinning{Sets: sets}
	default:
		l.errorAt(path, nodePos(n), `expected "auto" or a list of CPU sets, got %s`, describe(n))
	}
}

func mappingPairs(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

func scalarKey(n ast.Node) (string, bool) {
	switch k := n.(type) {
	case *ast.StringNode:
		return k.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		// A VM or shared folder may be named 2024 or true in YAML.
		return k.GetToken().Value, true
	}
	return "", false
}

func isScalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return true
	}
	return false
}

func describe(n ast.Node) string {
	tok := ""
	if n != nil && n.GetToken() != nil {
		tok = n.GetToken().Value
	}
	switch n.(type) {
	case *ast.StringNode, *ast.LiteralNode:
		return fmt.Sprintf("a string (%s)", strconv.Quote(truncate(tok, 40)))
	case *ast.IntegerNode:
		return "the number " + tok
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + tok
	case *ast.BoolNode:
		return tok
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.NullNode:
		return "null"
	}
	return fmt.Sprintf("%v", n.Type())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var fieldCache sync.Map // reflect.Type -> map[string]int

// jsonFields maps the JSON names of a struct's fields to their index.
func jsonFields(t reflect.Type) map[string]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = i
	}
	fieldCache.Store(t, m)
	return m
}

func fieldNames(t reflect.Type) []string {
	m := jsonFields(t)
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
