package score

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

var asOf = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// refSnapshot is a hand-built miniature of the reference org: the three
// headline users plus clean ones, across NetSuite, Workday and Salesforce.
func refSnapshot() *model.Snapshot {
	recent := asOf.AddDate(0, 0, -3)
	created := asOf.AddDate(-2, 0, 0)
	u := func(login, first, last, dept, title, typ string) model.User {
		return model.User{ID: "00u" + strings.Split(login, "@")[0], Login: login, Email: login,
			FirstName: first, LastName: last, Department: dept, Title: title, UserType: typ,
			Status: "ACTIVE", Created: created, LastLogin: recent, Origin: model.OriginOkta}
	}
	g := func(system, role string) model.Group {
		name := "SOX-" + system + "-" + role
		return model.Group{ID: "00g" + name, Name: name, Type: model.GroupTypeOkta, System: system, Role: role}
	}
	snap := &model.Snapshot{
		Review:  "2026-Q4",
		TakenAt: asOf,
		Users: []model.User{
			u("alice.chen@company.com", "Alice", "Chen", "Finance", "Accountant", "Employee"),
			u("bob.martin@company.com", "Bob", "Martin", "Sales", "Account Executive", "Employee"),
			u("carol.wong@company.com", "Carol", "Wong", "Finance", "Controller", "Employee"),
			u("dave.kim@company.com", "Dave", "Kim", "IT", "IT Manager", "Employee"),
			u("ivan.petrov@company.com", "Ivan", "Petrov", "Finance", "AP Specialist", "Contractor"),
		},
		Groups: []model.Group{
			g("NetSuite", "Admins"), g("NetSuite", "Users"), g("Workday", "Admins"),
			g("Workday", "Users"), g("Salesforce", "Users"),
		},
	}
	m := func(login, group string) model.Membership {
		return model.Membership{GroupID: "00gSOX-" + group, UserID: "00u" + strings.Split(login, "@")[0], Source: model.SourceDirect}
	}
	snap.Memberships = []model.Membership{
		m("alice.chen@company.com", "NetSuite-Users"),
		m("alice.chen@company.com", "Workday-Users"),
		m("bob.martin@company.com", "Salesforce-Users"),
		m("carol.wong@company.com", "NetSuite-Admins"),
		m("carol.wong@company.com", "Workday-Admins"),
		m("carol.wong@company.com", "NetSuite-Users"),
		m("dave.kim@company.com", "NetSuite-Admins"),
		m("ivan.petrov@company.com", "NetSuite-Users"),
	}
	return snap
}

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := ParsePolicy("policy.yaml", []byte(src))
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	return p
}

type key struct{ rule, login, system string }

func keys(fs []model.Finding) []key {
	out := []key{}
	for _, f := range fs {
		out = append(out, key{f.RuleID, f.UserLogin, f.System})
	}
	return out
}

func find(t *testing.T, fs []model.Finding, rule, login string) model.Finding {
	t.Helper()
	for _, f := range fs {
		if f.RuleID == rule && f.UserLogin == login {
			return f
		}
	}
	t.Fatalf("no finding %s for %s in %v", rule, login, keys(fs))
	return model.Finding{}
}

func TestExamplePolicyHeadlines(t *testing.T) {
	p := mustParse(t, ExamplePolicy)
	res := Evaluate(p, refSnapshot(), asOf)
	want := []key{
		{CheckMultiSystemAdmin, "carol.wong@company.com", "NetSuite"},
		{"SOD-IT-ERP-ADMIN", "dave.kim@company.com", "NetSuite"},
		{CheckContractor, "ivan.petrov@company.com", "NetSuite"},
		{CheckMultiSystemAdmin, "carol.wong@company.com", "Workday"},
	}
	if got := keys(res.Findings); !reflect.DeepEqual(got, want) {
		t.Fatalf("findings:\n got %v\nwant %v", got, want)
	}
	for _, f := range res.Findings {
		if f.Risk != model.RiskHigh || f.Source != model.FindingSourceRule {
			t.Errorf("%v: risk %s source %s, want HIGH rule", f.RuleID, f.Risk, f.Source)
		}
	}
	dave := find(t, res.Findings, "SOD-IT-ERP-ADMIN", "dave.kim@company.com")
	if want := "IT Manager Dave Kim (IT) in SOX-NetSuite-Admins: IT staff must not administer the ERP used by Finance (segregation of duties). Recommend revoking SOX-NetSuite-Admins."; dave.Detail != want {
		t.Errorf("dave detail:\n got %q\nwant %q", dave.Detail, want)
	}
	if !reflect.DeepEqual(dave.Groups, []string{"SOX-NetSuite-Admins"}) {
		t.Errorf("dave groups %v", dave.Groups)
	}
	ivan := find(t, res.Findings, CheckContractor, "ivan.petrov@company.com")
	if !strings.HasPrefix(ivan.Detail, "Contractor Ivan Petrov (Finance) has persistent access to SOX-NetSuite-Users.") {
		t.Errorf("ivan detail %q", ivan.Detail)
	}
	carol := find(t, res.Findings, CheckMultiSystemAdmin, "carol.wong@company.com")
	if !reflect.DeepEqual(carol.Groups, []string{"SOX-NetSuite-Admins"}) {
		t.Errorf("carol NetSuite finding groups %v (want only that system's admin group)", carol.Groups)
	}
	if !strings.Contains(carol.Detail, "Controller Carol Wong (Finance) is an administrator in 2 systems through SOX-NetSuite-Admins (NetSuite) and SOX-Workday-Admins (Workday).") {
		t.Errorf("carol detail %q", carol.Detail)
	}
	wantSys := []SystemRisk{
		{System: "NetSuite", Risk: model.RiskHigh, High: 3},
		{System: "Salesforce"},
		{System: "Workday", Risk: model.RiskHigh, High: 1},
	}
	if !reflect.DeepEqual(res.Systems, wantSys) {
		t.Errorf("systems %+v", res.Systems)
	}
	if len(res.Suppressed) != 0 || len(res.Notes) != 0 {
		t.Errorf("suppressed %v notes %v", res.Suppressed, res.Notes)
	}
}

func TestParsePolicyDefaultsAndRaw(t *testing.T) {
	src := "version: 1\n"
	p := mustParse(t, src)
	if !reflect.DeepEqual(p.Checks, DefaultChecks()) {
		t.Errorf("omitted checks %+v, want defaults", p.Checks)
	}
	if string(p.Raw) != src || p.SHA256 != sha(src) {
		t.Errorf("raw %q sha %s", p.Raw, p.SHA256)
	}
	if p.SoDRules == nil || p.Exceptions == nil {
		t.Error("nil slices")
	}
	// A check given partially keeps the defaults of the keys it omits.
	p = mustParse(t, "version: 1\nchecks:\n  dormant: {dormant_days: 30}\n  contractor: {enabled: false}\n  orphaned:\n")
	if p.Checks.Dormant != (DormantCheck{Enabled: true, Risk: model.RiskMedium, DormantDays: 30}) {
		t.Errorf("dormant %+v", p.Checks.Dormant)
	}
	if p.Checks.Contractor.Enabled || p.Checks.Contractor.Risk != model.RiskMedium {
		t.Errorf("contractor %+v", p.Checks.Contractor)
	}
	if p.Checks.Orphaned != DefaultChecks().Orphaned {
		t.Errorf("orphaned %+v", p.Checks.Orphaned)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // each must appear as a line of the error
	}{
		{"bad risk", `version: 1
sod_rules:
  - id: R1
    title: t
    risk: SEVERE
    groups: {any: [a]}
`, []string{`policy.yaml:5:11: sod_rules[0].risk: "SEVERE" is not HIGH, MEDIUM or LOW`}},
		{"unknown top key", "version: 1\nchecsk: {}\n", []string{`policy.yaml:2:1: checsk: unknown key "checsk" (allowed: version, checks, sod_rules, roles, exceptions)`}},
		{"unknown check key", "version: 1\nchecks:\n  dormant: {enabeld: false}\n", []string{`policy.yaml:3:13: checks.dormant.enabeld: unknown key "enabeld" (allowed: enabled, risk, dormant_days)`}},
		{"unknown check", "version: 1\nchecks:\n  dormnat: {}\n", []string{`policy.yaml:3:3: checks.dormnat: unknown key "dormnat"`}},
		{"unknown rule key", "version: 1\nsod_rules:\n  - id: R1\n    title: t\n    risk: LOW\n    groups: {any: [a], none: [b]}\n", []string{`policy.yaml:6:24: sod_rules[0].groups.none: unknown key "none" (allowed: any, all)`}},
		{"bad glob", "version: 1\nsod_rules:\n  - id: R1\n    title: t\n    risk: LOW\n    groups:\n      all: [ok, \"SOX-[Net\"]\n", []string{`policy.yaml:7:17: sod_rules[0].groups.all[1]: bad glob "SOX-[Net": syntax error in pattern`}},
		{"bad admin glob", "version: 1\nchecks:\n  multi_system_admin: {admin_groups: [\"[\"]}\n", []string{`policy.yaml:3:39: checks.multi_system_admin.admin_groups[0]: bad glob "["`}},
		{"duplicate id", "version: 1\nsod_rules:\n  - {id: R1, title: t, risk: LOW, groups: {any: [a]}}\n  - {id: r1, title: t, risk: LOW, groups: {any: [a]}}\n", []string{`policy.yaml:4:10: sod_rules[1].id: duplicate rule id "r1" (first at line 3)`}},
		{"id is check name", "version: 1\nsod_rules:\n  - {id: dormant, title: t, risk: LOW, groups: {any: [a]}}\n", []string{`sod_rules[0].id: "dormant" is the name of a built-in check`}},
		{"bad date", "version: 1\nexceptions:\n  - {rule: dormant, user: a@b.c, approved_by: x, expires: 31/03/2027}\n", []string{`policy.yaml:3:59: exceptions[0].expires: "31/03/2027" is not a date in YYYY-MM-DD form`}},
		{"impossible date", "version: 1\nexceptions:\n  - {rule: dormant, user: a@b.c, approved_by: x, expires: 2027-02-30}\n", []string{`exceptions[0].expires: "2027-02-30" is not a date in YYYY-MM-DD form`}},
		{"version", "version: 2\n", []string{`policy.yaml:1:10: version: unsupported version 2 (want 1)`}},
		{"no version", "checks: {}\n", []string{`policy.yaml:1:1: version: required (want 1)`}},
		{"missing rule fields", "version: 1\nsod_rules:\n  - id: R1\n", []string{
			`policy.yaml:3:5: sod_rules[0].title: required`,
			`policy.yaml:3:5: sod_rules[0].risk: required (HIGH, MEDIUM or LOW)`,
			`policy.yaml:3:5: sod_rules[0].groups: required: give groups.any, groups.all or both`}},
		{"empty groups", "version: 1\nsod_rules:\n  - {id: R1, title: t, risk: LOW, groups: {any: [], all: []}}\n", []string{`sod_rules[0].groups: needs at least one pattern in any or all`}},
		{"unknown exception rule", "version: 1\nexceptions:\n  - {rule: SOD-X, user: a@b.c, approved_by: x, expires: 2027-01-01}\n", []string{`policy.yaml:3:12: exceptions[0].rule: "SOD-X" is neither a sod_rules id nor a check name`}},
		{"missing exception fields", "version: 1\nexceptions:\n  - {rule: dormant}\n", []string{
			`exceptions[0].user: required`, `exceptions[0].approved_by: required`, `exceptions[0].expires: required`}},
		{"unknown when attribute", "version: 1\nsod_rules:\n  - id: R1\n    title: t\n    risk: LOW\n    when: {departement: [IT]}\n    groups: {any: [a]}\n", []string{
			`policy.yaml:6:12: sod_rules[0].when.departement: unknown key "departement" (allowed: department, title, user_type, status)`}},
		{"wrong types", "version: one\nchecks:\n  dormant: {enabled: yes please, dormant_days: 0}\n", []string{
			`policy.yaml:1:10: version: want an integer, got "one"`,
			`checks.dormant.enabled: want true or false, got "yes please"`,
			`checks.dormant.dormant_days: must be at least 1, got 0`}},
		{"duplicate key", "version: 1\nversion: 1\n", []string{`policy.yaml:2:1: version: duplicate key (first at line 1)`}},
		{"syntax", "version: 1\nchecks: [\n", []string{`policy.yaml:2: invalid YAML: did not find expected node content`}},
		{"not a mapping", "- a\n", []string{`policy.yaml:1:1: want a mapping, got a list`}},
		{"empty", "", []string{`empty policy`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy("policy.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; policy %+v", p)
			}
			if p != nil {
				t.Error("policy returned with an error")
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.File != "policy.yaml" {
				t.Fatalf("error %T %v, want *PolicyError", err, err)
			}
			for _, w := range tt.want {
				found := false
				for _, line := range strings.Split(err.Error(), "\n") {
					if strings.Contains(line, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParsePolicyReportsAllProblems(t *testing.T) {
	src := `version: 1
checks:
  contractor: {risk: CRITICAL}
sod_rules:
  - {id: R1, title: t, risk: LOW, groups: {any: ["["]}}
  - {id: R1, title: t, risk: LOW, groups: {any: [a]}, whne: {}}
exceptions:
  - {rule: R2, user: a@b.c, approved_by: x, expires: tomorrow}
`
	_, err := ParsePolicy("p.yaml", []byte(src))
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("err %v", err)
	}
	var got []string
	for _, p := range pe.Problems {
		got = append(got, p.Field)
	}
	want := []string{"checks.contractor.risk", "sod_rules[0].groups.any[0]", "sod_rules[1].id", "sod_rules[1].whne", "exceptions[0].rule", "exceptions[0].expires"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields %v, want %v\n%v", got, want, err)
	}
	if !strings.HasPrefix(err.Error(), "p.yaml:3:22: checks.contractor.risk: ") {
		t.Errorf("first line %q", strings.Split(err.Error(), "\n")[0])
	}
}

// checksOnly is a policy with every check off except the ones named.
func checksOnly(t *testing.T, enabled string, extra string) *Policy {
	t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\nchecks:\n")
	for _, c := range CheckNames {
		on := strings.Contains(","+enabled+",", ","+c+",")
		b.WriteString("  " + c + ": {enabled: ")
		if on {
			b.WriteString("true}\n")
		} else {
			b.WriteString("false}\n")
		}
	}
	b.WriteString(extra)
	return mustParse(t, b.String())
}

func TestContractorCheck(t *testing.T) {
	snap := refSnapshot()
	snap.Users[1].UserType = "contractor" // case-insensitive; bob is in Salesforce
	res := Evaluate(checksOnly(t, CheckContractor, ""), snap, asOf)
	want := []key{{CheckContractor, "ivan.petrov@company.com", "NetSuite"}, {CheckContractor, "bob.martin@company.com", "Salesforce"}}
	if got := keys(res.Findings); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if res.Findings[0].Risk != model.RiskMedium || res.Findings[0].Title != TitleContractor {
		t.Errorf("default risk/title: %+v", res.Findings[0])
	}
	// A contractor without any membership has nothing to review.
	snap.Memberships = slices.DeleteFunc(snap.Memberships, func(m model.Membership) bool { return m.UserID == "00uivan.petrov" })
	res = Evaluate(checksOnly(t, CheckContractor, ""), snap, asOf)
	if got := keys(res.Findings); len(got) != 1 {
		t.Errorf("got %v", got)
	}
}

func TestDormantCheck(t *testing.T) {
	snap := refSnapshot()
	snap.Users[0].LastLogin = asOf.AddDate(0, 0, -200)                                    // alice: dormant
	snap.Users[1].LastLogin = asOf.AddDate(0, 0, -89)                                     // bob: within threshold
	snap.Users[2].LastLogin = time.Time{}                                                 // carol: never, created 2 years ago
	snap.Users[3].LastLogin, snap.Users[3].Created = time.Time{}, asOf.AddDate(0, 0, -10) // dave: never, new
	snap.Users[4].LastLogin, snap.Users[4].Created = time.Time{}, time.Time{}             // ivan: no data
	res := Evaluate(checksOnly(t, CheckDormant, ""), snap, asOf)
	want := []key{
		{CheckDormant, "alice.chen@company.com", "NetSuite"},
		{CheckDormant, "carol.wong@company.com", "NetSuite"},
		{CheckDormant, "alice.chen@company.com", "Workday"},
		{CheckDormant, "carol.wong@company.com", "Workday"},
	}
	if got := keys(res.Findings); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	a := res.Findings[0]
	if !strings.HasPrefix(a.Detail, "No login for 200 days (last login 2026-05-15, threshold 90 days): Accountant Alice Chen (Finance) still holds SOX-NetSuite-Users (NetSuite) and SOX-Workday-Users (Workday).") {
		t.Errorf("detail %q", a.Detail)
	}
	if !reflect.DeepEqual(a.Groups, []string{"SOX-NetSuite-Users"}) {
		t.Errorf("groups %v", a.Groups)
	}
	if c := res.Findings[1]; !strings.HasPrefix(c.Detail, "Never logged in (account created 2024-12-01, 730 days ago, threshold 90 days)") {
		t.Errorf("detail %q", c.Detail)
	}
}

func TestInactiveStatusCheck(t *testing.T) {
	snap := refSnapshot()
	snap.Users[1].Status = "suspended"
	snap.Users[3].Status = "DEPROVISIONED"
	snap.Users[0].Status = "PROVISIONED"
	p := checksOnly(t, CheckInactiveStatus, "")
	res := Evaluate(p, snap, asOf)
	want := []key{{CheckInactiveStatus, "dave.kim@company.com", "NetSuite"}, {CheckInactiveStatus, "bob.martin@company.com", "Salesforce"}}
	if got := keys(res.Findings); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if d := res.Findings[1].Detail; !strings.HasPrefix(d, "Account status is SUSPENDED, yet Account Executive Bob Martin (Sales) still holds SOX-Salesforce-Users.") {
		t.Errorf("detail %q", d)
	}
}

func TestMultiSystemAdminCheck(t *testing.T) {
	snap := refSnapshot()
	// A second admin group in the same system is still one system.
	snap.Groups = append(snap.Groups, model.Group{ID: "00gX", Name: "SOX-NetSuite-Admin", System: "NetSuite"})
	snap.Memberships = append(snap.Memberships, model.Membership{GroupID: "00gX", UserID: "00udave.kim"})
	res := Evaluate(checksOnly(t, CheckMultiSystemAdmin, ""), snap, asOf)
	want := []key{{CheckMultiSystemAdmin, "carol.wong@company.com", "NetSuite"}, {CheckMultiSystemAdmin, "carol.wong@company.com", "Workday"}}
	if got := keys(res.Findings); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if f := res.Findings[1]; !reflect.DeepEqual(f.Groups, []string{"SOX-Workday-Admins"}) || f.Risk != model.RiskHigh {
		t.Errorf("%+v", f)
	}
	// Custom admin globs.
	p := mustParse(t, "version: 1\nchecks:\n  multi_system_admin: {risk: LOW, admin_groups: [\"*-Users\"]}\n  dormant: {enabled: false}\n  contractor: {enabled: false}\n")
	res = Evaluate(p, snap, asOf)
	want = []key{{CheckMultiSystemAdmin, "alice.chen@company.com", "NetSuite"}, {CheckMultiSystemAdmin, "alice.chen@company.com", "Workday"}}
	if got := keys(res.Findings); !reflect.DeepEqual(got, want) || res.Findings[0].Risk != model.RiskLow {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestOrphanedCheck(t *testing.T) {
	snap := refSnapshot()
	snap.Groups = append(snap.Groups, model.Group{ID: "import:Coupa:Approver", Name: "Approver", Type: model.GroupTypeImport, System: "Coupa", Role: "Approver"})
	for _, email := range []string{"ALICE.CHEN@company.com", "ghost@company.com", "bob"} {
		id := "import:Coupa:" + strings.ToLower(email)
		snap.Users = append(snap.Users, model.User{ID: id, Login: strings.ToLower(email), Email: email, Origin: model.OriginImport})
		snap.Memberships = append(snap.Memberships, model.Membership{GroupID: "import:Coupa:Approver", UserID: id, Source: model.SourceApp})
	}
	// "bob" matches no email and no login either (logins are full addresses).
	res := Evaluate(checksOnly(t, CheckOrphaned, ""), snap, asOf)
	want := []key{{CheckOrphaned, "bob", "Coupa"}, {CheckOrphaned, "ghost@company.com", "Coupa"}}
	if got := keys(res.Findings); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if f := res.Findings[1]; f.Risk != model.RiskHigh || !strings.HasPrefix(f.Detail, "Account ghost@company.com holds Approver in an application export but matches no Okta user") {
		t.Errorf("%+v", f)
	}
	// Matching by Okta login, case-insensitively.
	snap.Users[1].Login = "BOB"
	res = Evaluate(checksOnly(t, CheckOrphaned, ""), snap, asOf)
	if got := keys(res.Findings); !reflect.DeepEqual(got, want[1:]) {
		t.Fatalf("got %v", got)
	}
}

func TestSoDRuleShapes(t *testing.T) {
	snap := refSnapshot()
	tests := []struct {
		name  string
		rule  string
		want  []key
		group []string
	}{
		{"any", "groups: {any: [\"*-Admins\"]}", []key{
			{"R", "carol.wong@company.com", "NetSuite"}, {"R", "dave.kim@company.com", "NetSuite"}, {"R", "carol.wong@company.com", "Workday"}}, []string{"SOX-NetSuite-Admins"}},
		{"all", "groups: {all: [\"SOX-NetSuite-*\", \"SOX-Workday-*\"]}", []key{
			{"R", "alice.chen@company.com", "NetSuite"}, {"R", "carol.wong@company.com", "NetSuite"},
			{"R", "alice.chen@company.com", "Workday"}, {"R", "carol.wong@company.com", "Workday"}}, []string{"SOX-NetSuite-Users"}},
		{"all one missing", "groups: {all: [\"SOX-NetSuite-Admins\", \"SOX-Salesforce-*\"]}", []key{}, nil},
		{"any and all", "groups: {any: [\"SOX-NetSuite-Admins\"], all: [\"SOX-Workday-*\"]}", []key{
			{"R", "carol.wong@company.com", "NetSuite"}, {"R", "carol.wong@company.com", "Workday"}}, []string{"SOX-NetSuite-Admins"}},
		{"when", "when: {department: [it, hr]}\n    groups: {any: [\"SOX-*\"]}", []key{{"R", "dave.kim@company.com", "NetSuite"}}, []string{"SOX-NetSuite-Admins"}},
		{"when several attributes", "when: {department: [Finance], title: [controller], status: [active], user_type: [EMPLOYEE]}\n    groups: {any: [\"SOX-*-Users\"]}", []key{
			{"R", "carol.wong@company.com", "NetSuite"}}, []string{"SOX-NetSuite-Users"}},
		{"when no match", "when: {department: [Legal]}\n    groups: {any: [\"SOX-*\"]}", []key{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := checksOnly(t, "", "sod_rules:\n  - id: R\n    title: Toxic access\n    risk: MEDIUM\n    "+tt.rule+"\n")
			res := Evaluate(p, snap, asOf)
			if got := keys(res.Findings); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v want %v", got, tt.want)
			}
			if len(tt.want) > 0 && !reflect.DeepEqual(res.Findings[0].Groups, tt.group) {
				t.Errorf("groups %v want %v", res.Findings[0].Groups, tt.group)
			}
		})
	}
	// The any+all finding names every involved group in its detail.
	p := checksOnly(t, "", "sod_rules:\n  - id: R\n    title: Toxic access.\n    risk: MEDIUM\n    groups: {any: [\"SOX-NetSuite-Admins\"], all: [\"SOX-Workday-*\"]}\n    recommendation: Revoke one\n")
	f := Evaluate(p, snap, asOf).Findings[0]
	if want := "Controller Carol Wong (Finance) in SOX-NetSuite-Admins (NetSuite) and SOX-Workday-Admins (Workday): Toxic access (segregation of duties). Revoke one."; f.Detail != want {
		t.Errorf("detail\n got %q\nwant %q", f.Detail, want)
	}
	if f.Recommendation != "Revoke one" || f.Title != "Toxic access." {
		t.Errorf("%+v", f)
	}
}

const exceptionPolicy = `version: 1
checks:
  contractor: {risk: HIGH}
exceptions:
  - rule: Contractor
    user: IVAN.PETROV@company.com
    approved_by: cfo@company.com
    ticket: UAR-12
    expires: 2026-12-31
    reason: covering AP until year end
  - rule: dormant
    user: nobody@company.com
    approved_by: cfo@company.com
    expires: 2027-01-01
`

func TestExceptions(t *testing.T) {
	p := mustParse(t, exceptionPolicy)
	for _, tc := range []struct {
		name       string
		at         time.Time
		suppressed bool
	}{
		{"before expiry", time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), true},
		{"on expiry day (inclusive)", time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), true},
		{"on expiry day in another zone", time.Date(2026, 12, 31, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)), false}, // 2027-01-01 01:00 UTC
		{"after expiry", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := refSnapshot()
			for i := range snap.Users {
				snap.Users[i].LastLogin = tc.at.AddDate(0, 0, -1)
			}
			res := Evaluate(p, snap, tc.at)
			var ivanActive []model.Finding
			for _, f := range res.Findings {
				if f.UserLogin == "ivan.petrov@company.com" {
					ivanActive = append(ivanActive, f)
				}
			}
			if tc.suppressed {
				if len(ivanActive) != 0 || len(res.Suppressed) != 1 {
					t.Fatalf("active %v suppressed %v", keys(ivanActive), keys(res.Suppressed))
				}
				s := res.Suppressed[0]
				want := model.Suppression{ApprovedBy: "cfo@company.com", Ticket: "UAR-12", Expires: "2026-12-31", Reason: "covering AP until year end"}
				if s.RuleID != CheckContractor || s.Suppressed == nil || *s.Suppressed != want {
					t.Errorf("suppressed %+v", s)
				}
				if res.Systems[0] != (SystemRisk{System: "NetSuite", Risk: model.RiskHigh, High: 1}) {
					t.Errorf("suppressed finding counted: %+v", res.Systems[0])
				}
				if want := []string{"exception approved by cfo@company.com for nobody@company.com under dormant matched no finding: consider removing it"}; !reflect.DeepEqual(res.Notes, want) {
					t.Errorf("notes %q", res.Notes)
				}
				return
			}
			if len(ivanActive) != 1 || len(res.Suppressed) != 0 {
				t.Fatalf("active %v suppressed %v", keys(ivanActive), keys(res.Suppressed))
			}
			if !strings.HasSuffix(ivanActive[0].Detail, "An exception for this (UAR-12, approved by cfo@company.com) expired on 2026-12-31 and no longer applies.") || ivanActive[0].Suppressed != nil {
				t.Errorf("detail %q", ivanActive[0].Detail)
			}
			if len(res.Notes) != 2 || !strings.Contains(res.Notes[0], "expired on 2026-12-31") {
				t.Errorf("notes %q", res.Notes)
			}
		})
	}
}

func TestEvaluateDeterministic(t *testing.T) {
	p := mustParse(t, ExamplePolicy)
	a := Evaluate(p, refSnapshot(), asOf)
	b := Evaluate(p, refSnapshot(), asOf)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs differ")
	}
	// Input order does not matter either, nor do duplicate memberships or
	// ones naming unknown users or groups.
	snap := refSnapshot()
	slices.Reverse(snap.Users)
	slices.Reverse(snap.Groups)
	slices.Reverse(snap.Memberships)
	snap.Memberships = append(snap.Memberships, snap.Memberships[0],
		model.Membership{GroupID: "nope", UserID: "00udave.kim"}, model.Membership{GroupID: "00gSOX-NetSuite-Admins", UserID: "nope"})
	c := Evaluate(p, snap, asOf)
	if !reflect.DeepEqual(a, c) {
		t.Fatalf("permuted input differs:\n%v\n%v", keys(a.Findings), keys(c.Findings))
	}
	empty := Evaluate(p, &model.Snapshot{}, asOf)
	if empty.Findings == nil || empty.Suppressed == nil || empty.Systems == nil || empty.Notes == nil {
		t.Errorf("nil slices in %+v", empty)
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestParsePolicySecondDocument(t *testing.T) {
	_, err := ParsePolicy("policy.yaml", []byte("version: 1\n---\nchecks: {dormant: {enabled: false}}\n"))
	if err == nil || !strings.Contains(err.Error(), "policy.yaml:2:1: a second YAML document (---) is not allowed") {
		t.Fatalf("err %v", err)
	}
	if _, err := ParsePolicy("policy.yaml", []byte("# only a comment\n")); err == nil || !strings.Contains(err.Error(), "empty policy") {
		t.Fatalf("err %v", err)
	}
}

// FuzzParsePolicy checks that no input panics and that every failure is a
// *PolicyError with at least one problem.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(ExamplePolicy))
	f.Add([]byte(exceptionPolicy))
	f.Add([]byte("version: 1\nsod_rules:\n  - &r {id: R, title: t, risk: LOW, groups: {any: [a]}}\n  - *r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy("p.yaml", data)
		if err != nil {
			var pe *PolicyError
			if p != nil || !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("bad failure %v %T %v", p, err, err)
			}
			return
		}
		Evaluate(p, refSnapshot(), asOf)
	})
}

// aliasBombPolicy is a ~400 KB policy.yaml of aliases: one anchored list
// of group globs referenced by thousands of rules (walking it would visit
// tens of millions of nodes and keep a copy per rule), or the nested
// "billion laughs" form.
func aliasBombPolicy(nested bool) []byte {
	var b strings.Builder
	b.WriteString("version: 1\nsod_rules:\n  - id: SOD-0\n    title: t\n    risk: HIGH\n    groups:\n      any: &g0 [")
	if nested {
		b.WriteString(strings.TrimSuffix(strings.Repeat(`"SOX-x", `, 9), ", "))
		b.WriteString("]\n")
		for l := 1; l <= 9; l++ {
			fmt.Fprintf(&b, "  - id: SOD-%d\n    title: t\n    risk: HIGH\n    groups:\n      any: &g%d [%s]\n", l, l, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*g%d, ", l-1), 9), ", "))
		}
		return []byte(b.String())
	}
	for i := range 30000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "SOX-%d", i)
	}
	b.WriteString("]\n")
	for i := 1; b.Len() < 409<<10; i++ {
		fmt.Fprintf(&b, "  - {id: R%d, title: t, risk: HIGH, groups: {any: *g0}}\n", i)
	}
	return []byte(b.String())
}

// A policy of aliases is refused before it is walked, with an error
// naming the file and line (exit 2 in cli as any *PolicyError).
func TestPolicyAliasBombRefused(t *testing.T) {
	for _, nested := range []bool{false, true} {
		data := aliasBombPolicy(nested)
		_, err := ParsePolicy("policy.yaml", data)
		var pe *PolicyError
		if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].Line < 2 {
			t.Fatalf("nested=%v (%d KB): err = %v", nested, len(data)>>10, err)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "policy.yaml:") || !strings.Contains(msg, "alias") {
			t.Errorf("message %q", msg)
		}
	}
}
