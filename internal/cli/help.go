package cli

// Help conventions: every command's Long text ends with "Examples:" and an
// "EXIT STATUS" section; layoutHelp moves both to the end of --help, after
// the usage and flags (where a reader who scrolled past the flags looks
// for them), and the same text feeds the man pages.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/queries"
)

const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{with .Annotations}}{{with index . "exit"}}

EXIT STATUS
{{.}}{{end}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more about a command.{{end}}
`

// layoutHelp splits each command's Long text into the description, the
// examples and the exit status, and installs the usage template.
func layoutHelp(c *cobra.Command) {
	c.SetUsageTemplate(usageTemplate)
	long := c.Long
	if i := strings.Index(long, "\nEXIT STATUS\n"); i >= 0 {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations["exit"] = strings.TrimRight(long[i+len("\nEXIT STATUS\n"):], "\n")
		long = long[:i]
	}
	if i := strings.Index(long, "\nExamples:\n"); i >= 0 {
		c.Example = strings.TrimRight(long[i+len("\nExamples:\n"):], "\n")
		long = long[:i]
	}
	c.Long = strings.TrimRight(long, "\n")
	for _, sub := range c.Commands() {
		layoutHelp(sub)
	}
}

const completionExtra = `
Examples:
  source <(uar completion bash)
  uar completion zsh > "${fpath[1]}/_uar"
  uar completion fish > ~/.config/fish/completions/uar.fish

EXIT STATUS
  0  ok
  2  usage error`

// finishTree gives the generated commands (completion, help) the same
// help shape, and wires completion of flag values.
func finishTree(env *Env, g *globalOptions, root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Long = strings.TrimRight(c.Long, "\n") + "\n" + completionExtra
		}
	}
	complete := func(c *cobra.Command, flag string, fn cobra.CompletionFunc) {
		if c.Flags().Lookup(flag) != nil {
			_ = c.RegisterFlagCompletionFunc(flag, fn)
		}
	}
	fixed := func(vals ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(vals, cobra.ShellCompDirectiveNoFileComp)
	}
	reviews := func(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return knownReviews(c.Context(), env, g), cobra.ShellCompDirectiveNoFileComp
	}
	for _, c := range root.Commands() {
		complete(c, "review", reviews)
		complete(c, "only", fixed("jira", "confluence", "slack"))
		if c.Name() == "diff" {
			complete(c, "fail-on", fixed(review.DiffGateNames()...))
		} else {
			complete(c, "fail-on", fixed("high", "medium", "low"))
		}
		if c.Name() == "query" {
			c.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				var names []string
				for _, q := range queries.List() {
					names = append(names, q.Name+"\t"+q.Description)
				}
				return names, cobra.ShellCompDirectiveNoFileComp
			}
		}
	}
	layoutHelp(root)
}

// knownReviews lists the review labels of the store (for completion);
// nothing when there is no readable store.
func knownReviews(ctx context.Context, env *Env, g *globalOptions) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	st, err := openReadOnly(ctx, env, g)
	if err != nil {
		return []string{defaultReview(env.Now())}
	}
	defer st.Close()
	res, err := st.Query(ctx, `SELECT DISTINCT review FROM snapshots ORDER BY review`)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range res.Rows {
		out = append(out, cellString(r[0]))
	}
	return out
}

const manLong = `Write a man page for every uar command (uar.1, uar-snapshot.1 ...) into DIR,
from the same text as --help. Install them with, e.g.,
'sudo cp DIR/*.1 /usr/local/share/man/man1/'.

Examples:
  uar man ./man && man ./man/uar-verify.1

EXIT STATUS
  0  the pages were written
  1  DIR could not be written
  2  usage error`

func newManCmd(env *Env, root func() *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write the man pages",
		Long:  manLong,
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			dir := env.path(args[0])
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			now := env.Now().UTC()
			r := root()
			r.DisableAutoGenTag = true
			hdr := &doc.GenManHeader{Title: "UAR", Section: "1", Source: "uar " + env.Version, Manual: "uar manual", Date: &now}
			if err := doc.GenManTree(r, hdr, dir); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			abs, _ := filepath.Abs(dir)
			_, err := fmt.Fprintln(env.Stdout, abs)
			return err
		},
	}
}
