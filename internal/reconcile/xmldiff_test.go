package reconcile

import (
	"os"
	"strings"
	"testing"
)

func readDiffCase(t *testing.T) (desired, libvirtXML string) {
	t.Helper()
	d, err := os.ReadFile("testdata/diff/linux-tcg.desired.xml")
	if err != nil {
		t.Fatal(err)
	}
	o, err := os.ReadFile("testdata/diff/linux-tcg.libvirt.xml")
	if err != nil {
		t.Fatal(err)
	}
	return string(d), string(o)
}

// libvirt's expansion of a rendered domain (PCI addresses, controllers,
// machine alias, default attributes) is not a difference.
func TestDomainDiffIgnoresLibvirtAdditions(t *testing.T) {
	desired, stored := readDiffCase(t)
	diff, err := DomainDiff("vm", stored, desired)
	if err != nil {
		t.Fatal(err)
	}
	if diff != "" {
		t.Fatalf("diff of a freshly defined domain is not empty:\n%s", diff)
	}
}

func TestDomainDiffShowsRealChanges(t *testing.T) {
	desired, stored := readDiffCase(t)
	changed := strings.Replace(desired, `<memory unit="KiB">4194304</memory>`, `<memory unit="KiB">8388608</memory>`, 1)
	changed = strings.Replace(changed, `<vcpu placement="static">2</vcpu>`, `<vcpu placement="static">4</vcpu>`, 1)
	diff, err := DomainDiff("vm", stored, changed)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"--- libvirt/vm\n+++ config/vm\n@@ ",
		`-  <memory unit="KiB">4194304</memory>`,
		`+  <memory unit="KiB">8388608</memory>`,
		`-  <vcpu placement="static">2</vcpu>`,
		`+  <vcpu placement="static">4</vcpu>`,
	} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	if n := strings.Count(diff, "\n-"); n != 2 {
		t.Errorf("%d removed lines, want 2:\n%s", n, diff)
	}
}

func TestDomainDiffRedactsPasswords(t *testing.T) {
	a := `<domain type="qemu"><name>x</name><devices><graphics type="vnc" passwd="old-secret"/></devices></domain>`
	b := `<domain type="qemu"><name>x</name><devices><graphics type="vnc" passwd="new-secret"/></devices></domain>`
	diff, err := DomainDiff("x", a, b)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(diff, "secret") || !strings.Contains(diff, "(redacted, changed)") {
		t.Fatalf("diff:\n%s", diff)
	}
	if diff, _ := DomainDiff("x", a, a); diff != "" {
		t.Fatalf("same password differs:\n%s", diff)
	}
}

func TestUnifiedDiffHunks(t *testing.T) {
	a := strings.Split("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", " ")
	b := append([]string(nil), a...)
	b[1] = "two"
	b[17] = "eighteen"
	got := unifiedDiff("a", "b", a, b, 2)
	want := `--- a
+++ b
@@ -1,4 +1,4 @@
 1
-2
+two
 3
 4
@@ -16,5 +16,5 @@
 16
 17
-18
+eighteen
 19
 20
`
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if unifiedDiff("a", "b", a, a, 3) != "" {
		t.Fatal("equal inputs gave a diff")
	}
}
