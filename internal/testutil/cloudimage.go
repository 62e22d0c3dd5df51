package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Facts about the image DebianCloudImage returns, for tests that boot it.
const (
	// DebianCloudImageVirtualSize is the disk size the image declares.
	DebianCloudImageVirtualSize = 2 << 30
)

// debianCloudImageBuild caches the build result for the test process; the
// script caches on disk across processes and serialises concurrent runs.
var debianCloudImageBuild struct {
	sync.Mutex
	done bool
	path string
	err  error
}

// DebianCloudImage returns the path of a real Debian 12 cloud image in
// qcow2 format, made by hack/cloudimage/build.sh (mmdebstrap: the cloud
// kernel, cloud-init 22.4, openssh-server, sudo, netplan with
// systemd-networkd, growpart). It is the kind of image a user downloads as
// debian-12-genericcloud-amd64.qcow2:
//
//   - firmware UEFI (OVMF) or BIOS (SeaBIOS): GPT with an ESP holding
//     GRUB as BOOTX64.EFI, and GRUB's core.img in the BIOS boot partition
//     with boot.img in the MBR;
//   - no users, no SSH host keys, an empty machine-id: cloud-init sets up
//     everything on the first boot from a NoCloud seed, which must be a
//     virtio disk (the cloud kernel has no AHCI) — see package
//     internal/image/seed; the NIC must be virtio-net;
//   - serial console on ttyS0; 2 GiB virtual size, ~150 MB on disk.
//
// The image is built when missing (1.5 to 4 minutes, needs root and the
// Debian mirror through apt) and cached outside the repository, in
// $DESKVM_CLOUDIMAGE_DIR or /var/cache/deskvm-test/cloudimage; a change of
// the script builds a new one. The file is shared: never write to it —
// boot an overlay (CloudImageOverlay) or copy it.
func DebianCloudImage(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "building the Debian cloud image needs root (mmdebstrap, file ownership)")
	}
	for _, c := range []string{"mmdebstrap", "mkfs.ext4", "mkfs.vfat", "mmd", "mcopy", "sgdisk", "grub-mkimage", "qemu-img", "flock"} {
		RequiresCommand(t, c)
	}
	debianCloudImageBuild.Lock()
	defer debianCloudImageBuild.Unlock()
	if !debianCloudImageBuild.done {
		debianCloudImageBuild.path, debianCloudImageBuild.err = buildDebianCloudImage()
		debianCloudImageBuild.done = true
	}
	if debianCloudImageBuild.err != nil {
		Missing(t, debianCloudImageBuild.err.Error())
	}
	return debianCloudImageBuild.path
}

func buildDebianCloudImage() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	script := filepath.Join(root, "hack", "cloudimage", "build.sh")
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, script)
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("debian cloud image build (%s) failed: %w\n%s", script, err, tail(stderr.String(), 3000))
	}
	path := strings.TrimSpace(string(stdout))
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		return "", fmt.Errorf("debian cloud image build (%s) printed %q, which is not an image", script, path)
	}
	return path, nil
}

// CloudImageOverlay creates a qcow2 overlay backed by base in the test's
// temporary directory and returns its path: a disk to boot and change
// without touching the shared base image.
func CloudImageOverlay(t testing.TB, base string) string {
	t.Helper()
	qemuImg := RequiresCommand(t, "qemu-img")
	path := filepath.Join(t.TempDir(), "disk.qcow2")
	out, err := exec.Command(qemuImg, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, path).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img create overlay of %s: %v\n%s", base, err, out)
	}
	return path
}
