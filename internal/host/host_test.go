package host

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/testutil"
)

// Output of `nft -j list table inet deskvm` (nftables 1.0.6) after
// FirewallScript(…, 5900-5999 and 6100) was applied.
const nftJSON = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "deskvm", "handle": 2}}, {"set": {"family": "inet", "name": "display_ports", "table": "deskvm", "type": "inet_service", "handle": 2, "flags": ["interval"], "elem": [{"range": [5900, 5999]}, 6100]}}, {"chain": {"family": "inet", "table": "deskvm", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"rule": {"family": "inet", "table": "deskvm", "chain": "input", "handle": 3, "comment": "deskvm display ports", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@display_ports"}}, {"accept": null}]}}]}`

func TestParseFirewallJSON(t *testing.T) {
	st, err := ParseFirewallJSON([]byte(nftJSON))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Present || !st.Intact || !SameRanges(st.Ports, []PortRange{{5900, 5999}, {6100, 6100}}) {
		t.Fatalf("state: %+v", st)
	}
	// A rule added by hand makes the table not intact, so apply rewrites it.
	edited := strings.TrimSuffix(nftJSON, "]}") +
		`, {"rule": {"family": "inet", "table": "deskvm", "chain": "input", "handle": 4, "expr": [{"accept": null}]}}]}`
	st, err = ParseFirewallJSON([]byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	if st.Intact {
		t.Fatal("edited table reported intact")
	}
}

func TestFirewallScript(t *testing.T) {
	got := FirewallScript("deskvm", []PortRange{{5911, 5911}, {5900, 5999}, {6000, 6000}, {7000, 7000}})
	want := `table inet deskvm
delete table inet deskvm
table inet deskvm {
	set display_ports {
		type inet_service
		flags interval
		elements = { 5900-6000, 7000 }
	}

	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport @display_ports accept comment "deskvm display ports"
	}
}
`
	if got != want {
		t.Fatalf("got:\n%s", got)
	}
}

// Against the real nft: a table of the test's own name is created,
// read back, changed and removed.
func TestSysFirewallRealNFT(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	nft := testutil.RequiresCommand(t, "nft")
	if out, err := exec.Command(nft, "list", "tables").CombinedOutput(); err != nil {
		testutil.Missing(t, "nft usable as root: "+string(out))
	}
	table := fmt.Sprintf("deskvm_test_%d", os.Getpid())
	h := &Sys{}
	ctx := context.Background()
	t.Cleanup(func() { _ = h.ApplyFirewall(ctx, FirewallScript(table, nil)) })
	st, err := h.Firewall(ctx, table)
	if err != nil || st.Present {
		t.Fatalf("before: %+v %v", st, err)
	}
	if err := h.ApplyFirewall(ctx, FirewallScript(table, []PortRange{{5900, 5999}, {6100, 6100}})); err != nil {
		t.Fatal(err)
	}
	st, err = h.Firewall(ctx, table)
	if err != nil || !st.Present || !st.Intact || !SameRanges(st.Ports, []PortRange{{5900, 5999}, {6100, 6100}}) {
		t.Fatalf("after open: %+v %v", st, err)
	}
	// Applying again (replace) works from a present table.
	if err := h.ApplyFirewall(ctx, FirewallScript(table, []PortRange{{5930, 5930}})); err != nil {
		t.Fatal(err)
	}
	if st, _ = h.Firewall(ctx, table); !SameRanges(st.Ports, []PortRange{{5930, 5930}}) {
		t.Fatalf("after replace: %+v", st)
	}
	if err := h.ApplyFirewall(ctx, FirewallScript(table, nil)); err != nil {
		t.Fatal(err)
	}
	if st, _ = h.Firewall(ctx, table); st.Present {
		t.Fatalf("after remove: %+v", st)
	}
}

func TestSysHugepagesTempDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "sys/kernel/mm/hugepages/hugepages-2048kB")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nr_hugepages"), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &Sys{Root: root}
	n, err := h.SetHugepages(context.Background(), 2048, 64)
	if err != nil || n != 64 {
		t.Fatalf("SetHugepages = %d, %v", n, err)
	}
	if n, err := h.Hugepages(context.Background(), 2048); err != nil || n != 64 {
		t.Fatalf("Hugepages = %d, %v", n, err)
	}
	for name, v := range map[string]string{"free_hugepages": "64\n", "resv_hugepages": "24\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := h.HugepagesAvailable(context.Background(), 2048); err != nil || n != 40 {
		t.Fatalf("HugepagesAvailable = %d, %v; want 64 free - 24 reserved = 40", n, err)
	}
	ctx := context.Background()
	if n, err := h.HugepagesAdded(ctx, 2048, "win11"); err != nil || n != 0 {
		t.Fatalf("HugepagesAdded before any start = %d, %v", n, err)
	}
	if err := h.SetHugepagesAdded(ctx, 2048, "win11", 28); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "run/deskvm/hugepages/2048kB/win11")); err != nil || string(b) != "28\n" {
		t.Fatalf("record file: %q, %v", b, err)
	}
	if n, err := h.HugepagesAdded(ctx, 2048, "win11"); err != nil || n != 28 {
		t.Fatalf("HugepagesAdded = %d, %v", n, err)
	}
	if err := h.SetHugepagesAdded(ctx, 2048, "win11", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "run/deskvm/hugepages/2048kB/win11")); !os.IsNotExist(err) {
		t.Fatalf("record not removed at 0: %v", err)
	}
	if _, err := h.Hugepages(context.Background(), 1048576); err == nil {
		t.Fatal("missing 1G pool read without error")
	}
}
