package review

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/importer"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/score"
)

// BenchmarkHRImportAndChecks measures, at review scale (55,000 generated
// users, about 50,900 HR rows, 400 SOX groups, 500,000 memberships, and a
// previous review of the same size with its own listing), each iteration
// of:
//
//   - import_s: parsing the HR CSV and SnapshotHR (blob, sealed rows);
//   - hr_load_s: loading what the HR checks need from the store (both
//     listings and the previous memberships of the users who moved);
//   - hr_checks_s: score.EvaluateHR with only the HR checks on;
//   - total_s: the three together (the target: under 5 s);
//   - score_s: the whole Score step with the example policy (population
//     load, every check, findings written and sealed), for reference.
//
// Each metric is the median over the b.N iterations: run with
// -benchtime=5x. Setup (generation, both populations) is not timed.
func BenchmarkHRImportAndChecks(b *testing.B) {
	ctx := context.Background()
	org := sandbox.Generate(sandbox.GenerateOptions{Users: 55000, SOXGroups: 400, Memberships: 500000})
	files := sandbox.GenerateHR(org, 1)
	snap := orgSnapshot(org)
	cs := newClockedStore(b)
	seed := func(rev string, at time.Time) { cs.seedSnapshot(b, rev, at, snap) }
	seed(prevRev, prevNow)
	cs.importHR(b, prevRev, "hr-previous.csv", files.Previous)
	seed(rev, testNow)
	hrOnly, err := score.ParsePolicy("hr.yaml", []byte(`version: 1
checks:
  contractor: {enabled: false}
  dormant: {enabled: false}
  inactive_status: {enabled: false}
  multi_system_admin: {enabled: false}
  orphaned: {enabled: false}
`))
	if err != nil {
		b.Fatal(err)
	}
	example, err := score.ParsePolicy("policy.yaml", []byte(score.ExamplePolicy))
	if err != nil {
		b.Fatal(err)
	}
	pop, err := LoadPopulation(ctx, cs.Store, rev)
	if err != nil {
		b.Fatal(err)
	}
	var imp, load, check, total, full []float64
	var rows, findings int
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		recs, err := importer.ParseHR("hr.csv", files.Current)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := SnapshotHR(ctx, cs.step(b, "snapshot", rev), HRFile{Name: "hr.csv", Data: files.Current, Records: recs}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		hr, _, err := loadHR(ctx, cs.Store, rev, pop.Snap)
		if err != nil || hr.Previous == nil || hr.Previous.Listing == nil {
			b.Fatalf("HR evidence: %v", err)
		}
		t2 := time.Now()
		res := score.EvaluateHR(hrOnly, pop.Snap, testNow, hr)
		t3 := time.Now()
		if _, err := Score(ctx, cs.step(b, "score", rev), ScoreInput{Policy: example, PolicyFile: "policy.yaml"}); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		rows, findings = len(recs), len(res.Findings)
		imp = append(imp, t1.Sub(t0).Seconds())
		load = append(load, t2.Sub(t1).Seconds())
		check = append(check, t3.Sub(t2).Seconds())
		total = append(total, t3.Sub(t0).Seconds())
		full = append(full, t4.Sub(t3).Seconds())
	}
	b.StopTimer()
	b.ReportMetric(medianOf(imp), "import_s")
	b.ReportMetric(medianOf(load), "hr_load_s")
	b.ReportMetric(medianOf(check), "hr_checks_s")
	b.ReportMetric(medianOf(total), "total_s")
	b.ReportMetric(medianOf(full), "score_s")
	b.ReportMetric(float64(rows), "hr_rows")
	b.ReportMetric(float64(findings), "hr_findings")
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
