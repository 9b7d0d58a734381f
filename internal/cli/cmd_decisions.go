package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/decisions"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/store"
)

type decisionsOptions struct {
	review  string
	fromCSV string
}

const decisionsLong = `Read the owners' decisions and record each one, accepted or rejected with a
reason. Owners answer in their system's Jira ticket, one instruction per line:

  REVOKE: ivan.petrov@acme.com
  REVOKE: dave.kim@acme.com from SOX-NetSuite-Admins
  CERTIFY: all
  CERTIFY: alice.chen@acme.com, bob.martin@acme.com
  CERTIFY: carol.wong@acme.com -- covering the Q4 close, approved by the CFO

Keywords are case-insensitive; anything after " -- " (or an em dash) is the
reviewer's justification. Lines inside quotes, code blocks and panels are
ignored, so quoting an earlier comment repeats nothing.

The rules (every outcome is recorded with its reason):
  - only the system's owner or a delegate decides; the backup reviewer
    decides the owner's own access; anyone else is rejected;
  - nobody certifies their own access (CERTIFY: all from an owner who is a
    member certifies the others and records a rejected self-review);
  - an address not in the system's snapshot, or a malformed line, is
    rejected and its author gets one reply saying why;
  - REVOKE without "from <group>" covers every membership of the user in the
    system; a specific decision beats CERTIFY: all; among specific decisions
    for one access the latest (by Jira's created time) wins;
  - rubber-stamp guard: CERTIFY: all does not certify an access with an open
    HIGH finding (review.certify_all_covers_high: true turns this off); it
    needs an explicit "CERTIFY: user -- reason" or a REVOKE, and the owner is
    told which;
  - an edited comment is recorded with both times and flagged; a reviewer
    who is a member of one of the system's admin groups is flagged.

Every pass reads every ticket's comments again and replaces what the previous
pass derived; comments uar posted itself are ignored. --from-csv FILE adds
decisions gathered outside Jira (header: system, action, target, group,
decided_by_email, decided_at, justification); the file is validated with line
numbers, kept in the store, and read again by every later pass.

Examples:
  uar parse-decisions
  uar parse-decisions --review 2026-Q4 --json
  uar parse-decisions --from-csv offline-decisions.csv

EXIT STATUS
  0  every decision line was read and recorded
  1  failure (Jira unreachable, a reply could not be posted)
  2  usage or config error, a bad CSV file, no snapshot, scoring or tickets
  4  Jira refused the credentials`

func newDecisionsCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &decisionsOptions{}
	cmd := &cobra.Command{
		Use:   "parse-decisions",
		Short: "Record the owners' REVOKE/CERTIFY decisions from the Jira tickets",
		Long:  decisionsLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runDecisions(c.Context(), env, g, o)
		},
	}
	cmd.Flags().StringVar(&o.review, "review", "", "review label (default: the current quarter, e.g. 2026-Q4)")
	cmd.Flags().StringVar(&o.fromCSV, "from-csv", "", "add decisions gathered outside Jira from this CSV file")
	return cmd
}

func runDecisions(ctx context.Context, env *Env, g *globalOptions, o *decisionsOptions) error {
	rev, err := resolveReview(env, o.review)
	if err != nil {
		return err
	}
	var csv *review.CSVFile
	if o.fromCSV != "" {
		data, err := os.ReadFile(env.path(o.fromCSV))
		if err != nil {
			return usageErrorf("--from-csv: %v", err)
		}
		csv = &review.CSVFile{Name: filepath.Base(o.fromCSV), Data: data}
	}
	return withRun(ctx, env, g, runSpec{command: "parse-decisions", args: g.args, review: rev}, func(ctx context.Context, rc *runCtx) error {
		res, err := parseDecisions(ctx, rc, csv)
		if res == nil {
			return err
		}
		if perr := printDecisions(rc, res); perr != nil {
			return perr
		}
		return err
	})
}

// parseDecisions runs one decisions pass of rc's review (also one pass of
// uar watch).
func parseDecisions(ctx context.Context, rc *runCtx, csv *review.CSVFile) (*review.DecisionsResult, error) {
	c := rc.cfg
	res, err := review.ParseDecisions(ctx, rc.step, review.DecisionsOptions{Systems: c.Systems, CertifyAllCoversHigh: c.Review.CertifyAllCoversHigh, CSV: csv,
		Connect: func() (review.DecisionJira, error) {
			if csv != nil && (c.Jira.BaseURL == "" || secret(rc.env, EnvJiraToken) == "") {
				return nil, nil // CSV only
			}
			if err := requireSet("jira.base_url", c.Jira.BaseURL, "jira.email", c.Jira.Email, EnvJiraToken, secret(rc.env, EnvJiraToken)); err != nil {
				return nil, err
			}
			return jira.New(c.Jira.Config(secret(rc.env, EnvJiraToken)), rc.httpClient(store.ServiceJira, 0)), nil
		}})
	var ce *decisions.CSVError
	if errors.As(err, &ce) {
		return nil, &UsageError{Err: err}
	}
	return res, err
}

func printDecisions(rc *runCtx, res *review.DecisionsResult) error {
	rejected := res.Rejected
	if rejected == nil {
		rejected = []model.Decision{}
	}
	if rc.g.json {
		return writeJSON(rc.env.Stdout, map[string]any{"review": rc.step.Review, "systems": res.Summaries, "rejected": rejected,
			"comments": res.Comments, "replies": res.Replies})
	}
	rc.ui.Infof("parse-decisions %s: %d comments read, %d replies posted", rc.step.Review, res.Comments, res.Replies)
	rows := make([][]string, 0, len(res.Summaries))
	for _, s := range res.Summaries {
		rows = append(rows, []string{s.System, fmt.Sprint(s.Accesses), fmt.Sprint(s.Decided()), fmt.Sprint(s.Certified), fmt.Sprint(s.Revoked),
			fmt.Sprint(s.Pending), fmt.Sprint(s.PendingHigh), fmt.Sprint(s.Rejected)})
	}
	if err := writeTable(rc.env.Stdout, rc.env.StdoutTTY, []string{"SYSTEM", "ACCESSES", "DECIDED", "CERTIFIED", "REVOKED", "PENDING", "PENDING HIGH", "REJECTED LINES"}, rows); err != nil {
		return err
	}
	for _, d := range rejected {
		rc.ui.Warnf("rejected: %s %s: %q by %s: %s", d.JiraKey, d.CommentID, d.Line, firstSet(d.AuthorEmail, d.AuthorName, d.DecidedBy), d.Reason)
	}
	return nil
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
