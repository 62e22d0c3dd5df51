package yamlsrc

import (
	"fmt"
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
type Node struct {
	l    *loader
	n    ast.Node
	path string
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

// Describe says what the node is, for messages: `a string ("x")`,
// "the number 5", "a list", ...
func (n Node) Describe() string { return describe(n.n) }

// Decode decodes the node into v (a pointer) by Load's rules, with the
// node's field path; problems join the load's.
func (n Node) Decode(v any) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("yamlsrc: Node.Decode needs a non-nil pointer")
	}
	n.l.decode(n.n, rv.Elem(), n.path)
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
		if n.l.budget <= 0 {
			break
		}
		n.l.budget--
		if n.l.budget == 0 {
			n.l.errorAt(ip, nodePos(item), "%s too large (more than %d values, counting aliases)", n.l.opts.what, maxLoadNodes)
			break
		}
		r, err := n.l.resolve(item)
		if err != nil {
			n.l.errorAt(ip, nodePos(item), "%v", err)
			continue
		}
		out = append(out, Node{l: n.l, n: r, path: ip})
	}
	return out
}

// Errorf records an error at the node.
func (n Node) Errorf(format string, args ...any) {
	n.l.errorAt(n.path, n.Pos(), format, args...)
}

// String is the node as "path (line:col)", for debugging.
func (n Node) String() string { return fmt.Sprintf("%s (%s)", n.path, n.Pos()) }
