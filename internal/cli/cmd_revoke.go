package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/publish/confluence"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/store"
)

type revokeOptions struct {
	review string
	dryRun bool
	max    int
}

const revokeLong = `Apply the review's accepted REVOKE decisions (recorded by 'uar parse-decisions')
through Okta, and prove each one.

For every membership an owner revoked and that is not yet proven gone:
  1. read the group's members: already gone is "already_absent" (nothing sent);
  2. record the removal as planned, then remove it (DELETE membership);
  3. read the members again: gone is "done" (with Okta's request id, the time
     it was proven and, when found, the System Log event), still there is
     "failed".
Okta refusing (APP_GROUP or BUILT_IN groups: 403 E0000006; an unknown group or
user: 404) is "failed" with Okta's reason; a rule-managed membership is removed
(Okta adds a rule exclusion) and flagged. A failure never stops the others. A
group outside the review's snapshot is never touched, and a membership already
proven gone is never removed again, so re-running is always safe.

Then the run is recorded where people look: a red revocation panel appended to
the review page on Confluence (who asked, when, the Jira comment, Okta's
request id, the proof time, the new ledger head), a comment on each ticket
(the ticket is moved to Done once every access in it is decided and every
revocation proven) and a Slack note.

More than revoke.max_per_run removals are refused unless --max N allows them.
--dry-run prints the plan and changes nothing.

Secrets: UAR_OKTA_TOKEN (with okta.groups.manage and okta.logs.read), and the
Jira, Confluence and Slack tokens for the records.

Examples:
  uar revoke --dry-run
  uar revoke
  uar revoke --review 2026-Q4 --max 60

EXIT STATUS
  0  every planned removal is done or already absent (or nothing to do)
  1  at least one removal failed, or a record could not be written (re-run)
  2  usage or config error, no snapshot, or more removals than the cap
  4  Okta refused the credentials
  130 interrupted (what was done is recorded)`

func newRevokeCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &revokeOptions{}
	cmd := &cobra.Command{
		Use:   "revoke",
		Short: "Remove the revoked accesses in Okta, prove it and record it",
		Long:  revokeLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runRevoke(c.Context(), env, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.review, "review", "", "review label (default: the current quarter, e.g. 2026-Q4)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan; change nothing")
	f.IntVar(&o.max, "max", 0, "allow up to N removals in this run (above revoke.max_per_run)")
	return cmd
}

func runRevoke(ctx context.Context, env *Env, g *globalOptions, o *revokeOptions) error {
	rev, err := resolveReview(env, o.review)
	if err != nil {
		return err
	}
	if o.max < 0 {
		return usageErrorf("--max %d: must not be negative", o.max)
	}
	return withRun(ctx, env, g, runSpec{command: "revoke", args: g.args, review: rev}, func(ctx context.Context, rc *runCtx) error {
		res, err := review.Revoke(ctx, rc.step, review.RevokeOptions{DryRun: o.dryRun, MaxPerRun: rc.cfg.Revoke.MaxPerRun, Max: o.max, Workers: rc.cfg.Okta.Concurrency,
			Connect: func(bool) (review.RevokeTargets, error) { return revokeTargets(ctx, rc) }})
		var br *review.BlastRadiusError
		if errors.As(err, &br) {
			return WithHint(&UsageError{Err: err}, fmt.Sprintf("review the plan with 'uar revoke --dry-run', then allow it with --max %d", br.Planned))
		}
		if res == nil {
			return err
		}
		if perr := printRevocations(rc, res, o.dryRun); perr != nil {
			return perr
		}
		return err
	})
}

// revokeTargets builds the Okta client (required) and the clients of the
// services the run is recorded on (each only when configured).
func revokeTargets(ctx context.Context, rc *runCtx) (review.RevokeTargets, error) {
	oc, err := oktaClientConfig(rc)
	if err != nil {
		return review.RevokeTargets{}, err
	}
	client, err := okta.New(ctx, oc, rc.httpClient("okta", oc.RequestTimeout))
	if err != nil {
		return review.RevokeTargets{}, err
	}
	t := review.RevokeTargets{Okta: client, JiraBaseURL: rc.cfg.Jira.BaseURL}
	c := rc.cfg
	if c.Jira.BaseURL != "" && secret(rc.env, EnvJiraToken) != "" {
		t.Comments = jira.New(c.Jira.Config(secret(rc.env, EnvJiraToken)), rc.httpClient(store.ServiceJira, 0))
	} else {
		rc.ui.Warnf("jira.base_url or %s not set: the tickets get no revocation comment", EnvJiraToken)
	}
	if tok := secret(rc.env, EnvConfluenceToken, EnvJiraToken); c.Confluence.BaseURL != "" && tok != "" {
		t.Pages = confluence.New(c.Confluence.Config(c.Confluence.EmailOr(c.Jira.Email), tok), rc.httpClient(store.ServiceConfluence, 0))
	} else {
		rc.ui.Warnf("confluence.base_url or %s not set: the review page gets no revocation panel", EnvConfluenceToken)
	}
	if tok := secret(rc.env, EnvSlackToken); tok != "" && c.Slack.Channel != "" {
		sc := c.Slack.Config(tok)
		if err := sc.Validate(); err != nil {
			return t, &UsageError{Err: err}
		}
		t.Notes = slack.New(sc, rc.httpClient(store.ServiceSlack, 0))
	}
	return t, nil
}

func printRevocations(rc *runCtx, res *review.RevokeResult, dryRun bool) error {
	type row struct {
		System      string `json:"system"`
		Group       string `json:"group_name"`
		User        string `json:"user_login"`
		Status      string `json:"status"`
		Reason      string `json:"reason"`
		RequestID   string `json:"okta_request_id"`
		VerifiedAt  string `json:"verified_at"`
		RequestedBy string `json:"requested_by"`
	}
	rows := []row{}
	if dryRun {
		for _, p := range res.Plan {
			rows = append(rows, row{System: p.System, Group: p.GroupName, User: p.UserLogin, Status: "planned", RequestedBy: p.RequestedBy})
		}
	} else {
		for _, o := range res.Outcomes {
			rows = append(rows, row{System: o.System, Group: o.GroupName, User: o.UserLogin, Status: o.Status, Reason: o.Reason,
				RequestID: o.RequestID, VerifiedAt: store.FormatTime(o.VerifiedAt), RequestedBy: o.RequestedBy})
		}
	}
	if rc.g.json {
		return writeJSON(rc.env.Stdout, map[string]any{"review": rc.step.Review, "dry_run": dryRun, "revocations": rows, "failed": res.Failed})
	}
	if dryRun {
		rc.ui.Infof("dry run: %d removals planned, nothing was changed", len(res.Plan))
	}
	table := make([][]string, len(rows))
	for i, r := range rows {
		table[i] = []string{r.System, r.Group, r.User, r.Status, r.RequestID, r.VerifiedAt, r.Reason}
	}
	return writeTable(rc.env.Stdout, rc.env.StdoutTTY, []string{"SYSTEM", "GROUP", "USER", "STATUS", "OKTA REQUEST", "VERIFIED", "NOTE"}, table)
}
