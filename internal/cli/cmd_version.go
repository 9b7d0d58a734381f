package cli

import (
	"context"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

func newVersionCmd(env *Env, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Long: `Print uar's version, the commit it was built from, the Go version and the
platform (one JSON object with --json). 'uar --version' prints the version
and commit.

Examples:
  uar version
  uar version --json

EXIT STATUS
  0  ok
  2  usage error`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runVersion(c.Context(), env, g)
		},
	}
}

func runVersion(_ context.Context, env *Env, g *globalOptions) error {
	if g.json {
		return writeJSON(env.Stdout, map[string]string{
			"version": env.Version, "commit": env.Commit, "go": runtime.Version(),
			"os": runtime.GOOS, "arch": runtime.GOARCH,
		})
	}
	_, err := fmt.Fprintf(env.Stdout, "uar %s (commit %s, %s, %s/%s)\n", env.Version, env.Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
