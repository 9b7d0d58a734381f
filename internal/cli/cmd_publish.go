package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/confluence"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/store"
	"github.com/uar-dev/uar/templates"
)

func init() { extraCommands = append(extraCommands, newPublishCmd) }

type publishOptions struct {
	review string
	dryRun bool
	only   []string
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

Examples:
  uar publish
  uar publish --review 2026-Q4 --dry-run
  uar publish --only jira,confluence
  uar publish --json

EXIT STATUS
  0  everything was published
  1  failure, or partial failure (what was published is recorded; re-run)
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
	return cmd
}

// publishServices is the set of services one run publishes to.
type publishServices struct{ jira, confluence, slack bool }

func parseOnly(only []string) (publishServices, error) {
	if len(only) == 0 {
		return publishServices{true, true, true}, nil
	}
	var s publishServices
	for _, o := range only {
		switch strings.ToLower(strings.TrimSpace(o)) {
		case store.ServiceJira:
			s.jira = true
		case store.ServiceConfluence:
			s.confluence = true
		case store.ServiceSlack:
			s.slack = true
		default:
			return s, usageErrorf("--only %q: want jira, confluence or slack", o)
		}
	}
	return s, nil
}

func runPublish(ctx context.Context, env *Env, g *globalOptions, o *publishOptions) error {
	review, err := resolveReview(env, o.review)
	if err != nil {
		return err
	}
	svc, err := parseOnly(o.only)
	if err != nil {
		return err
	}
	spec := runSpec{command: "publish", args: g.args, review: review}
	return withRun(ctx, env, g, spec, func(ctx context.Context, rc *runCtx) error {
		view, err := loadReviewView(ctx, rc, review)
		if err != nil {
			return err
		}
		if err := checkOwners(view); err != nil {
			return err
		}
		if err := checkPublishConfig(rc, svc, o.dryRun); err != nil {
			return err
		}
		prior, err := rc.store.CurrentPublications(ctx, review)
		if err != nil {
			return err
		}
		p := newPublisher(rc, svc, view, prior)
		var pubs []store.Publication
		var perr error
		if o.dryRun {
			pubs = p.plan()
		} else {
			rc.ui.Infof("publishing review %s: %d systems with members, %d without", review, len(view.Systems), len(view.Empty))
			pubs, perr = p.run(ctx)
			created := 0
			for _, x := range pubs {
				if x.Action == store.ActionCreated {
					created++
				}
			}
			rc.ui.Infof("published review %s: %d created, %d updated", review, created, len(pubs)-created)
		}
		if perr != nil && len(pubs) == 0 {
			return perr // nothing was done: no empty table
		}
		if err := printPublications(rc, pubs, o.dryRun); err != nil {
			return err
		}
		return perr
	})
}

// loadReviewView builds what the publishers render from the review's
// current snapshot and scoring.
func loadReviewView(ctx context.Context, rc *runCtx, review string) (*model.ReviewView, error) {
	snaps, err := rc.store.CurrentSnapshots(ctx, review)
	if err != nil {
		return nil, err
	}
	if len(snaps) == 0 {
		return nil, WithHint(usageErrorf("review %s has no snapshot: run 'uar snapshot' first", review), "run 'uar snapshot --review "+review+"', then 'uar score'")
	}
	ids := make([]int64, len(snaps))
	for i, s := range snaps {
		ids[i] = s.ID
	}
	snap, err := rc.store.LoadSnapshot(ctx, ids)
	if err != nil {
		return nil, err
	}
	sc, err := rc.store.CurrentScoring(ctx, review)
	if errors.Is(err, store.ErrNotFound) {
		return nil, WithHint(usageErrorf("review %s has no scoring: run 'uar score' first", review), "run 'uar score --review "+review+"'")
	}
	if err != nil {
		return nil, err
	}
	// Publishing findings of an older population would ask owners to
	// review the wrong thing.
	if !slices.Equal(sc.SnapshotIDs, ids) {
		return nil, WithHint(usageErrorf("review %s was snapshotted again after its last scoring: run 'uar score' first", review), "run 'uar score --review "+review+"'")
	}
	head, err := rc.store.Head(ctx)
	if err != nil {
		return nil, err
	}
	v := buildReviewView(rc.cfg.modelSystems(), snap, sc.Findings, review)
	v.RunID = rc.run.ID
	v.RunAt = rc.runAt
	v.ToolVersion = rc.env.Version
	v.LedgerHead = head.String()
	v.Deadline = rc.runAt.AddDate(0, 0, rc.cfg.Review.WindowDays)
	return v, nil
}

// buildReviewView groups the snapshot's memberships by system (the system
// each group was mapped to when the snapshot was taken), with each system's
// unsuppressed findings and highest risk. Systems with members are sorted
// by name; configured systems without members, and systems whose groups are
// all empty, are listed in Empty.
func buildReviewView(systems []model.System, snap *model.Snapshot, findings []model.Finding, review string) *model.ReviewView {
	users := make(map[string]*model.User, len(snap.Users))
	for i := range snap.Users {
		users[snap.Users[i].ID] = &snap.Users[i]
	}
	groups := make(map[string]*model.Group, len(snap.Groups))
	hasGroups := map[string]bool{}
	for i := range snap.Groups {
		g := &snap.Groups[i]
		groups[g.ID] = g
		if g.System != "" {
			hasGroups[g.System] = true
		}
	}
	conf := map[string]model.System{}
	for _, s := range systems {
		conf[s.Name] = s
	}
	userRisk := map[[2]string]model.Risk{}
	sysFindings := map[string][]model.Finding{}
	for _, f := range findings {
		if f.Suppressed != nil || f.System == "" {
			continue
		}
		sysFindings[f.System] = append(sysFindings[f.System], f)
		k := [2]string{f.System, f.UserID}
		if f.Risk.Rank() > userRisk[k].Rank() {
			userRisk[k] = f.Risk
		}
	}
	access := map[string][]model.AccessRow{}
	for _, m := range snap.Memberships {
		g := groups[m.GroupID]
		if g == nil || g.System == "" {
			continue
		}
		row := model.AccessRow{GroupName: g.Name, Role: g.Role, MembershipSource: m.Source}
		if u := users[m.UserID]; u != nil {
			row.UserLogin, row.UserEmail, row.UserName = u.Login, u.Email, u.DisplayName()
			row.Department, row.Title, row.UserType, row.UserStatus, row.LastLogin = u.Department, u.Title, u.UserType, u.Status, u.LastLogin
		} else {
			row.UserLogin = m.UserID
		}
		row.Risk = userRisk[[2]string{g.System, m.UserID}]
		access[g.System] = append(access[g.System], row)
	}
	v := &model.ReviewView{Review: review, Systems: []model.SystemReview{}, Empty: []string{}}
	names := make([]string, 0, len(hasGroups))
	for n := range hasGroups {
		names = append(names, n)
	}
	for _, s := range systems {
		if !hasGroups[s.Name] {
			names = append(names, s.Name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		rows := access[n]
		if len(rows) == 0 {
			v.Empty = append(v.Empty, n)
			continue
		}
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].GroupName != rows[j].GroupName {
				return rows[i].GroupName < rows[j].GroupName
			}
			return rows[i].UserLogin < rows[j].UserLogin
		})
		fs := sysFindings[n]
		sort.SliceStable(fs, func(i, j int) bool {
			if a, b := fs[i].Risk.Rank(), fs[j].Risk.Rank(); a != b {
				return a > b
			}
			return fs[i].UserLogin < fs[j].UserLogin
		})
		var risk model.Risk
		for _, f := range fs {
			if f.Risk.Rank() > risk.Rank() {
				risk = f.Risk
			}
		}
		sys, ok := conf[n]
		if !ok {
			sys = model.System{Name: n}
		}
		if fs == nil {
			fs = []model.Finding{}
		}
		v.Systems = append(v.Systems, model.SystemReview{System: sys, Risk: risk, Access: rows, Findings: fs})
	}
	return v
}

// checkOwners refuses to publish a system nobody can review.
func checkOwners(v *model.ReviewView) error {
	var missing []string
	for _, s := range v.Systems {
		if strings.TrimSpace(s.System.Owner) == "" && strings.TrimSpace(s.System.OwnerAccountID) == "" {
			missing = append(missing, s.System.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return WithHint(usageErrorf("config: system %s has no owner", strings.Join(missing, ", ")),
		"add a systems: entry with name, groups and owner (or owner_account_id) for each, then re-run publish")
}

// checkPublishConfig checks the settings of every service used, before
// anything is sent. A dry run needs no secrets.
func checkPublishConfig(rc *runCtx, svc publishServices, dryRun bool) error {
	c := rc.cfg
	var pairs []string
	if svc.jira {
		pairs = append(pairs, "jira.base_url", c.Jira.BaseURL, "jira.email", c.Jira.Email, "jira.project", c.Jira.Project)
	}
	if svc.confluence {
		pairs = append(pairs, "confluence.base_url", c.Confluence.BaseURL, "confluence.email (or jira.email)", confluenceEmail(c), "confluence.space", c.Confluence.Space)
	}
	if svc.slack {
		pairs = append(pairs, "slack.channel", c.Slack.Channel)
	}
	if !dryRun {
		if svc.jira {
			pairs = append(pairs, EnvJiraToken, secret(rc.env, EnvJiraToken))
		}
		if svc.confluence {
			pairs = append(pairs, EnvConfluenceToken+" (or "+EnvJiraToken+")", secret(rc.env, EnvConfluenceToken, EnvJiraToken))
		}
		if svc.slack {
			pairs = append(pairs, EnvSlackToken, secret(rc.env, EnvSlackToken))
		}
	}
	if err := requireSet(pairs...); err != nil {
		return WithHint(err, "set the keys in uar.yaml (or UAR_<SECTION>_<KEY>) and the secrets in the environment, or use --only")
	}
	return nil
}

func confluenceEmail(c *Config) string {
	if c.Confluence.Email != "" {
		return c.Confluence.Email
	}
	return c.Jira.Email
}

// publishWorkers bounds concurrent calls to one service: enough to hide
// latency over hundreds of systems, few enough to stay inside Atlassian's
// burst limits (429s are honoured by the clients anyway).
const publishWorkers = 4

// publisher publishes one review view. It holds what exists already (from
// the store and the services' own lookups) and records each object as it
// succeeds.
type publisher struct {
	svc    publishServices
	view   *model.ReviewView
	review string
	runID  string
	st     *store.Store
	ledger *evidence.Ledger
	ui     ui

	jira        *jira.Client
	jiraBase    string
	conf        *confluence.Client
	space       string
	parentID    string
	slack       *slack.Client
	slackChan   string
	workers     int
	reviewLabel string

	// prior state
	page         *store.Publication
	children     map[string]store.Publication // by title
	priorTickets map[string]store.Publication // by system
	message      *store.Publication

	// found by the preflight lookups
	spaceID  string
	found    *confluence.Page
	labelled map[string]jira.Issue // by system label

	mu       sync.Mutex
	out      []store.Publication
	failures []error
}

func newPublisher(rc *runCtx, svc publishServices, v *model.ReviewView, prior []store.Publication) *publisher {
	c := rc.cfg
	p := &publisher{
		svc: svc, view: v, review: v.Review, runID: rc.run.ID, st: rc.store, ledger: rc.ledger, ui: rc.ui,
		jiraBase: strings.TrimRight(c.Jira.BaseURL, "/"), space: c.Confluence.Space, parentID: c.Confluence.ParentPageID,
		slackChan: c.Slack.Channel, workers: publishWorkers,
	}
	if svc.jira {
		p.jira = jira.New(jira.Config{BaseURL: c.Jira.BaseURL, Email: c.Jira.Email, Token: secret(rc.env, EnvJiraToken),
			Project: c.Jira.Project, IssueType: c.Jira.IssueType}, rc.httpClient(store.ServiceJira, 0))
	}
	if svc.confluence {
		p.conf = confluence.New(confluence.Config{BaseURL: c.Confluence.BaseURL, Email: confluenceEmail(c),
			Token: secret(rc.env, EnvConfluenceToken, EnvJiraToken), Space: c.Confluence.Space, ParentPageID: c.Confluence.ParentPageID},
			rc.httpClient(store.ServiceConfluence, 0))
	}
	if svc.slack {
		sc := slack.Config{Channel: c.Slack.Channel, APIURL: c.Slack.APIURL, Token: secret(rc.env, EnvSlackToken)}
		_ = sc.Validate() // normalises APIURL; missing values were checked above
		p.slack = slack.New(sc, rc.httpClient(store.ServiceSlack, 0))
	}
	p.setPrior(prior)
	return p
}

// setPrior indexes what earlier runs published and fills the view's links
// from it, so a service left out with --only still links the others.
func (p *publisher) setPrior(prior []store.Publication) {
	p.reviewLabel = "uar-" + strings.ToLower(p.review)
	p.children = map[string]store.Publication{}
	p.priorTickets = map[string]store.Publication{}
	for _, r := range prior { // id order: later rows win
		switch {
		case r.Service == store.ServiceConfluence && r.Kind == store.KindPage:
			p.page = &r
		case r.Service == store.ServiceConfluence && r.Kind == store.KindChildPage:
			p.children[r.ExternalKey] = r
		case r.Service == store.ServiceJira && r.Kind == store.KindTicket:
			p.priorTickets[r.System] = r
		case r.Service == store.ServiceSlack && r.Kind == store.KindMessage:
			p.message = &r
		}
	}
	if p.page != nil {
		p.view.PageURL = p.page.URL
	}
	for i := range p.view.Systems {
		s := &p.view.Systems[i]
		if t, ok := p.priorTickets[s.System.Name]; ok {
			s.JiraKey, s.JiraURL = t.ExternalKey, t.URL
		}
		if c, ok := p.children[templates.AccessPageTitle(p.review, s.System.Name, 1, len(templates.AccessParts(s.Access)))]; ok {
			s.PageURL = c.URL
		}
	}
}

// systemLabel is the Jira label unique to one system's ticket in this
// review. A name that does not survive slugging unchanged gets a short hash
// so two such names can never share a label.
func (p *publisher) systemLabel(system string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(system) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	slug := strings.TrimSuffix(b.String(), "-")
	if slug != strings.ToLower(system) {
		sum := sha256.Sum256([]byte(system))
		slug = strings.TrimPrefix(slug+"-", "-") + hex.EncodeToString(sum[:3])
	}
	return p.reviewLabel + "-" + slug
}

// plan returns what a run would do, from the store alone (no network).
func (p *publisher) plan() []store.Publication {
	act := func(exists bool) string {
		if exists {
			return "update"
		}
		return "create"
	}
	var out []store.Publication
	add := func(service, kind, system string, prev *store.Publication, key string) {
		pub := store.Publication{Review: p.review, Service: service, Kind: kind, System: system, Action: act(prev != nil), ExternalKey: key}
		if prev != nil {
			pub.ExternalID, pub.ExternalKey, pub.URL, pub.Version = prev.ExternalID, prev.ExternalKey, prev.URL, prev.Version
		}
		out = append(out, pub)
	}
	if p.svc.confluence {
		add(store.ServiceConfluence, store.KindPage, "", p.page, templates.PageTitle(p.review))
		for _, name := range templates.SplitAccess(*p.view) {
			s := p.system(name)
			parts := templates.AccessParts(s.Access)
			for k := range parts {
				title := templates.AccessPageTitle(p.review, name, k+1, len(parts))
				var prev *store.Publication
				if c, ok := p.children[title]; ok {
					prev = &c
				}
				add(store.ServiceConfluence, store.KindChildPage, name, prev, title)
			}
		}
	}
	if p.svc.jira {
		for _, s := range p.view.Systems {
			var prev *store.Publication
			if t, ok := p.priorTickets[s.System.Name]; ok {
				prev = &t
			}
			add(store.ServiceJira, store.KindTicket, s.System.Name, prev, "")
		}
	}
	if p.svc.slack {
		add(store.ServiceSlack, store.KindMessage, "", p.message, "")
	}
	return out
}

func (p *publisher) system(name string) *model.SystemReview {
	for i := range p.view.Systems {
		if p.view.Systems[i].System.Name == name {
			return &p.view.Systems[i]
		}
	}
	return nil
}

// run publishes: preflight, Confluence shell and child pages, Jira, the
// full Confluence page, Slack. It returns what it published and an error
// naming every part that failed.
func (p *publisher) run(ctx context.Context) ([]store.Publication, error) {
	if err := p.preflight(ctx); err != nil {
		return nil, err
	}
	confOK := p.svc.confluence && p.conf != nil
	if confOK {
		confOK = p.step(p.ensurePage(ctx))
	}
	if confOK {
		confOK = p.step(p.childPages(ctx))
	}
	// Jira left out by --only is fine for Slack; Jira failing is not.
	jiraOK := !p.svc.jira
	if p.svc.jira && p.jira != nil {
		jiraOK = p.step(p.publishTickets(ctx))
	}
	if confOK {
		p.step(p.finalPage(ctx))
	}
	if p.svc.slack && p.slack != nil {
		if jiraOK {
			p.step(p.postSlack(ctx))
		} else {
			p.fail(errors.New("slack: summary not posted because the Jira tickets are incomplete"))
		}
	}
	// Workers finish in any order: sort for a stable report.
	order := map[string]int{store.ServiceConfluence: 0, store.ServiceJira: 1, store.ServiceSlack: 2}
	sort.SliceStable(p.out, func(i, j int) bool {
		a, b := p.out[i], p.out[j]
		if order[a.Service] != order[b.Service] {
			return order[a.Service] < order[b.Service]
		}
		if a.Kind != b.Kind {
			return a.Kind > b.Kind // page before child_page
		}
		if a.System != b.System {
			return a.System < b.System
		}
		return a.ID < b.ID
	})
	return p.out, p.result()
}

// step records err (if any) as a failure and reports success.
func (p *publisher) step(err error) bool {
	if err != nil {
		p.fail(err)
		return false
	}
	return true
}

func (p *publisher) fail(err error) {
	p.mu.Lock()
	p.failures = append(p.failures, err)
	p.mu.Unlock()
}

func (p *publisher) result() error {
	if len(p.failures) == 0 {
		return nil
	}
	msgs := make([]string, len(p.failures))
	for i, e := range p.failures {
		msgs[i] = e.Error()
	}
	err := fmt.Errorf("publish incomplete (%d published): %s", len(p.out), strings.Join(msgs, "; "))
	for _, e := range p.failures {
		if httpx.IsAuth(e) || errors.Is(e, context.Canceled) {
			// Keep the refusal's exit code (4) or the interruption (130).
			err = fmt.Errorf("%w (%d published; %s)", e, len(p.out), strings.Join(msgs, "; "))
			break
		}
	}
	return WithHint(err, "what was published is recorded; fix the cause and run 'uar publish' again to complete it")
}

// transient reports whether err is a service being down or slow (worth
// publishing the other services anyway) rather than a refusal or a
// configuration problem.
func transient(err error) bool {
	var se *httpx.StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusTooManyRequests || se.Status >= 500
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}

// preflight checks every service's credentials and looks up what exists,
// before anything is written. A refusal or a configuration problem stops
// the run; a service that is down is skipped (and reported) so the others
// are still published.
func (p *publisher) preflight(ctx context.Context) error {
	check := func(name string, err error, disable func()) error {
		if err == nil {
			return nil
		}
		if transient(err) && !httpx.IsAuth(err) {
			p.fail(fmt.Errorf("%s unavailable, skipped: %w", name, err))
			disable()
			return nil
		}
		return err
	}
	if p.jira != nil {
		err := p.jiraPreflight(ctx)
		if err := check("jira", err, func() { p.jira = nil }); err != nil {
			return err
		}
	}
	if p.conf != nil {
		err := p.confPreflight(ctx)
		if err := check("confluence", err, func() { p.conf = nil }); err != nil {
			return err
		}
	}
	if p.slack != nil {
		_, err := p.slack.AuthTest(ctx)
		if err := check("slack", err, func() { p.slack = nil }); err != nil {
			return err
		}
	}
	return nil
}

func (p *publisher) jiraPreflight(ctx context.Context) error {
	if _, err := p.jira.Myself(ctx); err != nil {
		return err
	}
	found, err := p.jira.FindByLabels(ctx, p.jira.Project(), []string{p.reviewLabel})
	if err != nil {
		return err
	}
	p.labelled = map[string]jira.Issue{}
	for _, is := range found {
		for _, l := range is.Labels {
			if strings.HasPrefix(l, p.reviewLabel+"-") {
				p.labelled[l] = is
			}
		}
	}
	return nil
}

func (p *publisher) confPreflight(ctx context.Context) error {
	id, err := p.conf.SpaceID(ctx, p.space)
	if err != nil {
		return err
	}
	p.spaceID = id
	p.found, err = p.conf.FindPage(ctx, id, templates.PageTitle(p.review))
	return err
}

// record writes one publication and seals it in its own transaction, right
// after the service confirmed the object.
func (p *publisher) record(ctx context.Context, pub store.Publication) error {
	pub.Review, pub.RunID = p.review, p.runID
	ctx = context.WithoutCancel(ctx) // what was published must be recorded even on Ctrl-C
	err := p.st.WithTx(ctx, func(tx *store.Tx) error {
		evID, err := evidence.NextID(ctx, tx)
		if err != nil {
			return err
		}
		id, err := tx.InsertPublication(ctx, pub, evID)
		if err != nil {
			return err
		}
		pub.ID, pub.EvidenceID = id, evID
		_, err = p.ledger.Seal(ctx, tx, "publish", []evidence.Scope{{Table: "publications", Scope: id}},
			map[string]any{"service": pub.Service, "kind": pub.Kind, "system": pub.System, "action": pub.Action, "external_id": pub.ExternalID})
		return err
	})
	if err != nil {
		return fmt.Errorf("record %s %s %s: %w", pub.Service, pub.Kind, pub.ExternalID, err)
	}
	p.mu.Lock()
	p.out = append(p.out, pub)
	p.mu.Unlock()
	return nil
}

func (p *publisher) head(ctx context.Context) string {
	h, err := p.st.Head(ctx)
	if err != nil {
		return p.view.LedgerHead
	}
	return h.String()
}

func pagePub(kind, system, action string, pg confluence.Page) store.Publication {
	return store.Publication{Service: store.ServiceConfluence, Kind: kind, System: system, Action: action, ExternalID: pg.ID,
		ExternalKey: pg.Title, URL: pg.WebURL, Version: pg.Version.Number, ServiceTime: store.FormatTime(pg.Version.CreatedAt)}
}

// ensurePage makes sure the review page exists, so child pages have a
// parent and tickets a link. A new page gets a short placeholder: the full
// body (with ticket keys) is written once the tickets exist.
func (p *publisher) ensurePage(ctx context.Context) error {
	if p.found != nil {
		p.view.PageURL = p.found.WebURL
		return nil
	}
	body := fmt.Sprintf(`<p>uar is publishing review %s (run %s). This page is completed when the run finishes; if it stays like this, run <code>uar publish</code> again.</p>`,
		templates.XMLText(p.review), templates.XMLText(p.runID))
	pg, err := p.conf.CreatePage(ctx, p.spaceID, p.parentID, templates.PageTitle(p.review), body)
	var pe *confluence.PageExistsError
	if errors.As(err, &pe) {
		p.found = &pe.Page
		p.view.PageURL = pe.Page.WebURL
		return nil
	}
	if err != nil {
		return fmt.Errorf("confluence: create review page: %w", err)
	}
	p.found = &pg
	p.view.PageURL = pg.WebURL
	return p.record(ctx, pagePub(store.KindPage, "", store.ActionCreated, pg))
}

func (p *publisher) updateMessage() string {
	return fmt.Sprintf("uar publish %s, run %s", p.review, p.runID)
}

// childPage is one child page to write.
type childPage struct {
	sys   int
	part  int
	title string
	body  string
}

// childPages writes the access tables that are too large for the review
// page, and points their systems at them.
func (p *publisher) childPages(ctx context.Context) error {
	var jobs []childPage
	for _, name := range templates.SplitAccess(*p.view) {
		s := p.system(name)
		idx := slices.IndexFunc(p.view.Systems, func(x model.SystemReview) bool { return x.System.Name == name })
		parts := templates.AccessParts(s.Access)
		for k := range parts {
			part := *s
			part.Access = parts[k]
			body, err := templates.ConfluenceAccessPage(*p.view, part)
			if err != nil {
				return fmt.Errorf("confluence: render %s access page: %w", name, err)
			}
			jobs = append(jobs, childPage{sys: idx, part: k, title: templates.AccessPageTitle(p.review, name, k+1, len(parts)), body: body})
		}
	}
	urls := make([]string, len(jobs))
	err := p.parallel(ctx, len(jobs), func(ctx context.Context, i int) error {
		u, err := p.childPage(ctx, jobs[i])
		urls[i] = u
		return err
	})
	for i, j := range jobs {
		if j.part == 0 && urls[i] != "" {
			p.view.Systems[j.sys].PageURL = urls[i]
		}
	}
	return err
}

func (p *publisher) childPage(ctx context.Context, j childPage) (string, error) {
	system := p.view.Systems[j.sys].System.Name
	update := func(id string) (string, error) {
		pg, err := p.conf.UpdatePage(ctx, id, j.title, p.updateMessage(), func(confluence.Page) (string, error) { return j.body, nil })
		if err != nil {
			return "", err
		}
		return pg.WebURL, p.record(ctx, pagePub(store.KindChildPage, system, store.ActionUpdated, pg))
	}
	if prev, ok := p.children[j.title]; ok {
		u, err := update(prev.ExternalID)
		var se *httpx.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusNotFound {
			return u, wrapf(err, "confluence: update page %q", j.title)
		}
	}
	pg, err := p.conf.CreatePage(ctx, p.spaceID, p.found.ID, j.title, j.body)
	var pe *confluence.PageExistsError
	if errors.As(err, &pe) {
		u, err := update(pe.Page.ID)
		return u, wrapf(err, "confluence: update page %q", j.title)
	}
	if err != nil {
		return "", fmt.Errorf("confluence: create page %q: %w", j.title, err)
	}
	return pg.WebURL, p.record(ctx, pagePub(store.KindChildPage, system, store.ActionCreated, pg))
}

func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// finalPage writes the full review page, with every ticket and the ledger
// head at render time.
func (p *publisher) finalPage(ctx context.Context) error {
	pg, err := p.conf.UpdatePage(ctx, p.found.ID, templates.PageTitle(p.review), p.updateMessage(), func(confluence.Page) (string, error) {
		v := *p.view
		v.LedgerHead = p.head(ctx)
		return templates.ConfluencePage(v)
	})
	if err != nil {
		return fmt.Errorf("confluence: update review page: %w", err)
	}
	p.view.PageURL = pg.WebURL
	return p.record(ctx, pagePub(store.KindPage, "", store.ActionUpdated, pg))
}

// ticketResult is one system's ticket as published.
type ticketResult struct{ key, url string }

// publishTickets creates or updates one ticket per system with members.
func (p *publisher) publishTickets(ctx context.Context) error {
	v := *p.view
	v.LedgerHead = p.head(ctx)
	res := make([]ticketResult, len(v.Systems))
	err := p.parallel(ctx, len(v.Systems), func(ctx context.Context, i int) error {
		r, err := p.ticket(ctx, v, v.Systems[i])
		res[i] = r
		return err
	})
	for i, r := range res {
		if r.key != "" {
			p.view.Systems[i].JiraKey, p.view.Systems[i].JiraURL = r.key, r.url
		}
	}
	return err
}

func (p *publisher) ticket(ctx context.Context, v model.ReviewView, s model.SystemReview) (ticketResult, error) {
	name := s.System.Name
	desc, err := templates.JiraDescription(v, s)
	if err != nil {
		return ticketResult{}, fmt.Errorf("jira: render %s description: %w", name, err)
	}
	label := p.systemLabel(name)
	f := jira.IssueFields{
		Summary:           fmt.Sprintf("UAR %s: %s access review", p.review, name),
		Description:       desc,
		Labels:            []string{"uar", p.reviewLabel, label},
		AssigneeAccountID: s.System.OwnerAccountID,
	}
	key, current := "", ""
	if is, ok := p.labelled[label]; ok {
		key, current = is.Key, is.Priority
	} else if t, ok := p.priorTickets[name]; ok {
		key = t.ExternalKey
	}
	switch {
	case s.Risk == model.RiskHigh:
		f.Priority = "Highest"
	case current == "Highest":
		// The HIGH finding is gone (fixed or excepted): lower it again.
		f.Priority = "Medium"
	}
	if key != "" {
		r, err := p.updateTicket(ctx, key, name, f)
		var se *httpx.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusNotFound {
			return r, err
		}
		// Deleted or moved since: create it again below.
	}
	is, created, err := p.jira.CreateIssueOnce(ctx, f, label)
	if err != nil {
		return ticketResult{}, fmt.Errorf("jira: create %s ticket: %w", name, err)
	}
	if !created {
		return p.updateTicket(ctx, is.Key, name, f)
	}
	r := ticketResult{key: is.Key, url: p.jiraBase + "/browse/" + is.Key}
	return r, p.record(ctx, store.Publication{Service: store.ServiceJira, Kind: store.KindTicket, System: name, Action: store.ActionCreated,
		ExternalID: is.ID, ExternalKey: is.Key, URL: r.url, ServiceTime: store.FormatTime(is.Created)})
}

func (p *publisher) updateTicket(ctx context.Context, key, name string, f jira.IssueFields) (ticketResult, error) {
	if err := p.jira.UpdateIssue(ctx, key, f); err != nil {
		return ticketResult{}, fmt.Errorf("jira: update %s ticket %s: %w", name, key, err)
	}
	// Read it back for Jira's own `updated` time (the update answers 204).
	is, err := p.jira.GetIssue(ctx, key)
	if err != nil {
		return ticketResult{}, fmt.Errorf("jira: read %s ticket %s: %w", name, key, err)
	}
	r := ticketResult{key: is.Key, url: p.jiraBase + "/browse/" + is.Key}
	return r, p.record(ctx, store.Publication{Service: store.ServiceJira, Kind: store.KindTicket, System: name, Action: store.ActionUpdated,
		ExternalID: is.ID, ExternalKey: is.Key, URL: r.url, ServiceTime: store.FormatTime(is.Updated)})
}

// postSlack posts the summary, or updates the one posted before (posting
// anew if it was deleted).
func (p *publisher) postSlack(ctx context.Context) error {
	v := *p.view
	v.LedgerHead = p.head(ctx)
	blocks, fallback, err := templates.SlackSummary(v)
	if err != nil {
		return fmt.Errorf("slack: render summary: %w", err)
	}
	action := store.ActionCreated
	var m slack.Message
	if p.message != nil {
		m, err = p.slack.UpdateSummary(ctx, p.message.ExternalKey, p.message.ExternalID, blocks, fallback)
		action = store.ActionUpdated
		if slack.IsMessageGone(err) {
			p.ui.Warnf("slack: the earlier summary (ts %s) is gone: posting a new one", p.message.ExternalID)
			action = ""
		}
	}
	if p.message == nil || action == "" {
		action = store.ActionCreated
		m, err = p.slack.PostSummary(ctx, blocks, fallback)
	}
	if m.TS != "" {
		// Posted (even if the permalink lookup failed): record it.
		if rerr := p.record(ctx, store.Publication{Service: store.ServiceSlack, Kind: store.KindMessage, Action: action,
			ExternalID: m.TS, ExternalKey: m.Channel, URL: m.Permalink, ServiceTime: store.FormatTime(m.Time())}); rerr != nil {
			return rerr
		}
	}
	return err // the slack client's errors name the service and setting
}

// parallel runs fn(0..n-1) on p.workers goroutines. The first failure that
// is not transient stops new work; every failure is returned joined.
func (p *publisher) parallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range max(1, min(p.workers, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					if !transient(err) {
						cancel()
					}
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if len(errs) == 0 {
		return ctx.Err()
	}
	// Report the root cause, not the cancellations it caused.
	var real []error
	for _, e := range errs {
		if !errors.Is(e, context.Canceled) {
			real = append(real, e)
		}
	}
	if len(real) == 0 {
		real = errs
	}
	if len(real) > 3 {
		return fmt.Errorf("%w (and %d more failures)", real[0], len(real)-1)
	}
	return errors.Join(real...)
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
