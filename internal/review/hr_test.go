package review

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/importer"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/store"
)

// Review labels of the HR tests and when their snapshots are taken.
const prevRev = "2026-Q3"

var prevNow = time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)

// clockedStore is a store whose clock (the snapshots' taken_at) the test
// moves; steps read the same clock.
type clockedStore struct {
	*store.Store
	now time.Time
}

func newClockedStore(t testing.TB) *clockedStore {
	t.Helper()
	cs := &clockedStore{now: testNow}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "uar.db"), store.Options{Create: true, Now: func() time.Time { return cs.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs.Store = st
	return cs
}

// step records a run of command on review rev at the store's clock.
func (cs *clockedStore) step(t testing.TB, command, rev string) *Step {
	t.Helper()
	s, _ := newStep(t, cs.Store, command, rev)
	s.Now = cs.now
	return s
}

// seedSnapshot writes snap as review rev's snapshot, taken at when
// (without Okta).
func (cs *clockedStore) seedSnapshot(t testing.TB, rev string, when time.Time, snap *model.Snapshot) {
	t.Helper()
	cs.now = when
	s := cs.step(t, "snapshot", rev)
	if err := cs.WithTx(context.Background(), func(tx *store.Tx) error {
		_, err := deriveSnapshot(context.Background(), tx, s, snap)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func (cs *clockedStore) snapshot(t testing.TB, sb *sandbox.Running, rev string) {
	t.Helper()
	ctx := context.Background()
	s := cs.step(t, "snapshot", rev)
	client, err := okta.New(ctx, okta.Config{OrgURL: sb.URL(sandbox.ServiceOkta), Token: sandbox.OktaToken, MaxRequestsPerMinute: -1}, recorded(s, "okta"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SnapshotOkta(ctx, s, client, OktaSnapshotOptions{Prefix: "SOX-", Systems: sandbox.ReferenceSystems(), OrgURL: sb.URL(sandbox.ServiceOkta)}); err != nil {
		t.Fatal(err)
	}
}

func (cs *clockedStore) importHR(t testing.TB, rev, name string, data []byte) *HRResult {
	t.Helper()
	recs, err := importer.ParseHR(name, data)
	if err != nil {
		t.Fatal(err)
	}
	res, err := SnapshotHR(context.Background(), cs.step(t, "snapshot", rev), HRFile{Name: name, Data: data, Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (cs *clockedStore) score(t testing.TB, rev string) (*ScoreResult, *recorder) {
	t.Helper()
	pol, err := score.ParsePolicy("policy.yaml", []byte(score.ExamplePolicy))
	if err != nil {
		t.Fatal(err)
	}
	s := cs.step(t, "score", rev)
	res, err := Score(context.Background(), s, ScoreInput{Policy: pol, PolicyFile: "policy.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	return res, s.Out.(*recorder)
}

type hrKey struct{ rule, login, system string }

func hrFindings(res *ScoreResult) []hrKey {
	var out []hrKey
	for _, f := range res.Rules.Findings {
		if slices.Contains(score.HRCheckNames, f.RuleID) {
			out = append(out, hrKey{f.RuleID, f.UserLogin, f.System})
		}
	}
	slices.SortFunc(out, func(a, b hrKey) int { return strings.Compare(a.rule+a.login+a.system, b.rule+b.login+b.system) })
	return out
}

// twoQuarters snapshots the reference org as 2026-Q3 (with the previous
// HR listing) and as 2026-Q4 (with the current one).
func twoQuarters(t testing.TB) (*clockedStore, *sandbox.Running) {
	t.Helper()
	sb := startSandbox(t, sandbox.ReferenceOrg())
	cs := newClockedStore(t)
	cs.now = prevNow
	cs.snapshot(t, sb, prevRev)
	cs.importHR(t, prevRev, "hr-2026-09.csv", sandbox.ReferenceHRPrevious())
	cs.now = testNow
	cs.snapshot(t, sb, rev)
	cs.importHR(t, rev, "hr.csv", sandbox.ReferenceHR())
	return cs, sb
}

// The reference HR listings plant each HR check's case and near-miss
// (orgs/README.md); the findings are exactly the planted ones, and
// verify --rederive reproduces them from the recorded files.
func TestHRChecksOnReferenceOrg(t *testing.T) {
	ctx := context.Background()
	cs, _ := twoQuarters(t)
	res, out := cs.score(t, rev)
	want := []hrKey{
		{score.CheckLoginAfterTermination, "bob.smith@company.com", "NetSuite"},
		{score.CheckMoverKeptAccess, "dave.kim@company.com", "NetSuite"},
		{score.CheckNoHRRecord, "ivan.petrov@company.com", "NetSuite"},
		{score.CheckTerminatedWithAccess, "bob.smith@company.com", "NetSuite"},
		{score.CheckTerminatedWithAccess, "frank.miller@company.com", "NetSuite"},
	}
	if got := hrFindings(res); !slices.Equal(got, want) {
		t.Errorf("HR findings\n got %v\nwant %v", got, want)
	}
	if len(res.Rules.Skipped) != 0 || strings.Contains(out.String(), "skipped") {
		t.Errorf("skipped %q; output %s", res.Rules.Skipped, out)
	}
	for _, f := range res.Rules.Findings {
		if f.RuleID == score.CheckTerminatedWithAccess && f.UserLogin == "bob.smith@company.com" &&
			!strings.Contains(f.Detail, "terminated on 2026-04-30 (215 days ago)") {
			t.Errorf("bob's detail %q", f.Detail)
		}
		if f.RuleID == score.CheckMoverKeptAccess && !strings.Contains(f.Detail, "moved from Finance / Systems Accountant (review 2026-Q3) to IT / IT Manager") {
			t.Errorf("dave's detail %q", f.Detail)
		}
	}
	// The scoring records the evidence it used.
	sc, err := cs.CurrentScoring(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	p, err := scoreParamsOf(ctx, cs.Store, sc)
	if err != nil {
		t.Fatal(err)
	}
	if p.HR.ListingID != 2 || p.HR.PreviousReview != prevRev || p.HR.PreviousListingID != 1 || !slices.Equal(p.HR.PreviousSnapshotIDs, []int64{1}) {
		t.Errorf("recorded HR evidence %+v", p.HR)
	}
	sum, err := evidence.Verify(ctx, cs.Store, evidence.Options{Rederivers: Rederivers()})
	if err != nil {
		t.Fatalf("verify: %v %+v", err, sum.Problems)
	}
	if !slices.Contains(sum.Rederived, "hr listings") || !slices.Contains(sum.Rederived, "scorings") {
		t.Errorf("rederived %v", sum.Rederived)
	}
}

// Without an HR listing the HR checks are skipped with a note that is
// printed and recorded: never a no_hr_record finding per member.
func TestHRChecksSkippedWithoutListing(t *testing.T) {
	ctx := context.Background()
	sb := startSandbox(t, sandbox.ReferenceOrg())
	cs := newClockedStore(t)
	cs.snapshot(t, sb, rev)
	res, out := cs.score(t, rev)
	if got := hrFindings(res); len(got) != 0 {
		t.Errorf("HR findings without a listing: %v", got)
	}
	if !strings.Contains(out.String(), "info: note: HR checks skipped: the review has no HR listing") {
		t.Errorf("no note printed:\n%s", out)
	}
	sc, _ := cs.CurrentScoring(ctx, rev)
	p, err := scoreParamsOf(ctx, cs.Store, sc)
	if err != nil || len(p.Skipped) != 1 || p.HR.ListingID != 0 {
		t.Errorf("recorded %+v %v", p, err)
	}
}

// A listing that matches few of the users holding access (another
// company's file, other addresses) is flagged, not silently scored.
func TestHRListingThatMatchesFewIsWarned(t *testing.T) {
	sb := startSandbox(t, sandbox.ReferenceOrg())
	cs := newClockedStore(t)
	cs.snapshot(t, sb, rev)
	cs.importHR(t, rev, "other.csv", []byte("email,status\nsomeone@other.example,active\nalice.nguyen@company.com,active\n"))
	res, out := cs.score(t, rev)
	if res.Rules.HR != (score.HRMatch{Members: 8, Matched: 1}) {
		t.Errorf("match %+v", res.Rules.HR)
	}
	for _, want := range []string{"info: HR listing 1: an HR record matched 1 of the 8 users holding access", "warn: the HR listing matches fewer than half"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A new listing replaces the earlier one; findings scored against the
// earlier one are refused downstream until the review is scored again.
func TestHRListingReplacesAndStalesTheScoring(t *testing.T) {
	ctx := context.Background()
	cs, _ := twoQuarters(t)
	cs.score(t, rev)
	if _, err := LoadScored(ctx, cs.Store, rev); err != nil {
		t.Fatal(err)
	}
	// bob is active after all (HR's correction): his two findings go.
	fixed := strings.Replace(string(sandbox.ReferenceHR()), "1002,bob.smith@company.com,terminated,2026-04-30", "1002,bob.smith@company.com,active,", 1)
	r := cs.importHR(t, rev, "hr-fixed.csv", []byte(fixed))
	if r.Replaces != 2 || r.ListingID != 3 || r.Terminated != 2 {
		t.Errorf("result %+v", r)
	}
	_, err := LoadScored(ctx, cs.Store, rev)
	var pe *PrerequisiteError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "HR listing imported after its last scoring") {
		t.Fatalf("stale scoring: %v", err)
	}
	res, _ := cs.score(t, rev)
	for _, k := range hrFindings(res) {
		if k.login == "bob.smith@company.com" {
			t.Errorf("finding from the replaced listing: %v", k)
		}
	}
	if _, err := LoadScored(ctx, cs.Store, rev); err != nil {
		t.Fatal(err)
	}
}

// verify --rederive re-parses the recorded HR file: a stored row that no
// longer says what the file says is reported with its line.
func TestRederiveHRFindsEditedRows(t *testing.T) {
	ctx := context.Background()
	cs, _ := twoQuarters(t)
	if probs, err := rederiveHR(ctx, cs.Store); err != nil || len(probs) != 0 {
		t.Fatalf("clean store: %v %+v", err, probs)
	}
	if _, err := cs.Query(ctx, `UPDATE hr_records SET status = 'active', termination_date = '' WHERE listing_id = 2 AND email = 'bob.smith@company.com'`); err != nil {
		t.Fatal(err)
	}
	probs, err := rederiveHR(ctx, cs.Store)
	if err != nil || len(probs) != 1 || probs[0].Table != "hr_records" || !strings.Contains(probs[0].What, "HR listing 2: rows of file lines 3 differ from the recorded file") {
		t.Fatalf("problems %+v %v", probs, err)
	}
}

func TestPreviousReview(t *testing.T) {
	ctx := context.Background()
	cs := newClockedStore(t)
	snap := &model.Snapshot{Groups: []model.Group{{ID: "g", Name: "SOX-A-Users", System: "A"}}, Users: []model.User{{ID: "u", Login: "u"}},
		Memberships: []model.Membership{{GroupID: "g", UserID: "u", Source: model.SourceDirect}}}
	at := func(rev string, when time.Time) { cs.seedSnapshot(t, rev, when, snap) }
	d := func(m, day int) time.Time { return time.Date(2026, time.Month(m), day, 9, 0, 0, 0, time.UTC) }
	at("2026-Q2", d(6, 1))
	at("2026-Q3", d(9, 1))
	at("2026-Q4", d(12, 1))
	at("adhoc-b", d(9, 1))  // ties with 2026-Q3: the greater label wins
	at("2026-Q2", d(12, 2)) // Q2 re-snapshotted after Q4: no longer before it
	for rev, want := range map[string]string{"2026-Q4": "adhoc-b", "adhoc-b": "", "2026-Q3": "", "2026-Q2": "2026-Q4", "nope": ""} {
		got, err := PreviousReview(ctx, cs.Store, rev)
		if err != nil || got != want {
			t.Errorf("PreviousReview(%s) = %q, %v; want %q", rev, got, err, want)
		}
	}
}

// The generated HR listings parse, and plant each HR check at scale.
func TestGeneratedHR(t *testing.T) {
	org := sandbox.Generate(sandbox.GenerateOptions{Users: 2000})
	a, b := sandbox.GenerateHR(org, 7), sandbox.GenerateHR(org, 7)
	if string(a.Current) != string(b.Current) || string(a.Previous) != string(b.Previous) {
		t.Fatal("GenerateHR is not deterministic")
	}
	cur, err := importer.ParseHR("hr.csv", a.Current)
	if err != nil {
		t.Fatal(err)
	}
	prev, err := importer.ParseHR("hr-previous.csv", a.Previous)
	if err != nil {
		t.Fatal(err)
	}
	snap := orgSnapshot(org)
	pol, _ := score.ParsePolicy("p.yaml", []byte("version: 1\n"))
	res := score.EvaluateHR(pol, snap, org.Now, score.HR{Listing: &model.HRListing{Records: cur},
		Previous: &score.PreviousReview{Review: "prev", Listing: &model.HRListing{Records: prev}, Snap: snap}})
	count := map[string]int{}
	for _, f := range res.Findings {
		count[f.RuleID]++
	}
	for _, c := range score.HRCheckNames {
		if count[c] == 0 {
			t.Errorf("no %s finding in a generated org: %v", c, count)
		}
	}
}

// The reviewer context comes from the store only: the roles of the
// recorded policy (privileged first), peers in the department among the
// population, and the previous review's decisions; building the view
// again gives the same context, byte for byte.
func TestViewContextFromStore(t *testing.T) {
	ctx := context.Background()
	sb := startSandbox(t, sandbox.ReferenceOrg())
	cs := newClockedStore(t)
	cs.now = prevNow
	cs.snapshot(t, sb, prevRev)
	cs.score(t, prevRev)
	csv := []byte("system,action,target,group,decided_by_email,decided_at,justification\n" +
		"NetSuite,REVOKE,bob.smith@company.com,,nina.patel@company.com,2026-09-02T10:00:00Z,dormant\n" +
		"NetSuite,CERTIFY,alice.nguyen@company.com,,nina.patel@company.com,2026-09-02T10:00:00Z,\n")
	s := cs.step(t, "parse-decisions", prevRev)
	if _, err := ParseDecisions(ctx, s, DecisionsOptions{Systems: sandbox.ReferenceSystems(), CSV: &CSVFile{Name: "q3.csv", Data: csv}}); err != nil {
		t.Fatal(err)
	}
	cs.now = testNow
	cs.snapshot(t, sb, rev)
	cs.score(t, rev)

	load := func() *model.ReviewView {
		v, err := LoadView(ctx, cs.step(t, "publish", rev), ViewOptions{Systems: sandbox.ReferenceSystems(), WindowDays: 30})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := load()
	if v.PreviousReview != prevRev {
		t.Fatalf("previous review %q", v.PreviousReview)
	}
	ns := v.Systems[0]
	if ns.System.Name != "NetSuite" {
		t.Fatalf("systems %+v", v.Systems)
	}
	type row struct{ group, user, tier, peers, prev string }
	var got []row
	for _, a := range ns.Access {
		got = append(got, row{a.GroupName, strings.Split(a.UserLogin, "@")[0], a.Tier, fmtPeers(a), a.PrevDecision})
	}
	want := []row{
		{"SOX-NetSuite-Admins", "carol.wong", "privileged", "1 of 5 in Finance", "pending"},
		{"SOX-NetSuite-Admins", "dave.kim", "privileged", "1 of 1 in IT", "pending"},
		{"SOX-NetSuite-Users", "alice.nguyen", "standard", "4 of 5 in Finance", "certified"},
		{"SOX-NetSuite-Users", "bob.smith", "standard", "4 of 5 in Finance", "revoked"},
		{"SOX-NetSuite-Users", "frank.miller", "standard", "", "pending"},
		{"SOX-NetSuite-Users", "ivan.petrov", "standard", "4 of 5 in Finance", "pending"},
		{"SOX-NetSuite-Users", "nina.patel", "standard", "4 of 5 in Finance", "pending"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("NetSuite access\n got %v\nwant %v", got, want)
	}
	if len(ns.Roles) != 2 || ns.Roles[0] != (model.GroupRole{GroupName: "SOX-NetSuite-Admins", Tier: "privileged", Members: 2,
		Allows: "Administration of the system, including users, roles and configuration."}) || ns.Roles[1].Members != 5 {
		t.Errorf("roles %+v", ns.Roles)
	}
	// Again, from another run: the same context.
	again := load()
	if !reflect.DeepEqual(again.Systems, v.Systems) || again.PreviousReview != v.PreviousReview {
		t.Error("the context changed between two builds from the same store")
	}
}

func fmtPeers(a model.AccessRow) string {
	if a.DeptSize == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d in %s", a.DeptPeers, a.DeptSize, a.Department)
}
