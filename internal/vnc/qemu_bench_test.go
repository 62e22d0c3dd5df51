package vnc_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/vnc"
	"github.com/deskvm/deskvm/internal/vnc/vnctest"
)

// BenchmarkQEMUFullFrame measures, over loopback TCP to a real QEMU, how
// long a non-incremental request takes to deliver the whole screen, with
// Raw and with ZRLE.
func BenchmarkQEMUFullFrame(b *testing.B) {
	q := vnctest.Start(b, vnctest.Options{TCP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name string
		encs []vnc.Encoding
	}{
		{"raw", []vnc.Encoding{vnc.EncodingRaw, vnc.EncodingDesktopSize, vnc.EncodingQEMUExtendedKey}},
		{"zrle", []vnc.Encoding{vnc.EncodingZRLE, vnc.EncodingRaw, vnc.EncodingDesktopSize, vnc.EncodingQEMUExtendedKey}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := vnc.Dial(ctx, q.Addr, vnc.Options{Encodings: tc.encs})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if _, err := c.WaitFullFrame(ctx); err != nil {
				b.Fatal(err)
			}
			updates, unsub := c.Subscribe()
			defer unsub()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.RequestUpdate(ctx, false); err != nil {
					b.Fatal(err)
				}
				for u := range updates {
					if areaOf(u) >= u.Size.X*u.Size.Y {
						break
					}
				}
			}
		})
	}
}

// BenchmarkQEMUChangeLatency measures how soon a change that does not
// come through VNC reaches the client after the screen was idle: SeaBIOS
// waits at "Press ESC for boot menu.", the key is sent through QEMU's
// monitor (so VNC sees no input), and the clock runs until the menu's
// update arrives. Compared with and without the refresh keep-alive that
// stops QEMU from slowing its screen scans.
func BenchmarkQEMUChangeLatency(b *testing.B) {
	for _, tc := range []struct {
		name      string
		keepAlive time.Duration
	}{
		{"keepalive", 0},
		{"off", -1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			q := vnctest.Start(b, vnctest.Options{TCP: true, BootMenu: time.Minute})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			c, err := vnc.Dial(ctx, q.Addr, vnc.Options{RefreshKeepAlive: tc.keepAlive})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			updates, unsub := c.Subscribe()
			defer unsub()
			var samples []time.Duration
			for i := 0; i < b.N; i++ {
				if i > 0 {
					if _, err := q.Monitor(ctx, "system_reset"); err != nil {
						b.Fatal(err)
					}
				}
				// Let SeaBIOS reach its prompt and the screen go idle.
				quiet := time.NewTimer(3 * time.Second)
			idle:
				for {
					select {
					case u, ok := <-updates:
						if !ok {
							b.Fatal(c.Err())
						}
						if areaOf(u)*100 > u.Size.X*u.Size.Y {
							quiet.Reset(3 * time.Second)
						}
					case <-quiet.C:
						break idle
					}
				}
				start := time.Now()
				if _, err := q.Monitor(ctx, "sendkey esc"); err != nil {
					b.Fatal(err)
				}
				for u := range updates {
					if areaOf(u)*100 > u.Size.X*u.Size.Y {
						break
					}
				}
				samples = append(samples, time.Since(start))
			}
			slices.Sort(samples)
			b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(samples[len(samples)-1].Microseconds())/1000, "max-ms")
		})
	}
}
