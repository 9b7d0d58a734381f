package review

import (
	"context"
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
