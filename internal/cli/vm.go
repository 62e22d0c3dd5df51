package cli

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/session"
	"github.com/deskvm/deskvm/internal/vmctl"
)

func init() { register("vm", newVMCmd) }

// vmVerb is one verb of "deskvm vm NAME VERB". The verb files register
// theirs in init, as the top-level commands do.
type vmVerb struct {
	name  string
	short string
	make  func(g *globalOptions, d *vmDeps, name string) *cobra.Command
}

var vmVerbs []vmVerb

func registerVerb(v vmVerb) { vmVerbs = append(vmVerbs, v) }

func sortedVerbs() []vmVerb {
	vs := append([]vmVerb(nil), vmVerbs...)
	sort.Slice(vs, func(i, j int) bool { return verbRank(vs[i].name) < verbRank(vs[j].name) })
	return vs
}

// verbOrder is the order of verbs in help and completion: daily use first.
var verbOrder = []string{"start", "stop", "force-stop", "status", "view", "console", "ssh", "memstats", "setmem"}

func verbRank(name string) int {
	for i, n := range verbOrder {
		if n == name {
			return i
		}
	}
	return len(verbOrder)
}

func verbNames() []string {
	var out []string
	for _, v := range sortedVerbs() {
		out = append(out, v.name)
	}
	return out
}

// vmLibvirt is what the verbs and list use from a libvirt connection.
type vmLibvirt interface {
	vmctl.Libvirt
	Domains(ctx context.Context) ([]libvirt.Domain, error)
	Close() error
}

// vmDeps are the side effects of the verbs, replaced in unit tests.
type vmDeps struct {
	dial     func(ctx context.Context, uri string) (vmLibvirt, error)
	lookPath vmctl.LookPath
	// run runs an external program (ssh, virsh, a viewer) attached to the
	// terminal and returns its exit status.
	run  func(ctx context.Context, g *globalOptions, argv []string) (int, error)
	host host.Host
	// poll is how often stop checks whether the guest is off.
	poll time.Duration
}

func realVMDeps() *vmDeps {
	return &vmDeps{
		dial: func(ctx context.Context, uri string) (vmLibvirt, error) {
			return libvirt.Dial(ctx, uri, libvirt.Options{})
		},
		lookPath: exec.LookPath,
		run:      runAttached,
		host:     &host.Sys{},
		poll:     250 * time.Millisecond,
	}
}

// runAttached runs argv with deskvm's standard streams and passes its
// exit status on.
func runAttached(ctx context.Context, g *globalOptions, argv []string) (int, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = g.stdin, g.stdout, g.stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return 0, nil
}

func newVMCmd(g *globalOptions) *cobra.Command { return newVMCmdWith(g, realVMDeps()) }

const vmLong = `Daily use of one VM: deskvm vm NAME VERB [ARGS], or through a link
named vm-NAME (see install-commands): vm-NAME VERB [ARGS].

Every verb talks to libvirt through the config's connect URI (or
--connect), and accepts the global flags anywhere on the line
(deskvm vm box status -f my.yaml). NAME is a VM of the config or a domain
deskvm manages; "deskvm vm NAME VERB --help" describes a verb.

Verbs:
`

func newVMCmdWith(g *globalOptions, d *vmDeps) *cobra.Command {
	var verbs strings.Builder
	for _, v := range sortedVerbs() {
		fmt.Fprintf(&verbs, "  %-11s %s\n", v.name, v.short)
	}
	cmd := &cobra.Command{
		Use:   "vm NAME VERB [ARGS]",
		Short: "Start, stop, inspect, view and log in to a VM (also as vm-NAME)",
		Long:  vmLong + verbs.String(),
		// The VM name comes before the verb, which cobra cannot express;
		// runVM parses the line and runs a command tree made for NAME.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVM(cmd, g, d, args)
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completeVM(g, args, toComplete)
		},
	}
	return cmd
}

// vmLine is a "vm" command line split into what runVM needs.
type vmLine struct {
	name, verb string
	help       bool
	configFile string // -f, for completion (which does not parse flags)
}

// globalValueFlags are the global flags that take a value.
var globalValueFlags = map[string]bool{"-f": true, "--file": true, "--connect": true}

// scanVMLine finds NAME and VERB, the first two arguments that are not
// flags or flag values, before any "--".
func scanVMLine(args []string) vmLine {
	var l vmLine
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			i = len(args)
		case a == "-h" || a == "--help":
			l.help = true
		case globalValueFlags[a]:
			if i+1 < len(args) {
				if a == "-f" || a == "--file" {
					l.configFile = args[i+1]
				}
				i++
			}
		case strings.HasPrefix(a, "--file="):
			l.configFile = strings.TrimPrefix(a, "--file=")
		case strings.HasPrefix(a, "-f") && !strings.HasPrefix(a, "--"):
			l.configFile = strings.TrimPrefix(strings.TrimPrefix(a, "-f"), "=")
		case strings.HasPrefix(a, "-") && a != "-":
			// A verb flag (--timeout=5s, --force): taken by the verb.
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) > 0 {
		l.name = pos[0]
	}
	if len(pos) > 1 {
		l.verb = pos[1]
	}
	return l
}

func runVM(cmd *cobra.Command, g *globalOptions, d *vmDeps, args []string) error {
	line := scanVMLine(args)
	if line.name == "" {
		if line.help {
			return cmd.Help()
		}
		return &ExitError{Code: 2, Err: fmt.Errorf("missing VM name: deskvm vm NAME VERB [ARGS]; verbs: %s", strings.Join(verbNames(), ", "))}
	}
	tree := newVMTree(g, d, line.name)
	tree.SetArgs(append([]string{"vm"}, args...))
	return tree.ExecuteContext(cmd.Context())
}

// newVMTree is the command tree deskvm → vm → NAME → verbs for one VM,
// so that cobra parses each verb's flags and writes its help.
func newVMTree(g *globalOptions, d *vmDeps, name string) *cobra.Command {
	top := &cobra.Command{Use: "deskvm", SilenceUsage: true, SilenceErrors: true}
	top.CompletionOptions.DisableDefaultCmd = true
	top.SetIn(g.stdin)
	top.SetOut(g.stdout)
	top.SetErr(g.stderr)
	addGlobalFlags(top, g)
	vm := &cobra.Command{Use: "vm", Short: "Daily use of one VM"}
	nameCmd := &cobra.Command{
		Use:   name,
		Short: "Verbs for vm " + name,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &ExitError{Code: 2, Err: fmt.Errorf("missing verb for vm %s; verbs: %s", name, strings.Join(verbNames(), ", "))}
			}
			return &ExitError{Code: 2, Err: fmt.Errorf("unknown verb %q for vm %s; verbs: %s", args[0], name, strings.Join(verbNames(), ", "))}
		},
	}
	for _, v := range sortedVerbs() {
		nameCmd.AddCommand(v.make(g, d, name))
	}
	vm.AddCommand(nameCmd)
	top.AddCommand(vm)
	return top
}

// addGlobalFlags gives a command tree deskvm's global flags, bound to g.
func addGlobalFlags(c *cobra.Command, g *globalOptions) {
	pf := c.PersistentFlags()
	pf.StringVarP(&g.configFile, "file", "f", "", "config file (default /etc/deskvm/config.yaml or config.json)")
	pf.StringVar(&g.connect, "connect", "", "libvirt URI (overrides the config's connect)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "debug logging to stderr")
}

// vmSession is one verb's view: the config (nil without a config file),
// the VM's config (nil for a managed domain that is not in it) and the
// libvirt connection.
type vmSession struct {
	name string
	cfg  *config.Config
	vm   *config.VM
	lv   vmLibvirt
	uri  string
	// dom is the domain as found when the session opened.
	dom libvirt.Domain
}

func (s *vmSession) close() { s.lv.Close() }

// loadOptionalConfig loads the config when -f is given or a default file
// exists; without either it returns nil (list and the verbs then work
// on the managed domains alone). A config with errors is an error.
func loadOptionalConfig(g *globalOptions) (*config.Config, error) {
	cfg, _, err := g.session().LoadOptionalConfig()
	var pe *session.ProblemsError
	switch {
	case errors.As(err, &pe):
		printProblems(g.stderr, pe.Problems)
		fmt.Fprintf(g.stderr, "%s: %s; fix the config first\n", pe.Source.Name, plural(len(pe.Problems), "error"))
		return nil, silentExit(1)
	case err != nil:
		return nil, &ExitError{Code: 1, Err: err}
	}
	return cfg, nil
}

func connectURI(g *globalOptions, cfg *config.Config) string { return g.session().URI(cfg) }

// vmDisplay finds the VNC display of running domain name at the libvirt
// URI of --connect or the config's connect (default qemu:///system),
// through the libvirt API. Its password is the domain's, else the VM's
// graphics.passwordFile. Errors exit with code.
func vmDisplay(ctx context.Context, g *globalOptions, name string, code int) (session.VNCDisplay, error) {
	cfg, err := loadOptionalConfig(g)
	if err != nil {
		return session.VNCDisplay{}, err
	}
	uri := connectURI(g, cfg)
	lv, err := session.Dial(ctx, uri)
	if err != nil {
		return session.VNCDisplay{}, &ExitError{Code: code, Err: err}
	}
	defer lv.Close()
	d, err := session.VNC(ctx, lv, cfg, name)
	if err != nil {
		return session.VNCDisplay{}, &ExitError{Code: code, Err: fmt.Errorf("%w (libvirt %s)", err, uri)}
	}
	return d, nil
}

// openVM loads the config, connects, and makes sure name is a VM deskvm
// knows: enabled in the config, or a domain with deskvm's metadata.
func openVM(ctx context.Context, g *globalOptions, d *vmDeps, name string) (*vmSession, error) {
	cfg, err := loadOptionalConfig(g)
	if err != nil {
		return nil, err
	}
	s := &vmSession{name: name, cfg: cfg, uri: connectURI(g, cfg)}
	if cfg != nil {
		s.vm = cfg.VMs[name]
	}
	s.lv, err = d.dial(ctx, s.uri)
	if err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	s.dom, err = session.LookupVM(ctx, s.lv, cfg, s.uri, name)
	if err != nil {
		s.close()
		var ue *session.UnknownVMError
		if errors.As(err, &ue) {
			return nil, &ExitError{Code: 2, Err: err}
		}
		return nil, &ExitError{Code: 1, Err: err}
	}
	return s, nil
}

// verbCommand is the skeleton every verb shares: it opens the session and
// runs fn with it.
func verbCommand(g *globalOptions, d *vmDeps, name string, cmd *cobra.Command,
	fn func(ctx context.Context, s *vmSession, args []string) error) *cobra.Command {
	cmd.RunE = func(c *cobra.Command, args []string) error {
		s, err := openVM(c.Context(), g, d, name)
		if err != nil {
			return err
		}
		defer s.close()
		return fn(c.Context(), s, args)
	}
	return cmd
}

// completeVM completes "deskvm vm": VM names, then verbs, then the
// verb's flags.
func completeVM(g *globalOptions, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	line := scanVMLine(args)
	nd := cobra.ShellCompDirectiveNoFileComp
	switch {
	case line.name == "":
		// Flags are not parsed for "vm", so -f comes from the line.
		quiet := &globalOptions{configFile: g.configFile, stdin: g.stdin, stdout: discard{}, stderr: discard{}}
		if line.configFile != "" {
			quiet.configFile = line.configFile
		}
		cfg, err := loadOptionalConfig(quiet)
		if err != nil || cfg == nil {
			return nil, nd
		}
		var out []string
		for _, n := range cfg.EnabledVMs() {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, nd
	case line.verb == "":
		var out []string
		for _, v := range sortedVerbs() {
			if strings.HasPrefix(v.name, toComplete) {
				out = append(out, v.name+"\t"+v.short)
			}
		}
		return out, nd
	}
	if strings.HasPrefix(toComplete, "-") {
		tree := newVMTree(&globalOptions{stdin: g.stdin, stdout: discard{}, stderr: discard{}}, realVMDeps(), line.name)
		if c, _, err := tree.Find([]string{"vm", line.name, line.verb}); err == nil && c.Name() == line.verb {
			var out []string
			add := func(f *pflag.Flag) {
				n := "--" + f.Name
				if strings.HasPrefix(n, toComplete) {
					out = append(out, n+"\t"+f.Usage)
				}
			}
			c.LocalFlags().VisitAll(add)
			c.InheritedFlags().VisitAll(add)
			return out, nd
		}
	}
	if line.verb == "ssh" {
		return nil, cobra.ShellCompDirectiveDefault
	}
	return nil, nd
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
