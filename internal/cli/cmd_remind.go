package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/store"
)

type remindOptions struct{ review string }

const remindLong = `Nudge the reviewers of systems with pending accesses as the decision deadline
nears. The deadline is the first publish of the review (Jira's own creation
time of its first ticket) plus review.window_days.

On each day of review.remind_days before the deadline (default 7, 3 and 1),
every system with pending accesses gets a Jira comment mentioning its owner
and delegates; once the deadline has passed, an escalation that also names
the backup reviewer. One Slack message lists the systems nudged. A system
already reminded today (UTC) is skipped, so remind can run from cron as often
as you like: a second run the same day sends nothing.

Examples:
  uar remind
  uar remind --review 2026-Q4 --json

EXIT STATUS
  0  reminders sent, or none due
  1  a reminder could not be posted (the others were)
  2  usage or config error, or the review was never published
  4  Jira or Slack refused the credentials`

func newRemindCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &remindOptions{}
	cmd := &cobra.Command{
		Use:   "remind",
		Short: "Remind owners of pending decisions as the deadline nears",
		Long:  remindLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runRemind(c.Context(), env, g, o)
		},
	}
	cmd.Flags().StringVar(&o.review, "review", "", "review label (default: the current quarter, e.g. 2026-Q4)")
	return cmd
}

func runRemind(ctx context.Context, env *Env, g *globalOptions, o *remindOptions) error {
	rev, err := resolveReview(env, o.review)
	if err != nil {
		return err
	}
	return withRun(ctx, env, g, runSpec{command: "remind", args: g.args, review: rev}, func(ctx context.Context, rc *runCtx) error {
		c := rc.cfg
		rs, err := review.Remind(ctx, rc.step, review.RemindOptions{WindowDays: c.Review.WindowDays, RemindDays: c.Review.RemindDays,
			Connect: func() (review.RemindTargets, error) {
				if err := requireSet("jira.base_url", c.Jira.BaseURL, "jira.email", c.Jira.Email, EnvJiraToken, secret(rc.env, EnvJiraToken)); err != nil {
					return review.RemindTargets{}, err
				}
				t := review.RemindTargets{Comments: jira.New(c.Jira.Config(secret(rc.env, EnvJiraToken)), rc.httpClient(store.ServiceJira, 0)),
					JiraBaseURL: c.Jira.BaseURL}
				if tok := secret(rc.env, EnvSlackToken); tok != "" && c.Slack.Channel != "" {
					sc := c.Slack.Config(tok)
					if err := sc.Validate(); err != nil {
						return t, &UsageError{Err: err}
					}
					t.Chat = slack.New(sc, rc.httpClient(store.ServiceSlack, 0))
				}
				return t, nil
			}})
		if rs == nil {
			return err
		}
		if rc.g.json {
			if jerr := writeJSON(rc.env.Stdout, map[string]any{"review": rev, "systems": rs}); jerr != nil {
				return jerr
			}
			return err
		}
		rows := make([][]string, len(rs))
		for i, r := range rs {
			rows[i] = []string{r.System, fmt.Sprint(r.Pending), r.Deadline, fmt.Sprint(r.DaysLeft), r.Action, r.JiraKey}
		}
		if werr := writeTable(rc.env.Stdout, rc.env.StdoutTTY, []string{"SYSTEM", "PENDING", "DEADLINE", "DAYS LEFT", "ACTION", "TICKET"}, rows); werr != nil {
			return werr
		}
		return err
	})
}
