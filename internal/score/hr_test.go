package score

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// hrOnly is a policy with only the HR checks on.
func hrOnly(t *testing.T) *Policy {
	return mustParse(t, `version: 1
checks:
  contractor: {enabled: false}
  dormant: {enabled: false}
  inactive_status: {enabled: false}
  multi_system_admin: {enabled: false}
  orphaned: {enabled: false}
`)
}

// hrListing is the HR listing that goes with refSnapshot: everybody
// active, except as changed by edit.
func hrListing(edit func(map[string]*model.HRRecord)) *model.HRListing {
	people := []model.HRRecord{
		{Email: "alice.chen@company.com", EmployeeID: "1", Status: model.HRActive, Department: "Finance", Title: "Accountant"},
		{Email: "bob.martin@company.com", EmployeeID: "2", Status: model.HRActive, Department: "Sales", Title: "Account Executive"},
		{Email: "carol.wong@company.com", EmployeeID: "3", Status: model.HRActive, Department: "Finance", Title: "Controller"},
		{Email: "dave.kim@company.com", EmployeeID: "4", Status: model.HRActive, Department: "IT", Title: "IT Manager"},
		{Email: "ivan.petrov@company.com", EmployeeID: "5", Status: model.HRActive, Department: "Finance", Title: "AP Specialist"},
	}
	m := map[string]*model.HRRecord{}
	for i := range people {
		m[strings.Split(people[i].Email, "@")[0]] = &people[i]
	}
	if edit != nil {
		edit(m)
	}
	l := &model.HRListing{ID: 1, Review: "2026-Q4"}
	for _, p := range people {
		if p.Status != "" { // a cleared status removes the person
			l.Records = append(l.Records, p)
		}
	}
	return l
}

func hrKeys(res Result) []key {
	var out []key
	for _, f := range res.Findings {
		if slices.Contains(HRCheckNames, f.RuleID) {
			out = append(out, key{f.RuleID, f.UserLogin, f.System})
		}
	}
	return out
}

func sameKeys(t *testing.T, got, want []key) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("HR findings\n got %v\nwant %v", got, want)
	}
}

func TestHRChecksNeedAListing(t *testing.T) {
	res := EvaluateHR(hrOnly(t), refSnapshot(), asOf, HR{})
	if len(res.Findings) != 0 {
		t.Errorf("findings without a listing: %v", keys(res.Findings))
	}
	if len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "no HR listing") {
		t.Errorf("skipped %q", res.Skipped)
	}
	// Evaluate is EvaluateHR without HR evidence.
	if r := Evaluate(hrOnly(t), refSnapshot(), asOf); len(r.Skipped) != 1 {
		t.Errorf("Evaluate skipped %q", r.Skipped)
	}
	// With every HR check off there is nothing to skip.
	p := mustParse(t, "version: 1\nchecks:\n  terminated_with_access: {enabled: false}\n  login_after_termination: {enabled: false}\n  no_hr_record: {enabled: false}\n  mover_kept_access: {enabled: false}\n")
	if r := Evaluate(p, refSnapshot(), asOf); len(r.Skipped) != 0 || r.Skipped == nil {
		t.Errorf("skipped %#v", r.Skipped)
	}
}

func TestTerminatedWithAccess(t *testing.T) {
	snap := refSnapshot()
	// dave left a month ago and still holds SOX-NetSuite-Admins; alice left
	// yesterday and her access was removed today (the near-miss): she is in
	// the population with no membership.
	snap.Memberships = slices.DeleteFunc(snap.Memberships, func(m model.Membership) bool { return m.UserID == "00ualice.chen" })
	for i := range snap.Users { // last signed in on his last day
		if snap.Users[i].ID == "00udave.kim" {
			snap.Users[i].LastLogin = time.Date(2026, 10, 31, 17, 0, 0, 0, time.UTC)
		}
	}
	l := hrListing(func(m map[string]*model.HRRecord) {
		m["dave.kim"].Status, m["dave.kim"].TerminationDate = model.HRTerminated, date("2026-10-31")
		m["alice.chen"].Status, m["alice.chen"].TerminationDate = model.HRTerminated, date("2026-11-30")
	})
	res := EvaluateHR(hrOnly(t), snap, asOf, HR{Listing: l})
	sameKeys(t, hrKeys(res), []key{{CheckTerminatedWithAccess, "dave.kim@company.com", "NetSuite"}})
	f := find(t, res.Findings, CheckTerminatedWithAccess, "dave.kim@company.com")
	if f.Risk != model.RiskHigh || f.Title != TitleTerminatedWithAccess || !slices.Equal(f.Groups, []string{"SOX-NetSuite-Admins"}) {
		t.Errorf("finding %+v", f)
	}
	want := "HR lists IT Manager Dave Kim (IT) as terminated on 2026-10-31 (31 days ago), yet the account still holds SOX-NetSuite-Admins. A leaver's access must end on their last day. " + RecommendTerminatedWithAccess
	if f.Detail != want {
		t.Errorf("detail\n got %q\nwant %q", f.Detail, want)
	}
	if len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "no previous review") {
		t.Errorf("skipped %q", res.Skipped)
	}
}

func TestLoginAfterTermination(t *testing.T) {
	snap := refSnapshot()
	set := func(login string, last time.Time) {
		for i := range snap.Users {
			if snap.Users[i].Login == login {
				snap.Users[i].LastLogin = last
			}
		}
	}
	// carol signed in two days after her last day; bob signed in on his
	// last day (a near-miss: that is still his job); ivan never signed in.
	set("carol.wong@company.com", time.Date(2026, 11, 27, 7, 5, 0, 0, time.UTC))
	set("bob.martin@company.com", time.Date(2026, 11, 25, 23, 59, 0, 0, time.UTC))
	set("ivan.petrov@company.com", time.Time{})
	l := hrListing(func(m map[string]*model.HRRecord) {
		m["carol.wong"].Status, m["carol.wong"].TerminationDate = model.HRTerminated, date("2026-11-25")
		m["bob.martin"].Status, m["bob.martin"].TerminationDate = model.HRTerminated, date("2026-11-25")
		m["ivan.petrov"].Status, m["ivan.petrov"].TerminationDate = model.HRTerminated, date("2026-11-25")
	})
	p := mustParse(t, "version: 1\nchecks: {terminated_with_access: {enabled: false}}\n")
	res := EvaluateHR(p, snap, asOf, HR{Listing: l})
	sameKeys(t, hrKeys(res), []key{
		{CheckLoginAfterTermination, "carol.wong@company.com", "NetSuite"},
		{CheckLoginAfterTermination, "carol.wong@company.com", "Workday"},
	})
	f := find(t, res.Findings, CheckLoginAfterTermination, "carol.wong@company.com")
	if !strings.HasPrefix(f.Detail, "Controller Carol Wong (Finance) signed in on 2026-11-27T07:05:00Z, 2 days after HR's termination date 2026-11-25, and still holds ") || f.Risk != model.RiskHigh {
		t.Errorf("finding %+v", f)
	}
}

func TestNoHRRecord(t *testing.T) {
	snap := refSnapshot()
	// A service account with no HR row is the near-miss; bob is matched by
	// his employee number although HR has another address for him.
	snap.Users = append(snap.Users, model.User{ID: "00usvc", Login: "svc-etl@company.com", Email: "svc-etl@company.com", UserType: "Service", Status: "ACTIVE"})
	snap.Memberships = append(snap.Memberships, model.Membership{GroupID: "00gSOX-NetSuite-Users", UserID: "00usvc", Source: model.SourceDirect})
	for i := range snap.Users {
		if snap.Users[i].Login == "bob.martin@company.com" {
			snap.Users[i].EmployeeNumber = "2"
		}
	}
	l := hrListing(func(m map[string]*model.HRRecord) {
		m["ivan.petrov"].Status = "" // contractors are not in HR
		m["bob.martin"].Email = "robert.martin@company.com"
	})
	res := EvaluateHR(hrOnly(t), snap, asOf, HR{Listing: l})
	sameKeys(t, hrKeys(res), []key{{CheckNoHRRecord, "ivan.petrov@company.com", "NetSuite"}})
	if res.HR != (HRMatch{Members: 6, Matched: 4}) {
		t.Errorf("match %+v", res.HR)
	}
	f := find(t, res.Findings, CheckNoHRRecord, "ivan.petrov@company.com")
	if f.Risk != model.RiskMedium || !strings.Contains(f.Detail, "AP Specialist Ivan Petrov (Finance) (ivan.petrov@company.com) holds SOX-NetSuite-Users but matches no person in the HR listing") {
		t.Errorf("finding %+v", f)
	}
	// Listing no exception: the service account is flagged too.
	p := mustParse(t, "version: 1\nchecks: {no_hr_record: {except_user_types: []}}\n")
	res = EvaluateHR(p, snap, asOf, HR{Listing: l})
	if got := hrKeys(res); len(got) != 2 || got[1].login != "svc-etl@company.com" {
		t.Errorf("without exceptions: %v", got)
	}
}

func TestMoverKeptAccess(t *testing.T) {
	prevSnap := refSnapshot()
	// At the previous review alice was in Sales with the same access as
	// now; carol had a title change but lost Workday-Admins since (the
	// near-miss); dave was promoted and gained Workday-Users, keeping
	// NetSuite-Admins; bob did not move.
	prev := hrListing(func(m map[string]*model.HRRecord) {
		m["alice.chen"].Department = "Sales"
		m["carol.wong"].Title = "Assistant Controller"
		m["dave.kim"].Title = "Systems Engineer"
		m["ivan.petrov"].Title = "" // missing then: not a move
	})
	cur := refSnapshot()
	cur.Memberships = slices.DeleteFunc(cur.Memberships, func(m model.Membership) bool {
		return m.UserID == "00ucarol.wong" && m.GroupID == "00gSOX-Workday-Admins"
	})
	cur.Memberships = append(cur.Memberships, model.Membership{GroupID: "00gSOX-Workday-Users", UserID: "00udave.kim", Source: model.SourceDirect})
	hr := HR{Listing: hrListing(nil), Previous: &PreviousReview{Review: "2026-Q3", Listing: prev, Snap: prevSnap}}
	res := EvaluateHR(hrOnly(t), cur, asOf, hr)
	sameKeys(t, hrKeys(res), []key{
		{CheckMoverKeptAccess, "alice.chen@company.com", "NetSuite"},
		{CheckMoverKeptAccess, "dave.kim@company.com", "NetSuite"},
		{CheckMoverKeptAccess, "alice.chen@company.com", "Workday"},
	})
	f := find(t, res.Findings, CheckMoverKeptAccess, "dave.kim@company.com")
	want := "HR shows Dave Kim moved from IT / Systems Engineer (review 2026-Q3) to IT / IT Manager, yet the account still holds every SOX membership it held at review 2026-Q3: SOX-NetSuite-Admins. " + RecommendMoverKeptAccess
	if f.Detail != want || !slices.Equal(f.Groups, []string{"SOX-NetSuite-Admins"}) || f.Risk != model.RiskMedium {
		t.Errorf("finding %+v\nwant detail %q", f, want)
	}
	if len(res.Skipped) != 0 {
		t.Errorf("skipped %q", res.Skipped)
	}
	// The previous review had no HR listing: skipped with a note.
	hr.Previous.Listing = nil
	res = EvaluateHR(hrOnly(t), cur, asOf, hr)
	if len(hrKeys(res)) != 0 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "previous review 2026-Q3 has no HR listing") {
		t.Errorf("findings %v skipped %q", hrKeys(res), res.Skipped)
	}
}

func TestHRExceptionAndDeterminism(t *testing.T) {
	l := hrListing(func(m map[string]*model.HRRecord) {
		m["dave.kim"].Status, m["dave.kim"].TerminationDate = model.HRTerminated, date("2026-11-20")
	})
	p := mustParse(t, `version: 1
checks: {terminated_with_access: {risk: medium}}
exceptions:
  - rule: terminated_with_access
    user: DAVE.KIM@company.com
    approved_by: cfo@company.com
    expires: 2026-12-15
`)
	res := EvaluateHR(p, refSnapshot(), asOf, HR{Listing: l})
	if len(res.Suppressed) != 1 || res.Suppressed[0].RuleID != CheckTerminatedWithAccess || res.Suppressed[0].Risk != model.RiskMedium {
		t.Errorf("suppressed %v", keys(res.Suppressed))
	}
	again := EvaluateHR(p, refSnapshot(), asOf, HR{Listing: l})
	if !slices.EqualFunc(res.Suppressed, again.Suppressed, func(a, b model.Finding) bool { return a.Detail == b.Detail }) {
		t.Error("not deterministic")
	}
}

func TestRolesParseAndMatch(t *testing.T) {
	p := mustParse(t, `version: 1
roles:
  - groups: ["SOX-NetSuite-Admins"]
    tier: Privileged
    allows: Full administration of NetSuite.
  - groups: ["SOX-NetSuite-*", "SOX-Workday-Users"]
    tier: standard
  - groups: "SOX-Salesforce-*"
    allows: Read and edit opportunities.
`)
	for group, want := range map[string]Role{
		"SOX-NetSuite-Admins":  {Groups: []string{"SOX-NetSuite-Admins"}, Tier: model.TierPrivileged, Allows: "Full administration of NetSuite."},
		"SOX-NetSuite-Users":   {Groups: []string{"SOX-NetSuite-*", "SOX-Workday-Users"}, Tier: model.TierStandard},
		"SOX-Salesforce-Admin": {Groups: []string{"SOX-Salesforce-*"}, Allows: "Read and edit opportunities."},
	} {
		got, ok := p.RoleOf(group)
		if !ok || got.Tier != want.Tier || got.Allows != want.Allows || !slices.Equal(got.Groups, want.Groups) {
			t.Errorf("RoleOf(%s) = %+v %v", group, got, ok)
		}
	}
	if _, ok := p.RoleOf("SOX-Coupa-Users"); ok {
		t.Error("unmatched group has a role")
	}
	_, err := ParsePolicy("policy.yaml", []byte(`version: 1
roles:
  - groups: ["SOX-[x"]
    tier: admin
  - tier: standard
  - groups: [a]
  - groups: [b]
    alows: x
checks:
  no_hr_record: {except_user_types: [""], excpet: 1}
  mover_kept_access: {risk: SEVERE}
`))
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{
		`policy.yaml:3:14: roles[0].groups[0]: bad glob "SOX-[x": syntax error in pattern`,
		`policy.yaml:4:11: roles[0].tier: "admin" is not privileged or standard`,
		`policy.yaml:5:5: roles[1].groups: required: globs over group names`,
		`policy.yaml:6:5: roles[2]: give a tier (privileged or standard), allows, or both`,
		`policy.yaml:8:5: roles[3].alows: unknown key "alows" (allowed: groups, tier, allows)`,
		`checks.no_hr_record.except_user_types[0]: must not be empty`,
		`checks.no_hr_record.excpet: unknown key "excpet" (allowed: enabled, risk, except_user_types)`,
		`checks.mover_kept_access.risk: "SEVERE" is not HIGH, MEDIUM or LOW`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
