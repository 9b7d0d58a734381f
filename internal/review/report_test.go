package review

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/report"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/store"
	"github.com/uar-dev/uar/queries"
)

// hostile are values an attacker could plant in an Okta profile to run
// something in the auditor's spreadsheet (CWE-1236).
var hostile = []string{`=HYPERLINK("http://x","y")`, `+cmd|' /C calc'!A0`, `@SUM(1)`}

// auditorFixture is a review the whole way through, on the reference org
// with hostile attributes planted: snapshot, score (the example policy:
// four HIGH findings), publish (tickets at Jira's time 2026-12-01T09:00Z,
// so the deadline is 2026-12-31T09:00Z), NetSuite decided by its owner
// (CERTIFY: all, with her own access rejected as self-review; dave
// revoked; ivan certified with a justification; carol certified after the
// deadline) and a stranger's rejected line, Salesforce certified, Workday
// untouched; dave's removal proven two hours after the decision.
func auditorFixture(t *testing.T) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	org := sandbox.ReferenceOrg()
	for i := range org.Users {
		switch org.Users[i].Login {
		case "alice.nguyen@company.com":
			org.Users[i].Department = hostile[0]
		case "bob.smith@company.com":
			org.Users[i].Title = hostile[1]
		case "grace.lee@company.com":
			org.Users[i].Department = hostile[2]
		}
	}
	st, sb, systems := testStore(t), startSandbox(t, org), sandbox.ReferenceSystems()
	snapshotAndScore(t, st, sb, rev, systems)
	s, _ := newStep(t, st, "publish", rev)
	if _, err := Publish(ctx, s, publishOpts(sandboxTargets(s, sb), systems)); err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{}
	rs, err := st.CurrentReviewers(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Role == store.RoleOwner {
			owner[r.System] = r.AccountID
		}
	}
	if owner["NetSuite"] == "" || owner["Salesforce"] == "" {
		t.Fatalf("reviewers %+v", rs)
	}
	ns := owner["NetSuite"]
	d := func(action, who, group, by, at, status string, all bool, why string) store.Decision {
		uid := ""
		for _, u := range org.Users {
			if u.Email == who {
				uid = u.ID
			}
		}
		return store.Decision{Action: action, Target: who, GroupName: group, UserID: uid, DecidedBy: by, DecidedByName: by,
			DecidedAt: at, Status: status, CertifyAll: all, Justification: why, JiraKey: "UAR-1", CommentID: "100", Line: action + ": " + who}
	}
	decide(t, st, "NetSuite",
		d("CERTIFY", "alice.nguyen@company.com", "SOX-NetSuite-Users", ns, "2026-12-02T10:00:00Z", model.DecisionAccepted, true, ""),
		d("CERTIFY", "bob.smith@company.com", "SOX-NetSuite-Users", ns, "2026-12-02T10:00:00Z", model.DecisionAccepted, true, ""),
		d("CERTIFY", "frank.miller@company.com", "SOX-NetSuite-Users", ns, "2026-12-02T10:00:00Z", model.DecisionAccepted, true, ""),
		d("CERTIFY", "nina.patel@company.com", "SOX-NetSuite-Users", ns, "2026-12-02T10:00:00Z", model.DecisionRejected, true, ""),
		d("REVOKE", "dave.kim@company.com", "SOX-NetSuite-Admins", ns, "2026-12-03T10:00:00Z", model.DecisionAccepted, false, ""),
		d("CERTIFY", "ivan.petrov@company.com", "SOX-NetSuite-Users", ns, "2026-12-04T10:00:00Z", model.DecisionAccepted, false, "covering the ERP upgrade"),
		d("CERTIFY", "carol.wong@company.com", "SOX-NetSuite-Admins", ns, "2027-01-02T10:00:00Z", model.DecisionAccepted, false, ""),
		d("CERTIFY", "alice.nguyen@company.com", "SOX-NetSuite-Users", "acct-stranger", "2026-12-05T10:00:00Z", model.DecisionRejected, false, ""),
	)
	decide(t, st, "Salesforce",
		d("CERTIFY", "grace.lee@company.com", "SOX-Salesforce-Admins", owner["Salesforce"], "2026-12-06T10:00:00Z", model.DecisionAccepted, true, ""))
	s, _ = newStep(t, st, "revoke", rev)
	err = st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := s.Ledger.Derive(ctx, tx, "revoke", func(evID string) (evidence.Derived, error) {
			id, err := tx.InsertRevocation(ctx, store.Revocation{Review: rev, RunID: s.Run.ID, System: "NetSuite", UserID: "00uref00000000000004",
				UserLogin: "dave.kim@company.com", GroupID: "00gref00000000000001", GroupName: "SOX-NetSuite-Admins", Status: "done",
				RequestedBy: ns, DecidedAt: "2026-12-03T10:00:00Z", ExecutedAt: "2026-12-03T11:59:00Z", VerifiedAt: "2026-12-03T12:00:00Z",
				OktaRequestID: "req-1", LatencySeconds: 7200}, evID)
			return evidence.Derived{Scopes: []evidence.Scope{{Table: "revocations", Scope: id}}}, err
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, st.Path()
}

// decide records one decisions pass of rev for system with rows as given
// (status included), as parse-decisions would.
func decide(t *testing.T, st *store.Store, system string, rows ...store.Decision) {
	t.Helper()
	decideIn(t, st, rev, system, rows...)
}

func decideIn(t *testing.T, st *store.Store, rev, system string, rows ...store.Decision) {
	t.Helper()
	ctx := context.Background()
	s, _ := newStep(t, st, "parse-decisions", rev)
	err := st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := s.Ledger.Derive(ctx, tx, "decisions", func(evID string) (evidence.Derived, error) {
			p := store.DecisionPass{Review: rev, PassID: s.Run.ID + "-" + system, RunID: s.Run.ID, System: system, Source: store.DecisionFromJira, Lines: len(rows)}
			for i := range rows {
				rows[i].System = system
			}
			err := tx.InsertDecisionPass(ctx, p, rows, evID)
			return evidence.Derived{Scopes: []evidence.Scope{{Table: "decisions", Scope: p.PassID}, {Table: "decision_passes", Scope: p.PassID}}}, err
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readOnly reopens the store file as an auditor's command does.
func readOnly(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), path, store.Options{ReadOnly: true, Now: testClock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func buildReport(t *testing.T, st *store.Store, format report.Format, path string, force bool) (*ReportResult, error) {
	t.Helper()
	return Report(context.Background(), st, ReportOptions{Review: rev, Path: path, Format: format, Force: force,
		WindowDays: 30, WindowSource: "test", ToolVersion: "test", Writer: report.Options{HTMLMaxRows: -1}})
}

func scalar(t *testing.T, st *store.Store, q string, args ...any) int64 {
	t.Helper()
	res, err := st.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res.Rows[0][0].(int64)
}

// jsonSheets reads a JSON workbook: each sheet's rows as text.
func jsonSheets(t *testing.T, path string) map[string][][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Sheets []struct {
			Name string  `json:"name"`
			Rows [][]any `json:"rows"`
		} `json:"sheets"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][][]string{}
	for _, s := range doc.Sheets {
		rows := [][]string{}
		for _, r := range s.Rows {
			cells := make([]string, len(r))
			for i, v := range r {
				if v != nil {
					cells[i] = fmt.Sprint(v)
				}
			}
			rows = append(rows, cells)
		}
		out[s.Name] = rows
	}
	return out
}

// summaryValue is the value of a Summary item (from the JSON workbook).
func summaryValue(t *testing.T, sheets map[string][][]string, item string) string {
	t.Helper()
	for _, r := range sheets["Summary"] {
		if r[1] == item {
			return r[2]
		}
	}
	t.Fatalf("no summary item %q", item)
	return ""
}

func TestReportSheetsAreTheViews(t *testing.T) {
	st, path := auditorFixture(t)
	st.Close()
	ro := readOnly(t, path)
	out := filepath.Join(t.TempDir(), "r.json")
	res, err := buildReport(t, ro, report.JSON, out, false)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Anchor == "" || !res.AnchorOK {
		t.Fatalf("verified %v, anchor %q ok %v", res.Verified, res.Anchor, res.AnchorOK)
	}
	want := map[string]int64{
		"Completeness": scalar(t, ro, `SELECT count(*) FROM snapshot_listings l JOIN v_current_snapshots c ON c.snapshot_id = l.snapshot_id WHERE c.review = ?`, rev),
		"Access":       scalar(t, ro, `SELECT count(*) FROM v_access WHERE review = ?`, rev),
		"Findings":     scalar(t, ro, `SELECT count(*) FROM v_findings WHERE review = ?`, rev),
		"Decisions":    scalar(t, ro, `SELECT count(*) FROM v_decisions WHERE review = ?`, rev),
		"Revocations":  scalar(t, ro, `SELECT count(*) FROM v_revocations WHERE review = ?`, rev),
		"Evidence":     scalar(t, ro, `SELECT count(*) FROM v_evidence e JOIN evidence x ON x.seq = e.seq WHERE x.review IN (?, '')`, rev),
	}
	if want["Access"] != 9 || want["Decisions"] != 9 || want["Revocations"] != 1 || want["Findings"] < 4 || want["Completeness"] == 0 {
		t.Fatalf("fixture: %v", want)
	}
	got := map[string]int64{}
	for _, s := range res.Sheets {
		got[s.Name] = s.Rows
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("sheet %s: %d rows, the view has %d", name, got[name], n)
		}
	}
	names := []string{}
	for _, s := range res.Sheets {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "Summary,Completeness,Access,Findings,Decisions,Revocations,Review quality,Evidence,Queries" {
		t.Errorf("sheets %v", names)
	}
	sheets := jsonSheets(t, out)
	// Every Okta members listing was tied out against Okta's own count,
	// and the Summary counts the listings by status.
	members := 0
	cc := func(r []string, name string) string { return r[slices.Index(completenessSheet.cols, name)] }
	for _, r := range sheets["Completeness"] {
		if cc(r, "kind") != "members" {
			continue
		}
		members++
		if cc(r, "status") != "complete" || cc(r, "independent_count") != cc(r, "paged_count") || cc(r, "count_evidence_id") == "" {
			t.Errorf("members listing not tied out: %v", r)
		}
	}
	if members == 0 {
		t.Error("the Completeness sheet has no members listing")
	}
	if got := summaryValue(t, sheets, "listings"); got != fmt.Sprint(want["Completeness"]) {
		t.Errorf("Summary listings = %s, want %d", got, want["Completeness"])
	}
	// Every data row carries its evidence id, a ledger row that exists.
	for _, spec := range dataSheets {
		col := slices.Index(spec.cols, "evidence_id")
		switch spec.name {
		case evidenceSheet.name:
			col = slices.Index(spec.cols, "id")
		case completenessSheet.name:
			col = slices.Index(spec.cols, "snapshot_evidence_id")
		}
		for _, r := range sheets[spec.name] {
			if _, err := ro.EvidenceByID(context.Background(), r[col]); err != nil {
				t.Errorf("%s row %v: evidence_id %q: %v", spec.name, r, r[col], err)
			}
		}
	}
	// Review quality, from first-hand times.
	q := map[string][]string{}
	for _, r := range sheets["Review quality"] {
		q[r[1]+"/"+r[2]] = r
	}
	col := func(r []string, name string) string { return r[slices.Index(qualitySheet.cols, name)] }
	var nina []string
	for k, r := range q {
		if strings.HasPrefix(k, "NetSuite/") && col(r, "reviewer_role") == "owner" {
			nina = r
		}
	}
	if nina == nil {
		t.Fatalf("no NetSuite owner row in %v", q)
	}
	for name, want := range map[string]string{
		"published_at": "2026-12-01T09:00:00Z", "deadline": "2026-12-31T09:00:00Z", "first_decision_at": "2026-12-02T10:00:00Z",
		"hours_to_first_decision": "25", "last_decision_at": "2027-01-02T10:00:00Z", "system_completed_at": "",
		"system_accesses": "7", "system_pending": "1", "accesses_decided": "6", "certified": "5", "revoked": "1",
		"share_certified": "0.833", "by_certify_all": "3", "one_by_one": "3", "high_certified": "2",
		"high_certified_justified": "1", "lines": "7", "after_deadline": "1", "rejected_lines": "1",
	} {
		if got := col(nina, name); got != want {
			t.Errorf("NetSuite owner: %s = %q, want %q", name, got, want)
		}
	}
	stranger := q["NetSuite/acct-stranger"]
	if stranger == nil || col(stranger, "reviewer_role") != "" || col(stranger, "rejected_lines") != "1" || col(stranger, "accesses_decided") != "0" {
		t.Errorf("stranger row %v", stranger)
	}
	if wd := q["Workday/"]; wd == nil || col(wd, "system_pending") != "1" || col(wd, "lines") != "0" {
		t.Errorf("an undecided system must have a row of its own: %v", wd)
	}
	// The Summary's figures.
	for item, want := range map[string]string{
		"decided": "7 of 9 accesses (77.8%)",
		"pending": "2",
		"addressed (an access they name was revoked)":  "1",
		"certified (every access they name certified)": "2",
		"certified with a justification":               "1",
		"still open (pending)":                         "1",
		"done":                                         "1",
		"median decision to verified removal":          "2h 0m",
		"deadline rule":                                "first ticket + 30 days (test)",
		"anchor in this ledger":                        "yes: the row and its hash are present",
	} {
		if got := summaryValue(t, sheets, item); got != want {
			t.Errorf("summary %q = %q, want %q", item, got, want)
		}
	}
	if got := summaryValue(t, sheets, "verify at build time"); !strings.HasPrefix(got, "ok") {
		t.Errorf("verify line %q", got)
	}
	// The Queries sheet holds the SQL of every query used.
	for _, r := range sheets["Queries"] {
		if !strings.Contains(r[4], "SELECT") {
			t.Errorf("query %s: no SQL", r[0])
		}
	}
	if len(sheets["Queries"]) < len(dataSheets)+5 {
		t.Errorf("%d queries listed", len(sheets["Queries"]))
	}
}

// The same store gives byte-identical files in every format, also after
// the report recorded its own ledger row; that row holds the file's sha256
// and the store still verifies.
func TestReportRebuildIsByteIdentical(t *testing.T) {
	st, path := auditorFixture(t)
	dir := t.TempDir()
	ctx := context.Background()
	for _, f := range []report.Format{report.XLSX, report.JSON, report.HTML, report.CSV} {
		name := map[report.Format]string{report.XLSX: "r.xlsx", report.JSON: "r.json", report.HTML: "r.html", report.CSV: "r.zip"}[f]
		first := filepath.Join(dir, "1-"+name)
		res, err := buildReport(t, st, f, first, false)
		if err != nil {
			t.Fatal(err)
		}
		l := &evidence.Ledger{Store: st, RunID: ReportRunID, Review: rev, Actor: "auditor"}
		row, err := RecordReport(ctx, l, res)
		if err != nil {
			t.Fatal(err)
		}
		b1, _ := os.ReadFile(first)
		sum := sha256.Sum256(b1)
		if row.ResultHash != hex.EncodeToString(sum[:]) || row.BlobHash != "" || row.Kind != evidence.KindFile || row.RunID != ReportRunID {
			t.Fatalf("%s: recorded %+v, file sha256 %x", f, row, sum)
		}
		second := filepath.Join(dir, "2-"+name)
		if _, err := buildReport(t, st, f, second, false); err != nil {
			t.Fatal(err)
		}
		b2, _ := os.ReadFile(second)
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s: the rebuild differs (%d vs %d bytes)", f, len(b1), len(b2))
		}
	}
	if sum, err := evidence.Verify(ctx, readOnly(t, path), evidence.Options{}); err != nil {
		t.Fatalf("verify after recording reports: %v %v", err, sum.Problems)
	}
}

// A store that fails verify is refused; --force builds it and the Summary
// says so first.
func TestReportRefusesTamperedStore(t *testing.T) {
	st, path := auditorFixture(t)
	st.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE snapshot_users SET department = 'Finance' WHERE login = 'dave.kim@company.com'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro := readOnly(t, path)
	out := filepath.Join(t.TempDir(), "r.json")
	res, err := buildReport(t, ro, report.JSON, out, false)
	if !errors.Is(err, evidence.ErrTampered) || res == nil || len(res.Problems) == 0 {
		t.Fatalf("err %v, result %+v: want ErrTampered with the problems", err, res)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a refused report wrote its file")
	}
	if _, err := buildReport(t, ro, report.JSON, out, true); err != nil {
		t.Fatal(err)
	}
	sheets := jsonSheets(t, out)
	first := sheets["Summary"][0]
	if first[1] != "verify at build time" || !strings.HasPrefix(first[2], "FAILED") || !strings.Contains(first[2], "--force") {
		t.Fatalf("forced summary starts with %v", first)
	}
	if !strings.Contains(sheets["Summary"][1][2], "snapshot_users") {
		t.Errorf("the problem is not listed: %v", sheets["Summary"][1])
	}
}

// XLSX, CSV, JSON and HTML carry the same rows, and the planted formulas
// stay inert in each: text cells in XLSX (never a formula), a leading
// apostrophe in CSV, raw strings in JSON, escaped text in HTML.
func TestReportFormatsAgreeAndFormulasAreInert(t *testing.T) {
	st, _ := auditorFixture(t)
	dir := t.TempDir()
	paths := map[report.Format]string{}
	for f, name := range map[report.Format]string{report.XLSX: "r.xlsx", report.JSON: "r.json", report.HTML: "r.html", report.CSV: "r.zip"} {
		paths[f] = filepath.Join(dir, name)
		if _, err := buildReport(t, st, f, paths[f], false); err != nil {
			t.Fatal(err)
		}
	}
	if keep := os.Getenv("UAR_REPORT_SAMPLES"); keep != "" {
		// for looking at the files by eye (LibreOffice, a browser)
		for _, p := range paths {
			if err := os.WriteFile(filepath.Join(keep, filepath.Base(p)), mustRead(t, p), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	text := []string{"system", "group_name", "user_login", "department", "title", "evidence_id"} // compared everywhere
	idx := make([]int, len(text))
	for i, c := range text {
		idx[i] = slices.Index(accessSheet.cols, c)
	}
	pick := func(rows [][]string) []string {
		var out []string
		for _, r := range rows {
			var cells []string
			for _, i := range idx {
				cells = append(cells, r[i])
			}
			out = append(out, strings.Join(cells, "|"))
		}
		return out
	}
	want := pick(jsonSheets(t, paths[report.JSON])["Access"])
	if len(want) != 9 {
		t.Fatalf("JSON Access rows: %d", len(want))
	}
	joined := strings.Join(want, "\n")
	for _, h := range hostile {
		if !strings.Contains(joined, h) {
			t.Fatalf("JSON lost the raw value %q", h)
		}
	}

	// CSV: the same rows once the apostrophe CSV adds is taken off, and
	// every planted value carries it.
	zr, err := zip.OpenReader(paths[report.CSV])
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var csvRows [][]string
	for _, f := range zr.File {
		if f.Name != "03-access.csv" { // after the Summary and Completeness
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(rc).ReadAll()
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		csvRows = recs[1:]
	}
	if len(csvRows) == 0 {
		t.Fatal("no 03-access.csv in the CSV zip")
	}
	for _, r := range csvRows {
		for _, c := range r {
			for _, h := range hostile {
				if strings.Contains(c, h) && c != "'"+h {
					t.Errorf("CSV cell %q: a formula value must start with an apostrophe", c)
				}
			}
		}
	}
	unquote := func(rows [][]string) [][]string {
		for _, r := range rows {
			for i, c := range r {
				r[i] = strings.TrimPrefix(c, "'")
			}
		}
		return rows
	}
	if got := pick(unquote(csvRows)); !slices.Equal(got, want) {
		t.Errorf("CSV Access rows differ:\n%s\nwant\n%s", strings.Join(got, "\n"), joined)
	}

	// HTML: the same rows, escaped.
	page, _ := os.ReadFile(paths[report.HTML])
	if got := pick(htmlRows(t, string(page), "Access")); !slices.Equal(got, want) {
		t.Errorf("HTML Access rows differ:\n%s", strings.Join(got, "\n"))
	}
	if strings.Contains(string(page), hostile[0]) {
		t.Error("HTML carries an unescaped planted value")
	}

	// XLSX: the same rows; no cell anywhere is a formula.
	f, err := excelize.OpenFile(paths[report.XLSX])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("Access")
	if err != nil {
		t.Fatal(err)
	}
	if got := pick(rows[1:]); !slices.Equal(got, want) {
		t.Errorf("XLSX Access rows differ:\n%s", strings.Join(got, "\n"))
	}
	for _, sheet := range f.GetSheetList() {
		rows, _ := f.GetRows(sheet)
		for r, row := range rows {
			for c := range row {
				cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if formula, _ := f.GetCellFormula(sheet, cell); formula != "" {
					t.Errorf("%s!%s is a formula: %s", sheet, cell, formula)
				}
			}
		}
	}
}

// htmlRows reads the rows of the HTML section whose heading is name.
func htmlRows(t *testing.T, page, name string) [][]string {
	t.Helper()
	start := strings.Index(page, "<h2>"+name+"</h2>")
	if start < 0 {
		t.Fatalf("no section %s", name)
	}
	sec := page[start:]
	sec = sec[:strings.Index(sec, "</section>")]
	body := sec[strings.Index(sec, "<tbody>"):]
	tags := regexp.MustCompile(`<[^>]*>`)
	td := regexp.MustCompile(`(?s)<td(?: class="[a-z]+")?>(.*?)</td>`)
	var rows [][]string
	for _, tr := range regexp.MustCompile(`(?s)<tr>(.*?)</tr>`).FindAllStringSubmatch(body, -1) {
		var cells []string
		for _, m := range td.FindAllStringSubmatch(tr[1], -1) {
			cells = append(cells, html.UnescapeString(tags.ReplaceAllString(m[1], "")))
		}
		rows = append(rows, cells)
	}
	return rows
}

func TestReportUnknownReviewNamesTheReviews(t *testing.T) {
	st, _ := auditorFixture(t)
	_, err := Report(context.Background(), st, ReportOptions{Review: "2025-Q1", Path: filepath.Join(t.TempDir(), "r.xlsx"), Format: report.XLSX})
	var pe *PrerequisiteError
	if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "it has "+rev) {
		t.Fatalf("err %v", err)
	}
}

// The sheet specs name exactly their queries' columns (they are also
// checked when a query runs).
func TestReportSheetColumns(t *testing.T) {
	st := testStore(t)
	for _, s := range dataSheets {
		var got []string
		var args []any
		for _, p := range queries.Get(s.query).Params {
			args = append(args, store.Named(p.Name, "30"))
		}
		err := st.QueryEach(context.Background(), queryText(s.query), args,
			func(cols []string) error { got = cols; return nil }, func([]any) error { return nil })
		if err != nil {
			t.Fatalf("%s: %v", s.query, err)
		}
		if err := s.checkColumns(got); err != nil {
			t.Error(err)
		}
	}
}

func TestDurationAndDigits(t *testing.T) {
	for secs, want := range map[int64]string{45: "45s", 60: "1m", 7200: "2h 0m", 90061: "1d 1h 1m"} {
		if got := duration(secs); got != want {
			t.Errorf("duration(%d) = %q, want %q", secs, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 500735: "500,735", -1234: "-1,234"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q", n, got)
		}
	}
}
