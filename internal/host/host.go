// Package host is what deskvm changes on the VM host besides libvirt: the
// hugepage pool (sized by apply, grown and given back around vm start and
// stop with hugepages.onDemand), the nftables table of display ports and
// the apply lock. reconcile plans and applies libvirt objects and reaches
// the host only through the Host interface; Sys is the real one.
package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Host is the part of the machine deskvm changes besides libvirt: the
// hugepage pool and the firewall table.
type Host interface {
	// Hugepages reports the pool size (nr_hugepages) for a page size.
	Hugepages(ctx context.Context, sizeKiB uint64) (uint64, error)
	// HugepagesAvailable reports the pages of the pool that nobody holds
	// or has reserved: free_hugepages minus resv_hugepages (a running
	// QEMU reserves its pages when it maps them and faults them in later).
	HugepagesAvailable(ctx context.Context, sizeKiB uint64) (uint64, error)
	// SetHugepages asks the kernel for n pages and returns how many it
	// allocated (it may give fewer when memory is short or fragmented).
	SetHugepages(ctx context.Context, sizeKiB, n uint64) (uint64, error)
	// HugepagesAdded is how many pages of the pool deskvm added for VM
	// name's start (hugepages.onDemand) and has not given back yet.
	HugepagesAdded(ctx context.Context, sizeKiB uint64, name string) (uint64, error)
	// SetHugepagesAdded records that number (0 forgets it).
	SetHugepagesAdded(ctx context.Context, sizeKiB uint64, name string, n uint64) error
	// Firewall reads deskvm's nftables table.
	Firewall(ctx context.Context, table string) (FirewallState, error)
	// ApplyFirewall runs an nft script as one transaction.
	ApplyFirewall(ctx context.Context, script string) error
}

// Sys is the real Host: sysfs and the nft command.
type Sys struct {
	// Root is prepended to /sys paths (tests point it at a temp dir).
	Root string
	// NFT is the nft binary (default: "nft" on PATH).
	NFT string
	// Timeout bounds each nft run (default 10 s).
	Timeout time.Duration
	// StateDir keeps the pages each onDemand start added (default
	// DefaultStateDir under Root). It is on tmpfs like the pool itself:
	// both start empty at boot.
	StateDir string
}

// DefaultStateDir is where deskvm keeps state between commands.
const DefaultStateDir = "/run/deskvm"

var _ Host = (*Sys)(nil)

// ErrNoNFT means the nft command is not available.
var ErrNoNFT = errors.New("nft (nftables) is not installed")

func (h *Sys) hugepagesFile(sizeKiB uint64, name string) string {
	return filepath.Join(h.Root, "/sys/kernel/mm/hugepages",
		fmt.Sprintf("hugepages-%dkB", sizeKiB), name)
}

func (h *Sys) readHugepages(sizeKiB uint64, name string) (uint64, error) {
	b, err := os.ReadFile(h.hugepagesFile(sizeKiB, name))
	if err != nil {
		return 0, fmt.Errorf("read hugepage pool (%d KiB pages): %w", sizeKiB, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read hugepage pool (%d KiB pages), %s: %w", sizeKiB, name, err)
	}
	return n, nil
}

// Hugepages implements Host.
func (h *Sys) Hugepages(ctx context.Context, sizeKiB uint64) (uint64, error) {
	return h.readHugepages(sizeKiB, "nr_hugepages")
}

// HugepagesAvailable implements Host.
func (h *Sys) HugepagesAvailable(ctx context.Context, sizeKiB uint64) (uint64, error) {
	free, err := h.readHugepages(sizeKiB, "free_hugepages")
	if err != nil {
		return 0, err
	}
	resv, err := h.readHugepages(sizeKiB, "resv_hugepages")
	if err != nil {
		return 0, err
	}
	if resv > free {
		return 0, nil
	}
	return free - resv, nil
}

func (h *Sys) addedFile(sizeKiB uint64, name string) string {
	dir := h.StateDir
	if dir == "" {
		dir = filepath.Join(h.Root, DefaultStateDir)
	}
	return filepath.Join(dir, "hugepages", fmt.Sprintf("%dkB", sizeKiB), name)
}

// HugepagesAdded implements Host.
func (h *Sys) HugepagesAdded(ctx context.Context, sizeKiB uint64, name string) (uint64, error) {
	b, err := os.ReadFile(h.addedFile(sizeKiB, name))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read hugepages added for vm %s: %w", name, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read hugepages added for vm %s (%s): %w", name, h.addedFile(sizeKiB, name), err)
	}
	return n, nil
}

// SetHugepagesAdded implements Host.
func (h *Sys) SetHugepagesAdded(ctx context.Context, sizeKiB uint64, name string, n uint64) error {
	f := h.addedFile(sizeKiB, name)
	if n == 0 {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("forget hugepages added for vm %s: %w", name, err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return fmt.Errorf("record hugepages added for vm %s: %w", name, err)
	}
	if err := os.WriteFile(f, []byte(strconv.FormatUint(n, 10)+"\n"), 0o644); err != nil {
		return fmt.Errorf("record hugepages added for vm %s: %w", name, err)
	}
	return nil
}

// SetHugepages implements Host. The kernel takes the write even when it
// can only allocate part, so the result is read back.
func (h *Sys) SetHugepages(ctx context.Context, sizeKiB, n uint64) (uint64, error) {
	f := h.hugepagesFile(sizeKiB, "nr_hugepages")
	if err := os.WriteFile(f, []byte(strconv.FormatUint(n, 10)+"\n"), 0o644); err != nil {
		return 0, fmt.Errorf("set hugepage pool to %d pages of %d KiB: %w", n, sizeKiB, err)
	}
	return h.Hugepages(ctx, sizeKiB)
}

func (h *Sys) nft(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	bin := h.NFT
	if bin == "" {
		p, err := exec.LookPath("nft")
		if err != nil {
			return nil, ErrNoNFT
		}
		bin = p
	}
	t := h.Timeout
	if t <= 0 {
		t = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// Firewall implements Host.
func (h *Sys) Firewall(ctx context.Context, table string) (FirewallState, error) {
	out, err := h.nft(ctx, "", "-j", "list", "table", "inet", table)
	if err != nil {
		// A missing table is the normal "nothing opened" state.
		if strings.Contains(err.Error(), "No such file or directory") {
			return FirewallState{}, nil
		}
		return FirewallState{}, fmt.Errorf("read firewall table %s: %w", table, err)
	}
	return ParseFirewallJSON(out)
}

// ApplyFirewall implements Host.
func (h *Sys) ApplyFirewall(ctx context.Context, script string) error {
	if _, err := h.nft(ctx, script, "-f", "-"); err != nil {
		return fmt.Errorf("apply firewall: %w", err)
	}
	return nil
}

// DefaultLockPath is where apply holds its lock.
const DefaultLockPath = "/run/deskvm/apply.lock"

// ErrLocked means another apply holds the lock.
var ErrLocked = errors.New("another deskvm apply is running")

// Lock takes the apply lock (flock, so a killed apply releases it with its
// process). It does not wait: a second apply fails at once with ErrLocked
// and the holder's pid.
func Lock(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("apply lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("apply lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (lock %s held by pid %s)", ErrLocked, path, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("apply lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = f.Truncate(0)
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
