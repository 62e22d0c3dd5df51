package host

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// DefaultFirewallTable is the nftables table deskvm owns (family inet).
// Nothing outside it is ever touched.
const DefaultFirewallTable = "deskvm"

// PortRange is an inclusive TCP port range.
type PortRange struct {
	First int `json:"first"`
	Last  int `json:"last"`
}

func (p PortRange) String() string {
	if p.First == p.Last {
		return fmt.Sprint(p.First)
	}
	return fmt.Sprintf("%d-%d", p.First, p.Last)
}

// FirewallState is what the host's deskvm table holds.
type FirewallState struct {
	// Present: the table exists.
	Present bool `json:"present"`
	// Ports are the elements of the display_ports set.
	Ports []PortRange `json:"ports,omitempty"`
	// Intact: the table has exactly the set, the input chain and the one
	// accept rule deskvm writes. A table someone edited is rewritten.
	Intact bool `json:"intact"`
}

// MergeRanges sorts ranges and joins those that overlap or touch.
func MergeRanges(in []PortRange) []PortRange {
	if len(in) == 0 {
		return nil
	}
	s := append([]PortRange(nil), in...)
	sort.Slice(s, func(i, j int) bool { return s[i].First < s[j].First })
	out := []PortRange{s[0]}
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if r.First <= last.Last+1 {
			if r.Last > last.Last {
				last.Last = r.Last
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// SameRanges reports whether a and b cover the same ports.
func SameRanges(a, b []PortRange) bool {
	a, b = MergeRanges(a), MergeRanges(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FirewallScript is the nft script that makes table inet <table> hold
// exactly ports (nil ports: no table at all). It is one transaction for
// `nft -f -`: creating the table first makes the delete safe when the
// table is absent, so the script works from any starting state.
//
// The chain accepts display ports at the input hook. nftables runs every
// base chain on a hook, so this opens the ports only where no other
// table's chain drops them; a host firewall that drops by default must
// allow them too (on NixOS: networking.firewall.allowedTCPPorts).
func FirewallScript(table string, ports []PortRange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\n", table, table)
	if len(ports) == 0 {
		return b.String()
	}
	var elems []string
	for _, p := range MergeRanges(ports) {
		elems = append(elems, p.String())
	}
	fmt.Fprintf(&b, `table inet %s {
	set display_ports {
		type inet_service
		flags interval
		elements = { %s }
	}

	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport @display_ports accept comment "deskvm display ports"
	}
}
`, table, strings.Join(elems, ", "))
	return b.String()
}

// ParseFirewallJSON reads `nft -j list table inet <table>` output.
func ParseFirewallJSON(data []byte) (FirewallState, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return FirewallState{}, fmt.Errorf("parse nft json: %w", err)
	}
	st := FirewallState{}
	var sets, chains, rules int
	goodSet, goodRule := false, false
	for _, obj := range doc.Nftables {
		for kind, raw := range obj {
			switch kind {
			case "table":
				st.Present = true
			case "set":
				sets++
				var s struct {
					Name string            `json:"name"`
					Type string            `json:"type"`
					Elem []json.RawMessage `json:"elem"`
				}
				if err := json.Unmarshal(raw, &s); err != nil {
					return st, fmt.Errorf("parse nft set: %w", err)
				}
				if s.Name != "display_ports" || s.Type != "inet_service" {
					continue
				}
				goodSet = true
				for _, e := range s.Elem {
					var port int
					if json.Unmarshal(e, &port) == nil {
						st.Ports = append(st.Ports, PortRange{port, port})
						continue
					}
					var r struct {
						Range [2]int `json:"range"`
					}
					if err := json.Unmarshal(e, &r); err != nil {
						return st, fmt.Errorf("parse nft set element %s: %w", e, err)
					}
					st.Ports = append(st.Ports, PortRange{r.Range[0], r.Range[1]})
				}
			case "chain":
				chains++
			case "rule":
				rules++
				if strings.Contains(string(raw), `"@display_ports"`) && strings.Contains(string(raw), `"accept"`) &&
					strings.Contains(string(raw), `"dport"`) {
					goodRule = true
				}
			}
		}
	}
	st.Ports = MergeRanges(st.Ports)
	st.Intact = st.Present && sets == 1 && chains == 1 && rules == 1 && goodSet && goodRule
	return st, nil
}
