package review

import (
	"errors"
	"strings"
	"testing"

	"github.com/uar-dev/uar/internal/model"
)

func TestSystemLabel(t *testing.T) {
	cases := map[string]string{
		"NetSuite":       "uar-2026-q4-netsuite",
		"sap-erp":        "uar-2026-q4-sap-erp",
		"Net Suite":      "uar-2026-q4-net-suite-",
		"Net-Suite":      "uar-2026-q4-net-suite",
		"Café & Co (EU)": "uar-2026-q4-caf-co-eu-",
	}
	seen := map[string]string{}
	for in, prefix := range cases {
		got := SystemLabel(ReviewLabel("2026-Q4"), in)
		if !strings.HasPrefix(got, prefix) || strings.ContainsAny(got, " \t") {
			t.Errorf("SystemLabel(%q) = %q, want prefix %q and no spaces", in, got, prefix)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("SystemLabel(%q) = SystemLabel(%q) = %q", in, other, got)
		}
		seen[got] = in
	}
}

func TestBuildView(t *testing.T) {
	snap := &model.Snapshot{
		Groups: []model.Group{
			{ID: "g1", Name: "SOX-NetSuite-Admins", System: "NetSuite", Role: "Admins"},
			{ID: "g2", Name: "SOX-Oracle-Users", System: "Oracle", Role: "Users"},
			{ID: "g3", Name: "SOX-Empty-Users", System: "Empty", Role: "Users"},
		},
		Users: []model.User{{ID: "u1", Login: "a@x.com", FirstName: "A"}, {ID: "u2", Login: "b@x.com"}},
		Memberships: []model.Membership{
			{GroupID: "g1", UserID: "u2", Source: model.SourceDirect}, {GroupID: "g1", UserID: "u1", Source: model.SourceDirect},
			{GroupID: "g2", UserID: "u1", Source: model.SourceRule},
		},
	}
	findings := []model.Finding{
		{RuleID: "r1", Risk: model.RiskMedium, System: "NetSuite", UserID: "u1", UserLogin: "a@x.com"},
		{RuleID: "r2", Risk: model.RiskHigh, System: "NetSuite", UserID: "u2", UserLogin: "b@x.com"},
		{RuleID: "r3", Risk: model.RiskHigh, System: "Oracle", UserID: "u1", UserLogin: "a@x.com", Suppressed: &model.Suppression{Ticket: "X-1"}},
	}
	systems := []model.System{{Name: "NetSuite", Owner: "o@x.com"}, {Name: "Workday", Owner: "w@x.com"}}
	v := BuildView(systems, snap, findings, "2026-Q4")
	if len(v.Systems) != 2 || v.Systems[0].System.Name != "NetSuite" || v.Systems[1].System.Name != "Oracle" {
		t.Fatalf("systems = %+v", v.Systems)
	}
	ns := v.Systems[0]
	if ns.Risk != model.RiskHigh || ns.System.Owner != "o@x.com" || len(ns.Findings) != 2 || ns.Findings[0].RuleID != "r2" {
		t.Errorf("NetSuite = %+v", ns)
	}
	if len(ns.Access) != 2 || ns.Access[0].UserLogin != "a@x.com" || ns.Access[0].Risk != model.RiskMedium || ns.Access[1].Risk != model.RiskHigh {
		t.Errorf("NetSuite access = %+v", ns.Access)
	}
	// The suppressed finding is not shown and does not raise the risk.
	if o := v.Systems[1]; o.Risk != "" || len(o.Findings) != 0 || o.System.Owner != "" {
		t.Errorf("Oracle = %+v", o)
	}
	if strings.Join(v.Empty, ",") != "Empty,Workday" {
		t.Errorf("empty = %v", v.Empty)
	}
	err := CheckOwners(v)
	var se *SettingError
	if !errors.As(err, &se) || se.Key != "systems" || !strings.Contains(err.Error(), "system Oracle has no owner") || se.Hint == "" {
		t.Errorf("CheckOwners = %v", err)
	}
}
