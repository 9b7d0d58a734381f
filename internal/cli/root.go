package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
)

// globalOptions are the flags every command shares (DESIGN §4).
type globalOptions struct {
	configFile string
	db         string
	json       bool
	quiet      bool
	verbose    bool
	args       []string // the command line, for the run record
}

// Main runs uar with args and returns the process exit code. It is the
// whole program: cmd/uar only wires signals and os.Exit around it.
func Main(ctx context.Context, args []string, env *Env) (code int) {
	g := &globalOptions{args: args}
	defer func() {
		// A panic anywhere below is a bug: report it as a failure (exit 1,
		// never 2, which schedulers read as a usage error). withRun has
		// already marked the run failed on its way up.
		if r := recover(); r != nil {
			code = reportError(env, &PanicError{Value: r, Stack: debug.Stack()}, g.json)
		}
	}()
	root := newRootCmd(env, g)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %v", context.Canceled, err)
	}
	var ue *UsageError
	if errors.As(err, &ue) && ue.Command == "" {
		if c, _, ferr := root.Find(args); ferr == nil && c != nil {
			ue.Command = c.CommandPath()
		}
	}
	return reportError(env, err, g.json)
}

// PanicError is a recovered panic: a bug in uar, reported as a failure.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error (a bug in uar; please report it): %v", e.Value)
}

func newRootCmd(env *Env, g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "uar",
		Short: "Run SOX user access reviews and keep evidence an auditor can verify",
		Long: `uar runs a SOX User Access Review end to end: snapshot who has access (Okta
groups SOX-*), score the risks, publish the review to Confluence, Jira and
Slack, record the owners' decisions, revoke what they revoke, and leave a
tamper-evident SQLite evidence store an auditor can verify offline.

Every command that changes the store records its run there (--db, default
uar.db). The auditor's commands (report, diff, verify, query, evidence) open
it read-only and need no config file, no secrets and no network.`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.configFile, "config", "", "config file (default ./uar.yaml, env UAR_CONFIG)")
	pf.StringVar(&g.db, "db", "", "evidence store file (overrides db: in the config)")
	pf.BoolVar(&g.json, "json", false, "print one JSON document on stdout")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print only errors and warnings on stderr")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "print debugging detail on stderr")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &UsageError{Err: err, Command: c.CommandPath()}
	})
	// The whole command tree, in the order of the review.
	root.AddCommand(
		newInitCmd(env, g),
		newSnapshotCmd(env, g),
		newScoreCmd(env, g),
		newPublishCmd(env, g),
		newRevokeCmd(env, g),
		newRemindCmd(env, g),
		newReportCmd(env, g),
		newDiffCmd(env, g),
		newVerifyCmd(env, g),
		newQueryCmd(env, g),
		newEvidenceCmd(env, g),
		newSandboxCmd(env, g),
		newVersionCmd(env, g),
	)
	for _, c := range root.Commands() {
		wrapArgs(c)
	}
	return root
}

// wrapArgs turns cobra's argument-count errors into usage errors.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		orig := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := orig(cmd, args); err != nil {
				return &UsageError{Err: err, Command: cmd.CommandPath()}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

var reviewLabel = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// defaultReview is the quarter of t in UTC, e.g. 2026-Q4.
func defaultReview(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1)
}

// resolveReview validates --review or returns the default.
func resolveReview(env *Env, flag string) (string, error) {
	if flag == "" {
		return defaultReview(env.Now()), nil
	}
	if !reviewLabel.MatchString(flag) {
		return "", usageErrorf("--review %q: use letters, digits, '.', '_' or '-' (e.g. 2026-Q4)", flag)
	}
	return flag, nil
}

// noArgs is cobra.NoArgs (wrapped as a usage error by wrapArgs).
var noArgs = cobra.NoArgs
