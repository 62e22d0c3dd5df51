package windows

import (
	"context"
	"fmt"
	"time"
)

// KeySender is the one QMP call PressAnyKey needs (qemu.QMPClient has it).
type KeySender interface {
	SendKey(ctx context.Context, keys []string, hold time.Duration) error
}

// PressAnyKey answers the Windows CD's "Press any key to boot from CD or
// DVD...", which waits about five seconds once the firmware has started
// the CD's loader: it sends Enter every interval until for has passed
// (the reference pressed nothing, so Setup never started). An Enter that
// arrives after the prompt lands on a Setup screen the answer file skips.
func PressAnyKey(ctx context.Context, k KeySender, interval, total time.Duration) (int, error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	deadline := time.NewTimer(total)
	defer deadline.Stop()
	sent := 0
	for {
		if err := k.SendKey(ctx, []string{"ret"}, 0); err != nil {
			return sent, fmt.Errorf("press any key: %w", err)
		}
		sent++
		select {
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-deadline.C:
			return sent, nil
		case <-tick.C:
		}
	}
}
