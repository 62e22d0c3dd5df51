// Package libvirt is deskvm's edge to libvirtd: a narrow Client interface
// over github.com/digitalocean/go-libvirt (pure Go, no cgo), used by
// reconcile (plan/apply) and by the vm verbs. Conn is the real adapter;
// the in-memory Fake and the Recorder that tests wrap around a Client live
// in internal/testutil/libvirttest, which only tests import.
//
// Objects are addressed by name. Errors carry sentinels (ErrNotFound,
// ErrExists, ErrInvalid, ErrShrink, ErrTimeout) so callers branch without
// knowing libvirt's error numbers.
package libvirt

import (
	"context"
	"errors"
)

// Sentinel errors at the adapter edge. Match them with errors.Is.
var (
	// ErrNotFound: no domain, pool or volume with that name.
	ErrNotFound = errors.New("not found")
	// ErrExists: a domain, pool or volume with that name or UUID already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid: the operation does not fit the object's state (e.g.
	// shutting down a domain that is not running) or the XML was rejected.
	ErrInvalid = errors.New("invalid operation")
	// ErrShrink: a volume resize would make it smaller.
	ErrShrink = errors.New("volume would shrink")
	// ErrTimeout: the call did not finish before its deadline; the
	// connection was dropped and the Client can no longer be used.
	ErrTimeout = errors.New("libvirt call timed out")
)

// DomainState is libvirt's domain state in virsh's words.
type DomainState string

const (
	StateNoState     DomainState = "nostate"
	StateRunning     DomainState = "running"
	StateBlocked     DomainState = "blocked"
	StatePaused      DomainState = "paused"
	StateShutdown    DomainState = "shutdown" // being shut down
	StateShutoff     DomainState = "shutoff"
	StateCrashed     DomainState = "crashed"
	StatePMSuspended DomainState = "pmsuspended"
)

// Domain is what libvirt knows about one domain.
type Domain struct {
	Name string
	UUID string
	// Active means a QEMU process exists (running, paused, …).
	Active bool
	State  DomainState
	// Persistent domains have a definition that survives shutdown.
	Persistent bool
	Autostart  bool
	// InactiveXML is the persistent definition, what the next boot uses
	// (empty for a transient domain). Fetched with the secure flag, so it
	// may hold display passwords: never print it unredacted.
	InactiveXML string
	// LiveXML is the running definition; empty when not Active.
	LiveXML string
}

// UndefineOptions says what happens to a domain's state files.
// The zero value keeps NVRAM and TPM state, which is what a redefine or a
// remove without --delete-disks wants.
type UndefineOptions struct {
	RemoveNVRAM bool
	RemoveTPM   bool
}

// MemoryScope selects what SetMemory changes.
type MemoryScope int

const (
	// MemoryLive changes the running domain's balloon target only.
	MemoryLive MemoryScope = 1 << iota
	// MemoryConfig changes the persistent definition's currentMemory.
	MemoryConfig
)

// Pool is a storage pool.
type Pool struct {
	Name       string
	UUID       string
	Type       string // "dir", …
	Path       string // target path
	Active     bool
	Persistent bool
	Autostart  bool
}

// Volume is a storage volume.
type Volume struct {
	Pool       string
	Name       string
	Path       string
	Format     string // "qcow2", "raw", …
	Capacity   uint64 // bytes
	Allocation uint64 // bytes
	// BackingPath is the backing file of an overlay, empty otherwise.
	BackingPath string
}

// VolumeSpec describes a volume to create.
type VolumeSpec struct {
	Name     string
	Capacity uint64 // bytes
	Format   string // default "qcow2"
	// BackingPath makes the volume an overlay on this file; BackingFormat
	// is its format (default "qcow2").
	BackingPath   string
	BackingFormat string
}

// Client is the narrow view of libvirt that deskvm uses. Every method that
// can block takes ctx first; Conn enforces a per-call deadline as well.
type Client interface {
	// URI is the connection URI (for messages).
	URI() string
	Close() error
	// LibVersion is libvirt's version as major*1e6+minor*1e3+micro.
	LibVersion(ctx context.Context) (uint64, error)

	// Domains lists every domain, persistent or transient, with both XMLs.
	Domains(ctx context.Context) ([]Domain, error)
	// Domain looks one domain up by name (ErrNotFound).
	Domain(ctx context.Context, name string) (Domain, error)
	// DefineDomain defines (or redefines) a persistent domain from XML,
	// asking libvirt to validate it against its schema.
	DefineDomain(ctx context.Context, xml string) error
	UndefineDomain(ctx context.Context, name string, opts UndefineOptions) error
	StartDomain(ctx context.Context, name string) error
	// ShutdownDomain asks the guest to power off (ACPI); it returns at once.
	ShutdownDomain(ctx context.Context, name string) error
	// DestroyDomain powers the domain off immediately.
	DestroyDomain(ctx context.Context, name string) error
	SetAutostart(ctx context.Context, name string, on bool) error
	// MemoryStats returns the balloon statistics in virsh dommemstat's
	// names (actual, unused, available, usable, rss, swap_in, …), values in
	// KiB except the counters (major_fault, minor_fault, last_update).
	MemoryStats(ctx context.Context, name string) (map[string]uint64, error)
	// SetMemory sets the current memory (balloon target) in KiB.
	SetMemory(ctx context.Context, name string, kib uint64, scope MemoryScope) error

	Pools(ctx context.Context) ([]Pool, error)
	Pool(ctx context.Context, name string) (Pool, error)
	// DefineDirPool defines a persistent pool of type dir at path.
	DefineDirPool(ctx context.Context, name, path string) error
	// BuildPool creates the pool's directory.
	BuildPool(ctx context.Context, name string) error
	StartPool(ctx context.Context, name string) error
	SetPoolAutostart(ctx context.Context, name string, on bool) error
	// RefreshPool rescans the pool's directory.
	RefreshPool(ctx context.Context, name string) error
	// UndefinePool removes an inactive pool's definition (not its files).
	UndefinePool(ctx context.Context, name string) error
	// StopPool deactivates a pool (virsh pool-destroy; files stay).
	StopPool(ctx context.Context, name string) error

	Volumes(ctx context.Context, pool string) ([]Volume, error)
	Volume(ctx context.Context, pool, name string) (Volume, error)
	CreateVolume(ctx context.Context, pool string, spec VolumeSpec) (Volume, error)
	// ResizeVolume grows a volume to capacity bytes; smaller is ErrShrink.
	ResizeVolume(ctx context.Context, pool, name string, capacity uint64) error
	DeleteVolume(ctx context.Context, pool, name string) error
	// ResizeDomainDisk grows the disk with target dev (e.g. "vda") of a
	// running domain to bytes, through QEMU (a volume in use cannot be
	// resized from outside).
	ResizeDomainDisk(ctx context.Context, name, dev string, bytes uint64) error
}
