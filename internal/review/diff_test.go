package review

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/report"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/store"
)

const (
	q3 = "2026-Q3"
	q4 = "2026-Q4"
)

const diffPolicy = `version: 1
checks:
  contractor:         {enabled: true, risk: MEDIUM, user_types: [Contractor]}
  dormant:            {enabled: false}
  inactive_status:    {enabled: true, risk: MEDIUM, statuses: [SUSPENDED, DEPROVISIONED]}
  multi_system_admin: {enabled: false}
sod_rules:
  - id: SOD-IT-NS-ADMIN
    title: IT staff administering NS
    risk: HIGH
    when: {department: [IT]}
    groups: {any: ["SOX-NS-Admins"]}
    recommendation: Recommend revoking SOX-NS-Admins.
exceptions: []
`

// diffUser is one user of the planted populations.
func diffUser(id, name, dept, typ, status string) model.User {
	return model.User{ID: id, Login: name + "@x.com", Email: name + "@x.com", Department: dept, UserType: typ, Status: status,
		Created: testNow.AddDate(-1, 0, 0), LastLogin: testNow.Add(-time.Hour), Origin: model.OriginOkta}
}

var diffGroups = []model.Group{
	{ID: "g-ns-adm", Name: "SOX-NS-Admins", System: "NS", Type: model.GroupTypeOkta},
	{ID: "g-ns-usr", Name: "SOX-NS-Users", System: "NS", Type: model.GroupTypeOkta},
	{ID: "g-wd-usr", Name: "SOX-WD-Users", System: "WD", Type: model.GroupTypeOkta},
}

// q3Population: carol (IT) administers NS (a HIGH finding), dave too;
// erin is a contractor.
func q3Population() *model.Snapshot {
	return &model.Snapshot{Groups: diffGroups,
		Users: []model.User{diffUser("u1", "alice", "Finance", "Employee", "ACTIVE"), diffUser("u2", "bob", "Finance", "Employee", "ACTIVE"),
			diffUser("u3", "carol", "IT", "Employee", "ACTIVE"), diffUser("u4", "dave", "Finance", "Employee", "ACTIVE"),
			diffUser("u5", "erin", "Finance", "Contractor", "ACTIVE"), diffUser("u6", "frank", "HR", "Employee", "ACTIVE")},
		Memberships: []model.Membership{{GroupID: "g-ns-adm", UserID: "u3", Source: "direct"}, {GroupID: "g-ns-adm", UserID: "u4", Source: "direct"},
			{GroupID: "g-ns-usr", UserID: "u1", Source: "direct"}, {GroupID: "g-ns-usr", UserID: "u2", Source: "direct"},
			{GroupID: "g-ns-usr", UserID: "u5", Source: "direct"}, {GroupID: "g-ns-usr", UserID: "u6", Source: "direct"},
			{GroupID: "g-wd-usr", UserID: "u1", Source: "direct"}, {GroupID: "g-wd-usr", UserID: "u6", Source: "direct"}}}
}

// q4Population plants the changes the diff must find, and nothing else:
// dave (revoked in Q3, proven removed) is back in NS-Admins; carol left
// NS-Admins; gina (IT) joined it; bob joined WD-Users; frank moved from HR
// to Finance; alice is suspended.
func q4Population() *model.Snapshot {
	s := q3Population()
	s.Users[0].Status = "SUSPENDED"   // alice
	s.Users[5].Department = "Finance" // frank
	s.Users = append(s.Users, diffUser("u7", "gina", "IT", "Employee", "ACTIVE"))
	s.Memberships = slices.DeleteFunc(s.Memberships, func(m model.Membership) bool { return m.GroupID == "g-ns-adm" && m.UserID == "u3" })
	s.Memberships = append(s.Memberships, model.Membership{GroupID: "g-ns-adm", UserID: "u7", Source: "direct"},
		model.Membership{GroupID: "g-wd-usr", UserID: "u2", Source: "rule"})
	// carol keeps no access: she is not in the Q4 snapshot at all.
	s.Users = slices.DeleteFunc(s.Users, func(u model.User) bool { return u.ID == "u3" })
	return s
}

// populate writes snap as review's snapshot and scores it with diffPolicy.
func populate(t *testing.T, st *store.Store, review string, snap *model.Snapshot) {
	t.Helper()
	s, _ := newStep(t, st, "snapshot", review)
	seedPopulation(t, s, snap)
	pol, err := score.ParsePolicy("policy.yaml", []byte(diffPolicy))
	if err != nil {
		t.Fatal(err)
	}
	s, _ = newStep(t, st, "score", review)
	if _, err := Score(context.Background(), s, ScoreInput{Policy: pol, PolicyFile: "policy.yaml"}); err != nil {
		t.Fatal(err)
	}
}

func accept(action, user, group string, id string) store.Decision {
	return store.Decision{Action: action, Target: user + "@x.com", GroupName: group, UserID: id, DecidedBy: "owner-ns",
		DecidedAt: "2026-09-10T10:00:00Z", Status: model.DecisionAccepted}
}

// writeQ3 is the earlier review: decided (dave revoked and proven gone;
// alice and bob certified).
func writeQ3(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	populate(t, st, q3, q3Population())
	decideIn(t, st, q3, "NS", accept("REVOKE", "dave", "SOX-NS-Admins", "u4"), accept("CERTIFY", "bob", "SOX-NS-Users", "u2"),
		accept("CERTIFY", "alice", "SOX-NS-Users", "u1"))
	s, _ := newStep(t, st, "revoke", q3)
	err := st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := s.Ledger.Derive(ctx, tx, "revoke", func(evID string) (evidence.Derived, error) {
			id, err := tx.InsertRevocation(ctx, store.Revocation{Review: q3, RunID: s.Run.ID, System: "NS", UserID: "u4", UserLogin: "dave@x.com",
				GroupID: "g-ns-adm", GroupName: "SOX-NS-Admins", Status: "done", DecidedAt: "2026-09-10T10:00:00Z",
				VerifiedAt: "2026-09-10T11:00:00Z"}, evID)
			return evidence.Derived{Scopes: []evidence.Scope{{Table: "revocations", Scope: id}}}, err
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeQ4 is the later review: bob's access now revoked (a flip), alice
// certified again (no flip).
func writeQ4(t *testing.T, st *store.Store) {
	t.Helper()
	populate(t, st, q4, q4Population())
	decideIn(t, st, q4, "NS", accept("REVOKE", "bob", "SOX-NS-Users", "u2"), accept("CERTIFY", "alice", "SOX-NS-Users", "u1"))
}

// plantedChanges is exactly what the diff must find: change, user, group
// (or attribute / rule), from, to.
var plantedChanges = []string{
	"regranted dave@x.com SOX-NS-Admins access revoked (done) -> present (pending)",
	"granted gina@x.com SOX-NS-Admins direct  -> pending",
	"granted bob@x.com SOX-WD-Users rule  -> pending",
	"removed carol@x.com SOX-NS-Admins direct pending -> ",
	"flipped bob@x.com SOX-NS-Users decision certified -> revoked",
	"attribute alice@x.com  status ACTIVE -> SUSPENDED",
	"attribute frank@x.com  department HR -> Finance",
	"finding_new alice@x.com SOX-NS-Users inactive_status  -> MEDIUM",
	"finding_new gina@x.com SOX-NS-Admins SOD-IT-NS-ADMIN  -> HIGH",
	"finding_new alice@x.com SOX-WD-Users inactive_status  -> MEDIUM",
	"finding_resolved carol@x.com SOX-NS-Admins SOD-IT-NS-ADMIN HIGH -> ",
	"finding_persisting erin@x.com SOX-NS-Users contractor MEDIUM -> MEDIUM",
}

// runDiff compares from (review q3) with to (review q4) and returns the
// changes as plantedChanges writes them, and the evidence ids seen.
func runDiff(t *testing.T, from, to *store.Store) ([]string, DiffCounts, []string) {
	t.Helper()
	ctx := context.Background()
	// Two stores give two connections: the queries run two at a time,
	// as in uar diff, and the rows must still come in category order.
	var cmps []*store.Comparison
	for _, on := range slices.Compact([]*store.Store{from, to}) {
		cmp, err := on.Compare(ctx, from, to)
		if err != nil {
			t.Fatal(err)
		}
		defer cmp.Close()
		cmps = append(cmps, cmp)
	}
	var got, ids []string
	counts, err := Diff(ctx, cmps, q3, q4, nil, func(c DiffCategory, r []any) error {
		if str(r[0]) != c.Name {
			t.Errorf("query %s returned change %q", c.Query, r[0])
		}
		got = append(got, fmt.Sprintf("%s %s %s %s %s -> %s", r[0], r[3], r[2], r[4], r[5], r[6]))
		ids = append(ids, str(r[8])+"|"+str(r[9]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, counts, ids
}

// Two generated reviews in one store with known planted changes: the
// diff finds exactly them, the regrant first.
func TestDiffFindsExactlyThePlantedChanges(t *testing.T) {
	st := testStore(t)
	writeQ3(t, st)
	writeQ4(t, st)
	got, counts, ids := runDiff(t, st, st)
	if !slices.Equal(got, plantedChanges) {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(plantedChanges, "\n"))
	}
	for i, id := range ids {
		from, to, _ := strings.Cut(id, "|")
		if from == "" && to == "" {
			t.Errorf("%s: no evidence id", got[i])
		}
	}
	want := DiffCounts{"regranted": 1, "granted": 2, "removed": 1, "flipped": 1, "attribute": 2, "finding_new": 3,
		"finding_resolved": 1, "finding_persisting": 1, NewHigh: 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("count %s = %d, want %d", k, counts[k], n)
		}
	}
	hit, err := counts.Gate([]string{"regrant", "new-high", "flipped"})
	if err != nil || strings.Join(hit, ",") != "regrant,new-high,flipped" {
		t.Errorf("gate: %v %v", hit, err)
	}
	if hit, _ := (DiffCounts{"granted": 3}).Gate([]string{"regrant", "new-high"}); len(hit) != 0 {
		t.Errorf("gate on no regrant: %v", hit)
	}
	if _, err := counts.Gate([]string{"everything"}); err == nil {
		t.Error("an unknown --fail-on was accepted")
	}
	// The same review compared with itself: no access, attribute, decision
	// or finding change (a revoke not yet executed still shows as present
	// again: "revoked (not executed)").
	cmp, err := st.Compare(context.Background(), st, st)
	if err != nil {
		t.Fatal(err)
	}
	defer cmp.Close()
	same, err := Diff(context.Background(), []*store.Comparison{cmp}, q4, q4, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range DiffCategories {
		if c.Name != "finding_persisting" && c.Name != "regranted" && same[c.Name] != 0 {
			t.Errorf("Q4 vs Q4: %d %s", same[c.Name], c.Name)
		}
	}
}

// twoStores opens two fresh stores, as two machines would have them.
func twoStores(t *testing.T) (*store.Store, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	open := func(name string) *store.Store {
		st, err := store.Open(context.Background(), filepath.Join(dir, name), store.Options{Create: true, Now: testClock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return open("q3.db"), open("q4.db")
}

// Two stores from two machines (different run ids, ledger positions,
// snapshot ids): the diff finds the same changes through ATTACH.
func TestDiffAcrossTwoStores(t *testing.T) {
	a, b := twoStores(t)
	writeQ3(t, a)
	// The other machine's store has a history of its own first.
	s, _ := newStep(t, b, "snapshot", "2026-Q2")
	seedPopulation(t, s, q3Population())
	writeQ4(t, b)
	got, counts, ids := runDiff(t, a, b)
	if !slices.Equal(got, plantedChanges) {
		t.Fatalf("changes across stores:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(plantedChanges, "\n"))
	}
	if counts["regranted"] != 1 || counts[NewHigh] != 1 {
		t.Errorf("counts %v", counts)
	}
	// Each side's evidence ids are its own store's.
	for i, id := range ids {
		from, to, _ := strings.Cut(id, "|")
		if from != "" {
			if _, err := a.EvidenceByID(context.Background(), from); err != nil {
				t.Errorf("%s: from evidence %s not in the earlier store", got[i], from)
			}
		}
		if to != "" {
			if _, err := b.EvidenceByID(context.Background(), to); err != nil {
				t.Errorf("%s: to evidence %s not in the later store", got[i], to)
			}
		}
	}
}

// A reader that stops (a closed pipe, a full disk) ends Diff with its
// error while the other connection's query is still running ahead; both
// connections are free again afterwards, and a cancelled context ends
// it the same way.
func TestDiffStopsBothConnectionsOnError(t *testing.T) {
	ctx := context.Background()
	a, b := twoStores(t)
	writeQ3(t, a)
	writeQ4(t, b)
	compare := func() []*store.Comparison {
		var cmps []*store.Comparison
		for _, on := range []*store.Store{a, b} {
			cmp, err := on.Compare(ctx, a, b)
			if err != nil {
				t.Fatal(err)
			}
			cmps = append(cmps, cmp)
		}
		return cmps
	}
	closeAll := func(cmps []*store.Comparison) {
		for _, c := range cmps {
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		}
	}
	full := errors.New("disk full")
	cmps := compare()
	seen := 0
	_, err := Diff(ctx, cmps, q3, q4, nil, func(c DiffCategory, r []any) error {
		seen++
		if c.Name == "granted" {
			return full
		}
		return nil
	})
	if !errors.Is(err, full) {
		t.Fatalf("Diff = %v, want the reader's error", err)
	}
	if seen != 2 { // the regrant, then the first grant
		t.Errorf("rows delivered before the stop: %d, want 2", seen)
	}
	closeAll(cmps)

	cctx, cancel := context.WithCancel(ctx)
	cmps = compare()
	_, err = Diff(cctx, cmps, q3, q4, func(c DiffCategory) error {
		if c.Name == "removed" {
			cancel()
		}
		return nil
	}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Diff after cancel = %v, want context.Canceled", err)
	}
	closeAll(cmps)
	// The stores still answer: nothing was left holding a connection.
	if _, counts, _ := runDiff(t, a, b); counts["regranted"] != 1 {
		t.Errorf("diff after the stops: %v", counts)
	}
	if _, err := Diff(ctx, nil, q3, q4, nil, nil); err == nil {
		t.Error("Diff with no comparison succeeded")
	}
}

// The comparison as a workbook: a Summary with the counts, a sheet per
// kind of change, rebuilt byte for byte.
func TestDiffWorkbook(t *testing.T) {
	st := testStore(t)
	writeQ3(t, st)
	writeQ4(t, st)
	ctx := context.Background()
	from, err := ReadDiffSide(ctx, st, q3)
	if err != nil {
		t.Fatal(err)
	}
	to, err := ReadDiffSide(ctx, st, q4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDiffSide(ctx, st, "2025-Q1"); err == nil {
		t.Error("a review without a snapshot was accepted")
	}
	cmp, err := st.Compare(ctx, st, st)
	if err != nil {
		t.Fatal(err)
	}
	defer cmp.Close()
	counts, err := Diff(ctx, []*store.Comparison{cmp}, q3, q4, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var first []byte
	for i := range 2 {
		p := filepath.Join(dir, fmt.Sprintf("d%d.json", i))
		res, err := report.WriteFile(ctx, p, report.JSON, DiffWorkbook(ctx, cmp, from, to, counts), report.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string]int64{}
		for _, s := range res.Sheets {
			rows[s.Name] = s.Rows
		}
		for _, c := range DiffCategories {
			if rows[c.Sheet] != counts[c.Name] {
				t.Errorf("sheet %s: %d rows, counted %d", c.Sheet, rows[c.Sheet], counts[c.Name])
			}
		}
		sheets := jsonSheets(t, p)
		if v := summaryValue(t, sheets, "revoked in the earlier review, present again (sheet Regranted)"); v != "1" {
			t.Errorf("summary regrants %q", v)
		}
		b := mustRead(t, p)
		if i == 0 {
			first = b
		} else if string(first) != string(b) {
			t.Error("the diff workbook is not byte-identical on a rebuild")
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runQuery runs a named query with params (name, value pairs) and returns
// its rows as text.
func runQuery(t *testing.T, st *store.Store, name string, kv ...string) [][]string {
	t.Helper()
	var args []any
	for i := 0; i < len(kv); i += 2 {
		args = append(args, store.Named(kv[i], kv[i+1]))
	}
	var out [][]string
	err := st.QueryEach(context.Background(), queryText(name), args, ignoreColumns, func(r []any) error {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = str(v)
		}
		out = append(out, cells)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// The follow-up questions auditors ask, as named queries, on the planted
// reviews.
func TestFollowUpQueries(t *testing.T) {
	st := testStore(t)
	writeQ3(t, st)
	writeQ4(t, st)
	var got []string
	for _, r := range runQuery(t, st, "privileged-changes", "since", "", "until", "") {
		got = append(got, r[1]+" "+r[2]+" "+r[4]+" "+r[5]) // review change group user
	}
	if want := []string{"2026-Q4 removed SOX-NS-Admins carol@x.com", "2026-Q4 granted SOX-NS-Admins gina@x.com"}; !slices.Equal(got, want) {
		t.Errorf("privileged-changes: %v, want %v", got, want)
	}
	if rows := runQuery(t, st, "privileged-changes", "since", "2027-01-01", "until", ""); len(rows) != 0 {
		t.Errorf("privileged-changes after the snapshots: %v", rows)
	}
	if rows := runQuery(t, st, "reviewer-decisions", "reviewer", "OWNER-NS"); len(rows) != 5 {
		t.Errorf("reviewer-decisions: %d rows, want the 5 lines of owner-ns", len(rows))
	}
	got = nil
	for _, r := range runQuery(t, st, "inactive-access", "review", q4) {
		got = append(got, r[2]+" "+r[3]+" "+r[6])
	}
	if want := []string{"SOX-NS-Users alice@x.com okta status SUSPENDED", "SOX-WD-Users alice@x.com okta status SUSPENDED"}; !slices.Equal(got, want) {
		t.Errorf("inactive-access: %v", got)
	}
	if rows := runQuery(t, st, "contractor-admins", "review", q4); len(rows) != 0 {
		t.Errorf("contractor-admins: %v (erin is not an admin)", rows)
	}
	cov := runQuery(t, st, "certify-all-coverage", "review", q3)
	if len(cov) != 2 || strings.Join(cov[0][1:6], " ") != "NS 6 0 3 3" {
		t.Errorf("certify-all-coverage: %v", cov)
	}
	lat := runQuery(t, st, "revocation-latency", "review", q3)
	if len(lat) != 1 || lat[0][3] != "dave@x.com" || lat[0][8] != "3600" {
		t.Errorf("revocation-latency: %v", lat)
	}
}
