// Package testutil has helpers shared by integration tests: checks that
// skip a test with a reason when a real part is missing. In CI
// (CI=true) a missing part fails the test instead, because .ci/run
// installs every part and an integration test that skips there is a defect.
package testutil

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// InCI reports whether the tests run under .ci/run.
func InCI() bool { return os.Getenv("CI") == "true" || os.Getenv("DESKVM_REQUIRE_ALL") == "1" }

// Missing skips the test, or fails it in CI.
func Missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("required part missing in CI: %s", what)
	}
	t.Skipf("skipping: %s (run hack/install-deps.sh)", what)
}

// RequiresCommand needs an executable on PATH and returns its path.
func RequiresCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" not on PATH")
	}
	return p
}

// RequiresTesseract needs the tesseract command with English data.
func RequiresTesseract(t testing.TB) string {
	t.Helper()
	p := RequiresCommand(t, "tesseract")
	out, err := exec.Command(p, "--list-langs").CombinedOutput()
	if err != nil || !containsLine(string(out), "eng") {
		Missing(t, "tesseract English language data (tesseract-ocr-eng)")
	}
	return p
}

// RequiresQEMU needs qemu-system-x86_64.
func RequiresQEMU(t testing.TB) string {
	t.Helper()
	return RequiresCommand(t, "qemu-system-x86_64")
}

// RequiresHugepages needs what a VM with 2M hugepages needs on the real
// host: root, a writable 2M pool in sysfs and a mounted hugetlbfs (which
// libvirtd must have seen when it started).
func RequiresHugepages(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root, to size the real 2M hugepage pool")
	}
	if _, err := os.Stat("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"); err != nil {
		Missing(t, "a 2M hugepage pool in sysfs: "+err.Error())
	}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil || !strings.Contains(string(mounts), " hugetlbfs ") {
		Missing(t, "a mounted hugetlbfs (hack/install-deps.sh mounts /dev/hugepages before it starts libvirtd)")
	}
}

// LibvirtURI is the URI integration tests use.
func LibvirtURI() string {
	if u := os.Getenv("DESKVM_TEST_CONNECT"); u != "" {
		return u
	}
	return "qemu:///system"
}

// RequiresLibvirt needs a running libvirtd that answers on LibvirtURI.
func RequiresLibvirt(t testing.TB) string {
	t.Helper()
	virsh := RequiresCommand(t, "virsh")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, virsh, "-c", LibvirtURI(), "version").CombinedOutput(); err != nil {
		Missing(t, "libvirtd not answering on "+LibvirtURI()+": "+string(out))
	}
	return LibvirtURI()
}

func containsLine(s, line string) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '\n' {
			if s[start:i] == line {
				return true
			}
			start = i + 1
		}
	}
	return false
}
