package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

func TestHRListings(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "uar.db"), Options{Create: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CurrentHRListing(ctx, "R"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no listing: %v", err)
	}
	first := []model.HRRecord{{Line: 2, Email: "a@x.com", EmployeeID: "1", Status: model.HRActive, Department: "Finance", Title: "Accountant"}}
	second := []model.HRRecord{
		{Line: 2, Email: "a@x.com", EmployeeID: "1", Status: model.HRActive, Department: "Sales", Title: "Rep", ManagerEmail: "m@x.com"},
		{Line: 3, EmployeeID: "2", Status: model.HRTerminated, TerminationDate: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)},
	}
	var ids []int64
	for i, recs := range [][]model.HRRecord{first, second} {
		err := s.WithTx(ctx, func(tx *Tx) error {
			id, err := tx.InsertHRListing(ctx, HRListingHeader{Review: "R", RunID: "run", FileName: "hr.csv", FileEvidenceID: "E1"}, recs, "E2")
			ids = append(ids, id)
			return err
		})
		if err != nil {
			t.Fatalf("listing %d: %v", i, err)
		}
	}
	cur, err := s.CurrentHRListing(ctx, "R")
	if err != nil || cur.ID != ids[1] || cur.FileEvidenceID != "E1" || cur.EvidenceID != "E2" {
		t.Fatalf("current = %+v, %v (ids %v)", cur, err, ids)
	}
	l, err := s.LoadHRListing(ctx, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Records, second) || l.Review != "R" || l.FileName != "hr.csv" || !l.TakenAt.Equal(now()) {
		t.Errorf("loaded %+v", l)
	}
	if _, err := s.LoadHRListing(ctx, 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing listing: %v", err)
	}
	// The view shows the current listing only.
	res, err := s.Query(ctx, `SELECT email, employee_id, status, termination_date FROM v_hr WHERE review = 'R' ORDER BY line`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || res.Rows[1][3] != "2026-11-30" {
		t.Errorf("v_hr rows %v", res.Rows)
	}
	// Both listings are sealed derived rows.
	for _, table := range []string{"hr_listings", "hr_records"} {
		d, err := s.Digest(ctx, table, mustTable(t, table).Columns, ids[1])
		if err != nil || d.Rows == 0 {
			t.Errorf("digest %s: %+v %v", table, d, err)
		}
	}
	// A status outside the three is refused by the schema.
	err = s.WithTx(ctx, func(tx *Tx) error {
		_, err := tx.InsertHRListing(ctx, HRListingHeader{Review: "R"}, []model.HRRecord{{Email: "b@x.com", Status: "fired"}}, "E3")
		return err
	})
	if err == nil {
		t.Error("a bad status was stored")
	}
}

func mustTable(t *testing.T, name string) DerivedTable {
	t.Helper()
	d, ok := LookupDerivedTable(name)
	if !ok {
		t.Fatalf("%s is not a derived table", name)
	}
	return d
}

func TestReviewTimesAndAccessOutcomes(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	s, err := Open(ctx, filepath.Join(t.TempDir(), "uar.db"), Options{Create: true, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap := &model.Snapshot{
		Groups:      []model.Group{{ID: "g1", Name: "SOX-NS-Admins", System: "NS"}},
		Users:       []model.User{{ID: "u1", Login: "dave", Email: "Dave@x.com"}},
		Memberships: []model.Membership{{GroupID: "g1", UserID: "u1", Source: "direct"}},
	}
	insert := func(review string, at time.Time) {
		clock = at
		if err := s.WithTx(ctx, func(tx *Tx) error {
			_, err := tx.InsertSnapshot(ctx, SnapshotHeader{Review: review, Source: SnapshotOkta, RunID: "r"}, snap, "E1")
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	insert("2026-Q3", time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC))
	insert("2026-Q4", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	insert("2026-Q3", time.Date(2026, 9, 2, 9, 0, 0, 0, time.UTC)) // a re-snapshot: the current one counts
	got, err := s.ReviewTimes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []ReviewTime{{"2026-Q3", "2026-09-02T09:00:00Z"}, {"2026-Q4", "2026-12-01T09:00:00Z"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("review times %v", got)
	}
	out, err := s.AccessOutcomes(ctx, "2026-Q3")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0] != (AccessOutcome{System: "NS", GroupName: "SOX-NS-Admins", UserEmail: "Dave@x.com", UserLogin: "dave", Decision: model.AccessPending}) {
		t.Errorf("outcomes %+v", out)
	}
}

func TestLoadMembershipsOf(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "uar.db"), Options{Create: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap := &model.Snapshot{
		Groups: []model.Group{{ID: "g1", Name: "A", System: "S"}, {ID: "g2", Name: "B", System: "S"}},
		Users:  []model.User{{ID: "u1", Login: "a"}, {ID: "u2", Login: "b"}, {ID: "u3", Login: "c"}},
		Memberships: []model.Membership{{GroupID: "g1", UserID: "u1", Source: "direct"}, {GroupID: "g2", UserID: "u1", Source: "rule"},
			{GroupID: "g1", UserID: "u2", Source: "direct"}, {GroupID: "g2", UserID: "u3", Source: "direct"}},
	}
	var sid int64
	if err := s.WithTx(ctx, func(tx *Tx) error {
		sid, err = tx.InsertSnapshot(ctx, SnapshotHeader{Review: "R", Source: SnapshotOkta, RunID: "r"}, snap, "E1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	users := []string{"u3", "u1", "nobody"}
	for i := range 600 { // more than one chunk of bound parameters
		users = append(users, fmt.Sprintf("x%d", i))
	}
	got, err := s.LoadMembershipsOf(ctx, []int64{sid}, users)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Membership{{GroupID: "g1", UserID: "u1", Source: "direct"}, {GroupID: "g2", UserID: "u1", Source: "rule"}, {GroupID: "g2", UserID: "u3", Source: "direct"}}
	if !reflect.DeepEqual(got.Memberships, want) || len(got.Groups) != 2 || len(got.Users) != 0 {
		t.Errorf("got %+v", got)
	}
	if got, err := s.LoadMembershipsOf(ctx, nil, users); err != nil || len(got.Memberships) != 0 {
		t.Errorf("no snapshot: %+v %v", got, err)
	}
}
