package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/sandbox"
)

// A group whose members still disagree with Okta's own count after one
// re-read is a recorded gap: snapshot exits 1 naming it; publish and score
// refuse the snapshot until --accept-gap, which is recorded with the
// actor and the reason; the store still verifies and re-derives.
func TestSnapshotGapIsRecordedAndRefusedUntilAccepted(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	fake := startOkta(t, te, sandbox.ReferenceOrg())
	te.write(t, "policy.yaml", testPolicy)
	const users = "00gref00000000000002" // SOX-NetSuite-Users, 5 members
	fake.SetStatsSkew(users, -1)
	ctx := context.Background()

	if code := te.run(ctx, "snapshot", "--json"); code != ExitFailure {
		t.Fatalf("snapshot exit %d, want 1: %s", code, te.err)
	}
	if msg := te.err.String(); !strings.Contains(msg, "SOX-NetSuite-Users: 5 members paged, Okta counts 4") || !strings.Contains(msg, "--accept-gap") {
		t.Errorf("stderr: %s", msg)
	}
	if out := te.out.String(); !strings.Contains(out, `"gaps": 1`) || !strings.Contains(out, `"rereads": 1`) {
		t.Errorf("the summary is still printed, with the gap: %s", out)
	}
	// The re-read: one stats call for that group, then its members again
	// (page size 2: 3 pages per read); no other group got an extra call.
	if n := fake.Requests().Count("GET", "/api/v1/groups/"+users); n != 1 {
		t.Errorf("%d stats calls for the group, want 1", n)
	}
	if n := fake.Requests().Count("GET", "/api/v1/groups/"+users+"/users"); n != 6 {
		t.Errorf("%d member pages of the group, want 2 reads of 3", n)
	}
	if n := fake.Requests().Count("GET", "/api/v1/groups/00gref00000000000001"); n != 0 {
		t.Errorf("a group whose counts agree was read again (%d)", n)
	}
	s := openTestStore(t, te.path("t.db"))
	res := must(s.Query(ctx, `SELECT l.status, l.reread, l.paged_count, l.independent_count, e.query_text, json_array_length(l.page_evidence_ids)
		FROM snapshot_listings l JOIN evidence e ON e.id = l.count_evidence_id WHERE l.group_id = ?`, users))(t)
	if got := fmt.Sprint(res.Rows); !strings.HasPrefix(got, "[[gap 1 5 4 GET ") || !strings.Contains(got, "/api/v1/groups/"+users+"?expand=stats 3]]") {
		t.Errorf("the gap's listing (status, reread, paged, Okta's count, count evidence, pages): %s", got)
	}
	s.Close()

	// publish and score refuse it, naming the way out.
	if code := te.run(ctx, "publish", "--dry-run"); code != ExitFailure || !strings.Contains(te.err.String(), "not proven complete") {
		t.Fatalf("publish: exit %d: %s", code, te.err)
	}
	if code := te.run(ctx, "score"); code != ExitFailure || !strings.Contains(te.err.String(), "--accept-gap") {
		t.Fatalf("score: exit %d: %s", code, te.err)
	}
	te.vars["UAR_ACTOR"] = "anna.auditor"
	if code := te.run(ctx, "score", "--accept-gap", "Okta's count lags a removal; checked in the admin console"); code != 0 {
		t.Fatalf("score --accept-gap: exit %d: %s", code, te.err)
	}
	if !strings.Contains(te.err.String(), "accepted 1 gap") {
		t.Errorf("stderr: %s", te.err)
	}
	s = openTestStore(t, te.path("t.db"))
	res = must(s.Query(ctx, `SELECT a.command, a.actor, a.reason, json_extract(a.listings, '$[0].group_id'), e.query_name, e.executed_by
		FROM gap_acceptances a JOIN evidence e ON e.id = a.evidence_id`))(t)
	if got := fmt.Sprint(res.Rows); got != "[[score anna.auditor Okta's count lags a removal; checked in the admin console "+users+" snapshot.accept_gap anna.auditor]]" {
		t.Errorf("acceptance: %s", got)
	}
	s.Close()
	// The named query an auditor (and the report's Completeness sheet)
	// reads: the gap, its counts and evidence, who accepted it and why.
	if code := te.run(ctx, "query", "completeness", "--db", "t.db", "--param", "review=2026-Q4"); code != 0 {
		t.Fatalf("query completeness: exit %d: %s", code, te.err)
	}
	var gapLine string
	for _, l := range strings.Split(te.out.String(), "\n") {
		if strings.Contains(l, "\tgap\t") {
			gapLine = l
		}
	}
	for _, want := range []string{"SOX-NetSuite-Users", "\t5\t4\tgap\t1\t", "anna.auditor", "checked in the admin console"} {
		if !strings.Contains(gapLine, want) {
			t.Errorf("completeness row lacks %q: %q", want, gapLine)
		}
	}
	if n := strings.Count(te.out.String(), "\tcomplete\t"); n != 3 {
		t.Errorf("%d complete listings, want the 3 other groups:\n%s", n, te.out)
	}
	// Once accepted, the snapshot is no longer refused (publish goes on to
	// the next check, systems' owners, which this config lacks).
	if code := te.run(ctx, "publish", "--dry-run"); code != ExitUsage || strings.Contains(te.err.String(), "not proven complete") {
		t.Errorf("publish after the acceptance: exit %d: %s", code, te.err)
	}
	if code := te.run(ctx, "verify", "--db", "t.db", "--rederive"); code != 0 {
		t.Fatalf("verify: exit %d: %s %s", code, te.out, te.err)
	}
	// A snapshot taken once Okta's count is right again has no gap.
	fake.SetStatsSkew(users, 0)
	if code := te.run(ctx, "snapshot"); code != 0 {
		t.Fatalf("second snapshot: exit %d: %s", code, te.err)
	}
}

// An import records the file's facts; without --exported-at its
// modification time, with a warning; one exported longer ago than
// snapshot.max_import_age is refused (nothing recorded) unless accepted.
func TestImportExportTimeAndAge(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.write(t, "uar.yaml", "db: t.db\nsnapshot:\n  max_import_age: 72h\n")
	te.write(t, "gl.csv", "user_email,entitlement\nann@x.com,GL-Admin\nbob@x.com,GL-User\n")
	ctx := context.Background()
	now := te.Now()
	if err := os.Chtimes(filepath.Join(te.dir, "gl.csv"), now, now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if code := te.run(ctx, "snapshot", "--import", "gl.csv", "--system", "GL"); code != 0 {
		t.Fatalf("exit %d: %s", code, te.err)
	}
	if !strings.Contains(te.err.String(), "no --exported-at given: recording the file's modification time") {
		t.Errorf("no warning about the export time: %s", te.err)
	}
	old := now.Add(-5 * 24 * time.Hour).Format(time.RFC3339)
	if code := te.run(ctx, "snapshot", "--import", "gl.csv", "--system", "GL", "--exported-at", old); code != ExitFailure ||
		!strings.Contains(te.err.String(), "more than snapshot.max_import_age") || !strings.Contains(te.err.String(), "--accept-gap") {
		t.Fatalf("stale import: exit %d: %s", code, te.err)
	}
	if code := te.run(ctx, "snapshot", "--import", "gl.csv", "--system", "GL", "--exported-at", old, "--accept-gap", "the GL team exports weekly"); code != 0 {
		t.Fatalf("accepted stale import: exit %d: %s", code, te.err)
	}
	s := openTestStore(t, te.path("t.db"))
	res := must(s.Query(ctx, `SELECT l.snapshot_id, l.status, l.paged_count, l.file_header, l.exported_at, l.exported_at_from, length(l.file_sha256)
		FROM snapshot_listings l ORDER BY l.snapshot_id`))(t)
	want := fmt.Sprintf("[[1 complete 2 user_email,entitlement %s mtime 64] [2 stale 2 user_email,entitlement %s flag 64]]",
		now.Add(-2*time.Hour).Format(time.RFC3339), old)
	if got := fmt.Sprint(res.Rows); got != want {
		t.Errorf("listings:\n got %s\nwant %s", got, want)
	}
	res = must(s.Query(ctx, `SELECT snapshot_id, command, actor, reason FROM gap_acceptances`))(t)
	if got := fmt.Sprint(res.Rows); got != "[[2 snapshot go-test the GL team exports weekly]]" {
		t.Errorf("acceptance: %s", got)
	}
	// The refused run recorded no snapshot: 1 and 2 are the two accepted.
	res = must(s.Query(ctx, `SELECT count(*) FROM snapshots`))(t)
	if fmt.Sprint(res.Rows) != "[[2]]" {
		t.Errorf("snapshots: %v", res.Rows)
	}
	if code := te.run(ctx, "snapshot", "--exported-at", old); code != ExitUsage {
		t.Errorf("--exported-at without --import: exit %d", code)
	}
}
