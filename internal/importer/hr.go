package importer

import (
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/uar-dev/uar/internal/model"
)

// HRColumns lists the columns of an HR listing (uar snapshot --import FILE
// --kind hr) in canonical order. Header names are case-insensitive.
//
//	email             required column  the person's work e-mail address
//	employee_id       optional         the HR id; matched against Okta's employee number
//	status            required         active, terminated or leave (any case)
//	termination_date  optional         YYYY-MM-DD, the last day of employment;
//	                                   required when status is terminated
//	department, title optional text
//	manager_email     optional         an e-mail address
//
// Each row needs an email or an employee_id (a row with neither can match
// nobody). A person appears once: a second row with the same email or the
// same employee_id is a problem naming the first line.
var HRColumns = []string{"email", "employee_id", "status", "termination_date", "department", "title", "manager_email"}

var hrFormat = format{columns: HRColumns, required: []string{"email", "status"}, record: (*builder).hrRecord}

// hrState is what an HR parse accumulates.
type hrState struct {
	records []model.HRRecord
	emails  map[string]int // lower(email) -> first line
	ids     map[string]int // employee_id -> first line
}

// ParseHR reads an HR listing, CSV or JSON (chosen as for [Parse]), and
// returns its people in file order, emails in lower case. It returns a
// *ParseError listing every problem (the first MaxProblems, then a count),
// and no records, when the file has any defect: an HR file with one bad
// row stores nothing.
func ParseHR(filename string, data []byte) ([]model.HRRecord, error) {
	data = trimBOM(data)
	b := &builder{file: filename, format: hrFormat, hr: &hrState{emails: map[string]int{}, ids: map[string]int{}}}
	if !b.read(filename, data) {
		return nil, b.err()
	}
	if len(b.hr.records) == 0 {
		b.add(0, "", "no data rows: an empty HR listing is more likely a failed export than a company with no people")
		return nil, b.err()
	}
	return b.hr.records, nil
}

// hrRecord validates one HR row.
func (b *builder) hrRecord(line int, prefix string, vals map[string]string) {
	bad := false
	fieldErr := func(col, format string, args ...any) {
		b.add(line, prefix+col, format, args...)
		bad = true
	}
	r := model.HRRecord{Line: line}
	r.Email = strings.TrimSpace(vals["email"])
	if r.Email != "" && !isAddress(r.Email) {
		fieldErr("email", "%q is not an e-mail address", r.Email)
	}
	r.EmployeeID = strings.TrimSpace(vals["employee_id"])
	if strings.ContainsFunc(r.EmployeeID, unicode.IsControl) {
		fieldErr("employee_id", "%q contains a control character", r.EmployeeID)
	}
	if r.Email == "" && r.EmployeeID == "" {
		fieldErr("email", "required (or an employee_id): a row with neither matches nobody")
	}
	switch st := strings.ToLower(strings.TrimSpace(vals["status"])); st {
	case model.HRActive, model.HRTerminated, model.HRLeave:
		r.Status = st
	case "":
		fieldErr("status", "required (active, terminated or leave)")
	default:
		fieldErr("status", "%q is not active, terminated or leave", clip(vals["status"]))
	}
	if s := strings.TrimSpace(vals["termination_date"]); s != "" {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			fieldErr("termination_date", "%q is not a date in YYYY-MM-DD form", clip(s))
		}
		r.TerminationDate = d
	} else if r.Status == model.HRTerminated {
		fieldErr("termination_date", "required when status is terminated")
	}
	r.Department = strings.TrimSpace(vals["department"])
	r.Title = strings.TrimSpace(vals["title"])
	r.ManagerEmail = strings.ToLower(strings.TrimSpace(vals["manager_email"]))
	if r.ManagerEmail != "" && !isAddress(r.ManagerEmail) {
		fieldErr("manager_email", "%q is not an e-mail address", vals["manager_email"])
	}
	// A person is registered even from a row with other problems, so a
	// second row for them is reported too.
	r.Email = strings.ToLower(r.Email)
	if r.Email != "" && isAddress(r.Email) {
		if first, dup := b.hr.emails[r.Email]; dup {
			fieldErr("email", "duplicate person: %s is already on line %d", r.Email, first)
		} else {
			b.hr.emails[r.Email] = line
		}
	}
	if r.EmployeeID != "" {
		if first, dup := b.hr.ids[r.EmployeeID]; dup {
			fieldErr("employee_id", "duplicate person: employee_id %s is already on line %d", r.EmployeeID, first)
		} else {
			b.hr.ids[r.EmployeeID] = line
		}
	}
	if bad {
		return
	}
	b.hr.records = append(b.hr.records, r)
}

// isAddress reports whether s is a bare e-mail address (no display name,
// no angle brackets).
func isAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}
