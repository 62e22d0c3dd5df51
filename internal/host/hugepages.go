package host

import (
	"context"
	"fmt"

	"github.com/deskvm/deskvm/internal/config"
)

// hugepages.onDemand is implemented on deskvm's own start/stop path (the
// vm start/stop verbs call these around the libvirt call), not as a
// libvirt hook: a hook runs inside libvirtd under the domain's lock, has
// to be installed as a script, and cannot tell the user why a start failed.

// onDemand reports whether VM name takes its 2M pages at start.
func onDemand(c *config.Config, name string) (pages, sizeKiB uint64, ok bool) {
	if !c.UsesHugepages() || c.Hugepages.OnDemand == nil || !*c.Hugepages.OnDemand {
		return 0, 0, false
	}
	sizeKiB = c.HugepageSizeBytes() / 1024
	if sizeKiB != 2048 {
		return 0, 0, false // 1G pages are reserved at boot
	}
	return uint64(c.HugepagesFor([]string{name})), sizeKiB, true
}

// The pool is sized by what is available, not by counting: a guest that
// powers itself off (or a VM stopped with virsh) leaves its pages in the
// pool, free. Counting up at every start would then grow the pool by one
// VM's worth each time; looking at free minus reserved pages reuses them.
// A stop gives back only what deskvm's starts of that VM added (recorded
// through Host.SetHugepagesAdded), so free pages someone else reserved
// stay in the pool.

// HugepagesBeforeStart makes sure the 2M pool has VM name's pages available
// when hugepages.onDemand is on (no-op otherwise): it grows the pool only
// by what the available pages fall short of, and records what it added.
// When the kernel gives fewer, the pool is put back and the error carries
// the numbers.
func HugepagesBeforeStart(ctx context.Context, host Host, c *config.Config, name string) error {
	need, kib, ok := onDemand(c, name)
	if !ok || need == 0 {
		return nil
	}
	avail, err := host.HugepagesAvailable(ctx, kib)
	if err != nil {
		return err
	}
	if avail >= need {
		return nil
	}
	cur, err := host.Hugepages(ctx, kib)
	if err != nil {
		return err
	}
	more := need - avail
	got, err := host.SetHugepages(ctx, kib, cur+more)
	if err != nil {
		return err
	}
	if got < cur+more {
		_, _ = host.SetHugepages(ctx, kib, cur)
		return fmt.Errorf("hugepages for vm %s: it needs %d pages of 2M and %d are free; asked the kernel for %d more (%d in all), it allocated %d; free memory or reserve pages at boot",
			name, need, avail, more, cur+more, got)
	}
	added, err := host.HugepagesAdded(ctx, kib, name)
	if err != nil {
		return err
	}
	return host.SetHugepagesAdded(ctx, kib, name, min(added+more, need))
}

// HugepagesAfterStop gives back the pages deskvm's starts of VM name added
// when hugepages.onDemand is on (no-op otherwise), as far as they are
// available: pages another VM holds or has reserved stay.
func HugepagesAfterStop(ctx context.Context, host Host, c *config.Config, name string) error {
	_, kib, ok := onDemand(c, name)
	if !ok {
		return nil
	}
	added, err := host.HugepagesAdded(ctx, kib, name)
	if err != nil || added == 0 {
		return err
	}
	avail, err := host.HugepagesAvailable(ctx, kib)
	if err != nil {
		return err
	}
	cur, err := host.Hugepages(ctx, kib)
	if err != nil {
		return err
	}
	give := min(added, avail, cur)
	if give > 0 {
		if _, err := host.SetHugepages(ctx, kib, cur-give); err != nil {
			return err
		}
	}
	return host.SetHugepagesAdded(ctx, kib, name, added-give)
}
