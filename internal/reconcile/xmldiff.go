package reconcile

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// The domain XML diff is for people: the decision "update or not" is made
// on the config hash in deskvm's metadata, never on this text. libvirt
// stores a definition with many additions (PCI addresses, aliases,
// controllers it adds, default attributes). To show only what the config
// changes, both sides are first round-tripped through libvirtxml (same
// element order and attribute spelling), then the observed side is
// projected onto the shape of the desired side: attributes and child
// elements the desired XML never mentions are dropped, so libvirt's
// additions vanish while real differences stay.

// node is a generic XML element.
type node struct {
	name     string // local name, with a prefix for foreign namespaces
	attrs    map[string]string
	children []*node
	text     string
}

// normaliseDomain round-trips a domain through libvirtxml.
func normaliseDomain(doc string) (string, error) {
	var d libvirtxml.Domain
	if err := d.Unmarshal(doc); err != nil {
		return "", fmt.Errorf("parse domain xml: %w", err)
	}
	// The runtime id of a running domain is not part of any definition.
	d.ID = nil
	return d.Marshal()
}

func parseNode(doc string) (*node, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: qname(t.Name), attrs: map[string]string{}}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				n.attrs[qname(a.Name)] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += strings.TrimSpace(string(t))
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("empty XML document")
	}
	return root, nil
}

func qname(n xml.Name) string {
	switch n.Space {
	case "":
		return n.Local
	case "http://libvirt.org/schemas/domain/qemu/1.0":
		return "qemu:" + n.Local
	}
	if strings.Contains(n.Space, "deskvm") {
		return "deskvm:" + n.Local
	}
	return n.Local
}

// key identifies a child among its siblings: its name and the attributes
// that tell devices of one kind apart.
func (n *node) key() string {
	k := n.name
	for _, a := range []string{"type", "device", "model", "name"} {
		if v, ok := n.attrs[a]; ok && !(n.name == "model" || n.name == "driver") {
			k += "[" + a + "=" + v + "]"
		}
	}
	return k
}

// libvirtAdds are elements libvirt puts into a definition by itself; an
// observed one with no desired counterpart is noise, not a removal.
var libvirtAdds = map[string]bool{
	"address": true, "alias": true, "controller": true, "input": true,
	"seclabel": true, "resource": true, "audio": true, "memballoon": true,
	"target": true, "model": true, "driver": true, "protocol": true,
	"console": true, "serial": true, "channel": true, "video": true,
	"panic": true, "rng": true, "watchdog": true, "listen": true,
}

// project returns obs with what des never mentions removed.
func project(obs, des *node) *node {
	out := &node{name: obs.name, attrs: map[string]string{}, text: obs.text}
	for k, v := range obs.attrs {
		if _, ok := des.attrs[k]; ok {
			out.attrs[k] = v
		}
	}
	desNames := map[string]bool{}
	desByKey := map[string][]*node{}
	for _, c := range des.children {
		desNames[c.name] = true
		desByKey[c.key()] = append(desByKey[c.key()], c)
	}
	used := map[string]int{}
	for _, c := range obs.children {
		k := c.key()
		if i := used[k]; i < len(desByKey[k]) {
			used[k]++
			out.children = append(out.children, project(c, desByKey[k][i]))
			continue
		}
		if !desNames[c.name] || libvirtAdds[c.name] {
			continue
		}
		out.children = append(out.children, c)
	}
	return out
}

// redact hides display passwords (domains are read with the secure flag
// and rendered with the password). A changed password still shows as a
// changed line, without the value.
func redact(obs, des *node) {
	op, dp := passwords(obs, nil), passwords(des, nil)
	marker := "(redacted)"
	if strings.Join(op, "\x00") != strings.Join(dp, "\x00") {
		marker = "(redacted, changed)"
	}
	setPasswords(obs, "(redacted)")
	setPasswords(des, marker)
}

func passwords(n *node, acc []string) []string {
	if v, ok := n.attrs["passwd"]; ok {
		acc = append(acc, v)
	}
	for _, c := range n.children {
		acc = passwords(c, acc)
	}
	return acc
}

func setPasswords(n *node, v string) {
	if _, ok := n.attrs["passwd"]; ok {
		n.attrs["passwd"] = v
	}
	for _, c := range n.children {
		setPasswords(c, v)
	}
}

func (n *node) lines(indent string, out *[]string) {
	var b strings.Builder
	b.WriteString(indent + "<" + n.name)
	keys := make([]string, 0, len(n.attrs))
	for k := range n.attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, n.attrs[k])
	}
	switch {
	case len(n.children) == 0 && n.text == "":
		b.WriteString("/>")
		*out = append(*out, b.String())
	case len(n.children) == 0:
		b.WriteString(">" + n.text + "</" + n.name + ">")
		*out = append(*out, b.String())
	default:
		b.WriteString(">")
		if n.text != "" {
			b.WriteString(n.text)
		}
		*out = append(*out, b.String())
		for _, c := range n.children {
			c.lines(indent+"  ", out)
		}
		*out = append(*out, indent+"</"+n.name+">")
	}
}

// canonicalise irons out what libvirt rewrites rather than adds: the
// machine alias it expands (q35 -> pc-q35-7.2) and the path-less unix
// channel source it drops from the inactive definition.
func canonicalise(obs, des *node) {
	if ot, dt := find(obs, "os", "type"), find(des, "os", "type"); ot != nil && dt != nil {
		om, dm := ot.attrs["machine"], dt.attrs["machine"]
		alias := map[string]string{"q35": "pc-q35-", "pc": "pc-i440fx-"}
		if p, ok := alias[dm]; ok && strings.HasPrefix(om, p) {
			ot.attrs["machine"] = dm
		}
	}
	if devs := find(des, "devices"); devs != nil {
		for _, ch := range devs.children {
			if ch.name != "channel" || ch.attrs["type"] != "unix" {
				continue
			}
			kept := ch.children[:0]
			for _, c := range ch.children {
				if c.name == "source" && len(c.attrs) == 1 && c.attrs["mode"] == "bind" && len(c.children) == 0 {
					continue
				}
				kept = append(kept, c)
			}
			ch.children = kept
		}
	}
}

// find walks down by element names, taking the first match at each level.
func find(n *node, path ...string) *node {
	for _, p := range path {
		var next *node
		for _, c := range n.children {
			if c.name == p {
				next = c
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// DomainDiff is a unified diff from the observed definition to the desired
// one, both normalised as described above; "" when they agree.
func DomainDiff(name, observedXML, desiredXML string) (string, error) {
	o, d, err := comparable(observedXML, desiredXML)
	if err != nil {
		return "", fmt.Errorf("diff domain %q: %w", name, err)
	}
	return unifiedDiff("libvirt/"+name, "config/"+name, o, d, 3), nil
}

func comparable(observedXML, desiredXML string) ([]string, []string, error) {
	on, err := normaliseDomain(observedXML)
	if err != nil {
		return nil, nil, err
	}
	dn, err := normaliseDomain(desiredXML)
	if err != nil {
		return nil, nil, err
	}
	ot, err := parseNode(on)
	if err != nil {
		return nil, nil, err
	}
	dt, err := parseNode(dn)
	if err != nil {
		return nil, nil, err
	}
	canonicalise(ot, dt)
	ot = project(ot, dt)
	redact(ot, dt)
	var ol, dl []string
	ot.lines("", &ol)
	dt.lines("", &dl)
	return ol, dl, nil
}

// unifiedDiff is a plain LCS line diff in unified format. Domain XML is a
// few hundred lines, so the quadratic table is small.
func unifiedDiff(from, to string, a, b []string, context int) string {
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else if lcs[i+1][j] >= lcs[i][j+1] {
				lcs[i][j] = lcs[i+1][j]
			} else {
				lcs[i][j] = lcs[i][j+1]
			}
		}
	}
	type op struct {
		kind byte // ' ', '-', '+'
		line string
		ai   int
		bi   int
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', a[i], i, j})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', a[i], i, j})
			i++
		default:
			ops = append(ops, op{'+', b[j], i, j})
			j++
		}
	}
	changed := false
	for _, o := range ops {
		if o.kind != ' ' {
			changed = true
			break
		}
	}
	if !changed {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", from, to)
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		start := k - context
		if start < 0 {
			start = 0
		}
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*context {
				break
			}
			end = run
		}
		stop := end + context
		if stop > len(ops) {
			stop = len(ops)
		}
		var al, bl int
		for _, o := range ops[start:stop] {
			if o.kind != '+' {
				al++
			}
			if o.kind != '-' {
				bl++
			}
		}
		fmt.Fprintf(&sb, "@@ -%d,%d +%d,%d @@\n", ops[start].ai+1, al, ops[start].bi+1, bl)
		for _, o := range ops[start:stop] {
			sb.WriteByte(o.kind)
			sb.WriteString(o.line)
			sb.WriteByte('\n')
		}
		k = stop
	}
	return sb.String()
}
