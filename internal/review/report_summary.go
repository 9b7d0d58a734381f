package review

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/report"
	"github.com/uar-dev/uar/internal/store"
)

// The Summary sheet: every figure comes from a named query (its section
// names it) over first-hand data, never from the wall clock, so the same
// store gives the same Summary.

// quality columns the summary reads (review-quality.sql).
const (
	qSystem       = 1
	qPublishedAt  = 6
	qDeadline     = 7
	qLastDecision = 10
	qCompletedAt  = 12
	qAccesses     = 14
	qPending      = 15
)

// maxSummaryLines caps per-item lists (problems, exceptions, runs) in the
// Summary; the full lists are in the sheets and queries named beside them.
const maxSummaryLines = 50

func buildSummary(ctx context.Context, st *store.Store, o ReportOptions, res *ReportResult, quality [][]any, anchors [][]any) ([]report.Entry, []usedQuery, error) {
	args := []any{store.Named("review", o.Review)}
	var e []report.Entry
	add := func(section, key string, v any) { e = append(e, report.Entry{Section: section, Key: key, Value: v}) }
	used := []usedQuery{{"report-head", "Summary: ledger head"}, {"anchors", "Summary: external anchor"},
		{"review-quality", "Summary: coverage"}}

	// Integrity first: a forced workbook must say so before anything else.
	const integ = "Integrity"
	if res.Verified {
		add(integ, "verify at build time", "ok: hash chain, every blob and every derived table verified")
	} else {
		add(integ, "verify at build time", fmt.Sprintf("FAILED: %d problems. Built with --force: do not rely on this workbook until they are explained", len(res.Problems)))
		for i, p := range res.Problems {
			if i == maxSummaryLines {
				add(integ, "more problems", fmt.Sprintf("%d more: run uar verify", len(res.Problems)-i))
				break
			}
			add(integ, fmt.Sprintf("problem %d", i+1), p.String())
		}
	}
	add(integ, "built from ledger head", res.Head.String())
	add(integ, "ledger head recorded at", res.HeadTime)
	if len(anchors) == 0 {
		add(integ, "newest external anchor", "none: the review was never published with a ledger head")
	} else {
		a := anchors[0] // review, ledger_head, service, kind, external_key, url, version, service_time, run_id, seq, evidence_id
		where := fmt.Sprintf("%s %s %q", a[2], a[3], str(a[4]))
		if v := num(a[6]); v > 0 {
			where += fmt.Sprintf(" version %d", v)
		}
		add(integ, "newest external anchor", fmt.Sprintf("%s, written on %s by run %s", a[1], where, a[8]))
		if t, err := store.ParseTime(str(a[7])); err == nil && !t.IsZero() {
			add(integ, "anchor written at (service time)", t)
		}
		if res.AnchorOK {
			add(integ, "anchor in this ledger", "yes: the row and its hash are present")
		} else {
			add(integ, "anchor in this ledger", "NO: see the verify problems")
		}
		add(integ, "anchors written", len(anchors))
	}
	add(integ, "tool version", o.ToolVersion)

	// The review and its period.
	const rv = "Review"
	add(rv, "review", o.Review)
	pop, err := readAll(ctx, st, "population", args, nil)
	if err != nil {
		return nil, nil, err
	}
	used = append(used, usedQuery{"population", "Summary: population"})
	var taken []string
	for _, r := range pop {
		taken = append(taken, str(r[5]))
	}
	slices.Sort(taken)
	if len(taken) > 0 {
		add(rv, "snapshot taken at", timeOr(taken[0]))
		if taken[len(taken)-1] != taken[0] {
			add(rv, "latest snapshot taken at", timeOr(taken[len(taken)-1]))
		}
	}
	var published, deadline, lastDecision string
	for _, q := range quality {
		if p := str(q[qPublishedAt]); p != "" && (published == "" || p < published) {
			published = p
		}
		if d := str(q[qDeadline]); d != "" {
			deadline = d
		}
		if l := str(q[qLastDecision]); l > lastDecision {
			lastDecision = l
		}
	}
	if published == "" {
		add(rv, "published", "not published: no Jira ticket was recorded")
	} else {
		add(rv, "first ticket published at", timeOr(published))
		add(rv, "decision deadline", timeOr(deadline))
		add(rv, "deadline rule", fmt.Sprintf("first ticket + %d days (%s)", o.WindowDays, o.WindowSource))
	}
	if lastDecision != "" {
		add(rv, "last decision at", timeOr(lastDecision))
	} else {
		add(rv, "last decision at", "no decision recorded")
	}

	// Population per system.
	const ps = "Population (query population)"
	var accesses, groups int64
	for _, r := range pop {
		accesses += num(r[4])
		groups += num(r[2])
	}
	add(ps, "systems", len(pop))
	add(ps, "accesses", accesses)
	add(ps, "groups with members", groups)
	for _, r := range pop {
		add(ps, str(r[1]), fmt.Sprintf("%s accesses, %s users, %s groups", groupDigits(num(r[4])), groupDigits(num(r[3])), groupDigits(num(r[2]))))
	}

	// Completeness of every listing the population was built from.
	const cp = "Completeness (query completeness)"
	listed := map[string]int{}
	var open []string
	err = st.QueryEach(ctx, queryText("completeness"), args, ignoreColumns, func(r []any) error {
		// review, snapshot_id, source, system, no, kind, group_name, ..., status (13), ..., accepted_reason (23), accepted_by (24)
		state := str(r[13])
		listed[state]++
		if state == "gap" || state == "stale" {
			what := str(r[6])
			if what == "" {
				what = str(r[8]) // an import: its "read <file>"
			}
			count := "none"
			if r[12] != nil {
				count = fmt.Sprint(num(r[12]))
			}
			line := fmt.Sprintf("%s: %s, paged %d, independent count %s", state, what, num(r[11]), count)
			if reason := str(r[23]); reason != "" {
				line += fmt.Sprintf("; accepted by %s: %s", str(r[24]), reason)
			} else {
				line += "; NOT accepted"
			}
			open = append(open, line)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	listings := 0
	for _, n := range listed {
		listings += n
	}
	add(cp, "listings", listings)
	for _, k := range []string{"complete", "unchecked", "gap", "stale"} {
		if listed[k] > 0 {
			add(cp, k, listed[k])
		}
	}
	for i, l := range open {
		if i == maxSummaryLines {
			add(cp, "more", fmt.Sprintf("%d more: uar query completeness", len(open)-i))
			break
		}
		add(cp, fmt.Sprintf("exception %d", i+1), l)
	}

	// Coverage per system, from the review-quality rows (one pass).
	const cv = "Coverage (query review-quality)"
	type cover struct {
		accesses, pending int64
		completed         string
	}
	bySystem := map[string]*cover{}
	var systems []string
	for _, q := range quality {
		s := str(q[qSystem])
		if bySystem[s] == nil {
			bySystem[s] = &cover{accesses: num(q[qAccesses]), pending: num(q[qPending]), completed: str(q[qCompletedAt])}
			systems = append(systems, s)
		}
	}
	var tot, pend int64
	for _, s := range systems {
		tot += bySystem[s].accesses
		pend += bySystem[s].pending
	}
	add(cv, "decided", fmt.Sprintf("%s of %s accesses (%s)", groupDigits(tot-pend), groupDigits(tot), percent(tot-pend, tot)))
	add(cv, "pending", pend)
	for _, s := range systems {
		c := bySystem[s]
		line := fmt.Sprintf("decided %s of %s (%s), pending %s", groupDigits(c.accesses-c.pending), groupDigits(c.accesses), percent(c.accesses-c.pending, c.accesses), groupDigits(c.pending))
		if c.completed != "" {
			line += ", complete at " + c.completed
		}
		add(cv, s, line)
	}

	// HIGH findings: open vs addressed.
	const hf = "HIGH findings (query high-findings)"
	used = append(used, usedQuery{"high-findings", "Summary: HIGH findings"})
	outcomes := map[string]int64{}
	var justified int64
	err = st.QueryEach(ctx, queryText("high-findings"), args, ignoreColumns, func(r []any) error {
		outcomes[str(r[6])]++
		if str(r[6]) == "certified" && str(r[9]) != "" {
			justified++
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("report: query high-findings: %w", err)
	}
	var high int64
	for _, n := range outcomes {
		high += n
	}
	add(hf, "open HIGH findings in the current scoring", high)
	add(hf, "addressed (an access they name was revoked)", outcomes["addressed"])
	add(hf, "certified (every access they name certified)", outcomes["certified"])
	add(hf, "certified with a justification", justified)
	add(hf, "still open (pending)", outcomes["open"])
	if outcomes["gone"] > 0 {
		add(hf, "no longer in the population", outcomes["gone"])
	}

	// Revocations and their latency.
	const rvk = "Revocations (queries revocations, revocation-latency)"
	used = append(used, usedQuery{"revocation-latency", "Summary: revocations"})
	status := map[string]int64{}
	err = st.QueryEach(ctx, queryText("revocations"), args, ignoreColumns, func(r []any) error {
		status[str(r[4])]++
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("report: query revocations: %w", err)
	}
	for _, s := range []string{"done", "failed", "already_absent", "planned", "skipped"} {
		add(rvk, s, status[s])
	}
	lat, err := readAll(ctx, st, "revocation-latency", args, nil)
	if err != nil {
		return nil, nil, err
	}
	if len(lat) == 0 {
		add(rvk, "decision to verified removal", "no proven removal")
	} else {
		secs := make([]int64, len(lat))
		for i, r := range lat {
			secs[i] = num(r[8])
		}
		slices.Sort(secs)
		add(rvk, "median decision to verified removal", duration(median(secs)))
		w := lat[0] // longest first
		add(rvk, "worst decision to verified removal", fmt.Sprintf("%s (%s in %s, %s)", duration(num(w[8])), str(w[3]), str(w[2]), str(w[1])))
	}

	// Exceptions the policy applied.
	const ex = "Exceptions (query suppressed)"
	used = append(used, usedQuery{"suppressed", "Summary: exceptions"})
	sup, err := readAll(ctx, st, "suppressed", args, nil)
	if err != nil {
		return nil, nil, err
	}
	add(ex, "findings suppressed by an exception", len(sup))
	for i, r := range sup { // review, rule_id, risk, system, user_login, approved_by, ticket, expires, reason
		if i == maxSummaryLines {
			add(ex, "more", fmt.Sprintf("%d more: uar query suppressed", len(sup)-i))
			break
		}
		add(ex, fmt.Sprintf("%s %s (%s)", str(r[1]), str(r[4]), str(r[3])),
			fmt.Sprintf("approved by %s, ticket %s, expires %s: %s", str(r[5]), str(r[6]), str(r[7]), str(r[8])))
	}

	// Who ran what.
	const rn = "Runs (query review-runs)"
	used = append(used, usedQuery{"review-runs", "Summary: runs"})
	runs, err := readAll(ctx, st, "review-runs", args, nil)
	if err != nil {
		return nil, nil, err
	}
	actors := map[string]int{}
	versions := map[string]bool{}
	for _, r := range runs { // id, command, review, actor, host, tool_version, started_at, finished_at, status, error
		actors[str(r[3])]++
		versions[str(r[5])] = true
	}
	add(rn, "runs", len(runs))
	add(rn, "actors", joinCounts(actors))
	add(rn, "uar versions", strings.Join(sortedKeys(versions), ", "))
	for i, r := range runs {
		if i == maxSummaryLines {
			add(rn, "more", fmt.Sprintf("%d more: uar query review-runs", len(runs)-i))
			break
		}
		add(rn, str(r[0]), fmt.Sprintf("%s by %s on %s: %s", str(r[1]), str(r[3]), str(r[4]), str(r[8])))
	}

	// Where each sheet comes from.
	const sh = "Sheets"
	for _, s := range dataSheets {
		add(sh, s.name, "query "+s.query+": "+queryDescription(s.query))
	}
	add(sh, "Queries", "the SQL of every query above: re-run one with uar query NAME --param review="+o.Review)
	return e, used, nil
}

func ignoreColumns([]string) error { return nil }

// str is a SQLite text value ("" for NULL).
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// num is a SQLite integer value (0 for NULL or text).
func num(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

// timeOr is s as a time (a date cell), or s itself if it is not RFC 3339.
func timeOr(s string) any {
	if t, err := store.ParseTime(s); err == nil && !t.IsZero() {
		return t
	}
	return s
}

func percent(n, of int64) string {
	if of == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

func median(sorted []int64) int64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// duration renders seconds as "2d 3h 4m" (or "45s").
func duration(secs int64) string {
	if secs < 60 {
		return fmt.Sprintf("%ds", secs)
	}
	d := time.Duration(secs) * time.Second
	days := int64(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	h, m := int64(d/time.Hour), int64((d%time.Hour)/time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh %dm", days, h, m)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}

// groupDigits writes n with thousands separators: 500,735.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func joinCounts(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s (%d runs)", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
