package review

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/publish/confluence"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/store"
)

var testNow = sandbox.ReferenceNow

func testClock() time.Time { return testNow }

// testStore opens a fresh store in a temporary folder.
func testStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "uar.db"), store.Options{Create: true, Now: testClock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// recorder collects a step's messages for assertions.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(level, format string, args ...any) {
	r.mu.Lock()
	r.lines = append(r.lines, level+": "+fmt.Sprintf(format, args...))
	r.mu.Unlock()
}
func (r *recorder) Infof(f string, a ...any) { r.add("info", f, a...) }
func (r *recorder) Warnf(f string, a ...any) { r.add("warn", f, a...) }
func (r *recorder) Progress(string, ...any)  {}
func (r *recorder) ProgressDone()            {}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// newStep records a run of command on st and returns its step.
func newStep(t testing.TB, st *store.Store, command, rev string) (*Step, *recorder) {
	t.Helper()
	run, err := evidence.StartRun(context.Background(), st, store.Run{Command: command, Args: "[]", Review: rev, ToolVersion: "test", Actor: "go-test", Host: "testhost"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := &recorder{}
	return &Step{Store: st, Run: run, Review: rev, Now: testNow, Out: out,
		Ledger: &evidence.Ledger{Store: st, RunID: run.ID, Review: rev, Actor: "go-test"}}, out
}

// recorded is a client that records every exchange of service in the
// step's ledger, as cli's clients do.
func recorded(s *Step, service string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &evidence.Recorder{Ledger: s.Ledger, Service: service, Now: testClock}}
}

// startSandbox serves the fakes for one test, the reference org in Okta.
func startSandbox(t testing.TB, org *sandbox.Org) *sandbox.Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.StartOptions{Org: org, Clock: testClock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })
	return sb
}

// snapshotAndScore takes the review's snapshot from the sandbox Okta and
// scores it with the example policy.
func snapshotAndScore(t testing.TB, st *store.Store, sb *sandbox.Running, rev string, systems []model.System) {
	t.Helper()
	ctx := context.Background()
	s, _ := newStep(t, st, "snapshot", rev)
	client, err := okta.New(ctx, okta.Config{OrgURL: sb.URL(sandbox.ServiceOkta), Token: sandbox.OktaToken, MaxRequestsPerMinute: -1}, recorded(s, "okta"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SnapshotOkta(ctx, s, client, OktaSnapshotOptions{Prefix: "SOX-", Systems: systems, OrgURL: sb.URL(sandbox.ServiceOkta)}); err != nil {
		t.Fatal(err)
	}
	pol, err := score.ParsePolicy("policy.yaml", []byte(score.ExamplePolicy))
	if err != nil {
		t.Fatal(err)
	}
	s, _ = newStep(t, st, "score", rev)
	if _, err := Score(ctx, s, ScoreInput{Policy: pol, PolicyFile: "policy.yaml"}); err != nil {
		t.Fatal(err)
	}
}

// sandboxTargets are clients for the sandbox's Atlassian and Slack fakes,
// recording into s's ledger.
func sandboxTargets(s *Step, sb *sandbox.Running) PublishTargets {
	return PublishTargets{
		Pages: confluence.New(confluence.Config{BaseURL: sb.URL(sandbox.ServiceConfluence), Email: sandbox.JiraEmail, Token: sandbox.JiraToken, Space: sandbox.SpaceKey},
			recorded(s, store.ServiceConfluence), confluence.WithSleep(noSleep)),
		Space: sandbox.SpaceKey,
		Tickets: jira.New(jira.Config{BaseURL: sb.URL(sandbox.ServiceJira), Email: sandbox.JiraEmail, Token: sandbox.JiraToken, Project: sandbox.JiraProject},
			recorded(s, store.ServiceJira), jira.WithSleep(noSleep)),
		JiraBaseURL: sb.URL(sandbox.ServiceJira),
		Chat: slack.New(slack.Config{Channel: sandbox.SlackChannel, APIURL: sb.URL(sandbox.ServiceSlack), Token: sandbox.SlackToken},
			recorded(s, store.ServiceSlack), slack.WithSleep(noSleep)),
	}
}

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// publishOpts publishes everything to targets.
func publishOpts(t PublishTargets, systems []model.System) PublishOptions {
	return PublishOptions{Services: AllServices, View: ViewOptions{Systems: systems, WindowDays: 30, ToolVersion: "test"},
		Connect: func(bool) (PublishTargets, error) { return t, nil }}
}

// deriveSnapshot writes snap in tx as an Okta snapshot of s's review,
// sealed as the snapshot pass is, and returns its id.
func deriveSnapshot(ctx context.Context, tx *store.Tx, s *Step, snap *model.Snapshot) (int64, error) {
	var sid int64
	_, err := s.Ledger.Derive(ctx, tx, "snapshot.okta", func(evID string) (evidence.Derived, error) {
		var err error
		sid, err = tx.InsertSnapshot(ctx, store.SnapshotHeader{Review: s.Review, Source: store.SnapshotOkta, RunID: s.Run.ID}, snap, evID)
		return evidence.Derived{Scopes: snapshotScopes(sid), Params: SnapshotOktaParams{SnapshotID: sid, Systems: []model.System{}}}, err
	})
	return sid, err
}

// seedPopulation writes snap as the review's snapshot with an empty
// scoring of it, without Okta (benchmarks of the steps after scoring).
func seedPopulation(t testing.TB, s *Step, snap *model.Snapshot) {
	t.Helper()
	ctx := context.Background()
	err := s.Store.WithTx(ctx, func(tx *store.Tx) error {
		sid, err := deriveSnapshot(ctx, tx, s, snap)
		if err != nil {
			return err
		}
		_, err = s.Ledger.Derive(ctx, tx, "score", func(evID string) (evidence.Derived, error) {
			id, err := tx.InsertScoring(ctx, store.ScoringHeader{Review: s.Review, RunID: s.Run.ID, SnapshotIDs: []int64{sid}, AsOf: store.FormatTime(s.Now)}, nil, nil, evID)
			return evidence.Derived{Scopes: []evidence.Scope{{Table: "scorings", Scope: id}, {Table: "findings", Scope: id}, {Table: "system_risks", Scope: id}},
				Params: ScoreParams{ScoringID: id, SnapshotIDs: []int64{sid}}}, err
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// InferSystemsFromSnapshot is one system per mapped system of snap, each
// owned by owner@x.com.
func InferSystemsFromSnapshot(snap *model.Snapshot) []model.System {
	seen := map[string]bool{}
	var out []model.System
	for _, g := range snap.Groups {
		if g.System != "" && !seen[g.System] {
			seen[g.System] = true
			out = append(out, model.System{Name: g.System, Owner: "owner@x.com"})
		}
	}
	return out
}
