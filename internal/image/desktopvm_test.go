package image_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/cli"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/testutil/libvirttest"
)

// useAsBaseImage applies a config whose Desktop VM has the built image as
// disk.baseImage, against the real libvirtd, and checks that the VM's disk
// is an overlay on the image. It holds the shared libvirt test lock.
func useAsBaseImage(t *testing.T, img string) {
	t.Helper()
	uri := testutil.RequiresLibvirt(t)
	lock, err := os.OpenFile("/tmp/deskvm-libvirt.lock", os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	prefix, pool := "deskvm-test-img"+id+"-", "deskvm-test-imgpool-"+id
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		os.Chmod(d, 0o755)
	}
	t.Setenv("DESKVM_LOCK_FILE", filepath.Join(dir, "apply.lock"))
	t.Setenv("DESKVM_FIREWALL_TABLE", "deskvm_test_"+id)
	t.Setenv("DESKVM_DOMAIN_PREFIX", prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, err := libvirt.Dial(ctx, uri, libvirt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer libvirttest.Cleanup(t, conn, prefix, pool)

	vm := prefix + "devbox"
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`accelerator: tcg
defaultStoragePool: %s
defaultStoragePath: %s/pool
vms:
  %s:
    memory: 1G
    vcpus: 1
    diskSize: 8G
    firmware: uefi
    network: user
    display: none
    disk: {baseImage: %s}
`, pool, dir, vm, img)), 0o644)
	var out, errb bytes.Buffer
	if code := cli.Main(ctx, []string{"deskvm", "apply", "-f", cfg}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("deskvm apply: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	vol, err := conn.Volume(ctx, pool, vm+".qcow2")
	if err != nil {
		t.Fatal(err)
	}
	if vol.BackingPath != img || vol.Capacity != 8<<30 {
		t.Errorf("the VM's disk is not an 8G overlay on the image: %+v", vol)
	}
	t.Logf("Desktop VM %s defined with its disk on %s:\n%s", vm, img, out.String())
}
