package review

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/store"
	"github.com/uar-dev/uar/templates"
)

const rev = "2026-Q4"

// The engine end to end against the sandbox fakes, twice: the first run
// creates everything (tickets in system order, assigned to the owners'
// resolved Jira accounts), the second updates it all in place.
func TestPublishCreatesThenUpdates(t *testing.T) {
	ctx := context.Background()
	st, sb, systems := testStore(t), startSandbox(t, nil), sandbox.ReferenceSystems()
	snapshotAndScore(t, st, sb, rev, systems)

	s, out := newStep(t, st, "publish", rev)
	res, err := Publish(ctx, s, publishOpts(sandboxTargets(s, sb), systems))
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	issues := sb.Jira.Issues()
	if len(issues) != 3 {
		t.Fatalf("%d issues, want one per system", len(issues))
	}
	for i, want := range []string{"NetSuite", "Salesforce", "Workday"} {
		is := issues[i]
		if !strings.Contains(is.Summary, want) || is.Key != "UAR-"+string(rune('1'+i)) {
			t.Errorf("issue %d = %s %q: tickets must be created in system order", i, is.Key, is.Summary)
		}
		if wantOwner := jiraAccount(systems[i].Owner); is.Assignee != wantOwner {
			t.Errorf("%s assignee = %q, want the owner's account %q", is.Key, is.Assignee, wantOwner)
		}
	}
	if n := sb.Jira.Log().Count("GET", "/rest/api/3/user/search"); n != 4 {
		t.Errorf("%d user searches, want 4 (3 owners and the one backup reviewer, each once)", n)
	}
	created := actions(res.Publications, store.ActionCreated)
	if created != 5 { // page, 3 tickets, 1 message
		t.Errorf("first run created %d objects, want 5: %+v", created, res.Publications)
	}
	pages := sb.Confluence.Pages()
	if len(pages) != 1 || !strings.Contains(pages[0].Current().Body, "UAR-3") {
		t.Fatalf("review page should list every ticket: %+v", pages)
	}
	head := anchoredHead(t, st)
	if !strings.Contains(pages[0].Current().Body, strings.SplitN(head, ":", 2)[1]) {
		t.Errorf("the page does not carry the anchored head %s", head)
	}
	reviewers, err := st.CurrentReviewers(ctx, rev)
	if err != nil || len(reviewers) != 6 {
		t.Fatalf("reviewers = %+v, %v; want 3 owners and 3 backups", reviewers, err)
	}

	// Second run: everything updated, nothing duplicated, no new lookups.
	sb.Jira.Log().Reset()
	s2, out2 := newStep(t, st, "publish", rev)
	res2, err := Publish(ctx, s2, publishOpts(sandboxTargets(s2, sb), systems))
	if err != nil {
		t.Fatalf("second publish: %v\n%s", err, out2)
	}
	if c := actions(res2.Publications, store.ActionCreated); c != 0 {
		t.Errorf("second run created %d objects: %+v", c, res2.Publications)
	}
	if len(sb.Jira.Issues()) != 3 || len(sb.Confluence.Pages()) != 1 || len(sb.Slack.Messages()) != 1 {
		t.Errorf("second run duplicated something: %d issues, %d pages, %d messages",
			len(sb.Jira.Issues()), len(sb.Confluence.Pages()), len(sb.Slack.Messages()))
	}
	if n := sb.Jira.Log().Count("GET", "/rest/api/3/user/search"); n != 0 {
		t.Errorf("second run searched users %d times: resolved accounts are recorded", n)
	}
	if n := countDerive(t, st, "reviewers"); n != 1 {
		t.Errorf("%d reviewer resolution passes, want 1 (the set did not change)", n)
	}
	if sum, err := evidence.Verify(ctx, st, evidence.Options{Rederivers: Rederivers()}); err != nil {
		t.Fatalf("verify: %v %+v", err, sum.Problems)
	}
}

func jiraAccount(email string) string { return sandbox.JiraAccountID(email) }

func actions(pubs []store.Publication, action string) int {
	n := 0
	for _, p := range pubs {
		if p.Action == action {
			n++
		}
	}
	return n
}

func countDerive(t *testing.T, st *store.Store, name string) int {
	t.Helper()
	rows, err := st.FindEvidence(context.Background(), store.EvidenceFilter{Kind: evidence.KindDerive, QueryName: name})
	if err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

// anchoredHead is the ledger head the last review-page update recorded.
func anchoredHead(t *testing.T, st *store.Store) string {
	t.Helper()
	rows, err := st.FindEvidence(context.Background(), store.EvidenceFilter{Kind: evidence.KindDerive, QueryName: "publish"})
	if err != nil {
		t.Fatal(err)
	}
	head := ""
	for _, r := range rows {
		var p PublishParams
		if err := evidence.DeriveParams(r, &p); err != nil {
			t.Fatal(err)
		}
		if p.Kind == store.KindPage && p.LedgerHead != "" {
			head = p.LedgerHead
		}
	}
	if head == "" {
		t.Fatal("no review page update recorded a ledger head")
	}
	return head
}

// Confluence down: Jira and Slack are still published, the failure is a
// typed *PublishError inside an *IncompleteError, and a re-run once
// Confluence is back completes the page without duplicating the rest.
func TestPublishPartialFailureThenRerun(t *testing.T) {
	ctx := context.Background()
	st, sb, systems := testStore(t), startSandbox(t, nil), sandbox.ReferenceSystems()
	snapshotAndScore(t, st, sb, rev, systems)
	sb.Confluence.Inject5xx(1000, 503)

	s, _ := newStep(t, st, "publish", rev)
	res, err := Publish(ctx, s, publishOpts(sandboxTargets(s, sb), systems))
	var inc *IncompleteError
	if !errors.As(err, &inc) || res == nil {
		t.Fatalf("err = %v, want an *IncompleteError with the partial result", err)
	}
	var pe *PublishError
	if !errors.As(err, &pe) || pe.Service != store.ServiceConfluence {
		t.Fatalf("err = %v, want a Confluence *PublishError inside", err)
	}
	if inc.Published != 4 || len(sb.Jira.Issues()) != 3 || len(sb.Slack.Messages()) != 1 {
		t.Fatalf("published %d (want 3 tickets and the summary): %d issues, %d messages", inc.Published, len(sb.Jira.Issues()), len(sb.Slack.Messages()))
	}

	sb.Confluence.Inject5xx(0, 503)
	s2, _ := newStep(t, st, "publish", rev)
	res2, err := Publish(ctx, s2, publishOpts(sandboxTargets(s2, sb), systems))
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if len(sb.Confluence.Pages()) != 1 || len(sb.Jira.Issues()) != 3 || len(sb.Slack.Messages()) != 1 {
		t.Errorf("re-run: %d pages, %d issues, %d messages", len(sb.Confluence.Pages()), len(sb.Jira.Issues()), len(sb.Slack.Messages()))
	}
	if c := actions(res2.Publications, store.ActionCreated); c != 1 {
		t.Errorf("re-run created %d objects, want only the page: %+v", c, res2.Publications)
	}
}

// An unknown Jira project, a missing space and an owner without a Jira
// account are setting errors naming the key, found before anything is
// written.
func TestPublishSettingErrors(t *testing.T) {
	ctx := context.Background()
	st, sb, systems := testStore(t), startSandbox(t, nil), sandbox.ReferenceSystems()
	snapshotAndScore(t, st, sb, rev, systems)

	s, _ := newStep(t, st, "publish", rev)
	tg := sandboxTargets(s, sb)
	tg.Tickets = jira.New(jira.Config{BaseURL: sb.URL(sandbox.ServiceJira), Email: sandbox.JiraEmail, Token: sandbox.JiraToken, Project: "NOPE"},
		recorded(s, store.ServiceJira), jira.WithSleep(noSleep))
	_, err := Publish(ctx, s, publishOpts(tg, systems))
	var se *SettingError
	if !errors.As(err, &se) || se.Key != "jira.project" {
		t.Errorf("unknown project: err = %v, want a *SettingError on jira.project", err)
	}

	tg = sandboxTargets(s, sb)
	tg.Space = "NOPE"
	_, err = Publish(ctx, s, publishOpts(tg, systems))
	if !errors.As(err, &se) || se.Key != "confluence.space" {
		t.Errorf("unknown space: err = %v, want a *SettingError on confluence.space", err)
	}

	// A Jira site whose directory does not know NetSuite's owner.
	fj := sandbox.NewJira(sandbox.JiraOptions{Email: sandbox.JiraEmail, Token: sandbox.JiraToken, Clock: testClock,
		Users: map[string]string{"sam.rivera@company.com": "Sam", "erin.lopez@company.com": "Erin", "cfo@company.com": "CFO"}})
	srv := httptest.NewServer(fj)
	defer srv.Close()
	tg = sandboxTargets(s, sb)
	tg.Tickets = jira.New(jira.Config{BaseURL: srv.URL, Email: sandbox.JiraEmail, Token: sandbox.JiraToken, Project: "UAR"}, recorded(s, store.ServiceJira))
	_, err = Publish(ctx, s, publishOpts(tg, systems))
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "NetSuite (nina.patel@company.com)") {
		t.Errorf("owner without account: err = %v", err)
	}
	if pubs, _ := st.Publications(ctx, rev); len(pubs) != 0 || len(fj.Issues()) != 0 || len(sb.Confluence.Pages()) != 0 {
		t.Errorf("a setting error must stop before anything is written: %d publications, %d issues, %d pages",
			len(pubs), len(fj.Issues()), len(sb.Confluence.Pages()))
	}
}

// A dry run plans from the store alone: no client is built, nothing sent.
func TestPublishDryRun(t *testing.T) {
	ctx := context.Background()
	st, sb, systems := testStore(t), startSandbox(t, nil), sandbox.ReferenceSystems()
	snapshotAndScore(t, st, sb, rev, systems)
	s, _ := newStep(t, st, "publish", rev)
	called := false
	o := publishOpts(PublishTargets{}, systems)
	o.DryRun = true
	o.Connect = func(dry bool) (PublishTargets, error) {
		called = dry
		return PublishTargets{}, nil
	}
	res, err := Publish(ctx, s, o)
	if err != nil || !called {
		t.Fatalf("dry run: %v (Connect called with dryRun: %v)", err, called)
	}
	var got []string
	for _, p := range res.Publications {
		got = append(got, p.Service+"/"+p.Kind+"/"+p.System+"/"+p.Action)
	}
	want := []string{"confluence/page//create", "jira/ticket/NetSuite/create", "jira/ticket/Salesforce/create", "jira/ticket/Workday/create", "slack/message//create"}
	if !slices.Equal(got, want) {
		t.Errorf("plan = %v, want %v", got, want)
	}
	if n := len(sb.Jira.Requests()) + len(sb.Confluence.Requests()) + sb.Slack.Requests().Count("", ""); n != 0 {
		t.Errorf("a dry run sent %d requests", n)
	}
}

// Not ready: no snapshot, no scoring, or a snapshot newer than the scoring.
func TestPublishRefusesUnreadyReview(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	s, _ := newStep(t, st, "publish", rev)
	_, err := Publish(ctx, s, publishOpts(PublishTargets{}, nil))
	var pe *PrerequisiteError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "has no snapshot") || !strings.Contains(pe.Hint, "uar snapshot") {
		t.Errorf("no snapshot: %v", err)
	}
}

// orgSnapshot turns a generated org into the snapshot uar would take of it.
func orgSnapshot(org *sandbox.Org) *model.Snapshot {
	snap := &model.Snapshot{}
	for _, u := range org.Users {
		mu := model.User{ID: u.ID, Login: u.Login, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
			Department: u.Department, Title: u.Title, UserType: u.UserType, EmployeeNumber: u.EmployeeNumber, Status: u.Status,
			Created: u.Created, Origin: model.OriginOkta}
		if u.LastLogin != nil {
			mu.LastLogin = *u.LastLogin
		}
		snap.Users = append(snap.Users, mu)
	}
	for _, g := range org.Groups {
		sys, role, ok := model.MapSystem(g.Name, nil, "SOX-")
		if !ok {
			continue
		}
		snap.Groups = append(snap.Groups, model.Group{ID: g.ID, Name: g.Name, Type: g.Type, System: sys, Role: role})
		for _, m := range g.Members {
			snap.Memberships = append(snap.Memberships, model.Membership{GroupID: g.ID, UserID: m, Source: model.SourceDirect})
		}
	}
	return snap
}

// BenchmarkPublish400Systems publishes a generated 400-system org to the
// sandbox Jira, Confluence and Slack, each answering after 50 ms, and
// reports the calls made to each service.
func BenchmarkPublish400Systems(b *testing.B) {
	org := sandbox.Generate(sandbox.GenerateOptions{Seed: 7, Users: 20000, SOXGroups: 1200, Systems: 400, Memberships: 200000})
	snap := orgSnapshot(org)
	const latency = 50 * time.Millisecond
	for range b.N {
		b.StopTimer()
		ctx := context.Background()
		st := testStore(b)
		sb, err := sandbox.Start(ctx, sandbox.StartOptions{Org: &sandbox.Org{}, Clock: testClock, Latency: latency})
		if err != nil {
			b.Fatal(err)
		}
		// Seed the population and an empty scoring directly: the benchmark
		// measures publishing, not snapshotting.
		s, _ := newStep(b, st, "snapshot", rev)
		seedPopulation(b, s, snap)
		systems := InferSystemsFromSnapshot(snap)
		s, _ = newStep(b, st, "publish", rev)
		o := publishOpts(sandboxTargets(s, sb), systems)
		b.StartTimer()
		start := time.Now()
		res, err := Publish(ctx, s, o)
		wall := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		nj, nc, ns := len(sb.Jira.Requests()), len(sb.Confluence.Requests()), sb.Slack.Requests().Count("", "")
		b.ReportMetric(wall.Seconds(), "wall_s")
		b.ReportMetric(float64(len(res.View.Systems)), "systems")
		b.ReportMetric(float64(len(templates.SplitSystems(*res.View))), "child_pages")
		b.ReportMetric(float64(nj), "jira_calls")
		b.ReportMetric(float64(nc), "confluence_calls")
		b.ReportMetric(float64(ns), "slack_calls")
		b.ReportMetric(float64(len(res.Publications)), "publications")
		if n := len(sb.Jira.Issues()); n != len(res.View.Systems) {
			b.Fatalf("%d issues for %d systems", n, len(res.View.Systems))
		}
		for _, pg := range sb.Confluence.Pages() {
			if n := len(pg.Current().Body); n > 5<<20 {
				b.Fatalf("page %q is %d bytes", pg.Title, n)
			}
		}
		sb.Close()
	}
}
