package templates

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fixtureView mirrors the reference org: NetSuite with the IT manager in
// the admin group (SoD), a contractor and the controller who is admin in
// two systems; Workday with the same controller; Salesforce through an
// app group; and one configured system with no members.
func fixtureView() model.ReviewView {
	row := func(group, role, email, name, dept, title, typ, status, last, src string, risk model.Risk) model.AccessRow {
		r := model.AccessRow{GroupName: group, Role: role, UserLogin: email, UserEmail: email, UserName: name,
			Department: dept, Title: title, UserType: typ, UserStatus: status, MembershipSource: src, Risk: risk}
		if last != "" {
			r.LastLogin = day(last)
		}
		return r
	}
	const head = "42:9f2c6a1e5b7d3c08a4e1f6b2d9c07e35a8b4f1d2c6e9a0b3d7f5e2c1a4b8d6f0"
	v := model.ReviewView{
		Review:      "2026-Q4",
		RunID:       "run-0001",
		RunAt:       day("2026-12-01T09:00:00Z"),
		ToolVersion: "test",
		LedgerHead:  head,
		PageURL:     "https://acme.atlassian.net/wiki/spaces/SOX/pages/98765/UAR+2026-Q4",
		Deadline:    day("2026-12-31T09:00:00Z"),
		Systems: []model.SystemReview{
			{
				System: model.System{Name: "NetSuite", Groups: []string{"SOX-NetSuite-*"}, Owner: "nina.patel@company.com",
					BackupReviewer: "cfo@company.com", Delegates: []string{"omar.haddad@company.com"}},
				Risk: model.RiskHigh,
				Access: []model.AccessRow{
					row("SOX-NetSuite-Admins", "Admins", "carol.wong@company.com", "Carol Wong", "Finance", "Controller", "Employee", "ACTIVE", "2026-11-28T16:04:00Z", "direct", model.RiskHigh),
					row("SOX-NetSuite-Admins", "Admins", "dave.kim@company.com", "Dave Kim", "IT", "IT Manager", "Employee", "ACTIVE", "2026-11-30T08:12:00Z", "direct", model.RiskHigh),
					row("SOX-NetSuite-Users", "Users", "alice.chen@company.com", "Alice Chen", "Finance", "Staff Accountant", "Employee", "ACTIVE", "2026-11-29T10:00:00Z", "rule", ""),
					row("SOX-NetSuite-Users", "Users", "ivan.petrov@company.com", "Ivan Petrov", "Finance", "Consultant", "Contractor", "ACTIVE", "", "direct", model.RiskMedium),
					row("SOX-NetSuite-Users", "Users", "nina.patel@company.com", "Nina Patel", "Finance", "Finance Director", "Employee", "ACTIVE", "2026-11-30T12:00:00Z", "direct", ""),
				},
				Findings: []model.Finding{
					{RuleID: "SOD-IT-ERP-ADMIN", Risk: model.RiskHigh, System: "NetSuite", UserLogin: "dave.kim@company.com",
						Groups: []string{"SOX-NetSuite-Admins"}, Title: "IT staff administering the ERP", Source: model.FindingSourceRule,
						Detail: "IT Manager in SOX-NetSuite-Admins: IT staff must not administer the ERP used by Finance (segregation of duties). Recommend revoking SOX-NetSuite-Admins."},
					{RuleID: "multi_system_admin", Risk: model.RiskHigh, System: "NetSuite", UserLogin: "carol.wong@company.com",
						Groups: []string{"SOX-NetSuite-Admins", "SOX-Workday-Admins"}, Title: "Admin in more than one system", Source: model.FindingSourceRule,
						Detail: "Controller is an administrator in NetSuite and Workday (SOX-NetSuite-Admins, SOX-Workday-Admins). Recommend keeping one admin role."},
					{RuleID: "contractor", Risk: model.RiskMedium, System: "NetSuite", UserLogin: "ivan.petrov@company.com",
						Groups: []string{"SOX-NetSuite-Users"}, Title: "Contractor with access", Source: model.FindingSourceRule,
						Detail: "Contractor in SOX-NetSuite-Users: confirm the engagement is still active and the access still needed."},
				},
				JiraKey: "UAR-1",
				JiraURL: "https://acme.atlassian.net/browse/UAR-1",
			},
			{
				System: model.System{Name: "Salesforce", Groups: []string{"SOX-Salesforce-*"}, Owner: "sam.rivera@company.com", BackupReviewer: "cfo@company.com"},
				Access: []model.AccessRow{
					row("SOX-Salesforce-Admins", "Admins", "erin.lee@company.com", "Erin Lee", "Sales Ops", "Salesforce Administrator", "Employee", "ACTIVE", "2026-11-27T14:30:00Z", "app", ""),
				},
				JiraKey: "UAR-3",
				JiraURL: "https://acme.atlassian.net/browse/UAR-3",
			},
			{
				System: model.System{Name: "Workday", Groups: []string{"SOX-Workday-*"}, Owner: "hr.lead@company.com", BackupReviewer: "cfo@company.com"},
				Risk:   model.RiskHigh,
				Access: []model.AccessRow{
					row("SOX-Workday-Admins", "Admins", "carol.wong@company.com", "Carol Wong", "Finance", "Controller", "Employee", "ACTIVE", "2026-11-28T16:04:00Z", "direct", model.RiskHigh),
					row("SOX-Workday-Users", "Users", "bob.martin@company.com", "Bob Martin", "HR", "HR Generalist", "Employee", "SUSPENDED", "2026-06-01T09:00:00Z", "direct", ""),
				},
				Findings: []model.Finding{
					{RuleID: "multi_system_admin", Risk: model.RiskHigh, System: "Workday", UserLogin: "carol.wong@company.com",
						Groups: []string{"SOX-NetSuite-Admins", "SOX-Workday-Admins"}, Title: "Admin in more than one system", Source: model.FindingSourceRule,
						Detail: "Controller is an administrator in NetSuite and Workday (SOX-NetSuite-Admins, SOX-Workday-Admins). Recommend keeping one admin role."},
				},
				JiraKey: "UAR-2",
				JiraURL: "https://acme.atlassian.net/browse/UAR-2",
			},
		},
		Empty:          []string{"Coupa"},
		PreviousReview: "2026-Q3",
	}
	addFixtureContext(&v)
	return v
}

// addFixtureContext gives the fixture the reviewer context the review
// layer computes: tiers from the policy's roles, department peers, the
// previous review's outcome; privileged groups first.
func addFixtureContext(v *model.ReviewView) {
	dept := map[string]int{"Finance": 4, "IT": 1, "Sales Ops": 1, "HR": 1} // people per department
	peers := map[string]int{"SOX-NetSuite-Admins/Finance": 1, "SOX-NetSuite-Admins/IT": 1, "SOX-NetSuite-Users/Finance": 3,
		"SOX-Salesforce-Admins/Sales Ops": 1, "SOX-Workday-Admins/Finance": 1, "SOX-Workday-Users/HR": 1}
	prev := map[string]string{"carol.wong@company.com": model.AccessCertified, "dave.kim@company.com": model.AccessCertified,
		"alice.chen@company.com": model.AccessCertified, "ivan.petrov@company.com": model.AccessNew, "nina.patel@company.com": model.AccessPending,
		"erin.lee@company.com": model.AccessCertified, "bob.martin@company.com": model.AccessRevoked}
	roles := map[string]model.GroupRole{
		"SOX-NetSuite-Admins":   {Tier: model.TierPrivileged, Allows: "Full administration of NetSuite, including journal posting and user setup."},
		"SOX-NetSuite-Users":    {Tier: model.TierStandard, Allows: "Day-to-day accounting: journal entries up to the approval limits."},
		"SOX-Salesforce-Admins": {Tier: model.TierPrivileged},
		"SOX-Workday-Admins":    {Tier: model.TierPrivileged, Allows: "Workday security administration, including payroll access."},
	}
	for i := range v.Systems {
		s := &v.Systems[i]
		members := map[string]int{}
		var order []string
		for j := range s.Access {
			a := &s.Access[j]
			a.Tier = roles[a.GroupName].Tier
			a.DeptSize = dept[a.Department]
			a.DeptPeers = peers[a.GroupName+"/"+a.Department]
			a.PrevDecision = prev[a.UserEmail]
			if members[a.GroupName] == 0 {
				order = append(order, a.GroupName)
			}
			members[a.GroupName]++
		}
		for _, g := range order {
			r := roles[g]
			r.GroupName, r.Members = g, members[g]
			s.Roles = append(s.Roles, r)
		}
	}
}

// golden compares got with testdata/name byte for byte; UPDATE_GOLDEN=1
// rewrites the file instead (review the diff).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (UPDATE_GOLDEN=1 to accept)\n--- got ---\n%s", name, got)
	}
}

func indentJSON(t *testing.T, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}
