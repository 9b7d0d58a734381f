package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/queries"
)

var now = func() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) }

// shipped are the checksums of released migrations. A shipped migration is
// never edited: change the schema with a new file instead.
var shipped = map[string]string{
	"0001_init.sql":      "456e35565abea646f8d0ec6ae1664f9fefdf76ae1f564d68edc89fd67e0bb185",
	"0003_reviewers.sql": "163bcea486eac9dfdfb57d471c807000acf6ac676138419877aab3599beae77f",
	"0004_decisions.sql": "113b0096ae70ad683e9e12a276778793b45877237b28fac1df2ab91ce4a0dbca",
	"0005_snapshot.sql":  "1dfe582b8d5f589f07261df0018935b56796256c0e7e0c038aeb55684f863b31",
	"0006_auditor.sql":   "ba8ef7e79260227eeb587cdcbd900a5a68fc19c9272e27b873d94b47a6ac50e9",
	"0007_hr.sql":        "4b92f36c87e8065cd2984a898b9e8b9ce122f7ed186ebb8ecea41e6281e31233",
}

func TestShippedMigrationsNeverChange(t *testing.T) {
	ms := Migrations()
	if len(ms) < len(shipped) {
		t.Fatalf("a shipped migration was removed")
	}
	for _, m := range ms {
		want, ok := shipped[m.Name]
		if !ok {
			t.Errorf("migration %s is not listed in shipped: add its checksum %s", m.Name, m.Checksum)
			continue
		}
		if want != "" && want != m.Checksum {
			t.Errorf("migration %s changed: checksum %s, shipped %s", m.Name, m.Checksum, want)
		}
	}
}

func TestOpenCreatesPrivateFileAndRefusesMissing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "uar.db")
	if _, err := Open(context.Background(), p, Options{Now: now}); !errors.Is(err, ErrNotExist) {
		t.Fatalf("open missing without Create: %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("a missing store must not be created")
	}
	s, err := Open(context.Background(), p, Options{Create: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	// Re-opening applies nothing new and keeps the recorded checksums.
	s, err = Open(context.Background(), p, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestChangedMigrationIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "uar.db")
	s, err := Open(context.Background(), p, Options{Create: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WithTx(context.Background(), func(tx *Tx) error {
		_, err := tx.tx.Exec(`UPDATE schema_migrations SET checksum = 'x' WHERE name = '0001_init.sql'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(context.Background(), p, Options{Now: now})
	if err == nil || !strings.Contains(err.Error(), "was applied with checksum x") {
		t.Fatalf("err %v", err)
	}
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	p := filepath.Join(t.TempDir(), "uar.db")
	s, err := Open(context.Background(), p, Options{Create: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ro, err := Open(context.Background(), p, Options{ReadOnly: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Query(context.Background(), `DELETE FROM runs`); err == nil {
		t.Fatal("write on a read-only store succeeded")
	}
	if err := ro.WithTx(context.Background(), func(*Tx) error { return nil }); err == nil {
		t.Fatal("WithTx on a read-only store succeeded")
	}
}

// Every embedded named query must compile against the migrated schema, so
// broken SQL fails CI rather than an auditor.
func TestEveryNamedQueryExplains(t *testing.T) {
	p := filepath.Join(t.TempDir(), "uar.db")
	s, err := Open(context.Background(), p, Options{Create: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	qs := queries.List()
	if len(qs) == 0 {
		t.Fatal("no queries embedded")
	}
	// Comparison queries read schemas a and b: the store compared with
	// itself, as uar diff does for two reviews of one store. The
	// comparison holds the store's one connection, so every query is
	// explained on it (unqualified names are the store's own).
	cmp, err := s.Compare(context.Background(), s, s)
	if err != nil {
		t.Fatal(err)
	}
	defer cmp.Close()
	for _, q := range qs {
		var args []any
		for _, prm := range q.Params {
			args = append(args, Named(prm.Name, ""))
		}
		if err := cmp.Explain(context.Background(), q.SQL, args...); err != nil {
			t.Errorf("query %s: %v", q.Name, err)
		}
	}
	for _, v := range []string{"v_access", "v_findings", "v_decisions", "v_revocations", "v_evidence"} {
		if err := cmp.Explain(context.Background(), "SELECT * FROM "+v); err != nil {
			t.Errorf("view %s: %v", v, err)
		}
	}
}

// The auditor views are a contract (DESIGN §6.4): exact columns, in order.
func TestAuditorViewColumns(t *testing.T) {
	p := filepath.Join(t.TempDir(), "uar.db")
	s, err := Open(context.Background(), p, Options{Create: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]string{
		"v_access":      "review,system,group_name,user_login,user_email,department,title,user_type,user_status,last_login,membership_source,decision,decided_by,decided_at,revocation_status,evidence_id",
		"v_findings":    "review,rule_id,risk,system,user_login,group_name,title,detail,source,evidence_id",
		"v_decisions":   "review,system,action,target,group_name,decided_by,decided_at,status,reason,jira_key,comment_id,evidence_id",
		"v_revocations": "review,system,user_login,group_name,status,requested_by,executed_at,verified_at,okta_request_id,evidence_id",
		"v_evidence":    "seq,id,run_id,source_system,query_name,query_text,executed_at,source_time,result_row_count,result_hash,entry_hash",
	}
	// Columns added after DESIGN §6.4 follow the contract's, in order; a
	// consumer reading the contract's columns by position keeps working.
	added := map[string]string{
		"v_access":      ",user_id,group_id,decision_id",
		"v_decisions":   ",decided_by_name,decided_by_email,justification,source,certify_all,reviewer_role,reviewer_admin,edited,comment_updated,line",
		"v_revocations": ",reason,decided_at,latency_seconds,jira_key,comment_id,membership_source,log_event_id,log_event_time",
	}
	for v, cols := range want {
		res, err := s.Query(context.Background(), "SELECT * FROM "+v+" LIMIT 0")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(res.Columns, ","); got != cols+added[v] {
			t.Errorf("%s columns:\n got %s\nwant %s (the contract) then %s", v, got, cols, added[v])
		}
	}
}

// v_access resolves decisions as DESIGN §8 says: only accepted decisions
// of the review's latest pass count; one naming the group beats one about
// the user's whole access in the system; otherwise the latest wins; the
// target matches the email case-insensitively.
func TestAccessViewResolvesDecisions(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "uar.db"), Options{Create: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap := &model.Snapshot{
		Groups: []model.Group{{ID: "g1", Name: "SOX-NS-Admins", System: "NS"}, {ID: "g2", Name: "SOX-NS-Users", System: "NS"}},
		Users: []model.User{{ID: "u1", Login: "dave", Email: "Dave.Kim@company.com"}, {ID: "u2", Login: "ivan", Email: "ivan@company.com"},
			{ID: "u3", Login: "carol", Email: "carol@company.com"}},
		Memberships: []model.Membership{{GroupID: "g1", UserID: "u1", Source: "direct"}, {GroupID: "g2", UserID: "u1", Source: "direct"},
			{GroupID: "g2", UserID: "u2", Source: "direct"}, {GroupID: "g2", UserID: "u3", Source: "direct"}},
	}
	err = s.WithTx(ctx, func(tx *Tx) error {
		if _, err := tx.InsertSnapshot(ctx, SnapshotHeader{Review: "R", Source: SnapshotOkta, RunID: "r"}, snap, "E1"); err != nil {
			return err
		}
		ins := func(pass, action, target, group, at, status string) {
			if err == nil {
				_, err = tx.exec(ctx, `INSERT INTO decisions (review, pass_id, system, action, target, group_name, decided_by, decided_at, status, evidence_id) VALUES ('R',?, 'NS', ?, ?, ?, 'owner', ?, ?, 'E2')`,
					pass, action, target, group, at, status)
			}
		}
		// An older pass that the latest pass replaces entirely.
		ins("p1", "REVOKE", "carol@company.com", "", "2026-12-01T00:00:00Z", "accepted")
		// dave: revoke everything, but certify Users specifically -> Users certified, Admins revoked.
		ins("p2", "REVOKE", "dave.kim@COMPANY.com", "", "2026-12-03T00:00:00Z", "accepted")
		ins("p2", "CERTIFY", "dave.kim@company.com", "SOX-NS-Users", "2026-12-02T00:00:00Z", "accepted")
		// ivan: certified, then revoked later -> revoked; a rejected line does not count.
		ins("p2", "CERTIFY", "ivan@company.com", "", "2026-12-02T00:00:00Z", "superseded")
		ins("p2", "REVOKE", "ivan@company.com", "", "2026-12-04T00:00:00Z", "accepted")
		ins("p2", "CERTIFY", "ivan@company.com", "SOX-NS-Users", "2026-12-05T00:00:00Z", "rejected")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Query(ctx, `SELECT user_login, group_name, decision, decided_at FROM v_access WHERE review = 'R' ORDER BY user_login, group_name`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Rows {
		got = append(got, fmt.Sprint(r...))
	}
	want := []string{
		"carolSOX-NS-Userspending",
		"daveSOX-NS-Adminsrevoked2026-12-03T00:00:00Z",
		"daveSOX-NS-Userscertified2026-12-02T00:00:00Z",
		"ivanSOX-NS-Usersrevoked2026-12-04T00:00:00Z",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("v_access:\n got %q\nwant %q", got, want)
	}
}
