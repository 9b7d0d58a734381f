package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime/debug"
	"strings"
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
	out := &countingWriter{w: env.Stdout}
	env.Stdout = out
	root := newRootCmd(env, g)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(out)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %v", context.Canceled, err)
	}
	if err != nil && strings.HasPrefix(err.Error(), "unknown command ") {
		// cobra's own error: a usage error like a bad flag.
		err = WithHint(&UsageError{Err: err, Command: "uar"}, "'uar --help' lists the commands; 'uar demo' plays a whole review offline")
	}
	return reportError(env, err, g.json && out.n == 0)
}

// countingWriter counts what a command wrote on stdout, so an error under
// --json becomes the one JSON document only when nothing was written yet.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
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
		Long: `uar runs a SOX User Access Review end to end and leaves a tamper-evident SQLite
evidence store (uar.db) an auditor can verify offline in minutes:

  snapshot -> score -> publish -> (owners comment REVOKE:/CERTIFY: in Jira)
  -> parse-decisions -> revoke -> report / diff / verify

Start with 'uar demo': the whole loop, offline, against built-in fake
services. Then 'uar init' writes a commented uar.yaml and policy.yaml for
your org, or 'uar sandbox' serves the fakes to play the loop by hand.

Every command that changes the store records its run there (--db, default
uar.db). The auditor's commands (report, diff, verify, query, evidence) open
it read-only and need no config file, no secrets and no network.

Examples:
  uar demo
  uar init && uar snapshot && uar score && uar publish
  uar parse-decisions && uar revoke
  uar verify --db uar.db

EXIT STATUS
  0    ok
  1    failure, including partial failure (re-run to finish)
  2    usage or config error
  3    integrity failure (verify)
  4    an upstream service refused the credentials or the permission
  5    policy gate (score --fail-on, diff --fail-on)
  130  interrupted (Ctrl-C, SIGTERM); the run is recorded as interrupted`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		Version:           env.Version,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	root.SetVersionTemplate(fmt.Sprintf("uar %s (commit %s)\n", env.Version, env.Commit))
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
		newDecisionsCmd(env, g),
		newRevokeCmd(env, g),
		newRemindCmd(env, g),
		newWatchCmd(env, g),
		newReportCmd(env, g),
		newDiffCmd(env, g),
		newVerifyCmd(env, g),
		newQueryCmd(env, g),
		newEvidenceCmd(env, g),
		newSandboxCmd(env, g),
		newDemoCmd(env, g),
		newVersionCmd(env, g),
		newManCmd(env, func() *cobra.Command { return newRootCmd(env, g) }),
	)
	finishTree(env, g, root)
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
