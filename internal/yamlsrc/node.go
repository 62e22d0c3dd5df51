package yamlsrc

import (
	"fmt"
	"math"
	"reflect"

	"github.com/goccy/go-yaml/ast"
)

// NodeDecoder is implemented by types that read their value themselves,
// for values that take more than one form (a string or a list, a phrase
// or a mapping). DecodeNode reports what is wrong through Node.Errorf;
// Load has already taken care of null (the field stays unset), anchors
// and aliases.
type NodeDecoder interface {
	DecodeNode(n Node)
}

// Kind is the YAML kind of a node.
type Kind int

const (
	KindNull Kind = iota
	KindString
	KindInt
	KindFloat
	KindBool
	KindMapping
	KindList
)

// Node is one value of the document being loaded, as a NodeDecoder sees it.
//
// A struct field of type Node keeps the value as it is, for the schema to
// read in the same load (a list of steps under fixed options).
type Node struct {
	l    *loader
	n    ast.Node
	path string
}

// Label makes problems at the node be reported with path label instead of
// its field path, and problems below it with the label and the path from
// the node on ("step 3 (click): region.width"): for schemas whose readers
// think in other units than fields. With label "" the paths below start
// at the node. Field paths stay what Doc.Pos knows. The label holds for
// every problem at the node's path in this load, Decode's included.
func (n Node) Label(label string) Node {
	n.l.labels[n.path] = label
	return n
}

func (n Node) child(r ast.Node, path string) Node {
	return Node{l: n.l, n: r, path: path}
}

// count charges one node against the load's work bound; false when the
// bound is used up (the problem is recorded once).
func (n Node) count() bool {
	l := n.l
	if l.budget <= 0 {
		return false
	}
	l.budget--
	if l.budget == 0 {
		l.errorAt(n.path, n.Pos(), "%s too large (more than %d values, counting aliases)", l.opts.what, maxLoadNodes)
		return false
	}
	return true
}

// resolved is the node behind an anchor, tag or alias; ok false (and a
// problem recorded) for an alias without its anchor.
func (n Node) resolved(r ast.Node, path string) (Node, bool) {
	c := n.child(r, path)
	res, err := n.l.resolve(r)
	if err != nil {
		c.Errorf("%v", err)
		return c, false
	}
	c.n = res
	return c, true
}

// Entry is one key of a mapping with its value.
type Entry struct {
	Key    string
	KeyPos Pos
	Value  Node
}

// Entries are a mapping's entries in document order (keys merged in with
// << after the explicit ones); duplicate keys are reported. ok is false
// for a node that is not a mapping, and nothing is reported then.
func (n Node) Entries() (entries []Entry, ok bool) {
	if n.Kind() != KindMapping {
		return nil, false
	}
	n.l.decodeMapping(n.n, n.path, n.mapping("", nil), func(key string, val ast.Node) bool {
		fp := JoinPath(n.path, key)
		if v, ok := n.resolved(val, fp); ok && v.count() {
			entries = append(entries, Entry{Key: key, KeyPos: n.l.doc.positions[fp].key, Value: v})
		}
		return true
	})
	return entries, true
}

// Fields reads a mapping whose keys must be among known: an unknown key
// is a problem (`unknown field "x" in IN`, with a "did you mean"), and so
// is a duplicate. The values are keyed by field name. ok is false for a
// node that is not a mapping, and nothing is reported then.
func (n Node) Fields(in string, known ...string) (fields map[string]Node, ok bool) {
	if n.Kind() != KindMapping {
		return nil, false
	}
	fields = map[string]Node{}
	n.l.decodeMapping(n.n, n.path, n.mapping(in, known), func(key string, val ast.Node) bool {
		if !contains(known, key) {
			return false
		}
		fp := JoinPath(n.path, key)
		if v, ok := n.resolved(val, fp); ok && v.count() {
			fields[key] = v
		}
		return true
	})
	return fields, true
}

func (n Node) mapping(in string, known []string) mapping {
	return mapping{in: in, valid: known}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Kind is the node's YAML kind.
func (n Node) Kind() Kind {
	switch n.n.(type) {
	case *ast.StringNode, *ast.LiteralNode:
		return KindString
	case *ast.IntegerNode:
		return KindInt
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return KindFloat
	case *ast.BoolNode:
		return KindBool
	case *ast.MappingNode, *ast.MappingValueNode:
		return KindMapping
	case *ast.SequenceNode:
		return KindList
	}
	return KindNull
}

// Path is the node's field path.
func (n Node) Path() string { return n.path }

// Pos is where the node is in the file.
func (n Node) Pos() Pos { return nodePos(n.n) }

// Text is a scalar's text: a string's value, a number or bool as written;
// "" for mappings and lists.
func (n Node) Text() string {
	switch v := n.n.(type) {
	case *ast.StringNode:
		return v.Value
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value
		}
		return ""
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return ""
	}
	if t := n.n.GetToken(); t != nil {
		return t.Value
	}
	return ""
}

// Int is an integer node's value; false for other kinds and for
// values beyond int64.
func (n Node) Int() (int64, bool) {
	in, ok := n.n.(*ast.IntegerNode)
	if !ok {
		return 0, false
	}
	switch x := in.Value.(type) {
	case int64:
		return x, true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// Float is a float node's value (±Inf and NaN included); false for other
// kinds, integers included.
func (n Node) Float() (float64, bool) {
	switch v := n.n.(type) {
	case *ast.FloatNode:
		return v.Value, true
	case *ast.InfinityNode:
		return v.Value, true
	case *ast.NanNode:
		return math.NaN(), true
	}
	return 0, false
}

// Bool is a boolean node's value; false, false for other kinds.
func (n Node) Bool() (value, ok bool) {
	b, ok := n.n.(*ast.BoolNode)
	if !ok {
		return false, false
	}
	return b.Value, true
}

// Describe says what the node is, for messages: `a string ("x")`,
// "the number 5", "a list", ...
func (n Node) Describe() string { return describe(n.n) }

// Decode decodes the node into v (a pointer) by Load's rules, with the
// node's field path; problems join the load's. ok is false when it found
// a problem. It is the typed reader for a schema that reads by hand:
// `var s string; n.Decode(&s)` says "expected a string, got ..." as Load
// does for a struct field, and a time.Duration reads seconds or "90s".
func (n Node) Decode(v any) (ok bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("yamlsrc: Node.Decode needs a non-nil pointer")
	}
	before := len(n.l.problems)
	n.l.decode(n.n, rv.Elem(), n.path)
	return len(n.l.problems) == before
}

// Has reports whether a mapping that was read (Decode, Fields, Entries)
// has the key, null values included.
func (n Node) Has(key string) bool {
	_, ok := n.l.doc.positions[JoinPath(n.path, key)]
	return ok
}

// FieldErrorf records an error at the value of a mapping's key after
// Decode, for a schema's checks of decoded fields ("must be positive");
// at the node when the key is not there.
func (n Node) FieldErrorf(key, format string, args ...any) {
	fp := JoinPath(n.path, key)
	pos, ok := n.l.doc.Pos(fp)
	if !ok {
		pos = n.Pos()
	}
	n.l.errorAt(fp, pos, format, args...)
}

// Items are a list's items, with paths path[i]; nil for other kinds.
// Anchors and aliases are resolved, and each item counts against the
// load's work bound.
func (n Node) Items() []Node {
	seq, ok := n.n.(*ast.SequenceNode)
	if !ok {
		return nil
	}
	var out []Node
	for i, item := range seq.Values {
		ip := fmt.Sprintf("%s[%d]", n.path, i)
		n.l.doc.positions[ip] = srcPos{value: nodePos(item)}
		it, ok := n.resolved(item, ip)
		if !it.count() {
			break
		}
		if ok {
			out = append(out, it)
		}
	}
	return out
}

// Errorf records an error at the node.
func (n Node) Errorf(format string, args ...any) {
	n.l.errorAt(n.path, n.Pos(), format, args...)
}

// ErrorfAt records an error at pos (e.g. an Entry's KeyPos), with the
// node's path.
func (n Node) ErrorfAt(pos Pos, format string, args ...any) {
	n.l.errorAt(n.path, pos, format, args...)
}

// String is the node as "path (line:col)", for debugging.
func (n Node) String() string { return fmt.Sprintf("%s (%s)", n.path, n.Pos()) }

// Text is a string that also takes a number as written: a phrase to find
// or type, a password of digits ("type: 12345" means the digits). Other
// values are "expected a string", as for a string field.
type Text string

// DecodeNode reads a string or a number's text.
func (t *Text) DecodeNode(n Node) {
	switch n.Kind() {
	case KindString, KindInt, KindFloat:
		*t = Text(n.Text())
	default:
		n.Errorf("expected a string, got %s", n.Describe())
	}
}
