package review

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/report"
	"github.com/uar-dev/uar/internal/store"
	"github.com/uar-dev/uar/queries"
)

// ReportRunID is the run id of the ledger row a report records about
// itself. A report records no run (it changes nothing but that row), and
// every query a report is built from leaves rows of this run out, so the
// workbook is a pure function of the rest of the store: built twice, it is
// byte-identical.
const ReportRunID = "report"

// DefaultWindowDays is review.window_days when no configuration says
// otherwise (DESIGN §5).
const DefaultWindowDays = 30

// ReportOptions are what `uar report` builds.
type ReportOptions struct {
	Review string
	Path   string // output file (or folder, for CSV without .zip)
	Format report.Format
	// Force builds the workbook from a store that fails verify; the
	// Summary then says so on its first lines.
	Force bool
	// WindowDays is review.window_days (the deadline is the first ticket
	// plus this); WindowSource says where it came from, for the Summary.
	WindowDays   int
	WindowSource string
	ToolVersion  string
	Out          Reporter
	// Writer tunes the writer (tests: row limits); Progress is set here.
	Writer report.Options
}

// ReportResult is what a report wrote and what it was built from.
type ReportResult struct {
	Review string
	Format report.Format
	Path   string
	Files  []report.FileResult
	Sheets []report.SheetResult
	// SHA256 is the file's sha256; for a CSV folder, the sha256 of the
	// canonical JSON list of its files (name, size, sha256).
	SHA256 string
	// Head is the ledger row the report describes (the newest row that is
	// not a report's own) and HeadTime its executed_at.
	Head     store.Head
	HeadTime time.Time
	Verified bool
	Problems []evidence.Problem
	Anchor   string // the newest head written outside, "" if none
	AnchorOK bool
}

// Report verifies the store, builds the auditor workbook of o.Review (a
// Summary, one sheet per named query, the Queries sheet) and writes it to
// o.Path. It reads the store only: record the result with [RecordReport].
//
// A store that fails verify is refused with an error wrapping
// evidence.ErrTampered (the problems are in the result) unless o.Force.
// A review without a snapshot is a *PrerequisiteError naming the reviews
// the store has.
func Report(ctx context.Context, st *store.Store, o ReportOptions) (*ReportResult, error) {
	out := o.Out
	if out == nil {
		out = Discard
	}
	if o.WindowDays <= 0 {
		o.WindowDays, o.WindowSource = DefaultWindowDays, "default: no review.window_days was given"
	}
	if err := requireReview(ctx, st, o.Review); err != nil {
		return nil, err
	}
	res := &ReportResult{Review: o.Review, Format: o.Format, Path: o.Path}
	head, err := readAll(ctx, st, "report-head", nil, nil)
	if err != nil {
		return nil, err
	}
	if len(head) == 0 {
		return nil, prerequisite("run 'uar snapshot' first", "the store's ledger is empty")
	}
	res.Head = store.Head{Seq: head[0][0].(int64), Hash: head[0][2].(string)}
	res.HeadTime, _ = store.ParseTime(head[0][3].(string))

	anchors, err := readAll(ctx, st, "anchors", []any{store.Named("review", o.Review)}, nil)
	if err != nil {
		return nil, err
	}
	out.Progress("report: verifying the evidence chain, blobs and derived tables")
	vopts := evidence.Options{}
	if len(anchors) > 0 {
		res.Anchor = anchors[0][1].(string)
		vopts.Anchor = res.Anchor
	}
	sum, verr := evidence.Verify(ctx, st, vopts)
	out.ProgressDone()
	switch {
	case verr != nil && !errors.Is(verr, evidence.ErrTampered):
		return nil, fmt.Errorf("report: verify: %w", verr)
	case verr != nil:
		res.Problems = sum.Problems
		if !o.Force {
			return res, &HintedError{Err: fmt.Errorf("report: the store fails verify (%d problems): %w", len(sum.Problems), verr),
				Hint: "run 'uar verify' to see every problem; --force builds the workbook anyway and says so on its Summary"}
		}
		out.Warnf("the store fails verify (%d problems): building the workbook anyway (--force); its Summary says so", len(sum.Problems))
	default:
		res.Verified = true
	}
	res.AnchorOK = sum.AnchorOK

	args := []any{store.Named("review", o.Review)}
	out.Progress("report: reading review quality")
	quality, err := readAll(ctx, st, qualitySheet.query, append(args, store.Named("window_days", o.WindowDays)), qualitySheet.checkColumns)
	if err != nil {
		return nil, err
	}
	out.Progress("report: reading the summary figures")
	summary, used, err := buildSummary(ctx, st, o, res, quality, anchors)
	out.ProgressDone()
	if err != nil {
		return nil, err
	}
	wb := &report.Workbook{
		Title:   "UAR " + o.Review + " audit workbook",
		Creator: "uar " + o.ToolVersion,
		Created: res.HeadTime,
		Sheets:  []report.Sheet{report.SummarySheet("Summary", summary)},
	}
	var sheetQueries []usedQuery
	for _, s := range dataSheets {
		if s.name == qualitySheet.name {
			wb.Sheets = append(wb.Sheets, s.cachedSheet(quality)) // read once, for the Summary too
		} else {
			wb.Sheets = append(wb.Sheets, s.sheet(ctx, st, args))
		}
		sheetQueries = append(sheetQueries, usedQuery{s.query, "sheet " + s.name})
	}
	wb.Sheets = append(wb.Sheets, queriesSheet(sortUsed(append(sheetQueries, used...))))

	wopts := o.Writer
	wopts.Progress = func(sheet string, rows int64) {
		out.Progress("report: %s: %s rows", sheet, groupDigits(rows))
	}
	w, err := report.WriteFile(ctx, o.Path, o.Format, wb, wopts)
	out.ProgressDone()
	if err != nil {
		return nil, err
	}
	res.Files, res.Sheets = w.Files, w.Sheets
	if res.SHA256, err = filesHash(w.Files); err != nil {
		return nil, err
	}
	return res, nil
}

// requireReview fails with a *PrerequisiteError if review has no
// snapshot, naming the reviews the store has.
func requireReview(ctx context.Context, st *store.Store, review string) error {
	cur, err := st.CurrentSnapshots(ctx, review)
	if err != nil {
		return err
	}
	if len(cur) > 0 {
		return nil
	}
	all, err := st.Snapshots(ctx)
	if err != nil {
		return err
	}
	var have []string
	seen := map[string]bool{}
	for _, s := range all {
		if !seen[s.Review] {
			seen[s.Review] = true
			have = append(have, s.Review)
		}
	}
	if len(have) == 0 {
		return prerequisite("run 'uar snapshot' first", "review %s has no snapshot: the store has none", review)
	}
	return prerequisite("pass --review with one of them", "review %s has no snapshot in %s; it has %s",
		review, baseName(st.Path()), strings.Join(have, ", "))
}

// sortUsed orders the queries the Queries sheet lists, given the data
// sheets' first (in sheet order), then the summary's: each query once,
// with everything it feeds, the sheets' first, then the rest by name.
func sortUsed(used []usedQuery) []usedQuery {
	index := map[string]int{}
	var out []usedQuery
	for _, u := range used {
		if i, ok := index[u.name]; ok {
			out[i].usedFor += "; " + u.usedFor
			continue
		}
		index[u.name] = len(out)
		out = append(out, u)
	}
	sort.SliceStable(out, func(i, j int) bool {
		si, sj := strings.Contains(out[i].usedFor, "sheet "), strings.Contains(out[j].usedFor, "sheet ")
		if si != sj {
			return si
		}
		if si {
			return false // keep sheet order
		}
		return out[i].name < out[j].name
	})
	return out
}

// filesHash is the single file's sha256, or for several files (a CSV
// folder) the sha256 of the canonical JSON list of name, size and sha256.
func filesHash(files []report.FileResult) (string, error) {
	if len(files) == 1 {
		return files[0].SHA256, nil
	}
	list := make([]map[string]any, len(files))
	for i, f := range files {
		list[i] = map[string]any{"name": baseName(f.Path), "size": f.Size, "sha256": f.SHA256}
	}
	b, err := evidence.Canonical(list)
	if err != nil {
		return "", err
	}
	return evidence.Sum(b), nil
}

// baseName is the last element of a slash- or backslash-separated path
// (review never imports path/filepath's OS view of paths it does not own).
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// namedQueryExists panics at init if a name used here has no file: the
// package test runs it, so a renamed query fails CI, not an auditor.
func namedQueryExists(names ...string) {
	for _, n := range names {
		queries.Get(n)
	}
}

func init() {
	namedQueryExists("report-head", "anchors", "population", "high-findings", "revocations", "revocation-latency",
		"suppressed", "review-runs")
	for _, s := range dataSheets {
		namedQueryExists(s.query)
	}
}
