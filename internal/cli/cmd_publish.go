package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/publish/confluence"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/store"
)

type publishOptions struct {
	review    string
	dryRun    bool
	only      []string
	acceptGap string
}

const publishLong = `Publish the review where people work: one Confluence page titled "UAR <review>"
(with child pages for systems whose access table is too large to sit on it),
one Jira ticket per system that has members, and one Slack summary linking
every ticket. It needs the review's snapshot ('uar snapshot') and scoring
('uar score').

Order of work, so that every object links to the others with the fewest calls:
  1. check the credentials of every service used (Jira /myself, the Confluence
     space, Slack auth.test) and look up what already exists; nothing is
     written if a check fails;
  2. Confluence: make sure the review page exists (a short placeholder on the
     first run) and write the child pages, so the page URL is known;
  3. Jira: create or update one ticket per system (descriptions link the page);
  4. Confluence: write the full review page, with every ticket key and the
     ledger head (seq:hash), so the page history timestamps the evidence;
  5. Slack: post the summary, or update the one posted before.

Re-running updates everything in place and never duplicates: page, tickets
and message are found from the store's publications (tickets also by their
per-system label, e.g. uar-2026-q4-netsuite). Every object created or updated
is recorded and sealed in the store as soon as the service confirms it, so a
run that fails half-way (say Confluence is down) keeps what it published, and
running publish again completes the rest.

Every system with members needs an owner in the config (systems[].owner or
owner_account_id); a system without one is a configuration error, reported
before anything is sent. Secrets come from UAR_JIRA_TOKEN,
UAR_CONFLUENCE_TOKEN (default: UAR_JIRA_TOKEN) and UAR_SLACK_TOKEN.

With --dry-run nothing is sent to any service: the plan (per service and
object, create or update) is computed from the store and printed.

A snapshot recorded with a completeness gap (see 'uar snapshot') is refused
unless --accept-gap "reason" is given; the acceptance is recorded with the
actor (a dry run records nothing).

Examples:
  uar publish
  uar publish --review 2026-Q4 --dry-run
  uar publish --only jira,confluence
  uar publish --json

EXIT STATUS
  0  everything was published
  1  failure, or partial failure (what was published is recorded; re-run);
     or the population has a completeness gap not accepted
  2  usage or configuration error (no snapshot or scoring, a system without
     owner, a missing setting)
  4  a service refused the credentials or the permission`

func newPublishCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &publishOptions{}
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Publish the review to Confluence, Jira and Slack",
		Long:  publishLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runPublish(c.Context(), env, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.review, "review", "", "review label (default: the current quarter, e.g. 2026-Q4)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would be created or updated; send nothing")
	f.StringSliceVar(&o.only, "only", nil, "publish only to these services: jira, confluence, slack (comma-separated)")
	f.StringVar(&o.acceptGap, "accept-gap", "", "publish a population with completeness gaps, for this reason (recorded with the actor)")
	return cmd
}

func parseOnly(only []string) (review.Services, error) {
	if len(only) == 0 {
		return review.AllServices, nil
	}
	var s review.Services
	for _, o := range only {
		switch strings.ToLower(strings.TrimSpace(o)) {
		case store.ServiceJira:
			s.Jira = true
		case store.ServiceConfluence:
			s.Confluence = true
		case store.ServiceSlack:
			s.Slack = true
		default:
			return s, usageErrorf("--only %q: want jira, confluence or slack", o)
		}
	}
	return s, nil
}

func runPublish(ctx context.Context, env *Env, g *globalOptions, o *publishOptions) error {
	rev, err := resolveReview(env, o.review)
	if err != nil {
		return err
	}
	svc, err := parseOnly(o.only)
	if err != nil {
		return err
	}
	spec := runSpec{command: "publish", args: g.args, review: rev}
	return withRun(ctx, env, g, spec, func(ctx context.Context, rc *runCtx) error {
		res, err := review.Publish(ctx, rc.step, review.PublishOptions{Services: svc, DryRun: o.dryRun, AcceptGap: o.acceptGap,
			View: review.ViewOptions{Systems: rc.cfg.Systems, WindowDays: rc.cfg.Review.WindowDays, ToolVersion: env.Version, JiraBaseURL: rc.cfg.Jira.BaseURL},
			Connect: func(dryRun bool) (review.PublishTargets, error) {
				if err := checkPublishConfig(rc, svc, dryRun); err != nil || dryRun {
					return review.PublishTargets{}, err
				}
				return publishTargets(rc, svc), nil
			}})
		if res == nil {
			return err // nothing was done: no empty table
		}
		objs := res.Objects()
		if !o.dryRun && err == nil {
			created := 0
			for _, x := range objs {
				if x.Action == store.ActionCreated {
					created++
				}
			}
			rc.ui.Infof("published review %s: %d created, %d updated", rev, created, len(objs)-created)
		}
		if perr := printPublications(rc, objs, o.dryRun); perr != nil {
			return perr
		}
		return err
	})
}

// checkPublishConfig checks the settings of every service used, before
// anything is sent. A dry run needs no secrets.
func checkPublishConfig(rc *runCtx, svc review.Services, dryRun bool) error {
	c := rc.cfg
	var pairs []string
	if svc.Jira {
		pairs = append(pairs, "jira.base_url", c.Jira.BaseURL, "jira.email", c.Jira.Email, "jira.project", c.Jira.Project)
	}
	if svc.Confluence {
		pairs = append(pairs, "confluence.base_url", c.Confluence.BaseURL, "confluence.email (or jira.email)", c.Confluence.EmailOr(c.Jira.Email), "confluence.space", c.Confluence.Space)
	}
	if svc.Slack {
		pairs = append(pairs, "slack.channel", c.Slack.Channel)
	}
	if !dryRun {
		if svc.Jira {
			pairs = append(pairs, EnvJiraToken, secret(rc.env, EnvJiraToken))
		}
		if svc.Confluence {
			pairs = append(pairs, EnvConfluenceToken+" (or "+EnvJiraToken+")", secret(rc.env, EnvConfluenceToken, EnvJiraToken))
		}
		if svc.Slack {
			pairs = append(pairs, EnvSlackToken, secret(rc.env, EnvSlackToken))
		}
	}
	if err := requireSet(pairs...); err != nil {
		return WithHint(err, "set the keys in uar.yaml (or UAR_<SECTION>_<KEY>) and the secrets in the environment, or use --only")
	}
	return nil
}

// publishTargets builds the clients of the services published to, each
// over a client that records every exchange in the ledger.
func publishTargets(rc *runCtx, svc review.Services) review.PublishTargets {
	c := rc.cfg
	t := review.PublishTargets{Space: c.Confluence.Space, ParentPageID: c.Confluence.ParentPageID, JiraBaseURL: c.Jira.BaseURL}
	if svc.Jira {
		t.Tickets = jira.New(c.Jira.Config(secret(rc.env, EnvJiraToken)), rc.httpClient(store.ServiceJira, 0))
	}
	if svc.Confluence {
		t.Pages = confluence.New(c.Confluence.Config(c.Confluence.EmailOr(c.Jira.Email), secret(rc.env, EnvConfluenceToken, EnvJiraToken)),
			rc.httpClient(store.ServiceConfluence, 0))
	}
	if svc.Slack {
		sc := c.Slack.Config(secret(rc.env, EnvSlackToken))
		_ = sc.Validate() // normalises APIURL; missing values were checked above
		t.Chat = slack.New(sc, rc.httpClient(store.ServiceSlack, 0))
	}
	return t
}

// printPublications writes the result table or JSON document.
func printPublications(rc *runCtx, pubs []store.Publication, dryRun bool) error {
	if pubs == nil {
		pubs = []store.Publication{}
	}
	if rc.g.json {
		return writeJSON(rc.env.Stdout, map[string]any{"publications": pubs, "dry_run": dryRun})
	}
	rows := make([][]string, len(pubs))
	for i, p := range pubs {
		key := p.ExternalKey
		if p.Kind != store.KindTicket {
			key = p.ExternalID
		}
		rows[i] = []string{p.Service, p.Kind, p.System, p.Action, key, p.URL}
	}
	if dryRun {
		rc.ui.Infof("dry run: nothing was sent")
	}
	return writeTable(rc.env.Stdout, rc.env.StdoutTTY, []string{"SERVICE", "KIND", "SYSTEM", "ACTION", "KEY", "URL"}, rows)
}
