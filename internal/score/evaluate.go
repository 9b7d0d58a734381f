package score

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

// Titles of the findings raised by the built-in checks.
const (
	TitleContractor       = "Contractor with SOX access"
	TitleDormant          = "Dormant account with SOX access"
	TitleInactiveStatus   = "Inactive account still holds SOX access"
	TitleMultiSystemAdmin = "Administrator in more than one system"
	TitleOrphaned         = "Orphaned application account"
)

// Recommendations of the built-in checks (a SoD rule carries its own).
const (
	RecommendContractor       = "Recommend revoking it, or recording a time-boxed exception."
	RecommendDormant          = "Recommend revoking access that is not used."
	RecommendInactiveStatus   = "Recommend removing the memberships of inactive accounts."
	RecommendMultiSystemAdmin = "Recommend keeping administrator access in one system at most."
	RecommendOrphaned         = "Recommend disabling the account in the application, or linking it to an Okta identity."
)

// Result is the outcome of one scoring pass. Every slice is non-nil and in
// canonical order, so the same policy over the same snapshot yields an
// identical Result.
type Result struct {
	// Findings are the active (unsuppressed) findings, ordered by risk
	// (HIGH first), system, user login, rule id.
	Findings []model.Finding `json:"findings"`
	// Suppressed are findings silenced by a current exception; each has
	// Suppressed set. Same order as Findings.
	Suppressed []model.Finding `json:"suppressed"`
	// Systems summarises the active findings per system, for every system
	// that has a group in the snapshot or a finding, sorted by name.
	Systems []SystemRisk `json:"systems"`
	// Notes are remarks for the auditor about the policy's exceptions:
	// ones that expired while still matching a finding, and ones that
	// matched nothing (stale). In policy order.
	Notes []string `json:"notes"`
	// Skipped says which enabled checks could not run and why (the HR
	// checks without an HR listing; mover_kept_access without a previous
	// review's listing).
	Skipped []string `json:"skipped"`
	// HR counts, when the review has an HR listing, the users holding
	// access and how many of them an HR record matched.
	HR HRMatch `json:"hr,omitzero"`
}

// HRMatch is how much of the population an HR listing covered.
type HRMatch struct {
	Members int `json:"members"` // users holding at least one membership
	Matched int `json:"matched"` // of those, users an HR record matched
}

// SystemRisk is the risk summary of one system.
type SystemRisk struct {
	System string     `json:"system"`
	Risk   model.Risk `json:"risk"` // highest active finding risk, "" if none
	High   int        `json:"high"`
	Medium int        `json:"medium"`
	Low    int        `json:"low"`
}

// compiledRule is a SoD rule with its patterns already matched against
// every group of the snapshot (patterns are matched once per distinct group
// name, never per membership).
type compiledRule struct {
	rule     *SoDRule
	tab      int32    // index in evaluator.ruleTab
	anyMatch []bool   // by group index
	allMatch [][]bool // by pattern, then group index
}

// ruleInfo is what a finding copies from its check or SoD rule.
type ruleInfo struct {
	id, title, rec string
	risk           model.Risk
}

// Indexes of the built-in checks in evaluator.ruleTab; SoD rules follow.
const (
	tabContractor int32 = iota
	tabDormant
	tabInactiveStatus
	tabMultiSystemAdmin
	tabOrphaned
	tabTerminatedWithAccess
	tabLoginAfterTermination
	tabNoHRRecord
	tabMoverKeptAccess
	tabFirstRule
)

// pending is a finding before materialisation: small and pointer-free, so
// that hundreds of thousands of them sort quickly and cost little memory.
type pending struct {
	user   int32
	rule   int32 // index in ruleTab
	sys    int32 // index in systems (sorted by name)
	detail int32 // index in details
	gStart int32 // the finding's groups are gflat[gStart:gStart+gLen]
	gLen   int32
}

type evaluator struct {
	p      *Policy
	asOf   time.Time
	users  []model.User
	groups []model.Group
	// A user's groups are flat[offsets[u]:offsets[u+1]]: group indexes,
	// sorted and de-duplicated (a CSR layout: one int32 per membership).
	offsets []int32
	flat    []int32
	admin   []bool
	rules   []compiledRule
	ruleTab []ruleInfo
	okta    map[string]bool // lower(email) and lower(login) of non-imported users
	systems []string        // distinct group systems, sorted
	sysOf   []int32         // group index -> index in systems
	out     []pending
	details []string
	gflat   []int32
	scratch []int32
	hr      hrState
}

// Evaluate runs the policy's built-in checks and SoD rules over snap as of
// asOf (the clock is the caller's: pass the review's run time). Findings
// are emitted one per user × rule × system: a finding spanning several
// systems (e.g. multi_system_admin) yields one finding per system, whose
// Groups are that system's involved groups and whose Detail names all of
// them, so each system owner sees it in their own review. Memberships that
// name an unknown user or group are ignored. Exceptions for the finding's
// rule and user (email or login, case-insensitive) suppress it while asOf's
// UTC date is on or before the exception's expiry date.
func Evaluate(p *Policy, snap *model.Snapshot, asOf time.Time) Result {
	return EvaluateHR(p, snap, asOf, HR{})
}

// EvaluateHR is [Evaluate] with the review's HR evidence, which the HR
// checks (terminated_with_access, login_after_termination, no_hr_record,
// mover_kept_access) need; without a listing they are skipped and
// Result.Skipped says so. A user is matched to an HR record by email
// (case-insensitive), then by employee id against User.EmployeeNumber.
func EvaluateHR(p *Policy, snap *model.Snapshot, asOf time.Time, hr HR) Result {
	ev := &evaluator{p: p, asOf: asOf.UTC(), users: snap.Users, groups: snap.Groups}
	ev.index(snap)
	ev.indexHR(hr)
	ev.compile()
	ev.scratch = make([]int32, 0, 64)
	for u := range ev.users {
		gs := ev.flat[ev.offsets[u]:ev.offsets[u+1]]
		if len(gs) == 0 {
			continue
		}
		ev.scoreUser(u, gs)
	}
	return ev.finish()
}

func (ev *evaluator) index(snap *model.Snapshot) {
	userIdx := make(map[string]int32, len(ev.users))
	for i, u := range ev.users {
		userIdx[u.ID] = int32(i)
	}
	groupIdx := make(map[string]int32, len(ev.groups))
	for i, g := range ev.groups {
		groupIdx[g.ID] = int32(i)
	}
	// Two passes over the memberships (count, then fill) keep memory at
	// one int32 per membership, whatever the population's size.
	ev.offsets = make([]int32, len(ev.users)+1)
	type pair struct{ u, g int32 }
	resolve := func(m model.Membership) (pair, bool) {
		u, ok := userIdx[m.UserID]
		if !ok {
			return pair{}, false
		}
		g, ok := groupIdx[m.GroupID]
		return pair{u, g}, ok
	}
	for _, m := range snap.Memberships {
		if pr, ok := resolve(m); ok {
			ev.offsets[pr.u+1]++
		}
	}
	for i := 1; i < len(ev.offsets); i++ {
		ev.offsets[i] += ev.offsets[i-1]
	}
	ev.flat = make([]int32, ev.offsets[len(ev.users)])
	next := slices.Clone(ev.offsets[:len(ev.users)])
	for _, m := range snap.Memberships {
		if pr, ok := resolve(m); ok {
			ev.flat[next[pr.u]] = pr.g
			next[pr.u]++
		}
	}
	// Sort and de-duplicate each user's groups, compacting in place.
	w := int32(0)
	start := int32(0)
	for u := range ev.users {
		end := ev.offsets[u+1]
		seg := ev.flat[start:end]
		slices.Sort(seg)
		seg = slices.Compact(seg)
		newStart := w
		w += int32(copy(ev.flat[w:], seg))
		ev.offsets[u] = newStart
		start = end
	}
	ev.offsets[len(ev.users)] = w
	ev.flat = ev.flat[:w]

	sysIdx := map[string]int32{}
	for _, g := range ev.groups {
		sysIdx[g.System] = 0
	}
	ev.systems = sortedKeys(sysIdx)
	for i, name := range ev.systems {
		sysIdx[name] = int32(i)
	}
	ev.sysOf = make([]int32, len(ev.groups))
	for i, g := range ev.groups {
		ev.sysOf[i] = sysIdx[g.System]
	}

	ev.okta = make(map[string]bool, 2*len(ev.users))
	for _, u := range ev.users {
		if u.Origin == model.OriginImport {
			continue
		}
		if u.Email != "" {
			ev.okta[strings.ToLower(u.Email)] = true
		}
		if u.Login != "" {
			ev.okta[strings.ToLower(u.Login)] = true
		}
	}
}

// matcher matches a glob against each distinct group name once.
func (ev *evaluator) matcher() func(pattern string) []bool {
	nameOf := make([]int, len(ev.groups)) // group index -> distinct name index
	var names []string
	seen := map[string]int{}
	for i, g := range ev.groups {
		n, ok := seen[g.Name]
		if !ok {
			n = len(names)
			names = append(names, g.Name)
			seen[g.Name] = n
		}
		nameOf[i] = n
	}
	cache := map[string][]bool{}
	return func(pattern string) []bool {
		if r, ok := cache[pattern]; ok {
			return r
		}
		byName := make([]bool, len(names))
		for i, n := range names {
			m, err := path.Match(pattern, n)
			byName[i] = err == nil && m
		}
		r := make([]bool, len(ev.groups))
		for i := range ev.groups {
			r[i] = byName[nameOf[i]]
		}
		cache[pattern] = r
		return r
	}
}

func (ev *evaluator) compile() {
	match := ev.matcher()
	orInto := func(dst, src []bool) {
		for i, v := range src {
			dst[i] = dst[i] || v
		}
	}
	ev.admin = make([]bool, len(ev.groups))
	if ev.p.Checks.MultiSystemAdmin.Enabled {
		for _, pat := range ev.p.Checks.MultiSystemAdmin.AdminGroups {
			orInto(ev.admin, match(pat))
		}
	}
	c := &ev.p.Checks
	ev.ruleTab = []ruleInfo{
		tabContractor:       {CheckContractor, TitleContractor, RecommendContractor, c.Contractor.Risk},
		tabDormant:          {CheckDormant, TitleDormant, RecommendDormant, c.Dormant.Risk},
		tabInactiveStatus:   {CheckInactiveStatus, TitleInactiveStatus, RecommendInactiveStatus, c.InactiveStatus.Risk},
		tabMultiSystemAdmin: {CheckMultiSystemAdmin, TitleMultiSystemAdmin, RecommendMultiSystemAdmin, c.MultiSystemAdmin.Risk},
		tabOrphaned:         {CheckOrphaned, TitleOrphaned, RecommendOrphaned, c.Orphaned.Risk},

		tabTerminatedWithAccess:  {CheckTerminatedWithAccess, TitleTerminatedWithAccess, RecommendTerminatedWithAccess, c.TerminatedWithAccess.Risk},
		tabLoginAfterTermination: {CheckLoginAfterTermination, TitleLoginAfterTermination, RecommendLoginAfterTermination, c.LoginAfterTermination.Risk},
		tabNoHRRecord:            {CheckNoHRRecord, TitleNoHRRecord, RecommendNoHRRecord, c.NoHRRecord.Risk},
		tabMoverKeptAccess:       {CheckMoverKeptAccess, TitleMoverKeptAccess, RecommendMoverKeptAccess, c.MoverKeptAccess.Risk},
	}
	ev.rules = make([]compiledRule, len(ev.p.SoDRules))
	for i := range ev.p.SoDRules {
		r := &ev.p.SoDRules[i]
		cr := compiledRule{rule: r, tab: int32(len(ev.ruleTab))}
		ev.ruleTab = append(ev.ruleTab, ruleInfo{r.ID, r.Title, r.Recommendation, r.Risk})
		if len(r.Any) > 0 {
			cr.anyMatch = make([]bool, len(ev.groups))
			for _, pat := range r.Any {
				orInto(cr.anyMatch, match(pat))
			}
		}
		for _, pat := range r.All {
			cr.allMatch = append(cr.allMatch, match(pat))
		}
		ev.rules[i] = cr
	}
}

func (ev *evaluator) scoreUser(ui int, gs []int32) {
	u := &ev.users[ui]
	c := &ev.p.Checks
	if c.Contractor.Enabled && containsFold(c.Contractor.UserTypes, u.UserType) {
		detail := fmt.Sprintf("%s %s%s has persistent access to %s. Contractor access to SOX systems should be time-boxed and re-approved. %s",
			u.UserType, u.DisplayName(), deptSuffix(u), ev.phrase(gs), RecommendContractor)
		ev.emit(ui, tabContractor, detail, gs)
	}
	if c.Dormant.Enabled {
		n := c.Dormant.DormantDays
		cutoff := ev.asOf.AddDate(0, 0, -n)
		switch {
		case !u.LastLogin.IsZero() && u.LastLogin.Before(cutoff):
			days := int(ev.asOf.Sub(u.LastLogin) / (24 * time.Hour))
			detail := fmt.Sprintf("No login for %d days (last login %s, threshold %d days): %s still holds %s. %s",
				days, u.LastLogin.UTC().Format(DateLayout), n, subject(u), ev.phrase(gs), RecommendDormant)
			ev.emit(ui, tabDormant, detail, gs)
		case u.LastLogin.IsZero() && !u.Created.IsZero() && u.Created.Before(cutoff):
			days := int(ev.asOf.Sub(u.Created) / (24 * time.Hour))
			detail := fmt.Sprintf("Never logged in (account created %s, %d days ago, threshold %d days): %s still holds %s. %s",
				u.Created.UTC().Format(DateLayout), days, n, subject(u), ev.phrase(gs), RecommendDormant)
			ev.emit(ui, tabDormant, detail, gs)
		}
	}
	if c.InactiveStatus.Enabled && containsFold(c.InactiveStatus.Statuses, u.Status) {
		detail := fmt.Sprintf("Account status is %s, yet %s still holds %s. %s",
			strings.ToUpper(u.Status), subject(u), ev.phrase(gs), RecommendInactiveStatus)
		ev.emit(ui, tabInactiveStatus, detail, gs)
	}
	if c.MultiSystemAdmin.Enabled {
		adm := ev.scratch[:0]
		for _, g := range gs {
			if ev.admin[g] {
				adm = append(adm, g)
			}
		}
		if n := ev.systemCount(adm); n > 1 {
			detail := fmt.Sprintf("%s is an administrator in %d systems through %s. One person administering several SOX systems defeats segregation of duties. %s",
				subject(u), n, ev.phrase(adm), RecommendMultiSystemAdmin)
			ev.emit(ui, tabMultiSystemAdmin, detail, adm)
		}
		ev.scratch = adm[:0]
	}
	if c.Orphaned.Enabled && u.Origin == model.OriginImport &&
		(u.Email == "" || !ev.okta[strings.ToLower(u.Email)]) {
		who := u.Email
		if who == "" {
			who = u.Login
		}
		detail := fmt.Sprintf("Account %s holds %s in an application export but matches no Okta user by email or login: nobody is accountable for it and a leaver's access cannot be traced. %s",
			who, ev.phrase(gs), RecommendOrphaned)
		ev.emit(ui, tabOrphaned, detail, gs)
	}
	ev.scoreHR(ui, gs)
	for i := range ev.rules {
		ev.scoreRule(ui, gs, &ev.rules[i])
	}
}

func (ev *evaluator) scoreRule(ui int, gs []int32, cr *compiledRule) {
	u := &ev.users[ui]
	r := cr.rule
	for _, attr := range WhenAttributes {
		vals, ok := r.When[attr]
		if ok && !containsFold(vals, userAttr(u, attr)) {
			return
		}
	}
	involved := ev.scratch[:0]
	if cr.anyMatch != nil {
		for _, g := range gs {
			if cr.anyMatch[g] {
				involved = append(involved, g)
			}
		}
		if len(involved) == 0 {
			return
		}
	}
	for _, m := range cr.allMatch {
		found := false
		for _, g := range gs {
			if m[g] {
				found = true
				involved = append(involved, g)
			}
		}
		if !found {
			return
		}
	}
	slices.Sort(involved)
	involved = slices.Compact(involved)
	ev.scratch = involved[:0]
	detail := fmt.Sprintf("%s in %s: %s (segregation of duties).", subject(u), ev.phrase(involved), strings.TrimRight(r.Title, ". "))
	if r.Recommendation != "" {
		detail += " " + sentence(r.Recommendation)
	}
	ev.emit(ui, cr.tab, detail, involved)
}

func userAttr(u *model.User, attr string) string {
	switch attr {
	case "department":
		return u.Department
	case "title":
		return u.Title
	case "user_type":
		return u.UserType
	case "status":
		return u.Status
	}
	return ""
}

// emit records one finding per system among the involved groups; the
// systems share one detail sentence.
func (ev *evaluator) emit(ui int, rule int32, detail string, involved []int32) {
	d := int32(len(ev.details))
	ev.details = append(ev.details, detail)
	for i, g := range involved {
		sys := ev.sysOf[g]
		dup := false
		for _, h := range involved[:i] {
			if ev.sysOf[h] == sys {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		start := int32(len(ev.gflat))
		for _, h := range involved[i:] {
			if ev.sysOf[h] == sys {
				ev.gflat = append(ev.gflat, h)
			}
		}
		ev.out = append(ev.out, pending{user: int32(ui), rule: rule, sys: sys, detail: d, gStart: start, gLen: int32(len(ev.gflat)) - start})
	}
}

func (ev *evaluator) systemCount(gs []int32) int {
	n := 0
	for i, g := range gs {
		first := true
		for _, h := range gs[:i] {
			if ev.sysOf[h] == ev.sysOf[g] {
				first = false
				break
			}
		}
		if first {
			n++
		}
	}
	return n
}

// phrase lists groups for a sentence: "A", "A and B", "A, B and C"; when
// they span several systems each name carries its system: "A (NetSuite)".
func (ev *evaluator) phrase(gs []int32) string {
	multi := ev.systemCount(gs) > 1
	names := make([]string, 0, len(gs))
	for _, g := range gs {
		grp := &ev.groups[g]
		n := grp.Name
		if multi && grp.System != "" {
			n += " (" + grp.System + ")"
		}
		names = append(names, n)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	switch len(names) {
	case 0:
		return "no group"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// subject names a user for a sentence: "IT Manager Dave Kim (IT)".
func subject(u *model.User) string {
	s := u.DisplayName()
	if u.Title != "" {
		s = u.Title + " " + s
	}
	return s + deptSuffix(u)
}

func deptSuffix(u *model.User) string {
	if u.Department == "" {
		return ""
	}
	return " (" + u.Department + ")"
}

// sentence ends s with a full stop unless it already ends a sentence.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

func containsFold(list []string, v string) bool {
	if v == "" {
		return false
	}
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// finish sorts the pending findings into the canonical order (risk, HIGH
// first; system; user login; rule id — with user id as the tiebreak between
// equal logins, which makes the order total since a user has at most one
// finding per rule and system), applies the exceptions and materialises
// the model.Finding values into exactly-sized slices.
func (ev *evaluator) finish() Result {
	res := Result{Suppressed: []model.Finding{}, Systems: []SystemRisk{}, Notes: []string{}, Skipped: append([]string{}, ev.hr.skipped...), HR: ev.hr.match}
	day := time.Date(ev.asOf.Year(), ev.asOf.Month(), ev.asOf.Day(), 0, 0, 0, 0, time.UTC)

	userRank := make([]int32, len(ev.users))
	{
		order := make([]int32, len(ev.users))
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int {
			ua, ub := &ev.users[a], &ev.users[b]
			return cmp.Or(cmp.Compare(ua.Login, ub.Login), cmp.Compare(ua.ID, ub.ID))
		})
		for r, u := range order {
			userRank[u] = int32(r)
		}
	}
	ruleRank := make([]int32, len(ev.ruleTab))
	{
		order := make([]int32, len(ev.ruleTab))
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int {
			return cmp.Or(cmp.Compare(ev.ruleTab[a].id, ev.ruleTab[b].id), cmp.Compare(a, b))
		})
		for r, i := range order {
			ruleRank[i] = int32(r)
		}
	}
	slices.SortFunc(ev.out, func(a, b pending) int {
		return cmp.Or(
			cmp.Compare(ev.ruleTab[b.rule].risk.Rank(), ev.ruleTab[a.rule].risk.Rank()),
			cmp.Compare(a.sys, b.sys), // systems are indexed in name order
			cmp.Compare(userRank[a.user], userRank[b.user]),
			cmp.Compare(ruleRank[a.rule], ruleRank[b.rule]),
			cmp.Compare(a.gStart, b.gStart),
		)
	})

	// Exceptions: exc[i] is the index of the exception matching out[i],
	// or -1.
	type exKey struct{ rule, user string }
	exIdx := make(map[exKey]int32, len(ev.p.Exceptions))
	for i, e := range ev.p.Exceptions {
		exIdx[exKey{strings.ToLower(e.Rule), strings.ToLower(e.User)}] = int32(i)
	}
	used := make([]bool, len(ev.p.Exceptions))
	expiredHit := make([]bool, len(ev.p.Exceptions))
	var exc []int32
	nSuppressed := 0
	if len(exIdx) > 0 {
		exc = make([]int32, len(ev.out))
		for i, pf := range ev.out {
			exc[i] = -1
			u := &ev.users[pf.user]
			rule := strings.ToLower(ev.ruleTab[pf.rule].id)
			for _, id := range []string{u.Email, u.Login} {
				if id == "" {
					continue
				}
				if x, ok := exIdx[exKey{rule, strings.ToLower(id)}]; ok {
					exc[i] = x
					used[x] = true
					if day.After(ev.p.Exceptions[x].Expires) {
						expiredHit[x] = true
					} else {
						nSuppressed++
					}
					break
				}
			}
		}
	}

	nGroups := 0
	for _, pf := range ev.out {
		nGroups += int(pf.gLen)
	}
	names := make([]string, 0, nGroups)
	res.Findings = make([]model.Finding, 0, len(ev.out)-nSuppressed)
	if nSuppressed > 0 {
		res.Suppressed = make([]model.Finding, 0, nSuppressed)
	}
	for i, pf := range ev.out {
		u := &ev.users[pf.user]
		ri := &ev.ruleTab[pf.rule]
		start := len(names)
		for _, g := range ev.gflat[pf.gStart : pf.gStart+pf.gLen] {
			names = append(names, ev.groups[g].Name)
		}
		gs := names[start:len(names):len(names)]
		slices.Sort(gs)
		gs = slices.Compact(gs)
		f := model.Finding{
			RuleID:         ri.id,
			Risk:           ri.risk,
			System:         ev.systems[pf.sys],
			UserID:         u.ID,
			UserLogin:      u.Login,
			Groups:         gs,
			Title:          ri.title,
			Detail:         ev.details[pf.detail],
			Recommendation: ri.rec,
			Source:         model.FindingSourceRule,
		}
		if exc != nil && exc[i] >= 0 {
			e := ev.p.Exceptions[exc[i]]
			if day.After(e.Expires) {
				f.Detail += fmt.Sprintf(" An exception for this (%s) expired on %s and no longer applies.", exceptionRef(e), e.ExpiresDate())
			} else {
				f.Suppressed = &model.Suppression{ApprovedBy: e.ApprovedBy, Ticket: e.Ticket, Expires: e.ExpiresDate(), Reason: e.Reason}
				res.Suppressed = append(res.Suppressed, f)
				continue
			}
		}
		res.Findings = append(res.Findings, f)
	}

	for i, e := range ev.p.Exceptions {
		switch {
		case expiredHit[i]:
			res.Notes = append(res.Notes, fmt.Sprintf("exception %s for %s under %s expired on %s: its findings are active again", exceptionRef(e), e.User, e.Rule, e.ExpiresDate()))
		case !used[i]:
			res.Notes = append(res.Notes, fmt.Sprintf("exception %s for %s under %s matched no finding: consider removing it", exceptionRef(e), e.User, e.Rule))
		}
	}

	// Every system of the snapshot's groups appears, with or without
	// findings; ev.systems is already sorted.
	res.Systems = make([]SystemRisk, len(ev.systems))
	for i, name := range ev.systems {
		res.Systems[i].System = name
	}
	for _, f := range res.Findings {
		i, _ := slices.BinarySearch(ev.systems, f.System)
		s := &res.Systems[i]
		switch f.Risk {
		case model.RiskHigh:
			s.High++
		case model.RiskMedium:
			s.Medium++
		case model.RiskLow:
			s.Low++
		}
		if f.Risk.Rank() > s.Risk.Rank() {
			s.Risk = f.Risk
		}
	}
	return res
}

func exceptionRef(e Exception) string {
	if e.Ticket != "" {
		return e.Ticket + ", approved by " + e.ApprovedBy
	}
	return "approved by " + e.ApprovedBy
}
