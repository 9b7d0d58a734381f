package okta

import (
	"context"
	"flag"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/sandbox"
)

// Scale the benchmark without the environment, e.g.
// go test -run '^$' -bench SnapshotGenerated -okta.users 50000 -okta.groups 400 -okta.memberships 500000
var (
	benchUsers       = flag.Int("okta.users", 5000, "BenchmarkSnapshotGenerated: users")
	benchGroups      = flag.Int("okta.groups", 40, "BenchmarkSnapshotGenerated: SOX groups")
	benchMemberships = flag.Int("okta.memberships", 50000, "BenchmarkSnapshotGenerated: memberships of the SOX groups")
	benchPageSize    = flag.Int("okta.page_size", 200, "BenchmarkSnapshotGenerated: okta.page_size")
	benchRounds      = flag.Int("okta.rounds", 3, "BenchmarkSnapshotStats: rounds (each reads with and without stats)")
)

// BenchmarkSnapshotGenerated snapshots a generated org through the fake
// over loopback HTTP and reports memberships/s, requests per snapshot and
// the minimum number of pages at the page size.
func BenchmarkSnapshotGenerated(b *testing.B) {
	org := sandbox.Generate(sandbox.GenerateOptions{Seed: 1, Users: *benchUsers, SOXGroups: *benchGroups,
		NonSOXGroups: max(1, *benchGroups/4), Memberships: *benchMemberships})
	srv := httptest.NewServer(sandbox.NewOkta(org, sandbox.OktaOptions{Token: testToken}))
	defer srv.Close()
	c, err := New(context.Background(), Config{OrgURL: srv.URL, Token: testToken, MaxRequestsPerMinute: -1, PageSize: *benchPageSize}, srv.Client())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var st Stats
	for b.Loop() {
		_, st, err = c.Snapshot(context.Background(), SnapshotOptions{Prefix: "SOX-"})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Memberships)*float64(b.N)/b.Elapsed().Seconds(), "memberships/s")
	b.ReportMetric(float64(st.Requests), "requests/op")
	b.ReportMetric(float64(st.MinRequests), "min-requests/op")
}

// BenchmarkSnapshotStats measures what the completeness check costs: the
// same generated org read with expand=stats on the group listing (and the
// per-group comparison) and without (as before the check), in rounds that
// alternate the two (so a shared machine's load falls on both alike). It
// reports each mode's median wall time, their ratio and the requests of
// each (equal when the counts agree: no extra call). At scale:
// go test -run '^$' -bench SnapshotStats -benchtime 1x -okta.rounds 7 -okta.users 50000 -okta.groups 400 -okta.memberships 500000 -okta.page_size 1000
func BenchmarkSnapshotStats(b *testing.B) {
	org := sandbox.Generate(sandbox.GenerateOptions{Seed: 1, Users: *benchUsers, SOXGroups: *benchGroups,
		NonSOXGroups: max(1, *benchGroups/20), Memberships: *benchMemberships})
	srv := httptest.NewServer(sandbox.NewOkta(org, sandbox.OktaOptions{Token: testToken}))
	defer srv.Close()
	c, err := New(context.Background(), Config{OrgURL: srv.URL, Token: testToken, MaxRequestsPerMinute: -1, PageSize: *benchPageSize}, srv.Client())
	if err != nil {
		b.Fatal(err)
	}
	var with, without []float64
	var reqWith, reqWithout int64
	for b.Loop() {
		for r := range *benchRounds {
			for _, noStats := range []bool{r%2 == 1, r%2 == 0} {
				start := time.Now()
				_, st, err := c.Read(context.Background(), SnapshotOptions{Prefix: "SOX-", noStats: noStats}, discardSink{})
				if err != nil {
					b.Fatal(err)
				}
				d := time.Since(start).Seconds()
				if noStats {
					without, reqWithout = append(without, d), st.Requests
				} else {
					if st.StatsCalls != 0 || st.Gaps != 0 {
						b.Fatalf("counts disagreed: %+v", st)
					}
					with, reqWith = append(with, d), st.Requests
				}
			}
		}
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	mw, mo := median(with), median(without)
	b.ReportMetric(mw, "s-stats")
	b.ReportMetric(mo, "s-nostats")
	b.ReportMetric(mw/mo, "ratio")
	b.ReportMetric(float64(reqWith), "requests-stats")
	b.ReportMetric(float64(reqWithout), "requests-nostats")
}

// discardSink keeps nothing (the population goes where a store would).
type discardSink struct{}

func (discardSink) Groups([]model.Group) error { return nil }
func (discardSink) Members(MemberPage) error   { return nil }
