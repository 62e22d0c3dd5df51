package cli

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

func init() { register("completion", newCompletionCmd) }

func newCompletionCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script (also for the vm-NAME commands)",
		Long: `Prints a completion script for bash, zsh or fish. It completes
commands, flags, VM names (from the config) and the verbs of
"deskvm vm NAME", and it registers the same completion for the vm-NAME
command of every enabled VM of the config (see install-commands); after
adding or removing VMs, load it again.

  bash:  source <(deskvm completion bash)     # or write it to /etc/bash_completion.d/deskvm
  zsh:   deskvm completion zsh > "${fpath[1]}/_deskvm"
  fish:  deskvm completion fish > ~/.config/fish/completions/deskvm.fish`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			var vmCommands []string
			// Completion must work without a config; without one there
			// are no vm-NAME commands to register.
			quiet := &globalOptions{configFile: g.configFile, connect: g.connect, stdin: g.stdin, stdout: discard{}, stderr: discard{}}
			if cfg, err := loadOptionalConfig(quiet); err == nil && cfg != nil {
				for _, n := range cfg.EnabledVMs() {
					vmCommands = append(vmCommands, vmLinkPrefix+n)
				}
			} else if err != nil {
				fmt.Fprintln(g.stderr, "deskvm: completion: the config does not load, so no vm-NAME commands are registered (deskvm config validate says why)")
			}
			script, err := completionScript(cmd.Root(), args[0], vmCommands)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			_, err = g.stdout.Write(script)
			return err
		},
	}
	return cmd
}

var (
	bashRegister = regexp.MustCompile(`(?m)^(\s*complete .*-F __start_deskvm) deskvm$`)
	zshRegister  = regexp.MustCompile(`(?m)^(#compdef|compdef _deskvm) deskvm$`)
	fishRegister = regexp.MustCompile(`(?m)^complete (.*)-c deskvm (.*)$`)
)

// completionScript is cobra's script for shell, with the vm-NAME
// commands registered too. They need nothing else: the scripts call the
// program as it was typed (vm-box __complete …), and Main turns that
// into deskvm __complete vm box ….
func completionScript(root *cobra.Command, shell string, vmCommands []string) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	switch shell {
	case "bash":
		err = root.GenBashCompletionV2(&buf, true)
	case "zsh":
		err = root.GenZshCompletion(&buf)
	case "fish":
		err = root.GenFishCompletion(&buf, true)
	default:
		return nil, fmt.Errorf("unknown shell %q: want bash, zsh or fish", shell)
	}
	if err != nil {
		return nil, fmt.Errorf("completion script: %w", err)
	}
	if len(vmCommands) == 0 {
		return buf.Bytes(), nil
	}
	names := strings.Join(vmCommands, " ")
	s := buf.String()
	switch shell {
	case "bash":
		s = bashRegister.ReplaceAllString(s, "$1 deskvm "+names)
	case "zsh":
		s = zshRegister.ReplaceAllString(s, "$1 deskvm "+names)
	case "fish":
		var extra strings.Builder
		for _, line := range fishRegister.FindAllString(s, -1) {
			for _, c := range vmCommands {
				extra.WriteString(strings.Replace(line, "-c deskvm ", "-c "+c+" ", 1) + "\n")
			}
		}
		s += "\n# The vm-NAME commands (deskvm install-commands).\n" + extra.String()
	}
	return []byte(s), nil
}
