package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/confluence"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/store"
	"github.com/uar-dev/uar/templates"
)

// Pages is the Confluence side of publishing; *confluence.Client is one.
type Pages interface {
	SpaceID(ctx context.Context, key string) (string, error)
	FindPage(ctx context.Context, spaceID, title string) (*confluence.Page, error)
	CreatePage(ctx context.Context, spaceID, parentID, title, storage string) (confluence.Page, error)
	UpdatePage(ctx context.Context, id, title, message string, render func(current confluence.Page) (string, error)) (confluence.Page, error)
}

// Tickets is the Jira side of publishing; *jira.Client is one.
type Tickets interface {
	Myself(ctx context.Context) (jira.User, error)
	Project() string
	FindUser(ctx context.Context, email string) (jira.User, error)
	FindByLabels(ctx context.Context, project string, labels []string) ([]jira.Issue, error)
	CreateIssueOnce(ctx context.Context, f jira.IssueFields, uniqueLabel string) (jira.Issue, bool, error)
	UpdateIssue(ctx context.Context, key string, f jira.IssueFields) error
	GetIssue(ctx context.Context, key string) (jira.Issue, error)
}

// Chat is the Slack side of publishing; *slack.Client is one.
type Chat interface {
	AuthTest(ctx context.Context) (slack.Identity, error)
	PostSummary(ctx context.Context, blocks json.RawMessage, fallback string) (slack.Message, error)
	UpdateSummary(ctx context.Context, channelID, ts string, blocks json.RawMessage, fallback string) (slack.Message, error)
}

// Services is the set of services one publish run writes to.
type Services struct{ Jira, Confluence, Slack bool }

// AllServices publishes everywhere.
var AllServices = Services{Jira: true, Confluence: true, Slack: true}

// PublishTargets are the clients and settings of the services published
// to. A service left out of PublishOptions.Services needs no client.
type PublishTargets struct {
	Pages        Pages
	Space        string // confluence.space
	ParentPageID string // confluence.parent_page_id
	Tickets      Tickets
	JiraBaseURL  string // for /browse/KEY links
	Chat         Chat
}

// PublishOptions says what to publish.
type PublishOptions struct {
	Services Services
	DryRun   bool // plan from the store only; send nothing
	View     ViewOptions
	// Connect checks the settings of the services used and builds their
	// clients (none in a dry run). It is called once the review is known to
	// be publishable, so a review that is not ready is reported first.
	Connect func(dryRun bool) (PublishTargets, error)
	// Workers bounds concurrent calls to one service; 0 means
	// DefaultPublishWorkers.
	Workers int
	// AcceptGap is --accept-gap: why a population with completeness gaps
	// is published anyway (recorded with the actor); "" refuses it.
	AcceptGap string
}

// DefaultPublishWorkers is enough to hide latency over hundreds of systems
// and few enough to stay inside Atlassian's burst limits (429s are honoured
// by the clients anyway).
const DefaultPublishWorkers = 4

// PublishResult is what a publish run did: one row per object created or
// updated (or, in a dry run, planned), Confluence first, then Jira, then
// Slack, each by system.
type PublishResult struct {
	View         *model.ReviewView
	Publications []store.Publication
	Reviewers    []store.Reviewer
}

// Objects is one row per object published, with its final action: an
// object created and then updated in the same run (the review page gets
// its full body once the tickets exist) is listed once, as created, with
// its last version and URL.
func (r *PublishResult) Objects() []store.Publication {
	out := []store.Publication{}
	index := map[string]int{}
	for _, p := range r.Publications {
		k := p.Service + "\x00" + p.Kind + "\x00" + p.System + "\x00" + p.ExternalID
		if p.ExternalID == "" { // a dry-run plan row
			k += "\x00" + p.ExternalKey
		}
		i, seen := index[k]
		if !seen {
			index[k] = len(out)
			out = append(out, p)
			continue
		}
		action := out[i].Action
		if action != store.ActionCreated {
			action = p.Action
		}
		out[i] = p
		out[i].Action = action
	}
	return out
}

// PublishError is one object that could not be published.
type PublishError struct {
	Service string // jira, confluence, slack
	Object  string // "review page", "NetSuite ticket", "summary"...; "" for the service as a whole
	Err     error
}

func (e *PublishError) Error() string {
	if e.Object == "" {
		return fmt.Sprintf("%s %v", e.Service, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Service, e.Object, e.Err)
}
func (e *PublishError) Unwrap() error { return e.Err }

// IncompleteError is a publish run that published some objects and failed
// on others: Errs are the *PublishError values (errors.Is/As see through
// it, so a refused credential still reads as such). What was published is
// recorded; re-running publish completes the rest.
type IncompleteError struct {
	Published int
	Errs      []error
}

func (e *IncompleteError) Error() string {
	const shown = 5 // a run over hundreds of systems can fail on each
	var msgs []string
	for i, err := range e.Errs {
		if i == shown {
			msgs = append(msgs, fmt.Sprintf("and %d more failures", len(e.Errs)-shown))
			break
		}
		msgs = append(msgs, err.Error())
	}
	return fmt.Sprintf("publish incomplete (%d published): %s", e.Published, strings.Join(msgs, "; "))
}
func (e *IncompleteError) Unwrap() []error { return e.Errs }

// Publish publishes the review: it builds the view (LoadView), checks that
// every system with members has an owner, resolves the reviewers' Jira
// accounts, then writes the Confluence review page (and child pages for
// large access tables), one Jira ticket per system and the Slack summary.
// Every object is recorded and sealed as soon as its service confirmed it.
//
// Order, so that every object links to the others with the fewest calls:
// preflight (credentials and lookups; nothing written if one is refused),
// the Confluence page shell and child pages (the page URL is then known),
// the tickets (new ones in system order, so the same starting state gives
// the same keys), the full page with every ticket key and the ledger head,
// then Slack.
//
// Errors: *PrerequisiteError (no snapshot or scoring), a *HintedError when
// the population has a completeness gap not accepted (o.AcceptGap),
// *SettingError (a system without owner, an unknown project or space), or,
// once anything was attempted, *IncompleteError alongside the partial
// result.
func Publish(ctx context.Context, s *Step, o PublishOptions) (*PublishResult, error) {
	// A population not proven complete is refused before anything else.
	snaps, err := s.Store.CurrentSnapshots(ctx, s.Review)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(snaps))
	for i, sn := range snaps {
		ids[i] = sn.ID
	}
	if err := CheckGaps(ctx, s, "publish", ids, o.AcceptGap, !o.DryRun); err != nil {
		return nil, err
	}
	view, err := LoadView(ctx, s, o.View)
	if err != nil {
		return nil, err
	}
	if err := CheckOwners(view); err != nil {
		return nil, err
	}
	t, err := o.Connect(o.DryRun)
	if err != nil {
		return nil, err
	}
	ix, err := LoadPublications(ctx, s.Store, s.Review)
	if err != nil {
		return nil, err
	}
	p := &publisher{step: s, t: t, svc: o.Services, view: view, ix: ix, workers: o.Workers}
	if p.workers <= 0 {
		p.workers = DefaultPublishWorkers
	}
	p.reviewLabel = ReviewLabel(s.Review)
	p.linkPrior()
	if o.DryRun {
		return &PublishResult{View: view, Publications: p.plan()}, nil
	}
	s.Out.Infof("publishing review %s: %d systems with members, %d without", s.Review, len(view.Systems), len(view.Empty))
	err = p.run(ctx)
	s.Out.ProgressDone()
	if err != nil {
		return nil, err
	}
	p.sortOut()
	res := &PublishResult{View: view, Publications: p.out, Reviewers: p.reviewers}
	if len(p.failures) > 0 {
		return res, &IncompleteError{Published: len(p.out), Errs: p.failures}
	}
	return res, nil
}

// publisher publishes one review view. It holds what exists already (from
// the store and the services' own lookups) and records each object as it
// succeeds.
type publisher struct {
	step        *Step
	t           PublishTargets
	svc         Services
	view        *model.ReviewView
	ix          *PublicationIndex
	workers     int
	reviewLabel string

	// found by the preflight lookups
	spaceID  string
	found    *confluence.Page
	labelled map[string]jira.Issue // by system label

	mu        sync.Mutex
	out       []store.Publication
	reviewers []store.Reviewer
	failures  []error
}

// ReviewLabel is the Jira label every ticket of a review carries.
func ReviewLabel(review string) string { return "uar-" + strings.ToLower(review) }

// linkPrior fills the view's links from earlier publications, so a service
// left out with --only still links the others.
func (p *publisher) linkPrior() {
	if p.ix.Page != nil {
		p.view.PageURL = p.ix.Page.URL
	}
	for i := range p.view.Systems {
		sys := &p.view.Systems[i]
		if t, ok := p.ix.Tickets[sys.System.Name]; ok {
			sys.JiraKey, sys.JiraURL = t.ExternalKey, t.URL
		}
		if c, ok := p.ix.Children[templates.AccessPageTitle(p.step.Review, sys.System.Name, 1, len(templates.ChildParts(*sys)))]; ok {
			sys.PageURL = c.URL
		}
	}
}

// plan returns what a run would do, from the store alone (no network).
func (p *publisher) plan() []store.Publication {
	act := func(exists bool) string {
		if exists {
			return "update"
		}
		return "create"
	}
	out := []store.Publication{}
	add := func(service, kind, system string, prev *store.Publication, key string) {
		pub := store.Publication{Review: p.step.Review, Service: service, Kind: kind, System: system, Action: act(prev != nil), ExternalKey: key}
		if prev != nil {
			pub.ExternalID, pub.ExternalKey, pub.URL, pub.Version = prev.ExternalID, prev.ExternalKey, prev.URL, prev.Version
		}
		out = append(out, pub)
	}
	if p.svc.Confluence {
		add(store.ServiceConfluence, store.KindPage, "", p.ix.Page, templates.PageTitle(p.step.Review))
		for _, name := range templates.SplitSystems(*p.view) {
			parts := templates.ChildParts(*p.system(name))
			for k := range parts {
				title := templates.AccessPageTitle(p.step.Review, name, k+1, len(parts))
				var prev *store.Publication
				if c, ok := p.ix.Children[title]; ok {
					prev = &c
				}
				add(store.ServiceConfluence, store.KindChildPage, name, prev, title)
			}
		}
	}
	if p.svc.Jira {
		for _, sys := range p.view.Systems {
			var prev *store.Publication
			if t, ok := p.ix.Tickets[sys.System.Name]; ok {
				prev = &t
			}
			add(store.ServiceJira, store.KindTicket, sys.System.Name, prev, "")
		}
	}
	if p.svc.Slack {
		add(store.ServiceSlack, store.KindMessage, "", p.ix.Message, "")
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

// run publishes. A returned error stopped the run before anything was
// written (a refused preflight); later failures are collected in
// p.failures.
func (p *publisher) run(ctx context.Context) error {
	if err := p.preflight(ctx); err != nil {
		return err
	}
	if p.svc.Jira && p.t.Tickets != nil {
		if err := p.resolveReviewers(ctx); err != nil {
			return err
		}
	}
	confOK := p.svc.Confluence && p.t.Pages != nil
	if confOK {
		confOK = p.step_(p.ensurePage(ctx))
	}
	if confOK {
		confOK = p.step_(p.childPages(ctx))
	}
	// Jira left out by --only is fine for Slack; Jira failing is not.
	jiraOK := !p.svc.Jira
	if p.svc.Jira && p.t.Tickets != nil {
		jiraOK = p.step_(p.publishTickets(ctx))
	}
	if confOK {
		p.step_(p.finalPage(ctx))
	}
	if p.svc.Slack && p.t.Chat != nil {
		if jiraOK {
			p.step_(p.postSlack(ctx))
		} else {
			p.fail(&PublishError{Service: store.ServiceSlack, Object: "summary", Err: errors.New("not posted because the Jira tickets are incomplete")})
		}
	}
	return nil
}

// sortOut orders what was published: Confluence, Jira, Slack; the page
// before child pages; by system; by id.
func (p *publisher) sortOut() {
	order := map[string]int{store.ServiceConfluence: 0, store.ServiceJira: 1, store.ServiceSlack: 2}
	slices.SortStableFunc(p.out, func(a, b store.Publication) int {
		if d := order[a.Service] - order[b.Service]; d != 0 {
			return d
		}
		if a.Kind != b.Kind {
			return -strings.Compare(a.Kind, b.Kind) // page before child_page
		}
		if c := strings.Compare(a.System, b.System); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	if p.out == nil {
		p.out = []store.Publication{}
	}
}

// step_ records err (if any) as a failure and reports success.
func (p *publisher) step_(err error) bool {
	if err != nil {
		p.fail(err)
		return false
	}
	return true
}

func (p *publisher) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// parallel joins the failures of one phase: keep each one.
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		p.failures = append(p.failures, j.Unwrap()...)
		return
	}
	p.failures = append(p.failures, err)
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
	check := func(service string, err error, disable func()) error {
		if err == nil {
			return nil
		}
		if transient(err) && !httpx.IsAuth(err) {
			p.fail(&PublishError{Service: service, Err: fmt.Errorf("unavailable, skipped: %w", err)})
			disable()
			return nil
		}
		return err
	}
	if p.svc.Jira && p.t.Tickets != nil {
		err := p.jiraPreflight(ctx)
		if errors.Is(err, jira.ErrUnknownProject) {
			return &SettingError{Key: "jira.project", Err: err, Hint: "set jira.project to the key of an existing project the service account can see"}
		}
		if err := check(store.ServiceJira, err, func() { p.t.Tickets = nil }); err != nil {
			return err
		}
	}
	if p.svc.Confluence && p.t.Pages != nil {
		err := p.confPreflight(ctx)
		if errors.Is(err, confluence.ErrUnknownSpace) {
			return &SettingError{Key: "confluence.space", Err: err, Hint: "set confluence.space to the key of an existing space the service account can see"}
		}
		if err := check(store.ServiceConfluence, err, func() { p.t.Pages = nil }); err != nil {
			return err
		}
	}
	if p.svc.Slack && p.t.Chat != nil {
		_, err := p.t.Chat.AuthTest(ctx)
		if err := check(store.ServiceSlack, err, func() { p.t.Chat = nil }); err != nil {
			return err
		}
	}
	return nil
}

func (p *publisher) jiraPreflight(ctx context.Context) error {
	if _, err := p.t.Tickets.Myself(ctx); err != nil {
		return err
	}
	found, err := p.t.Tickets.FindByLabels(ctx, p.t.Tickets.Project(), []string{p.reviewLabel})
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
	id, err := p.t.Pages.SpaceID(ctx, p.t.Space)
	if err != nil {
		return err
	}
	p.spaceID = id
	p.found, err = p.t.Pages.FindPage(ctx, id, templates.PageTitle(p.step.Review))
	return err
}

// PublishParams are the params of a "publish" derive row (one per object).
type PublishParams struct {
	Service    string `json:"service"`
	Kind       string `json:"kind"`
	System     string `json:"system"`
	Action     string `json:"action"`
	ExternalID string `json:"external_id"`
	// LedgerHead is the head written onto the object (the review page),
	// so the store knows which head was anchored outside.
	LedgerHead string `json:"ledger_head,omitempty"`
}

// record writes one publication and seals it in its own transaction, right
// after the service confirmed the object. head is the ledger head written
// onto the object, if any.
func (p *publisher) record(ctx context.Context, pub store.Publication, head string) error {
	pub, err := RecordPublication(ctx, p.step, pub, head)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.out = append(p.out, pub)
	n := len(p.out)
	p.mu.Unlock()
	p.step.Out.Progress("publish: %d objects written (%s %s %s)", n, pub.Service, pub.Kind, pub.System)
	return nil
}

// RecordPublication writes pub (an object a service just confirmed) in a
// transaction of its own, sealed by a "publish" derive row, even when ctx
// is cancelled: what was published must be on record. head is the ledger
// head written onto the object ("" if none), recorded as an anchor (the
// service's history now timestamps it). It returns the row written.
func RecordPublication(ctx context.Context, s *Step, pub store.Publication, head string) (store.Publication, error) {
	pubs, err := recordPublications(ctx, s, []store.Publication{pub}, head)
	if err != nil {
		return pub, err
	}
	return pubs[0], nil
}

// recordPublications records pubs in one transaction (one fsync), each
// sealed by its own "publish" derive row; head, if given, is anchored once.
func recordPublications(ctx context.Context, s *Step, pubs []store.Publication, head string) ([]store.Publication, error) {
	out := slices.Clone(pubs)
	ctx = context.WithoutCancel(ctx)
	err := s.Store.WithTx(ctx, func(tx *store.Tx) error {
		for i := range out {
			pub := &out[i]
			pub.Review, pub.RunID = s.Review, s.Run.ID
			_, err := s.Ledger.Derive(ctx, tx, "publish", func(evID string) (evidence.Derived, error) {
				id, err := tx.InsertPublication(ctx, *pub, evID)
				pub.ID, pub.EvidenceID = id, evID
				return evidence.Derived{Scopes: []evidence.Scope{{Table: "publications", Scope: id}},
					Params: PublishParams{Service: pub.Service, Kind: pub.Kind, System: pub.System, Action: pub.Action, ExternalID: pub.ExternalID, LedgerHead: head}}, err
			})
			if err != nil {
				return fmt.Errorf("record %s %s %s: %w", pub.Service, pub.Kind, pub.ExternalID, err)
			}
		}
		if head == "" || len(out) == 0 {
			return nil
		}
		// The head now sits in the service's own history: an anchor.
		last := out[len(out)-1]
		_, err := s.Ledger.RecordAnchor(ctx, tx, evidence.Anchor{Head: head, Service: last.Service, URL: last.URL, PageID: last.ExternalID, Version: last.Version})
		if err != nil {
			return fmt.Errorf("record %s %s %s: %w", last.Service, last.Kind, last.ExternalID, err)
		}
		return nil
	})
	if err != nil {
		return pubs, err
	}
	return out, nil
}

// head is the current ledger head, or the view's if it cannot be read.
func (p *publisher) head(ctx context.Context) string {
	h, err := p.step.Store.Head(ctx)
	if err != nil {
		return p.view.LedgerHead
	}
	return h.String()
}

// parallel runs fn(0..n-1) on p.workers goroutines. The first failure that
// is not transient stops new work; every failure is returned joined.
func (p *publisher) parallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	return forEach(ctx, p.workers, n, fn, func(err error) bool { return !transient(err) })
}
