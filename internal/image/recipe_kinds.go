package image

import (
	"errors"

	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/deskvm/deskvm/internal/image/macos"
	"github.com/deskvm/deskvm/internal/image/unattend"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// wrongKindKeys refuses a key that belongs to another kind (its field's
// `kinds` tag), so a windowsIso in a linux recipe is an error and not
// silently ignored.
func (r *Recipe) wrongKindKeys() yamlsrc.Problems {
	var ps yamlsrc.Problems
	v := reflect.ValueOf(r).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		kinds := f.Tag.Get("kinds")
		if kinds == "" || v.Field(i).IsZero() {
			continue
		}
		allowed := strings.Split(kinds, ",")
		if slices.Contains(allowed, r.Kind) {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		ps = append(ps, yamlsrc.Errorf(key, "is a key of kind %s recipes; this recipe is kind %s", strings.Join(allowed, " and "), r.Kind))
	}
	if r.Kind != KindLinux && r.SSHPublicKey != "" {
		ps = append(ps, yamlsrc.Errorf("sshPublicKey", "is not supported for kind %s: the build logs in with the user's password (password or passwordFile)", r.Kind))
	}
	if r.Kind != KindLinux && r.Firmware != "uefi" {
		ps = append(ps, yamlsrc.Errorf("firmware", "%s images boot with uefi only", r.Kind))
	}
	return ps
}

// validatePassword wants exactly one of password and passwordFile.
func (r *Recipe) validatePassword() yamlsrc.Problems {
	switch {
	case r.Password != "" && r.PasswordFile != "":
		return yamlsrc.Problems{yamlsrc.Errorf("password", "give password or passwordFile, not both")}
	case r.Password == "" && r.PasswordFile == "":
		return yamlsrc.Problems{yamlsrc.Errorf("password", "a %s recipe needs password or passwordFile", r.Kind)}
	case strings.ContainsAny(string(r.Password), "\x00\r\n"):
		return yamlsrc.Problems{yamlsrc.Errorf("password", "contains a NUL or line break")}
	}
	return nil
}

func (r *Recipe) validateWindows() yamlsrc.Problems {
	var ps yamlsrc.Problems
	bad := func(path, format string, a ...any) { ps = append(ps, yamlsrc.Errorf(path, format, a...)) }
	for _, in := range []struct {
		key string
		v   *Input
	}{{"windowsIso", r.WindowsISO}, {"virtioDriversIso", r.VirtioDriversISO}} {
		if in.v == nil {
			bad(in.key, "a windows recipe needs %s: {url, sha256} or {path}", in.key)
		} else {
			ps = append(ps, in.v.validate(in.key)...)
		}
	}
	switch {
	case r.Edition != "" && r.ImageIndex != 0:
		bad("edition", "set edition or imageIndex, not both")
	case r.Edition == "" && r.ImageIndex == 0:
		bad("edition", "a windows recipe needs edition (a name deskvm image validate-iso lists) or imageIndex")
	case r.ImageIndex < 0:
		bad("imageIndex", "%d is not a positive index", r.ImageIndex)
	}
	if r.DiskSize.IsSet() && r.DiskSize.Bytes() < minWindowsDisk.Bytes() {
		bad("diskSize", "%s is smaller than the 40G Windows needs", r.DiskSize)
	}
	if r.Memory.MiB < 2048 {
		bad("memory", "%d MiB is too little for Windows Setup (at least 2048)", r.Memory.MiB)
	}
	if r.AnswerMedia != "iso" && r.AnswerMedia != "floppy" {
		bad("answerMedia", "%q: want iso or floppy", r.AnswerMedia)
	}
	if r.InstallTimeout.Duration < 0 {
		bad("installTimeout", "must be positive")
	}
	if r.RDPPort < 0 || r.RDPPort > 65535 {
		bad("rdpPort", "%d: want 1-65535, or leave it out", r.RDPPort)
	} else if r.RDPPort != 0 && r.RDPPort == r.SSHPort {
		bad("rdpPort", "%d is sshPort too", r.RDPPort)
	}
	ps = append(ps, r.validatePassword()...)
	// The answer file's own rules, by the recipe's key names.
	pw := string(r.Password)
	if pw == "" {
		pw = "x" // passwordFile: read at build time
	}
	cfg := unattend.Config{
		Locale: r.Locale, TimeZone: r.Timezone, ComputerName: r.ComputerName, Username: r.Username,
		Password: pw, ProductKey: string(r.ProductKey), Edition: "x", WindowsVersion: "w11",
	}
	keys := map[string]string{"locale": "locale", "timezone": "timezone", "computerName": "computerName",
		"username": "username", "productKey": "productKey"}
	if err := cfg.Validate(); err != nil {
		for _, e := range unwrapJoined(err) {
			field, msg, _ := strings.Cut(e.Error(), ": ")
			if key, ok := keys[field]; ok {
				if key == "productKey" {
					msg = "is not five groups of five letters or digits" // never echo the key
				}
				bad(key, "%s", msg)
			}
		}
	}
	return ps
}

func unwrapJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (r *Recipe) validateMacOS() yamlsrc.Problems {
	var ps yamlsrc.Problems
	bad := func(path, format string, a ...any) { ps = append(ps, yamlsrc.Errorf(path, format, a...)) }
	if b := r.BaseSystem; b == nil {
		bad("baseSystem", "a macos recipe needs baseSystem: {release}, {url, sha256} or {path}")
	} else {
		n := 0
		for _, s := range []string{b.Release, b.URL, b.Path} {
			if s != "" {
				n++
			}
		}
		switch {
		case n != 1:
			bad("baseSystem", "give exactly one of release, url (with sha256) and path")
		case b.Release != "":
			if _, err := macos.LookupRelease(b.Release); err != nil {
				bad("baseSystem.release", "%v", err)
			}
			if b.SHA256 != "" {
				bad("baseSystem.sha256", "a release is verified by its signed chunklist; sha256 goes with url or path")
			}
		case b.URL != "":
			if !strings.HasPrefix(b.URL, "https://") && !strings.HasPrefix(b.URL, "http://") {
				bad("baseSystem.url", "%q: want an http or https URL", b.URL)
			}
			if b.SHA256 == "" {
				bad("baseSystem.sha256", "a download needs its sha256 (64 hex digits)")
			}
		}
		if b.SHA256 != "" && !sha256RE.MatchString(b.SHA256) {
			bad("baseSystem.sha256", "%q: want 64 lower-case hex digits", b.SHA256)
		}
	}
	if r.OpenCore == nil || r.OpenCore.Path == "" {
		bad("openCore", "a macos recipe needs openCore: {path} (your OpenCore disk image; deskvm never downloads one)")
	}
	if r.AutomationConfig == "" {
		bad("automationConfig", "a macos recipe needs automationConfig: the script that drives the Setup Assistant")
	}
	if r.DiskSize.IsSet() && r.DiskSize.Bytes() < 32<<30 {
		bad("diskSize", "%s is smaller than the 32G macOS needs", r.DiskSize)
	}
	return append(ps, r.validatePassword()...)
}

// password returns the recipe's password, reading passwordFile (its
// first line) when that is how it is given. Errors never contain it.
func (r *Recipe) password(src *Source) (string, error) {
	if r.PasswordFile == "" {
		return string(r.Password), nil
	}
	b, err := os.ReadFile(src.ResolvePath(r.PasswordFile))
	if err != nil {
		return "", src.Problem("passwordFile", "cannot read it: %v", errors.Unwrap(err))
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" || strings.ContainsRune(line, 0) {
		return "", src.Problem("passwordFile", "%s: the first line is empty or holds a NUL", r.PasswordFile)
	}
	return line, nil
}

// resolveInputPath is an Input with its path made absolute.
func resolveInputPath(in *Input, src *Source) *Input {
	if in == nil {
		return nil
	}
	c := *in
	if c.Path != "" && src != nil {
		c.Path = src.ResolvePath(c.Path)
	}
	return &c
}

// canonicalKinds makes the kind-specific paths absolute.
func (c *Recipe) canonicalKinds(src *Source) {
	c.WindowsISO = resolveInputPath(c.WindowsISO, src)
	c.VirtioDriversISO = resolveInputPath(c.VirtioDriversISO, src)
	if src == nil {
		return
	}
	if c.PasswordFile != "" {
		c.PasswordFile = src.ResolvePath(c.PasswordFile)
	}
	if c.AutomationConfig != "" {
		c.AutomationConfig = src.ResolvePath(c.AutomationConfig)
	}
	if c.BaseSystem != nil && c.BaseSystem.Path != "" {
		b := *c.BaseSystem
		b.Path = src.ResolvePath(b.Path)
		c.BaseSystem = &b
	}
	if c.OpenCore != nil {
		c.OpenCore = &LocalFile{Path: src.ResolvePath(c.OpenCore.Path)}
	}
	// The RDP host port changes nothing in the image.
	c.RDPPort = 0
}
