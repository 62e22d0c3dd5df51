package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// writeCLIDocs writes docs/cli.md: every command with its usage, text and
// flags, generated from the cobra definitions (the vm verbs from the
// command tree made for a VM called NAME).
func writeCLIDocs(w io.Writer) error {
	g := &globalOptions{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	root := NewRootCommand(g.stdin, g.stdout, g.stderr)
	var b strings.Builder
	b.WriteString("# deskvm command line\n\n")
	b.WriteString("<!-- Generated from the cobra commands by `go test ./internal/cli -run TestCLIDocs -update`; do not edit. -->\n\n")
	b.WriteString("Global flags, accepted by every command anywhere on the line:\n\n```\n")
	b.WriteString(root.PersistentFlags().FlagUsages())
	b.WriteString("```\n\nCommands:\n\n")
	var all []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		all = append(all, c)
		subs := append([]*cobra.Command(nil), c.Commands()...)
		sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
		for _, s := range subs {
			if s.Hidden || s.Name() == "help" || !s.IsAvailableCommand() {
				continue
			}
			walk(s)
			if s.Name() == "vm" && s.Parent() == root {
				tree := newVMTree(g, realVMDeps(), "NAME")
				nameCmd, _, err := tree.Find([]string{"vm", "NAME"})
				if err == nil {
					for _, v := range nameCmd.Commands() {
						if v.IsAvailableCommand() {
							all = append(all, v)
						}
					}
				}
			}
		}
	}
	walk(root)
	for _, c := range all {
		fmt.Fprintf(&b, "- [`%s`](#%s)\n", c.CommandPath(), anchor(c.CommandPath()))
	}
	for _, c := range all {
		writeCommandDoc(&b, c)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func anchor(path string) string {
	return strings.ReplaceAll(strings.ToLower(path), " ", "-")
}

func writeCommandDoc(b *strings.Builder, c *cobra.Command) {
	fmt.Fprintf(b, "\n## %s\n\n", c.CommandPath())
	text := c.Long
	if text == "" {
		text = c.Short
	}
	if text != "" {
		b.WriteString(strings.TrimSpace(text) + "\n\n")
	}
	if c.Runnable() {
		fmt.Fprintf(b, "```\n%s\n```\n", c.UseLine())
	}
	if fs := c.NonInheritedFlags(); fs.HasAvailableFlags() && c.HasParent() {
		usages := fs.FlagUsages()
		// Every command has -h; it says nothing here.
		var lines []string
		for _, l := range strings.Split(strings.TrimRight(usages, "\n"), "\n") {
			if !strings.Contains(l, "--help") {
				lines = append(lines, l)
			}
		}
		if len(lines) > 0 {
			b.WriteString("\nFlags:\n\n```\n" + strings.Join(lines, "\n") + "\n```\n")
		}
	}
}
