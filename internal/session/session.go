// Package session is deskvm's application layer. Given the global options
// (config file, --connect) it loads and checks the config, picks the
// libvirt URI (the flag beats the config's connect, which beats
// qemu:///system), connects, reads the host facts and offers what the
// commands need: the reconcile pass (observe + plan, see Reconcile), a
// VM's domain and its VNC display (see VNC). The cli calls it, and so will
// the image builder and the NixOS unit: it has no cobra and prints
// nothing; problems and warnings come back as values.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/secret"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// DefaultConfigPaths are tried in order when no config file is given.
var DefaultConfigPaths = []string{"/etc/deskvm/config.yaml", "/etc/deskvm/config.json"}

// Options are the global options every command shares.
type Options struct {
	// ConfigFile is the config to load; "-" reads Stdin; "" tries
	// ConfigPaths.
	ConfigFile string
	Stdin      io.Reader
	// ConfigPaths replace DefaultConfigPaths when set.
	ConfigPaths []string
	// Connect is the libvirt URI given on the command line; it overrides
	// the config's connect.
	Connect string
}

func (o Options) configPaths() []string {
	if o.ConfigPaths != nil {
		return o.ConfigPaths
	}
	return DefaultConfigPaths
}

// ConfigPath is ConfigFile, or the first default path that exists.
func (o Options) ConfigPath() (string, error) {
	if o.ConfigFile != "" {
		return o.ConfigFile, nil
	}
	for _, p := range o.configPaths() {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("config file %s: %w", p, err)
		}
	}
	return "", fmt.Errorf("no config file: none of %s exists; pass -f FILE", strings.Join(o.configPaths(), ", "))
}

// HasConfig reports whether there is a config to load: ConfigFile is
// given or a default file exists.
func (o Options) HasConfig() (bool, error) {
	if o.ConfigFile != "" {
		return true, nil
	}
	for _, p := range o.configPaths() {
		if _, err := os.Stat(p); err == nil {
			return true, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("config file %s: %w", p, err)
		}
	}
	return false, nil
}

// LoadRaw loads the config file as written. Problems in the file come
// back as problems with the partial config, so callers can report them
// with the rest; err is for a file that cannot be read.
func (o Options) LoadRaw() (*config.Config, *yamlsrc.Doc, yamlsrc.Problems, error) {
	path, err := o.ConfigPath()
	if err != nil {
		return nil, nil, nil, err
	}
	var cfg *config.Config
	var src *yamlsrc.Doc
	if path == "-" {
		if o.Stdin == nil {
			return nil, nil, nil, errors.New("read config from stdin: no stdin")
		}
		data, rerr := io.ReadAll(o.Stdin)
		if rerr != nil {
			return nil, nil, nil, fmt.Errorf("read config from stdin: %w", rerr)
		}
		cfg, src, err = config.Load("<stdin>", data)
	} else {
		cfg, src, err = config.LoadFile(path)
	}
	if err != nil {
		var ps yamlsrc.Problems
		if !errors.As(err, &ps) {
			return nil, nil, nil, err
		}
		return cfg, src, ps, nil
	}
	return cfg, src, nil, nil
}

// LoadConfig loads the config file, applies the global options
// (Connect), fills in the defaults and validates it (pure checks, no
// host). The problems of the file and of validation come back together
// with file positions; cfg is nil when the file could not be parsed at
// all, err is for a file that cannot be read.
func (o Options) LoadConfig() (*config.Config, *yamlsrc.Doc, yamlsrc.Problems, error) {
	cfg, src, ps, err := o.LoadRaw()
	if err != nil || cfg == nil {
		return cfg, src, ps, err
	}
	if o.Connect != "" {
		cfg.Connect = o.Connect
	}
	config.FillDefaults(cfg)
	return cfg, src, append(ps, src.Locate(config.Validate(cfg))...), nil
}

// ProblemsError is a config with errors: nothing was done. The caller
// prints the problems (with their file positions).
type ProblemsError struct {
	Source   *yamlsrc.Doc
	Problems yamlsrc.Problems
}

func (e *ProblemsError) Error() string {
	name := "config"
	if e.Source != nil {
		name = e.Source.Name
	}
	n := len(e.Problems.Errors())
	if n == 1 {
		return name + ": 1 error"
	}
	return fmt.Sprintf("%s: %d errors", name, n)
}

// LoadOptionalConfig loads and checks the config when there is one (see
// HasConfig); without one it returns nil, nil, nil (list and the vm verbs
// then work on the managed domains alone). A config with errors is a
// *ProblemsError; warnings come back.
func (o Options) LoadOptionalConfig() (*config.Config, yamlsrc.Problems, error) {
	has, err := o.HasConfig()
	if err != nil || !has {
		return nil, nil, err
	}
	cfg, src, ps, err := o.LoadConfig()
	if err != nil {
		return nil, nil, err
	}
	if ps.HasErrors() {
		return nil, nil, &ProblemsError{Source: src, Problems: ps.Errors()}
	}
	return cfg, ps.Warnings(), nil
}

// URI is the libvirt URI to use: Connect, else the config's connect, else
// libvirt.DefaultURI.
func (o Options) URI(cfg *config.Config) string {
	switch {
	case o.Connect != "":
		return o.Connect
	case cfg != nil && cfg.Connect != "":
		return cfg.Connect
	}
	return libvirt.DefaultURI
}

// Dial connects to libvirt at uri.
func Dial(ctx context.Context, uri string) (*libvirt.Conn, error) {
	return libvirt.Dial(ctx, uri, libvirt.Options{})
}

// GraphicsPassword reads VM name's graphics.passwordFile ("" when it has
// none), as every password file is read (secret.ReadFile).
func GraphicsPassword(cfg *config.Config, name string) (string, error) {
	vm := cfg.VMs[name]
	if vm == nil || vm.Graphics.PasswordFile == "" {
		return "", nil
	}
	pw, err := secret.ReadFile(vm.Graphics.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("vms.%s.graphics.passwordFile: %w", name, err)
	}
	return pw, nil
}

// GraphicsPasswords reads graphics.passwordFile of the enabled VMs;
// rendering puts the password into the domain, planning does no I/O.
func GraphicsPasswords(cfg *config.Config) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range cfg.EnabledVMs() {
		if cfg.VMs[name].Graphics.PasswordFile == "" {
			continue
		}
		pw, err := GraphicsPassword(cfg, name)
		if err != nil {
			return nil, err
		}
		out[name] = pw
	}
	return out, nil
}
