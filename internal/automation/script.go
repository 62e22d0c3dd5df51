// Package automation runs YAML automation scripts that drive a VM's screen:
// it waits for text read by OCR, clicks on it, types and presses keys, and
// proves the result with an SSH health check.
//
// A script goes through three stages, like Packer's boot commands: the YAML
// is parsed into typed steps that remember their source position (Parse),
// every step is checked before anything is sent (Parse returns all problems
// at once), and Run executes the steps against narrow interfaces (Screen,
// Keyboard, Pointer, Eye) that the live VNC + OCR adapters or test fakes
// implement.
package automation

import (
	"fmt"
	"image"
	"regexp"
	"strings"
	"time"

	"github.com/deskvm/deskvm/internal/keysym"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// Script is a loaded, validated automation script.
type Script struct {
	File           string
	BootWait       time.Duration
	MaxInstallTime time.Duration // zero: unbounded
	Steps          []Step
	HealthCheck    *HealthCheck
	// Secrets are the values that must never be written anywhere: text
	// typed from password files or ${VAR}, and the health check password.
	Secrets []string
}

// Step is one entry of boot_commands.
type Step interface {
	// Command is the YAML command name ("wait", "click", ...).
	Command() string
	// Position is where the step starts in the script.
	Position() yamlsrc.Location
	// Describe says what the step does, with secrets replaced by ***.
	Describe() string
}

// StepBase carries what every step has.
type StepBase struct {
	Pos   yamlsrc.Location
	Index int // 1-based position in boot_commands
}

func (b StepBase) Position() yamlsrc.Location { return b.Pos }

// Target says which text on the screen a wait or click looks for.
type Target struct {
	Text     string         // phrase; empty when Regex is set
	Regex    *regexp.Regexp // instead of Text
	Contains bool           // substring instead of whole words
	Fuzzy    bool           // tolerate small OCR slips (default true)
	Region   *image.Rectangle
	Index    int // which match in reading order; negative counts from the end
}

func (t Target) String() string {
	var b strings.Builder
	if t.Regex != nil {
		fmt.Fprintf(&b, "regex %q", strings.TrimPrefix(t.Regex.String(), "(?i)"))
	} else {
		fmt.Fprintf(&b, "%q", t.Text)
	}
	if t.Contains {
		b.WriteString(" (contains)")
	}
	if !t.Fuzzy {
		b.WriteString(" (exact)")
	}
	if t.Region != nil {
		r := *t.Region
		fmt.Fprintf(&b, " in region %d,%d %dx%d", r.Min.X, r.Min.Y, r.Dx(), r.Dy())
	}
	if t.Index != 0 {
		fmt.Fprintf(&b, " index %d", t.Index)
	}
	return b.String()
}

// Wait waits until the target is on the screen.
type Wait struct {
	StepBase
	Target  Target
	Timeout time.Duration
}

// WaitGone waits until the target is no longer on the screen.
type WaitGone struct {
	StepBase
	Target  Target
	Timeout time.Duration
}

// WaitStill waits until the screen did not change for Still.
type WaitStill struct {
	StepBase
	Still   time.Duration
	Timeout time.Duration
}

// Button is a pointer button mask bit as RFB numbers them.
type Button uint8

const (
	ButtonLeft   Button = 1
	ButtonMiddle Button = 2
	ButtonRight  Button = 4
)

// Click finds the target and clicks on it (plus an offset).
type Click struct {
	StepBase
	Name    string // click, double_click or right_click
	Target  Target
	Offset  image.Point
	Timeout time.Duration // how long the target may take to appear
	Button  Button
	Count   int // 2 for double_click
}

// ClickAt clicks at fixed coordinates.
type ClickAt struct {
	StepBase
	At image.Point
}

// MoveMouse moves the pointer without pressing a button.
type MoveMouse struct {
	StepBase
	To image.Point
}

// Type types text, one key at a time.
type Type struct {
	StepBase
	Text   string
	Delay  time.Duration // between keys
	Secret bool
}

// Key presses and releases one key.
type Key struct {
	StepBase
	Name   string
	Keysym keysym.Keysym
}

// Hotkey holds modifiers down, presses a key, and releases in reverse.
type Hotkey struct {
	StepBase
	Modifiers []Key // Name + Keysym
	Key       Key
}

// Delay sleeps.
type Delay struct {
	StepBase
	Duration time.Duration
}

// Screenshot saves the screen under a name.
type Screenshot struct {
	StepBase
	Name string
}

func (s *Wait) Command() string       { return "wait" }
func (s *WaitGone) Command() string   { return "wait_gone" }
func (s *WaitStill) Command() string  { return "wait_still" }
func (s *Click) Command() string      { return s.Name }
func (s *ClickAt) Command() string    { return "click_at" }
func (s *MoveMouse) Command() string  { return "move_mouse" }
func (s *Type) Command() string       { return "type" }
func (s *Key) Command() string        { return "key" }
func (s *Hotkey) Command() string     { return "hotkey" }
func (s *Delay) Command() string      { return "delay" }
func (s *Screenshot) Command() string { return "screenshot" }

func (s *Wait) Describe() string {
	return fmt.Sprintf("wait for %s (timeout %s)", s.Target, s.Timeout)
}
func (s *WaitGone) Describe() string {
	return fmt.Sprintf("wait until %s is gone (timeout %s)", s.Target, s.Timeout)
}
func (s *WaitStill) Describe() string {
	return fmt.Sprintf("wait until the screen is still for %s (timeout %s)", s.Still, s.Timeout)
}
func (s *Click) Describe() string {
	d := fmt.Sprintf("%s on %s", strings.ReplaceAll(s.Name, "_", " "), s.Target)
	if s.Offset != (image.Point{}) {
		d += fmt.Sprintf(" offset %+d,%+d", s.Offset.X, s.Offset.Y)
	}
	return d
}
func (s *ClickAt) Describe() string   { return fmt.Sprintf("click at %d,%d", s.At.X, s.At.Y) }
func (s *MoveMouse) Describe() string { return fmt.Sprintf("move mouse to %d,%d", s.To.X, s.To.Y) }
func (s *Type) Describe() string {
	if s.Secret {
		return "type *** (secret)"
	}
	return fmt.Sprintf("type %q", s.Text)
}
func (s *Key) Describe() string { return "key " + s.Name }
func (s *Hotkey) Describe() string {
	names := make([]string, 0, len(s.Modifiers)+1)
	for _, m := range s.Modifiers {
		names = append(names, m.Name)
	}
	return "hotkey " + strings.Join(append(names, s.Key.Name), "+")
}
func (s *Delay) Describe() string      { return "delay " + s.Duration.String() }
func (s *Screenshot) Describe() string { return "screenshot " + s.Name }

// HealthCheck proves that the installed system works.
type HealthCheck struct {
	Pos          yamlsrc.Location
	Type         string // "ssh"
	Host         string
	Port         int
	User         string
	Password     string // secret
	KeyFile      string // private key path
	Command      string
	Expect       string         // substring of the output, or
	ExpectRegex  *regexp.Regexp // a regex over the output
	Timeout      time.Duration  // per attempt
	Retries      int            // attempts after the first
	RetryDelay   time.Duration
	KnownHostsIn string // known_hosts file; empty: the runner's default
}

// Describe says what the check does, without the password.
func (h *HealthCheck) Describe() string {
	d := fmt.Sprintf("ssh %s@%s:%d %q", h.User, h.Host, h.Port, h.Command)
	if h.ExpectRegex != nil {
		d += fmt.Sprintf(" expecting regex %q", h.ExpectRegex.String())
	} else if h.Expect != "" {
		d += fmt.Sprintf(" expecting %q", h.Expect)
	}
	return d
}

// StepLabel names a step the way errors and reports do: "step 3 (click) at file:7:5".
func StepLabel(s Step) string {
	return fmt.Sprintf("%s: step %d (%s)", s.Position(), stepIndex(s), s.Command())
}

func stepIndex(s Step) int {
	type indexed interface{ index() int }
	if i, ok := s.(indexed); ok {
		return i.index()
	}
	return 0
}

func (b StepBase) index() int { return b.Index }
