package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/store"
)

// loopEnv is a reference review, published on a sandbox started in-process,
// with uar.yaml and the fake tokens in te.
func loopEnv(t *testing.T) (*testEnv, *sandbox.Running) {
	t.Helper()
	te := newTestEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sb, err := sandbox.Start(ctx, sandbox.StartOptions{Clock: te.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	cfg := sandboxConfig(&sandboxOptions{}, sb, sandbox.ReferenceSystems())
	cfg.DB = "t.db"
	body, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	te.write(t, "uar.yaml", string(body))
	if err := os.WriteFile(filepath.Join(te.dir, "policy.yaml"), []byte(testPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{EnvOktaToken: sandbox.OktaToken, EnvJiraToken: sandbox.JiraToken, EnvSlackToken: sandbox.SlackToken} {
		te.vars[k] = v
	}
	for _, cmd := range [][]string{{"snapshot"}, {"score"}, {"publish"}} {
		if code := te.run(context.Background(), cmd...); code != 0 {
			t.Fatalf("%v: exit %d: %s", cmd, code, te.err)
		}
	}
	return te, sb
}

const testPolicy = "version: 1\nsod_rules:\n  - id: SOD-IT-ERP-ADMIN\n    title: IT staff administering the ERP\n    risk: HIGH\n    when: {department: [IT]}\n    groups: {any: [\"SOX-NetSuite-Admins\"]}\n    recommendation: Recommend revoking SOX-NetSuite-Admins.\n"

// watch picks up a comment posted while it runs, revokes it with proof,
// and stops cleanly on a signal with every pass recorded as a run.
func TestWatchPicksUpACommentAndStops(t *testing.T) {
	t.Parallel()
	te, sb := loopEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := *te.Env
	var errb strings.Builder
	env.Stderr, env.Stdout = &errb, &strings.Builder{}
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"watch", "--interval", "1s"}, &env) }()

	// Wait for the first pass to have run, then comment as NetSuite's owner.
	waitFor(t, 30*time.Second, func() bool { return countRuns(t, te, "watch") >= 1 })
	if _, err := sb.Jira.AddComment("UAR-1", "nina.patel@company.com", "REVOKE: ivan.petrov@company.com -- contract ended", te.Now(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool { return !sb.Okta.IsMember("00gref00000000000002", "00uref00000000000008") })
	waitFor(t, 30*time.Second, func() bool { return revocationStatus(t, te, "ivan.petrov@company.com") == "done" })
	// The pass that revoked goes on to announce it (Confluence, Jira,
	// Slack): stop between passes, once one more has ended (that pass, or
	// the next), or the signal can land in the announcements, and the exit
	// is then rightly 130.
	passes := countRuns(t, te, "watch")
	waitFor(t, 30*time.Second, func() bool { return countRuns(t, te, "watch") > passes })
	cancel() // as SIGTERM would (cmd/uar cancels the context on it)
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("watch exited %d after the signal, want 0: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop within 30 s of the signal")
	}
	s := openTestStore(t, te.path("t.db"))
	runs := must(s.Runs(context.Background()))(t)
	// The signal let the pass under way finish: every pass is recorded ok,
	// and the removal reached the page, the ticket and Slack.
	for _, r := range runs {
		if r.Command == "watch" && r.Status != store.RunOK {
			t.Errorf("watch run %s ended %s: %s", r.ID, r.Status, r.Error)
		}
	}
	if n := len(sb.Slack.Messages()); n != 2 {
		t.Errorf("%d Slack messages, want the summary and the revocation note", n)
	}
	if !strings.Contains(errb.String(), "stopped") {
		t.Errorf("stderr: %s", errb.String())
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		<-tick.C
	}
}

func countRuns(t *testing.T, te *testEnv, command string) int {
	t.Helper()
	s, err := store.Open(context.Background(), te.path("t.db"), store.Options{ReadOnly: true, Now: time.Now})
	if err != nil {
		return 0
	}
	defer s.Close()
	runs, err := s.Runs(context.Background())
	if err != nil {
		return 0
	}
	n := 0
	for _, r := range runs {
		if r.Command == command && r.Status != store.RunRunning {
			n++
		}
	}
	return n
}

func revocationStatus(t *testing.T, te *testEnv, login string) string {
	t.Helper()
	s, err := store.Open(context.Background(), te.path("t.db"), store.Options{ReadOnly: true, Now: time.Now})
	if err != nil {
		return ""
	}
	defer s.Close()
	revs, err := s.LatestRevocations(context.Background(), "2026-Q4")
	if err != nil {
		return ""
	}
	for _, r := range revs {
		if r.UserLogin == login {
			return r.Status
		}
	}
	return ""
}
