package windows

import (
	"context"
	"os"
	"os/exec"
	"time"
)

func runCmd(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

// waitSocket waits until swtpm has made its control socket (a test
// connection would count as QEMU's, and swtpm --terminate would exit
// when it closes).
func waitSocket(ctx context.Context, path string) error {
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
