package automation

import (
	"fmt"
	"image"
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
	DefaultWaitTimeout   = 60 * time.Second
	DefaultClickTimeout  = 30 * time.Second
	DefaultTypeDelay     = 10 * time.Millisecond
	DefaultStillTimeout  = 60 * time.Second // on top of the still time
	DefaultSSHPort       = 22
	DefaultSSHTimeout    = 10 * time.Second
	DefaultSSHRetryDelay = 5 * time.Second
	DefaultHealthCommand = "true"
	DefaultHealthHost    = "127.0.0.1"
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
// is a yamlsrc.Problems naming every problem with its file:line:col and
// field path; inside boot_commands the path starts with the step
// ("step 3 (click): region.width").
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

type node = yamlsrc.Node

// scriptFile is the document as yamlsrc decodes it: the fixed options
// decode as a struct; the steps and the health check, which need the
// loader (variables, files, secrets), are read from their nodes.
type scriptFile struct {
	l    *loader
	s    *Script
	read bool
}

type scriptDoc struct {
	BootWait       time.Duration `json:"boot_wait"`
	MaxInstallTime time.Duration `json:"max_install_time"`
	BootCommands   node          `json:"boot_commands"`
	HealthCheck    node          `json:"health_check"`
}

func (sf *scriptFile) DecodeNode(n node) {
	sf.read = true
	var d scriptDoc
	n.Decode(&d)
	if n.Kind() != yamlsrc.KindMapping {
		return
	}
	s := sf.s
	s.BootWait, s.MaxInstallTime = d.BootWait, d.MaxInstallTime
	if d.HealthCheck.Kind() != yamlsrc.KindNull {
		s.HealthCheck = sf.l.healthCheck(d.HealthCheck)
	}
	switch bc := d.BootCommands; bc.Kind() {
	case yamlsrc.KindNull:
		if !n.Has("boot_commands") && !n.Has("health_check") {
			n.Errorf("the script has no boot_commands (and no health_check)")
		}
	case yamlsrc.KindList:
		for i, entry := range bc.Items() {
			if st := sf.l.parseStep(entry, i+1); st != nil {
				s.Steps = append(s.Steps, st)
			}
		}
	default:
		bc.Errorf("expected a list of steps, got %s", bc.Describe())
	}
}

type loader struct {
	file    string
	dir     string
	opts    LoadOptions
	secrets []string
}

func (l *loader) pos(p yamlsrc.Pos) yamlsrc.Location { return yamlsrc.Location{File: l.file, Pos: p} }

// str is a script's string that must not be empty; like yamlsrc.Text it
// takes a number as written ("key: 5").
type str string

func (s *str) DecodeNode(n node) {
	var t yamlsrc.Text
	if n.Decode(&t) && t == "" {
		n.Errorf("must not be empty")
	}
	*s = str(t)
}

// isText tells the short form of a step (a phrase, a duration) from its
// mapping form.
func isText(n node) bool {
	switch n.Kind() {
	case yamlsrc.KindString, yamlsrc.KindInt, yamlsrc.KindFloat:
		return true
	}
	return false
}

// point is a mapping {x, y}.
type point struct{ image.Point }

func (p *point) DecodeNode(n node) {
	var v struct {
		X *int `json:"x"`
		Y *int `json:"y"`
	}
	if !n.Decode(&v) || !present(n, []string{"x", "y"}, v.X, v.Y) {
		return
	}
	p.Point = image.Pt(*v.X, *v.Y)
}

// region is a mapping {x, y, width, height} on the screen.
type region struct{ image.Rectangle }

func (r *region) DecodeNode(n node) {
	var v struct {
		X      *int `json:"x"`
		Y      *int `json:"y"`
		Width  *int `json:"width"`
		Height *int `json:"height"`
	}
	if !n.Decode(&v) {
		return
	}
	names, vals := []string{"x", "y", "width", "height"}, []*int{v.X, v.Y, v.Width, v.Height}
	if !present(n, names, vals...) {
		return
	}
	good := true
	for i, p := range vals {
		if *p < 0 {
			n.FieldErrorf(names[i], "must not be negative, got %d", *p)
			good = false
		}
	}
	if good && (*v.Width == 0 || *v.Height == 0) {
		n.Errorf("must have a positive width and height")
	}
	r.Rectangle = image.Rect(*v.X, *v.Y, *v.X+*v.Width, *v.Y+*v.Height)
}

// present reports the fields of a mapping that are missing (or null).
func present(n node, names []string, vals ...*int) bool {
	ok := true
	for i, v := range vals {
		ok = required(n, names[i], v != nil, true) && ok
	}
	return ok
}

// required reports a required field of a decoded mapping (n) that is
// not set: missing, or null. A field that was there but had the wrong
// type is also unset; decoded is false then and its problem was reported.
func required(n node, key string, set, decoded bool) bool {
	switch {
	case set:
		return true
	case !n.Has(key):
		n.Errorf("missing %s", key)
	case decoded:
		n.FieldErrorf(key, "needs a value")
	}
	return false
}

// compileRegex compiles a regex field, reporting a bad one at it.
func compileRegex(n node, key, prefix, s string) *regexp.Regexp {
	rx, err := regexp.Compile(prefix + s)
	if err != nil {
		n.FieldErrorf(key, "bad regex %q: %v", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return rx
}

// expand replaces ${NAME} with a variable and $$ with $. It reports whether
// a variable was used, which makes the result a secret.
func (l *loader) expand(s string) (out string, used bool, err error) {
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
				return "", false, fmt.Errorf("bad variable reference: use ${NAME} with letters, digits and _ (or $$ for a dollar sign)")
			}
			v, ok := l.opts.Vars[name]
			if !ok {
				v, ok = l.opts.LookupEnv(name)
			}
			if !ok {
				return "", false, fmt.Errorf("variable ${%s} is not set", name)
			}
			b.WriteString(v)
			used = true
			i += end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), used, nil
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func validVarName(s string) bool { return varNameRE.MatchString(s) }

// readSecretFile reads a password_file the way every other deskvm command
// reads one (secret.ReadFile), so a file that works for --password-file
// works here too. Relative paths are the script's directory's. The error
// names the file, never its content.
func (l *loader) readSecretFile(path string) (string, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.dir, path)
	}
	return secret.ReadFile(path)
}

func (l *loader) addSecret(s string) {
	if s != "" {
		l.secrets = append(l.secrets, s)
	}
}

var stepCommands = []string{"wait", "wait_gone", "wait_still", "click", "double_click", "right_click",
	"click_at", "move_mouse", "type", "key", "hotkey", "delay", "screenshot"}

// parseStep reads one entry of boot_commands: a one-key mapping whose
// value is a phrase or a mapping of options. Its problems are labelled
// "step N (command)".
func (l *loader) parseStep(entry node, index int) Step {
	entry = entry.Label(fmt.Sprintf("step %d (?)", index))
	entries, ok := entry.Entries()
	if !ok {
		entry.Errorf("a step must be a mapping like \"- wait: Welcome\", got %s", entry.Describe())
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
	case "wait", "wait_gone":
		t, ok := l.target(arg, false)
		if !ok {
			return nil
		}
		if cmd == "wait_gone" {
			return &WaitGone{StepBase: base, Target: t.Target, Timeout: t.timeout(DefaultWaitTimeout)}
		}
		return &Wait{StepBase: base, Target: t.Target, Timeout: t.timeout(DefaultWaitTimeout)}
	case "wait_still":
		return waitStill(arg, base)
	case "click", "double_click", "right_click":
		t, ok := l.target(arg, true)
		if !ok {
			return nil
		}
		c := &Click{StepBase: base, Name: cmd, Target: t.Target, Offset: t.offset, Timeout: t.timeout(DefaultClickTimeout), Button: ButtonLeft, Count: 1}
		switch cmd {
		case "double_click":
			c.Count = 2
		case "right_click":
			c.Button = ButtonRight
		}
		return c
	case "click_at", "move_mouse":
		var p point
		if !arg.Decode(&p) {
			return nil
		}
		if p.X < 0 || p.Y < 0 {
			arg.Errorf("must not be negative, got %d,%d", p.X, p.Y)
			return nil
		}
		if cmd == "move_mouse" {
			return &MoveMouse{StepBase: base, To: p.Point}
		}
		return &ClickAt{StepBase: base, At: p.Point}
	case "type":
		return l.typeStep(arg, base)
	case "key":
		var name str
		if !arg.Decode(&name) {
			return nil
		}
		k, err := lookupKey(string(name))
		if err != nil {
			arg.Errorf("%v", err)
			return nil
		}
		k.StepBase = base
		return k
	case "hotkey":
		return hotkey(arg, base)
	case "delay":
		var d time.Duration
		if !arg.Decode(&d) {
			return nil
		}
		return &Delay{StepBase: base, Duration: d}
	case "screenshot":
		name := str(fmt.Sprintf("step-%03d", index))
		if !null {
			if !arg.Decode(&name) {
				return nil
			}
			if !screenshotNameRE.MatchString(string(name)) {
				arg.Errorf("screenshot name %q may only use letters, digits, '.', '_' and '-'", name)
				return nil
			}
		}
		return &Screenshot{StepBase: base, Name: string(name)}
	}
	arg.ErrorfAt(keyPos, "unknown command %q (known: %s)", cmd, strings.Join(stepCommands, ", "))
	return nil
}

var screenshotNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$`)

// targetOpts are the options of wait and wait_gone.
type targetOpts struct {
	Text     *yamlsrc.Text  `json:"text"`
	Regex    *str           `json:"regex"`
	Contains bool           `json:"contains"`
	Fuzzy    *bool          `json:"fuzzy"`
	Region   *region        `json:"region"`
	Index    int            `json:"index"`
	Timeout  *time.Duration `json:"timeout"`
}

// clickOpts are the options of the clicks: a target and an offset.
type clickOpts struct {
	targetOpts
	Offset  *point `json:"offset"`
	XOffset int    `json:"xoffset"`
	YOffset int    `json:"yoffset"`
}

type parsedTarget struct {
	Target
	offset image.Point
	wait   *time.Duration
}

func (t parsedTarget) timeout(def time.Duration) time.Duration {
	if t.wait != nil {
		return *t.wait
	}
	return def
}

// target reads the argument of wait, wait_gone and the clicks: a phrase
// or a mapping with text/regex and options.
func (l *loader) target(n node, click bool) (parsedTarget, bool) {
	t := parsedTarget{Target: Target{Fuzzy: true}}
	if isText(n) {
		var s yamlsrc.Text
		n.Decode(&s)
		if strings.TrimSpace(string(s)) == "" {
			n.Errorf("text must not be empty")
			return t, false
		}
		t.Text = string(s)
		return t, true
	}
	var o clickOpts
	var good bool
	if click {
		good = n.Decode(&o)
	} else {
		good = n.Decode(&o.targetOpts)
	}
	if n.Kind() != yamlsrc.KindMapping {
		return t, false
	}
	switch {
	case n.Has("text") && n.Has("regex"):
		n.Errorf("give text or regex, not both")
		good = false
	case !n.Has("text") && !n.Has("regex"):
		n.Errorf("missing text (or regex)")
		good = false
	case n.Has("regex") && !required(n, "regex", o.Regex != nil, good),
		n.Has("text") && !required(n, "text", o.Text != nil, good):
		good = false
	case o.Regex != nil:
		// Screens are matched case-insensitively, like phrases.
		t.Regex = compileRegex(n, "regex", "(?i)", string(*o.Regex))
		good = good && t.Regex != nil
	case strings.TrimSpace(string(*o.Text)) == "":
		n.FieldErrorf("text", "must not be empty")
		good = false
	default:
		t.Text = string(*o.Text)
	}
	t.Contains, t.Index, t.wait = o.Contains, o.Index, o.Timeout
	if o.Fuzzy != nil {
		t.Fuzzy = *o.Fuzzy
	}
	if o.Region != nil {
		t.Region = &o.Region.Rectangle
	}
	t.offset = image.Pt(o.XOffset, o.YOffset)
	if o.Offset != nil {
		if n.Has("xoffset") || n.Has("yoffset") {
			n.FieldErrorf("offset", "give offset or xoffset/yoffset, not both")
			good = false
		}
		t.offset = o.Offset.Point
	}
	return t, good
}

func waitStill(n node, base StepBase) Step {
	s := &WaitStill{StepBase: base}
	if isText(n) {
		if !n.Decode(&s.Still) {
			return nil
		}
	} else {
		var o struct {
			Still   *time.Duration `json:"seconds"`
			Timeout time.Duration  `json:"timeout"`
		}
		good := n.Decode(&o)
		if n.Kind() != yamlsrc.KindMapping {
			return nil
		}
		if !required(n, "seconds", o.Still != nil, good) || !good {
			return nil
		}
		s.Still, s.Timeout = *o.Still, o.Timeout
	}
	if s.Still <= 0 {
		n.Errorf("the still time must be positive")
		return nil
	}
	if s.Timeout == 0 {
		s.Timeout = s.Still + DefaultStillTimeout
	} else if s.Timeout < s.Still {
		n.FieldErrorf("timeout", "%s is shorter than the still time %s", s.Timeout, s.Still)
		return nil
	}
	return s
}

func (l *loader) typeStep(n node, base StepBase) Step {
	t := &Type{StepBase: base, Delay: DefaultTypeDelay}
	var raw yamlsrc.Text
	textErr := n.Errorf // where problems with the text go
	if isText(n) {
		n.Decode(&raw)
	} else {
		var o struct {
			Text         *yamlsrc.Text `json:"text"`
			DelayMS      *int          `json:"delay_ms"`
			Secret       bool          `json:"secret"`
			PasswordFile *str          `json:"password_file"`
		}
		good := n.Decode(&o)
		if n.Kind() != yamlsrc.KindMapping {
			return nil
		}
		t.Secret = o.Secret
		if o.DelayMS != nil {
			if *o.DelayMS < 0 {
				n.FieldErrorf("delay_ms", "must not be negative, got %d", *o.DelayMS)
				good = false
			}
			t.Delay = time.Duration(*o.DelayMS) * time.Millisecond
		}
		hasText, hasFile := n.Has("text"), n.Has("password_file")
		switch {
		case hasFile && hasText:
			n.Errorf("give text or password_file, not both")
			return nil
		case hasFile:
			if !required(n, "password_file", o.PasswordFile != nil, good) || !good {
				return nil
			}
			pw, err := l.readSecretFile(string(*o.PasswordFile))
			if err != nil {
				n.FieldErrorf("password_file", "%v", err)
				return nil
			}
			if !typeable(pw, true, func(f string, a ...any) { n.FieldErrorf("password_file", f, a...) }) {
				return nil
			}
			t.Text, t.Secret = pw, true
			l.addSecret(pw)
			return t
		case !hasText:
			n.Errorf("missing text")
			return nil
		}
		if !required(n, "text", o.Text != nil, good) || !good {
			return nil
		}
		raw = *o.Text
		textErr = func(f string, a ...any) { n.FieldErrorf("text", f, a...) }
	}
	text, fromVar, err := l.expand(string(raw))
	if err != nil {
		textErr("%v", err)
		return nil
	}
	if text == "" && !fromVar {
		textErr("text must not be empty")
		return nil
	}
	t.Text = text
	t.Secret = t.Secret || fromVar
	if t.Secret {
		l.addSecret(text)
	}
	if !typeable(text, t.Secret, textErr) {
		return nil
	}
	return t
}

// typeable checks that every character has a key; for secret text the
// message does not quote the character.
func typeable(text string, secret bool, errorf func(string, ...any)) bool {
	for i, r := range []rune(text) {
		if _, err := keysym.Char(r); err != nil {
			if secret {
				errorf("secret text: character %d cannot be typed on a US keyboard layout", i+1)
			} else {
				errorf("%v (at character %d)", err, i+1)
			}
			return false
		}
	}
	return true
}

func lookupKey(name string) (*Key, error) {
	sym, ok := keysym.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown key name %q (known: %s, or one printable character)", name, strings.Join(keysym.Names(), ", "))
	}
	if len(name) > 1 {
		name = strings.ToLower(name)
	}
	return &Key{Name: name, Keysym: sym}, nil
}

// hotkey reads "ctrl+alt+delete" or {modifiers: [ctrl, alt], key: delete}.
func hotkey(n node, base StepBase) Step {
	h := &Hotkey{StepBase: base}
	var modNames []str
	var keyName str
	var modErr func(i int, format string, a ...any)
	keyErr := n.Errorf
	if n.Kind() == yamlsrc.KindString {
		s := n.Text()
		parts := strings.Split(s, "+")
		for _, p := range parts[:len(parts)-1] {
			modNames = append(modNames, str(strings.TrimSpace(p)))
		}
		keyName = str(strings.TrimSpace(parts[len(parts)-1]))
		if keyName == "" && strings.HasSuffix(s, "+") {
			keyName = "+" // "ctrl++"
		}
		modErr = func(_ int, f string, a ...any) { n.Errorf(f, a...) }
	} else {
		var o struct {
			Modifiers []str `json:"modifiers"`
			Key       *str  `json:"key"`
		}
		good := n.Decode(&o)
		if n.Kind() != yamlsrc.KindMapping {
			return nil
		}
		if !required(n, "key", o.Key != nil, good) || !good {
			return nil
		}
		modNames, keyName = o.Modifiers, *o.Key
		modErr = func(i int, f string, a ...any) { n.FieldErrorf(fmt.Sprintf("modifiers[%d]", i), f, a...) }
		keyErr = func(f string, a ...any) { n.FieldErrorf("key", f, a...) }
	}
	good := true
	for i, name := range modNames {
		k, err := lookupKey(string(name))
		switch {
		case err != nil:
			modErr(i, "%v", err)
			good = false
		case !k.Keysym.IsModifier():
			modErr(i, "%q is not a modifier (shift, ctrl, alt, cmd/win/super/meta)", name)
			good = false
		default:
			h.Modifiers = append(h.Modifiers, *k)
		}
	}
	k, err := lookupKey(string(keyName))
	if err != nil {
		keyErr("%v", err)
		return nil
	}
	if !good {
		return nil
	}
	h.Key = *k
	return h
}

// healthDoc is the health_check mapping.
type healthDoc struct {
	Type         *str           `json:"type"`
	Host         *str           `json:"host"`
	Port         *int           `json:"port"`
	User         *str           `json:"user"`
	Password     *yamlsrc.Text  `json:"password"`
	PasswordFile *str           `json:"password_file"`
	Key          *str           `json:"key"`
	Command      *str           `json:"command"`
	Expect       *expect        `json:"expect"`
	Timeout      *time.Duration `json:"timeout"`
	Retries      int            `json:"retries"`
	RetryDelay   *time.Duration `json:"retry_delay"`
	KnownHosts   *str           `json:"known_hosts"`
}

// expect is what the health check's output must show: a phrase, or
// {regex} or {text}.
type expect struct {
	text string
	re   *regexp.Regexp
}

func (e *expect) DecodeNode(n node) {
	if n.Kind() != yamlsrc.KindMapping {
		var s str
		n.Decode(&s)
		e.text = string(s)
		return
	}
	var o struct {
		Regex *str `json:"regex"`
		Text  *str `json:"text"`
	}
	if !n.Decode(&o) {
		return
	}
	switch {
	case o.Regex != nil:
		e.re = compileRegex(n, "regex", "", string(*o.Regex))
	case o.Text != nil:
		e.text = string(*o.Text)
	default:
		n.Errorf("missing regex or text")
	}
}

func (l *loader) healthCheck(n node) *HealthCheck {
	var d healthDoc
	good := n.Decode(&d)
	if n.Kind() != yamlsrc.KindMapping {
		return nil
	}
	h := &HealthCheck{Pos: l.pos(n.Pos()), Host: DefaultHealthHost, Port: DefaultSSHPort, Command: DefaultHealthCommand,
		Timeout: DefaultSSHTimeout, RetryDelay: DefaultSSHRetryDelay, Retries: d.Retries}
	bad := func(key, format string, a ...any) {
		n.FieldErrorf(key, format, a...)
		good = false
	}
	if !required(n, "type", d.Type != nil, good) {
		good = false
	} else if *d.Type != "ssh" {
		bad("type", "%q is not supported (only ssh)", *d.Type)
	}
	if !required(n, "user", d.User != nil, good) {
		good = false
	}
	expanded := func(key string, s *str, dst *string) {
		if s == nil {
			return
		}
		v, _, err := l.expand(string(*s))
		if err != nil {
			bad(key, "%v", err)
		}
		*dst = v
	}
	expanded("host", d.Host, &h.Host)
	expanded("user", d.User, &h.User)
	expanded("command", d.Command, &h.Command)
	expanded("key", d.Key, &h.KeyFile)
	expanded("known_hosts", d.KnownHosts, &h.KnownHostsIn)
	if v := h.KeyFile; v != "" && !filepath.IsAbs(v) && !strings.HasPrefix(v, "~") {
		h.KeyFile = filepath.Join(l.dir, v)
	}
	if d.Port != nil {
		if *d.Port < 1 || *d.Port > 65535 {
			bad("port", "must be 1-65535, got %d", *d.Port)
		}
		h.Port = *d.Port
	}
	if d.Password != nil {
		pw, _, err := l.expand(string(*d.Password))
		if err != nil {
			bad("password", "%v", err)
		}
		h.Password = pw
		l.addSecret(pw)
	}
	if d.PasswordFile != nil {
		if n.Has("password") {
			bad("password_file", "give password or password_file, not both")
		} else if pw, err := l.readSecretFile(string(*d.PasswordFile)); err != nil {
			bad("password_file", "%v", err)
		} else {
			h.Password = pw
			l.addSecret(pw)
		}
	}
	if h.Password == "" && h.KeyFile == "" && good {
		n.Errorf("needs password, password_file or key")
		good = false
	}
	if d.Expect != nil {
		h.Expect, h.ExpectRegex = d.Expect.text, d.Expect.re
	}
	if d.Timeout != nil {
		if *d.Timeout == 0 {
			bad("timeout", "must be positive")
		}
		h.Timeout = *d.Timeout
	}
	if d.Retries < 0 {
		bad("retries", "must not be negative, got %d", d.Retries)
	}
	if d.RetryDelay != nil {
		h.RetryDelay = *d.RetryDelay
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
