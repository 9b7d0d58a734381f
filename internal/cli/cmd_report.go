package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/report"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/store"
)

type reportOptions struct {
	review     string
	output     string
	format     string
	force      bool
	noRecord   bool
	windowDays int
}

const reportLong = `Write the auditor workbook of a review: a Summary, then one sheet per named
query (Completeness, Access, Findings, Decisions, Revocations, Review quality,
Evidence) and
the Queries sheet with the full SQL of each, so any figure can be re-run with
'uar query NAME'. Every row carries the evidence_id of the ledger row it came
from ('uar evidence show ID --raw' prints that row's raw bytes).

The Summary gives the review's period, the population and coverage per system,
pending accesses, HIGH findings open vs addressed, revocations (done, failed,
already absent) with the median and worst time from decision to verified
removal, the exceptions applied, the ledger head the workbook was built from
and the newest head anchored outside (on the Confluence page), the verify
result at build time, the tool version, and the runs and actors involved.
Review quality shows, per system and reviewer, first-hand timing (publish to
first decision and to completion), the share certified, CERTIFY: all vs one
by one, HIGH findings certified with a justification, decisions after the
deadline (the first ticket + review.window_days; 30 days when no config says
otherwise, and the Summary says which) and rejected lines.

report needs nothing but the store: no config, no secrets, no network. It
opens the store read-only and verifies it first: a store that fails verify is
refused (exit 3) unless --force, and then the Summary says so. The workbook is
a pure function of the store: built twice it is byte-identical. When the store
is writable, the report then appends one ledger row recording the file's
sha256 (run id "report"; reports leave these rows out of what they read);
on a read-only copy that is skipped with a warning, and --no-record skips it.

Formats: xlsx (default; from -o's extension when it has one), csv (one file
per sheet, in a folder, or a zip when -o ends in .zip), json (one document),
html (one self-contained page that prints to PDF). Values are written as text,
never formulas; in CSV a value starting with = + - @ tab or CR is prefixed
with an apostrophe.

Examples:
  uar report --db uar.db --review 2026-Q4 -o uar-2026-Q4.xlsx
  uar report --db /media/usb/uar.db -o 2026-Q4.html --no-record
  uar report -o 2026-Q4.zip --format csv --json

EXIT STATUS
  0  written
  1  the workbook could not be written
  2  usage error, no such store, or the review has no snapshot
  3  the store fails verify (use --force to build the workbook anyway)`

func newReportCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write the auditor workbook of a review (XLSX, CSV, JSON or HTML)",
		Long:  reportLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runReport(c.Context(), env, g, o, c.Flags().Changed("window-days"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.review, "review", "", "review label (default: the current quarter, e.g. 2026-Q4)")
	f.StringVarP(&o.output, "output", "o", "", "the file to write (a folder for --format csv without .zip)")
	f.StringVar(&o.format, "format", "", "xlsx, csv, json or html (default: from -o's extension, else xlsx)")
	f.BoolVar(&o.force, "force", false, "build the workbook even if the store fails verify (the Summary says so)")
	f.BoolVar(&o.noRecord, "no-record", false, "do not append the report's sha256 to the ledger")
	f.IntVar(&o.windowDays, "window-days", 0, "days from the first ticket to the deadline (default: review.window_days, else 30)")
	return cmd
}

func runReport(ctx context.Context, env *Env, g *globalOptions, o *reportOptions, windowGiven bool) error {
	if o.output == "" {
		return usageErrorf("-o FILE is required")
	}
	format, err := reportFormat(o.format, o.output)
	if err != nil {
		return err
	}
	rev, err := resolveReview(env, o.review)
	if err != nil {
		return err
	}
	days, source, err := windowDays(env, g, o.windowDays, windowGiven)
	if err != nil {
		return err
	}
	u := ui{env: env, g: g}
	st, err := openReadOnly(ctx, env, g)
	if err != nil {
		return err
	}
	res, rerr := review.Report(ctx, st, review.ReportOptions{Review: rev, Path: env.path(o.output), Format: format, Force: o.force,
		WindowDays: days, WindowSource: source, ToolVersion: env.Version, Out: u})
	path := st.Path()
	st.Close()
	if res != nil {
		for _, p := range res.Problems {
			fmt.Fprintf(env.Stderr, "uar: verify: %s\n", safeText(p.String()))
		}
	}
	if rerr != nil {
		return rerr
	}
	var recorded *store.EvidenceRow
	if !o.noRecord {
		recorded = recordReport(ctx, env, u, path, rev, res)
	}
	return printReport(env, g, u, res, recorded)
}

// reportFormat is --format, or -o's extension, or xlsx; a --format that
// contradicts the extension is a usage error.
func reportFormat(flag, output string) (report.Format, error) {
	byExt := report.FileFormat(output)
	if flag == "" {
		if byExt == "" {
			return report.XLSX, nil
		}
		return byExt, nil
	}
	f, err := report.ParseFormat(flag)
	if err != nil {
		return "", usageErrorf("--format: %v", err)
	}
	if byExt != "" && byExt != f {
		return "", usageErrorf("--format %s does not match -o %s (a %s file)", f, output, byExt)
	}
	return f, nil
}

// windowDays is --window-days, else review.window_days from the config
// (file or environment), else the default; source says which, for the
// Summary. A config is read only if one is there: report needs none.
func windowDays(env *Env, g *globalOptions, flag int, given bool) (int, string, error) {
	if given {
		if flag < 1 {
			return 0, "", usageErrorf("--window-days %d: must be at least 1", flag)
		}
		return flag, "--window-days", nil
	}
	cfg, err := loadConfig(env, g, false)
	if err != nil {
		return 0, "", err
	}
	switch {
	case cfg.File != "":
		return cfg.Review.WindowDays, "review.window_days in " + cfg.File, nil
	case env.Getenv(envKey("review.window_days")) != "":
		return cfg.Review.WindowDays, envKey("review.window_days"), nil
	}
	return review.DefaultWindowDays, "default: no config was read", nil
}

// recordReport appends the report's ledger row when the store can be
// written; a read-only store (an auditor's copy, read-only media) is not
// an error: the workbook stands on its own, and the warning says why its
// hash is not in the ledger.
func recordReport(ctx context.Context, env *Env, u ui, path, rev string, res *review.ReportResult) *store.EvidenceRow {
	w, err := store.Open(ctx, path, store.Options{Now: env.Now})
	if err != nil {
		u.Warnf("the store cannot be written (%v): the report's sha256 is not recorded in its ledger (--no-record silences this)", err)
		return nil
	}
	defer w.Close()
	l := &evidence.Ledger{Store: w, RunID: review.ReportRunID, Review: rev, Actor: actor(env)}
	row, err := review.RecordReport(ctx, l, res)
	if err != nil {
		if errors.Is(err, store.ErrReadOnly) || strings.Contains(err.Error(), "readonly") {
			u.Warnf("the store is read-only: the report's sha256 is not recorded in its ledger (--no-record silences this)")
		} else {
			u.Warnf("the report's sha256 could not be recorded in the ledger: %v", err)
		}
		return nil
	}
	return &row
}

func printReport(env *Env, g *globalOptions, u ui, res *review.ReportResult, recorded *store.EvidenceRow) error {
	type file struct {
		Path   string `json:"path"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}
	type sheet struct {
		Name  string   `json:"name"`
		Rows  int64    `json:"rows"`
		Parts []string `json:"parts"`
	}
	type rec struct {
		Seq int64  `json:"seq"`
		ID  string `json:"id"`
	}
	files := []file{}
	for _, f := range res.Files {
		files = append(files, file{f.Path, f.Size, f.SHA256})
	}
	sheets := []sheet{}
	for _, s := range res.Sheets {
		parts := s.Parts
		if parts == nil {
			parts = []string{}
		}
		sheets = append(sheets, sheet{s.Name, s.Rows, parts})
	}
	problems := []string{}
	for _, p := range res.Problems {
		problems = append(problems, p.String())
	}
	var r *rec
	if recorded != nil {
		r = &rec{recorded.Seq, recorded.ID}
	}
	if g.json {
		return writeJSON(env.Stdout, map[string]any{
			"review": res.Review, "format": res.Format, "output": res.Path, "sha256": res.SHA256, "files": files,
			"sheets": sheets, "ledger_head": res.Head.String(), "verified": res.Verified, "problems": problems,
			"anchor": res.Anchor, "anchor_ok": res.AnchorOK, "recorded": r,
		})
	}
	for _, f := range files {
		fmt.Fprintln(env.Stdout, f.Path)
	}
	var parts []string
	for _, s := range sheets {
		parts = append(parts, fmt.Sprintf("%s %d", s.Name, s.Rows))
	}
	u.Infof("report %s (%s) from ledger head %s: %s", res.Review, res.Format, res.Head, strings.Join(parts, ", "))
	u.Infof("sha256 %s", res.SHA256)
	if r != nil {
		u.Infof("recorded as ledger row %d (%s)", r.Seq, r.ID)
	}
	return nil
}
