package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/store"
)

// A snapshot killed with SIGKILL in the middle of its fetch (a real child
// process, so nothing of it runs after the signal) leaves rows staged while
// the pages arrived. They must be invisible to every view, reported by
// verify as staged and never as tampering, and removed by the next
// snapshot, which then completes.
func TestSnapshotKilledMidFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs uar as a child process")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "uar") // the test binary runs uar under that name (TestMain)
	copyFile(t, os.Args[0], bin, 0o755)

	org := sandbox.Generate(sandbox.GenerateOptions{Seed: 5, Users: 600, SOXGroups: 30, NonSOXGroups: 2, Memberships: 6000})
	fake := sandbox.NewOkta(org, sandbox.OktaOptions{Token: "kill-test-token", Clock: func() time.Time { return sandbox.ReferenceNow }})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	// Slow pages: the fetch takes seconds, long enough to be caught in it.
	fake.SetLatency(40 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(dir, "uar.yaml"), []byte("db: t.db\nokta:\n  org_url: "+srv.URL+"\n  page_size: 10\n  concurrency: 2\n  max_requests_per_minute: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "UAR_TEST_NOW=2026-12-01T09:00:00Z", "UAR_ACTOR=kill-test", "UAR_OKTA_TOKEN=kill-test-token")
	uar := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		return cmd
	}

	child := uar("snapshot", "--review", "2026-Q4")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "t.db")
	// Wait until memberships are staged (written while fetching), then kill.
	staged := func() (store.StageInfo, bool) {
		s, err := store.Open(context.Background(), db, store.Options{ReadOnly: true, Now: time.Now})
		if err != nil {
			return store.StageInfo{}, false
		}
		defer s.Close()
		st, err := s.Stages(context.Background())
		if err != nil || len(st) == 0 {
			return store.StageInfo{}, false
		}
		return st[0], st[0].Memberships >= 200
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, ok := staged(); ok {
			break
		}
		if time.Now().After(deadline) {
			_ = child.Process.Kill()
			t.Fatal("no memberships staged within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = child.Wait()
	st, _ := staged()
	if st.Memberships == 0 || st.Groups == 0 || st.Users == 0 {
		t.Fatalf("staged rows after the kill: %+v", st)
	}
	total := 0
	for _, g := range org.Groups {
		if strings.HasPrefix(g.Name, "SOX-") {
			total += len(g.Members)
		}
	}
	if st.Memberships >= int64(total) {
		t.Fatalf("the kill came after the fetch (%d of %d memberships staged)", st.Memberships, total)
	}

	// Invisible to every view and named query.
	s, err := store.Open(context.Background(), db, store.Options{ReadOnly: true, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`SELECT count(*) FROM snapshots`,
		`SELECT count(*) FROM v_current_snapshots`,
		`SELECT count(*) FROM v_access`,
		`SELECT count(*) FROM v_findings`,
	} {
		res, err := s.Query(context.Background(), q)
		if err != nil || res.Rows[0][0].(int64) != 0 {
			t.Errorf("%s: %v %v", q, res, err)
		}
	}
	s.Close()
	for _, q := range [][]string{{"access", "--param", "review=2026-Q4"}, {"snapshots"}, {"completeness", "--param", "review=2026-Q4"}} {
		out, err := uar(append([]string{"query", q[0], "--db", "t.db"}, q[1:]...)...).CombinedOutput()
		if err != nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Errorf("query %s shows staged rows (or failed: %v):\n%s", q, err, out)
		}
	}

	// verify: no problem; the stage is reported as staged.
	out, err := uar("verify", "--db", "t.db", "--json").Output()
	if err != nil {
		t.Fatalf("verify after the kill: %v\n%s", err, out)
	}
	var v struct {
		OK      bool `json:"ok"`
		Summary struct {
			Staged   []store.StageInfo `json:"staged"`
			Problems []any             `json:"problems"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	if !v.OK || len(v.Summary.Problems) != 0 || len(v.Summary.Staged) != 1 || v.Summary.Staged[0].Memberships != st.Memberships {
		t.Errorf("verify: %s", out)
	}

	// The next snapshot removes the staged rows, marks the killed run
	// interrupted, and completes.
	fake.SetLatency(0)
	out, err = uar("snapshot", "--review", "2026-Q4").CombinedOutput()
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "removed the staged rows of snapshot 1") || !strings.Contains(string(out), "did not finish: marked interrupted") {
		t.Errorf("re-run output:\n%s", out)
	}
	s, err = store.Open(context.Background(), db, store.Options{ReadOnly: true, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for q, want := range map[string]int64{
		`SELECT count(*) FROM snapshot_stages`:                                                   0,
		`SELECT count(*) FROM snapshots`:                                                         1,
		`SELECT count(*) FROM v_access WHERE review = '2026-Q4'`:                                 int64(total),
		`SELECT count(DISTINCT snapshot_id) FROM snapshot_members`:                               1,
		`SELECT count(*) FROM runs WHERE status = 'interrupted'`:                                 1,
		`SELECT count(*) FROM snapshot_listings WHERE status != 'complete' AND kind = 'members'`: 0,
	} {
		res, err := s.Query(context.Background(), q)
		if err != nil || res.Rows[0][0].(int64) != want {
			t.Errorf("%s = %v (%v), want %d", q, res.Rows, err, want)
		}
	}
	if out, err := uar("verify", "--db", "t.db", "--rederive").CombinedOutput(); err != nil {
		t.Errorf("verify --rederive after the re-run: %v\n%s", err, out)
	}
}
