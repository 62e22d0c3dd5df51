package qemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DetectAccel returns "kvm" when KVM works, else "tcg". A /dev/kvm that
// opens is not enough: under some nested hypervisors QEMU aborts when it
// sets up the vCPU ("failed to set MSR"), so QEMU itself is asked to
// bring up a paused KVM machine and quit (about 0.2 s, once per process).
func DetectAccel() string {
	accelOnce.Do(func() { accel = probeAccel() })
	return accel
}

var (
	accelOnce sync.Once
	accel     string
)

func probeAccel() string {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg"
	}
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-nodefaults", "-no-user-config", "-machine", "q35,accel=kvm",
		"-cpu", "host", "-m", "64", "-display", "none", "-S", "-qmp", "stdio")
	cmd.Stdin = strings.NewReader(`{"execute":"qmp_capabilities"}` + "\n" + `{"execute":"quit"}` + "\n")
	if err := cmd.Run(); err != nil {
		return "tcg"
	}
	return "kvm"
}

// FreeLocalPort asks the kernel for a TCP port that is free on
// 127.0.0.1 right now. Someone else can take it before QEMU binds it;
// Start reports that as ErrPortInUse so callers can pick another.
func FreeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free local port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CopyVars makes a VM's own writable UEFI vars file from a template
// (plain, or a secure-boot one with Microsoft's keys enrolled). The
// copy is written beside dst and renamed, so dst never holds half a
// file.
func CopyVars(template, dst string) error {
	in, err := os.Open(template)
	if err != nil {
		return fmt.Errorf("uefi vars template: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("uefi vars: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return fmt.Errorf("uefi vars %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("uefi vars %s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("uefi vars: %w", err)
	}
	return nil
}

// FileSHA256 is the hex sha256 of a small file (a firmware image, say),
// for the manifests that name what a build ran on.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
