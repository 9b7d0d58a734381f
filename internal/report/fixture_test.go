package report

import (
	"fmt"
	"time"
)

// created is the data time of every test workbook.
var created = time.Date(2026, 12, 31, 17, 4, 5, 0, time.UTC)

// hostile are values an attacker could plant in a user attribute (a
// department, a title, a group description) to run something in the
// auditor's spreadsheet (CWE-1236), plus markup for the HTML.
var hostile = []string{
	`=HYPERLINK("http://x","y")`,
	`+cmd|' /C calc'!A0`,
	`@SUM(1)`,
	`-2+3`,
	"\t=1+1",
	"\r=1+1",
	`＝1+1`,
	`<script>alert(1)</script>`,
	`"quoted", with comma`,
}

var accessColumns = []Column{
	{Name: "review"},
	{Name: "system"},
	{Name: "group_name"},
	{Name: "user_login"},
	{Name: "user_email"},
	{Name: "department"},
	{Name: "title"},
	{Name: "user_type"},
	{Name: "user_status"},
	{Name: "last_login", Kind: Time},
	{Name: "membership_source"},
	{Name: "decision"},
	{Name: "decided_by"},
	{Name: "decided_at", Kind: Time},
	{Name: "revocation_status"},
	{Name: "evidence_id", Kind: ID},
}

var systems = []string{"NetSuite", "Workday", "Salesforce", "Coupa"}
var departments = []string{"Finance", "IT", "Sales", "HR", "Procurement", "Engineering"}
var titles = []string{"Accountant", "IT Manager", "Account Executive", "HR Partner", "Buyer", "Software Engineer"}

// accessRow fills row (16 values) with the i-th generated membership, the
// way a *sql.Rows scan would: strings for text and times, "" for NULL.
func accessRow(row []any, i int) {
	sys := systems[i%len(systems)]
	row[0] = "2026-Q4"
	row[1] = sys
	row[2] = fmt.Sprintf("SOX-%s-%s", sys, [...]string{"Admins", "Users", "Approvers"}[i%3])
	row[3] = fmt.Sprintf("user%06d@acme.com", i/3)
	row[4] = row[3]
	row[5] = departments[i%len(departments)]
	row[6] = titles[(i/7)%len(titles)]
	row[7] = [...]string{"Employee", "Employee", "Contractor", "Service"}[i%4]
	row[8] = [...]string{"ACTIVE", "ACTIVE", "ACTIVE", "SUSPENDED"}[i%4]
	if i%11 == 0 {
		row[9] = ""
	} else {
		row[9] = created.Add(-time.Duration(i%500) * time.Hour).Format(time.RFC3339)
	}
	row[10] = [...]string{"direct", "rule", "app"}[i%3]
	switch i % 5 {
	case 0:
		row[11], row[12], row[13], row[14] = "revoked", "nina.patel@acme.com", created.Add(-48*time.Hour).Format(time.RFC3339), "done"
	case 1, 2:
		row[11], row[12], row[13], row[14] = "certified", "nina.patel@acme.com", created.Add(-72*time.Hour).Format(time.RFC3339), ""
	default:
		row[11], row[12], row[13], row[14] = "pending", "", "", ""
	}
	row[15] = fmt.Sprintf("%064x", uint64(i)*0x9E3779B97F4A7C15)
}

// accessSheet streams n generated memberships, reusing one row slice.
func accessSheet(name string, n int) Sheet {
	return Sheet{Name: name, Columns: accessColumns, Rows: func(yield func([]any) error) error {
		row := make([]any, len(accessColumns))
		for i := range n {
			accessRow(row, i)
			if err := yield(row); err != nil {
				return err
			}
		}
		return nil
	}}
}

// sliceRows streams fixed rows.
func sliceRows(rows [][]any) RowFunc {
	return func(yield func([]any) error) error {
		for _, r := range rows {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// sampleWorkbook is a small auditor workbook: a summary, access with
// planted hostile values, findings with every risk, and a queries sheet.
func sampleWorkbook(accessRows int) *Workbook {
	access := accessSheet("Access", accessRows)
	inner := access.Rows
	access.Rows = func(yield func([]any) error) error {
		row := make([]any, len(accessColumns))
		for i, h := range hostile {
			accessRow(row, 1_000_000+i)
			row[5], row[6] = h, h // department, title
			if err := yield(row); err != nil {
				return err
			}
		}
		return inner(yield)
	}
	findings := Sheet{
		Name: "Findings",
		Columns: []Column{
			{Name: "review"}, {Name: "rule_id", Kind: ID}, {Name: "risk", Kind: Risk}, {Name: "system"},
			{Name: "user_login"}, {Name: "group_name"}, {Name: "title"}, {Name: "detail", Wrap: true, Width: 60},
			{Name: "source"}, {Name: "evidence_id", Kind: ID},
		},
		Rows: sliceRows([][]any{
			{"2026-Q4", "SOD-IT-ERP-ADMIN", "HIGH", "NetSuite", "dave.kim@acme.com", "SOX-NetSuite-Admins", "IT Manager",
				"IT Manager in SOX-NetSuite-Admins: IT staff must not administer the ERP used by Finance (segregation of duties). Recommend revoking SOX-NetSuite-Admins.",
				"rule", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
			{"2026-Q4", "dormant", "MEDIUM", "Workday", "ivan.petrov@acme.com", "SOX-Workday-Users", "Analyst",
				"No login for 213 days (last 2026-05-31).", "rule", "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"},
			{"2026-Q4", "contractor", "LOW", "Coupa", "erin.li@acme.com", "SOX-Coupa-Approvers", "Contractor",
				"Contractor with approval rights.", "ai", "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"},
			{"2026-Q4", "no_hr_record", "medium", "Coupa", "svc-sync@acme.com", "SOX-Coupa-Users", "",
				hostile[0], "rule", "d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35"},
		}),
	}
	queries := Sheet{
		Name:    "Queries",
		Columns: []Column{{Name: "name", Kind: ID}, {Name: "sql", Kind: ID, Wrap: true, Width: 100}},
		Rows: sliceRows([][]any{
			{"access", "-- access: the review's access population\nSELECT review, system, group_name, user_login\nFROM v_access\nWHERE review = :review\nORDER BY system, group_name, user_login;"},
		}),
	}
	summary := SummarySheet("Summary", []Entry{
		{Section: "Review", Key: "review", Value: "2026-Q4"},
		{Section: "Review", Key: "period", Value: "2026-10-01 to 2026-12-31"},
		{Section: "Review", Key: "built from ledger head", Value: "1234:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		{Section: "Review", Key: "data as of", Value: created},
		{Section: "Population", Key: "NetSuite memberships", Value: 1200},
		{Section: "Population", Key: "Workday memberships", Value: int64(800)},
		{Section: "Coverage", Key: "decided / total", Value: "1,650 / 2,000 (82.5%)"},
		{Section: "Coverage", Key: "median hours to verified removal", Value: 3.25},
		{Section: "Coverage", Key: "hostile note", Value: hostile[1]},
		{Section: "Coverage", Key: "never anchored", Value: nil},
	})
	return &Workbook{
		Title:   "UAR 2026-Q4 — auditor workbook",
		Creator: "uar test",
		Created: created,
		Sheets:  []Sheet{summary, access, findings, queries},
	}
}
