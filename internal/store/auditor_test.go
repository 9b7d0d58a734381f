package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/uar-dev/uar/internal/model"
)

// resolution0004 is v_access's decision lookup as migration 0004 wrote it:
// 0006 rewrote it for speed, and must pick the same decision for every
// access.
const resolution0004 = `
SELECT m.group_id, m.user_id, COALESCE((
    SELECT x.id FROM decisions x
    WHERE x.review = c.review AND x.system = g.system AND lower(x.target) = lower(u.email)
      AND x.status = 'accepted' AND x.group_name IN (g.name, '')
      AND x.pass_id = COALESCE(
          (SELECT p.pass_id FROM decision_passes p WHERE p.review = c.review AND p.system = g.system ORDER BY p.id DESC LIMIT 1),
          (SELECT p.pass_id FROM decisions p WHERE p.review = c.review ORDER BY p.id DESC LIMIT 1))
    ORDER BY x.group_name = '', x.decided_at DESC, x.id DESC LIMIT 1), 0)
FROM v_current_snapshots c
JOIN snapshot_memberships m ON m.snapshot_id = c.snapshot_id
JOIN snapshot_groups g ON g.snapshot_id = m.snapshot_id AND g.group_id = m.group_id
JOIN snapshot_users u ON u.snapshot_id = m.snapshot_id AND u.user_id = m.user_id
WHERE c.review = ?
ORDER BY m.group_id, m.user_id`

// The rewritten v_access resolves exactly as 0004 did, on random decisions
// that exercise every rule: several passes (per system and legacy rows
// without one), group-specific vs all-access lines, ties on decided_at,
// rejected and superseded rows, targets in another case.
func TestAccessViewResolvesAs0004(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "uar.db"), Options{Create: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(7, 11))
	snap := &model.Snapshot{}
	systems := []string{"NS", "WD", "SF"}
	for i, sys := range systems {
		for r := range 3 {
			snap.Groups = append(snap.Groups, model.Group{ID: fmt.Sprintf("g%d%d", i, r), Name: fmt.Sprintf("SOX-%s-R%d", sys, r), System: sys})
		}
	}
	for u := range 30 {
		snap.Users = append(snap.Users, model.User{ID: fmt.Sprintf("u%02d", u), Login: fmt.Sprintf("user%02d", u), Email: fmt.Sprintf("User%02d@Example.com", u)})
		for _, g := range snap.Groups {
			if rng.IntN(3) == 0 {
				snap.Memberships = append(snap.Memberships, model.Membership{GroupID: g.ID, UserID: fmt.Sprintf("u%02d", u), Source: "direct"})
			}
		}
	}
	err = s.WithTx(ctx, func(tx *Tx) error {
		if _, err := tx.InsertSnapshot(ctx, SnapshotHeader{Review: "R", Source: SnapshotOkta, RunID: "r"}, snap, "E1"); err != nil {
			return err
		}
		statuses := []string{"accepted", "accepted", "accepted", "rejected", "superseded"}
		for pass := range 4 {
			pid := fmt.Sprintf("p%d", pass)
			for _, sys := range systems {
				// the last pass has no decision_passes row for SF: legacy rows
				if pass < 3 || sys != "SF" {
					if _, err := tx.exec(ctx, `INSERT INTO decision_passes (review, pass_id, run_id, system, source, comments, lines, evidence_id) VALUES ('R', ?, 'r', ?, 'jira', 0, 0, 'E2')`, pid, sys); err != nil {
						return err
					}
				}
				for range 60 {
					u := rng.IntN(30)
					group := ""
					if rng.IntN(2) == 0 {
						group = fmt.Sprintf("SOX-%s-R%d", sys, rng.IntN(3))
					}
					target := fmt.Sprintf("user%02d@example.com", u)
					if rng.IntN(2) == 0 {
						target = fmt.Sprintf("USER%02d@EXAMPLE.COM", u)
					}
					action := []string{"CERTIFY", "REVOKE"}[rng.IntN(2)]
					at := fmt.Sprintf("2026-12-%02dT10:00:00Z", 1+rng.IntN(4)) // many ties
					if _, err := tx.exec(ctx, `INSERT INTO decisions (review, pass_id, system, action, target, group_name, decided_by, decided_at, status, evidence_id)
						VALUES ('R', ?, ?, ?, ?, ?, 'owner', ?, ?, 'E2')`, pid, sys, action, target, group, at, statuses[rng.IntN(len(statuses))]); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Query(ctx, resolution0004, "R")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(ctx, `SELECT group_id, user_id, decision_id FROM v_access WHERE review = 'R' ORDER BY group_id, user_id`)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != len(want.Rows) || len(got.Rows) < 50 {
		t.Fatalf("%d rows, 0004 gives %d", len(got.Rows), len(want.Rows))
	}
	decided := 0
	for i := range want.Rows {
		if fmt.Sprint(got.Rows[i]) != fmt.Sprint(want.Rows[i]) {
			t.Errorf("access %v: v_access picks decision %v, 0004 picked %v", want.Rows[i][:2], got.Rows[i][2], want.Rows[i][2])
		}
		if want.Rows[i][2] != int64(0) {
			decided++
		}
	}
	if decided == 0 || decided == len(want.Rows) {
		t.Fatalf("%d of %d accesses decided: the data does not exercise both cases", decided, len(want.Rows))
	}
}

// A comparison attaches two stores read-only as schemas a and b; views of
// each read their own tables; nothing can be written through it; closing
// it leaves the store as it was.
func TestCompareAttachesTwoStoresReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(name, review string, users int) *Store {
		s, err := Open(ctx, filepath.Join(dir, name), Options{Create: true, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		snap := &model.Snapshot{Groups: []model.Group{{ID: "g1", Name: "SOX-NS-Admins", System: "NS"}}}
		for i := range users {
			id := fmt.Sprintf("u%d", i)
			snap.Users = append(snap.Users, model.User{ID: id, Login: id, Email: id + "@x.com"})
			snap.Memberships = append(snap.Memberships, model.Membership{GroupID: "g1", UserID: id, Source: "direct"})
		}
		if err := s.WithTx(ctx, func(tx *Tx) error {
			_, err := tx.InsertSnapshot(ctx, SnapshotHeader{Review: review, Source: SnapshotOkta, RunID: "r"}, snap, "E1")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		ro, err := Open(ctx, filepath.Join(dir, name), Options{ReadOnly: true, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ro.Close() })
		return ro
	}
	a, b := open("a.db", "Q3", 2), open("b.db", "Q4", 5)
	cmp, err := a.Compare(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	count := func(c *Comparison, q string) string {
		var got string
		err := c.QueryEach(ctx, q, nil, func([]string) error { return nil }, func(r []any) error { got = fmt.Sprint(r...); return nil })
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return got
	}
	if got := count(cmp, `SELECT (SELECT count(*) FROM a.v_access WHERE review = 'Q3'), (SELECT count(*) FROM b.v_access WHERE review = 'Q4'), (SELECT count(*) FROM b.v_access WHERE review = 'Q3')`); got != "2 5 0" {
		t.Fatalf("counts through the attachments: %s, want 2 5 0", got)
	}
	for _, w := range []string{`DELETE FROM b.snapshot_users`, `CREATE TABLE a.x (y)`, `INSERT INTO main.runs (id) VALUES ('x')`} {
		if err := cmp.QueryEach(ctx, w, nil, func([]string) error { return nil }, func([]any) error { return nil }); err == nil {
			t.Errorf("%s: succeeded on a comparison", w)
		}
	}
	if err := cmp.Close(); err != nil {
		t.Fatal(err)
	}
	// The store's next connection sees only its own file.
	if _, err := a.Query(ctx, `SELECT count(*) FROM b.snapshots`); err == nil {
		t.Error("b is still attached after Close")
	}
	if res, err := a.Query(ctx, `SELECT count(*) FROM v_access`); err != nil || fmt.Sprint(res.Rows[0]...) != "2" {
		t.Fatalf("store after the comparison: %v %v", res, err)
	}
	// One store compared with itself (two reviews of one file).
	self, err := b.Compare(ctx, b, b)
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	if got := count(self, `SELECT (SELECT count(*) FROM a.v_access), (SELECT count(*) FROM b.v_access)`); got != "5 5" {
		t.Fatalf("self comparison: %s", got)
	}
}

func TestEvidenceAt(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "uar.db"), Options{Create: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.EvidenceAt(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty ledger: %v", err)
	}
	row := EvidenceRow{Seq: 1, ID: "E00000001", RunID: "r", Kind: "call", SourceSystem: "okta", QueryName: "q", QueryText: "GET /",
		QueryParams: "{}", ExecutedAt: "2026-12-01T09:00:00Z", ExecutedBy: "t", ResultHash: "h", PrevHash: "p", EntryHash: "e"}
	if err := s.WithTx(ctx, func(tx *Tx) error { return tx.InsertEvidence(ctx, row) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.EvidenceAt(ctx, 1)
	if err != nil || got != row {
		t.Fatalf("got %+v, %v", got, err)
	}
}
