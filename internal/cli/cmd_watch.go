package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/store"
)

type watchOptions struct {
	review   string
	interval time.Duration
}

const watchLong = `Turn an owner's comment into a proven revocation within seconds, with no
scheduler and no inbound port: a foreground loop that, every --interval, asks
Jira for the review's tickets updated since its last pass (JQL
"updated >= -Nm"), and when one was, runs parse-decisions and revoke.

Every pass is a run recorded in the store (so an idle pass costs one Jira
search). The first pass always reads every ticket. A failing pass is reported
and the loop goes on. Ctrl-C or SIGTERM stops the loop: a pass under way may
finish (up to 30 s, so a removal it made is recorded everywhere), then watch
exits 0; a pass still running after that is interrupted (recorded, exit 130).

The same settings and secrets as parse-decisions and revoke apply, including
revoke.max_per_run: a pass whose plan is over the cap revokes nothing and says
so; run 'uar revoke --max N' by hand to allow it.

Examples:
  uar watch
  uar watch --interval 10s --review 2026-Q4

EXIT STATUS
  0  stopped by Ctrl-C or SIGTERM between passes
  2  usage or config error
  4  Jira or Okta refused the credentials (the loop stops)
  130 interrupted during a pass`

func newWatchCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &watchOptions{}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Loop: pick up new decisions in Jira and revoke them within seconds",
		Long:  watchLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runWatch(c.Context(), env, g, o)
		},
	}
	cmd.Flags().StringVar(&o.review, "review", "", "review label (default: the current quarter, e.g. 2026-Q4)")
	cmd.Flags().DurationVar(&o.interval, "interval", 30*time.Second, "time between passes (at least 1s)")
	return cmd
}

func runWatch(ctx context.Context, env *Env, g *globalOptions, o *watchOptions) error {
	rev, err := resolveReview(env, o.review)
	if err != nil {
		return err
	}
	if o.interval < time.Second {
		return usageErrorf("--interval %s: at least 1s (each pass is a Jira search)", o.interval)
	}
	u := ui{env: env, g: g}
	var since time.Time // zero: the first pass reads every ticket
	for pass := 1; ; pass++ {
		start := env.Now()
		err := withRun(graceful(ctx), env, g, runSpec{command: "watch", args: g.args, review: rev}, func(ctx context.Context, rc *runCtx) error {
			return watchPass(ctx, rc, since)
		})
		switch {
		case err == nil:
			since = start
		case errors.Is(err, context.Canceled) || ctx.Err() != nil:
			return err
		case exitCode(err) == ExitUsage || exitCode(err) == ExitAuth:
			return err // retrying cannot help
		default:
			u.Warnf("watch pass %d failed (the next pass retries): %s", pass, scrubSecrets(env, err.Error()))
		}
		t := time.NewTimer(o.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			u.Infof("uar watch: stopped")
			return nil
		case <-t.C:
		}
	}
}

// watchGrace is how long a pass under way may finish after a signal.
const watchGrace = 30 * time.Second

// graceful is ctx for one pass: a signal lets the pass finish (a removal
// it made gets its panel, comment and note) for up to watchGrace, then
// cancels it.
func graceful(ctx context.Context) context.Context {
	pass, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(watchGrace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-pass.Done():
			}
		case <-pass.Done():
		}
	}()
	return pass
}

// watchPass is one pass: parse-decisions and revoke when a ticket changed
// since the last good pass (always on the first).
func watchPass(ctx context.Context, rc *runCtx, since time.Time) error {
	c := rc.cfg
	if err := requireSet("jira.base_url", c.Jira.BaseURL, "jira.email", c.Jira.Email, EnvJiraToken, secret(rc.env, EnvJiraToken)); err != nil {
		return err
	}
	if !since.IsZero() {
		client := jira.New(c.Jira.Config(secret(rc.env, EnvJiraToken)), rc.httpClient(store.ServiceJira, 0))
		keys, err := review.UpdatedTickets(ctx, rc.step, client, since)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			rc.ui.Debugf("watch: no ticket updated")
			return nil
		}
		rc.ui.Infof("watch: updated %v", keys)
	}
	res, err := parseDecisions(ctx, rc, nil)
	if err != nil {
		return err
	}
	for _, d := range res.Rejected {
		rc.ui.Warnf("rejected: %s: %q: %s", d.JiraKey, d.Line, d.Reason)
	}
	rr, err := review.Revoke(ctx, rc.step, review.RevokeOptions{MaxPerRun: c.Revoke.MaxPerRun, Workers: c.Okta.Concurrency,
		Connect: func(bool) (review.RevokeTargets, error) { return revokeTargets(ctx, rc) }})
	var br *review.BlastRadiusError
	if errors.As(err, &br) {
		rc.ui.Warnf("%v: run 'uar revoke --dry-run', then 'uar revoke --max %d' to allow it", err, br.Planned)
		return nil
	}
	if rr != nil {
		for _, o := range rr.Outcomes {
			rc.ui.Infof("watch: %s from %s: %s", o.UserLogin, o.GroupName, o.Status)
		}
	}
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	return nil
}
