package score

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

// synthSnapshot builds a deterministic population: users with perUser
// distinct groups each, over 8 systems (every 10th group an admin group).
// noisy makes a quarter of the users contractors, a fifth suspended and
// about half dormant (a worst case for the number of findings); otherwise
// it is 5% contractors, 1% suspended and about 10% dormant.
func synthSnapshot(users, groups, perUser int, noisy bool) *model.Snapshot {
	rng := rand.New(rand.NewPCG(1, 2))
	systems := []string{"NetSuite", "Workday", "Salesforce", "Coupa", "Concur", "ADP", "Oracle", "SAP"}
	depts := []string{"Finance", "IT", "Sales", "HR", "Legal", "Ops"}
	contractorPct, suspendedPct, loginDays := 5, 1, 100
	if noisy {
		contractorPct, suspendedPct, loginDays = 25, 20, 200
	}
	pick := func(pct int, yes, no string) string {
		if rng.IntN(100) < pct {
			return yes
		}
		return no
	}
	snap := &model.Snapshot{Review: "bench", TakenAt: asOf}
	for i := range groups {
		sys := systems[i%len(systems)]
		role := fmt.Sprintf("Role%03d", i)
		if i%10 == 0 {
			role += "-Admins"
		}
		snap.Groups = append(snap.Groups, model.Group{ID: fmt.Sprintf("g%04d", i), Name: "SOX-" + sys + "-" + role, System: sys, Role: role, Type: model.GroupTypeOkta})
	}
	snap.Users = make([]model.User, users)
	snap.Memberships = make([]model.Membership, 0, users*perUser)
	for i := range users {
		login := fmt.Sprintf("user%05d@company.com", i)
		snap.Users[i] = model.User{
			ID: fmt.Sprintf("u%05d", i), Login: login, Email: login, FirstName: "User", LastName: fmt.Sprint(i),
			Department: depts[rng.IntN(len(depts))], Title: "Analyst", UserType: pick(contractorPct, "Contractor", "Employee"),
			Status: pick(suspendedPct, "SUSPENDED", "ACTIVE"), Created: asOf.AddDate(-3, 0, 0),
			LastLogin: asOf.Add(-time.Duration(rng.IntN(loginDays*24)) * time.Hour), Origin: model.OriginOkta,
		}
		seen := map[int]bool{}
		for len(seen) < perUser {
			g := rng.IntN(groups)
			if seen[g] {
				continue
			}
			seen[g] = true
			snap.Memberships = append(snap.Memberships, model.Membership{GroupID: snap.Groups[g].ID, UserID: snap.Users[i].ID, Source: model.SourceDirect})
		}
	}
	return snap
}

// synthPolicy has n SoD rules of every shape (any, all, any+all, when).
func synthPolicy(n int) string {
	var b strings.Builder
	b.WriteString("version: 1\nsod_rules:\n")
	systems := []string{"NetSuite", "Workday", "Salesforce", "Coupa"}
	for i := range n {
		fmt.Fprintf(&b, "  - id: SOD-%02d\n    title: Synthetic rule %d\n    risk: %s\n", i, i, []string{"HIGH", "MEDIUM", "LOW"}[i%3])
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "    when: {department: [IT]}\n    groups: {any: [\"SOX-%s-*-Admins\"]}\n", systems[i%4])
		case 1:
			fmt.Fprintf(&b, "    groups: {all: [\"SOX-%s-Role0%d*\", \"SOX-%s-Role1*\"]}\n", systems[i%4], i%10, systems[(i+1)%4])
		case 2:
			fmt.Fprintf(&b, "    groups: {any: [\"SOX-*-Role%03d*\"], all: [\"SOX-%s-*\"]}\n", i*7%400, systems[i%4])
		case 3:
			fmt.Fprintf(&b, "    when: {user_type: [contractor], status: [active]}\n    groups: {any: [\"SOX-%s-Role2?[0-4]\"]}\n", systems[i%4])
		}
	}
	return b.String()
}

// BenchmarkEvaluate scores 50,000 users, 400 groups and 500,000
// memberships with 50 SoD rules plus every built-in check.
func BenchmarkEvaluate(b *testing.B) {
	for _, noisy := range []bool{false, true} {
		name := "typical"
		if noisy {
			name = "noisy"
		}
		b.Run(name, func(b *testing.B) {
			snap := synthSnapshot(50_000, 400, 10, noisy)
			p, err := ParsePolicy("bench.yaml", []byte(synthPolicy(50)))
			if err != nil {
				b.Fatal(err)
			}
			if len(snap.Memberships) != 500_000 {
				b.Fatalf("%d memberships", len(snap.Memberships))
			}
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				n = len(Evaluate(p, snap, asOf).Findings)
			}
			b.ReportMetric(float64(n), "findings")
		})
	}
}

// TestSynthPolicyFires guards the benchmark against measuring a policy that
// matches nothing.
func TestSynthPolicyFires(t *testing.T) {
	snap := synthSnapshot(500, 400, 10, false)
	p, err := ParsePolicy("bench.yaml", []byte(synthPolicy(50)))
	if err != nil {
		t.Fatal(err)
	}
	res := Evaluate(p, snap, asOf)
	rules := map[string]bool{}
	for _, f := range res.Findings {
		rules[f.RuleID] = true
	}
	for _, id := range []string{"SOD-00", "SOD-01", "SOD-02", "SOD-03", CheckContractor, CheckDormant, CheckInactiveStatus, CheckMultiSystemAdmin} {
		if !rules[id] {
			t.Errorf("rule %s never fired", id)
		}
	}
}

// BenchmarkParsePolicyAliasBomb: the ~400 KB alias policy of
// TestPolicyAliasBombRefused is refused in time linear in its size
// (before the yamlx guard, walking it took minutes and gigabytes).
func BenchmarkParsePolicyAliasBomb(b *testing.B) {
	data := aliasBombPolicy(false)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParsePolicy("policy.yaml", data); err == nil {
			b.Fatal("accepted")
		}
	}
}
