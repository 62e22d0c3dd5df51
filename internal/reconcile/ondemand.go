package reconcile

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

// HugepagesBeforeStart grows the 2M pool by VM name's pages when
// hugepages.onDemand is on (no-op otherwise). When the kernel gives fewer,
// the pool is put back and the error carries both numbers.
func HugepagesBeforeStart(ctx context.Context, host Host, c *config.Config, name string) error {
	need, kib, ok := onDemand(c, name)
	if !ok || need == 0 {
		return nil
	}
	cur, err := host.Hugepages(ctx, kib)
	if err != nil {
		return err
	}
	got, err := host.SetHugepages(ctx, kib, cur+need)
	if err != nil {
		return err
	}
	if got < cur+need {
		_, _ = host.SetHugepages(ctx, kib, cur)
		return fmt.Errorf("hugepages for vm %s: asked the kernel for %d more pages of 2M (%d in all), it allocated %d; free memory or reserve pages at boot",
			name, need, cur+need, got)
	}
	return nil
}

// HugepagesAfterStop gives VM name's pages back when hugepages.onDemand
// is on (no-op otherwise).
func HugepagesAfterStop(ctx context.Context, host Host, c *config.Config, name string) error {
	need, kib, ok := onDemand(c, name)
	if !ok || need == 0 {
		return nil
	}
	cur, err := host.Hugepages(ctx, kib)
	if err != nil {
		return err
	}
	n := uint64(0)
	if cur > need {
		n = cur - need
	}
	_, err = host.SetHugepages(ctx, kib, n)
	return err
}
