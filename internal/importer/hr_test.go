package importer

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

func wantHR(lines ...int) []model.HRRecord {
	return []model.HRRecord{
		{Line: lines[0], Email: "alice.nguyen@company.com", EmployeeID: "1001", Status: model.HRActive,
			Department: "Finance", Title: "Senior Accountant", ManagerEmail: "nina.patel@company.com"},
		{Line: lines[1], Email: "bob.smith@company.com", EmployeeID: "1002", Status: model.HRTerminated,
			TerminationDate: time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC), Department: "Finance", Title: "Financial Analyst", ManagerEmail: "nina.patel@company.com"},
		{Line: lines[2], EmployeeID: "1006", Status: model.HRTerminated,
			TerminationDate: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), Department: "Finance", Title: "AP Clerk"},
		{Line: lines[3], Email: "nina.patel@company.com", EmployeeID: "1009", Status: model.HRLeave,
			Department: "Finance", Title: "Director of Finance Systems"},
	}
}

func TestParseHRFormats(t *testing.T) {
	for name, lines := range map[string][]int{"hr.csv": {2, 3, 4, 5}, "hr.json": {2, 4, 6, 8}} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			for _, fn := range []string{name, "export.txt"} { // by extension, then by sniffing
				got, err := ParseHR(fn, data)
				if err != nil {
					t.Fatalf("%s: %v", fn, err)
				}
				if want := wantHR(lines...); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: got\n%+v\nwant\n%+v", fn, got, want)
				}
			}
		})
	}
}

func TestParseHRVariants(t *testing.T) {
	tests := []struct {
		name, file, src string
		n               int
	}{
		{"minimal", "x.csv", "email,status\na@x.com,active\n", 1},
		{"semicolons and BOM", "x.csv", "\xef\xbb\xbfemail;status;title\r\na@x.com;Leave;Boss, Chief\r\n", 1},
		{"future termination of an active person", "x.csv", "email,status,termination_date\na@x.com,active,2027-01-15\n", 1},
		{"employee id only", "x.json", `[{"employee_id": "42", "status": "active"}]`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHR(tt.file, []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.n {
				t.Fatalf("%+v", got)
			}
		})
	}
}

// TestParseHRErrors: a file with bad rows yields no records and names
// every bad line.
func TestParseHRErrors(t *testing.T) {
	tests := []struct {
		name, file, src string
		want            []string
	}{
		{"bad rows csv", "hr.csv", "email,employee_id,status,termination_date,manager_email\n" +
			"a@x.com,1,active,,\n" + // 2 fine
			"b@x.com,2,fired,,\n" + // 3
			"c@x.com,3,terminated,,\n" + // 4
			"d@x.com,4,terminated,31/10/2026,\n" + // 5
			"A@X.com,5,active,,\n" + // 6 duplicate email of 2
			"e@x.com,1,active,,\n" + // 7 duplicate id of 2
			",,active,,\n" + // 8
			"f@,6,,,\n" + // 9
			"g@x.com,7,leave,,Boss <b@x.com>\n", // 10
			[]string{
				`hr.csv:3: status: "fired" is not active, terminated or leave`,
				`hr.csv:4: termination_date: required when status is terminated`,
				`hr.csv:5: termination_date: "31/10/2026" is not a date in YYYY-MM-DD form`,
				`hr.csv:6: email: duplicate person: a@x.com is already on line 2`,
				`hr.csv:7: employee_id: duplicate person: employee_id 1 is already on line 2`,
				`hr.csv:8: email: required (or an employee_id): a row with neither matches nobody`,
				`hr.csv:9: email: "f@" is not an e-mail address`,
				`hr.csv:9: status: required (active, terminated or leave)`,
				`hr.csv:10: manager_email: "Boss <b@x.com>" is not an e-mail address`,
			}},
		{"bad header", "hr.csv", "e-mail,status,Status,user_email\n", []string{
			`hr.csv:1: status: header: duplicate column (columns 2 and 3)`,
			`hr.csv:1: header: unknown column(s) "e-mail", "user_email" (allowed: email, employee_id, status, termination_date, department, title, manager_email)`,
			`hr.csv:1: header: missing required column email`,
		}},
		{"empty", "hr.csv", "", []string{`hr.csv:1: empty file: want a header row with email and status`}},
		{"header only", "hr.csv", "email,status\n", []string{`hr.csv:0: no data rows: an empty HR listing is more likely a failed export than a company with no people`}},
		{"json", "hr.json", `[
  {"email": "a@x.com", "status": "active", "status": "terminated"},
  {"email": "b@x.com", "status": 1},
  {"email": "c@x.com", "status": "active", "salary": "1"},
  []
]`, []string{
			`hr.json:2: [0].status: duplicate key "status" (an object must give each key once)`,
			`hr.json:3: [1].status: want a string, got 1`,
			`hr.json:4: [2]: unknown key(s) "salary" (allowed: email, employee_id, status, termination_date, department, title, manager_email)`,
			`hr.json:5: [3]: want an object with email and status`,
		}},
		{"not utf8", "hr.csv", "email,status\na@x.com,active\nb@x.com,act\xffive\n", []string{
			`hr.csv:3: not valid UTF-8 (byte 0xff at column 12); save the export as UTF-8`,
		}},
		{"long value", "hr.csv", "email,status,title\na@x.com,active," + strings.Repeat("t", MaxFieldLen+1) + "\n", []string{
			`hr.csv:2: title: value is 4097 bytes, more than the 4096 allowed`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := ParseHR(tt.file, []byte(tt.src))
			if recs != nil {
				t.Errorf("records returned with an error: %+v", recs)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err %T %v, want *ParseError", err, err)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseHRProblemsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("email,status\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "p%d@x.com,gone\n", i)
	}
	_, err := ParseHR("big.csv", []byte(b.String()))
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Problems) != MaxProblems || pe.More != 1000-MaxProblems {
		t.Fatalf("err %v", err)
	}
}

// FuzzParseHR: no input panics; a failure returns no records and a
// *ParseError; a success has a status for every record and no duplicate.
func FuzzParseHR(f *testing.F) {
	for _, name := range []string{"hr.csv", "hr.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(name, data)
	}
	f.Add("x.csv", []byte("email,status\na@x.com,active\na@x.com,leave\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		recs, err := ParseHR(name, data)
		if err != nil {
			var pe *ParseError
			if recs != nil || !errors.As(err, &pe) {
				t.Fatalf("err %v with %d records", err, len(recs))
			}
			return
		}
		seen := map[string]bool{}
		for _, r := range recs {
			if r.Status == "" || (r.Email == "" && r.EmployeeID == "") {
				t.Fatalf("incomplete record %+v", r)
			}
			if r.Email != "" {
				if seen[r.Email] {
					t.Fatalf("duplicate %s", r.Email)
				}
				seen[r.Email] = true
			}
		}
	})
}
