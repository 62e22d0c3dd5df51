package image_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
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
	"golang.org/x/crypto/ssh"
)

// useAsBaseImage applies a config whose Desktop VM has the built image as
// disk.baseImage, against the real libvirtd, checks that the VM's disk is
// an overlay on the image, starts the VM (fresh NVRAM, no cloud-init
// seed) and logs in over SSH through its port forward as user with the
// key keyFile, where it reads want from the output of cmd. It holds the
// shared libvirt test lock.
func useAsBaseImage(t *testing.T, img, user, keyFile, cmd, want string) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	conn, err := libvirt.Dial(ctx, uri, libvirt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer libvirttest.Cleanup(t, conn, prefix, pool)

	vm := prefix + "devbox"
	port := freeTCPPort(t)
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
    portForwards: [{host: %d, guest: 22}]
`, pool, dir, vm, img, port)), 0o644)
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

	// Boot it: the generalized image makes its host keys and machine-id,
	// takes DHCP without a seed, and lets the build's user in.
	out.Reset()
	errb.Reset()
	start := time.Now()
	if code := cli.Main(ctx, []string{"deskvm", "vm", vm, "start", "-f", cfg}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("deskvm vm %s start: exit %d\n%s\n%s", vm, code, out.String(), errb.String())
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cc := &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, Timeout: 20 * time.Second,
		// The host key is made at this first boot: nothing to pin it to.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
	}
	var last error
	for ctx.Err() == nil {
		got, err := sshRun(addr, cc, cmd)
		if err == nil && strings.Contains(got, want) {
			t.Logf("Desktop VM booted from the image and answered SSH after %s: %q", time.Since(start).Round(time.Second), got)
			return
		}
		if err == nil {
			err = fmt.Errorf("output %q does not contain %q", got, want)
		}
		last = err
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
	t.Fatalf("the Desktop VM on the image did not let %s in over SSH at %s: %v", user, addr, last)
}

func sshRun(addr string, cc *ssh.ClientConfig, cmd string) (string, error) {
	c, err := ssh.Dial("tcp", addr, cc)
	if err != nil {
		return "", err
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	b, err := sess.CombinedOutput(cmd)
	return string(b), err
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
