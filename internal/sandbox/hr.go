package sandbox

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"time"
)

// The reference org's HR listings (orgs/README.md): the current one for
// the review taken at ReferenceNow, and the previous quarter's.
var (
	//go:embed orgs/reference-hr.csv
	referenceHR []byte
	//go:embed orgs/reference-hr-previous.csv
	referenceHRPrevious []byte
)

// ReferenceHR returns a copy of the reference org's current HR listing
// (CSV), with its planted leavers, a mover and a contractor HR does not
// know; see orgs/README.md.
func ReferenceHR() []byte { return bytes.Clone(referenceHR) }

// ReferenceHRPrevious returns a copy of the previous quarter's HR listing
// of the reference org (CSV), against which mover_kept_access compares.
func ReferenceHRPrevious() []byte { return bytes.Clone(referenceHRPrevious) }

// HRFiles are the two HR listings generated for an org: the current one
// and the previous quarter's.
type HRFiles struct {
	Current  []byte // CSV
	Previous []byte // CSV
}

// Generated HR proportions (per user of the org, independent of access):
// contractors have no HR row (no_hr_record); about 1% are leavers HR marks
// terminated 1–120 days before the org's Now, a third of whom signed in
// after their termination date (login_after_termination); 2% are on leave;
// 1% are active with a termination date in the next 60 days (serving
// notice: no finding); 3% are movers whose previous department and title
// differ; 1% have another e-mail address in HR than in Okta (matched by
// employee id). Another 0.5% of rows are past employees Okta no longer
// has. Movers and leavers are chosen among users, whatever their access.
const (
	hrLeaverPermille       = 10
	hrLeavePermille        = 20
	hrNoticePermille       = 10
	hrMoverPermille        = 30
	hrOtherEmailPermille   = 10
	hrFormerStaffPermille  = 5
	hrLoginAfterOneInEvery = 3
)

// GenerateHR builds the HR listings of org deterministically from seed
// (0 means 1), in the format of uar snapshot --import FILE --kind hr.
func GenerateHR(org *Org, seed uint64) HRFiles {
	if seed == 0 {
		seed = 1
	}
	rng := rand.New(rand.NewPCG(seed, 0x4852))
	now := org.Now
	if now.IsZero() {
		now = ReferenceNow
	}
	header := []string{"employee_id", "email", "status", "termination_date", "department", "title", "manager_email"}
	var cur, prev bytes.Buffer
	cw, pw := csv.NewWriter(&cur), csv.NewWriter(&prev)
	_ = cw.Write(header)
	_ = pw.Write(header)
	day := 24 * time.Hour
	emailOf := map[string]string{}
	for _, u := range org.Users {
		emailOf[u.ID] = u.Email
	}
	for i, u := range org.Users {
		if u.UserType == "Contractor" || u.EmployeeNumber == "" {
			continue
		}
		dept := u.Department
		if dept == "" {
			dept = "Operations"
		}
		title := u.Title
		if title == "" {
			title = "Specialist"
		}
		email := u.Email
		if rng.IntN(1000) < hrOtherEmailPermille {
			email = fmt.Sprintf("e%s@company.com", u.EmployeeNumber)
		}
		mgr := emailOf[u.ManagerID]
		status, term := "active", ""
		prevStatus, prevTerm := "active", ""
		switch r := rng.IntN(1000); {
		case r < hrLeaverPermille:
			status = "terminated"
			d := now.Add(-time.Duration(1+rng.IntN(120)) * day)
			if u.LastLogin != nil && rng.IntN(hrLoginAfterOneInEvery) == 0 {
				d = u.LastLogin.Add(-time.Duration(1+rng.IntN(30)) * day) // signed in after leaving
			} else if u.LastLogin != nil && d.Before(*u.LastLogin) {
				d = *u.LastLogin // left on the day of their last sign-in
			}
			term = d.UTC().Format(time.DateOnly)
			if d.Before(now.AddDate(0, -3, 0)) {
				prevStatus, prevTerm = status, term
			}
		case r < hrLeaverPermille+hrLeavePermille:
			status = "leave"
		case r < hrLeaverPermille+hrLeavePermille+hrNoticePermille:
			term = now.Add(time.Duration(1+rng.IntN(60)) * day).UTC().Format(time.DateOnly)
		}
		prevDept, prevTitle := dept, title
		if rng.IntN(1000) < hrMoverPermille {
			d := oktaGenDepartments[(i+1+rng.IntN(len(oktaGenDepartments)-1))%len(oktaGenDepartments)]
			if d.name == dept {
				d = oktaGenDepartments[(i+1)%len(oktaGenDepartments)]
			}
			prevDept, prevTitle = d.name, d.titles[rng.IntN(len(d.titles))]
		}
		_ = cw.Write([]string{u.EmployeeNumber, email, status, term, dept, title, mgr})
		_ = pw.Write([]string{u.EmployeeNumber, email, prevStatus, prevTerm, prevDept, prevTitle, mgr})
	}
	former := len(org.Users) * hrFormerStaffPermille / 1000
	for j := range former {
		id := fmt.Sprint(900000 + j)
		email := fmt.Sprintf("former.%d@company.com", j)
		d := oktaGenDepartments[rng.IntN(len(oktaGenDepartments))]
		term := now.Add(-time.Duration(100+rng.IntN(600)) * day).UTC().Format(time.DateOnly)
		row := []string{id, email, "terminated", term, d.name, d.titles[rng.IntN(len(d.titles))], ""}
		_ = cw.Write(row)
		_ = pw.Write(row)
	}
	cw.Flush()
	pw.Flush()
	return HRFiles{Current: cur.Bytes(), Previous: prev.Bytes()}
}
