package windows

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type recordingKeys struct {
	mu   sync.Mutex
	keys [][]string
	err  error
}

func (r *recordingKeys) SendKey(_ context.Context, keys []string, _ time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, keys)
	return r.err
}

func TestPressAnyKeySendsEnterUntilDone(t *testing.T) {
	r := &recordingKeys{}
	n, err := PressAnyKey(context.Background(), r, 10*time.Millisecond, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// About 100 in a second; at least 3 even on a machine loaded enough
	// to starve the ticker (105 ms once gave 2).
	if n < 3 || n != len(r.keys) {
		t.Fatalf("sent %d (recorded %d), want several", n, len(r.keys))
	}
	for _, k := range r.keys {
		if strings.Join(k, "+") != "ret" {
			t.Fatalf("sent %v, want ret", k)
		}
	}
	r = &recordingKeys{err: errors.New("qmp gone")}
	if _, err := PressAnyKey(context.Background(), r, time.Millisecond, time.Second); err == nil || !strings.Contains(err.Error(), "qmp gone") {
		t.Errorf("a failing send-key is not reported: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := PressAnyKey(ctx, &recordingKeys{}, time.Millisecond, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
