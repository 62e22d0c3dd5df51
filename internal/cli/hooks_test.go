package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil/libvirttest"
)

// Test knobs of the cli tests. They live in a _test.go file so that the
// deskvm binary carries neither the hooks nor their variable names
// (hack/test.sh checks that bin/deskvm has no DESKVM_TEST string).
const (
	// envRecord names a file to which every changing libvirt call is
	// appended, one per line (tests assert "apply changed nothing").
	envRecord = "DESKVM_TEST_RECORD"
	// envKillAfter is METHOD:N: the process SIGKILLs itself right after
	// the Nth successful call of that libvirt method (tests of an apply
	// killed half way; the process is this test binary run as deskvm by
	// TestHelperDeskvm).
	envKillAfter = "DESKVM_TEST_KILL_AFTER"
)

func init() { wrapLibvirt = testHooks }

// testHooks wraps the connection for the test knobs (envRecord,
// envKillAfter); without them it is the connection itself.
func testHooks(c libvirt.Client) (libvirt.Client, func()) {
	rec, kill := os.Getenv(envRecord), os.Getenv(envKillAfter)
	if rec == "" && kill == "" {
		return c, nil
	}
	r := libvirttest.NewRecorder(c)
	var killMethod string
	killAt := 0
	if m, n, ok := strings.Cut(kill, ":"); ok {
		killMethod = m
		killAt, _ = strconv.Atoi(n)
	}
	count := 0
	var f *os.File
	if rec != "" {
		f, _ = os.OpenFile(rec, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	}
	r.After = func(call libvirttest.Call, err error) {
		if f != nil {
			fmt.Fprintln(f, call.String())
			f.Sync()
		}
		if err == nil && call.Method == killMethod {
			count++
			if count == killAt {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Minute) // the signal is on its way
			}
		}
	}
	return r, func() {
		if f != nil {
			f.Close()
		}
	}
}
