package score

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/uar-dev/uar/internal/model"
)

// Titles and recommendations of the HR checks.
const (
	TitleTerminatedWithAccess  = "Leaver still holds SOX access"
	TitleLoginAfterTermination = "Sign-in after termination"
	TitleNoHRRecord            = "SOX access without an HR record"
	TitleMoverKeptAccess       = "Mover kept the access of their old role"

	RecommendTerminatedWithAccess  = "Recommend revoking every SOX membership of the leaver now."
	RecommendLoginAfterTermination = "Recommend revoking the access now and investigating the sign-in in the Okta System Log."
	RecommendNoHRRecord            = "Recommend confirming who owns the account, or revoking it."
	RecommendMoverKeptAccess       = "Recommend re-approving the access for the new role and revoking what it does not need."
)

// HRCheck is an HR check with no parameter beyond its switch and risk.
type HRCheck struct {
	Enabled bool       `json:"enabled"`
	Risk    model.Risk `json:"risk"`
}

// NoHRRecordCheck flags members with no HR match, except users whose
// user_type is one of ExceptUserTypes (non-human accounts).
type NoHRRecordCheck struct {
	Enabled         bool       `json:"enabled"`
	Risk            model.Risk `json:"risk"`
	ExceptUserTypes []string   `json:"except_user_types"`
}

// Role describes, for reviewers, what the groups matching Groups allow and
// their tier (the policy's roles:). The first role matching a group wins.
type Role struct {
	Groups []string `json:"groups"` // globs over group names
	Tier   string   `json:"tier"`   // model.TierPrivileged, model.TierStandard, or "" when not given
	Allows string   `json:"allows"`
}

// RoleOf returns the first role of the policy whose globs match the group
// name; ok is false when none does.
func (p *Policy) RoleOf(group string) (r Role, ok bool) {
	for _, r := range p.Roles {
		for _, g := range r.Groups {
			if m, err := path.Match(g, group); err == nil && m {
				return r, true
			}
		}
	}
	return Role{}, false
}

// HR is the HR evidence of a scoring pass. With a nil Listing every HR
// check is skipped and Result.Skipped says so: a review without an HR
// listing gets a note, never a no_hr_record finding per member.
type HR struct {
	// Listing is the review's current HR listing.
	Listing *model.HRListing
	// Previous is the previous review (see docs/policy.md for how it is
	// chosen); nil, or one without an HR listing, skips mover_kept_access
	// with a note.
	Previous *PreviousReview
}

// PreviousReview is what mover_kept_access compares with: the previous
// review's HR listing and its access population. Only Snap's groups and
// memberships are read, and only the memberships of the users
// [MoverCandidates] names matter: a caller may load just those.
type PreviousReview struct {
	Review  string
	Listing *model.HRListing // nil when that review has no HR listing
	Snap    *model.Snapshot
}

// MoverCandidates returns the ids of the users of snap whose HR record in
// cur shows another department or title than the same person's record in
// prev (matched as mover_kept_access matches them), sorted: the only users
// whose previous memberships the check reads.
func MoverCandidates(snap *model.Snapshot, cur, prev *model.HRListing) []string {
	if cur == nil || prev == nil {
		return []string{}
	}
	ci, pi := newHRIndex(cur), newHRIndex(prev)
	out := []string{}
	for i := range snap.Users {
		u := &snap.Users[i]
		h := ci.match(u)
		if h < 0 {
			continue
		}
		r := &ci.recs[h]
		if p := pi.same(r); p >= 0 && (changed(pi.recs[p].Department, r.Department) || changed(pi.recs[p].Title, r.Title)) {
			out = append(out, u.ID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// hrIndex matches users to the records of one HR listing: by email
// (case-insensitive), then by employee id against Okta's employee number.
type hrIndex struct {
	recs    []model.HRRecord
	byEmail map[string]int32
	byID    map[string]int32
}

func newHRIndex(l *model.HRListing) *hrIndex {
	ix := &hrIndex{recs: l.Records, byEmail: make(map[string]int32, len(l.Records)), byID: make(map[string]int32, len(l.Records))}
	for i, r := range l.Records {
		if r.Email != "" {
			ix.byEmail[strings.ToLower(r.Email)] = int32(i)
		}
		if r.EmployeeID != "" {
			ix.byID[r.EmployeeID] = int32(i)
		}
	}
	return ix
}

// match returns the index of u's record, or -1.
func (ix *hrIndex) match(u *model.User) int32 {
	if u.Email != "" {
		if i, ok := ix.byEmail[strings.ToLower(u.Email)]; ok {
			return i
		}
	}
	if id := strings.TrimSpace(u.EmployeeNumber); id != "" {
		if i, ok := ix.byID[id]; ok {
			return i
		}
	}
	return -1
}

// same returns the index of the record of the same person as r (by
// employee id, then email), or -1.
func (ix *hrIndex) same(r *model.HRRecord) int32 {
	if r.EmployeeID != "" {
		if i, ok := ix.byID[r.EmployeeID]; ok {
			return i
		}
	}
	if r.Email != "" {
		if i, ok := ix.byEmail[r.Email]; ok {
			return i
		}
	}
	return -1
}

// hrState is the evaluator's HR part.
type hrState struct {
	cur      *hrIndex // nil: no listing, HR checks skipped
	prev     *hrIndex // nil: mover_kept_access skipped
	prevName string
	// prevGroups holds, per user id, the sorted group names the user held
	// in the previous review, in systems of the current population.
	prevGroups map[string][]string
	skipped    []string
	match      HRMatch
}

func (ev *evaluator) indexHR(hr HR) {
	c := &ev.p.Checks
	anyOn := c.TerminatedWithAccess.Enabled || c.LoginAfterTermination.Enabled || c.NoHRRecord.Enabled || c.MoverKeptAccess.Enabled
	if !anyOn {
		return
	}
	if hr.Listing == nil {
		ev.hr.skipped = append(ev.hr.skipped, "HR checks skipped: the review has no HR listing (uar snapshot --import FILE --kind hr)")
		return
	}
	ev.hr.cur = newHRIndex(hr.Listing)
	if !c.MoverKeptAccess.Enabled {
		return
	}
	switch p := hr.Previous; {
	case p == nil:
		ev.hr.skipped = append(ev.hr.skipped, CheckMoverKeptAccess+" skipped: there is no previous review to compare with")
	case p.Listing == nil || p.Snap == nil:
		ev.hr.skipped = append(ev.hr.skipped, fmt.Sprintf("%s skipped: the previous review %s has no HR listing", CheckMoverKeptAccess, p.Review))
	default:
		ev.hr.prev = newHRIndex(p.Listing)
		ev.hr.prevName = p.Review
		ev.hr.prevGroups = previousGroups(p.Snap, ev.systems)
	}
}

// previousGroups maps each user id of snap to the sorted names of its
// groups whose system is among systems (sorted).
func previousGroups(snap *model.Snapshot, systems []string) map[string][]string {
	name := make(map[string]string, len(snap.Groups))
	for _, g := range snap.Groups {
		if _, ok := slices.BinarySearch(systems, g.System); ok {
			name[g.ID] = g.Name
		}
	}
	out := map[string][]string{}
	for _, m := range snap.Memberships {
		if n, ok := name[m.GroupID]; ok {
			out[m.UserID] = append(out[m.UserID], n)
		}
	}
	for u, gs := range out {
		slices.Sort(gs)
		out[u] = slices.Compact(gs)
	}
	return out
}

// scoreHR runs the HR checks for user ui holding groups gs.
func (ev *evaluator) scoreHR(ui int, gs []int32) {
	if ev.hr.cur == nil {
		return
	}
	u := &ev.users[ui]
	c := &ev.p.Checks
	hi := ev.hr.cur.match(u)
	ev.hr.match.Members++
	if hi >= 0 {
		ev.hr.match.Matched++
	}
	if hi < 0 {
		if c.NoHRRecord.Enabled && !containsFold(c.NoHRRecord.ExceptUserTypes, u.UserType) {
			detail := fmt.Sprintf("%s (%s) holds %s but matches no person in the HR listing, by email or by employee id: HR cannot vouch that the account belongs to a current employee. %s",
				subject(u), accountOf(u), ev.phrase(gs), RecommendNoHRRecord)
			ev.emit(ui, tabNoHRRecord, detail, gs)
		}
		return
	}
	r := &ev.hr.cur.recs[hi]
	if r.Status == model.HRTerminated {
		asOfDay := dayOf(ev.asOf)
		if c.TerminatedWithAccess.Enabled {
			detail := fmt.Sprintf("HR lists %s as terminated on %s (%s), yet the account still holds %s. A leaver's access must end on their last day. %s",
				subject(u), r.TerminationDate.Format(DateLayout), daysAgo(asOfDay, r.TerminationDate), ev.phrase(gs), RecommendTerminatedWithAccess)
			ev.emit(ui, tabTerminatedWithAccess, detail, gs)
		}
		if c.LoginAfterTermination.Enabled && !u.LastLogin.IsZero() && !dayOf(u.LastLogin).Before(r.TerminationDate.AddDate(0, 0, 1)) {
			days := int(dayOf(u.LastLogin).Sub(r.TerminationDate) / (24 * time.Hour))
			detail := fmt.Sprintf("%s signed in on %s, %d days after HR's termination date %s, and still holds %s: someone used a leaver's account. %s",
				subject(u), u.LastLogin.UTC().Format(time.RFC3339), days, r.TerminationDate.Format(DateLayout), ev.phrase(gs), RecommendLoginAfterTermination)
			ev.emit(ui, tabLoginAfterTermination, detail, gs)
		}
	}
	if ev.hr.prev != nil {
		ev.scoreMover(ui, gs, r)
	}
}

// scoreMover flags a user whose HR department or title changed since the
// previous review while every SOX membership held then is still held.
func (ev *evaluator) scoreMover(ui int, gs []int32, r *model.HRRecord) {
	u := &ev.users[ui]
	pi := ev.hr.prev.same(r)
	if pi < 0 {
		return
	}
	was := &ev.hr.prev.recs[pi]
	if !changed(was.Department, r.Department) && !changed(was.Title, r.Title) {
		return
	}
	before := ev.hr.prevGroups[u.ID]
	if len(before) == 0 {
		return
	}
	kept := ev.scratch[:0]
	for _, name := range before {
		found := false
		for _, g := range gs {
			if ev.groups[g].Name == name {
				kept = append(kept, g)
				found = true
			}
		}
		if !found {
			ev.scratch = kept[:0]
			return // something was removed: the move was acted upon
		}
	}
	slices.Sort(kept)
	kept = slices.Compact(kept)
	ev.scratch = kept[:0]
	detail := fmt.Sprintf("HR shows %s moved from %s (review %s) to %s, yet the account still holds every SOX membership it held at review %s: %s. %s",
		u.DisplayName(), position(was), ev.hr.prevName, position(r), ev.hr.prevName, ev.phrase(kept), RecommendMoverKeptAccess)
	ev.emit(ui, tabMoverKeptAccess, detail, kept)
}

// changed reports a move: both values given and different (ignoring case
// and surrounding space). A value missing on either side is not a move.
func changed(was, now string) bool {
	was, now = strings.TrimSpace(was), strings.TrimSpace(now)
	return was != "" && now != "" && !strings.EqualFold(was, now)
}

// position reads "Finance / Accountant".
func position(r *model.HRRecord) string {
	d, t := r.Department, r.Title
	if d == "" {
		d = "(no department)"
	}
	if t == "" {
		t = "(no title)"
	}
	return d + " / " + t
}

func accountOf(u *model.User) string {
	if u.Email != "" {
		return u.Email
	}
	return u.Login
}

// dayOf is midnight UTC of t's UTC date.
func dayOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// daysAgo says how far date lies before today: "31 days ago", "today",
// "effective in 4 days".
func daysAgo(today, date time.Time) string {
	n := int(today.Sub(date) / (24 * time.Hour))
	switch {
	case n == 0:
		return "today"
	case n == 1:
		return "1 day ago"
	case n > 1:
		return fmt.Sprintf("%d days ago", n)
	case n == -1:
		return "effective in 1 day"
	}
	return fmt.Sprintf("effective in %d days", -n)
}

// parseHRChecks parses the four HR checks of checks:.
func (pp *policyParser) parseHRChecks(c *Checks, fs map[string]field) {
	simple := []struct {
		name string
		dst  *HRCheck
	}{
		{CheckTerminatedWithAccess, &c.TerminatedWithAccess},
		{CheckLoginAfterTermination, &c.LoginAfterTermination},
		{CheckMoverKeptAccess, &c.MoverKeptAccess},
	}
	for _, s := range simple {
		f, ok := fs[s.name]
		if !ok {
			continue
		}
		p := "checks." + s.name
		if cf, ok := pp.fields(f.val, p, "enabled", "risk"); ok {
			pp.checkCommon(cf, p, &s.dst.Enabled, &s.dst.Risk)
		}
	}
	if f, ok := fs[CheckNoHRRecord]; ok {
		const p = "checks." + CheckNoHRRecord
		if cf, ok := pp.fields(f.val, p, "enabled", "risk", "except_user_types"); ok {
			pp.checkCommon(cf, p, &c.NoHRRecord.Enabled, &c.NoHRRecord.Risk)
			if lf, ok := cf["except_user_types"]; ok {
				if l, ok := pp.strList(lf.val, p+".except_user_types"); ok {
					c.NoHRRecord.ExceptUserTypes = l
				}
			}
		}
	}
}

// parseRoles parses roles: a list of {groups, tier, allows}.
func (pp *policyParser) parseRoles(n *yaml.Node) []Role {
	out := []Role{}
	if isNull(n) {
		return out
	}
	if n.Kind != yaml.SequenceNode {
		pp.add(n, "roles", "want a list of roles, got %s", kindName(n))
		return out
	}
	for i, rn := range n.Content {
		rn = deref(rn)
		p := fmt.Sprintf("roles[%d]", i)
		fs, ok := pp.fields(rn, p, "groups", "tier", "allows")
		if !ok {
			continue
		}
		if isNull(rn) {
			pp.add(rn, p, "empty role: want groups and a tier or allows")
			continue
		}
		r := Role{Groups: []string{}}
		if f, ok := fs["groups"]; !ok {
			pp.add(rn, p+".groups", "required: globs over group names")
		} else if l, ok := pp.globList(f.val, p+".groups"); ok {
			if len(l) == 0 {
				pp.add(f.val, p+".groups", "needs at least one pattern")
			}
			r.Groups = l
		}
		if f, ok := fs["tier"]; ok {
			if s, ok := pp.str(f.val, p+".tier"); ok {
				switch t := strings.ToLower(s); t {
				case model.TierPrivileged, model.TierStandard:
					r.Tier = t
				default:
					pp.add(f.val, p+".tier", "%q is not privileged or standard", s)
				}
			}
		}
		r.Allows = pp.optionalStr(fs, "allows", p)
		if _, hasTier := fs["tier"]; !hasTier && r.Allows == "" {
			pp.add(rn, p, "give a tier (privileged or standard), allows, or both")
		}
		out = append(out, r)
	}
	return out
}
