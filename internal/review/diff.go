package review

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uar-dev/uar/internal/report"
	"github.com/uar-dev/uar/internal/store"
	"github.com/uar-dev/uar/queries"
)

// DiffColumns are the columns every comparison query (queries/diff-*.sql)
// returns, so all changes share one shape: what changed (change, item),
// where (system, group_name, user_login), from what to what, a readable
// detail, and the ledger rows behind each side.
var DiffColumns = []string{"change", "system", "group_name", "user_login", "item", "from_value", "to_value",
	"detail", "from_evidence_id", "to_evidence_id"}

// DiffCategory is one kind of change and the comparison query that finds it.
type DiffCategory struct {
	Name  string // the change column's value and its key in DiffCounts
	Sheet string // its sheet in diff.xlsx
	Query string // the named comparison query
	Label string // how a count of it reads
}

// DiffCategories in the order they are reported: a regrant first, the
// first thing an auditor asks about.
var DiffCategories = []DiffCategory{
	{"regranted", "Regranted", "diff-regranted", "revoked in the earlier review, present again"},
	{"granted", "Granted", "diff-granted", "accesses granted"},
	{"removed", "Removed", "diff-removed", "accesses removed"},
	{"flipped", "Decisions flipped", "diff-flipped", "decisions flipped"},
	{"attribute", "User attributes", "diff-attributes", "user attributes changed"},
	{"finding_new", "Findings new", "diff-findings-new", "new findings"},
	{"finding_resolved", "Findings resolved", "diff-findings-resolved", "findings resolved"},
	{"finding_persisting", "Findings persisting", "diff-findings-persisting", "findings persisting"},
}

// NewHigh is the DiffCounts key of new findings of risk HIGH.
const NewHigh = "new_high"

// DiffCounts counts the changes per category name (and NewHigh).
type DiffCounts map[string]int64

// DiffGates are the --fail-on conditions: each counts what it fails on.
var DiffGates = map[string]string{
	"regrant":     "regranted",
	"new-high":    NewHigh,
	"new-finding": "finding_new",
	"granted":     "granted",
	"removed":     "removed",
	"flipped":     "flipped",
	"attribute":   "attribute",
}

// DiffGateNames lists the --fail-on conditions, sorted.
func DiffGateNames() []string { return sortedKeys(DiffGates) }

// Gate returns the conditions of failOn that the counts meet (in
// failOn's order); an unknown name is an error.
func (c DiffCounts) Gate(failOn []string) ([]string, error) {
	var hit []string
	for _, f := range failOn {
		key, ok := DiffGates[f]
		if !ok {
			return nil, fmt.Errorf("unknown --fail-on %q (want %s)", f, strings.Join(DiffGateNames(), ", "))
		}
		if c[key] > 0 {
			hit = append(hit, f)
		}
	}
	return hit, nil
}

// DiffSide is one side of a comparison: which store and review, and the
// ledger head it was read at.
type DiffSide struct {
	Store      string    `json:"store"` // the file's base name
	Review     string    `json:"review"`
	LedgerHead string    `json:"ledger_head"`
	HeadTime   time.Time `json:"-"`
	TakenAt    string    `json:"snapshot_taken_at"`
}

// ReadDiffSide describes review in st; a review without a snapshot is a
// *PrerequisiteError naming the reviews st has. Read both sides before
// opening the comparison (it holds a store's connection).
func ReadDiffSide(ctx context.Context, st *store.Store, review string) (DiffSide, error) {
	if err := requireReview(ctx, st, review); err != nil {
		return DiffSide{}, err
	}
	head, err := readAll(ctx, st, "report-head", nil, nil)
	if err != nil {
		return DiffSide{}, err
	}
	side := DiffSide{Store: baseName(st.Path()), Review: review}
	if len(head) > 0 {
		side.LedgerHead = str(head[0][4])
		side.HeadTime, _ = store.ParseTime(str(head[0][3]))
	}
	cur, err := st.CurrentSnapshots(ctx, review)
	if err != nil {
		return DiffSide{}, err
	}
	for _, s := range cur {
		if s.TakenAt > side.TakenAt {
			side.TakenAt = s.TakenAt
		}
	}
	return side, nil
}

// LatestReview is the review of st's newest snapshot ("" if none): the
// default side of a comparison of two stores.
func LatestReview(ctx context.Context, st *store.Store) (string, error) {
	all, err := st.Snapshots(ctx)
	if err != nil || len(all) == 0 {
		return "", err
	}
	return all[len(all)-1].Review, nil
}

// Diff runs every category's comparison query in DiffCategories order,
// streaming: begin is called before a category's rows, row with each row
// (the slice is reused). It returns the counts.
//
// cmps are comparisons of the same two stores, each on its own connection
// (at least one). With two, the next category's query runs while the
// current one's rows are delivered: a comparison query spends most of its
// time before its first row (reading and subtracting both sides' key sets),
// so two unchanged 500,000-access quarters compare in about half the wall
// time on two cores. Rows wait in small batches (diffBatchRows, a few per
// category), so memory stays bounded whatever the number of changes.
func Diff(ctx context.Context, cmps []*store.Comparison, from, to string, begin func(DiffCategory) error, row func(DiffCategory, []any) error) (DiffCounts, error) {
	if len(cmps) == 0 {
		return nil, fmt.Errorf("diff: no comparison to run the queries on")
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel (deferred below, so run first)
	defer cancel()

	results := make([]chan diffBatch, len(DiffCategories))
	next := make(chan int, len(DiffCategories))
	for i := range DiffCategories {
		results[i] = make(chan diffBatch, diffBatchesAhead)
		next <- i
	}
	close(next)
	args := []any{store.Named("from", from), store.Named("to", to)}
	for _, cmp := range cmps {
		wg.Go(func() {
			for i := range next {
				runDiffQuery(ctx, cmp, DiffCategories[i], args, results[i])
			}
		})
	}

	counts := DiffCounts{NewHigh: 0}
	for i, c := range DiffCategories {
		counts[c.Name] = 0
		if begin != nil {
			if err := begin(c); err != nil {
				return counts, err
			}
		}
		for b := range results[i] {
			if b.err != nil {
				return counts, b.err
			}
			for _, r := range b.rows {
				counts[c.Name]++
				if c.Name == "finding_new" && str(r[6]) == "HIGH" {
					counts[NewHigh]++
				}
				if row != nil {
					if err := row(c, r); err != nil {
						return counts, err
					}
				}
			}
		}
		// A query cut short by a cancellation ends without an error batch.
		if err := ctx.Err(); err != nil {
			return counts, err
		}
	}
	return counts, ctx.Err()
}

// diffBatch is a run of one category's rows, or the error that ended it.
type diffBatch struct {
	rows [][]any
	err  error
}

const (
	diffBatchRows    = 512 // rows per batch handed from a query to Diff's reader
	diffBatchesAhead = 4   // batches a query may run ahead of the reader
)

// runDiffQuery streams c's query on cmp into out in batches and closes out;
// a failure is the last batch. It stops when ctx ends (Diff returned).
func runDiffQuery(ctx context.Context, cmp *store.Comparison, c DiffCategory, args []any, out chan<- diffBatch) {
	defer close(out)
	send := func(b diffBatch) error {
		select {
		case out <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	batch := make([][]any, 0, diffBatchRows)
	err := cmp.QueryEach(ctx, queries.Get(c.Query).SQL, args, checkDiffColumns(c), func(r []any) error {
		batch = append(batch, slices.Clone(r)) // r is reused by QueryEach; its values are not
		if len(batch) < diffBatchRows {
			return nil
		}
		err := send(diffBatch{rows: batch})
		batch = make([][]any, 0, diffBatchRows)
		return err
	})
	if err == nil && len(batch) > 0 {
		err = send(diffBatch{rows: batch})
	}
	if err != nil && ctx.Err() == nil {
		_ = send(diffBatch{err: fmt.Errorf("diff: query %s: %w", c.Query, err)}) // fails only once Diff has returned
	}
}

func checkDiffColumns(c DiffCategory) func([]string) error {
	return func(got []string) error {
		if !slices.Equal(got, DiffColumns) {
			return fmt.Errorf("diff: query %s returns columns %s, want %s", c.Query, strings.Join(got, ","), strings.Join(DiffColumns, ","))
		}
		return nil
	}
}

// DiffWorkbook is the comparison as a workbook: a Summary of what was
// compared and how many changes of each kind (counts, from a first Diff),
// then one sheet per category, each its comparison query's rows (run again
// as the sheet is written). Its time is the later of the two ledger heads,
// so the same stores give the same file.
func DiffWorkbook(ctx context.Context, cmp *store.Comparison, from, to DiffSide, counts DiffCounts) *report.Workbook {
	var e []report.Entry
	add := func(section, key string, v any) { e = append(e, report.Entry{Section: section, Key: key, Value: v}) }
	for _, s := range []struct {
		name string
		side DiffSide
	}{{"From (earlier)", from}, {"To (later)", to}} {
		add(s.name, "store", s.side.Store)
		add(s.name, "review", s.side.Review)
		add(s.name, "ledger head", s.side.LedgerHead)
		add(s.name, "snapshot taken at", timeOr(s.side.TakenAt))
	}
	const ch = "Changes"
	for _, c := range DiffCategories {
		add(ch, c.Label+" (sheet "+c.Sheet+")", counts[c.Name])
		if c.Name == "finding_new" {
			add(ch, "new HIGH findings", counts[NewHigh])
		}
	}
	const q = "Queries"
	for _, c := range DiffCategories {
		add(q, c.Sheet, "uar query "+c.Query+" (compares store a with store b; uar diff attaches them)")
	}
	created := from.HeadTime
	if to.HeadTime.After(created) {
		created = to.HeadTime
	}
	wb := &report.Workbook{Title: "UAR diff " + from.Review + " → " + to.Review, Created: created,
		Sheets: []report.Sheet{report.SummarySheet("Summary", e)}}
	cols := diffReportColumns()
	args := []any{store.Named("from", from.Review), store.Named("to", to.Review)}
	for _, c := range DiffCategories {
		wb.Sheets = append(wb.Sheets, report.Sheet{Name: c.Sheet, Columns: cols, Rows: func(yield func([]any) error) error {
			return cmp.QueryEach(ctx, queries.Get(c.Query).SQL, args, checkDiffColumns(c), yield)
		}})
	}
	return wb
}

func diffReportColumns() []report.Column {
	cols := make([]report.Column, len(DiffColumns))
	for i, n := range DiffColumns {
		cols[i] = report.Column{Name: n}
		switch n {
		case "detail", "group_name":
			cols[i].Wrap = true
		case "from_evidence_id", "to_evidence_id":
			cols[i].Kind = report.ID
		}
	}
	return cols
}
