package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/store"
	"github.com/uar-dev/uar/templates"
)

func TestSystemLabel(t *testing.T) {
	p := &publisher{reviewLabel: "uar-2026-q4"}
	cases := map[string]string{
		"NetSuite":       "uar-2026-q4-netsuite",
		"sap-erp":        "uar-2026-q4-sap-erp",
		"Net Suite":      "uar-2026-q4-net-suite-",
		"Net-Suite":      "uar-2026-q4-net-suite",
		"Café & Co (EU)": "uar-2026-q4-caf-co-eu-",
	}
	seen := map[string]string{}
	for in, prefix := range cases {
		got := p.systemLabel(in)
		if !strings.HasPrefix(got, prefix) || strings.ContainsAny(got, " \t") {
			t.Errorf("systemLabel(%q) = %q, want prefix %q and no spaces", in, got, prefix)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("systemLabel(%q) = systemLabel(%q) = %q", in, other, got)
		}
		seen[got] = in
	}
}

func TestBuildReviewView(t *testing.T) {
	snap := &model.Snapshot{
		Groups: []model.Group{
			{ID: "g1", Name: "SOX-NetSuite-Admins", System: "NetSuite", Role: "Admins"},
			{ID: "g2", Name: "SOX-Oracle-Users", System: "Oracle", Role: "Users"},
			{ID: "g3", Name: "SOX-Empty-Users", System: "Empty", Role: "Users"},
		},
		Users: []model.User{{ID: "u1", Login: "a@x.com", FirstName: "A"}, {ID: "u2", Login: "b@x.com"}},
		Memberships: []model.Membership{
			{GroupID: "g1", UserID: "u2", Source: model.SourceDirect}, {GroupID: "g1", UserID: "u1", Source: model.SourceDirect},
			{GroupID: "g2", UserID: "u1", Source: model.SourceRule},
		},
	}
	findings := []model.Finding{
		{RuleID: "r1", Risk: model.RiskMedium, System: "NetSuite", UserID: "u1", UserLogin: "a@x.com"},
		{RuleID: "r2", Risk: model.RiskHigh, System: "NetSuite", UserID: "u2", UserLogin: "b@x.com"},
		{RuleID: "r3", Risk: model.RiskHigh, System: "Oracle", UserID: "u1", UserLogin: "a@x.com", Suppressed: &model.Suppression{Ticket: "X-1"}},
	}
	systems := []model.System{{Name: "NetSuite", Owner: "o@x.com"}, {Name: "Workday", Owner: "w@x.com"}}
	v := buildReviewView(systems, snap, findings, "2026-Q4")
	if len(v.Systems) != 2 || v.Systems[0].System.Name != "NetSuite" || v.Systems[1].System.Name != "Oracle" {
		t.Fatalf("systems = %+v", v.Systems)
	}
	ns := v.Systems[0]
	if ns.Risk != model.RiskHigh || ns.System.Owner != "o@x.com" || len(ns.Findings) != 2 || ns.Findings[0].RuleID != "r2" {
		t.Errorf("NetSuite = %+v", ns)
	}
	if len(ns.Access) != 2 || ns.Access[0].UserLogin != "a@x.com" || ns.Access[0].Risk != model.RiskMedium || ns.Access[1].Risk != model.RiskHigh {
		t.Errorf("NetSuite access = %+v", ns.Access)
	}
	// The suppressed finding is not shown and does not raise the risk.
	if o := v.Systems[1]; o.Risk != "" || len(o.Findings) != 0 || o.System.Owner != "" {
		t.Errorf("Oracle = %+v", o)
	}
	if strings.Join(v.Empty, ",") != "Empty,Workday" {
		t.Errorf("empty = %v", v.Empty)
	}
	if err := checkOwners(v); err == nil || !strings.Contains(err.Error(), "system Oracle has no owner") || exitCode(err) != ExitUsage {
		t.Errorf("checkOwners = %v", err)
	}
}

// orgSnapshot turns a generated org into the snapshot uar would take of it.
func orgSnapshot(org *sandbox.Org) *model.Snapshot {
	snap := &model.Snapshot{}
	for _, u := range org.Users {
		mu := model.User{ID: u.ID, Login: u.Login, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
			Department: u.Department, Title: u.Title, UserType: u.UserType, Status: u.Status, Origin: model.OriginOkta}
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
	b.StopTimer()
	for range b.N {
		ctx := context.Background()
		now := func() time.Time { return sandbox.ReferenceNow }
		jf := sandbox.NewJira(sandbox.JiraOptions{Email: "svc@x.com", Token: "jira-tok-123456", Projects: []string{"UAR"}, Clock: now})
		cf := sandbox.NewConfluence(sandbox.ConfluenceOptions{Email: "svc@x.com", Token: "jira-tok-123456", Clock: now})
		sf := sandbox.NewSlack(sandbox.SlackOptions{Token: "xoxb-tok-123456", Clock: now})
		jf.SetLatency(latency)
		cf.SetLatency(latency)
		sf.SetLatency(latency)
		js, cs, ss := httptest.NewServer(jf), httptest.NewServer(cf), httptest.NewServer(sf)
		secrets := map[string]string{EnvJiraToken: "jira-tok-123456", EnvSlackToken: "xoxb-tok-123456"}
		env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return secrets[k] }, Now: now,
			HTTP: &http.Client{Timeout: time.Minute}, Version: "bench"}
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), "uar.db"), store.Options{Create: true, Now: now})
		if err != nil {
			b.Fatal(err)
		}
		run, err := st.StartRun(ctx, store.Run{Command: "publish", Review: "2026-Q4", Actor: "bench", Host: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		g := &globalOptions{quiet: true}
		cfg := &Config{Jira: JiraConfig{BaseURL: js.URL, Email: "svc@x.com", Project: "UAR", IssueType: "Task"},
			Confluence: ConfluenceConfig{BaseURL: cs.URL, Space: "SOX"}, Slack: SlackConfig{Channel: "#sox-uar", APIURL: ss.URL + "/api/"},
			Review: ReviewConfig{WindowDays: 30}}
		rc := &runCtx{env: env, g: g, ui: ui{env: env, g: g}, cfg: cfg, store: st, run: run, review: "2026-Q4", runAt: now(),
			ledger: &evidence.Ledger{Store: st, RunID: run.ID, Review: "2026-Q4", Actor: "bench"}}
		v := buildReviewView(nil, snap, nil, "2026-Q4")
		for i := range v.Systems {
			v.Systems[i].System.Owner = "owner@x.com"
		}
		v.RunID, v.RunAt, v.Deadline = run.ID, now(), now().AddDate(0, 0, 30)
		split := len(templates.SplitAccess(*v))
		p := newPublisher(rc, publishServices{true, true, true}, v, nil)
		b.StartTimer()
		start := time.Now()
		pubs, err := p.run(ctx)
		wall := time.Since(start)
		b.StopTimer()
		b.ReportMetric(wall.Seconds(), "wall_s")
		if err != nil {
			b.Fatal(err)
		}
		nj, nc, ns := len(jf.Requests()), len(cf.Requests()), sf.Requests().Count("", "")
		b.ReportMetric(float64(len(v.Systems)), "systems")
		b.ReportMetric(float64(split), "child_pages")
		b.ReportMetric(float64(nj), "jira_calls")
		b.ReportMetric(float64(nc), "confluence_calls")
		b.ReportMetric(float64(ns), "slack_calls")
		b.ReportMetric(float64(len(pubs)), "publications")
		b.Logf("%d systems (%d child pages, %d memberships): %d publications in %s; calls: jira %d, confluence %d, slack %d",
			len(v.Systems), split, len(snap.Memberships), len(pubs), wall.Round(time.Millisecond), nj, nc, ns)
		if n := len(jf.Issues()); n != len(v.Systems) {
			b.Fatalf("%d issues for %d systems", n, len(v.Systems))
		}
		for _, pg := range cf.Pages() {
			if n := len(pg.Current().Body); n > 5<<20 {
				b.Fatalf("page %q is %d bytes", pg.Title, n)
			}
		}
		st.Close()
		js.Close()
		cs.Close()
		ss.Close()
	}
}
