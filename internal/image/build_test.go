package image_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/image"
	"github.com/deskvm/deskvm/internal/image/fetch"
	"github.com/deskvm/deskvm/internal/qemu"
	"github.com/deskvm/deskvm/internal/testutil"
)

// progressLog records steps and notes, and tells a test when a step starts.
type progressLog struct {
	t       testing.TB
	mu      sync.Mutex
	started map[string]chan struct{}
	notes   []string
}

func newProgressLog(t testing.TB) *progressLog {
	return &progressLog{t: t, started: map[string]chan struct{}{}}
}

func (p *progressLog) wait(step string) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started[step] == nil {
		p.started[step] = make(chan struct{})
	}
	return p.started[step]
}

func (p *progressLog) StepStarted(n, of int, name string) {
	p.t.Logf("[%d/%d] %s", n, of, name)
	ch := p.wait(name)
	p.mu.Lock()
	select {
	case <-ch:
	default:
		close(ch)
	}
	p.mu.Unlock()
}

func (p *progressLog) StepDone(n, of int, name string, took time.Duration, err error) {
	p.t.Logf("[%d/%d] %s: %s (err %v)", n, of, name, took.Round(10*time.Millisecond), err)
}

func (p *progressLog) Note(format string, args ...any) {
	p.mu.Lock()
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
	p.mu.Unlock()
	p.t.Logf(format, args...)
}

func (p *progressLog) hasNote(sub string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// qemuProcesses lists QEMU processes whose command line names the image.
func qemuProcesses(t testing.TB, name string) []string {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var found []string
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, "qemu-system") && strings.Contains(cmd, "deskvm-image-"+name+" ") {
			found = append(found, d+": "+cmd)
		}
	}
	return found
}

// assertNothingLeft checks that a failed build left no QEMU, no temporary
// file in OUT and no output under its final name.
func assertNothingLeft(t testing.TB, out, name string) {
	t.Helper()
	if ps := qemuProcesses(t, name); len(ps) > 0 {
		t.Errorf("qemu still running: %v", ps)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		t.Errorf("left in the output directory: %s", e.Name())
	}
}

func serveFile(t testing.TB, path string) (url string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, path)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(path)
}

func writeRecipe(t testing.TB, dir, body string) (*image.Recipe, *image.Source) {
	t.Helper()
	path := filepath.Join(dir, "recipe.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r, src, err := image.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return r, src
}

func testOptions(t testing.TB, out, cache string, p image.Progress) image.Options {
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return image.Options{OutDir: out, Fetcher: &fetch.Fetcher{CacheDir: cache, Log: log}, Log: log, Progress: p, Version: "test"}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestBuildLinuxEndToEnd builds a real Debian cloud image under QEMU
// (TCG here), served over HTTP through the fetcher; then the same build
// is a cache hit, image check boots it, and a second boot with another
// user, key and hostname proves it was generalized.
func TestBuildLinuxEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a cloud image under QEMU (minutes under TCG)")
	}
	testutil.RequiresQEMU(t)
	testutil.RequiresCommand(t, "qemu-img")
	base := testutil.DebianCloudImage(t)
	sum, err := qemu.FileSHA256(base)
	if err != nil {
		t.Fatal(err)
	}
	url := serveFile(t, base)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	cache := filepath.Join(dir, "cache")
	name := fmt.Sprintf("e2e%d", os.Getpid())
	r, src := writeRecipe(t, dir, fmt.Sprintf(`name: %s
cloudImage: {url: %q, sha256: %s}
hostname: devbox
username: dev
memory: 1024
cpus: 2
diskSize: 4G
writeFiles:
  - {path: /etc/motd, content: "hello from deskvm\n", permissions: "0644"}
  - {path: /etc/deskvm-secret.conf, content: "token = 1\n", permissions: "0600", owner: "dev:dev"}
runcmd: ["touch /var/lib/built-by-deskvm"]
health: {command: "test -f /var/lib/built-by-deskvm && cat /etc/motd", expect: "hello from deskvm", timeout: 2m}
`, name, url, sum))
	p := newProgressLog(t)
	opts := testOptions(t, out, cache, p)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := image.Build(ctx, r, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("build took %s", time.Since(start).Round(time.Second))
	m := res.Manifest
	for _, s := range m.Steps {
		t.Logf("  step %-22s %6.1fs", s.Name, s.Seconds)
	}
	if len(m.Steps) != 12 || m.Steps[len(m.Steps)-1].Name != "write outputs" {
		t.Errorf("steps = %+v", m.Steps)
	}
	if m.Inputs[0].SHA256 != sum || m.Inputs[0].URL != url || m.RecipeDigest == "" || m.Tools.QEMU == "" || m.Tools.OVMFSHA256 == "" || m.BuiltAt.IsZero() {
		t.Errorf("manifest: %+v", m)
	}
	if m.Output.VirtualSize != 4<<30 || m.Output.Size <= 0 || m.Output.Size >= 4<<30 {
		t.Errorf("output sizes: %+v", m.Output)
	}
	if got, _ := qemu.FileSHA256(res.Outputs.Image()); got != m.Output.SHA256 {
		t.Errorf("image sha256 %s, manifest says %s", got, m.Output.SHA256)
	}
	onDisk, err := image.ReadManifest(res.Outputs.Manifest())
	if err != nil || len(onDisk.Steps) != len(m.Steps) {
		t.Errorf("manifest on disk: %+v, %v", onDisk, err)
	}
	for _, f := range []string{"id_ed25519", "id_ed25519.pub"} {
		st, err := os.Stat(filepath.Join(res.Outputs.SSHDir(), f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st.Mode(), err)
		}
	}
	if st, err := os.Stat(res.Outputs.Run()); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("run script: %v", err)
	}
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{name + ".efivars.fd", name + ".manifest.json", name + ".qcow2", name + ".run", name + ".ssh"}; strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("output directory holds %v, want %v", names, want)
	}
	if ps := qemuProcesses(t, name); len(ps) > 0 {
		t.Errorf("qemu still running after the build: %v", ps)
	}

	// Same recipe, inputs and tools: a cache hit, nothing booted.
	p2 := newProgressLog(t)
	start = time.Now()
	res2, err := image.Build(ctx, r, src, testOptions(t, out, cache, p2))
	hit := time.Since(start)
	if err != nil || !res2.CacheHit || !p2.hasNote("cache hit") {
		t.Fatalf("second build: hit=%v err=%v", res2 != nil && res2.CacheHit, err)
	}
	t.Logf("cache hit took %s", hit)
	if hit > time.Second {
		t.Errorf("cache hit took %s, want < 1s", hit)
	}

	// image check: boots a throw-away overlay, runs the health check.
	check, err := image.Check(ctx, res.Outputs.Image(), image.CheckOptions{Options: testOptions(t, "", cache, newProgressLog(t))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(check.Output, "hello from deskvm") {
		t.Errorf("health output %q", check.Output)
	}
	if got, _ := qemu.FileSHA256(res.Outputs.Image()); got != m.Output.SHA256 {
		t.Error("image check changed the image")
	}

	// A second boot with someone else's seed: cloud-init runs as for a
	// new machine (a user with a new key is made and logs in, the host
	// key given in the seed is the one presented), and the machine-id is
	// made anew (a kept one would be the same in both boots).
	other, err := image.Check(ctx, res.Outputs.Image(), image.CheckOptions{
		Options: testOptions(t, "", cache, newProgressLog(t)), User: "alice", Hostname: "second",
	})
	if err != nil {
		t.Fatalf("boot as a new user: %v", err)
	}
	if other.InstanceID == "" || other.InstanceID == check.InstanceID {
		t.Errorf("cloud-init did not start a new instance: %q and %q", check.InstanceID, other.InstanceID)
	}
	if other.MachineID == "" || other.MachineID == check.MachineID {
		t.Errorf("machine-id not regenerated: %q and %q", check.MachineID, other.MachineID)
	}
	if !strings.Contains(other.Output, "hello from deskvm") {
		t.Errorf("the image lost its configuration: %q", other.Output)
	}

	// The image is a Desktop VM's disk.baseImage.
	useAsBaseImage(t, res.Outputs.Image(), "dev", filepath.Join(res.Outputs.SSHDir(), "id_ed25519"), "cat /etc/motd", "hello from deskvm")
}

// TestBuildGuestNeverAnswers: a disk that boots nothing makes the build
// fail after bootTimeout with the serial console's last lines, and leaves
// nothing behind.
func TestBuildGuestNeverAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	testutil.RequiresQEMU(t)
	dir := t.TempDir()
	blank := filepath.Join(dir, "blank.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", blank, "1G").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	out := filepath.Join(dir, "out")
	name := fmt.Sprintf("mute%d", os.Getpid())
	r, src := writeRecipe(t, dir, fmt.Sprintf("name: %s\ncloudImage: {path: blank.qcow2}\nhostname: h\nmemory: 512\ncpus: 1\ndiskSize: 1G\nbootTimeout: 25s\n", name))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := image.Build(ctx, r, src, testOptions(t, out, filepath.Join(dir, "cache"), newProgressLog(t)))
	if err == nil {
		t.Fatal("build of a blank disk succeeded")
	}
	t.Log(err)
	for _, want := range []string{"step 5/12 (wait for ssh)", "did not answer within 25s", "serial console", "serial.log) ends:\n"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q", want)
		}
	}
	if strings.HasSuffix(strings.TrimSpace(err.Error()), "ends:") {
		t.Error("no serial console lines in the error")
	}
	assertNothingLeft(t, out, name)
}

// TestBuildCancelledMidBoot: cancelling the context (what SIGINT/SIGTERM
// do to the CLI) while the guest boots stops QEMU and removes every
// temporary file.
func TestBuildCancelledMidBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	testutil.RequiresQEMU(t)
	base := testutil.DebianCloudImage(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	name := fmt.Sprintf("cancel%d", os.Getpid())
	r, src := writeRecipe(t, dir, fmt.Sprintf("name: %s\ncloudImage: {path: %q}\nhostname: h\nmemory: 512\ndiskSize: 4G\n", name, base))
	p := newProgressLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := image.Build(ctx, r, src, testOptions(t, out, filepath.Join(dir, "cache"), p))
		done <- err
	}()
	select {
	case <-p.wait("wait for ssh"):
	case err := <-done:
		t.Fatalf("build ended before the boot: %v", err)
	case <-time.After(3 * time.Minute):
		t.Fatal("the build did not reach the boot")
	}
	running := qemuProcesses(t, name)
	if len(running) != 1 {
		t.Fatalf("want one qemu running mid-boot, found %v", running)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the build did not stop after cancel")
	}
	assertNothingLeft(t, out, name)
	if socks, _ := filepath.Glob(filepath.Join(os.TempDir(), "deskvm-qmp-*")); len(socks) > 0 {
		for _, s := range socks {
			if st, err := os.Stat(s); err == nil && time.Since(st.ModTime()) < time.Minute {
				t.Logf("note: QMP directory %s exists (may be another build's)", s)
			}
		}
	}
}

// TestBuildPortInUse: a taken sshPort is a clear, positioned error.
func TestBuildPortInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("starts QEMU")
	}
	testutil.RequiresQEMU(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	blank := filepath.Join(dir, "blank.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", blank, "1G").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	out := filepath.Join(dir, "out")
	name := fmt.Sprintf("port%d", os.Getpid())
	r, src := writeRecipe(t, dir, fmt.Sprintf("name: %s\ncloudImage: {path: blank.qcow2}\nhostname: h\ndiskSize: 1G\nsshPort: %d\n", name, port))
	_, err = image.Build(context.Background(), r, src, testOptions(t, out, filepath.Join(dir, "cache"), newProgressLog(t)))
	want := fmt.Sprintf("recipe.yaml:5:10: sshPort: port %d on 127.0.0.1 is in use", port)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want %q", err, want)
	}
	assertNothingLeft(t, out, name)
}

// BenchmarkLinuxBuild measures a warm-cache build of the test cloud image
// (the download is in the cache before the timer starts), the cache hit
// after it, and the output's size against `qemu-img convert -c` of the
// same final disk. Run with -benchtime=1x; a build takes minutes under TCG.
func BenchmarkLinuxBuild(b *testing.B) {
	testutil.RequiresQEMU(b)
	base := testutil.DebianCloudImage(b)
	sum, err := qemu.FileSHA256(base)
	if err != nil {
		b.Fatal(err)
	}
	url := serveFile(b, base)
	dir := b.TempDir()
	cache := filepath.Join(dir, "cache")
	ctx := context.Background()
	if _, err := (&fetch.Fetcher{CacheDir: cache}).Fetch(ctx, "warm-up", fetch.Source{URL: url, SHA256: sum}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, fmt.Sprintf("out%d", i))
		r, src := writeRecipe(b, dir, fmt.Sprintf("name: bench\ncloudImage: {url: %q, sha256: %s}\nhostname: bench\nmemory: 1024\ndiskSize: 4G\n"+
			"writeFiles: [{path: /etc/motd, content: \"bench\\n\"}]\nruncmd: [\"touch /var/lib/bench\"]\n", url, sum))
		opts := testOptions(b, out, cache, newProgressLog(b))
		opts.Log = slog.New(slog.DiscardHandler)
		start := time.Now()
		res, err := image.Build(ctx, r, src, opts)
		if err != nil {
			b.Fatal(err)
		}
		build := time.Since(start)
		start = time.Now()
		hit, err := image.Build(ctx, r, src, opts)
		if err != nil || !hit.CacheHit {
			b.Fatalf("no cache hit: %v", err)
		}
		hitTime := time.Since(start)
		plain := filepath.Join(dir, "plain.qcow2")
		if out, err := exec.Command("qemu-img", "convert", "-c", "-O", "qcow2", res.Outputs.Image(), plain).CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		st, _ := os.Stat(plain)
		b.ReportMetric(build.Seconds(), "build-s")
		b.ReportMetric(float64(hitTime.Microseconds())/1000, "cachehit-ms")
		b.ReportMetric(float64(res.Manifest.Output.Size)/float64(st.Size()), "size/convert-c")
		// Each step as a metric too: b.Logf lines after the progress
		// log's are cut by the benchmark's output limit.
		for _, s := range res.Manifest.Steps {
			b.Logf("step %-22s %7.2fs", s.Name, s.Seconds)
			if s.Seconds >= 1 {
				b.ReportMetric(s.Seconds, strings.ReplaceAll(s.Name, " ", "-")+"-s")
			}
		}
		b.Logf("build %.1fs, cache hit %s, output %d bytes, qemu-img convert -c of it %d bytes", build.Seconds(), hitTime, res.Manifest.Output.Size, st.Size())
	}
}
