package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/report"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/store"
)

type diffOptions struct {
	from, to     string
	fromDB, toDB string
	output       string
	format       string
	failOn       []string
}

const diffLong = `Compare two reviews: in one store (--from REVIEW --to REVIEW), or in two
handed-over stores (--from-db A.db --to-db B.db, each review defaulting to its
store's newest). The stores are attached to one read-only SQLite connection
and compared by named queries (queries/diff-*.sql) through indexed lookups;
nothing is loaded into memory whole.

Changes, keyed on Okta's group and user ids (the same in every store of one
org):
  regranted           revoked in the earlier review and present again later
                      (from_value says whether the removal had been proven)
  granted, removed    accesses only in the later / only in the earlier review
                      (a removal says if it followed a REVOKE or not)
  flipped             decisions that changed between certified and revoked
  attribute           a user's department, title, status or user_type
  finding_new, finding_resolved, finding_persisting
                      open findings by user, rule and system

Output: one row per change (change, system, group_name, user_login, item,
from_value, to_value, detail, from_evidence_id, to_evidence_id), an aligned
table on a terminal, tab-separated when piped, one JSON document with --json,
or a workbook with -o (xlsx by default; csv, json, html like uar report) with
a Summary and one sheet per kind of change. The counts go to stderr.

--fail-on turns changes into exit status 5, for a daily cron that watches
drift between quarters (--to may be a fresh snapshot of the day): regrant,
new-high, new-finding, granted, removed, flipped, attribute.

diff needs nothing but the stores: no config, no secrets, no network; it
writes nothing to them. Run 'uar verify' on a handed-over store first.

Examples:
  uar diff --db uar.db --from 2026-Q3 --to 2026-Q4
  uar diff --from-db q3.db --to-db q4.db -o diff.xlsx
  uar diff --from 2026-Q4 --to 2026-12-03-drift --fail-on regrant,new-high

EXIT STATUS
  0  compared (with or without changes)
  1  the comparison or the output failed
  2  usage error, no such store, or a review without a snapshot
  5  a --fail-on condition was met`

func newDiffCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Compare two reviews: access, findings and decisions that changed",
		Long:  diffLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runDiff(c.Context(), env, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "the earlier review's label")
	f.StringVar(&o.to, "to", "", "the later review's label")
	f.StringVar(&o.fromDB, "from-db", "", "the earlier review's store (default: --db)")
	f.StringVar(&o.toDB, "to-db", "", "the later review's store (default: --db)")
	f.StringVarP(&o.output, "output", "o", "", "write a workbook instead of printing the changes")
	f.StringVar(&o.format, "format", "", "the workbook's format: xlsx, csv, json or html (default: from -o)")
	f.StringSliceVar(&o.failOn, "fail-on", nil, "exit 5 if any of these changes is found: "+strings.Join(review.DiffGateNames(), ", "))
	return cmd
}

func runDiff(ctx context.Context, env *Env, g *globalOptions, o *diffOptions) error {
	if _, err := (review.DiffCounts{}).Gate(o.failOn); err != nil {
		return usageErrorf("%v", err)
	}
	if o.output == "" && o.format != "" {
		return usageErrorf("--format applies to -o only")
	}
	var format report.Format
	if o.output != "" {
		var err error
		if format, err = reportFormat(o.format, o.output); err != nil {
			return err
		}
	}
	oneStore := o.fromDB == "" && o.toDB == ""
	if oneStore && (o.from == "" || o.to == "") {
		return usageErrorf("give --from and --to (two reviews of one store), or --from-db and --to-db (two stores)")
	}
	for _, l := range []string{o.from, o.to} {
		if l != "" && !reviewLabel.MatchString(l) {
			return usageErrorf("review label %q: use letters, digits, '.', '_' or '-'", l)
		}
	}
	fromPath, toPath := o.fromDB, o.toDB
	if fromPath == "" || toPath == "" {
		p, err := storeOnlyPath(env, g)
		if err != nil {
			return err
		}
		fromPath, toPath = cmpOr(fromPath, p), cmpOr(toPath, p)
	}
	fromPath, toPath = env.path(fromPath), env.path(toPath)
	fromSt, err := store.Open(ctx, fromPath, store.Options{ReadOnly: true, Now: env.Now})
	if err != nil {
		return err
	}
	defer fromSt.Close()
	// A second handle even on one file: its connection runs the next
	// comparison query while the current one's rows are written.
	toSt, err := store.Open(ctx, toPath, store.Options{ReadOnly: true, Now: env.Now})
	if err != nil {
		return err
	}
	defer toSt.Close()
	fromRev, toRev := o.from, o.to
	if fromRev == "" {
		if fromRev, err = review.LatestReview(ctx, fromSt); err != nil {
			return err
		}
	}
	if toRev == "" {
		if toRev, err = review.LatestReview(ctx, toSt); err != nil {
			return err
		}
	}
	if fromPath == toPath && fromRev == toRev {
		return usageErrorf("--from and --to are the same review (%s) of the same store: nothing to compare", fromRev)
	}
	from, err := review.ReadDiffSide(ctx, fromSt, fromRev)
	if err != nil {
		return err
	}
	to, err := review.ReadDiffSide(ctx, toSt, toRev)
	if err != nil {
		return err
	}
	var cmps []*store.Comparison
	for _, on := range []*store.Store{fromSt, toSt} {
		cmp, err := on.Compare(ctx, fromSt, toSt)
		if err != nil {
			return err
		}
		defer cmp.Close()
		cmps = append(cmps, cmp)
	}
	cmp := cmps[0]

	u := ui{env: env, g: g}
	var counts review.DiffCounts
	switch {
	case o.output != "":
		u.Progress("diff: counting the changes")
		if counts, err = review.Diff(ctx, cmps, fromRev, toRev, nil, nil); err != nil {
			return err
		}
		wb := review.DiffWorkbook(ctx, cmp, from, to, counts)
		res, werr := report.WriteFile(ctx, env.path(o.output), format, wb, report.Options{Progress: func(sheet string, rows int64) {
			u.Progress("diff: %s: %d rows", sheet, rows)
		}})
		u.ProgressDone()
		if werr != nil {
			return werr
		}
		if err := printDiffOutput(env, g, from, to, counts, o.failOn, res); err != nil {
			return err
		}
	case g.json:
		if counts, err = streamDiffJSON(ctx, env.Stdout, cmps, from, to, o.failOn); err != nil {
			return err
		}
	default:
		if counts, err = streamDiffTable(ctx, env, cmps, fromRev, toRev); err != nil {
			return err
		}
	}
	var parts []string
	for _, c := range review.DiffCategories {
		parts = append(parts, fmt.Sprintf("%d %s", counts[c.Name], c.Name))
	}
	u.Infof("diff %s (%s) -> %s (%s): %s; %d new HIGH", fromRev, from.Store, toRev, to.Store, strings.Join(parts, ", "), counts[review.NewHigh])
	hit, _ := counts.Gate(o.failOn)
	if len(hit) > 0 {
		return &PolicyGateError{Msg: "diff found " + strings.Join(hit, ", ") + " (--fail-on)"}
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// streamDiffTable prints the changes as they come: TSV when piped (one
// header), an aligned table per kind of change on a terminal.
func streamDiffTable(ctx context.Context, env *Env, cmps []*store.Comparison, from, to string) (review.DiffCounts, error) {
	w := bufio.NewWriterSize(env.Stdout, 64<<10)
	header := []string{"CHANGE", "SYSTEM", "GROUP", "USER", "ITEM", "FROM", "TO", "DETAIL", "FROM_EVIDENCE", "TO_EVIDENCE"}
	var buffered [][]string
	flush := func() error {
		if len(buffered) == 0 {
			return nil
		}
		err := writeTable(w, true, header, buffered)
		buffered = nil
		return err
	}
	if !env.StdoutTTY {
		if err := writeTSVRow(w, header); err != nil {
			return nil, err
		}
	}
	counts, err := review.Diff(ctx, cmps, from, to, func(review.DiffCategory) error {
		if env.StdoutTTY {
			return flush()
		}
		return nil
	}, func(_ review.DiffCategory, r []any) error {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = cellString(v)
		}
		if env.StdoutTTY {
			buffered = append(buffered, cells)
			return nil
		}
		return writeTSVRow(w, cells)
	})
	if err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return counts, w.Flush()
}

// streamDiffJSON writes the comparison as one JSON document, each change
// written as it comes (never the whole list in memory):
//
//	{"from": {...}, "to": {...}, "changes": [{...}, ...], "summary": {...}, "failed_on": [...]}
func streamDiffJSON(ctx context.Context, out io.Writer, cmps []*store.Comparison, from, to review.DiffSide, failOn []string) (review.DiffCounts, error) {
	w := bufio.NewWriterSize(out, 64<<10)
	fj, _ := json.Marshal(from)
	tj, _ := json.Marshal(to)
	fmt.Fprintf(w, "{\n  \"from\": %s,\n  \"to\": %s,\n  \"changes\": [", fj, tj)
	n := 0
	counts, err := review.Diff(ctx, cmps, from.Review, to.Review, nil, func(_ review.DiffCategory, r []any) error {
		var b strings.Builder
		b.WriteByte('{')
		for i, c := range review.DiffColumns {
			if i > 0 {
				b.WriteString(", ")
			}
			k, _ := json.Marshal(c)
			v, err := json.Marshal(cellString(r[i]))
			if err != nil {
				return err
			}
			b.Write(k)
			b.WriteString(": ")
			b.Write(v)
		}
		b.WriteByte('}')
		if n > 0 {
			w.WriteByte(',')
		}
		w.WriteString("\n    ")
		w.WriteString(b.String())
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n > 0 {
		w.WriteString("\n  ")
	}
	hit, _ := counts.Gate(failOn)
	if hit == nil {
		hit = []string{}
	}
	sj, _ := json.Marshal(counts)
	hj, _ := json.Marshal(hit)
	fmt.Fprintf(w, "],\n  \"summary\": %s,\n  \"failed_on\": %s\n}\n", sj, hj)
	return counts, w.Flush()
}

// printDiffOutput reports a written diff workbook: its path on stdout, or
// with --json the sides, the counts and the files.
func printDiffOutput(env *Env, g *globalOptions, from, to review.DiffSide, counts review.DiffCounts, failOn []string, res report.Result) error {
	if !g.json {
		for _, f := range res.Files {
			fmt.Fprintln(env.Stdout, f.Path)
		}
		return nil
	}
	type file struct {
		Path   string `json:"path"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}
	files := []file{}
	for _, f := range res.Files {
		files = append(files, file{f.Path, f.Size, f.SHA256})
	}
	hit, _ := counts.Gate(failOn)
	if hit == nil {
		hit = []string{}
	}
	return writeJSON(env.Stdout, map[string]any{"from": from, "to": to, "summary": counts, "files": files, "failed_on": hit})
}
