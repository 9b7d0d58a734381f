package review

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/importer"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/store"
)

// goldenPolicy is the example policy with two exceptions on the reference
// org: one current (suppresses a finding), one expired (its finding says so).
var goldenPolicy = strings.Replace(score.ExamplePolicy, "exceptions: []", `exceptions:
  - rule: SOD-IT-ERP-ADMIN
    user: dave.kim@company.com
    approved_by: cfo@company.com
    ticket: UAR-12
    expires: 2027-03-31
    reason: covering the ERP upgrade until Q1 close
  - rule: contractor
    user: ivan.petrov@company.com
    approved_by: cfo@company.com
    expires: 2025-01-31
    reason: expired cover`, 1)

const goldenImport = `user_email,entitlement,user_name,department,title,user_type,status,last_login
dave.kim@company.com,GL-Admin,Dave Kim,IT,IT Manager,Employee,active,2026-11-20T10:00:00Z
ghost@company.com,GL-Admin,Ghost User,Finance,Accountant,Employee,active,
ann.lee@company.com,AP-Clerk,Ann Lee,Finance,AP Specialist,Employee,active,2025-01-01T00:00:00Z
`

// TestGoldenSmallOrg pins what a snapshot and a scoring pass store for
// two small orgs (the reference org with an app import, and a generated
// one read in many small pages): every derived table's rows, the auditor
// views, the named queries and every seal's digests. A change of storage
// must leave all of it as it is; a change that alters it on purpose
// updates testdata/golden/small-org.txt (UPDATE_GOLDEN=1) and says why.
func TestGoldenSmallOrg(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	pol, err := score.ParsePolicy("policy.yaml", []byte(goldenPolicy))
	if err != nil {
		t.Fatal(err)
	}
	reviews := []struct {
		name     string
		org      *sandbox.Org
		pageSize int
		imports  bool
	}{
		{"2026-Q4", sandbox.ReferenceOrg(), 2, true},
		{"2026-Q3", sandbox.Generate(sandbox.GenerateOptions{Seed: 7, Users: 120, SOXGroups: 12, NonSOXGroups: 3, Memberships: 700}), 7, false},
	}
	for _, rv := range reviews {
		srv := httptest.NewServer(sandbox.NewOkta(rv.org, sandbox.OktaOptions{Token: sandbox.OktaToken, Clock: testClock}))
		systems := sandbox.InferSystems(rv.org)
		s, _ := newStep(t, st, "snapshot", rv.name)
		// One group at a time: pages are then recorded in the same order
		// on every run, so evidence ids are stable.
		client, err := okta.New(ctx, okta.Config{OrgURL: srv.URL, Token: sandbox.OktaToken, MaxRequestsPerMinute: -1,
			PageSize: rv.pageSize, Concurrency: 1}, recorded(s, "okta"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := SnapshotOkta(ctx, s, client, OktaSnapshotOptions{Prefix: "SOX-", Systems: systems, OrgURL: "https://golden.okta.example"}); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		if rv.imports {
			imp, err := importer.Parse("gl.csv", []byte(goldenImport), "GL")
			if err != nil {
				t.Fatal(err)
			}
			s, _ = newStep(t, st, "snapshot", rv.name)
			if _, err := SnapshotImport(ctx, s, ImportFile{Name: "gl.csv", Data: []byte(goldenImport), System: "GL", Parsed: imp}); err != nil {
				t.Fatal(err)
			}
		}
		s, _ = newStep(t, st, "score", rv.name)
		if _, err := Score(ctx, s, ScoreInput{Policy: pol, PolicyFile: "policy.yaml"}); err != nil {
			t.Fatal(err)
		}
	}
	got := goldenDump(t, st, []string{"2026-Q3", "2026-Q4"})
	compareGolden(t, "small-org.txt", got)
	if _, err := evidence.Verify(ctx, st, evidence.Options{Rederivers: Rederivers()}); err != nil {
		t.Fatalf("verify --rederive: %v", err)
	}
}

// goldenTables are the derived tables the golden file pins, with the
// order their rows are listed in.
var goldenTables = []struct{ name, order string }{
	{"snapshots", "id"},
	{"snapshot_groups", "snapshot_id, group_id"},
	{"snapshot_users", "snapshot_id, user_id"},
	{"snapshot_memberships", "snapshot_id, group_id, user_id"},
	{"snapshot_listings", "snapshot_id, no"},
	{"scorings", "id"},
	{"findings", "scoring_id, ordinal"},
	{"system_risks", "scoring_id, system"},
}

// goldenDump renders the store's derived rows, views, named queries and
// seal digests as stable text.
func goldenDump(t *testing.T, st *store.Store, reviews []string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	dump := func(title, q string, args ...any) {
		res, err := st.Query(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", title, err)
		}
		fmt.Fprintf(&b, "== %s (%d rows)\n%s\n", title, len(res.Rows), strings.Join(res.Columns, "\t"))
		for _, r := range res.Rows {
			cells := make([]string, len(r))
			for i, v := range r {
				cells[i] = fmt.Sprint(v)
			}
			b.WriteString(strings.Join(cells, "\t") + "\n")
		}
	}
	for _, tb := range goldenTables {
		cols := ""
		for _, dt := range store.DerivedTables {
			if dt.Name == tb.name {
				cols = strings.Join(dt.Columns, ", ")
			}
		}
		if cols == "" {
			t.Fatalf("%s is not a derived table", tb.name)
		}
		dump("table "+tb.name, "SELECT "+cols+" FROM "+tb.name+" ORDER BY "+tb.order)
	}
	for _, rv := range reviews {
		dump("v_access "+rv, "SELECT * FROM v_access WHERE review = ? ORDER BY system, group_name, user_login", rv)
		dump("v_findings "+rv, "SELECT * FROM v_findings WHERE review = ? ORDER BY system, user_login, rule_id, detail", rv)
		for _, q := range []string{"findings", "suppressed", "system-risk", "access"} {
			dump("query "+q+" "+rv, queryText(q), store.Named("review", rv))
		}
	}
	dump("query snapshots", queryText("snapshots"))
	// Every seal's digests (run and anchor rows seal nothing).
	res, err := st.Query(ctx, `SELECT id, query_name, query_params FROM evidence WHERE kind = 'derive' AND query_name NOT LIKE 'run.%' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("== seals\n")
	for _, r := range res.Rows {
		var p struct {
			Digests []store.Digest `json:"digests"`
		}
		if err := json.Unmarshal([]byte(r[2].(string)), &p); err != nil {
			t.Fatal(err)
		}
		for _, d := range p.Digests {
			fmt.Fprintf(&b, "%s\t%s\t%s\t%v\t%d\t%s\n", r[0], r[1], d.Table, d.Scope, d.Rows, d.Hash)
		}
	}
	return b.String()
}

// compareGolden compares got with testdata/golden/name; UPDATE_GOLDEN=1
// rewrites the file instead.
func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	if string(want) == got {
		return
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(got, "\n")
	shown := 0
	for i := 0; i < max(len(wl), len(gl)) && shown < 20; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			t.Errorf("line %d:\n want %s\n  got %s", i+1, w, g)
			shown++
		}
	}
	t.Errorf("%s differs from the golden file (UPDATE_GOLDEN=1 to accept, and say why in the commit)", path)
}
