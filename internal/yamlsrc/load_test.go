package yamlsrc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type inner struct {
	Count int     `json:"count,omitempty"`
	Ratio float64 `json:"ratio,omitempty"`
	On    *bool   `json:"on,omitempty"`
}

type top struct {
	Name  string            `json:"name,omitempty"`
	Inner inner             `json:"inner,omitempty"`
	Items map[string]*inner `json:"items,omitempty"`
	Tags  []string          `json:"tags,omitempty"`
	Pick  pick              `json:"pick,omitempty"`
}

// pick is "all" or a list of names: a NodeDecoder.
type pick struct {
	All   bool
	Names []string
}

func (p *pick) DecodeNode(n Node) {
	switch n.Kind() {
	case KindString:
		if n.Text() != "all" {
			n.Errorf(`expected "all" or a list, got %q`, n.Text())
			return
		}
		p.All = true
	case KindList:
		n.Decode(&p.Names)
	default:
		n.Errorf(`expected "all" or a list, got %s`, n.Describe())
	}
}

func load(t *testing.T, src string, opts ...Option) (*top, *Doc, []string) {
	t.Helper()
	var v top
	doc, err := Load("t.yaml", []byte(src), &v, opts...)
	var lines []string
	if err != nil {
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("err %v is not Problems", err)
		}
		for _, p := range ps {
			lines = append(lines, p.String())
		}
	}
	return &v, doc, lines
}

// All problems of a document come at once, in document order, each with
// file:line:col and field path.
func TestLoadReportsEveryProblem(t *testing.T) {
	src := `name: 5
inner:
  count: "3"
  cuont: 4
  on: yes
items:
  a: {count: 1}
  a: {count: 2}
tags: x
pick: some
extra: 1
`
	_, _, got := load(t, src)
	want := []string{
		`t.yaml:1:7: name: expected a string, got the number 5; quote it ("5") if you mean the text`,
		`t.yaml:3:10: inner.count: expected a whole number, got a string ("3")`,
		`t.yaml:4:3: inner.cuont: unknown field "cuont"; did you mean "count"?`,
		`t.yaml:5:7: inner.on: expected true or false, got a string ("yes")`,
		`t.yaml:8:3: items.a: duplicate key "a" (first at line 7:3)`,
		`t.yaml:9:7: tags: expected a list, got a string ("x")`,
		`t.yaml:10:7: pick: expected "all" or a list, got "some"`,
		`t.yaml:11:1: extra: unknown field "extra" (valid here: inner, items, name, pick, tags)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestLoadValues(t *testing.T) {
	src := `x-base: &b {count: 2}
name: n
inner: {count: 7, ratio: 1, on: false}
items:
  a: {<<: *b, ratio: 0.5}
  b:
tags: [p, q]
pick: [one]
`
	v, doc, probs := load(t, src, IgnoreTopLevel("x-"), KeyNoun("items", "item name"))
	if probs != nil {
		t.Fatal(probs)
	}
	f := false
	want := &top{Name: "n", Inner: inner{Count: 7, Ratio: 1, On: &f},
		Items: map[string]*inner{"a": {Count: 2, Ratio: 0.5}, "b": {}},
		Tags:  []string{"p", "q"}, Pick: pick{Names: []string{"one"}}}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("value (-want +got):\n%s", diff)
	}
	for path, want := range map[string]string{"inner.ratio": "3:26", "tags[1]": "7:11", "items.b": "6:3", "pick": "8:1"} {
		if p, ok := doc.Pos(path); !ok || p.String() != want {
			t.Errorf("Pos(%s) = %s, %v; want %s", path, p, ok, want)
		}
	}
	_, _, probs = load(t, "items:\n  a: {}\n  a: {}\n", KeyNoun("items", "item name"))
	if len(probs) != 1 || !strings.Contains(probs[0], `duplicate item name "a"`) {
		t.Errorf("KeyNoun: %v", probs)
	}
}

func TestLoadDocumentProblems(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"name: a\n---\nname: b\n", "t.yaml:3:5: a recipe file holds one YAML document; found another"},
		{"name: [a\n", "t.yaml:1:"},
		{"- a\n", "t.yaml:1:1: expected a mapping of options, got a list"},
		{"name: *nope\n", "t.yaml:1:7: name: alias *nope names no anchor"},
		{"a: &a [*a, *a]\n", "t.yaml:1:"},
	} {
		_, _, got := load(t, tt.src, What("recipe"))
		if len(got) == 0 || !strings.HasPrefix(got[0], tt.want) {
			t.Errorf("%q: got %v, want %s", tt.src, got, tt.want)
		}
	}
}

// Aliases cannot make a small file expensive: the work is bounded.
func TestLoadAliasBomb(t *testing.T) {
	src := "x-a: &a [q, q, q, q, q, q, q, q, q, q]\n"
	prev := "a"
	for i := 0; i < 8; i++ {
		name := string(rune('b' + i))
		src += "x-" + name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = name
	}
	src += "tags: *" + prev + "\n"
	var v struct {
		Tags deep `json:"tags"`
	}
	_, err := Load("t.yaml", []byte(src), &v, IgnoreTopLevel("x-"))
	got := []string{fmt.Sprint(err)}
	if v.Tags.leaves >= 10*10*10*10*10*10*10*10*10 {
		t.Errorf("decoded %d leaves", v.Tags.leaves)
	}
	if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), "too large") {
		t.Errorf("got %v", got)
	}
}

// deep counts the leaves of nested lists.
type deep struct{ leaves int }

func (d *deep) DecodeNode(n Node) {
	items := n.Items()
	if items == nil {
		d.leaves++
	}
	for _, it := range items {
		it.Decode(d)
	}
}

func TestLocate(t *testing.T) {
	src := "name: n\ninner:\n  count: 3\nitems:\n  long: |\n    one\n    two\n"
	var v struct {
		Name  string            `json:"name"`
		Inner inner             `json:"inner"`
		Items map[string]string `json:"items"`
	}
	doc, err := Load("t.yaml", []byte(src), &v)
	if err != nil {
		t.Fatal(err)
	}
	ps := doc.Locate(Problems{
		Errorf("inner.count", "too many"),
		Warnf("inner.ratio", "left to its default, pointed at the enclosing key"),
		{Path: "items.long", Message: "bad name", OnKey: true},
		InnerErrorf("items.long", 2, "bad line"),
	})
	want := []string{
		"t.yaml:3:10: inner.count: too many",
		"t.yaml:2:1: inner.ratio: left to its default, pointed at the enclosing key",
		"t.yaml:5:3: items.long: bad name",
		"t.yaml:7:5: items.long: bad line",
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("located (-want +got):\n%s", diff)
	}
	if ps.HasErrors() != true || len(ps.Warnings()) != 1 || ps.Err() == nil || (Problems{ps[1]}).Err() != nil {
		t.Errorf("severity helpers wrong: %v", ps)
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"memory", "currentMemory", "cpuPinning", "statsInterval", "vcpus", "osType"}
	for got, want := range map[string]string{
		"memroy": "memory", "Memory": "memory", "cpu_pinning": "cpuPinning", "cpupinning": "cpuPinning",
		"vcpu": "vcpus", "ostype": "osType", "statsIntervall": "statsInterval", "zzz": "", "network": "",
	} {
		if s := Suggest(got, keys); s != want {
			t.Errorf("Suggest(%q) = %q, want %q", got, s, want)
		}
	}
}

// JSON is read by the same loader, with the same positions and problems.
func TestLoadJSON(t *testing.T) {
	_, _, got := load(t, `{"name": "n", "inner": {"count": 2.5, "on": true}, "tags": ["a", 1], "nmae": 1}`)
	want := []string{
		`t.yaml:1:34: inner.count: expected a whole number, got the number 2.5`,
		`t.yaml:1:66: tags[1]: expected a string, got the number 1; quote it ("1") if you mean the text`,
		`t.yaml:1:70: nmae: unknown field "nmae"; did you mean "name"?`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// steps is a hand-written schema over the Node API: a list of one-key
// mappings whose problems are labelled by step, as automation scripts are.
type steps struct{ names []string }

func (s *steps) DecodeNode(n Node) {
	for i, it := range n.Items() {
		it = it.Label(fmt.Sprintf("step %d", i+1))
		es, ok := it.Entries()
		if !ok || len(es) != 1 {
			it.Errorf("a step is one command, got %s", it.Describe())
			continue
		}
		arg := es[0].Value.Label(fmt.Sprintf("step %d (%s)", i+1, es[0].Key))
		switch es[0].Key {
		case "wait":
			f, ok := arg.Fields("wait", "text", "timeout")
			if !ok {
				arg.Errorf("wait needs a mapping")
				continue
			}
			if to, ok := f["timeout"]; ok {
				if v, ok := to.Int(); !ok || v < 0 {
					to.Errorf("must be a positive integer, got %s", to.Describe())
				}
			}
		default:
			arg.ErrorfAt(es[0].KeyPos, "unknown command %q", es[0].Key)
		}
		s.names = append(s.names, es[0].Key)
	}
}

func TestNodeAPI(t *testing.T) {
	src := `- wait: {text: a, timeout: -1}
- wait: {txet: a}
- wiat: 1
- wait: {text: a}
  click: b
- &w {wait: {text: a, text: b}}
- *w
`
	var s steps
	_, err := Load("t.yaml", []byte(src), &s)
	want := []string{
		`t.yaml:1:28: step 1 (wait): timeout: must be a positive integer, got the number -1`,
		`t.yaml:2:10: step 2 (wait): txet: unknown field "txet" in wait; did you mean "text"?`,
		`t.yaml:3:3: step 3 (wiat): unknown command "wiat"`,
		`t.yaml:4:3: step 4: a step is one command, got a mapping`,
		`t.yaml:6:23: step 5 (wait): text: duplicate key "text" (first at line 6:14)`,
		// The alias reads the anchored step again: its problems are found
		// again, at the anchor, under the alias's step.
		`t.yaml:6:23: step 6 (wait): text: duplicate key "text" (first at line 6:14)`,
	}
	checkProblems(t, err, want)
	if diff := cmp.Diff([]string{"wait", "wait", "wiat", "wait", "wait"}, s.names); diff != "" {
		t.Errorf("steps read (-want +got):\n%s", diff)
	}
}

// shared options of two mappings, embedded as in encoding/json.
type common struct {
	Timeout time.Duration `json:"timeout"`
	Name    string        `json:"name"`
}

type withCommon struct {
	common
	Offset int  `json:"offset"`
	Rest   Node `json:"rest"`
}

// checked reads withCommon and then checks a field by hand, as schemas
// do after Decode.
type checked struct {
	v      withCommon
	ok     bool
	hasNil bool
}

func (c *checked) DecodeNode(n Node) {
	c.ok = n.Decode(&c.v)
	c.hasNil = n.Has("name") && c.v.Name == ""
	if c.v.Offset > 10 {
		n.FieldErrorf("offset", "must be at most 10, got %d", c.v.Offset)
	}
	if c.v.Rest.Kind() == KindList {
		for _, it := range c.v.Rest.Items() {
			var s string
			it.Decode(&s)
		}
	}
}

func TestDecodeDurationsEmbeddedAndNodes(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"timeout: 90", "1m30s"},
		{"timeout: 0.5", "500ms"},
		{"timeout: 2m", "2m0s"},
	} {
		var c checked
		if _, err := Load("d.yaml", []byte(tc.src), &c); err != nil || !c.ok || c.v.Timeout.String() != tc.want {
			t.Errorf("%s: got %s ok=%v err=%v, want %s", tc.src, c.v.Timeout, c.ok, err, tc.want)
		}
	}
	src := `timeout: -5
offset: 11
name:
rest: [a, 1]
`
	var c checked
	_, err := Load("d.yaml", []byte(src), &c)
	if c.ok || !c.hasNil {
		t.Errorf("ok = %v (want false), has name = %v (want true)", c.ok, c.hasNil)
	}
	want := []string{
		`d.yaml:1:10: timeout: must not be negative, got -5s`,
		`d.yaml:2:9: offset: must be at most 10, got 11`,
		`d.yaml:4:11: rest[1]: expected a string, got the number 1; quote it ("1") if you mean the text`,
	}
	checkProblems(t, err, want)
	for _, tc := range []struct{ src, want string }{
		{"timeout: soon", `d.yaml:1:10: timeout: expected a number of seconds or a duration like "90s", got a string ("soon")`},
		{"timeout: [1]", `d.yaml:1:10: timeout: expected a number of seconds or a duration like "90s", got a list`},
		{"timeout: 999999999.5", `d.yaml:1:10: timeout: must be at most a week (168h0m0s), got 999999999.5`},
		{"timeout: 700000", `d.yaml:1:10: timeout: must be at most a week (168h0m0s), got 700000`},
		{"timeout: 200h", `d.yaml:1:10: timeout: must be at most a week (168h0m0s), got 200h`},
		{"timeout: .nan", `d.yaml:1:10: timeout: must be at most a week (168h0m0s), got .nan`},
		{"timeot: 1", `d.yaml:1:1: timeot: unknown field "timeot"; did you mean "timeout"?`},
	} {
		var c checked
		_, err := Load("d.yaml", []byte(tc.src), &c)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
}

// checkProblems compares the printed problems of err with want.
func checkProblems(t *testing.T, err error, want []string) {
	t.Helper()
	var got []string
	var ps Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			got = append(got, p.String())
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
