// Package libvirttest is the test support around internal/libvirt: Fake,
// an in-memory libvirt.Client for unit tests; Recorder, a wrapper that
// records every changing call (tests against the real libvirtd assert
// "this changed nothing"); and Cleanup, which removes what integration
// tests made in a real libvirtd. Only tests import it, so none of it is
// in the deskvm binary (hack/test.sh checks). It lives apart from testutil
// because internal/libvirt's own tests import testutil, and this package
// needs internal/libvirt.
package libvirttest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/libvirt"
)

// TestPrefix starts the name of every domain and pool a test makes, so
// that Cleanup can never touch a real VM.
const TestPrefix = "deskvm-test-"

// Cleaner is what Cleanup needs from a connection; *libvirt.Conn has it.
type Cleaner interface {
	Domains(ctx context.Context) ([]libvirt.Domain, error)
	DestroyDomain(ctx context.Context, name string) error
	UndefineDomain(ctx context.Context, name string, opts libvirt.UndefineOptions) error
	Pool(ctx context.Context, name string) (libvirt.Pool, error)
	Volumes(ctx context.Context, pool string) ([]libvirt.Volume, error)
	DeleteVolume(ctx context.Context, pool, name string) error
	StopPool(ctx context.Context, name string) error
	UndefinePool(ctx context.Context, name string) error
}

// Cleanup removes every domain whose name starts with prefix (powered
// off, undefined with its NVRAM and TPM state), then each named pool with
// all its volumes. Call it from t.Cleanup so it runs after a failure too.
// prefix and pools must start with TestPrefix. Whatever cannot be removed
// fails the test: a leftover domain or pool would get in the way of the
// next run.
func Cleanup(t testing.TB, c Cleaner, prefix string, pools ...string) {
	t.Helper()
	for _, n := range append([]string{prefix}, pools...) {
		if !strings.HasPrefix(n, TestPrefix) || len(n) == len(TestPrefix) {
			t.Errorf("libvirt cleanup: %q does not start with %q and more; nothing removed", n, TestPrefix)
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fail := func(what string, err error) {
		t.Helper()
		// Gone already (it stopped or was removed by the test) is fine.
		if err != nil && !errors.Is(err, libvirt.ErrNotFound) {
			t.Errorf("libvirt cleanup: %s: %v", what, err)
		}
	}
	doms, err := c.Domains(ctx)
	fail("list domains", err)
	for _, d := range doms {
		if !strings.HasPrefix(d.Name, prefix) {
			continue
		}
		if d.Active {
			if err := c.DestroyDomain(ctx, d.Name); !errors.Is(err, libvirt.ErrInvalid) {
				fail("destroy domain "+d.Name, err) // ErrInvalid: it just stopped
			}
		}
		if d.Persistent {
			fail("undefine domain "+d.Name, c.UndefineDomain(ctx, d.Name, libvirt.UndefineOptions{RemoveNVRAM: true, RemoveTPM: true}))
		}
	}
	for _, name := range pools {
		p, err := c.Pool(ctx, name)
		if err != nil {
			fail("pool "+name, err)
			continue
		}
		if p.Active {
			vs, err := c.Volumes(ctx, name)
			fail("list volumes of pool "+name, err)
			for _, v := range vs {
				fail("delete volume "+name+"/"+v.Name, c.DeleteVolume(ctx, name, v.Name))
			}
			fail("stop pool "+name, c.StopPool(ctx, name))
		}
		if p.Persistent {
			fail("undefine pool "+name, c.UndefinePool(ctx, name))
		}
	}
}
