package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func init() { register("install-commands", newInstallCommandsCmd) }

type installCommandsOptions struct {
	dir    string
	dryRun bool
	// executable is the deskvm binary the links point to (os.Executable).
	executable func() (string, error)
}

func newInstallCommandsCmd(g *globalOptions) *cobra.Command {
	o := &installCommandsOptions{executable: os.Executable}
	cmd := &cobra.Command{
		Use:   "install-commands --dir DIR",
		Short: "Write a vm-NAME link to deskvm in DIR for every enabled VM",
		Long: `Writes DIR/vm-NAME, a symbolic link to this deskvm binary, for every
enabled VM of the config, so that "vm-NAME VERB" runs "deskvm vm NAME
VERB". Links it wrote before for VMs that are gone or disabled are
removed. Only symbolic links to a program named deskvm are ever
replaced or removed: a vm-NAME that is anything else is left alone and
reported (exit status 1).

Put DIR on PATH; shell completion covers the links too (see completion).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInstallCommands(g, o)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "directory for the vm-NAME links (required)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "say what would change without changing it")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

const vmLinkPrefix = "vm-"

// isDeskvmLink reports whether path is a symlink to a program named
// deskvm (this binary or an older one, e.g. a previous Nix store path).
func isDeskvmLink(path, self string) (target string, ok bool) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return "", false
	}
	target, err = os.Readlink(path)
	if err != nil {
		return "", false
	}
	if target == self || filepath.Base(target) == "deskvm" {
		return target, true
	}
	return target, false
}

func runInstallCommands(g *globalOptions, o *installCommandsOptions) error {
	cfg, src, ps, err := loadCheckedConfig(g)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	if ps.HasErrors() {
		printProblems(g.stderr, ps.Errors())
		fmt.Fprintf(g.stderr, "%s: %s; nothing was changed\n", src.Name, plural(len(ps.Errors()), "error"))
		return silentExit(1)
	}
	self, err := o.executable()
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("find the deskvm binary: %w", err)}
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	if abs, err := filepath.Abs(self); err == nil {
		self = abs
	}
	if fi, err := os.Stat(o.dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("--dir %s: %w", o.dir, err)}
	}

	want := map[string]bool{}
	for _, n := range cfg.EnabledVMs() {
		want[vmLinkPrefix+n] = true
	}
	say := func(format string, args ...any) {
		if o.dryRun {
			format = "would " + format
		}
		fmt.Fprintf(g.stdout, format+"\n", args...)
	}
	var problems []string

	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		path := filepath.Join(o.dir, n)
		target, ours := isDeskvmLink(path, self)
		_, lerr := os.Lstat(path)
		switch {
		case ours && target == self:
			continue // up to date
		case lerr == nil && !ours:
			problems = append(problems, fmt.Sprintf("%s exists and is not a link to deskvm; left alone", path))
			continue
		case lerr != nil && !errors.Is(lerr, fs.ErrNotExist):
			problems = append(problems, fmt.Sprintf("%s: %v", path, lerr))
			continue
		}
		verb := "create"
		if ours {
			verb = "update"
		}
		say("%s %s -> %s", verb, path, self)
		if o.dryRun {
			continue
		}
		if err := replaceSymlink(self, path); err != nil {
			problems = append(problems, err.Error())
		}
	}

	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("--dir %s: %w", o.dir, err)}
	}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, vmLinkPrefix) || want[n] {
			continue
		}
		path := filepath.Join(o.dir, n)
		if _, ours := isDeskvmLink(path, self); !ours {
			continue
		}
		say("remove %s (no enabled VM %s)", path, strings.TrimPrefix(n, vmLinkPrefix))
		if o.dryRun {
			continue
		}
		if err := os.Remove(path); err != nil {
			problems = append(problems, fmt.Sprintf("remove %s: %v", path, err))
		}
	}
	for _, p := range problems {
		fmt.Fprintln(g.stderr, "deskvm: install-commands: "+p)
	}
	if len(problems) > 0 {
		return silentExit(1)
	}
	return nil
}

// replaceSymlink points path at target atomically: a link under a
// temporary name renamed over the old one, so vm-NAME never vanishes.
func replaceSymlink(target, path string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".deskvm-tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("link %s: %w", path, err)
	}
	return nil
}
