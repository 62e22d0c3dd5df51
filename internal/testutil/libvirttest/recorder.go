package libvirttest

import (
	"context"
	"fmt"
	"github.com/deskvm/deskvm/internal/libvirt"
	"sync"
)

// Recorder wraps a Client and records every changing call it passes on
// (whether or not it succeeded), so a test against the real libvirtd can
// assert "this apply changed nothing". Reads pass through unrecorded.
type Recorder struct {
	libvirt.Client
	mu    sync.Mutex
	calls []Call
	// Before, when set, runs before each changing call; a non-nil error is
	// returned instead of making the call.
	Before func(c Call) error
	// After, when set, runs after each changing call with its result.
	After func(c Call, err error)
}

// NewRecorder wraps c.
func NewRecorder(c libvirt.Client) *Recorder { return &Recorder{Client: c} }

// Changes returns the changing calls made so far, in order.
func (r *Recorder) Changes() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

func (r *Recorder) record(method, target, detail string, fn func() error) error {
	c := Call{Method: method, Target: target, Detail: detail}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	if r.Before != nil {
		if err := r.Before(c); err != nil {
			return err
		}
	}
	err := fn()
	if r.After != nil {
		r.After(c, err)
	}
	return err
}

func (r *Recorder) DefineDomain(ctx context.Context, xml string) error {
	var probe struct {
		Name string `xml:"name"`
	}
	_ = xmlUnmarshal(xml, &probe)
	return r.record("DefineDomain", probe.Name, "", func() error { return r.Client.DefineDomain(ctx, xml) })
}

func (r *Recorder) UndefineDomain(ctx context.Context, name string, o libvirt.UndefineOptions) error {
	return r.record("UndefineDomain", name, fmt.Sprintf("%+v", o), func() error { return r.Client.UndefineDomain(ctx, name, o) })
}

func (r *Recorder) StartDomain(ctx context.Context, name string) error {
	return r.record("StartDomain", name, "", func() error { return r.Client.StartDomain(ctx, name) })
}

func (r *Recorder) ShutdownDomain(ctx context.Context, name string) error {
	return r.record("ShutdownDomain", name, "", func() error { return r.Client.ShutdownDomain(ctx, name) })
}

func (r *Recorder) DestroyDomain(ctx context.Context, name string) error {
	return r.record("DestroyDomain", name, "", func() error { return r.Client.DestroyDomain(ctx, name) })
}

func (r *Recorder) SetAutostart(ctx context.Context, name string, on bool) error {
	return r.record("SetAutostart", name, fmt.Sprint(on), func() error { return r.Client.SetAutostart(ctx, name, on) })
}

func (r *Recorder) SetMemory(ctx context.Context, name string, kib uint64, s libvirt.MemoryScope) error {
	return r.record("SetMemory", name, fmt.Sprintf("%d KiB", kib), func() error { return r.Client.SetMemory(ctx, name, kib, s) })
}

func (r *Recorder) DefineDirPool(ctx context.Context, name, path string) error {
	return r.record("DefineDirPool", name, path, func() error { return r.Client.DefineDirPool(ctx, name, path) })
}

func (r *Recorder) BuildPool(ctx context.Context, name string) error {
	return r.record("BuildPool", name, "", func() error { return r.Client.BuildPool(ctx, name) })
}

func (r *Recorder) StartPool(ctx context.Context, name string) error {
	return r.record("StartPool", name, "", func() error { return r.Client.StartPool(ctx, name) })
}

func (r *Recorder) SetPoolAutostart(ctx context.Context, name string, on bool) error {
	return r.record("SetPoolAutostart", name, fmt.Sprint(on), func() error { return r.Client.SetPoolAutostart(ctx, name, on) })
}

func (r *Recorder) UndefinePool(ctx context.Context, name string) error {
	return r.record("UndefinePool", name, "", func() error { return r.Client.UndefinePool(ctx, name) })
}

func (r *Recorder) StopPool(ctx context.Context, name string) error {
	return r.record("StopPool", name, "", func() error { return r.Client.StopPool(ctx, name) })
}

func (r *Recorder) CreateVolume(ctx context.Context, pool string, spec libvirt.VolumeSpec) (libvirt.Volume, error) {
	var v libvirt.Volume
	err := r.record("CreateVolume", pool+"/"+spec.Name, fmt.Sprintf("%d bytes", spec.Capacity), func() (err error) {
		v, err = r.Client.CreateVolume(ctx, pool, spec)
		return err
	})
	return v, err
}

func (r *Recorder) ResizeVolume(ctx context.Context, pool, name string, capacity uint64) error {
	return r.record("ResizeVolume", pool+"/"+name, fmt.Sprintf("%d bytes", capacity), func() error {
		return r.Client.ResizeVolume(ctx, pool, name, capacity)
	})
}

func (r *Recorder) DeleteVolume(ctx context.Context, pool, name string) error {
	return r.record("DeleteVolume", pool+"/"+name, "", func() error { return r.Client.DeleteVolume(ctx, pool, name) })
}

func (r *Recorder) ResizeDomainDisk(ctx context.Context, name, dev string, bytes uint64) error {
	return r.record("ResizeDomainDisk", name, fmt.Sprintf("%s %d bytes", dev, bytes), func() error {
		return r.Client.ResizeDomainDisk(ctx, name, dev, bytes)
	})
}

// Changing reports whether a Client method changes anything in libvirt.
// Recorder and Fake record exactly these.
func Changing(method string) bool {
	switch method {
	case "DefineDomain", "UndefineDomain", "StartDomain", "ShutdownDomain",
		"DestroyDomain", "SetAutostart", "SetMemory",
		"DefineDirPool", "BuildPool", "StartPool", "SetPoolAutostart",
		"UndefinePool", "StopPool",
		"CreateVolume", "ResizeVolume", "DeleteVolume", "ResizeDomainDisk":
		return true
	}
	return false
}
