package yamlsrc

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Option changes how Load reads a document.
type Option func(*options)

type options struct {
	what      string
	extPrefix string
	keyNouns  map[string]string
}

// What names the kind of document in problems about the file as a whole
// ("a config file holds one YAML document", "config too large"); default
// "input".
func What(noun string) Option { return func(o *options) { o.what = noun } }

// IgnoreTopLevel makes Load skip top-level keys starting with prefix
// (e.g. "x-"), so that YAML anchors for shared settings have somewhere to
// live, as in Compose files.
func IgnoreTopLevel(prefix string) Option { return func(o *options) { o.extPrefix = prefix } }

// KeyNoun names the keys of the mapping at path in duplicate-key problems
// ("duplicate VM name" for path "vms" instead of "duplicate key").
func KeyNoun(path, noun string) Option {
	return func(o *options) {
		if o.keyNouns == nil {
			o.keyNouns = map[string]string{}
		}
		o.keyNouns[path] = noun
	}
}

// LoadFile reads a file and loads it; see Load.
func LoadFile(path string, v any, opts ...Option) (*Doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return Load(path, data, v, opts...)
}

// Load parses a YAML or JSON document and decodes it into v, a pointer to
// a struct (or any type Load can decode). Every problem is collected; the
// error, if any, is of type Problems, each with the file, line, column and
// field path, in document order.
//
// When the document parsed but some fields were wrong, v holds what could
// be read (wrong fields left unset) and the Doc is usable, so that a
// schema can run its own checks and report their problems in the same run.
// The Doc is always returned; its File is nil when the file is not one
// YAML document (a syntax error, several documents) and v was left alone.
func Load(name string, data []byte, v any, opts ...Option) (*Doc, error) {
	o := options{what: "input"}
	for _, opt := range opts {
		opt(&o)
	}
	doc := &Doc{Name: name, positions: map[string]srcPos{}, lines: strings.Split(string(data), "\n")}
	file, err := parseYAML(data)
	if err != nil {
		return doc, Problems{syntaxProblem(name, err)}
	}
	doc.File = file

	var body ast.Node
	for _, d := range file.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if body != nil {
			doc.File = nil // not one document: nothing was decoded
			p := Problem{Message: fmt.Sprintf("a %s file holds one YAML document; found another", o.what), File: name, Pos: tokenPos(d.Body.GetToken())}
			return doc, Problems{p}
		}
		body = d.Body
	}
	if body == nil {
		return doc, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic(fmt.Sprintf("yamlsrc: Load needs a non-nil pointer, got %T", v))
	}
	l := &loader{doc: doc, opts: o, anchors: map[string]ast.Node{}, budget: maxLoadNodes, labels: map[string]string{}}
	ast.Walk(anchorCollector(l.anchors), body)
	l.decode(body, rv.Elem(), "")
	l.problems.SortByPos()
	return doc, l.problems.Err()
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
	if errors.As(err, &te) {
		p.Pos = tokenPos(te.GetToken())
		p.Message = "yaml: " + te.GetMessage()
	}
	if !p.Pos.IsValid() {
		p.Pos = Pos{Line: 1, Column: 1}
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
// a small file up into a huge value ("billion laughs").
const maxLoadNodes = 200000

type loader struct {
	doc      *Doc
	opts     options
	anchors  map[string]ast.Node
	problems Problems
	budget   int
	// labels are the labels given with Node.Label, by field path.
	labels map[string]string
}

func (l *loader) errorAt(path string, pos Pos, format string, args ...any) {
	l.problems = append(l.problems, Problem{
		Path: l.problemPath(path), Message: fmt.Sprintf(format, args...), Severity: SeverityError,
		File: l.doc.Name, Pos: pos,
	})
}

// problemPath is the Problem.Path for a field path: the field path, or
// under a node given a label (Node.Label), the label followed by the
// path below that node ("step 5 (click): region.width").
func (l *loader) problemPath(path string) string {
	for p := path; ; p = ParentPath(p) {
		if label, ok := l.labels[p]; ok {
			rel := strings.TrimPrefix(strings.TrimPrefix(path, p), ".")
			switch {
			case rel == "":
				return label
			case label == "":
				return rel
			}
			return label + ": " + rel
		}
		if p == "" {
			return path
		}
	}
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

// nodePos is where a node starts: a block mapping at its first key (its
// own token is the first ':'), a flow mapping at its '{', a literal block
// at its '|'.
func nodePos(n ast.Node) Pos {
	switch v := n.(type) {
	case nil:
		return Pos{}
	case *ast.LiteralNode:
		return tokenPos(v.Start)
	case *ast.MappingNode:
		if len(v.Values) > 0 && v.Start != nil && v.Start.Value != "{" {
			return nodePos(v.Values[0])
		}
	case *ast.MappingValueNode:
		return nodePos(v.Key)
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
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode, *ast.NullNode, nil:
		return Pos{}
	}
	return nodePos(n)
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	nodeDecoderType     = reflect.TypeFor[NodeDecoder]()
	nodeType            = reflect.TypeFor[Node]()
	durationType        = reflect.TypeFor[time.Duration]()
)

// MaxDuration bounds a time.Duration field: no wait or timeout in a
// document is meant to be longer, and a typo of a few zeros is caught.
const MaxDuration = 7 * 24 * time.Hour

// decode checks node n against the Go type of v and stores its value in
// v, recording every mismatch as a problem and the position of every field.
func (l *loader) decode(n ast.Node, v reflect.Value, path string) {
	if l.budget <= 0 {
		return
	}
	l.budget--
	if l.budget == 0 {
		l.errorAt(path, nodePos(n), "%s too large (more than %d values, counting aliases)", l.opts.what, maxLoadNodes)
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
		// null leaves the field unset: JSON written by other tools (the
		// NixOS module) may spell unset options as null.
		return
	}
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		l.decode(n, v.Elem(), path)
		return
	}
	if t == nodeType {
		v.Set(reflect.ValueOf(Node{l: l, n: n, path: path}))
		return
	}
	if reflect.PointerTo(t).Implements(nodeDecoderType) {
		v.Addr().Interface().(NodeDecoder).DecodeNode(Node{l: l, n: n, path: path})
		return
	}
	if t == durationType {
		if d, ok := l.duration(n, path); ok {
			v.SetInt(int64(d))
		}
		return
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		s, ok := l.str(n, path)
		if !ok {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			l.errorAt(path, nodePos(n), "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		l.decodeMapping(n, path, mapping{valid: fieldNames(t)}, func(key string, val ast.Node) bool {
			idx, ok := jsonFields(t)[key]
			if !ok {
				return path == "" && l.opts.extPrefix != "" && strings.HasPrefix(key, l.opts.extPrefix)
			}
			l.decode(val, v.FieldByIndex(idx), JoinPath(path, key))
			return true
		})
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic("yamlsrc: map key must be string: " + t.String())
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		l.decodeMapping(n, path, mapping{}, func(key string, val ast.Node) bool {
			elem := reflect.New(t.Elem()).Elem()
			if elem.Kind() == reflect.Pointer {
				// An entry written as "name:" with nothing under it is an
				// entry with all defaults, not a missing one.
				elem.Set(reflect.New(t.Elem().Elem()))
			}
			l.decode(val, elem, JoinPath(path, key))
			v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), elem)
			return true
		})
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			l.errorAt(path, nodePos(n), "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			ip := fmt.Sprintf("%s[%d]", path, i)
			l.doc.positions[ip] = srcPos{value: nodePos(item)}
			l.decode(item, s.Index(i), ip)
		}
		v.Set(s)
	case reflect.String:
		if s, ok := l.str(n, path); ok {
			v.SetString(s)
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if i, ok := l.integer(n, path); ok {
			if v.OverflowInt(i) {
				l.errorAt(path, nodePos(n), "number %s is too large", n.GetToken().Value)
				return
			}
			v.SetInt(i)
		}
	case reflect.Float64:
		switch x := n.(type) {
		case *ast.FloatNode:
			v.SetFloat(x.Value)
		case *ast.IntegerNode:
			if i, ok := l.integer(n, path); ok {
				v.SetFloat(float64(i))
			}
		default:
			l.errorAt(path, nodePos(n), "expected a number, got %s", describe(n))
		}
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			l.errorAt(path, nodePos(n), "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b.Value)
	default:
		panic("yamlsrc: unsupported field type " + t.String())
	}
}

func (l *loader) str(n ast.Node, path string) (string, bool) {
	switch s := n.(type) {
	case *ast.StringNode:
		return s.Value, true
	case *ast.LiteralNode:
		if s.Value != nil {
			return s.Value.Value, true
		}
		return "", true
	}
	hint := ""
	if isScalar(n) {
		hint = fmt.Sprintf(`; quote it ("%s") if you mean the text`, n.GetToken().Value)
	}
	l.errorAt(path, nodePos(n), "expected a string, got %s%s", describe(n), hint)
	return "", false
}

// integer reads a whole number within ±2^40, far beyond any count or
// size a document has, and safely inside int on every platform.
func (l *loader) integer(n ast.Node, path string) (int64, bool) {
	in, ok := n.(*ast.IntegerNode)
	if !ok {
		l.errorAt(path, nodePos(n), "expected a whole number, got %s", describe(n))
		return 0, false
	}
	var i64 int64
	switch x := in.Value.(type) {
	case int64:
		i64 = x
	case uint64:
		if x > uint64(1<<62) {
			l.errorAt(path, nodePos(n), "number %s is too large", in.GetToken().Value)
			return 0, false
		}
		i64 = int64(x)
	}
	if i64 > 1<<40 || i64 < -(1<<40) {
		l.errorAt(path, nodePos(n), "number %s is too large", in.GetToken().Value)
		return 0, false
	}
	return i64, true
}

// duration reads a number of seconds (5, 0.5) or a Go duration ("90s",
// "2m"), not negative and at most MaxDuration.
func (l *loader) duration(n ast.Node, path string) (time.Duration, bool) {
	const want = `expected a number of seconds or a duration like "90s", got %s`
	var d time.Duration
	switch x := n.(type) {
	case *ast.IntegerNode:
		i, ok := l.integer(n, path)
		if !ok {
			return 0, false
		}
		if i > int64(MaxDuration/time.Second) || i < -int64(MaxDuration/time.Second) {
			d = MaxDuration + time.Second // reported below
		} else {
			d = time.Duration(i) * time.Second
		}
	case *ast.InfinityNode, *ast.NanNode:
		d = MaxDuration + time.Second
	case *ast.FloatNode:
		if math.IsNaN(x.Value) || math.Abs(x.Value) > MaxDuration.Seconds() {
			d = MaxDuration + time.Second
		} else {
			d = time.Duration(x.Value * float64(time.Second))
		}
	case *ast.StringNode:
		pd, err := time.ParseDuration(x.Value)
		if err != nil {
			l.errorAt(path, nodePos(n), want, describe(n))
			return 0, false
		}
		d = pd
	default:
		l.errorAt(path, nodePos(n), want, describe(n))
		return 0, false
	}
	switch {
	case d < 0:
		l.errorAt(path, nodePos(n), "must not be negative, got %s", d)
		return 0, false
	case d > MaxDuration:
		l.errorAt(path, nodePos(n), "must be at most a week (%s), got %s", MaxDuration, n.GetToken().Value)
		return 0, false
	}
	return d, true
}

// mapping says how decodeMapping reports: in names the mapping in
// unknown-field messages ("" for none), and valid lists the known keys
// for "did you mean" (nil for free-form maps).
type mapping struct {
	in    string
	valid []string
}

// decodeMapping walks a mapping: explicit keys first, then keys merged in
// with "<<" that were not given explicitly (YAML merge semantics). set
// stores one entry and reports whether the key is known.
func (l *loader) decodeMapping(n ast.Node, path string, m mapping, set func(key string, val ast.Node) bool) {
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
		l.decodePair(mv, path, seen, true, m, set)
	}
	for _, mg := range merges {
		for _, src := range l.mergeSources(mg, path) {
			srcPairs, _ := mappingPairs(src)
			for _, mv := range srcPairs {
				if mv == nil || mv.Key == nil {
					continue
				}
				if _, isMerge := mv.Key.(*ast.MergeKeyNode); isMerge {
					l.errorAt(path, nodePos(mv.Key), "nested << merges are not supported")
					continue
				}
				l.decodePair(mv, path, seen, false, m, set)
			}
		}
	}
}

func (l *loader) decodePair(mv *ast.MappingValueNode, path string, seen map[string]Pos, explicit bool, m mapping, set func(string, ast.Node) bool) {
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
	fp := JoinPath(path, key)
	if first, dup := seen[key]; dup {
		if explicit {
			what := "key"
			if noun, ok := l.opts.keyNouns[path]; ok {
				what = noun
			}
			l.errorAt(fp, keyPos, "duplicate %s %q (first at line %d:%d)", what, key, first.Line, first.Column)
		}
		return
	}
	seen[key] = keyPos
	l.doc.positions[fp] = srcPos{key: keyPos, value: valuePos(mv.Value), blockLines: literalLines(mv.Value)}
	if !set(key, mv.Value) {
		l.errorAt(fp, keyPos, "%s", unknownField(key, m.in, m.valid))
	}
}

// unknownField is the message for a key no field has; in names the
// mapping when the problem's path does not.
func unknownField(key, in string, valid []string) string {
	msg := fmt.Sprintf("unknown field %q", key)
	if in != "" {
		msg += " in " + in
	}
	if s := Suggest(key, valid); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else if len(valid) > 0 {
		msg += fmt.Sprintf(" (valid here: %s)", strings.Join(valid, ", "))
	}
	return msg
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
		// A map entry may be named 2024 or true in YAML.
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
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + tok
	case *ast.BoolNode:
		return tok
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.NullNode, nil:
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

var fieldCache sync.Map // reflect.Type -> map[string][]int

// jsonFields maps the JSON names of a struct's fields to their index. As
// in encoding/json, the fields of an embedded struct without a json name
// are the outer struct's (options shared by several mappings).
func jsonFields(t reflect.Type) map[string][]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string][]int)
	}
	m := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for inner, idx := range jsonFields(f.Type) {
				if _, ok := m[inner]; !ok {
					m[inner] = append([]int{i}, idx...)
				}
			}
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = []int{i}
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
