package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/uar-dev/uar/internal/model"
	"path/filepath"
	"strings"
	"testing"
)

// oldStore builds a store as uar wrote it before 0005 (migrations 0001,
// 0003 and 0004 applied and recorded), with two snapshots and a scoring
// written in the old shape, and returns its path.
func oldStore(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	exec(schemaMigrationsDDL)
	for _, m := range Migrations() {
		if m.Name >= "0005" {
			continue
		}
		exec(m.SQL)
		exec(`INSERT INTO schema_migrations(name, checksum, applied_at) VALUES (?,?,?)`, m.Name, m.Checksum, "2026-11-01T00:00:00Z")
	}
	for sid := 1; sid <= 2; sid++ {
		ev := fmt.Sprintf("E%08d", 10*sid)
		exec(`INSERT INTO snapshots VALUES (?, '2026-Q4', 'okta', '', 'r1', '2026-11-01T00:00:00Z', '', ?)`, sid, ev)
		for g := 3; g >= 1; g-- { // inserted out of id order on purpose
			exec(`INSERT INTO snapshot_groups VALUES (?,?,?,?,?,?,?,?,?)`, sid, fmt.Sprintf("00g%d", g), fmt.Sprintf("SOX-S%d-Admins", g), "", "OKTA_GROUP", fmt.Sprintf("S%d", g), "Admins", g%2, ev)
		}
		for u := 5; u >= 1; u-- {
			exec(`INSERT INTO snapshot_users VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, sid, fmt.Sprintf("00u%d", u), fmt.Sprintf("u%d@x.com", u), fmt.Sprintf("u%d@x.com", u),
				"F", "L", "IT", "Admin", "Employee", "", "", "ACTIVE", "2020-01-01T00:00:00Z", "", "okta", ev)
		}
		for g := 1; g <= 3; g++ {
			for u := 1; u <= 5; u++ {
				if (g+u+sid)%3 == 0 {
					continue
				}
				src := []string{"direct", "rule", "app"}[(g+u)%3]
				mev := ev
				if sid == 2 && g == 1 && u == 1 {
					mev = "E99999999" // an old row edited before the migration: verify must still see it
				}
				exec(`INSERT INTO snapshot_memberships VALUES (?,?,?,?,?)`, sid, fmt.Sprintf("00g%d", g), fmt.Sprintf("00u%d", u), src, mev)
			}
		}
	}
	exec(`INSERT INTO scorings VALUES (1, '2026-Q4', 'r2', '[1,2]', 'ph', '2026-11-02T00:00:00Z', 0, 'E00000030')`)
	for i := 1; i <= 7; i++ {
		detail := fmt.Sprintf("user %d detail", i%3) // shared sentences
		groups := `["SOX-S1-Admins"]`
		if i%2 == 0 {
			groups = `["SOX-S2-Admins","SOX-S3-Admins"]`
		}
		rule, risk := "contractor", "HIGH"
		if i > 4 {
			rule, risk = "dormant", "MEDIUM"
		}
		sup, by := 0, ""
		if i == 3 {
			sup, by = 1, "cfo@x.com"
		}
		exec(`INSERT INTO findings VALUES (1,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, i, rule, risk, "S1", fmt.Sprintf("00u%d", i%5+1), fmt.Sprintf("u%d@x.com", i%5+1),
			groups, "Title "+rule, detail, "Recommend "+rule, "rule", sup, by, "", "", "", "E00000030")
	}
	return p
}

// Migration 0005 changes how memberships and findings are stored, not what
// they read as: every derived table's digest is the same before and after,
// including an old row whose evidence id had been edited.
func TestMigration0005KeepsDigests(t *testing.T) {
	ctx := context.Background()
	p := oldStore(t)
	type key struct {
		table string
		scope int64
	}
	before := map[key]Digest{}
	db, err := sql.Open("sqlite", "file:"+p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range DerivedTables {
		if strings.HasPrefix(tb.Name, "snapshot_listings") || tb.Name == "gap_acceptances" || strings.HasPrefix(tb.Name, "hr_") {
			continue // added by 0005 and later
		}
		tb.Fast = false // the old store has the tables the views now stand for
		for _, sc := range []int64{1, 2} {
			d, err := digest(ctx, db, tb, tb.Columns, sc)
			if err != nil {
				t.Fatal(err)
			}
			before[key{tb.Name, sc}] = d
		}
	}
	db.Close()
	if before[key{"snapshot_memberships", 2}].Rows == 0 || before[key{"findings", 1}].Rows != 7 {
		t.Fatalf("old store too small: %+v", before)
	}

	s := mustOpen(t, p, Options{})
	defer s.Close()
	for k, want := range before {
		got, err := s.Digest(ctx, k.table, want.Columns, k.scope)
		if err != nil {
			t.Fatal(err)
		}
		if got.Rows != want.Rows || got.Hash != want.Hash {
			t.Errorf("%s %d: %d rows %s after 0005, %d rows %s before", k.table, k.scope, got.Rows, got.Hash, want.Rows, want.Hash)
		}
	}
	// The edited row kept its value, so its seal still fails where it did.
	res, err := s.Query(ctx, `SELECT evidence_id FROM snapshot_memberships WHERE snapshot_id = 2 AND group_id = '00g1' AND user_id = '00u1'`)
	if err != nil || len(res.Rows) != 1 || res.Rows[0][0] != "E99999999" {
		t.Errorf("edited membership: %v %v", res, err)
	}
	// Groups are numbered in id order, users within each snapshot.
	res, err = s.Query(ctx, `SELECT group_id, no FROM snapshot_groups WHERE snapshot_id = 1 ORDER BY no`)
	if err != nil || fmt.Sprint(res.Rows) != "[[00g1 1] [00g2 2] [00g3 3]]" {
		t.Errorf("group numbers: %v %v", res, err)
	}
	// Shared texts are stored once.
	res, err = s.Query(ctx, `SELECT (SELECT count(*) FROM finding_texts), (SELECT count(*) FROM finding_kinds), (SELECT count(*) FROM scoring_findings)`)
	if err != nil || fmt.Sprint(res.Rows) != "[[5 2 7]]" {
		t.Errorf("texts, kinds, findings: %v %v", res, err)
	}
	sc, err := s.ScoringByID(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Findings) != 7 || sc.Findings[2].Suppressed == nil || sc.Findings[1].Groups[1] != "SOX-S3-Admins" || sc.Findings[4].Detail != "user 2 detail" {
		t.Errorf("findings read back: %+v", sc.Findings)
	}
	snap, err := s.LoadSnapshot(ctx, []int64{1})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Groups) != 3 || len(snap.Users) != 5 || len(snap.Memberships) != int(before[key{"snapshot_memberships", 1}].Rows) {
		t.Errorf("snapshot 1 read back: %d groups, %d users, %d memberships", len(snap.Groups), len(snap.Users), len(snap.Memberships))
	}
	if diff, err := s.SchemaDiff(ctx); err != nil || len(diff) != 0 {
		t.Errorf("schema after migrating an old store differs from a new one: %v %v", diff, err)
	}
}

// The digest line is json.Marshal's, byte for byte, for every value
// SQLite returns.
func TestDigestLineMatchesMarshal(t *testing.T) {
	vals := [][]any{
		{int64(1), "plain", nil, int64(-42), []byte("bytes")},
		{"quote\" back\\ slash", "<html> & amp", "tab\tnew\nline", "\x00\x1f\x7f", "é ü 中文", "\u2028\u2029", "\xff\xfe bad utf8", ""},
		{3.5, int64(0), "E00000001"},
	}
	for _, v := range vals {
		got, err := appendDigestLine(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		conv := make([]any, len(v))
		for i, x := range v {
			if b, ok := x.([]byte); ok {
				x = string(b)
			}
			conv[i] = x
		}
		want, _ := json.Marshal(conv)
		if string(got) != string(want)+"\n" {
			t.Errorf("line %q, json.Marshal %q", got, want)
		}
	}
}

// The memberships digest computed in Go (digestMembers) is the one the
// view gives, on a clean snapshot and on edited ones; where it cannot
// vouch for the order it declines and the view is used.
func TestMembershipDigestMatchesTheView(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, tamper string
		declines     bool
	}{
		{"clean", ``, false},
		{"edited evidence id", `UPDATE snapshot_members SET evidence_id = 'E00000999' WHERE group_no = 2`, false},
		{"list edited", `UPDATE snapshot_members SET users = '[6,1,3]' WHERE group_no = 1`, false},
		{"list of another shape", `UPDATE snapshot_members SET users = '[1, "2"]' WHERE group_no = 1`, true},
		{"user removed", `DELETE FROM snapshot_users WHERE snapshot_id = 1 AND no = 2`, false},
		{"source changed", `UPDATE snapshot_members SET source = 2 WHERE group_no = 1`, false},
		{"groups renumbered", `UPDATE snapshot_groups SET no = 10 - no WHERE snapshot_id = 1`, true},
		{"dangling group", `INSERT INTO snapshot_members VALUES (1, 77, 1, 0, '[1]', NULL)`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "uar.db")
			s := mustOpen(t, p, Options{Create: true})
			defer s.Close()
			snap := &model.Snapshot{}
			for g := 1; g <= 3; g++ {
				snap.Groups = append(snap.Groups, model.Group{ID: fmt.Sprintf("00g%d", 4-g), Name: fmt.Sprintf("G%d", g)})
			}
			for u := 1; u <= 6; u++ {
				snap.Users = append(snap.Users, model.User{ID: fmt.Sprintf("00u%d", (u*7)%10), Login: fmt.Sprint(u)})
			}
			for _, g := range snap.Groups {
				for i, u := range snap.Users {
					if i%2 == len(g.Name)%2 || g.ID == "00g2" {
						snap.Memberships = append(snap.Memberships, model.Membership{GroupID: g.ID, UserID: u.ID, Source: []string{"direct", "rule", "app"}[i%3]})
					}
				}
			}
			err := s.WithTx(ctx, func(tx *Tx) error {
				_, err := tx.InsertSnapshot(ctx, SnapshotHeader{Review: "R", Source: SnapshotOkta, RunID: "r"}, snap, "E00000001")
				if err == nil && tc.tamper != "" {
					_, err = tx.tx.ExecContext(ctx, tc.tamper)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			tb, _ := LookupDerivedTable("snapshot_memberships")
			viaView := tb
			viaView.Fast = false // the view itself
			want, err := digest(ctx, s.db, viaView, membershipColumns, int64(1))
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := digestMembers(ctx, s.db, int64(1))
			if err != nil {
				t.Fatal(err)
			}
			if ok == tc.declines {
				t.Fatalf("declined = %v, want %v", !ok, tc.declines)
			}
			if ok && (got.Hash != want.Hash || got.Rows != want.Rows) {
				t.Errorf("go %d rows %s, view %d rows %s", got.Rows, got.Hash, want.Rows, want.Hash)
			}
			// Whatever path it takes, Digest agrees with the view.
			d, err := s.Digest(ctx, "snapshot_memberships", membershipColumns, int64(1))
			if err != nil || d.Hash != want.Hash {
				t.Errorf("Digest %s (%v), view %s", d.Hash, err, want.Hash)
			}
		})
	}
}

// The views unpack a membership list before they look its users up, by
// number: left to itself SQLite's planner once looked every user up per
// list (minutes at 500,000 memberships).
func TestViewsUnpackListsBeforeUsers(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "uar.db"), Options{Create: true})
	defer s.Close()
	for _, q := range []string{
		`SELECT * FROM v_access WHERE review = 'R'`,
		`SELECT system, count(*) FROM v_access WHERE review = 'R' GROUP BY system`,
		`SELECT * FROM snapshot_memberships WHERE snapshot_id = 1`,
	} {
		res, err := s.Query(ctx, "EXPLAIN QUERY PLAN "+q)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, r := range res.Rows {
			steps = append(steps, fmt.Sprint(r[3]))
		}
		plan := strings.Join(steps, " | ")
		j := strings.Index(plan, "SCAN j VIRTUAL TABLE")
		u := strings.Index(plan, "SEARCH u USING PRIMARY KEY (snapshot_id=? AND no=?)")
		if j < 0 || u < 0 || u < j {
			t.Errorf("%s:\nplan %s", q, plan)
		}
	}
}

// Sorting snapshot_users in Go gives SQLite's ORDER BY user_id digest,
// also for ids that sort differently as text than as they were inserted.
func TestSortedDigestMatchesOrderBy(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "uar.db"), Options{Create: true})
	defer s.Close()
	snap := &model.Snapshot{}
	for _, id := range []string{"b", "a", "B", "é", "aa", "a b", "z\x00", "00u10", "00u9"} {
		snap.Users = append(snap.Users, model.User{ID: id, Login: "l" + id, Email: "<" + id + ">"})
	}
	err := s.WithTx(ctx, func(tx *Tx) error {
		_, err := tx.InsertSnapshot(ctx, SnapshotHeader{Review: "R", Source: SnapshotOkta, RunID: "r"}, snap, "E00000001")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := LookupDerivedTable("snapshot_users")
	got, err := digest(ctx, s.db, tb, tb.Columns, int64(1))
	if err != nil {
		t.Fatal(err)
	}
	tb.SortInGo = false
	want, err := digest(ctx, s.db, tb, tb.Columns, int64(1))
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != want.Hash || got.Rows != 9 {
		t.Errorf("sorted in Go %d rows %s, ORDER BY %d rows %s", got.Rows, got.Hash, want.Rows, want.Hash)
	}
}
