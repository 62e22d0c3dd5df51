package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/vmctl"
)

// vmGuests is two tiny guests applied through deskvm apply and started
// with deskvm vm NAME start: box (user networking with an SSH port
// forward, VNC, balloon statistics every 2 s) and deaf (booted with
// tinyguest.noacpi=1, so it ignores the ACPI power button).
type vmGuests struct {
	*rcEnv
	cfg     string
	box     string
	deaf    string
	files   testutil.TinyGuestFiles
	keyFile string
	sshPort int
}

const vmTestConfig = `accelerator: tcg
defaultStoragePool: ${POOL}
defaultStoragePath: ${DIR}/pool
vms:
  ${P}box:
    memory: 256M
    vcpus: 1
    diskSize: 16M
    firmware: bios
    network: user
    portForwards: [{host: ${PORT}, guest: 22}]
    display: vnc
    sshUser: root
    memballoon: {statsInterval: 2}
    boot: {kernel: ${KERNEL}, initrd: ${INITRD}, cmdline: "console=ttyS0 panic=-1"}
  ${P}deaf:
    memory: 160M
    vcpus: 1
    diskSize: 16M
    firmware: bios
    network: none
    display: none
    boot: {kernel: ${KERNEL}, initrd: ${INITRD}, cmdline: "console=ttyS0 panic=-1 tinyguest.noacpi=1"}
`

func newVMGuests(t *testing.T) *vmGuests {
	t.Helper()
	e := newRCEnv(t)
	files := testutil.TinyGuest(t).ForLibvirt(t)
	v := &vmGuests{rcEnv: e, box: e.prefix + "box", deaf: e.prefix + "deaf", files: files, sshPort: testutil.FreeTCPPort(t)}
	vars := map[string]string{"P": e.prefix, "POOL": e.pool, "DIR": e.dir, "PORT": fmt.Sprint(v.sshPort),
		"KERNEL": files.Kernel, "INITRD": files.Initrd}
	v.cfg = filepath.Join(e.dir, "vm.yaml")
	if err := os.WriteFile(v.cfg, []byte(os.Expand(vmTestConfig, func(k string) string { return vars[k] })), 0o644); err != nil {
		t.Fatal(err)
	}
	// ssh refuses a key that others can read.
	key, err := os.ReadFile(files.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	v.keyFile = filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(v.keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range []string{v.box, v.deaf} {
				if d, err := e.conn.Domain(context.Background(), n); err == nil {
					t.Logf("domain %s: state %s", n, d.State)
				}
			}
		}
	})
	return v
}

// vm runs deskvm vm NAME -f CFG ARGS: the global flag between the name and
// the verb, as users may put it (and not after a "--" in ARGS).
func (v *vmGuests) vm(name string, args ...string) result {
	return v.run(append([]string{"vm", name, "-f", v.cfg}, args...)...)
}

func (v *vmGuests) mustVM(name string, args ...string) result {
	v.t.Helper()
	r := v.vm(name, args...)
	if r.code != 0 {
		v.t.Fatalf("deskvm vm %s %s: exit %d\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func (v *vmGuests) sshArgs(cmd ...string) []string {
	return append([]string{"ssh", "-v", "--", "-i", v.keyFile, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"}, cmd...)
}

// waitFor retries fn every interval until it succeeds or timeout passes.
func waitFor(t *testing.T, timeout, interval time.Duration, what string, fn func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := fn()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		case <-tick.C:
		}
	}
}

func memstatsJSON(t *testing.T, v *vmGuests) vmctl.MemStatsJSON {
	t.Helper()
	r := v.mustVM(v.box, "memstats", "--output", "json")
	var m vmctl.MemStatsJSON
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("memstats json: %v\n%s", err, r.stdout)
	}
	return m
}

// TestVMVerbsTinyGuest runs every verb against two real tiny guests under
// libvirt (TCG), booted once each.
func TestVMVerbsTinyGuest(t *testing.T) {
	v := newVMGuests(t) // skips in -short mode
	testutil.RequiresCommand(t, "ssh")
	testutil.RequiresCommand(t, "virsh")
	goTool := testutil.RequiresCommand(t, "go")
	ctx := context.Background()

	// The built binary, for argv[0] dispatch and the console's terminal;
	// built while the guests boot.
	binDir := t.TempDir()
	bin := filepath.Join(binDir, "deskvm")
	built := make(chan error, 1)
	go func() {
		out, err := exec.Command(goTool, "build", "-o", bin, "../../cmd/deskvm").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("go build: %v\n%s", err, out)
		}
		built <- err
	}()

	v.mustRun("apply", "-f", v.cfg)
	started := time.Now()
	for _, n := range []string{v.box, v.deaf} {
		if r := v.mustVM(n, "start"); !strings.Contains(r.stdout, "started") {
			t.Fatalf("start %s: %q", n, r.stdout)
		}
	}
	if r := v.mustVM(v.box, "start"); !strings.Contains(r.stdout, "already running") {
		t.Errorf("second start: %q", r.stdout)
	}

	t.Run("status running", func(t *testing.T) {
		r := v.mustVM(v.box, "status")
		for _, want := range []string{"state:            running", "max 256 MiB", "vcpus:            1 (not pinned)", "autostart:        no", "pending restart:  no", "vnc://127.0.0.1:59"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("status lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("ssh uname", func(t *testing.T) {
		// The agent starts with the SSH server. Before the guest is up,
		// QEMU's user networking accepts a connection and holds it, so
		// an early ssh would only hang.
		waitFor(t, 3*time.Minute, time.Second, "guest agent of box", func() error {
			_, err := v.conn.InterfaceAddresses(ctx, v.box, libvirt.AddressesFromAgent)
			return err
		})
		var r result
		waitFor(t, time.Minute, 2*time.Second, "ssh through the guest agent's address", func() error {
			r = v.vm(v.box, v.sshArgs("uname", "-r")...)
			if r.code != 0 {
				return fmt.Errorf("exit %d: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "guest agent: 10.0.2.15") {
				return fmt.Errorf("not through the agent yet: %s", r.stderr)
			}
			return nil
		})
		t.Logf("boot to ssh through deskvm: %s", time.Since(started).Round(100*time.Millisecond))
		if got := strings.TrimSpace(r.stdout); got != v.files.KernelVersion {
			t.Errorf("ssh -- uname -r = %q, want %q", got, v.files.KernelVersion)
		}
		want := fmt.Sprintf("ssh to 127.0.0.1:%d (guest agent: 10.0.2.15", v.sshPort)
		if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "QEMU user networking") {
			t.Errorf("ssh -v should say it mapped the agent's 10.0.2.15 to the forward (%q):\n%s", want, r.stderr)
		}
		// The user came from sshUser: root; a wrong --user fails.
		if r := v.vm(v.box, append([]string{"ssh", "--user", "nobody-here"}, v.sshArgs("true")[1:]...)...); r.code == 0 {
			t.Errorf("ssh --user nobody-here succeeded")
		}
	})

	t.Run("memstats", func(t *testing.T) {
		var m vmctl.MemStatsJSON
		waitFor(t, time.Minute, time.Second, "balloon statistics from the guest", func() error {
			m = memstatsJSON(t, v)
			for _, k := range []string{"actual", "unused", "usable", "rss"} {
				if m.Bytes[k] == 0 {
					return fmt.Errorf("%s is 0 or missing: %+v", k, m)
				}
			}
			return nil
		})
		if m.Bytes["actual"] != 256<<20 || m.StatsPeriod != 2 || m.LastUpdate == "" {
			t.Errorf("memstats: %+v", m)
		}
		r := v.mustVM(v.box, "memstats")
		for _, want := range []string{"actual", "unused", "usable", "rss", "swap_in", "last_update"} {
			if !strings.Contains(r.stdout, "\n"+want+" ") && !strings.HasPrefix(r.stdout, want+" ") {
				t.Errorf("memstats text lacks %q:\n%s", want, r.stdout)
			}
		}
		if !strings.Contains(strings.SplitN(r.stdout, "\n", 2)[0], "256 MiB") {
			t.Errorf("memstats: actual is not 256 MiB:\n%s", r.stdout)
		}
	})

	t.Run("setmem", func(t *testing.T) {
		r := v.mustVM(v.box, "setmem", "192M")
		if !strings.Contains(r.stdout, "256 MiB → 192 MiB") {
			t.Errorf("setmem output: %q", r.stdout)
		}
		set := time.Now()
		waitFor(t, 30*time.Second, 500*time.Millisecond, "actual follows setmem", func() error {
			if a := memstatsJSON(t, v).Bytes["actual"]; a != 192<<20 {
				return fmt.Errorf("actual %d", a)
			}
			return nil
		})
		t.Logf("balloon reached 192 MiB in %s", time.Since(set).Round(100*time.Millisecond))

		// libvirt's live XML follows the balloon's change events, which
		// QEMU sends at most once a second: let it settle first.
		waitFor(t, 10*time.Second, 500*time.Millisecond, "live XML follows the balloon", func() error {
			if info, err := vmctl.Inspect(v.domain("box").LiveXML); err != nil || info.CurrentMemoryKiB != 192<<10 {
				return fmt.Errorf("currentMemory %d KiB (%v)", info.CurrentMemoryKiB, err)
			}
			return nil
		})

		r = v.vm(v.box, "setmem", "512M")
		if r.code == 0 || !strings.Contains(r.stderr, "above the maximum memory") || !strings.Contains(r.stderr, "nothing changed") {
			t.Errorf("setmem above max: exit %d, %q", r.code, r.stderr)
		}
		d := v.domain("box")
		if info, err := vmctl.Inspect(d.LiveXML); err != nil || info.CurrentMemoryKiB != 192<<10 {
			t.Errorf("after a refused setmem the target is %d KiB (%v), want 192 MiB", info.CurrentMemoryKiB, err)
		}
		if a := memstatsJSON(t, v).Bytes["actual"]; a != 192<<20 {
			t.Errorf("after a refused setmem actual is %d", a)
		}
	})

	if err := <-built; err != nil {
		t.Fatal(err)
	}

	t.Run("console", func(t *testing.T) {
		out, err := consoleLoginPrompt(t, bin, v.cfg, v.box)
		if err != nil {
			t.Fatalf("%v\nconsole output:\n%s", err, out)
		}
		if !strings.Contains(out, "Escape character is ^]") || !strings.Contains(out, "tinyguest login:") {
			t.Errorf("console output:\n%s", out)
		}
	})

	t.Run("view", func(t *testing.T) {
		// virt-viewer on a virtual X server: view must hand it the VM,
		// and QEMU must then see it as a client of box's VNC display.
		testutil.RequiresCommand(t, "virt-viewer")
		display := startXvfb(t, testutil.RequiresCommand(t, "Xvfb"))
		virsh := testutil.RequiresCommand(t, "virsh")
		vncClients := func() string {
			out, err := exec.Command(virsh, "-c", testutil.LibvirtURI(), "qemu-monitor-command", v.box, "--hmp", "info vnc").CombinedOutput()
			if err != nil {
				t.Fatalf("info vnc: %v\n%s", err, out)
			}
			var clients []string
			for _, l := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "Client:") {
					clients = append(clients, strings.TrimSpace(l))
				}
			}
			return strings.Join(clients, "; ")
		}
		if c := vncClients(); c != "" {
			t.Fatalf("box has VNC clients before view: %s", c)
		}
		// Output to a file: read while deskvm and the viewer still write.
		outf, err := os.Create(filepath.Join(t.TempDir(), "view.out"))
		if err != nil {
			t.Fatal(err)
		}
		defer outf.Close()
		output := func() string { b, _ := os.ReadFile(outf.Name()); return string(b) }
		cmd := exec.Command(bin, "vm", v.box, "view", "-f", v.cfg, "-v")
		cmd.Env = append(os.Environ(), "DISPLAY="+display)
		cmd.Stdout, cmd.Stderr = outf, outf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{}) // closed once deskvm has exited
		var waitErr error
		go func() { waitErr = cmd.Wait(); close(done) }()
		stop := func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
			}
		}
		defer stop()
		waitFor(t, time.Minute, 500*time.Millisecond, "virt-viewer connected to box's VNC display", func() error {
			select {
			case <-done:
				return fmt.Errorf("deskvm vm view exited (%v; X server %s answers: %v):\n%s",
					waitErr, display, x11Hello("/tmp/.X11-unix/X"+strings.TrimPrefix(display, ":")), output())
			default:
			}
			if vncClients() == "" {
				return fmt.Errorf("no VNC client yet")
			}
			return nil
		})
		if out := output(); !strings.Contains(out, "virt-viewer") {
			t.Errorf("view -v does not name the viewer it runs:\n%s", out)
		}
		stop()
		waitFor(t, 20*time.Second, 500*time.Millisecond, "the client gone with the viewer", func() error {
			if c := vncClients(); c != "" {
				return fmt.Errorf("still: %s", c)
			}
			return nil
		})
	})

	t.Run("vm-NAME link", func(t *testing.T) {
		link := filepath.Join(t.TempDir(), "vm-"+v.box)
		if err := os.Symlink(bin, link); err != nil {
			t.Fatal(err)
		}
		run := func(argv ...string) (string, string, int) {
			var out, errb bytes.Buffer
			c := exec.Command(argv[0], argv[1:]...)
			c.Stdout, c.Stderr = &out, &errb
			err := c.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return out.String(), errb.String(), code
		}
		// The balloon may still settle between two reads; same output
		// within three tries.
		var viaLink, direct string
		for i := 0; i < 3; i++ {
			var code1, code2 int
			viaLink, _, code1 = run(link, "status", "-f", v.cfg)
			direct, _, code2 = run(bin, "vm", v.box, "status", "-f", v.cfg)
			if code1 != 0 || code2 != 0 {
				t.Fatalf("exit %d / %d", code1, code2)
			}
			if viaLink == direct {
				break
			}
		}
		if viaLink != direct || !strings.Contains(viaLink, "running") {
			t.Errorf("vm-NAME status:\n%s\ndeskvm vm NAME status:\n%s", viaLink, direct)
		}
		_, stderr, code := run(link, "fly", "-f", v.cfg)
		if code != 2 || !strings.Contains(stderr, "unknown verb \"fly\"") || !strings.Contains(stderr, "start, stop, force-stop, status") {
			t.Errorf("vm-NAME fly: exit %d, %q", code, stderr)
		}
		// Completion through the link completes the verbs.
		out, _, _ := run(link, "__complete", "st")
		if !strings.Contains(out, "start") || !strings.Contains(out, "status") || strings.Contains(out, "ssh") {
			t.Errorf("vm-NAME __complete st:\n%s", out)
		}
	})

	t.Run("unknown VM", func(t *testing.T) {
		r := v.vm(v.prefix+"nosuch", "status")
		if r.code != 2 || !strings.Contains(r.stderr, "unknown VM") || !strings.Contains(r.stderr, v.box) || !strings.Contains(r.stderr, v.deaf) {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	})

	t.Run("list json", func(t *testing.T) {
		r := v.mustRun("list", "--output", "json", "-f", v.cfg)
		var rows []listRow
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
			t.Fatalf("list json: %v\n%s", err, r.stdout)
		}
		if len(rows) != 2 {
			t.Fatalf("want 2 rows, got %+v", rows)
		}
		for _, row := range rows {
			d, err := v.conn.Domain(ctx, row.Name)
			if err != nil {
				t.Fatal(err)
			}
			st, _, _ := vmctl.StatusOf(d)
			if row.State != string(d.State) || row.Autostart != d.Autostart || row.VCPUs != st.VCPUs ||
				row.MaxMemory != st.MaxMemory || row.CurrentMemory != st.CurrentMemory || !row.Managed || !row.InConfig {
				t.Errorf("list row %+v, libvirt says state %s autostart %v status %+v", row, d.State, d.Autostart, st)
			}
		}
		if rows[0].Name != v.box || rows[0].CurrentMemory != 192<<20 || rows[0].State != "running" {
			t.Errorf("box row: %+v", rows[0])
		}
	})

	t.Run("pending restart", func(t *testing.T) {
		// A second vCPU in the config, applied while box runs: the new
		// definition waits for the next boot.
		b, err := os.ReadFile(v.cfg)
		if err != nil {
			t.Fatal(err)
		}
		changed := filepath.Join(v.dir, "vm-2cpu.yaml")
		if err := os.WriteFile(changed, bytes.Replace(b, []byte("memory: 256M\n    vcpus: 1"), []byte("memory: 256M\n    vcpus: 2"), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		v.mustRun("apply", "-f", changed)
		r := v.mustRun("vm", v.box, "status", "-f", changed)
		if !strings.Contains(r.stdout, "pending restart:  yes") || !strings.Contains(r.stdout, "vcpus:            1 ") {
			t.Errorf("status after a redefine of the running VM:\n%s", r.stdout)
		}
		r = v.mustRun("list", "-f", changed, "--output", "json")
		var rows []listRow
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 2 || !rows[0].PendingRestart || rows[1].PendingRestart {
			t.Errorf("list after a redefine (%v): %s", err, r.stdout)
		}
	})

	t.Run("stop by ACPI", func(t *testing.T) {
		r := v.mustVM(v.box, "stop", "--timeout", "60s")
		if !strings.Contains(r.stdout, "powered off") {
			t.Errorf("stop: %q", r.stdout)
		}
		if d := v.domain("box"); d.Active {
			t.Errorf("box still %s after stop", d.State)
		}
		if r := v.mustVM(v.box, "status"); !strings.Contains(r.stdout, "shutoff") {
			t.Errorf("status after stop:\n%s", r.stdout)
		}
	})

	t.Run("force-stop a guest that ignores ACPI", func(t *testing.T) {
		// Only a booted guest can ignore the button meaningfully: wait
		// for its agent.
		waitFor(t, 3*time.Minute, 2*time.Second, "deaf guest's agent", func() error {
			_, err := v.conn.InterfaceAddresses(ctx, v.deaf, libvirt.AddressesFromAgent)
			return err
		})
		r := v.vm(v.deaf, "stop", "--timeout", "5s")
		if r.code != 1 || !strings.Contains(r.stderr, "ignored") {
			t.Errorf("stop of an ACPI-deaf guest: exit %d, %q", r.code, r.stderr)
		}
		if d := v.domain("deaf"); !d.Active {
			t.Fatalf("deaf guest went off by ACPI")
		}
		r = v.mustVM(v.deaf, "force-stop")
		if d := v.domain("deaf"); d.Active {
			t.Errorf("deaf guest still %s after force-stop (%q)", d.State, r.stdout)
		}
	})
}

// consoleLoginPrompt runs "deskvm vm NAME console" on a new terminal,
// presses Enter until the guest's getty prints its login prompt, then
// leaves with Ctrl+]. It returns what the terminal showed.
func consoleLoginPrompt(t *testing.T, bin, cfg, name string) (string, error) {
	master, slave, err := openPTY()
	if err != nil {
		return "", err
	}
	defer master.Close()
	cmd := exec.Command(bin, "vm", name, "console", "--force", "-f", cfg)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		slave.Close()
		return "", err
	}
	slave.Close()
	waitDone := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(waitDone) }()
	defer func() {
		select {
		case <-waitDone:
		default:
			cmd.Process.Kill()
			<-waitDone
		}
	}()

	var mu sync.Mutex
	var out bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	text := func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for !strings.Contains(text(), "login:") {
		select {
		case <-deadline:
			return text(), fmt.Errorf("no login prompt on the console")
		case <-waitDone:
			return text(), fmt.Errorf("console exited: %v", waitErr)
		case <-tick.C:
			master.Write([]byte("\r"))
		}
	}
	// virsh switches the terminal to raw mode with TCSAFLUSH, which drops
	// input typed before; press Ctrl+] until it leaves.
	master.Write([]byte{0x1d})
	leave := time.After(15 * time.Second)
	for {
		select {
		case <-waitDone:
			if waitErr != nil {
				return text(), fmt.Errorf("console exit after Ctrl+]: %v", waitErr)
			}
			return text(), nil
		case <-leave:
			return text(), fmt.Errorf("console did not end on Ctrl+]")
		case <-tick.C:
			master.Write([]byte{0x1d})
		}
	}
}

// openPTY opens a pseudo-terminal pair (what a terminal emulator gives a
// shell), so that virsh console has the terminal it insists on.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %v", e)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// startXvfb starts a virtual X server on a display number nothing else
// uses (from :60 up, so never a desktop's :0) and returns the DISPLAY
// value once the server answers an X11 connection setup and its lock file
// names it (not another session's server that took the number first); the
// server is stopped when the test ends.
func startXvfb(t *testing.T, xvfb string) string {
	t.Helper()
	dir := t.TempDir()
	for n := 60; n < 100; n++ {
		num := strconv.Itoa(n)
		sock, lock := "/tmp/.X11-unix/X"+num, "/tmp/.X"+num+"-lock"
		if _, err := os.Stat(lock); err == nil {
			continue
		}
		if _, err := os.Stat(sock); err == nil {
			continue
		}
		logf, err := os.Create(filepath.Join(dir, "xvfb-"+num+".log"))
		if err != nil {
			t.Fatal(err)
		}
		xlog := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
		// -noreset: the server stays as it is when the readiness check
		// below, its first client, leaves.
		cmd := exec.Command(xvfb, ":"+num, "-noreset", "-screen", "0", "1024x768x24", "-nolisten", "tcp")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		logf.Close()
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		ours := func() bool {
			b, err := os.ReadFile(lock)
			return err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(cmd.Process.Pid)
		}
		ready := false
		for deadline := time.Now().Add(30 * time.Second); !ready && !chanClosed(exited) && time.Now().Before(deadline); {
			ready = x11Hello(sock) == nil && ours() && !chanClosed(exited)
			if !ready {
				time.Sleep(200 * time.Millisecond)
			}
		}
		if !ready {
			lost := chanClosed(exited) && strings.Contains(xlog(), "already active")
			_ = cmd.Process.Kill()
			<-exited
			if lost {
				continue // another server took the number first: the next one
			}
			t.Fatalf("Xvfb :%s does not serve its display:\n%s", num, xlog())
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
			if t.Failed() {
				t.Logf("Xvfb :%s output:\n%s", num, xlog())
			}
		})
		return ":" + num
	}
	t.Fatal("no free X display number in :60-:99")
	return ""
}

func chanClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// x11Hello opens an X11 connection on a unix socket and checks that the
// server accepts the connection setup (protocol 11.0, no authorization).
func x11Hello(sock string) error {
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	// 'l' = little-endian, major 11, minor 0, no auth name or data.
	if _, err := c.Write([]byte{'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		return err
	}
	reply := make([]byte, 8)
	if _, err := io.ReadFull(c, reply); err != nil {
		return fmt.Errorf("X11 setup: %w", err)
	}
	if reply[0] != 1 {
		return fmt.Errorf("X11 setup refused (status %d)", reply[0])
	}
	return nil
}
