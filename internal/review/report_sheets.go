package review

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/uar-dev/uar/internal/report"
	"github.com/uar-dev/uar/internal/store"
	"github.com/uar-dev/uar/queries"
)

// A data sheet of the auditor workbook is exactly one named query: its
// columns are the query's, in order, and its rows are the query's rows.
// The column lists below are checked against the query's own columns when
// it runs (and by TestReportSheetColumns), so the two cannot drift.
type sheetSpec struct {
	name  string // sheet name
	query string // named query (queries/<query>.sql)
	cols  []string
	wrap  []string // columns whose long text wraps in XLSX
}

var (
	// Completeness comes before Access: an auditor tests that the listing
	// is complete and accurate before looking at any decision.
	completenessSheet = sheetSpec{name: "Completeness", query: "completeness", cols: []string{
		"review", "snapshot_id", "source", "system", "no", "kind", "group_name", "group_id", "query_text",
		"query_params", "pages", "paged_count", "independent_count", "status", "reread", "count_evidence_id",
		"count_result_hash", "page_evidence_ids", "page_result_hashes", "file_sha256", "file_header",
		"exported_at", "exported_at_from", "accepted_reason", "accepted_by", "accepted_at", "snapshot_evidence_id"},
		wrap: []string{"query_text", "page_evidence_ids", "page_result_hashes", "accepted_reason"}}
	accessSheet = sheetSpec{name: "Access", query: "access", cols: []string{
		"review", "system", "group_name", "user_login", "user_email", "department", "title", "user_type",
		"user_status", "last_login", "membership_source", "decision", "decided_by", "decided_at",
		"revocation_status", "evidence_id"}}
	findingsSheet = sheetSpec{name: "Findings", query: "findings", cols: []string{
		"review", "rule_id", "risk", "system", "user_login", "group_name", "title", "detail", "source", "evidence_id"},
		wrap: []string{"title", "detail", "group_name"}}
	decisionsSheet = sheetSpec{name: "Decisions", query: "decisions", cols: []string{
		"review", "system", "action", "target", "group_name", "decided_by", "decided_at", "status", "reason",
		"jira_key", "comment_id", "evidence_id", "decided_by_name", "decided_by_email", "justification", "source",
		"certify_all", "reviewer_admin", "edited", "comment_updated", "line"},
		wrap: []string{"reason", "justification", "line"}}
	revocationsSheet = sheetSpec{name: "Revocations", query: "revocations", cols: []string{
		"review", "system", "user_login", "group_name", "status", "requested_by", "executed_at", "verified_at",
		"okta_request_id", "evidence_id", "reason", "decided_at", "latency_seconds", "jira_key", "comment_id",
		"membership_source", "log_event_id", "log_event_time"},
		wrap: []string{"reason"}}
	qualitySheet = sheetSpec{name: "Review quality", query: "review-quality", cols: []string{
		"review", "system", "reviewer", "reviewer_name", "reviewer_email", "reviewer_role", "published_at",
		"deadline", "first_decision_at", "hours_to_first_decision", "last_decision_at", "hours_to_last_decision",
		"system_completed_at", "hours_to_completion", "system_accesses", "system_pending", "accesses_decided",
		"certified", "revoked", "share_certified", "by_certify_all", "one_by_one", "high_certified",
		"high_certified_justified", "lines", "after_deadline", "rejected_lines", "evidence_id"}}
	evidenceSheet = sheetSpec{name: "Evidence", query: "review-evidence", cols: []string{
		"seq", "id", "run_id", "source_system", "query_name", "query_text", "executed_at", "source_time",
		"result_row_count", "result_hash", "entry_hash", "kind", "review", "blob_hash", "prev_hash"},
		wrap: []string{"query_text"}}
)

// dataSheets are the workbook's data sheets in order (Summary comes first,
// Queries last).
var dataSheets = []sheetSpec{completenessSheet, accessSheet, findingsSheet, decisionsSheet, revocationsSheet, qualitySheet, evidenceSheet}

// columnKinds says how a column is shown, by its name (the views' names).
var columnKinds = map[string]report.Kind{
	"risk": report.Risk,
	"seq":  report.Integer, "result_row_count": report.Integer, "latency_seconds": report.Integer,
	"certify_all": report.Integer, "reviewer_admin": report.Integer, "edited": report.Integer,
	"system_accesses": report.Integer, "system_pending": report.Integer, "accesses_decided": report.Integer,
	"certified": report.Integer, "revoked": report.Integer, "by_certify_all": report.Integer,
	"one_by_one": report.Integer, "high_certified": report.Integer, "high_certified_justified": report.Integer,
	"lines": report.Integer, "after_deadline": report.Integer, "rejected_lines": report.Integer,
	"hours_to_first_decision": report.Number, "hours_to_last_decision": report.Number,
	"hours_to_completion": report.Number, "share_certified": report.Number,
	"last_login": report.Time, "deadline": report.Time, "source_time": report.Time,
	"log_event_time": report.Time, "comment_updated": report.Time,
	"evidence_id": report.ID, "id": report.ID, "run_id": report.ID, "result_hash": report.ID,
	"entry_hash": report.ID, "blob_hash": report.ID, "prev_hash": report.ID, "okta_request_id": report.ID,
	"log_event_id": report.ID, "query_text": report.ID, "sql": report.ID,
	"snapshot_id": report.Integer, "no": report.Integer, "pages": report.Integer, "paged_count": report.Integer,
	"independent_count": report.Integer, "reread": report.Integer, "count_evidence_id": report.ID,
	"snapshot_evidence_id": report.ID, "count_result_hash": report.ID, "file_sha256": report.ID,
}

// columns builds a sheet's report columns from its spec.
func (s sheetSpec) columns() []report.Column {
	out := make([]report.Column, len(s.cols))
	for i, c := range s.cols {
		k, ok := columnKinds[c]
		if !ok && strings.HasSuffix(c, "_at") {
			k = report.Time
		}
		out[i] = report.Column{Name: c, Kind: k, Wrap: slices.Contains(s.wrap, c)}
	}
	return out
}

// checkColumns fails if a query's columns are not the spec's.
func (s sheetSpec) checkColumns(got []string) error {
	if !slices.Equal(got, s.cols) {
		return fmt.Errorf("report: sheet %q: query %s returns columns %s, the sheet expects %s",
			s.name, s.query, strings.Join(got, ","), strings.Join(s.cols, ","))
	}
	return nil
}

// sheet is the report sheet of spec, its rows streamed from the named
// query with args. The rows are read ahead on another goroutine (see
// readAhead), so SQLite's scan and the writer's encoding overlap.
func (s sheetSpec) sheet(ctx context.Context, st *store.Store, args []any) report.Sheet {
	q := queries.Get(s.query)
	return report.Sheet{Name: s.name, Columns: s.columns(), Rows: readAhead(ctx, len(s.cols), func(emit func([]any) error) error {
		return st.QueryEach(ctx, q.SQL, args, s.checkColumns, emit)
	})}
}

// cachedSheet is the report sheet of spec with rows already read.
func (s sheetSpec) cachedSheet(rows [][]any) report.Sheet {
	return report.Sheet{Name: s.name, Columns: s.columns(), Rows: func(yield func([]any) error) error {
		for _, r := range rows {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}}
}

// readAheadBatch is the rows per batch handed from the reading goroutine
// to the writer; readAheadDepth batches may wait.
const (
	readAheadBatch = 512
	readAheadDepth = 8
)

// readAhead runs read (a query streaming rows to emit) on its own
// goroutine, copying rows into batches, and returns a RowFunc that yields
// them in order. The writer's encoding of one batch overlaps SQLite's scan
// of the next, which on a 500,000-row sheet hides most of the scan. Memory
// is bounded by readAheadDepth batches. If yield fails, reading stops.
func readAhead(ctx context.Context, ncols int, read func(emit func([]any) error) error) report.RowFunc {
	return func(yield func([]any) error) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		batches := make(chan [][]any, readAheadDepth)
		done := make(chan error, 1)
		go func() {
			defer close(batches)
			var batch [][]any
			var flat []any
			err := read(func(row []any) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				if len(flat) < ncols {
					flat = make([]any, readAheadBatch*ncols)
				}
				r := flat[:len(row):len(row)]
				flat = flat[len(row):]
				copy(r, row)
				batch = append(batch, r)
				if len(batch) == readAheadBatch {
					select {
					case batches <- batch:
					case <-ctx.Done():
						return ctx.Err()
					}
					batch = nil
				}
				return nil
			})
			if err == nil && len(batch) > 0 {
				select {
				case batches <- batch:
				case <-ctx.Done():
					err = ctx.Err()
				}
			}
			done <- err
		}()
		for batch := range batches {
			for _, r := range batch {
				if err := yield(r); err != nil {
					cancel()
					for range batches { // let the reader see the cancel and end
					}
					<-done
					return err
				}
			}
		}
		return <-done
	}
}

// readAll runs a named query and returns its rows (for small results the
// summary also reads), after checking its columns against spec.
func readAll(ctx context.Context, st *store.Store, name string, args []any, check func([]string) error) ([][]any, error) {
	var out [][]any
	err := st.QueryEach(ctx, queries.Get(name).SQL, args, func(cols []string) error {
		if check != nil {
			return check(cols)
		}
		return nil
	}, func(row []any) error {
		out = append(out, slices.Clone(row))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report: query %s: %w", name, err)
	}
	return out, nil
}

// queriesSheet lists every named query the workbook was built from, with
// its full SQL, so an auditor can re-run it with `uar query NAME`.
func queriesSheet(used []usedQuery) report.Sheet {
	cols := []report.Column{{Name: "name"}, {Name: "used_for", Wrap: true}, {Name: "params"},
		{Name: "description", Wrap: true}, {Name: "sql", Kind: report.ID, Wrap: true, Width: 100}}
	return report.Sheet{Name: "Queries", Columns: cols, Rows: func(yield func([]any) error) error {
		for _, u := range used {
			q := queries.Get(u.name)
			var ps []string
			for _, p := range q.Params {
				ps = append(ps, p.Name)
			}
			if err := yield([]any{q.Name, u.usedFor, strings.Join(ps, ", "), q.Description, q.SQL}); err != nil {
				return err
			}
		}
		return nil
	}}
}

// usedQuery is a named query and what in the workbook it feeds.
type usedQuery struct {
	name    string
	usedFor string
}

// queryText is a named query's SQL; queryDescription its description.
func queryText(name string) string        { return queries.Get(name).SQL }
func queryDescription(name string) string { return queries.Get(name).Description }
