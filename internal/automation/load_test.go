package automation

import (
	"errors"
	"image"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/deskvm/deskvm/internal/keysym"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// The reference's own example, accepted as written.
const referenceScript = `boot_wait: 30
max_install_time: 3600
boot_commands:
  - wait: {text: 'Welcome', timeout: 120}
  - click: 'Continue'
  - click: {text: 'Agree', index: -1, xoffset: 50, yoffset: 0}
  - click_at: {x: 960, y: 540}
  - type: 'username'
  - key: enter
  - hotkey: {modifiers: [ctrl, alt], key: delete}
  - delay: 0.5
health_check:
  type: ssh
  host: 127.0.0.1
  port: 2222
  user: agent
  password: agent
  command: uname -a
  timeout: 30
  retries: 5
  retry_delay: 10
`

func TestParseReferenceFormat(t *testing.T) {
	s := mustParse(t, referenceScript)
	p := func(line, col int) StepBase {
		return StepBase{Pos: yamlsrc.Location{File: "test.yaml", Pos: yamlsrc.Pos{Line: line, Column: col}}}
	}
	withIndex := func(b StepBase, i int) StepBase { b.Index = i; return b }
	want := []Step{
		&Wait{StepBase: withIndex(p(4, 5), 1), Target: Target{Text: "Welcome", Fuzzy: true}, Timeout: 120 * time.Second},
		&Click{StepBase: withIndex(p(5, 5), 2), Name: "click", Target: Target{Text: "Continue", Fuzzy: true}, Timeout: DefaultClickTimeout, Button: ButtonLeft, Count: 1},
		&Click{StepBase: withIndex(p(6, 5), 3), Name: "click", Target: Target{Text: "Agree", Fuzzy: true, Index: -1}, Offset: image.Pt(50, 0), Timeout: DefaultClickTimeout, Button: ButtonLeft, Count: 1},
		&ClickAt{StepBase: withIndex(p(7, 5), 4), At: image.Pt(960, 540)},
		&Type{StepBase: withIndex(p(8, 5), 5), Text: "username", Delay: 10 * time.Millisecond},
		&Key{StepBase: withIndex(p(9, 5), 6), Name: "enter", Keysym: keysym.Return},
		&Hotkey{StepBase: withIndex(p(10, 5), 7), Modifiers: []Key{{Name: "ctrl", Keysym: keysym.ControlL}, {Name: "alt", Keysym: keysym.AltL}}, Key: Key{Name: "delete", Keysym: keysym.Delete}},
		&Delay{StepBase: withIndex(p(11, 5), 8), Duration: 500 * time.Millisecond},
	}
	if diff := cmp.Diff(want, s.Steps, cmpopts.IgnoreUnexported()); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if s.BootWait != 30*time.Second || s.MaxInstallTime != time.Hour {
		t.Errorf("boot_wait %s max_install_time %s", s.BootWait, s.MaxInstallTime)
	}
	hc := s.HealthCheck
	if hc == nil || hc.Host != "127.0.0.1" || hc.Port != 2222 || hc.User != "agent" || hc.Password != "agent" ||
		hc.Command != "uname -a" || hc.Timeout != 30*time.Second || hc.Retries != 5 || hc.RetryDelay != 10*time.Second {
		t.Errorf("health check = %+v", hc)
	}
	if !cmp.Equal(s.Secrets, []string{"agent"}) {
		t.Errorf("secrets = %q, want the health check password", s.Secrets)
	}
}

func TestParseAdditions(t *testing.T) {
	src := `boot_commands:
  - wait: {regex: 'Step [0-9]+', region: {x: 10, y: 20, width: 300, height: 40}, fuzzy: false}
  - click: {text: Next, offset: {x: -4, y: 7}, contains: true}
  - double_click: Icon
  - right_click: {text: File, index: 2}
  - wait_gone: {text: Loading, timeout: 5}
  - wait_still: {seconds: 1.5}
  - wait_still: 2
  - move_mouse: {x: 1, y: 2}
  - screenshot: after-login
  - type: {text: "Hello, World!", delay_ms: 0}
  - key: F24
  - key: cmd
  - key: '?'
  - hotkey: "win+r"
  - delay: 2m
`
	s := mustParse(t, src)
	if len(s.Steps) != 15 {
		t.Fatalf("got %d steps", len(s.Steps))
	}
	w := s.Steps[0].(*Wait)
	if w.Target.Regex == nil || !w.Target.Regex.MatchString("step 12") || w.Target.Fuzzy || *w.Target.Region != image.Rect(10, 20, 310, 60) {
		t.Errorf("wait = %+v", w.Target)
	}
	if c := s.Steps[1].(*Click); c.Offset != image.Pt(-4, 7) || !c.Target.Contains {
		t.Errorf("click = %+v", c)
	}
	if c := s.Steps[2].(*Click); c.Count != 2 || c.Button != ButtonLeft {
		t.Errorf("double_click = %+v", c)
	}
	if c := s.Steps[3].(*Click); c.Button != ButtonRight || c.Target.Index != 2 {
		t.Errorf("right_click = %+v", c)
	}
	if g := s.Steps[4].(*WaitGone); g.Timeout != 5*time.Second {
		t.Errorf("wait_gone = %+v", g)
	}
	if w := s.Steps[5].(*WaitStill); w.Still != 1500*time.Millisecond || w.Timeout != w.Still+DefaultStillTimeout {
		t.Errorf("wait_still = %+v", w)
	}
	if w := s.Steps[6].(*WaitStill); w.Still != 2*time.Second {
		t.Errorf("wait_still short form = %+v", w)
	}
	if ty := s.Steps[9].(*Type); ty.Text != "Hello, World!" || ty.Delay != 0 || ty.Secret {
		t.Errorf("type = %+v", ty)
	}
	if k := s.Steps[10].(*Key); k.Keysym != keysym.F24 {
		t.Errorf("F24 = %#x", k.Keysym)
	}
	if k := s.Steps[11].(*Key); k.Keysym != keysym.SuperL {
		t.Errorf("cmd = %#x", k.Keysym)
	}
	if h := s.Steps[13].(*Hotkey); len(h.Modifiers) != 1 || h.Modifiers[0].Keysym != keysym.SuperL || h.Key.Keysym != 'r' {
		t.Errorf("hotkey = %+v", h)
	}
	if d := s.Steps[14].(*Delay); d.Duration != 2*time.Minute {
		t.Errorf("delay = %s", d.Duration)
	}
}

func TestEveryKeyNameLoads(t *testing.T) {
	names := []string{"enter", "return", "tab", "space", "backspace", "delete", "esc", "escape",
		"up", "down", "left", "right", "home", "end", "pageup", "pagedown", "insert",
		"shift", "ctrl", "alt", "cmd", "win", "super", "meta", "ENTER", "a", "Z", "~", " "}
	for i := 1; i <= 24; i++ {
		names = append(names, "f"+strconv.Itoa(i))
	}
	var b strings.Builder
	b.WriteString("boot_commands:\n")
	for _, n := range names {
		b.WriteString("  - key: '" + n + "'\n")
	}
	s := mustParse(t, b.String())
	if len(s.Steps) != len(names) {
		t.Fatalf("loaded %d of %d keys", len(s.Steps), len(names))
	}
}

// Every problem is reported at once, each with file:line:col and the step.
func TestParseReportsAllProblemsWithPositions(t *testing.T) {
	src := `boot_wait: -5
boot_commands:
  - wait: {timeout: 10}
  - clik: Continue
  - key: escap
  - wait: {regex: 'a(b', timeout: 3}
  - click: {text: OK, index: first}
  - type: {text: hi, delay_ms: -1}
  - wait: {text: X, timeout: -2}
  - hotkey: {modifiers: [ctrl, q], key: nope}
  - click_at: {x: 5}
  - type: "café"
  - key: enter
    timeout: 3
  - wait: {text: Hi, colour: red}
health_check: {type: telnet, user: u, password: p}
`
	_, err := Parse("s.yaml", []byte(src), LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	var le yamlsrc.Problems
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want yamlsrc.Problems", err)
	}
	want := []string{
		`s.yaml:1:12: boot_wait: must not be negative, got -5s`,
		`s.yaml:3:11: step 1 (wait): missing text (or regex)`,
		`s.yaml:4:5: step 2 (clik): unknown command "clik" (known: wait, wait_gone, wait_still, click, double_click, right_click, click_at, move_mouse, type, key, hotkey, delay, screenshot)`,
		`s.yaml:5:10: step 3 (key): unknown key name "escap" (known: alt, `,
		`s.yaml:6:19: step 4 (wait): regex: bad regex "a(b": missing closing ): ` + "`(?i)a(b`",
		`s.yaml:7:30: step 5 (click): index: expected a whole number, got a string ("first")`,
		`s.yaml:8:32: step 6 (type): delay_ms: must not be negative, got -1`,
		`s.yaml:9:30: step 7 (wait): timeout: must not be negative, got -2s`,
		`s.yaml:10:32: step 8 (hotkey): modifiers[1]: "q" is not a modifier (shift, ctrl, alt, cmd/win/super/meta)`,
		`s.yaml:10:41: step 8 (hotkey): key: unknown key name "nope" (known: alt, `,
		`s.yaml:11:15: step 9 (click_at): missing y`,
		`s.yaml:12:11: step 10 (type): character U+00E9 cannot be typed on a US keyboard layout (at character 4)`,
		`s.yaml:13:5: step 11 (?): a step has exactly one command, found key, timeout (indent options under the command)`,
		`s.yaml:15:22: step 12 (wait): colour: unknown field "colour" (valid here: contains, fuzzy, index, regex, region, text, timeout)`,
		`s.yaml:16:22: health_check.type: "telnet" is not supported (only ssh)`,
	}
	if len(le) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(le), len(want), le)
	}
	for i, w := range want {
		if i >= len(le) {
			break
		}
		// Long lists of known names are cut for readability here.
		if got := le[i].String(); !strings.HasPrefix(got, w) {
			t.Errorf("problem %d:\n got %s\nwant %s", i, got, w)
		}
	}
}

func TestParseYAMLSyntaxError(t *testing.T) {
	_, err := Parse("bad.yaml", []byte("boot_commands:\n  - wait: {text: 'x'\n"), LoadOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "bad.yaml:") || !strings.Contains(err.Error(), "yaml:") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("file-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `boot_commands:
  - type: "${USER_PW}"
  - type: {password_file: pw.txt}
  - type: "cost: $$5"
  - type: {text: plain, secret: true}
health_check: {type: ssh, user: root, password_file: pw.txt}
`
	env := map[string]string{"USER_PW": "env-s3cret"}
	s, err := Parse(filepath.Join(dir, "s.yaml"), []byte(src), LoadOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	t1, t2, t3, t4 := s.Steps[0].(*Type), s.Steps[1].(*Type), s.Steps[2].(*Type), s.Steps[3].(*Type)
	if t1.Text != "env-s3cret" || !t1.Secret || t2.Text != "file-s3cret" || !t2.Secret || t3.Text != "cost: $5" || t3.Secret || !t4.Secret {
		t.Errorf("types: %+v %+v %+v %+v", t1, t2, t3, t4)
	}
	if t1.Describe() != "type *** (secret)" {
		t.Errorf("describe = %q", t1.Describe())
	}
	if s.HealthCheck.Password != "file-s3cret" {
		t.Errorf("health check password not read from file")
	}
	if !cmp.Equal(s.Secrets, []string{"file-s3cret", "env-s3cret", "plain"}) {
		t.Errorf("secrets = %q", s.Secrets)
	}
	// A missing variable is a load error, and Vars take precedence.
	_, err = Parse("s.yaml", []byte("boot_commands:\n  - type: '${NOPE}'\n"), LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	if err == nil || err.Error() != "s.yaml:2:11: step 1 (type): variable ${NOPE} is not set" {
		t.Errorf("missing var: %v", err)
	}
	s, err = Parse("s.yaml", []byte("boot_commands:\n  - type: '${PASSWORD}'\n"), LoadOptions{Vars: map[string]string{"PASSWORD": "v"}, LookupEnv: func(string) (string, bool) { return "env", true }})
	if err != nil || s.Steps[0].(*Type).Text != "v" {
		t.Errorf("vars: %v", err)
	}
}

func TestParseHealthCheckExpect(t *testing.T) {
	s := mustParse(t, "health_check: {type: ssh, user: u, key: id_ed25519, expect: {regex: '^Linux '}}\n")
	hc := s.HealthCheck
	if hc.ExpectRegex == nil || hc.Port != 22 || hc.Command != DefaultHealthCommand || hc.KeyFile != "id_ed25519" {
		t.Errorf("hc = %+v", hc)
	}
	_, err := Parse("h.yaml", []byte("health_check: {type: ssh, user: u, port: 70000}\n"), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "h.yaml:1:42: health_check.port: must be 1-65535, got 70000") {
		t.Errorf("err = %v", err)
	}
}

// A password_file is read like --password-file (secret.ReadFile): an
// empty or missing file is a load error at the field's line, naming the
// file and never a password.
func TestParsePasswordFileErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pw")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `boot_commands:
  - wait: 1
  - type: {password_file: empty.pw}
health_check: {type: ssh, user: root, password_file: missing.pw}
`
	_, err := Parse(filepath.Join(dir, "s.yaml"), []byte(src), LoadOptions{})
	var le yamlsrc.Problems
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want yamlsrc.Problems", err)
	}
	want := []string{
		filepath.Join(dir, "s.yaml") + ":3:27: step 2 (type): password_file: password file " + empty + " is empty",
		filepath.Join(dir, "s.yaml") + ":4:54: health_check.password_file: password file " + filepath.Join(dir, "missing.pw") + ": no such file or directory",
	}
	var got []string
	for _, p := range le {
		got = append(got, p.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// A required value left null, a wrong type under a step and a health
// check that is not a mapping are problems with the field's path, never
// a step dropped in silence.
func TestParseNullsAndTypes(t *testing.T) {
	src := `boot_commands:
  - wait: {text: }
  - click_at: {x: 1, y: }
  - wait: {regex: 'x', region: {x: 0, y: 0, width: -3, height: 4}}
  - type: {delay_ms: 5}
  - hotkey: {modifiers: ctrl, key: x}
  - wait_still: {seconds: 0.5, timeout: 0.2}
  - delay: soon
  - key: 5
  - type: 12345
boot_wait: 10d
health_check: [ssh]
`
	_, err := Parse("n.yaml", []byte(src), LoadOptions{})
	want := []string{
		`n.yaml:2:12: step 1 (wait): text: needs a value`,
		`n.yaml:3:22: step 2 (click_at): y: needs a value`,
		`n.yaml:4:52: step 3 (wait): region.width: must not be negative, got -3`,
		`n.yaml:5:11: step 4 (type): missing text`,
		`n.yaml:6:25: step 5 (hotkey): modifiers: expected a list, got a string ("ctrl")`,
		`n.yaml:7:41: step 6 (wait_still): timeout: 200ms is shorter than the still time 500ms`,
		`n.yaml:8:12: step 7 (delay): expected a number of seconds or a duration like "90s", got a string ("soon")`,
		`n.yaml:11:12: boot_wait: expected a number of seconds or a duration like "90s", got a string ("10d")`,
		`n.yaml:12:15: health_check: expected a mapping of options, got a list`,
	}
	var got []string
	var ps yamlsrc.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			got = append(got, p.String())
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	// Numbers are taken as written where a script wants text.
	s := mustParse(t, "boot_commands:\n  - key: 5\n  - type: 12345\n  - wait: 2024\n")
	if k := s.Steps[0].(*Key); k.Name != "5" {
		t.Errorf("key = %+v", k)
	}
	if ty := s.Steps[1].(*Type); ty.Text != "12345" {
		t.Errorf("type = %+v", ty)
	}
	if w := s.Steps[2].(*Wait); w.Target.Text != "2024" {
		t.Errorf("wait = %+v", w)
	}
}
