package libvirt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/testutil"
)

// A libvirtd that accepts the connection and never answers must not hang
// deskvm: the per-call deadline drops the connection.
func TestDialTimesOutOnSilentDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "silent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	_, err = Dial(context.Background(), "qemu:///system?socket="+sock, Options{CallTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Dial error = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Dial took %s, want about 200ms", d)
	}
}

func TestDialCancelledContext(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "silent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(2 * time.Second)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = Dial(ctx, "qemu:///system?socket="+sock, Options{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial error = %v, want context.DeadlineExceeded", err)
	}
}

func TestDialerForURI(t *testing.T) {
	for _, tc := range []struct {
		uri     string
		wantErr string
	}{
		{"qemu:///system", ""},
		{"qemu+unix:///system?socket=/tmp/x", ""},
		{"qemu+ssh://root@example.com/system", ""},
		{"qemu+ssh://root@example.com:2222/system?keyfile=/k&no_verify=1", ""},
		{"qemu+libssh2://example.com/system?known_hosts=/kh", ""},
		{"qemu+tcp://example.com/system", ""},
		{"qemu+ext://example.com/system", `unsupported transport "ext"`},
	} {
		u, err := parseURI(tc.uri)
		if err != nil {
			t.Fatal(err)
		}
		_, err = dialerFor(u)
		if tc.wantErr == "" && err != nil {
			t.Errorf("%s: %v", tc.uri, err)
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: error %v, want %q", tc.uri, err, tc.wantErr)
		}
	}
}

func testName(t *testing.T, what string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("deskvm-test-%s-%s", what, hex.EncodeToString(b[:]))
}

func dialReal(t *testing.T) *Conn {
	t.Helper()
	uri := testutil.RequiresLibvirt(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, uri, Options{CallTimeout: 60 * time.Second})
	if err != nil {
		t.Fatalf("dial %s: %v", uri, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func minimalDomainXML(name, uuid string, memMiB int) string {
	u := ""
	if uuid != "" {
		u = "<uuid>" + uuid + "</uuid>"
	}
	return fmt.Sprintf(`<domain type='qemu'><name>%s</name>%s<memory unit='MiB'>%d</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><graphics type='vnc' port='-1' listen='127.0.0.1'/></devices></domain>`, name, u, memMiB)
}

// cleanupDomain removes a test domain whatever state it is in.
func cleanupDomain(t *testing.T, c Client, name string) {
	t.Cleanup(func() {
		ctx := context.Background()
		d, err := c.Domain(ctx, name)
		if err != nil {
			return
		}
		if d.Active {
			_ = c.DestroyDomain(ctx, name)
		}
		if d.Persistent {
			_ = c.UndefineDomain(ctx, name, UndefineOptions{RemoveNVRAM: true, RemoveTPM: true})
		}
	})
}

func TestConnDomainLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	c := dialReal(t)
	ctx := context.Background()
	if v, err := c.LibVersion(ctx); err != nil || v < 1000000 {
		t.Fatalf("LibVersion = %d, %v", v, err)
	}
	name := testName(t, "adapter")
	cleanupDomain(t, c, name)

	if _, err := c.Domain(ctx, name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Domain before define: %v, want ErrNotFound", err)
	}
	const uuid = "8a0c5f0e-3f39-4a8e-9b5e-0d1b2c3d4e5f"
	if err := c.DefineDomain(ctx, minimalDomainXML(name, uuid, 64)); err != nil {
		t.Fatal(err)
	}
	// Validation is on: an unknown element is refused.
	bad := strings.Replace(minimalDomainXML(name, uuid, 64), "<vcpu>", "<bogus/><vcpu>", 1)
	if err := c.DefineDomain(ctx, bad); err == nil {
		t.Fatal("define of schema-invalid XML succeeded")
	}
	// The reference's bug: a define without UUID over an existing domain fails.
	if err := c.DefineDomain(ctx, minimalDomainXML(name, "", 64)); err == nil {
		t.Fatal("define without uuid over an existing domain succeeded; libvirt changed?")
	}

	d, err := c.Domain(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if d.UUID != uuid || d.Active || !d.Persistent || d.State != StateShutoff || d.Autostart {
		t.Fatalf("after define: %+v", d)
	}
	if !strings.Contains(d.InactiveXML, "<memory unit='KiB'>65536</memory>") {
		t.Fatalf("inactive XML lacks memory: %s", d.InactiveXML)
	}

	if err := c.SetAutostart(ctx, name, true); err != nil {
		t.Fatal(err)
	}
	if d, _ = c.Domain(ctx, name); !d.Autostart {
		t.Fatal("autostart not set")
	}
	all, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range all {
		if x.Name == name {
			found = true
			if !x.Autostart || !x.Persistent || x.UUID != uuid || x.InactiveXML == "" {
				t.Fatalf("Domains entry: %+v", x)
			}
		}
	}
	if !found {
		t.Fatalf("Domains lacks %s", name)
	}
	if err := c.SetAutostart(ctx, name, false); err != nil {
		t.Fatal(err)
	}

	// Start (nothing bootable still runs), redefine while running: only the
	// inactive definition changes.
	if err := c.StartDomain(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := c.DefineDomain(ctx, minimalDomainXML(name, uuid, 96)); err != nil {
		t.Fatal(err)
	}
	d, err = c.Domain(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Active || d.State != StateRunning || d.Autostart {
		t.Fatalf("after start: %+v", d)
	}
	if !strings.Contains(d.LiveXML, "65536") || !strings.Contains(d.InactiveXML, "98304") {
		t.Fatalf("live/inactive memory: live has 65536=%v inactive has 98304=%v",
			strings.Contains(d.LiveXML, "65536"), strings.Contains(d.InactiveXML, "98304"))
	}
	if _, err := c.MemoryStats(ctx, name); err != nil {
		t.Fatalf("MemoryStats: %v", err)
	}
	if err := c.StartDomain(ctx, name); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second start: %v, want ErrInvalid", err)
	}
	if err := c.DestroyDomain(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := c.UndefineDomain(ctx, name, UndefineOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Domain(ctx, name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after undefine: %v, want ErrNotFound", err)
	}
}

func cleanupPool(t *testing.T, c Client, name string) {
	t.Cleanup(func() {
		ctx := context.Background()
		if vs, err := c.Volumes(ctx, name); err == nil {
			for _, v := range vs {
				_ = c.DeleteVolume(ctx, name, v.Name)
			}
		}
		_ = c.StopPool(ctx, name)
		_ = c.UndefinePool(ctx, name)
	})
}

func TestConnPoolAndVolumes(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	c := dialReal(t)
	ctx := context.Background()
	name := testName(t, "pool")
	dir := filepath.Join(t.TempDir(), "pool")
	cleanupPool(t, c, name)

	if _, err := c.Pool(ctx, name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Pool before define: %v", err)
	}
	for _, step := range []func() error{
		func() error { return c.DefineDirPool(ctx, name, dir) },
		func() error { return c.BuildPool(ctx, name) },
		func() error { return c.StartPool(ctx, name) },
		func() error { return c.SetPoolAutostart(ctx, name, true) },
		func() error { return c.RefreshPool(ctx, name) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	p, err := c.Pool(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != "dir" || p.Path != dir || !p.Active || !p.Autostart || !p.Persistent {
		t.Fatalf("pool: %+v", p)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("pool dir not built: %v", err)
	}

	const mib = 1 << 20
	v, err := c.CreateVolume(ctx, name, VolumeSpec{Name: "base.qcow2", Capacity: 8 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if v.Format != "qcow2" || v.Capacity != 8*mib || v.Path != filepath.Join(dir, "base.qcow2") {
		t.Fatalf("volume: %+v", v)
	}
	if _, err := c.CreateVolume(ctx, name, VolumeSpec{Name: "base.qcow2", Capacity: mib}); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if err := c.ResizeVolume(ctx, name, "base.qcow2", 16*mib); err != nil {
		t.Fatal(err)
	}
	if err := c.ResizeVolume(ctx, name, "base.qcow2", 4*mib); !errors.Is(err, ErrShrink) {
		t.Fatalf("shrink: %v, want ErrShrink", err)
	}
	ov, err := c.CreateVolume(ctx, name, VolumeSpec{Name: "overlay.qcow2", Capacity: 32 * mib, BackingPath: v.Path})
	if err != nil {
		t.Fatal(err)
	}
	if ov.BackingPath != v.Path || ov.Capacity != 32*mib {
		t.Fatalf("overlay: %+v", ov)
	}
	vs, err := c.Volumes(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Capacity+vs[1].Capacity != 48*mib {
		t.Fatalf("volumes: %+v", vs)
	}
	if err := c.DeleteVolume(ctx, name, "overlay.qcow2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Volume(ctx, name, "overlay.qcow2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := os.Stat(ov.Path); !os.IsNotExist(err) {
		t.Fatalf("overlay file still there: %v", err)
	}
}
