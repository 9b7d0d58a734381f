package evidence

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/store"
)

var testNow = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func openStore(t testing.TB, path string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), path, store.Options{Create: true, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newLedger(s *store.Store) *Ledger {
	return &Ledger{Store: s, RunID: "run-1", Review: "2026-Q4", Actor: "tester"}
}

// appendCalls appends n call rows with distinct bodies.
func appendCalls(t testing.TB, l *Ledger, n int) {
	t.Helper()
	for i := range n {
		_, err := l.AppendTx(context.Background(), Entry{Kind: KindCall, SourceSystem: "okta", QueryName: "okta GET /api/v1/groups",
			QueryText: "GET https://x/api/v1/groups", Params: map[string]any{"page": i}, Body: []byte(fmt.Sprintf(`[{"id":"g%d"}]`, i)), RowCount: 1})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// sealSnapshot writes a small snapshot and seals it, as snapshot does.
func sealSnapshot(t testing.TB, s *store.Store, l *Ledger) {
	t.Helper()
	snap := &model.Snapshot{
		Groups: []model.Group{{ID: "00g1", Name: "SOX-NetSuite-Admins", Type: model.GroupTypeOkta, System: "NetSuite", Role: "Admins"}},
		Users: []model.User{
			{ID: "00u1", Login: "dave.kim@company.com", Email: "dave.kim@company.com", Department: "IT", Status: "ACTIVE", Origin: model.OriginOkta},
			{ID: "00u2", Login: "carol.wong@company.com", Email: "carol.wong@company.com", Department: "Finance", Status: "ACTIVE", Origin: model.OriginOkta},
		},
		Memberships: []model.Membership{{GroupID: "00g1", UserID: "00u1", Source: model.SourceDirect}, {GroupID: "00g1", UserID: "00u2", Source: model.SourceDirect}},
	}
	err := s.WithTx(context.Background(), func(tx *store.Tx) error {
		var announced string
		row, err := l.Derive(context.Background(), tx, "snapshot", func(id string) (Derived, error) {
			announced = id
			sid, err := tx.InsertSnapshot(context.Background(), store.SnapshotHeader{Review: "2026-Q4", Source: store.SnapshotOkta, RunID: l.RunID}, snap, id)
			return Derived{Scopes: []Scope{{"snapshots", sid}, {"snapshot_groups", sid}, {"snapshot_users", sid}, {"snapshot_memberships", sid}}}, err
		})
		if err != nil {
			return err
		}
		if row.ID != announced {
			t.Errorf("seal row id %s, want the announced %s", row.ID, announced)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rawDB opens the store file behind uar's back, as an attacker would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func verify(t testing.TB, path string, opts Options) (*Summary, error) {
	t.Helper()
	s, err := store.Open(context.Background(), path, store.Options{ReadOnly: true, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return Verify(context.Background(), s, opts)
}

func buildStore(t testing.TB) (string, *store.Store) {
	path := filepath.Join(t.TempDir(), "uar.db")
	s := openStore(t, path)
	l := newLedger(s)
	appendCalls(t, l, 5)
	sealSnapshot(t, s, l)
	appendCalls(t, l, 3)
	return path, s
}

func TestVerifyCleanStore(t *testing.T) {
	path, s := buildStore(t)
	sum, err := verify(t, path, Options{})
	if err != nil {
		t.Fatalf("verify: %v %+v", err, sum.Problems)
	}
	if sum.Rows != 9 || sum.Derivations != 1 || sum.DerivedRows != 6 || sum.Blobs != 5 { // bodies repeat: blobs are content-addressed
		t.Errorf("summary %+v", sum)
	}
	h, _ := s.Head(context.Background())
	if sum.Head != h.String() {
		t.Errorf("head %s, want %s", sum.Head, h)
	}
	if _, err := verify(t, path, Options{Anchor: h.String()}); err != nil {
		t.Errorf("anchor at head: %v", err)
	}
}

func TestTriggersRefuseEdits(t *testing.T) {
	path, _ := buildStore(t)
	db := rawDB(t, path)
	for _, q := range []string{
		`UPDATE evidence SET query_text = 'x' WHERE seq = 2`,
		`DELETE FROM evidence WHERE seq = 9`,
		`UPDATE blobs SET size = 1`,
		`DELETE FROM blobs`,
	} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err %v, want append-only refusal", q, err)
		}
	}
}

func TestChainCannotFork(t *testing.T) {
	path, s := buildStore(t)
	h, _ := s.Head(context.Background())
	db := rawDB(t, path)
	// A second child of an existing row is refused by UNIQUE(prev_hash).
	_, err := db.Exec(`INSERT INTO evidence SELECT seq+100, id||'x', run_id, review, kind, source_system, query_name, query_text, query_params, executed_at, source_time, executed_by, result_row_count, result_hash, blob_hash, prev_hash, entry_hash||'x' FROM evidence WHERE seq = ?`, h.Seq)
	if err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Fatalf("fork insert: %v", err)
	}
}

var appendOnlyTriggers = []string{"evidence_no_update", "evidence_no_delete", "blobs_no_update", "blobs_no_delete"}

func dropTriggers(t testing.TB, db *sql.DB) {
	for _, tr := range appendOnlyTriggers {
		mustExec(t, db, `DROP TRIGGER `+tr)
	}
}

// restoreTriggers puts the append-only triggers back exactly as the
// migration wrote them, as a careful attacker would after tampering, so
// that the schema check alone does not give the edit away.
func restoreTriggers(t testing.TB, db *sql.DB) {
	t.Helper()
	mig := store.Migrations()[0].SQL
	for _, tr := range appendOnlyTriggers {
		i := strings.Index(mig, "CREATE TRIGGER "+tr)
		j := strings.Index(mig[i:], "END;")
		mustExec(t, db, mig[i:i+j+len("END;")])
	}
}

// nonSchema drops the schema problems (dropped triggers) from a summary.
func nonSchema(ps []Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		if p.Table != "schema" {
			out = append(out, p)
		}
	}
	return out
}

func wantProblem(t *testing.T, sum *Summary, err error, seq int64, table, what string) {
	t.Helper()
	if !errors.Is(err, ErrTampered) {
		t.Fatalf("verify err = %v, want ErrTampered", err)
	}
	for _, p := range sum.Problems {
		if (seq == 0 || p.Seq == seq) && p.Table == table && strings.Contains(p.What, what) {
			return
		}
	}
	t.Fatalf("no problem (seq %d, %s, %q) among %v", seq, table, what, sum.Problems)
}

func TestTamperingIsFoundAndLocated(t *testing.T) {
	t.Run("blob byte changed", func(t *testing.T) {
		path, _ := buildStore(t)
		db := rawDB(t, path)
		dropTriggers(t, db)
		var hash string
		if err := db.QueryRow(`SELECT blob_hash FROM evidence WHERE seq = 3`).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		// Recompress altered content under the old hash: decompresses fine,
		// hashes differently.
		altered := encoder().EncodeAll([]byte(`[{"id":"gX"}]`), nil)
		mustExec(t, db, `UPDATE blobs SET data = ? WHERE hash = ?`, altered, hash)
		sum, err := verify(t, path, Options{})
		wantProblem(t, sum, err, 3, "blobs", "the blob was altered")
	})
	t.Run("blob raw byte flipped", func(t *testing.T) {
		path, _ := buildStore(t)
		db := rawDB(t, path)
		dropTriggers(t, db)
		mustExec(t, db, `UPDATE blobs SET data = substr(data, 1, length(data)-1) || x'00' WHERE hash = (SELECT blob_hash FROM evidence WHERE seq = 4)`)
		sum, err := verify(t, path, Options{})
		wantProblem(t, sum, err, 4, "blobs", "blob")
	})
	t.Run("ledger row edited", func(t *testing.T) {
		path, _ := buildStore(t)
		db := rawDB(t, path)
		dropTriggers(t, db)
		mustExec(t, db, `UPDATE evidence SET result_row_count = 99 WHERE seq = 2`)
		sum, err := verify(t, path, Options{})
		wantProblem(t, sum, err, 2, "evidence", "the row was edited")
		wantProblem(t, sum, err, 0, "schema", "trigger evidence_no_update: missing")
		if ps := nonSchema(sum.Problems); len(ps) != 1 {
			t.Errorf("want exactly one problem besides the dropped triggers, got %v", ps)
		}
		// With the triggers put back, the edit is still found, alone.
		restoreTriggers(t, db)
		sum, err = verify(t, path, Options{})
		wantProblem(t, sum, err, 2, "evidence", "the row was edited")
		if len(sum.Problems) != 1 {
			t.Errorf("want exactly one problem, got %v", sum.Problems)
		}
	})
	t.Run("middle row deleted", func(t *testing.T) {
		path, _ := buildStore(t)
		db := rawDB(t, path)
		dropTriggers(t, db)
		mustExec(t, db, `DELETE FROM evidence WHERE seq = 4`)
		sum, err := verify(t, path, Options{})
		wantProblem(t, sum, err, 4, "evidence", "rows 4..4 are missing")
		wantProblem(t, sum, err, 5, "evidence", "prev_hash")
	})
	t.Run("two rows swapped", func(t *testing.T) {
		path, _ := buildStore(t)
		db := rawDB(t, path)
		dropTriggers(t, db)
		// Swap the contents of seq 2 and 3 (keeping seq order).
		mustExec(t, db, `UPDATE evidence SET seq = -2 WHERE seq = 2`)
		mustExec(t, db, `UPDATE evidence SET seq = 2 WHERE seq = 3`)
		mustExec(t, db, `UPDATE evidence SET seq = 3 WHERE seq = -2`)
		sum, err := verify(t, path, Options{})
		wantProblem(t, sum, err, 2, "evidence", "prev_hash")
		wantProblem(t, sum, err, 3, "evidence", "prev_hash")
	})
	t.Run("derived row edited", func(t *testing.T) {
		path, _ := buildStore(t)
		db := rawDB(t, path)
		mustExec(t, db, `UPDATE snapshot_users SET department = 'Finance' WHERE login = 'dave.kim@company.com'`)
		sum, err := verify(t, path, Options{})
		wantProblem(t, sum, err, 6, "snapshot_users", "changed since snapshot sealed them")
		if len(sum.Problems) != 1 {
			t.Errorf("want exactly one problem, got %v", sum.Problems)
		}
	})
	t.Run("derived row added outside a pass", func(t *testing.T) {
		path, _ := buildStore(t)
		db := rawDB(t, path)
		mustExec(t, db, `INSERT INTO snapshots (id, review, source, system, run_id, taken_at, file_name, evidence_id) VALUES (7, '2026-Q4', 'okta', '', 'x', '', '', 'E00000006')`)
		mustExec(t, db, `INSERT INTO snapshot_members VALUES (7, 1, 1, 0, '[9]', NULL)`)
		sum, err := verify(t, path, Options{})
		wantProblem(t, sum, err, 0, "snapshot_memberships", "not written by any sealed derivation")
		wantProblem(t, sum, err, 0, "snapshots", "not written by any sealed derivation")
	})
	t.Run("staged rows are not tampering", func(t *testing.T) {
		// A snapshot being written (or left by a killed run) has rows
		// under a snapshot_stages id and no snapshots row yet.
		path, _ := buildStore(t)
		db := rawDB(t, path)
		mustExec(t, db, `INSERT INTO snapshot_stages (id, review, source, run_id, started_at) VALUES (8, '2026-Q4', 'okta', 'r-killed', '2026-12-01T09:00:00Z')`)
		mustExec(t, db, `INSERT INTO snapshot_groups (snapshot_id, group_id, name, description, type, system, role, rule_managed, no) VALUES (8, '00g1', 'SOX-A', '', 'OKTA_GROUP', 'A', '', 0, 1)`)
		mustExec(t, db, `INSERT INTO snapshot_members VALUES (8, 1, 1, 0, '[1]', NULL)`)
		sum, err := verify(t, path, Options{})
		if err != nil {
			t.Fatalf("verify: %v %v", err, sum.Problems)
		}
		if len(sum.Staged) != 1 || sum.Staged[0].ID != 8 || sum.Staged[0].Memberships != 1 || sum.Staged[0].RunID != "r-killed" {
			t.Errorf("staged: %+v", sum.Staged)
		}
	})
	t.Run("a sealed snapshot listed as staged", func(t *testing.T) {
		path, _ := buildStore(t)
		db := rawDB(t, path)
		mustExec(t, db, `INSERT INTO snapshot_stages (id, review, source, run_id, started_at) VALUES (1, '2026-Q4', 'okta', 'x', '')`)
		sum, err := verify(t, path, Options{})
		wantProblem(t, sum, err, 0, "snapshot_groups", "yet snapshot_stages lists 1 as not complete")
	})
	t.Run("every problem reported", func(t *testing.T) {
		path, _ := buildStore(t)
		db := rawDB(t, path)
		dropTriggers(t, db)
		mustExec(t, db, `UPDATE evidence SET query_text = 'x' WHERE seq = 2`)
		mustExec(t, db, `UPDATE evidence SET query_text = 'y' WHERE seq = 8`)
		mustExec(t, db, `UPDATE snapshot_groups SET name = 'SOX-Other'`)
		sum, err := verify(t, path, Options{})
		wantProblem(t, sum, err, 2, "evidence", "edited")
		wantProblem(t, sum, err, 8, "evidence", "edited")
		wantProblem(t, sum, err, 6, "snapshot_groups", "changed")
	})
}

func TestTruncatedTailNeedsAnchor(t *testing.T) {
	path, s := buildStore(t)
	h, _ := s.Head(context.Background())
	db := rawDB(t, path)
	dropTriggers(t, db)
	mustExec(t, db, `DELETE FROM evidence WHERE seq > ?`, h.Seq-2)
	restoreTriggers(t, db)
	// The cut rows' bodies repeat earlier ones (content addressing), so no
	// blob is orphaned: only the anchor can tell.
	if sum, err := verify(t, path, Options{}); err != nil {
		t.Fatalf("a truncated chain is still a valid chain: %v %v", err, sum.Problems)
	}
	sum, err := verify(t, path, Options{Anchor: h.String()})
	wantProblem(t, sum, err, h.Seq, "evidence", "rows were removed from the tail")
	// A wrong hash at a present seq is a mismatch.
	sum, err = verify(t, path, Options{Anchor: "2:" + strings.Repeat("ab", 32)})
	wantProblem(t, sum, err, 2, "evidence", "anchor mismatch")
}

func TestParseAnchor(t *testing.T) {
	for _, bad := range []string{"", "12", "x:abc", "0:" + strings.Repeat("a", 64), "3:" + strings.Repeat("g", 64), "3:abc"} {
		if _, _, err := ParseAnchor(bad); err == nil {
			t.Errorf("ParseAnchor(%q) accepted", bad)
		}
	}
}

func TestCanonical(t *testing.T) {
	a, _ := Canonical(map[string]any{"b": 1, "a": []any{"<x>", 2.5}})
	b, _ := Canonical(struct {
		B int    `json:"b"`
		A []any  `json:"a"`
		C string `json:"-"`
	}{1, []any{"<x>", 2.5}, "ignored"})
	if string(a) != `{"a":["<x>",2.5],"b":1}` || !bytes.Equal(a, b) {
		t.Fatalf("canonical: %s vs %s", a, b)
	}
}

// Two processes appending to one store at once: each waits for the other
// at BEGIN IMMEDIATE (busy_timeout); the chain never forks.
func TestConcurrentProcessesAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uar.db")
	s := openStore(t, path)
	s.Close()
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, 2)
	outs := make([][]byte, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppender$")
			cmd.Env = append(os.Environ(), "UAR_HELPER_DB="+path, "UAR_HELPER_N="+strconv.Itoa(n), "UAR_HELPER_RUN=proc"+strconv.Itoa(i))
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
		} else if !strings.Contains(string(outs[i]), "is locked by another process") && !strings.Contains(string(outs[i]), "is in use by run") {
			t.Fatalf("process %d failed uncleanly: %v\n%s", i, err, outs[i])
		}
	}
	sum, err := verify(t, path, Options{})
	if err != nil {
		t.Fatalf("chain after concurrent appends: %v %v", err, sum.Problems)
	}
	if sum.Rows < int64(ok*n) {
		t.Fatalf("rows %d, want at least %d", sum.Rows, ok*n)
	}
}

// A process killed with SIGKILL in the middle of a long append loop leaves
// a store that opens, verifies, and shows the run as interrupted.
func TestSIGKILLMidAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uar.db")
	s := openStore(t, path)
	s.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppender$")
	cmd.Env = append(os.Environ(), "UAR_HELPER_DB="+path, "UAR_HELPER_N=1000000", "UAR_HELPER_RUN=killed")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until it has appended for a while, then kill it mid-loop.
	buf := make([]byte, 64)
	var seen strings.Builder
	for !strings.Contains(seen.String(), "appended 300") {
		n, err := stdout.Read(buf)
		if err != nil {
			t.Fatalf("helper output ended: %v (%q)", err, seen.String())
		}
		seen.Write(buf[:n])
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	_ = cmd.Wait()

	sum, err := verify(t, path, Options{})
	if err != nil {
		t.Fatalf("verify after SIGKILL: %v %v", err, sum.Problems)
	}
	if sum.Rows < 300 {
		t.Fatalf("rows %d", sum.Rows)
	}
	s2 := openStore(t, path)
	marked, err := MarkAbandonedRuns(context.Background(), s2, "helper-host", "tester", func(pid int) bool { return pid != cmd.Process.Pid })
	if err != nil {
		t.Fatal(err)
	}
	if len(marked) != 1 || marked[0].Command != "append-loop" {
		t.Fatalf("marked %+v", marked)
	}
	r, err := s2.GetRun(context.Background(), marked[0].ID)
	if err != nil || r.Status != store.RunInterrupted {
		t.Fatalf("run %+v %v", r, err)
	}
	s2.Close()
	if sum, err := verify(t, path, Options{}); err != nil {
		t.Fatalf("verify after marking the run interrupted: %v %v", err, sum.Problems)
	}
}

// TestHelperAppender is not a test: it is the child process of the
// concurrency and SIGKILL tests.
func TestHelperAppender(t *testing.T) {
	path := os.Getenv("UAR_HELPER_DB")
	if path == "" {
		t.Skip("helper process only")
	}
	n, _ := strconv.Atoi(os.Getenv("UAR_HELPER_N"))
	s, err := store.Open(context.Background(), path, store.Options{Now: time.Now, BusyTimeout: 30 * time.Second})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	// alive nil: the two helpers of TestConcurrentProcessesAppend append
	// side by side on purpose.
	run, err := StartRun(context.Background(), s, store.Run{Command: "append-loop", Args: "[]", ToolVersion: "test", Actor: "helper", Host: "helper-host", PID: os.Getpid()}, nil)
	if err != nil {
		fmt.Println("start run:", err)
		os.Exit(1)
	}
	l := &Ledger{Store: s, RunID: run.ID + os.Getenv("UAR_HELPER_RUN"), Actor: "helper"}
	body := bytes.Repeat([]byte("x"), 512)
	for i := 1; i <= n; i++ {
		_, err := l.AppendTx(context.Background(), Entry{Kind: KindCall, SourceSystem: "test", QueryName: "loop", QueryText: "loop",
			Params: map[string]any{"i": i, "run": l.RunID}, Body: append(body, strconv.Itoa(i)...)})
		if err != nil {
			fmt.Println("append:", err)
			os.Exit(1)
		}
		if i%100 == 0 {
			fmt.Printf("appended %d\n", i)
		}
	}
	if _, err := FinishRun(context.Background(), s, run, store.RunOK, ""); err != nil {
		fmt.Println("finish run:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestRecorderKeepsEvidenceButNoSecrets(t *testing.T) {
	const token = "00abcSECRETtokenVALUE123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Okta-Request-Id", "req-42")
		w.Header().Set("Set-Cookie", "sid="+token)
		w.Header().Set("Content-Type", "application/json")
		// A hostile server echoing the credential back must not get it stored.
		fmt.Fprintf(w, `[{"id":"00g1","echo":%q,"auth":%q}]`, string(body), r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "uar.db")
	s := openStore(t, path)
	rec := &Recorder{Ledger: newLedger(s), Service: "okta", Secrets: []string{token}}
	hc := rec.Client(5 * time.Second)
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/groups?limit=2&token="+token+"&api_key=k3y-"+token, strings.NewReader("token="+token+"&channel=C1"))
	req.Header.Set("Authorization", "SSWS "+token)
	req.Header.Set("X-Api-Key", token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The caller gets the response with the credential's forms replaced,
	// the rest untouched: nothing downstream (an error built from an
	// echoing body) can carry the credential either.
	if want := `[{"id":"00g1","echo":"token=[REDACTED]&channel=C1","auth":"[REDACTED]"}]`; string(got) != want {
		t.Fatalf("the caller got %s, want %s", got, want)
	}
	rows, err := s.FindEvidence(context.Background(), store.EvidenceFilter{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows %v %v", rows, err)
	}
	r := rows[0]
	if !strings.Contains(r.QueryParams, `"request_id":"req-42"`) || r.SourceTime == "" || r.ResultRowCount != 1 {
		t.Errorf("row %+v", r)
	}
	if r.QueryName != "okta POST /api/v1/groups" {
		t.Errorf("query name %q", r.QueryName)
	}
	s.Close()
	// Checkpoint-free byte scan: read the main file and the WAL.
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(token)) {
			t.Fatalf("secret found in %s", f)
		}
	}
	// And in the decompressed blobs.
	s2 := openStore(t, path)
	err = s2.EachBlob(context.Background(), func(h string, _ int64, c []byte) error {
		raw, err := Decompress(c)
		if err != nil {
			return err
		}
		if bytes.Contains(raw, []byte(token)) {
			return fmt.Errorf("secret in blob %s: %s", h, raw)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRecorderRecordsFailedCalls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uar.db")
	s := openStore(t, path)
	rec := &Recorder{Ledger: newLedger(s), Service: "jira"}
	hc := rec.Client(time.Second)
	_, err := hc.Get("http://127.0.0.1:1/rest/api/3/myself")
	if err == nil {
		t.Fatal("want a connection error")
	}
	rows, _ := s.FindEvidence(context.Background(), store.EvidenceFilter{})
	if len(rows) != 1 || !strings.Contains(rows[0].QueryParams, `"error"`) {
		t.Fatalf("failed call not recorded: %+v", rows)
	}
}

func TestPathPattern(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/groups/00g1abcdEFGH/users": "/api/v1/groups/{id}/users",
		"/rest/api/3/issue/UAR-12/comment":  "/rest/api/3/issue/{id}/comment",
		"/wiki/api/v2/pages/123456":         "/wiki/api/v2/pages/{id}",
		"/api/chat.postMessage":             "/api/chat.postMessage",
	} {
		if got := pathPattern(in); got != want {
			t.Errorf("pathPattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalRow(t *testing.T) {
	r := store.EvidenceRow{Seq: 7, ID: "E00000007", RunID: "r", Review: "2026-Q4", Kind: KindCall, SourceSystem: "okta",
		QueryName: "q <&> \u2028", QueryText: "GET https://x/?a=1&b=<2>", QueryParams: `{"a":"\n"}`, ExecutedAt: "t",
		SourceTime: "s", ExecutedBy: "é\x01", ResultRowCount: 3, ResultHash: "h", BlobHash: "b", PrevHash: GenesisHash, EntryHash: "ignored"}
	fast, err := canonicalRow(r)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := Canonical(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fast, slow) {
		t.Fatalf("canonicalRow differs from Canonical:\n%s\n%s", fast, slow)
	}
}

func TestRecorderRedactsOAuthTokens(t *testing.T) {
	const access = "eyJhbGciOiJSUzI1NiJ9.access.token"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3600,"access_token":%q,"scope":"okta.groups.read"}`, access)
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "uar.db")
	s := openStore(t, path)
	rec := &Recorder{Ledger: newLedger(s), Service: "okta"}
	resp, err := rec.Client(5*time.Second).Post(srv.URL+"/oauth2/v1/token?grant_type=client_credentials&client_assertion=signed.jwt.value", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(got), access) {
		t.Fatal("the SDK must still receive the token")
	}
	rows, _ := s.FindEvidence(context.Background(), store.EvidenceFilter{})
	if strings.Contains(rows[0].QueryText, "signed.jwt.value") || strings.Contains(rows[0].QueryParams, "signed.jwt.value") {
		t.Errorf("client assertion stored: %s %s", rows[0].QueryText, rows[0].QueryParams)
	}
	_, c, err := s.Blob(context.Background(), rows[0].BlobHash)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := Decompress(c)
	if strings.Contains(string(raw), access) || !strings.Contains(string(raw), `"access_token":"[REDACTED]"`) || !strings.Contains(string(raw), `"scope":"okta.groups.read"`) {
		t.Errorf("stored body %s", raw)
	}
}

func TestCountRows(t *testing.T) {
	for body, want := range map[string]int64{
		``: 0, `[]`: 0, ` [ ] `: 0, `[1]`: 1, `[{"a":[1,2,{"b":"x,]"}]},{"c":"\\\"],"}]`: 2, `["a","b",3]`: 3,
		`{"issues":[{},{}],"total":2}`: 2, `{"id":"x"}`: 1, `[1,`: 1, `not json`: 1,
	} {
		if got := countRows([]byte(body)); got != want {
			t.Errorf("countRows(%s) = %d, want %d", body, got, want)
		}
	}
}

func TestRedactJSONSecretsOnlyStrings(t *testing.T) {
	page := []byte(`[{"id":"00u1","credentials":{"password":{},"provider":{"type":"OKTA"}}}]`)
	if got := redactJSONSecrets(page); !bytes.Equal(got, page) {
		t.Errorf("a password object must pass untouched: %s", got)
	}
	tok := []byte(`{"access_token" : "abc\"def","password":"hunter2"}`)
	got := string(redactJSONSecrets(tok))
	if strings.Contains(got, "abc") || strings.Contains(got, "hunter2") {
		t.Errorf("not redacted: %s", got)
	}
}

// An unkept row (a report file uar wrote elsewhere) records only the
// file's sha256: no blob, an empty blob_hash, and the chain verifies;
// editing its hash afterwards is caught like any row.
func TestUnkeptRowRecordsOnlyTheHash(t *testing.T) {
	path, s := buildStore(t)
	l := newLedger(s)
	sum := Sum([]byte("the report file"))
	r, err := l.AppendTx(context.Background(), Entry{Kind: KindFile, SourceSystem: "uar", QueryName: "report",
		QueryText: "write r.xlsx", Params: map[string]any{"file": "r.xlsx"}, ResultHash: sum, Unkept: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.BlobHash != "" || r.ResultHash != sum {
		t.Fatalf("row %+v", r)
	}
	if _, _, err := s.Blob(context.Background(), sum); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a blob was stored for an unkept row: %v", err)
	}
	if sum, err := verify(t, path, Options{}); err != nil {
		t.Fatalf("verify: %v %+v", err, sum.Problems)
	}
	for _, bad := range []Entry{
		{Kind: KindFile, QueryName: "report", Unkept: true},                                     // no hash
		{Kind: KindFile, QueryName: "report", Unkept: true, ResultHash: sum, Body: []byte("x")}, // a body
	} {
		if _, err := l.AppendTx(context.Background(), bad); err == nil {
			t.Errorf("unkept %+v was accepted", bad)
		}
	}
	db := rawDB(t, path)
	dropTriggers(t, db)
	mustExec(t, db, `UPDATE evidence SET result_hash = ? WHERE seq = ?`, Sum([]byte("another file")), r.Seq)
	got, err := verify(t, path, Options{})
	wantProblem(t, got, err, r.Seq, "evidence", "entry_hash")
}
