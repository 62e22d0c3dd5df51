package image

import (
	"context"
	"errors"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/image/fetch"
	"github.com/deskvm/deskvm/internal/testutil"
)

const standinPassword = `pa&ss<"w'> x`

// standinBuild loads a windows recipe for the stand-in ISO and returns
// it with options whose debug log is captured.
func standinBuild(t *testing.T, iso, extra string) (*Recipe, *Source, Options, *testutil.LockedBuffer) {
	t.Helper()
	media := testutil.WindowsMediaFixture(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pw.txt"), []byte(standinPassword+"\n"), 0o600)
	recipe := filepath.Join(dir, "win11.yaml")
	data := "name: win11\nkind: windows\nwindowsIso: {path: " + iso + "}\nvirtioDriversIso: {path: " + media.VirtioISO + "}\n" +
		"edition: Windows 11 Pro\nusername: agent\npasswordFile: pw.txt\nmemory: 2048\ncpus: 1\ndiskSize: 40G\n" +
		"secureBoot: false\n" + extra
	os.WriteFile(recipe, []byte(data), 0o644)
	r, src, err := LoadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.LockedBuffer{}
	opts := Options{
		OutDir: filepath.Join(dir, "out"), Accel: "tcg",
		Fetcher: &fetch.Fetcher{CacheDir: filepath.Join(dir, "cache")},
		Log:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return r, src, opts, logs
}

func requireStandinTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots the stand-in Setup under QEMU (seconds to minutes under TCG)")
	}
	testutil.RequiresQEMU(t)
	testutil.RequiresCommand(t, "qemu-img")
	testutil.RequiresCommand(t, "swtpm")
}

// TestWindowsBuildStandinSetup runs the whole Windows pipeline against
// the stand-in for Setup under TCG: the CD's "Press any key" is answered
// through QMP send-key, the guest reads autounattend.xml from the answer
// media, "installs" and reboots while QEMU keeps running, comes back
// from the disk and answers SSH as the answer file's account with its
// password (which has & < " ' > and a space); the health check, power
// off, compaction and outputs (image, UEFI vars, TPM state NAME.tpm/,
// manifest) follow. The recipe's automationConfig runs after the
// press-any-key phase, over the build VM's VNC with tesseract, while SSH
// is polled: it waits for the line the guest writes on its screen after
// the reboot and types ${PASSWORD} (the recipe's password, which then
// appears in no log). The password appears in no log and not in the
// manifest. 1m46s alone, 2m47s beside other tests, under TCG.
func TestWindowsBuildStandinSetup(t *testing.T) {
	requireStandinTools(t)
	testutil.RequiresCommand(t, "tesseract")
	start := time.Now()
	iso := standinISO(t, t.TempDir(), 60)
	script := filepath.Join(t.TempDir(), "after-setup.yaml")
	os.WriteFile(script, []byte("boot_commands:\n  - wait: {text: 'installed: booting from the disk', timeout: 300}\n  - type: '${PASSWORD}'\n"), 0o644)
	r, src, opts, logs := standinBuild(t, iso, "installTimeout: 6m\nhealth: {command: 'cat /standin-proof; id -un', expect: 'booted from the disk as agent'}\nautomationConfig: "+script+"\n")
	opts.PressKeysFor = 40 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	res, err := Build(ctx, r, src, opts)
	t.Logf("build took %s", time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, logs.String())
	}
	for _, st := range res.Manifest.Steps {
		t.Logf("step %-14s %6.1fs", st.Name, st.Seconds)
	}
	log := logs.String()
	for _, want := range []string{"press any key: Enter sent", "health check passed", "booted from the disk as agent", "run succeeded"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	out := res.Outputs
	for _, f := range []string{out.Image(), out.Manifest(), out.EFIVars(), filepath.Join(out.TPMDir(), "tpm2-00.permall")} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	m := res.Manifest
	if m.Kind != KindWindows || m.Boot.TPM != "win11.tpm/" || m.Boot.Edition != "2 Windows 11 Pro" || len(m.Steps) != 10 || m.Steps[5].Name != "wait for ssh" {
		t.Errorf("manifest %+v", m)
	}
	if in := m.Inputs[len(m.Inputs)-1]; in.Name != "automationConfig" || in.Path != script || in.SHA256 == "" {
		t.Errorf("the script is not an input: %+v", m.Inputs)
	}
	mf, _ := os.ReadFile(out.Manifest())
	for name, text := range map[string]string{"log": log, "manifest": string(mf)} {
		if strings.Contains(text, standinPassword) || strings.Contains(text, "pa&amp;ss") {
			t.Errorf("the password is in the %s", name)
		}
	}
	// Nothing of the build is left but the outputs.
	entries, _ := os.ReadDir(out.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// A second build is a cache hit: nothing booted.
	again, err := Build(ctx, r, src, opts)
	if err != nil || !again.CacheHit {
		t.Errorf("second build: hit %v, %v", again != nil && again.CacheHit, err)
	}
}

// Nobody presses a key: the stand-in CD times out, the empty disk boots,
// the guest powers off and QEMU exits early. The build fails at once
// (not after installTimeout) naming the early exit, with the last screen
// saved as a PNG in the output directory and no image left behind.
func TestWindowsBuildMissedPromptFailsEarly(t *testing.T) {
	requireStandinTools(t)
	iso := standinISO(t, t.TempDir(), 0)
	r, src, opts, logs := standinBuild(t, iso, "installTimeout: 10m\n")
	opts.PressKeysFor = -1
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	_, err := Build(ctx, r, src, opts)
	took := time.Since(start)
	t.Logf("failed after %s", took.Round(time.Second))
	if err == nil || !strings.Contains(err.Error(), "step 6/10 (wait for ssh): qemu exited before ssh answered") ||
		!strings.Contains(err.Error(), "nobody pressed a key") || !strings.Contains(err.Error(), "win11.failed-screen.png") {
		t.Fatalf("error: %v\nlog:\n%s", err, logs.String())
	}
	if took > 4*time.Minute {
		t.Errorf("took %s: the early exit was not noticed", took)
	}
	checkScreenshot(t, filepath.Join(opts.OutDir, "win11.failed-screen.png"))
	if _, err := os.Stat(filepath.Join(opts.OutDir, "win11.qcow2")); !os.IsNotExist(err) {
		t.Error("an image was left after a failed build")
	}
}

// An automationConfig step that fails fails the build: the script (run
// at once here, no key is pressed) waits for text that never comes; the
// build stops naming the script's file, line and step, saves the failed
// step's screen (the runner's screenshot) and keeps the runner's debug output as NAME.automation/; the
// cleanup stack stops QEMU and swtpm and leaves no image.
func TestWindowsBuildFailingAutomation(t *testing.T) {
	requireStandinTools(t)
	testutil.RequiresCommand(t, "tesseract")
	iso := standinISO(t, t.TempDir(), 0)
	script := filepath.Join(t.TempDir(), "setup.yaml")
	// 3 s: the stand-in without a key powers off about 14 s after QEMU
	// starts, and the script must fail first.
	os.WriteFile(script, []byte("boot_commands:\n  - wait: {text: 'Windows Setup is ready', timeout: 3}\n  - type: '${PASSWORD}'\n"), 0o644)
	r, src, opts, logs := standinBuild(t, iso, "installTimeout: 10m\nautomationConfig: "+script+"\n")
	opts.PressKeysFor = -1
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	_, err := Build(ctx, r, src, opts)
	took := time.Since(start)
	t.Logf("failed after %s", took.Round(time.Second))
	var se *automation.StepError
	if err == nil || !errors.As(err, &se) || se.Line() != 2 {
		t.Fatalf("error: %v\nlog:\n%s", err, logs.String())
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	for _, want := range []string{"step 6/10 (wait for ssh): automationConfig " + script, script + ":2:", "step 1 (wait)", "Windows Setup is ready",
		"win11.failed-screen.png", "debug output: " + filepath.Join(opts.OutDir, "win11.automation")} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if took > 2*time.Minute {
		t.Errorf("took %s", took)
	}
	checkScreenshot(t, filepath.Join(opts.OutDir, "win11.failed-screen.png"))
	for _, f := range []string{"report.html", "automation.log"} {
		if _, err := os.Stat(filepath.Join(opts.OutDir, "win11.automation", f)); err != nil {
			t.Error(err)
		}
	}
	entries, _ := os.ReadDir(opts.OutDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.Name() == "win11.qcow2" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if strings.Contains(logs.String(), standinPassword) {
		t.Error("the password is in the log")
	}
}

// installTimeout passes while QEMU still runs: the build stops after it
// (not an hour later) with a screenshot of the screen at that moment.
func TestWindowsBuildInstallTimeout(t *testing.T) {
	requireStandinTools(t)
	// The key is pressed and "Setup" runs (for 10 minutes): QEMU is up
	// when installTimeout passes. (Without a key the stand-in powers off
	// about 14 s after QEMU starts, which races the 15 s.)
	iso := standinISO(t, t.TempDir(), 600)
	r, src, opts, _ := standinBuild(t, iso, "installTimeout: 15s\n")
	opts.PressKeysFor = 14 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	_, err := Build(ctx, r, src, opts)
	if err == nil || !strings.Contains(err.Error(), "did not answer within installTimeout 15s") || !strings.Contains(err.Error(), "win11.failed-screen.png") {
		t.Fatalf("error: %v", err)
	}
	if took := time.Since(start); took > 90*time.Second {
		t.Errorf("took %s", took)
	}
	checkScreenshot(t, filepath.Join(opts.OutDir, "win11.failed-screen.png"))
}

func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 320 || b.Dy() < 200 {
		t.Errorf("screenshot %s is %v", path, b)
	}
}
