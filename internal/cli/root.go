// Package cli is deskvm's command line. It is a library so tests can run
// every command in-process; only this package prints to the terminal.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/session"
)

// DefaultConfigPaths are tried in order when -f is not given.
var DefaultConfigPaths = session.DefaultConfigPaths

// globalOptions holds the flags every command accepts wherever they are
// placed on the command line.
type globalOptions struct {
	configFile string
	connect    string
	verbose    bool

	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// session is the application layer's view of the global options.
func (g *globalOptions) session() session.Options {
	return session.Options{ConfigFile: g.configFile, Stdin: g.stdin, ConfigPaths: DefaultConfigPaths, Connect: g.connect}
}

// commandFactory builds one top-level subcommand. Each command file
// registers its factory in init, so command files do not edit this one.
type commandFactory struct {
	name string
	make func(g *globalOptions) *cobra.Command
}

var factories []commandFactory

func register(name string, make func(g *globalOptions) *cobra.Command) {
	factories = append(factories, commandFactory{name: name, make: make})
}

// ExitError carries a specific exit status out of a command.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// silentExit is an exit status whose message was already printed.
func silentExit(code int) error { return &ExitError{Code: code} }

// NewRootCommand builds the whole command tree.
func NewRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globalOptions{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "deskvm",
		Short:         "Declarative, fast and automatable virtual machines for Linux workstations",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVarP(&g.configFile, "file", "f", "", "config file (default /etc/deskvm/config.yaml or config.json)")
	pf.StringVar(&g.connect, "connect", "", "libvirt URI (overrides the config's connect)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "debug logging to stderr")

	fs := append([]commandFactory(nil), factories...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].name < fs[j].name })
	for _, f := range fs {
		root.AddCommand(f.make(g))
	}
	return root
}

// Main runs deskvm with the given argv and returns the process exit status.
// argv[0] is inspected so that a link named vm-NAME acts as "deskvm vm NAME".
func Main(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRootCommand(stdin, stdout, stderr)
	args := argv[1:]
	if name, ok := vmCommandName(filepath.Base(argv[0])); ok {
		args = vmCommandArgs(name, args)
	}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "deskvm:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "deskvm:", err)
	return 1
}

// vmCommandName reports the VM name when the program runs as vm-NAME.
func vmCommandName(base string) (string, bool) {
	const prefix = "vm-"
	if len(base) > len(prefix) && base[:len(prefix)] == prefix {
		return base[len(prefix):], true
	}
	return "", false
}

// vmCommandArgs turns the arguments of vm-NAME into deskvm's. Shell
// completion calls the program as typed (vm-NAME __complete ARGS), and
// cobra wants __complete first: __complete vm NAME ARGS.
func vmCommandArgs(name string, args []string) []string {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		return append([]string{args[0], "vm", name}, args[1:]...)
	}
	return append([]string{"vm", name}, args...)
}
