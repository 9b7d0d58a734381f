package cli

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/store"
)

const testOktaToken = "00-test-okta-token-value"

func startOkta(t *testing.T, te *testEnv, org *sandbox.Org) *sandbox.Okta {
	t.Helper()
	fake := sandbox.NewOkta(org, sandbox.OktaOptions{Token: testOktaToken, Clock: func() time.Time { return sandbox.ReferenceNow }})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	te.vars["UAR_OKTA_ORG_URL"] = srv.URL
	te.vars["UAR_OKTA_TOKEN"] = testOktaToken
	te.write(t, "uar.yaml", "db: t.db\nokta:\n  org_url: http://127.0.0.1:1\n  page_size: 2\n  max_requests_per_minute: 0\n")
	return fake
}

func TestSnapshotAuthRefusedExits4(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	startOkta(t, te, sandbox.ReferenceOrg())
	te.vars["UAR_OKTA_TOKEN"] = "00-wrong-token-value"
	if code := te.run(context.Background(), "snapshot"); code != ExitAuth {
		t.Fatalf("exit %d, want 4; stderr %s", code, te.err)
	}
	msg := te.err.String()
	if !strings.Contains(msg, "okta") || !strings.Contains(msg, te.vars["UAR_OKTA_ORG_URL"]) || !strings.Contains(msg, "UAR_OKTA_TOKEN") {
		t.Errorf("message should name okta, the org URL and the variable: %s", msg)
	}
	if strings.Contains(msg, "00-wrong-token-value") {
		t.Errorf("token leaked: %s", msg)
	}
	s := openTestStore(t, te.path("t.db"))
	runs := must(s.Runs(context.Background()))(t)
	if len(runs) != 1 || runs[0].Status != store.RunFailed || strings.Contains(runs[0].Error, "wrong-token") {
		t.Errorf("runs %+v", runs)
	}
}

func TestSnapshotSurvives429BurstAnd500(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	fake := startOkta(t, te, sandbox.ReferenceOrg())
	fake.Fail429(4, "/api/v1/groups/", -1)
	fake.Fail500(1, "/api/v1/groups/")
	if code := te.run(context.Background(), "snapshot", "--json"); code != 0 {
		t.Fatalf("exit %d: %s", code, te.err)
	}
	if !strings.Contains(te.out.String(), `"memberships": 9`) {
		t.Errorf("summary %s", te.out)
	}
	// The failed attempts are evidence too, and the rebuilt snapshot
	// (which skips them) still agrees with the stored one.
	if code := te.run(context.Background(), "verify", "--db", "t.db", "--rederive"); code != 0 {
		t.Fatalf("verify exit %d: %s %s", code, te.out, te.err)
	}
	s := openTestStore(t, te.path("t.db"))
	res, err := s.Query(context.Background(), `SELECT count(*) FROM evidence WHERE source_system = 'okta' AND query_params LIKE '%"status":429%'`)
	if err != nil || res.Rows[0][0].(int64) != 4 {
		t.Errorf("429 attempts recorded: %v %v", res, err)
	}
}

func TestSnapshot429ExhaustedNamesEndpoint(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	fake := startOkta(t, te, sandbox.ReferenceOrg())
	fake.Fail429(1000, "/api/v1/groups", -1)
	code := te.run(context.Background(), "snapshot")
	if code != ExitFailure {
		t.Fatalf("exit %d: %s", code, te.err)
	}
	if !strings.Contains(te.err.String(), "/api/v1/groups") || !strings.Contains(te.err.String(), "429") {
		t.Errorf("error should name the endpoint and the 429: %s", te.err)
	}
	s := openTestStore(t, te.path("t.db"))
	if snaps := must(s.Snapshots(context.Background()))(t); len(snaps) != 0 {
		t.Errorf("a failed snapshot must not be stored: %+v", snaps)
	}
}

// Ctrl-C in the middle of fetching members: the pages fetched so far stay
// as evidence, no snapshot is complete, the chain verifies, the run is
// marked interrupted, and a re-run completes.
func TestSnapshotInterrupted(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	org := sandbox.Generate(sandbox.GenerateOptions{Seed: 7, Users: 300, SOXGroups: 12, NonSOXGroups: 2, Memberships: 1500, Now: sandbox.ReferenceNow})
	fake := startOkta(t, te, org)
	fake.SetLatency(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Interrupt once 8 requests were served; give up (and fail below,
		// since the snapshot then completes) after 30 s.
		deadline := time.Now().Add(30 * time.Second)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for fake.Requests().Count("GET", "") < 8 && time.Now().Before(deadline) {
			<-tick.C
		}
		cancel()
	}()
	if code := te.run(ctx, "snapshot", "--review", "2026-Q4"); code != ExitInterrupted {
		t.Fatalf("exit %d, want 130: %s", code, te.err)
	}
	s := openTestStore(t, te.path("t.db"))
	if snaps := must(s.Snapshots(context.Background()))(t); len(snaps) != 0 {
		t.Fatalf("interrupted snapshot stored: %+v", snaps)
	}
	pages := must(s.FindEvidence(context.Background(), store.EvidenceFilter{Source: "okta"}))(t)
	if len(pages) < 5 {
		t.Fatalf("recorded pages %d, want the ones fetched before the interrupt", len(pages))
	}
	runs := must(s.Runs(context.Background()))(t)
	if len(runs) != 1 || runs[0].Status != store.RunInterrupted {
		t.Fatalf("runs %+v", runs)
	}
	s.Close()
	if code := te.run(context.Background(), "verify", "--db", "t.db"); code != 0 {
		t.Fatalf("verify after interrupt: %d %s %s", code, te.out, te.err)
	}
	fake.SetLatency(0)
	if code := te.run(context.Background(), "snapshot", "--review", "2026-Q4"); code != 0 {
		t.Fatalf("re-run: %d %s", code, te.err)
	}
	if code := te.run(context.Background(), "verify", "--db", "t.db", "--rederive"); code != 0 {
		t.Fatalf("verify after re-run: %d %s %s", code, te.out, te.err)
	}
}

// A run left "running" by a crashed process is reported and marked
// interrupted by the next command.
func TestAbandonedRunMarkedByNextCommand(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	startOkta(t, te, sandbox.ReferenceOrg())
	if code := te.run(context.Background(), "init"); code != 0 {
		t.Fatalf("init %d %s", code, te.err)
	}
	s, err := store.Open(context.Background(), te.path("t.db"), store.Options{Now: te.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartRun(context.Background(), store.Run{Command: "snapshot", Args: "[]", ToolVersion: "test", Actor: "x", Host: "testhost", PID: 999999}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if code := te.run(context.Background(), "snapshot"); code != 0 {
		t.Fatalf("snapshot %d %s", code, te.err)
	}
	if !strings.Contains(te.err.String(), "did not finish: marked interrupted") {
		t.Errorf("no warning: %s", te.err)
	}
	rs := openTestStore(t, te.path("t.db"))
	runs := must(rs.Runs(context.Background()))(t)
	if len(runs) != 3 || runs[1].Status != store.RunInterrupted {
		t.Errorf("runs %+v", runs)
	}
}

func TestSnapshotConfigErrors(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.write(t, "uar.yaml", "db: t.db\n")
	if code := te.run(context.Background(), "snapshot"); code != ExitUsage || !strings.Contains(te.err.String(), "okta.org_url not set") {
		t.Fatalf("exit %d: %s", code, te.err)
	}
	te.write(t, "uar.yaml", "db: t.db\nokta:\n  org_url: http://127.0.0.1:9\n")
	if code := te.run(context.Background(), "snapshot"); code != ExitUsage || !strings.Contains(te.err.String(), "UAR_OKTA_TOKEN") {
		t.Fatalf("exit %d: %s", code, te.err)
	}
	if code := te.run(context.Background(), "snapshot", "--config", "nope.yaml"); code != ExitUsage || !strings.Contains(te.err.String(), "nope.yaml: file not found") {
		t.Fatalf("exit %d: %s", code, te.err)
	}
}

// A hostile org's next link pointing elsewhere, or a malformed one: the
// token never leaves the org, the run fails (exit 1, never a panic or a
// usage error), and nothing from the listing is sealed.
func TestSnapshotRefusesHostileLinks(t *testing.T) {
	t.Parallel()
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the attacker's host received %s %s (Authorization %q)", r.Method, r.URL, r.Header.Get("Authorization"))
	}))
	defer attacker.Close()
	host := strings.TrimPrefix(attacker.URL, "http://")
	for name, link := range map[string]string{
		"userinfo":  `<@` + host + `/api/v1/groups?after=x>; rel="next"`,
		"absolute":  `<` + attacker.URL + `/api/v1/groups?after=x>; rel="next"`,
		"port":      `<1/api/v1/groups?after=x>; rel="next"`,
		"malformed": `</api/v1/gr%zzoups>; rel="next"`,
	} {
		t.Run(name, func(t *testing.T) {
			te := newTestEnv(t)
			fake := startOkta(t, te, sandbox.ReferenceOrg())
			fake.SetRawNextLink(link)
			if code := te.run(context.Background(), "snapshot"); code != ExitFailure {
				t.Fatalf("exit %d, want 1: %s", code, te.err)
			}
			if strings.Contains(te.err.String(), testOktaToken) || !strings.Contains(te.err.String(), "okta") {
				t.Errorf("stderr: %s", te.err)
			}
			s := openTestStore(t, te.path("t.db"))
			if snaps := must(s.Snapshots(context.Background()))(t); len(snaps) != 0 {
				t.Errorf("a snapshot was sealed: %+v", snaps)
			}
			runs := must(s.Runs(context.Background()))(t)
			if len(runs) != 1 || runs[0].Status != store.RunFailed {
				t.Errorf("runs %+v", runs)
			}
		})
	}
}

// A panic inside a command is a failed run and exit 1, never a usage
// error and never a run left "running".
func TestPanicIsAFailedRun(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.write(t, "uar.yaml", "db: t.db\n")
	g := &globalOptions{}
	err := withRun(context.Background(), te.Env, g, runSpec{command: "boom", createStore: true}, func(context.Context, *runCtx) error {
		var m map[string]int
		m["x"]++ // a nil-map write: a bug
		return nil
	})
	var pe *PanicError
	if !errors.As(err, &pe) || exitCode(err) != ExitFailure {
		t.Fatalf("err %v (exit %d), want a *PanicError and exit 1", err, exitCode(err))
	}
	s := openTestStore(t, te.path("t.db"))
	runs := must(s.Runs(context.Background()))(t)
	if len(runs) != 1 || runs[0].Status != store.RunFailed || !strings.Contains(runs[0].Error, "internal error") {
		t.Errorf("runs %+v", runs)
	}
	if code := reportError(te.Env, err, false); code != ExitFailure || !strings.Contains(te.err.String(), "a bug in uar") {
		t.Errorf("reported %d: %s", code, te.err)
	}
}

// A listing that matches no group is not silently a complete population:
// exit 1 naming okta.group_prefix; --allow-empty records it on purpose. A
// configured system that matches nothing is a warning.
func TestSnapshotEmptyPopulation(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	startOkta(t, te, sandbox.ReferenceOrg())
	te.write(t, "uar.yaml", "db: t.db\nokta:\n  org_url: http://127.0.0.1:1\n  group_prefix: SOXX-\nsystems:\n  - name: Oracle\n    groups: [\"SOXX-Oracle-*\"]\n    owner: o@x.com\n")
	if code := te.run(context.Background(), "snapshot"); code != ExitFailure || !strings.Contains(te.err.String(), `okta.group_prefix "SOXX-"`) ||
		!strings.Contains(te.err.String(), "--allow-empty") {
		t.Fatalf("exit %d: %s", code, te.err)
	}
	s := openTestStore(t, te.path("t.db"))
	if snaps := must(s.Snapshots(context.Background()))(t); len(snaps) != 0 {
		t.Fatalf("an empty population was recorded without --allow-empty: %+v", snaps)
	}
	s.Close()
	if code := te.run(context.Background(), "snapshot", "--allow-empty"); code != 0 {
		t.Fatalf("--allow-empty: exit %d: %s", code, te.err)
	}
	if !strings.Contains(te.err.String(), "system Oracle: no group of the snapshot matches") {
		t.Errorf("no warning about the unmatched system: %s", te.err)
	}
	s = openTestStore(t, te.path("t.db"))
	if snaps := must(s.Snapshots(context.Background()))(t); len(snaps) != 1 {
		t.Errorf("snapshots %+v", snaps)
	}
}
