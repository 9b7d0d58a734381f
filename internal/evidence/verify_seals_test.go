package evidence

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/store"
)

// runStore builds a store the way the commands will: runs started and
// finished through StartRun/FinishRun, with calls and a sealed pass in
// between. Run a finished ok, run b failed, run c is still running.
func runStore(t *testing.T) (path string, runs map[string]store.Run) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "uar.db")
	s := openStore(t, path)
	ctx := context.Background()
	runs = map[string]store.Run{}
	start := func(name, cmd string, pid int) store.Run {
		r, err := StartRun(ctx, s, store.Run{Command: cmd, Args: `["--review","2026-Q4"]`, Review: "2026-Q4", ToolVersion: "1.0.0",
			Actor: "alice@acme.com", Host: "build-1", PID: pid}, func(int) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		runs[name] = r
		return r
	}
	a := start("a", "snapshot", 100)
	l := &Ledger{Store: s, RunID: a.ID, Review: a.Review, Actor: a.Actor}
	appendCalls(t, l, 3)
	sealSnapshot(t, s, l)
	if _, err := FinishRun(ctx, s, a, store.RunOK, ""); err != nil {
		t.Fatal(err)
	}
	b := start("b", "score", 101)
	if _, err := FinishRun(ctx, s, b, store.RunFailed, "policy.yaml:3: bad risk"); err != nil {
		t.Fatal(err)
	}
	start("c", "publish", 102)
	return path, runs
}

func TestRunsAreSealed(t *testing.T) {
	path, runs := runStore(t)
	sum, err := verify(t, path, Options{})
	if err != nil {
		t.Fatalf("clean store: %v %v", err, sum.Problems)
	}
	if sum.Runs != 3 || sum.Derivations != 1 || sum.SchemaObjects < 40 {
		t.Errorf("summary %+v", sum)
	}
	a, b, c := runs["a"].ID, runs["b"].ID, runs["c"].ID
	cases := []struct {
		name, sql, want string
	}{
		{"actor edited", `UPDATE runs SET actor = 'mallory' WHERE id = '` + a + `'`, "run " + a + ` was edited since it started: actor is "mallory", the ledger says "alice@acme.com"`},
		{"args edited", `UPDATE runs SET args = '[]' WHERE id = '` + a + `'`, "run " + a + " was edited since it started: args is"},
		{"status edited", `UPDATE runs SET status = 'ok' WHERE id = '` + b + `'`, "run " + b + ` was edited since it ended: status is "ok", the ledger says "failed"`},
		{"error edited", `UPDATE runs SET error = '' WHERE id = '` + b + `'`, "run " + b + " was edited since it ended: error is"},
		{"finished without an end", `UPDATE runs SET status = 'ok', finished_at = started_at WHERE id = '` + c + `'`, "run " + c + " is marked ok, but the ledger has no run.end row"},
		{"reopened", `UPDATE runs SET status = 'running' WHERE id = '` + a + `'`, "run " + a + " is marked running, but the ledger ended it as ok"},
		{"deleted", `DELETE FROM runs WHERE id = '` + b + `'`, "run " + b + " (score by alice@acme.com, started "},
		{"added", `INSERT INTO runs (id, command, args, tool_version, actor, host, pid, started_at, status) VALUES ('X-1', 'revoke', '[]', '1', 'bob', 'h', 1, '2026-01-01T00:00:00Z', 'ok')`, "run X-1 (revoke by bob, started 2026-01-01T00:00:00Z) has no run.start row"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := runStore(t)
			// runStore makes new ids per store; rebuild the SQL for this one.
			s := openStore(t, path)
			rs, _ := s.Runs(context.Background())
			s.Close()
			q := tc.sql
			want := tc.want
			for i, old := range []string{a, b, c} {
				q = strings.ReplaceAll(q, old, rs[i].ID)
				want = strings.ReplaceAll(want, old, rs[i].ID)
			}
			mustExec(t, rawDB(t, path), q)
			sum, err := verify(t, path, Options{})
			wantProblem(t, sum, err, 0, "runs", want)
			if len(sum.Problems) != 1 {
				t.Errorf("want one problem, got %v", sum.Problems)
			}
		})
	}
}

// A second writer on the same host refuses to start while a live run
// writes the store, naming that run; once the run's process is gone, it
// is marked interrupted (sealed) and the new run starts.
func TestStartRunRefusesWhileAnotherLiveRunWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uar.db")
	s1 := openStore(t, path)
	ctx := context.Background()
	first, err := StartRun(ctx, s1, store.Run{Command: "snapshot", Args: "[]", ToolVersion: "1", Actor: "cron", Host: "build-1", PID: 4001}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, path) // a second process's view of the same file
	alive := map[int]bool{4001: true}
	isAlive := func(pid int) bool { return alive[pid] }
	next := store.Run{Command: "score", Args: "[]", ToolVersion: "1", Actor: "alice", Host: "build-1", PID: 4002}
	_, err = StartRun(ctx, s2, next, isAlive)
	var be *store.BusyError
	if !errors.As(err, &be) || be.RunID != first.ID || be.PID != 4001 || be.Host != "build-1" || be.Command != "snapshot" {
		t.Fatalf("err = %v, want a *store.BusyError naming %s", err, first.ID)
	}
	for _, w := range []string{first.ID, "snapshot", "4001", "build-1", first.StartedAt} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q does not name %s", err, w)
		}
	}
	if rs, _ := s2.Runs(ctx); len(rs) != 1 {
		t.Fatalf("the refused run was recorded: %+v", rs)
	}
	// A running run on another host does not block (its pid means nothing here).
	other := next
	other.Host = "laptop"
	if _, err := StartRun(ctx, s2, other, isAlive); err != nil {
		t.Fatalf("other host: %v", err)
	}
	// The first process dies: its run is marked interrupted and sealed.
	alive[4001] = false
	marked, err := MarkAbandonedRuns(ctx, s2, "build-1", "alice", isAlive)
	if err != nil || len(marked) != 1 || marked[0].ID != first.ID || marked[0].Status != store.RunInterrupted {
		t.Fatalf("marked %+v %v", marked, err)
	}
	if _, err := StartRun(ctx, s2, next, isAlive); err != nil {
		t.Fatalf("after the first run ended: %v", err)
	}
	s1.Close()
	s2.Close()
	if sum, err := verify(t, path, Options{}); err != nil {
		t.Fatalf("verify: %v %v", err, sum.Problems)
	}
}

func TestSchemaTamperingIsNamed(t *testing.T) {
	cases := []struct{ sql, want string }{
		{`DROP TRIGGER evidence_no_update`, "trigger evidence_no_update: missing"},
		{`DROP TRIGGER blobs_no_delete`, "trigger blobs_no_delete: missing"},
		{`DROP VIEW v_findings; CREATE VIEW v_findings AS SELECT s.review, f.rule_id, f.risk, f.system, f.user_login,
		   (SELECT group_concat(value, ', ') FROM json_each(f.groups)) AS group_name, f.title, f.detail, f.source, f.evidence_id
		   FROM v_current_scorings s JOIN findings f ON f.scoring_id = s.id WHERE f.suppressed = 0 AND NOT (f.user_login = 'dave.kim@company.com' AND f.risk = 'HIGH')`,
			"view v_findings: definition differs from the migrations"},
		{`DROP VIEW v_current_scorings; CREATE VIEW v_current_scorings AS SELECT s.* FROM scorings s WHERE 0`, "view v_current_scorings: definition differs"},
		{`DROP INDEX evidence_run; CREATE INDEX evidence_run ON evidence(run_id, seq)`, "index evidence_run: definition differs"},
		{`CREATE TRIGGER quiet AFTER INSERT ON scoring_findings BEGIN UPDATE scoring_findings SET suppressed = 1 WHERE kind = 1; END`, "trigger quiet: unexpected"},
	}
	for _, tc := range cases {
		path, _ := buildStore(t)
		mustExec(t, rawDB(t, path), tc.sql)
		sum, err := verify(t, path, Options{})
		wantProblem(t, sum, err, 0, "schema", tc.want)
		if len(sum.Problems) != 1 {
			t.Errorf("%s: want one problem, got %v", tc.want, sum.Problems)
		}
	}
}

// Cutting the tail leaves the blobs its rows named: reported without an
// anchor.
func TestOrphanBlobsReported(t *testing.T) {
	path, s := buildStore(t)
	l := newLedger(s)
	_, err := l.AppendTx(context.Background(), Entry{Kind: KindCall, SourceSystem: "okta", QueryName: "okta GET /api/v1/groups",
		QueryText: "GET https://x/api/v1/groups?after=z", Body: []byte(`[{"id":"unique-tail-page"}]`), RowCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := s.Head(context.Background())
	db := rawDB(t, path)
	dropTriggers(t, db)
	mustExec(t, db, `DELETE FROM evidence WHERE seq = ?`, h.Seq)
	restoreTriggers(t, db)
	sum, err := verify(t, path, Options{})
	wantProblem(t, sum, err, 0, "blobs", "is referenced by no ledger row")
	if len(sum.Problems) != 1 {
		t.Errorf("want one problem, got %v", sum.Problems)
	}
}

func TestAnchorsInSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uar.db")
	s := openStore(t, path)
	l := newLedger(s)
	ctx := context.Background()
	appendCalls(t, l, 4)
	sum, err := verify(t, path, Options{})
	if err != nil || sum.AnchoredHead != "" || sum.UnanchoredRows != 4 {
		t.Fatalf("before any anchor: %+v %v", sum, err)
	}
	h, _ := s.Head(ctx)
	// The head was written into the page; then publish recorded it.
	a := Anchor{Head: h.String(), Service: "confluence", URL: "https://acme.atlassian.net/wiki/x/123", PageID: "123", Version: 2}
	if _, err := l.RecordAnchorTx(ctx, a); err != nil {
		t.Fatal(err)
	}
	appendCalls(t, l, 3)
	sum, err = verify(t, path, Options{})
	if err != nil {
		t.Fatalf("%v %v", err, sum.Problems)
	}
	if sum.AnchoredHead != h.String() || sum.UnanchoredRows != 4 || !strings.Contains(sum.AnchoredIn, "confluence page 123 version 2") {
		t.Errorf("summary: anchored %q in %q, %d unanchored; want %s and 4 (the anchor row and 3 calls)", sum.AnchoredHead, sum.AnchoredIn, sum.UnanchoredRows, h)
	}
	if sum.Derivations != 0 {
		t.Errorf("an anchor row is not a derivation: %+v", sum)
	}
	// RecordAnchor refuses a head that is not a row of the ledger.
	for _, bad := range []string{"2:" + strings.Repeat("ab", 32), "99:" + h.Hash, "nonsense"} {
		if _, err := l.RecordAnchorTx(ctx, Anchor{Head: bad, Service: "confluence"}); err == nil {
			t.Errorf("RecordAnchor(%q) accepted", bad)
		}
	}
	// A ledger rewritten after it was anchored no longer holds the head an
	// anchor row recorded (simulated: an anchor row naming another hash).
	_, err = l.AppendTx(ctx, sealRow(QueryAnchor, "anchor", "anchor", Anchor{Head: fmt.Sprintf("2:%s", strings.Repeat("cd", 32)), Service: "confluence", PageID: "123"}))
	if err != nil {
		t.Fatal(err)
	}
	sum, err = verify(t, path, Options{})
	wantProblem(t, sum, err, 0, "evidence", "the ledger was rewritten after it was anchored")
}

func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// Two real processes: while the first one's run is live, the second is
// refused before it does any work, with a message naming the first run,
// its pid and host; once the first has finished, the second starts.
func TestBusyAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uar.db")
	openStore(t, path).Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHolder$")
	cmd.Env = append(os.Environ(), "UAR_HOLDER_DB="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "started ") {
		t.Fatalf("holder: %q %v", line, err)
	}
	holderRun := strings.TrimSpace(strings.TrimPrefix(line, "started "))
	s := openStore(t, path)
	me := store.Run{Command: "score", Args: "[]", ToolVersion: "1", Actor: "alice", Host: "shared-host", PID: os.Getpid()}
	_, err = StartRun(context.Background(), s, me, processAlive)
	var be *store.BusyError
	if !errors.As(err, &be) || be.RunID != holderRun || be.PID != cmd.Process.Pid || be.Host != "shared-host" {
		t.Fatalf("err = %v, want a *store.BusyError naming run %s of pid %d", err, holderRun, cmd.Process.Pid)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(cmd.Process.Pid)) || !strings.Contains(err.Error(), "snapshot") {
		t.Errorf("message %q", err)
	}
	stdin.Close() // let the holder finish its run
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	if _, err := StartRun(context.Background(), s, me, processAlive); err != nil {
		t.Fatalf("after the holder finished: %v", err)
	}
}

// TestHelperHolder is not a test: it is the first process of
// TestBusyAcrossProcesses. It starts a run, says so, and finishes it when
// its stdin closes.
func TestHelperHolder(t *testing.T) {
	path := os.Getenv("UAR_HOLDER_DB")
	if path == "" {
		t.Skip("helper process only")
	}
	s, err := store.Open(context.Background(), path, store.Options{Now: time.Now})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	run, err := StartRun(context.Background(), s, store.Run{Command: "snapshot", Args: "[]", ToolVersion: "1", Actor: "cron", Host: "shared-host", PID: os.Getpid()}, processAlive)
	if err != nil {
		fmt.Println("start:", err)
		os.Exit(1)
	}
	fmt.Println("started", run.ID)
	io.Copy(io.Discard, os.Stdin)
	if _, err := FinishRun(context.Background(), s, run, store.RunOK, ""); err != nil {
		fmt.Println("finish:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
