package reconcile

import "testing"

func TestBeyondLoopback(t *testing.T) {
	for listen, want := range map[string]bool{"": false, "127.0.0.1": false, "127.1.2.3": false, "::1": false,
		"localhost": false, "0.0.0.0": true, "::": true, "192.168.1.5": true} {
		if got := beyondLoopback(listen); got != want {
			t.Errorf("beyondLoopback(%q) = %v", listen, got)
		}
	}
}
