package libvirttest

import (
	"context"
	"errors"
	"github.com/deskvm/deskvm/internal/libvirt"
	"reflect"
	"testing"
)

// exerciseChanges calls every changing method of c once, in a valid order.
func exerciseChanges(t *testing.T, c libvirt.Client) {
	t.Helper()
	ctx := context.Background()
	const x = `<domain type='qemu'><name>vm1</name><uuid>11111111-2222-3333-4444-555555555555</uuid></domain>`
	steps := []struct {
		name string
		fn   func() error
	}{
		{"DefineDirPool", func() error { return c.DefineDirPool(ctx, "p", "/tmp/p") }},
		{"BuildPool", func() error { return c.BuildPool(ctx, "p") }},
		{"StartPool", func() error { return c.StartPool(ctx, "p") }},
		{"SetPoolAutostart", func() error { return c.SetPoolAutostart(ctx, "p", true) }},
		{"CreateVolume", func() error {
			_, err := c.CreateVolume(ctx, "p", libvirt.VolumeSpec{Name: "d", Capacity: 10})
			return err
		}},
		{"ResizeVolume", func() error { return c.ResizeVolume(ctx, "p", "d", 20) }},
		{"DefineDomain", func() error { return c.DefineDomain(ctx, x) }},
		{"SetAutostart", func() error { return c.SetAutostart(ctx, "vm1", true) }},
		{"StartDomain", func() error { return c.StartDomain(ctx, "vm1") }},
		{"SetMemory", func() error { return c.SetMemory(ctx, "vm1", 1024, libvirt.MemoryLive) }},
		{"ResizeDomainDisk", func() error { return c.ResizeDomainDisk(ctx, "vm1", "vda", 30) }},
		{"ShutdownDomain", func() error { return c.ShutdownDomain(ctx, "vm1") }},
		{"StartDomain", func() error { return c.StartDomain(ctx, "vm1") }},
		{"DestroyDomain", func() error { return c.DestroyDomain(ctx, "vm1") }},
		{"UndefineDomain", func() error { return c.UndefineDomain(ctx, "vm1", libvirt.UndefineOptions{}) }},
		{"DeleteVolume", func() error { return c.DeleteVolume(ctx, "p", "d") }},
		{"StopPool", func() error { return c.StopPool(ctx, "p") }},
		{"UndefinePool", func() error { return c.UndefinePool(ctx, "p") }},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
}

func methods(calls []Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Method)
	}
	return out
}

// The Recorder must see every changing call, i.e. override every method
// that Changing names; the Fake must record the same ones.
func TestRecorderAndFakeRecordEveryChange(t *testing.T) {
	f := NewFake()
	r := NewRecorder(f)
	exerciseChanges(t, r)
	got, fake := methods(r.Changes()), methods(f.Changes())
	if !reflect.DeepEqual(got, fake) {
		t.Fatalf("recorder saw %v\nfake recorded %v", got, fake)
	}
	seen := map[string]bool{}
	for _, m := range got {
		seen[m] = true
		if !Changing(m) {
			t.Errorf("%s recorded but Changing says no", m)
		}
	}
	ty := reflect.TypeOf((*libvirt.Client)(nil)).Elem()
	for i := 0; i < ty.NumMethod(); i++ {
		m := ty.Method(i).Name
		if Changing(m) && !seen[m] {
			t.Errorf("changing method %s not exercised/recorded", m)
		}
	}
	// Reads are not recorded.
	ctx := context.Background()
	_, _ = r.Domains(ctx)
	_, _ = r.Pools(ctx)
	if len(r.Changes()) != len(got) {
		t.Fatal("reads were recorded")
	}
}

func TestFakeLibvirtBehaviour(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	const a = `<domain><name>a</name><uuid>aaaaaaaa-0000-0000-0000-000000000001</uuid><memory>1</memory></domain>`
	const a2 = `<domain><name>a</name><uuid>aaaaaaaa-0000-0000-0000-000000000001</uuid><memory>2</memory></domain>`
	if err := f.DefineDomain(ctx, a); err != nil {
		t.Fatal(err)
	}
	// Without UUID over an existing name: libvirt's refusal.
	if err := f.DefineDomain(ctx, `<domain><name>a</name></domain>`); !errors.Is(err, libvirt.ErrExists) {
		t.Fatalf("define without uuid: %v", err)
	}
	// Same UUID, other name.
	if err := f.DefineDomain(ctx, `<domain><name>b</name><uuid>aaaaaaaa-0000-0000-0000-000000000001</uuid></domain>`); !errors.Is(err, libvirt.ErrExists) {
		t.Fatalf("define same uuid other name: %v", err)
	}
	if err := f.StartDomain(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := f.DefineDomain(ctx, a2); err != nil {
		t.Fatal(err)
	}
	d, _ := f.Domain(ctx, "a")
	if d.LiveXML != a || d.InactiveXML != a2 {
		t.Fatalf("redefine of a running domain: live %q inactive %q", d.LiveXML, d.InactiveXML)
	}
	// Undefine while running leaves a transient domain; stopping removes it.
	if err := f.UndefineDomain(ctx, "a", libvirt.UndefineOptions{}); err != nil {
		t.Fatal(err)
	}
	if d, _ = f.Domain(ctx, "a"); d.Persistent || !d.Active {
		t.Fatalf("after undefine of running domain: %+v", d)
	}
	if err := f.DestroyDomain(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Domain(ctx, "a"); !errors.Is(err, libvirt.ErrNotFound) {
		t.Fatalf("transient domain survived destroy: %v", err)
	}
	// Fail hook: nothing recorded, nothing changed.
	f.ResetChanges()
	boom := errors.New("boom")
	f.Fail = func(c Call) error {
		if c.Method == "DefineDomain" {
			return boom
		}
		return nil
	}
	if err := f.DefineDomain(ctx, a); !errors.Is(err, boom) {
		t.Fatalf("Fail hook: %v", err)
	}
	if len(f.Changes()) != 0 {
		t.Fatalf("failed call recorded: %v", f.Changes())
	}
	if _, err := f.Domain(ctx, "a"); !errors.Is(err, libvirt.ErrNotFound) {
		t.Fatal("failed define left a domain")
	}
}
