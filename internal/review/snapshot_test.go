package review

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/store"
)

// A member page that does not parse fails the snapshot: nothing is left
// staged, no snapshot is recorded, every page fetched is still in the
// ledger (the bad one included), and the store verifies.
func TestSnapshotFailsCleanlyOnABadPage(t *testing.T) {
	ctx := context.Background()
	org := sandbox.Generate(sandbox.GenerateOptions{Seed: 9, Users: 100, SOXGroups: 9, Memberships: 600})
	fake := sandbox.NewOkta(org, sandbox.OktaOptions{Token: sandbox.OktaToken, Clock: testClock})
	var bad string
	for _, g := range org.Groups {
		if strings.HasPrefix(g.Name, "SOX-") && len(g.Members) > 0 {
			bad = g.ID
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/groups/"+bad+"/users" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`[{"id":"00u1","status":"ACTIVE","created":"not a time"}]`))
			return
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	st := testStore(t)
	s, _ := newStep(t, st, "snapshot", "2026-Q4")
	client, err := okta.New(ctx, okta.Config{OrgURL: srv.URL, Token: sandbox.OktaToken, MaxRequestsPerMinute: -1, PageSize: 20, Concurrency: 1}, recorded(s, "okta"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = SnapshotOkta(ctx, s, client, OktaSnapshotOptions{Prefix: "SOX-", OrgURL: srv.URL})
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "created") {
		t.Fatalf("err = %v, want the page's endpoint and field", err)
	}
	for q, want := range map[string]int64{
		`SELECT count(*) FROM snapshots`:                                             0,
		`SELECT count(*) FROM snapshot_stages`:                                       0,
		`SELECT count(*) FROM snapshot_members`:                                      0,
		`SELECT count(*) FROM snapshot_users`:                                        0,
		`SELECT count(*) FROM evidence WHERE query_text LIKE '%/` + bad + `/users%'`: 1,
	} {
		res, err := st.Query(ctx, q)
		if err != nil || res.Rows[0][0].(int64) != want {
			t.Errorf("%s = %v (%v), want %d", q, res, err, want)
		}
	}
	if sum, err := verifyStore(ctx, st); err != nil {
		t.Errorf("verify: %v %v", err, sum)
	}
}

func verifyStore(ctx context.Context, st *store.Store) ([]evidence.Problem, error) {
	sum, err := evidence.Verify(ctx, st, evidence.Options{Rederivers: Rederivers()})
	if sum == nil {
		return nil, err
	}
	return sum.Problems, err
}

// A group read again whose members changed in between: the second read
// replaces the first, a user only the first read listed is dropped from
// the snapshot, the listing says complete after a re-read, and the
// re-derivation from the recorded pages agrees.
func TestSnapshotRereadReplacesTheFirstRead(t *testing.T) {
	ctx := context.Background()
	created := testNow.AddDate(-1, 0, 0)
	org := &sandbox.Org{
		Users: []sandbox.OrgUser{
			{ID: "00u00000000000000001", Status: "ACTIVE", Created: created, Login: "a@x.com", Email: "a@x.com"},
			{ID: "00u00000000000000002", Status: "ACTIVE", Created: created, Login: "b@x.com", Email: "b@x.com"},
			{ID: "00u00000000000000003", Status: "ACTIVE", Created: created, Login: "c@x.com", Email: "c@x.com"},
			{ID: "00u00000000000000004", Status: "ACTIVE", Created: created, Login: "d@x.com", Email: "d@x.com"},
		},
		Groups: []sandbox.OrgGroup{
			{ID: "00g00000000000000001", Name: "SOX-A-Users", Type: "OKTA_GROUP", Created: created, Members: []string{"00u00000000000000001", "00u00000000000000002", "00u00000000000000003"}},
			{ID: "00g00000000000000002", Name: "SOX-B-Users", Type: "OKTA_GROUP", Created: created, Members: []string{"00u00000000000000002", "00u00000000000000004"}},
		},
	}
	const g1, u3 = "00g00000000000000001", "00u00000000000000003"
	fake := sandbox.NewOkta(org, sandbox.OktaOptions{Token: sandbox.OktaToken, Clock: testClock})
	fake.SetStatsSkew(g1, -1) // Okta counts 2 while 3 are listed: read again
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" && r.URL.Path == "/api/v1/groups/"+g1 {
			// Between the two reads, u3 leaves the group (and the count is right).
			del := httptest.NewRequest("DELETE", "/api/v1/groups/"+g1+"/users/"+u3, nil)
			del.Header.Set("Authorization", "SSWS "+sandbox.OktaToken)
			fake.ServeHTTP(httptest.NewRecorder(), del)
			fake.SetStatsSkew(g1, 0)
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	st := testStore(t)
	s, _ := newStep(t, st, "snapshot", "2026-Q4")
	client, err := okta.New(ctx, okta.Config{OrgURL: srv.URL, Token: sandbox.OktaToken, MaxRequestsPerMinute: -1, PageSize: 2}, recorded(s, "okta"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := SnapshotOkta(ctx, s, client, OktaSnapshotOptions{Prefix: "SOX-", OrgURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if res.Users != 3 || res.Memberships != 4 || res.Stats.Rereads != 1 || res.Stats.StatsCalls != 1 || res.Stats.Gaps != 0 {
		t.Errorf("result %+v", res)
	}
	for q, want := range map[string]string{
		`SELECT group_name || ':' || user_login FROM v_access ORDER BY 1`: "[[SOX-A-Users:a@x.com] [SOX-A-Users:b@x.com] [SOX-B-Users:b@x.com] [SOX-B-Users:d@x.com]]",
		`SELECT count(*) FROM snapshot_users`:                             "[[3]]",
		`SELECT status, reread, paged_count, independent_count, json_array_length(page_evidence_ids) FROM snapshot_listings WHERE group_id = '` + g1 + `'`: "[[complete 1 2 2 1]]",
	} {
		r, err := st.Query(ctx, q)
		if err != nil || fmt.Sprint(r.Rows) != want {
			t.Errorf("%s = %v (%v), want %s", q, r, err, want)
		}
	}
	if problems, err := verifyStore(ctx, st); err != nil {
		t.Errorf("verify --rederive: %v %v", err, problems)
	}
}
