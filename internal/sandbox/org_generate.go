package sandbox

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

// GenerateOptions sizes a synthetic org. Zero fields take the defaults
// noted; the same options always give the same org.
type GenerateOptions struct {
	Seed         uint64    // PCG seed (default 1)
	Users        int       // default 1,000
	SOXGroups    int       // SOX-<System>-<Role> groups (default 40)
	NonSOXGroups int       // other groups, incl. look-alikes (default 20)
	Memberships  int       // memberships of the SOX groups, exactly (default 10 × Users; at most SOXGroups × Users)
	Systems      int       // distinct SOX systems (default SOXGroups/3, at least 1)
	Now          time.Time // the org's "today" (default ReferenceNow)
}

// Generated-org proportions (documented so the benchmark's findings can be
// sanity-checked): about 8% contractors, 5% dormant (last login 91-400
// days before Now), 1% never logged in, 2% inactive (SUSPENDED,
// DEPROVISIONED, LOCKED_OUT); 5% of SOX groups are APP_GROUPs and 3% are
// targeted by an ACTIVE group rule.
var (
	oktaGenDepartments = []struct {
		name   string
		weight int
		titles []string
	}{
		{"Finance", 18, []string{"Accountant", "Senior Accountant", "Financial Analyst", "Controller", "AP Specialist", "AR Specialist", "FP&A Manager", "Payroll Specialist"}},
		{"IT", 14, []string{"IT Manager", "Systems Administrator", "Help Desk Analyst", "Network Engineer", "Security Engineer", "DBA"}},
		{"Engineering", 20, []string{"Software Engineer", "Senior Software Engineer", "Engineering Manager", "SRE", "QA Engineer"}},
		{"Sales", 16, []string{"Account Executive", "Sales Rep", "Sales Operations Manager", "Sales Engineer", "Regional Director"}},
		{"HR", 6, []string{"HR Generalist", "Recruiter", "HR Business Partner", "HR Director"}},
		{"Operations", 12, []string{"Operations Analyst", "Operations Manager", "Procurement Specialist", "Logistics Coordinator"}},
		{"Marketing", 8, []string{"Marketing Manager", "Content Strategist", "Demand Gen Specialist"}},
		{"Legal", 3, []string{"Counsel", "Paralegal", "Compliance Analyst"}},
		{"Support", 10, []string{"Support Engineer", "Customer Success Manager", "Support Lead"}},
	}
	oktaGenFirst = []string{"Alex", "Blake", "Casey", "Dana", "Eli", "Fran", "Gabe", "Hana", "Ira", "Jo", "Kai", "Lena", "Milo", "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Vik", "Wren", "Xena", "Yuri", "Zoe", "Ana", "Ben", "Chloe", "Dev", "Emma", "Finn", "Gia", "Hugo", "Ines", "Jack", "Kira", "Liam", "Maya", "Noah"}
	oktaGenLast  = []string{"Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jones", "Khan", "Lopez", "Miller", "Novak", "Okafor", "Patel", "Quinn", "Rossi", "Smith", "Tanaka", "Ueda", "Varga", "Wong", "Xu", "Young", "Zhang", "Kim", "Singh", "Silva", "Moreau"}
	oktaGenSys   = []string{"NetSuite", "Workday", "Salesforce", "SAP", "OracleEBS", "Coupa", "Concur", "ADP", "BlackLine", "Anaplan", "Snowflake", "Zuora", "Avalara", "Kyriba", "Expensify", "Bill", "Tipalti", "Adaptive", "HighRadius", "FloQast"}
	oktaGenRoles = []string{"Admins", "Users", "Approvers", "ReadOnly", "Preparers", "Reviewers", "Posters", "Auditors"}
)

// withDefaults fills in what o leaves zero.
func (o GenerateOptions) withDefaults() GenerateOptions {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Users <= 0 {
		o.Users = 1000
	}
	if o.SOXGroups <= 0 {
		o.SOXGroups = 40
	}
	if o.NonSOXGroups <= 0 {
		o.NonSOXGroups = 20
	}
	if o.Memberships <= 0 {
		o.Memberships = 10 * o.Users
	}
	if o.Systems <= 0 {
		o.Systems = max(1, o.SOXGroups/3)
	}
	if o.Now.IsZero() {
		o.Now = ReferenceNow
	}
	return o
}

// Validate reports options no org can satisfy: the SOX groups hold
// exactly Memberships, each user at most once per group, so more than
// users × groups is refused rather than quietly capped.
func (o GenerateOptions) Validate() error {
	d := o.withDefaults()
	if d.Memberships > d.Users*d.SOXGroups {
		return fmt.Errorf("memberships=%d: at most users × groups = %d × %d = %d (a user is in a group once)",
			d.Memberships, d.Users, d.SOXGroups, d.Users*d.SOXGroups)
	}
	return nil
}

// Generate builds a synthetic org deterministically from o.Seed. It is
// linear in users and memberships: 50,000 users, 400 SOX groups and
// 500,000 memberships take well under a second or two.
func Generate(o GenerateOptions) *Org {
	o = o.withDefaults()
	rng := rand.New(rand.NewPCG(o.Seed, 0x5ca1ab1e))
	org := &Org{Now: o.Now}
	day := 24 * time.Hour

	// Users.
	totalW := 0
	for _, d := range oktaGenDepartments {
		totalW += d.weight
	}
	seen := make(map[string]int, o.Users)
	org.Users = make([]OrgUser, o.Users)
	for i := range org.Users {
		w := rng.IntN(totalW)
		di := 0
		for ; w >= oktaGenDepartments[di].weight; di++ {
			w -= oktaGenDepartments[di].weight
		}
		dept := oktaGenDepartments[di]
		first, last := oktaGenFirst[rng.IntN(len(oktaGenFirst))], oktaGenLast[rng.IntN(len(oktaGenLast))]
		base := strings.ToLower(first + "." + last)
		login := base + "@company.com"
		if n := seen[base]; n > 0 {
			login = fmt.Sprintf("%s%d@company.com", base, n+1)
		}
		seen[base]++
		created := o.Now.Add(-time.Duration(30+rng.IntN(2500)) * day).Truncate(time.Second)
		u := OrgUser{
			ID: fmt.Sprintf("00u%017d", i+1), Status: "ACTIVE", Created: created,
			Login: login, Email: login, FirstName: first, LastName: last,
			Title: dept.titles[rng.IntN(len(dept.titles))], Department: dept.name,
			UserType: "Employee", EmployeeNumber: fmt.Sprint(10000 + i),
		}
		pw := created
		u.PasswordChanged = &pw
		if rng.IntN(100) < 8 {
			u.UserType, u.EmployeeNumber = "Contractor", ""
		}
		if i > 0 && rng.IntN(4) > 0 {
			m := &org.Users[rng.IntN(i)]
			u.Manager, u.ManagerID = m.FirstName+" "+m.LastName, m.ID
		}
		switch r := rng.IntN(1000); {
		case r < 7:
			u.Status = "SUSPENDED"
		case r < 14:
			u.Status = "DEPROVISIONED"
		case r < 20:
			u.Status = "LOCKED_OUT"
		}
		switch r := rng.IntN(100); {
		case r < 5: // dormant
			t := o.Now.Add(-time.Duration(91+rng.IntN(310))*day - time.Duration(rng.IntN(86400))*time.Second)
			u.LastLogin = &t
		case r < 6: // never logged in; half of these omit the key altogether
			if rng.IntN(2) == 0 {
				u.Omit = []string{"lastLogin"}
			}
		default:
			t := o.Now.Add(-time.Duration(rng.IntN(60*86400)) * time.Second)
			u.LastLogin = &t
		}
		if u.LastLogin != nil && u.LastLogin.Before(created) {
			t := created.Add(time.Hour)
			u.LastLogin = &t
		}
		if rng.IntN(100) < 3 { // unset attributes are absent in Okta's JSON
			u.Department = ""
		}
		if rng.IntN(100) < 2 {
			u.Title = ""
		}
		org.Users[i] = u
	}

	// Groups: SOX first, then non-SOX.
	systems := make([]string, o.Systems)
	for i := range systems {
		if i < len(oktaGenSys) {
			systems[i] = oktaGenSys[i]
		} else {
			systems[i] = fmt.Sprintf("App%03d", i+1)
		}
	}
	nGroups := o.SOXGroups + o.NonSOXGroups
	gcreated := o.Now.Add(-3 * 365 * day)
	for i := range o.SOXGroups {
		sys := systems[i%len(systems)]
		k := i / len(systems)
		role := oktaGenRoles[k%len(oktaGenRoles)]
		if k >= len(oktaGenRoles) {
			role = fmt.Sprintf("%s%d", role, k/len(oktaGenRoles)+1)
		}
		g := OrgGroup{ID: fmt.Sprintf("00g%017d", i+1), Name: "SOX-" + sys + "-" + role,
			Description: sys + " " + role + " (SOX in scope)", Type: model.GroupTypeOkta, Created: gcreated}
		if i%20 == 7 {
			g.Type, g.SourceID, g.Description = model.GroupTypeApp, "0oa00000000000000ad1", "Imported from Active Directory"
		}
		org.Groups = append(org.Groups, g)
	}
	for j := range o.NonSOXGroups {
		name := ""
		switch {
		case j == 0:
			name = "All-Staff"
		case j%10 == 3:
			name = fmt.Sprintf("sox-sandbox-%d", j) // look-alike, lower case
		case j <= len(oktaGenDepartments):
			name = "Dept-" + oktaGenDepartments[j-1].name
		default:
			name = fmt.Sprintf("Team-%03d", j)
		}
		org.Groups = append(org.Groups, OrgGroup{ID: fmt.Sprintf("00g%017d", o.SOXGroups+j+1), Name: name, Type: model.GroupTypeOkta, Created: gcreated})
	}
	// Rules: ~3% of OKTA_GROUP SOX groups (at least one) are rule targets.
	for i := range o.SOXGroups {
		g := &org.Groups[i]
		if g.Type != model.GroupTypeOkta || (i%33 != 4 && !(i == 0 && o.SOXGroups < 5)) {
			continue
		}
		d := oktaGenDepartments[len(org.Rules)%len(oktaGenDepartments)].name
		org.Rules = append(org.Rules, OrgRule{ID: fmt.Sprintf("0pr%017d", len(org.Rules)+1),
			Name: "Auto " + g.Name, Status: "ACTIVE", Expression: `user.department=="` + d + `"`,
			GroupIDs: []string{g.ID}, Created: gcreated})
	}

	// Membership sizes: Zipf-like weights over a shuffled group order so
	// some groups are large and most are small; each capped at Users.
	weights := make([]float64, nGroups)
	perm := rng.Perm(nGroups)
	for i, p := range perm {
		weights[p] = 1 / math.Pow(float64(i+1), 0.7)
		// Administrator groups are small in a real org: a tenth of the
		// weight keeps "admin in several systems" to a few percent of
		// users instead of most of them.
		if strings.HasSuffix(org.Groups[p].Name, "-Admins") {
			weights[p] /= 10
		}
	}
	// The SOX groups hold exactly o.Memberships (what a snapshot reads, so
	// "memberships=N" is what a benchmark gets); the other groups get the
	// same density on top, so the org looks as busy outside SOX.
	soxWeight, otherWeight := 0.0, 0.0
	for g := range weights {
		if g < o.SOXGroups {
			soxWeight += weights[g]
		} else {
			otherWeight += weights[g]
		}
	}
	sizes := make([]int, nGroups)
	spread(sizes[:o.SOXGroups], weights[:o.SOXGroups], soxWeight, min(o.Memberships, o.SOXGroups*o.Users), o.Users)
	others := int(math.Round(float64(o.Memberships) * otherWeight / soxWeight))
	spread(sizes[o.SOXGroups:], weights[o.SOXGroups:], otherWeight, min(others, o.NonSOXGroups*o.Users), o.Users)
	// Floyd's algorithm picks distinct members without a full shuffle.
	for g := range org.Groups {
		k := sizes[g]
		picked := make(map[int]struct{}, k)
		for j := o.Users - k; j < o.Users; j++ {
			t := rng.IntN(j + 1)
			if _, dup := picked[t]; dup {
				t = j
			}
			picked[t] = struct{}{}
		}
		ids := make([]string, 0, k)
		for u := range picked {
			ids = append(ids, org.Users[u].ID)
		}
		slices.Sort(ids)
		org.Groups[g].Members = ids
	}
	return org
}

// spread shares total memberships over groups in proportion to their
// weights (summing to sum), none above limit, exactly total in all.
func spread(sizes []int, weights []float64, sum float64, total, limit int) {
	if len(sizes) == 0 || total <= 0 {
		return
	}
	assigned := 0
	for g := range sizes {
		sizes[g] = min(limit, int(float64(total)*weights[g]/sum))
		assigned += sizes[g]
	}
	for g := 0; assigned < total; g = (g + 1) % len(sizes) {
		if sizes[g] < limit {
			add := min(limit-sizes[g], total-assigned)
			sizes[g] += add
			assigned += add
		}
	}
}
