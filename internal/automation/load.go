package automation

import (
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/deskvm/deskvm/internal/keysym"
	"github.com/deskvm/deskvm/internal/secret"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// Defaults for fields a script leaves out.
const (
	DefaultWaitTimeout    = 60 * time.Second
	DefaultClickTimeout   = 30 * time.Second
	DefaultTypeDelay      = 10 * time.Millisecond
	DefaultStillTimeout   = 60 * time.Second // on top of the still time
	DefaultSSHPort        = 22
	DefaultSSHTimeout     = 10 * time.Second
	DefaultSSHRetryDelay  = 5 * time.Second
	DefaultHealthCommand  = "true"
	DefaultHealthHost     = "127.0.0.1"
	maxReasonableDuration = 7 * 24 * time.Hour
)

// LoadOptions supplies what loading reads from outside the script.
type LoadOptions struct {
	// Vars are secret variables that take precedence over the environment
	// in ${NAME} expansion (the CLI puts --password-file here as PASSWORD).
	Vars map[string]string
	// LookupEnv resolves ${NAME}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Load reads and validates a script file.
func Load(path string, opts LoadOptions) (*Script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read automation script: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse parses and validates a script through yamlsrc. The error, if any,
// is a yamlsrc.Problems naming every problem with its file:line:col and,
// inside boot_commands, the step ("step 3 (click)").
func Parse(file string, data []byte, opts LoadOptions) (*Script, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	sf := &scriptFile{l: &loader{file: file, dir: filepath.Dir(file), opts: opts}, s: &Script{File: file}}
	if _, err := yamlsrc.Load(file, data, sf, yamlsrc.What("script")); err != nil {
		return nil, err
	}
	if !sf.read {
		return nil, yamlsrc.Problems{{File: file, Pos: yamlsrc.Pos{Line: 1, Column: 1}, Message: "the script must be one YAML document with boot_commands"}}
	}
	sf.s.Secrets = dedupe(sf.l.secrets)
	return sf.s, nil
}

// scriptFile is the document as yamlsrc decodes it: the script reads
// itself, since most of its values take more than one form.
type scriptFile struct {
	l    *loader
	s    *Script
	read bool
}

// DecodeNode reads the whole script. Problems outside boot_commands carry
// no path (their messages name the field); inside, the step.
func (sf *scriptFile) DecodeNode(n yamlsrc.Node) {
	sf.read = true
	sf.l.script(n.Label(""), sf.s)
}

type loader struct {
	file    string
	dir     string
	opts    LoadOptions
	secrets []string
}

type node = yamlsrc.Node

func (l *loader) pos(p yamlsrc.Pos) yamlsrc.Location { return yamlsrc.Location{File: l.file, Pos: p} }

// fields reads a mapping's keys; yamlsrc reports unknown and repeated ones.
func (l *loader) fields(n node, what string, allowed ...string) (map[string]node, bool) {
	f, ok := n.Fields(what, allowed...)
	if !ok {
		n.Errorf("%s must be a mapping, got %s", what, kind(n))
	}
	return f, ok
}

func kind(n node) string {
	switch n.Kind() {
	case yamlsrc.KindString:
		return "a string"
	case yamlsrc.KindInt:
		return "an integer"
	case yamlsrc.KindFloat:
		return "a number"
	case yamlsrc.KindBool:
		return "a boolean"
	case yamlsrc.KindMapping:
		return "a mapping"
	case yamlsrc.KindList:
		return "a list"
	}
	return "nothing"
}

func (l *loader) str(n node, field string) (string, bool) {
	switch n.Kind() {
	case yamlsrc.KindString, yamlsrc.KindInt, yamlsrc.KindFloat:
		// "type: 12345" means the digits, as written.
		return n.Text(), true
	}
	n.Errorf("%s must be a string, got %s", field, kind(n))
	return "", false
}

func (l *loader) nonEmpty(n node, field string) (string, bool) {
	s, ok := l.str(n, field)
	if ok && s == "" {
		n.Errorf("%s must not be empty", field)
		return "", false
	}
	return s, ok
}

func (l *loader) integer(n node, field string) (int, bool) {
	if n.Kind() != yamlsrc.KindInt {
		n.Errorf("%s must be an integer, got %s", field, kind(n))
		return 0, false
	}
	if i, ok := n.Int(); ok && i >= math.MinInt32 && i <= math.MaxInt32 {
		return int(i), true
	}
	n.Errorf("%s is out of range", field)
	return 0, false
}

func (l *loader) nonNegInt(n node, field string) (int, bool) {
	i, ok := l.integer(n, field)
	if ok && i < 0 {
		n.Errorf("%s must not be negative, got %d", field, i)
		return 0, false
	}
	return i, ok
}

func (l *loader) boolean(n node, field string) (bool, bool) {
	if b, ok := n.Bool(); ok {
		return b, true
	}
	n.Errorf("%s must be true or false, got %s", field, kind(n))
	return false, false
}

// seconds reads a duration: a number of seconds (int or float), or a Go
// duration string such as "90s" or "2m". Negative durations are errors.
func (l *loader) seconds(n node, field string) (time.Duration, bool) {
	var d time.Duration
	switch n.Kind() {
	case yamlsrc.KindInt:
		i, ok := l.integer(n, field)
		if !ok {
			return 0, false
		}
		d = time.Duration(i) * time.Second
	case yamlsrc.KindFloat:
		f, _ := n.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxReasonableDuration.Seconds() {
			n.Errorf("%s is out of range", field)
			return 0, false
		}
		d = time.Duration(f * float64(time.Second))
	case yamlsrc.KindString:
		pd, err := time.ParseDuration(n.Text())
		if err != nil {
			n.Errorf("%s must be a number of seconds or a duration like \"90s\", got %q", field, n.Text())
			return 0, false
		}
		d = pd
	default:
		n.Errorf("%s must be a number of seconds, got %s", field, kind(n))
		return 0, false
	}
	if d < 0 {
		n.Errorf("%s must not be negative, got %s", field, d)
		return 0, false
	}
	if d > maxReasonableDuration {
		n.Errorf("%s is out of range (more than a week)", field)
		return 0, false
	}
	return d, true
}

func (l *loader) point(n node, what string) (image.Point, bool) {
	f, ok := l.fields(n, what, "x", "y")
	if !ok {
		return image.Point{}, false
	}
	var p image.Point
	good := true
	for _, c := range []struct {
		name string
		dst  *int
	}{{"x", &p.X}, {"y", &p.Y}} {
		v, present := f[c.name]
		if !present {
			n.Errorf("%s needs %s", what, c.name)
			good = false
			continue
		}
		i, ok := l.integer(v, what+"."+c.name)
		good = good && ok
		*c.dst = i
	}
	return p, good
}

func (l *loader) screenPoint(n node, what string) (image.Point, bool) {
	p, ok := l.point(n, what)
	if ok && (p.X < 0 || p.Y < 0) {
		n.Errorf("%s must not be negative, got %d,%d", what, p.X, p.Y)
		return p, false
	}
	return p, ok
}

// expand replaces ${NAME} with a variable and $$ with $. It reports whether
// a variable was used, which makes the result a secret.
func (l *loader) expand(n node, s string) (out string, used, ok bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i:], '}')
			name := ""
			if end > 0 {
				name = s[i+2 : i+end]
			}
			if end < 0 || !validVarName(name) {
				n.Errorf("bad variable reference: use ${NAME} with letters, digits and _ (or $$ for a dollar sign)")
				return "", false, false
			}
			v, ok := l.opts.Vars[name]
			if !ok {
				v, ok = l.opts.LookupEnv(name)
			}
			if !ok {
				n.Errorf("variable ${%s} is not set", name)
				return "", false, false
			}
			b.WriteString(v)
			used = true
			i += end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), used, true
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func validVarName(s string) bool { return varNameRE.MatchString(s) }

// readSecretFile reads a password_file the way every other deskvm command
// reads one (secret.ReadFile), so a file that works for --password-file
// works here too. Relative paths are the script's directory's.
func (l *loader) readSecretFile(n node, path string) (string, bool) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.dir, path)
	}
	pw, err := secret.ReadFile(path)
	if err != nil {
		n.Errorf("%v", err) // names the file, never its content
		return "", false
	}
	return pw, true
}

func (l *loader) addSecret(s string) {
	if s != "" {
		l.secrets = append(l.secrets, s)
	}
}

var topFields = []string{"boot_wait", "max_install_time", "boot_commands", "health_check"}

func (l *loader) script(body node, s *Script) {
	f, ok := l.fields(body, "the script", topFields...)
	if !ok {
		return
	}
	if n, ok := f["boot_wait"]; ok {
		s.BootWait, _ = l.seconds(n, "boot_wait")
	}
	if n, ok := f["max_install_time"]; ok {
		s.MaxInstallTime, _ = l.seconds(n, "max_install_time")
	}
	if n, ok := f["health_check"]; ok {
		s.HealthCheck = l.healthCheck(n)
	}
	n, ok := f["boot_commands"]
	if !ok {
		if _, hc := f["health_check"]; !hc {
			body.Errorf("the script has no boot_commands (and no health_check)")
		}
		return
	}
	switch n.Kind() {
	case yamlsrc.KindNull:
		return
	case yamlsrc.KindList:
	default:
		n.Errorf("boot_commands must be a list of steps, got %s", kind(n))
		return
	}
	for i, entry := range n.Items() {
		if st := l.parseStep(entry, i+1); st != nil {
			s.Steps = append(s.Steps, st)
		}
	}
}

var stepCommands = []string{"wait", "wait_gone", "wait_still", "click", "double_click", "right_click",
	"click_at", "move_mouse", "type", "key", "hotkey", "delay", "screenshot"}

// parseStep reads one entry of boot_commands; its problems are labelled
// "step N (command)".
func (l *loader) parseStep(entry node, index int) Step {
	entry = entry.Label(fmt.Sprintf("step %d (?)", index))
	entries, ok := entry.Entries()
	if !ok {
		entry.Errorf("a step must be a mapping like \"- wait: Welcome\", got %s", kind(entry))
		return nil
	}
	if len(entries) != 1 {
		keys := make([]string, len(entries))
		for i, e := range entries {
			keys[i] = e.Key
		}
		entry.Errorf("a step has exactly one command, found %s (indent options under the command)", strings.Join(keys, ", "))
		return nil
	}
	cmd, keyPos := entries[0].Key, entries[0].KeyPos
	arg := entries[0].Value.Label(fmt.Sprintf("step %d (%s)", index, cmd))
	base := StepBase{Pos: l.pos(keyPos), Index: index}
	null := arg.Kind() == yamlsrc.KindNull
	if null && cmd != "screenshot" && slices.Contains(stepCommands, cmd) {
		arg.ErrorfAt(keyPos, "%s needs a value", cmd)
		return nil
	}
	switch cmd {
	case "wait":
		t, timeout, ok := l.target(arg, cmd, DefaultWaitTimeout, false)
		if !ok {
			return nil
		}
		return &Wait{StepBase: base, Target: t.Target, Timeout: timeout}
	case "wait_gone":
		t, timeout, ok := l.target(arg, cmd, DefaultWaitTimeout, false)
		if !ok {
			return nil
		}
		return &WaitGone{StepBase: base, Target: t.Target, Timeout: timeout}
	case "wait_still":
		return l.waitStill(arg, base)
	case "click", "double_click", "right_click":
		t, timeout, ok := l.target(arg, cmd, DefaultClickTimeout, true)
		if !ok {
			return nil
		}
		c := &Click{StepBase: base, Name: cmd, Target: t.Target, Offset: t.offset, Timeout: timeout, Button: ButtonLeft, Count: 1}
		switch cmd {
		case "double_click":
			c.Count = 2
		case "right_click":
			c.Button = ButtonRight
		}
		return c
	case "click_at":
		p, ok := l.screenPoint(arg, cmd)
		if !ok {
			return nil
		}
		return &ClickAt{StepBase: base, At: p}
	case "move_mouse":
		p, ok := l.screenPoint(arg, cmd)
		if !ok {
			return nil
		}
		return &MoveMouse{StepBase: base, To: p}
	case "type":
		return l.typeStep(arg, base)
	case "key":
		name, ok := l.nonEmpty(arg, "key")
		if !ok {
			return nil
		}
		k, ok := l.key(arg, name, "key")
		if !ok {
			return nil
		}
		k.StepBase = base
		return k
	case "hotkey":
		return l.hotkey(arg, base)
	case "delay":
		d, ok := l.seconds(arg, "delay")
		if !ok {
			return nil
		}
		return &Delay{StepBase: base, Duration: d}
	case "screenshot":
		name := fmt.Sprintf("step-%03d", index)
		if !null {
			var ok bool
			if name, ok = l.nonEmpty(arg, "screenshot"); !ok {
				return nil
			}
			if !screenshotNameRE.MatchString(name) {
				arg.Errorf("screenshot name %q may only use letters, digits, '.', '_' and '-'", name)
				return nil
			}
		}
		return &Screenshot{StepBase: base, Name: name}
	}
	arg.ErrorfAt(keyPos, "unknown command %q (known: %s)", cmd, strings.Join(stepCommands, ", "))
	return nil
}

var screenshotNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$`)

type parsedTarget struct {
	Target
	offset image.Point
}

// target reads the argument of wait, wait_gone and the clicks: a phrase
// or a mapping with text/regex and options.
func (l *loader) target(n node, cmd string, defTimeout time.Duration, click bool) (parsedTarget, time.Duration, bool) {
	t := parsedTarget{Target: Target{Fuzzy: true}}
	timeout := defTimeout
	switch n.Kind() {
	case yamlsrc.KindString, yamlsrc.KindInt, yamlsrc.KindFloat:
		s, _ := l.str(n, cmd)
		if strings.TrimSpace(s) == "" {
			n.Errorf("%s: text must not be empty", cmd)
			return t, 0, false
		}
		t.Text = s
		return t, timeout, true
	}
	allowed := []string{"text", "regex", "contains", "fuzzy", "region", "index", "timeout"}
	if click {
		allowed = append(allowed, "xoffset", "yoffset", "offset")
	}
	f, ok := l.fields(n, cmd, allowed...)
	if !ok {
		return t, 0, false
	}
	good := true
	text, hasText := f["text"]
	re, hasRegex := f["regex"]
	switch {
	case hasText && hasRegex:
		n.Errorf("%s: give text or regex, not both", cmd)
		good = false
	case !hasText && !hasRegex:
		n.Errorf("%s: missing text (or regex)", cmd)
		good = false
	case hasText:
		s, ok := l.str(text, "text")
		if ok && strings.TrimSpace(s) == "" {
			text.Errorf("text must not be empty")
			ok = false
		}
		t.Text, good = s, good && ok
	case hasRegex:
		s, ok := l.nonEmpty(re, "regex")
		if ok {
			// Screens are matched case-insensitively, like phrases.
			rx, err := regexp.Compile("(?i)" + s)
			if err != nil {
				re.Errorf("bad regex %q: %v", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
				ok = false
			}
			t.Regex = rx
		}
		good = good && ok
	}
	if v, ok := f["contains"]; ok {
		b, ok := l.boolean(v, "contains")
		t.Contains, good = b, good && ok
	}
	if v, ok := f["fuzzy"]; ok {
		b, ok := l.boolean(v, "fuzzy")
		t.Fuzzy, good = b, good && ok
	}
	if v, ok := f["index"]; ok {
		i, ok := l.integer(v, "index")
		t.Index, good = i, good && ok
	}
	if v, ok := f["timeout"]; ok {
		d, ok := l.seconds(v, "timeout")
		timeout, good = d, good && ok
	}
	if v, ok := f["region"]; ok {
		r, ok := l.region(v)
		if ok {
			t.Region = &r
		}
		good = good && ok
	}
	if v, ok := f["offset"]; ok {
		if _, x := f["xoffset"]; x {
			v.Errorf("give offset or xoffset/yoffset, not both")
			good = false
		} else if _, y := f["yoffset"]; y {
			v.Errorf("give offset or xoffset/yoffset, not both")
			good = false
		}
		p, ok := l.point(v, "offset")
		t.offset, good = p, good && ok
	}
	if v, ok := f["xoffset"]; ok {
		i, ok := l.integer(v, "xoffset")
		t.offset.X, good = i, good && ok
	}
	if v, ok := f["yoffset"]; ok {
		i, ok := l.integer(v, "yoffset")
		t.offset.Y, good = i, good && ok
	}
	return t, timeout, good
}

func (l *loader) region(n node) (image.Rectangle, bool) {
	f, ok := l.fields(n, "region", "x", "y", "width", "height")
	if !ok {
		return image.Rectangle{}, false
	}
	vals := map[string]int{}
	good := true
	for _, k := range []string{"x", "y", "width", "height"} {
		v, present := f[k]
		if !present {
			n.Errorf("region needs %s", k)
			good = false
			continue
		}
		i, ok := l.nonNegInt(v, "region."+k)
		vals[k] = i
		good = good && ok
	}
	if good && (vals["width"] == 0 || vals["height"] == 0) {
		n.Errorf("region must have a positive width and height")
		good = false
	}
	return image.Rect(vals["x"], vals["y"], vals["x"]+vals["width"], vals["y"]+vals["height"]), good
}

func (l *loader) waitStill(n node, base StepBase) Step {
	s := &WaitStill{StepBase: base}
	switch n.Kind() {
	case yamlsrc.KindInt, yamlsrc.KindFloat, yamlsrc.KindString:
		d, ok := l.seconds(n, "wait_still")
		if !ok {
			return nil
		}
		s.Still = d
	default:
		f, ok := l.fields(n, "wait_still", "seconds", "timeout")
		if !ok {
			return nil
		}
		v, ok := f["seconds"]
		if !ok {
			n.Errorf("wait_still needs seconds")
			return nil
		}
		d, good := l.seconds(v, "seconds")
		s.Still = d
		if t, ok := f["timeout"]; ok {
			d, ok := l.seconds(t, "timeout")
			s.Timeout, good = d, good && ok
		}
		if !good {
			return nil
		}
	}
	if s.Still <= 0 {
		n.Errorf("wait_still: seconds must be positive")
		return nil
	}
	if s.Timeout == 0 {
		s.Timeout = s.Still + DefaultStillTimeout
	} else if s.Timeout < s.Still {
		n.Errorf("wait_still: timeout %s is shorter than the still time %s", s.Timeout, s.Still)
		return nil
	}
	return s
}

func (l *loader) typeStep(n node, base StepBase) Step {
	t := &Type{StepBase: base, Delay: DefaultTypeDelay}
	var textNode node
	switch n.Kind() {
	case yamlsrc.KindString, yamlsrc.KindInt, yamlsrc.KindFloat:
		textNode = n
	default:
		f, ok := l.fields(n, "type", "text", "delay_ms", "secret", "password_file")
		if !ok {
			return nil
		}
		good := true
		if v, ok := f["delay_ms"]; ok {
			ms, ok := l.nonNegInt(v, "delay_ms")
			t.Delay, good = time.Duration(ms)*time.Millisecond, good && ok
		}
		if v, ok := f["secret"]; ok {
			b, ok := l.boolean(v, "secret")
			t.Secret, good = b, good && ok
		}
		pf, hasFile := f["password_file"]
		var hasText bool
		textNode, hasText = f["text"]
		switch {
		case hasFile && hasText:
			n.Errorf("type: give text or password_file, not both")
			return nil
		case hasFile:
			path, ok := l.nonEmpty(pf, "password_file")
			if !ok {
				return nil
			}
			pw, ok := l.readSecretFile(pf, path)
			if !ok || !good {
				return nil
			}
			if !l.typeable(pf, pw, true) {
				return nil
			}
			t.Text, t.Secret = pw, true
			l.addSecret(pw)
			return t
		case !hasText:
			n.Errorf("type: missing text")
			return nil
		}
		if !good {
			return nil
		}
	}
	raw, ok := l.str(textNode, "type text")
	if !ok {
		return nil
	}
	text, fromVar, ok := l.expand(textNode, raw)
	if !ok {
		return nil
	}
	if text == "" && !fromVar {
		textNode.Errorf("type: text must not be empty")
		return nil
	}
	t.Text = text
	t.Secret = t.Secret || fromVar
	if t.Secret {
		l.addSecret(text)
	}
	if !l.typeable(textNode, text, t.Secret) {
		return nil
	}
	return t
}

// typeable checks that every character has a key; for secret text the
// message does not quote the character.
func (l *loader) typeable(n node, text string, secret bool) bool {
	for i, r := range []rune(text) {
		if _, err := keysym.Char(r); err != nil {
			if secret {
				n.Errorf("secret text: character %d cannot be typed on a US keyboard layout", i+1)
			} else {
				n.Errorf("%v (at character %d)", err, i+1)
			}
			return false
		}
	}
	return true
}

func (l *loader) key(n node, name, field string) (*Key, bool) {
	sym, ok := keysym.Lookup(name)
	if !ok {
		n.Errorf("unknown key name %q in %s (known: %s, or one printable character)", name, field, strings.Join(keysym.Names(), ", "))
		return nil, false
	}
	if len(name) > 1 {
		name = strings.ToLower(name)
	}
	return &Key{Name: name, Keysym: sym}, true
}

func (l *loader) hotkey(n node, base StepBase) Step {
	h := &Hotkey{StepBase: base}
	var mods []node
	var modNames []string
	var keyNode node
	var keyName string
	switch n.Kind() {
	case yamlsrc.KindString:
		// Also accept "ctrl+alt+delete".
		s, _ := l.str(n, "hotkey")
		parts := strings.Split(s, "+")
		for _, p := range parts[:len(parts)-1] {
			mods, modNames = append(mods, n), append(modNames, strings.TrimSpace(p))
		}
		keyNode, keyName = n, strings.TrimSpace(parts[len(parts)-1])
		if keyName == "" && strings.HasSuffix(s, "+") {
			keyName = "+" // "ctrl++"
		}
	default:
		f, ok := l.fields(n, "hotkey", "modifiers", "key")
		if !ok {
			return nil
		}
		good := true
		if v, ok := f["key"]; ok {
			keyNode = v
			keyName, good = l.nonEmpty(v, "hotkey key")
		} else {
			n.Errorf("hotkey needs key")
			good = false
		}
		if v, ok := f["modifiers"]; ok {
			if v.Kind() != yamlsrc.KindList {
				v.Errorf("hotkey modifiers must be a list like [ctrl, alt], got %s", kind(v))
				good = false
			} else {
				for _, m := range v.Items() {
					name, ok := l.nonEmpty(m, "modifier")
					good = good && ok
					mods, modNames = append(mods, m), append(modNames, name)
				}
			}
		}
		if !good {
			return nil
		}
	}
	good := true
	for i, name := range modNames {
		k, ok := l.key(mods[i], name, "hotkey modifiers")
		if !ok {
			good = false
			continue
		}
		if !k.Keysym.IsModifier() {
			mods[i].Errorf("%q is not a modifier (shift, ctrl, alt, cmd/win/super/meta)", name)
			good = false
			continue
		}
		h.Modifiers = append(h.Modifiers, *k)
	}
	k, ok := l.key(keyNode, keyName, "hotkey key")
	if !ok || !good {
		return nil
	}
	h.Key = *k
	return h
}

var healthFields = []string{"type", "host", "port", "user", "password", "password_file", "key",
	"command", "expect", "timeout", "retries", "retry_delay", "known_hosts"}

func (l *loader) healthCheck(n node) *HealthCheck {
	f, ok := l.fields(n, "health_check", healthFields...)
	if !ok {
		return nil
	}
	h := &HealthCheck{Pos: l.pos(n.Pos()), Host: DefaultHealthHost, Port: DefaultSSHPort, Command: DefaultHealthCommand,
		Timeout: DefaultSSHTimeout, RetryDelay: DefaultSSHRetryDelay}
	good := true
	plain := func(field string) (string, bool) {
		s, ok := l.nonEmpty(f[field], "health_check."+field)
		if !ok {
			return "", false
		}
		v, _, ok := l.expand(f[field], s)
		return v, ok
	}
	if v, ok := f["type"]; ok {
		typ, ok := l.str(v, "health_check.type")
		if ok && typ != "ssh" {
			v.Errorf("health_check.type %q is not supported (only ssh)", typ)
			ok = false
		}
		h.Type, good = typ, good && ok
	} else {
		n.Errorf("health_check needs type: ssh")
		good = false
	}
	for _, field := range []string{"host", "user", "command", "key", "known_hosts"} {
		if _, present := f[field]; !present {
			continue
		}
		v, ok := plain(field)
		good = good && ok
		switch field {
		case "host":
			h.Host = v
		case "user":
			h.User = v
		case "command":
			h.Command = v
		case "key":
			if v != "" && !filepath.IsAbs(v) && !strings.HasPrefix(v, "~") {
				v = filepath.Join(l.dir, v)
			}
			h.KeyFile = v
		case "known_hosts":
			h.KnownHostsIn = v
		}
	}
	if _, ok := f["user"]; !ok {
		n.Errorf("health_check needs user")
		good = false
	}
	if v, ok := f["port"]; ok {
		p, ok := l.integer(v, "health_check.port")
		if ok && (p < 1 || p > 65535) {
			v.Errorf("health_check.port must be 1-65535, got %d", p)
			ok = false
		}
		h.Port, good = p, good && ok
	}
	if v, ok := f["password"]; ok {
		s, ok := l.str(v, "health_check.password")
		if ok {
			s, _, ok = l.expand(v, s)
			h.Password = s
			l.addSecret(s)
		}
		good = good && ok
	}
	if v, ok := f["password_file"]; ok {
		if _, both := f["password"]; both {
			v.Errorf("health_check: give password or password_file, not both")
			good = false
		} else if path, ok := l.nonEmpty(v, "health_check.password_file"); ok {
			pw, ok := l.readSecretFile(v, path)
			h.Password, good = pw, good && ok
			l.addSecret(pw)
		} else {
			good = false
		}
	}
	if h.Password == "" && h.KeyFile == "" && good {
		n.Errorf("health_check needs password, password_file or key")
		good = false
	}
	if v, ok := f["expect"]; ok {
		switch v.Kind() {
		case yamlsrc.KindMapping:
			ef, ok := l.fields(v, "health_check.expect", "regex", "text")
			if !ok {
				good = false
				break
			}
			if rv, ok := ef["regex"]; ok {
				s, ok := l.nonEmpty(rv, "expect.regex")
				if ok {
					rx, err := regexp.Compile(s)
					if err != nil {
						rv.Errorf("bad regex %q: %v", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
						ok = false
					}
					h.ExpectRegex = rx
				}
				good = good && ok
			} else if tv, ok := ef["text"]; ok {
				h.Expect, ok = l.nonEmpty(tv, "expect.text")
				good = good && ok
			} else {
				v.Errorf("health_check.expect needs regex or text")
				good = false
			}
		default:
			s, ok := l.nonEmpty(v, "health_check.expect")
			h.Expect, good = s, good && ok
		}
	}
	if v, ok := f["timeout"]; ok {
		d, ok := l.seconds(v, "health_check.timeout")
		if ok && d == 0 {
			v.Errorf("health_check.timeout must be positive")
			ok = false
		}
		h.Timeout, good = d, good && ok
	}
	if v, ok := f["retries"]; ok {
		i, ok := l.nonNegInt(v, "health_check.retries")
		h.Retries, good = i, good && ok
	}
	if v, ok := f["retry_delay"]; ok {
		d, ok := l.seconds(v, "health_check.retry_delay")
		h.RetryDelay, good = d, good && ok
	}
	if !good {
		return nil
	}
	return h
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	// Longest first, so redaction replaces "hunter22" before "hunter2".
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
