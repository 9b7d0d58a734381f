package decisions

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

// Reviewer is a person the configuration names for a system. AccountID is
// the Jira identity that authorises comments; Email authorises CSV rows
// and tells which accesses are the reviewer's own (self-review), so both
// should be filled in (the caller resolves one from the other once).
type Reviewer struct {
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
}

// Access is one membership in a system's snapshot.
type Access struct {
	UserID  string `json:"user_id"`
	Login   string `json:"login"`
	Email   string `json:"email"`
	GroupID string `json:"group_id"`
	Group   string `json:"group"`
	// Admin marks an admin or privileged group of the system (policy
	// roles tier privileged, or the admin_groups globs).
	Admin bool `json:"admin"`
}

// Author is who wrote a comment (or a CSV row: Email only). Email is ""
// when Jira hides it.
type Author struct {
	AccountID   string `json:"account_id"`
	DisplayName string `json:"display_name"`
	Email       string `json:"email"`
}

// Comment is one comment on a system's ticket and its decision lines (from
// ParseADF or ParseText), or one CSV row (CSVDecision.Comment). Created
// and Updated are Jira's times, in UTC.
type Comment struct {
	ID      string    `json:"id"`
	Source  string    `json:"source"` // model.DecisionSource*; "" means jira
	Author  Author    `json:"author"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Lines   []Line    `json:"lines"`
}

// Edited reports whether the comment was changed after it was posted.
func (c Comment) Edited() bool { return !c.Updated.IsZero() && !c.Updated.Equal(c.Created) }

// System is everything Resolve needs about one system under review.
type System struct {
	Name      string     `json:"name"`
	JiraKey   string     `json:"jira_key"`
	Owner     Reviewer   `json:"owner"`
	Delegates []Reviewer `json:"delegates"`
	Backup    Reviewer   `json:"backup"`
	Access    []Access   `json:"access"`
	Comments  []Comment  `json:"comments"`
}

// Input is one resolution pass over a review.
type Input struct {
	Systems []System `json:"systems"`
	// Findings are the review's findings, all systems; Resolve uses the
	// unsuppressed HIGH ones. A finding names the memberships of its user
	// (UserID, else UserLogin) in its Groups, or in its System when Groups
	// is empty.
	Findings []model.Finding `json:"findings"`
	// CertifyAllCoversHigh is review.certify_all_covers_high: true turns
	// the rubber-stamp guard off.
	CertifyAllCoversHigh bool `json:"certify_all_covers_high"`
}

// AccessState is the outcome for one access.
type AccessState struct {
	System   string `json:"system"`
	JiraKey  string `json:"jira_key"`
	Access   Access `json:"access"`
	Decision string `json:"decision"` // model.AccessCertified, AccessRevoked or AccessPending
	// Winner is the accepted record that decides the access (it points
	// into Result.Decisions); nil while pending.
	Winner *model.Decision `json:"-"`
	// Pending says why the access is still pending; "" when decided.
	Pending string `json:"pending"`
	// OpenHigh lists the rule ids of the open HIGH findings on the access
	// that no revocation has addressed.
	OpenHigh []string `json:"open_high"`
}

// Summary counts one system's outcome.
type Summary struct {
	System      string `json:"system"`
	Accesses    int    `json:"accesses"`
	Certified   int    `json:"certified"`
	Revoked     int    `json:"revoked"`
	Pending     int    `json:"pending"`
	PendingHigh int    `json:"pending_high"`   // pending because CERTIFY: all met an open HIGH finding
	Lines       int    `json:"lines"`          // decision lines read
	Rejected    int    `json:"rejected_lines"` // lines with a rejection other than the rubber-stamp guard
	Malformed   int    `json:"malformed_lines"`
	Edited      int    `json:"edited_comments"` // comments with decision lines edited after posting
}

// Decided is the number of certified or revoked accesses.
func (s Summary) Decided() int { return s.Certified + s.Revoked }

// Result is what Resolve decides. Every slice is sorted and non-nil.
type Result struct {
	// Decisions has one record per decision line per access it resolves
	// to; a line that names no access (malformed, unauthorised, unknown
	// address) has one record with the target as written. For each access
	// at most one record is accepted. Sorted by system, decided_at,
	// comment id (numerically), line index, group, target, user id.
	Decisions []model.Decision `json:"decisions"`
	// Access has one state per access, sorted by system, group, target,
	// user id.
	Access []AccessState `json:"access"`
	// Replies are the comments to post (see Reply), sorted by system then
	// key.
	Replies []Reply `json:"replies"`
	// Summaries has one entry per system, sorted by name.
	Summaries []Summary `json:"summaries"`
}

// record is a model.Decision being resolved.
type record struct {
	model.Decision
	sys      int  // index in resolver.systems
	access   int  // index in the system's access list; -1 when none
	specific bool // from a line naming addresses, not from all
	open     bool // accepted so far: a candidate to win its access
	guarded  bool // a CERTIFY: all stopped by the rubber-stamp guard
	comment  *Comment
}

type sysState struct {
	System
	ownerEmail string
	byAddr     map[string][]int // lower-case e-mail and login -> accesses
}

type resolver struct {
	in         Input
	systems    []*sysState
	records    []*record
	byUser     map[string][]accessRef // user key -> accesses, all systems
	revoked    map[accessRef]bool
	findings   []model.Finding  // open HIGH findings
	findingsBy map[string][]int // "id:"/"login:" key -> indexes in findings
}

type accessRef struct{ sys, access int }

// Resolve applies the rules of the package doc to in. It reads no clock
// and no map order: the same input gives the same result.
func Resolve(in Input) Result {
	r := &resolver{in: in, byUser: map[string][]accessRef{}, findingsBy: map[string][]int{}}
	r.prepare()
	for si, s := range r.systems {
		for ci := range s.Comments {
			c := &s.Comments[ci]
			au := s.author(c)
			for _, l := range c.Lines {
				r.expand(si, c, au, l)
			}
		}
	}
	// Which accesses are revoked whatever the guard decides: the guard only
	// ever takes CERTIFY candidates away, which can only add revocations.
	byAccess := r.group()
	r.revoked = r.settleSpecific(byAccess, false)
	if !in.CertifyAllCoversHigh {
		for _, rec := range r.records {
			if rec.open && rec.specific && rec.Action == model.ActionCertify && rec.Justification == "" {
				if rules := r.openHigh(rec.sys, rec.access); len(rules) > 0 {
					r.reject(rec, fmt.Sprintf("open HIGH finding %s on this access: certifying it needs a justification after \" -- \" (or revoke it)", strings.Join(rules, ", ")))
				}
			}
		}
	}
	r.revoked = r.settleSpecific(byAccess, true)
	r.settleBlanket(byAccess)
	return r.result()
}

// prepare copies the systems in name order, drops duplicate accesses and
// comments, orders comments and lines, and indexes users and findings.
func (r *resolver) prepare() {
	for _, s := range r.in.Systems {
		st := &sysState{System: s, ownerEmail: strings.ToLower(s.Owner.Email)}
		seen := make(map[[2]string]bool, len(s.Access))
		st.Access = make([]Access, 0, len(s.Access)) // sized once: a system may hold 100,000 accesses
		for _, a := range s.Access {
			k := [2]string{accessUserKey(a), strings.ToLower(a.Group)}
			if !seen[k] {
				seen[k] = true
				st.Access = append(st.Access, a)
			}
		}
		slices.SortFunc(st.Access, func(a, b Access) int {
			return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(target(a), target(b)), cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.Login, b.Login))
		})
		ids := map[string]bool{}
		st.Comments = nil
		for _, c := range s.Comments {
			if c.ID != "" && ids[c.ID] {
				continue
			}
			ids[c.ID] = true
			c.Lines = slices.Clone(c.Lines)
			slices.SortStableFunc(c.Lines, func(a, b Line) int { return cmp.Compare(a.Index, b.Index) })
			st.Comments = append(st.Comments, c)
		}
		slices.SortStableFunc(st.Comments, func(a, b Comment) int { return cmpOrder(a.Created, a.ID, 0, b.Created, b.ID, 0) })
		r.systems = append(r.systems, st)
	}
	slices.SortStableFunc(r.systems, func(a, b *sysState) int { return cmp.Compare(a.Name, b.Name) })
	for si, s := range r.systems {
		s.byAddr = make(map[string][]int, len(s.Access))
		for ai, a := range s.Access {
			k := accessUserKey(a)
			r.byUser[k] = append(r.byUser[k], accessRef{si, ai})
			for _, addr := range []string{strings.ToLower(a.Email), strings.ToLower(a.Login)} {
				if addr != "" && !slices.Contains(s.byAddr[addr], ai) {
					s.byAddr[addr] = append(s.byAddr[addr], ai)
				}
			}
		}
	}
	for _, f := range r.in.Findings {
		if f.Risk != model.RiskHigh || f.Suppressed != nil {
			continue
		}
		i := len(r.findings)
		r.findings = append(r.findings, f)
		if f.UserID != "" {
			r.findingsBy["id:"+f.UserID] = append(r.findingsBy["id:"+f.UserID], i)
		}
		if f.UserLogin != "" {
			k := "login:" + strings.ToLower(f.UserLogin)
			r.findingsBy[k] = append(r.findingsBy[k], i)
		}
	}
}

// findingsOf returns the open HIGH findings that may concern a's user, in
// input order (names decides).
func (r *resolver) findingsOf(a Access) []int {
	var out []int
	for _, k := range []string{"id:" + a.UserID, "login:" + strings.ToLower(a.Login), "login:" + strings.ToLower(a.Email)} {
		for _, i := range r.findingsBy[k] {
			if !slices.Contains(out, i) {
				out = append(out, i)
			}
		}
	}
	slices.Sort(out)
	return out
}

// accessUserKey identifies an access's user: the snapshot id, else the
// login or e-mail.
func accessUserKey(a Access) string {
	switch {
	case a.UserID != "":
		return "id:" + a.UserID
	case a.Login != "":
		return "login:" + strings.ToLower(a.Login)
	}
	return "email:" + strings.ToLower(a.Email)
}

// target is how a record names an access: the e-mail, else the login.
func target(a Access) string {
	if a.Email != "" {
		return a.Email
	}
	return a.Login
}

// cmpOrder orders decision lines: Jira's created time, then comment id
// (numeric ids by value, before any other), then line index.
func cmpOrder(at time.Time, id string, line int, bt time.Time, bid string, bline int) int {
	return cmp.Or(at.Compare(bt), cmpID(id, bid), cmp.Compare(line, bline))
}

func cmpID(a, b string) int {
	da, db := isDigits(a), isDigits(b)
	switch {
	case da && db:
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
	case da:
		return -1
	case db:
		return 1
	}
	return cmp.Compare(a, b)
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// author is what one comment's author may do in one system.
type author struct {
	owner, delegate, backup bool
	self                    []string // lower-case addresses that are the author's own
	admin                   bool
}

func (a author) authorised() bool { return a.owner || a.delegate || a.backup }

func (a author) role() string {
	switch {
	case a.owner:
		return model.ReviewerOwner
	case a.delegate:
		return model.ReviewerDelegate
	case a.backup:
		return model.ReviewerBackup
	}
	return ""
}

func (s *sysState) author(c *Comment) author {
	var au author
	add := func(e string) {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" && !slices.Contains(au.self, e) {
			au.self = append(au.self, e)
		}
	}
	add(c.Author.Email)
	match := func(p Reviewer) bool {
		ok := false
		if c.Source == model.DecisionSourceCSV {
			ok = p.Email != "" && strings.EqualFold(p.Email, c.Author.Email)
		} else if p.AccountID != "" {
			ok = p.AccountID == c.Author.AccountID
		} else {
			ok = p.Email != "" && c.Author.Email != "" && strings.EqualFold(p.Email, c.Author.Email)
		}
		if ok {
			add(p.Email)
		}
		return ok
	}
	au.owner = match(s.Owner)
	for _, d := range s.Delegates {
		au.delegate = match(d) || au.delegate
	}
	au.backup = match(s.Backup)
	for _, a := range s.Access {
		if a.Admin && au.owns(a) {
			au.admin = true
		}
	}
	return au
}

// owns reports whether the access is the author's own.
func (au author) owns(a Access) bool {
	for _, e := range au.self {
		if strings.EqualFold(a.Email, e) || strings.EqualFold(a.Login, e) {
			return true
		}
	}
	return false
}

func (s *sysState) isOwners(a Access) bool {
	return s.ownerEmail != "" && (strings.EqualFold(a.Email, s.ownerEmail) || strings.EqualFold(a.Login, s.ownerEmail))
}

// mayDecide says whether au may decide a, and under which role; self is
// true for a self-review.
func (s *sysState) mayDecide(au author, a Access) (ok, self bool, role, why string) {
	switch {
	case au.owns(a):
		who := "the owner decides it"
		if au.owner || s.isOwners(a) {
			who = "the backup reviewer decides it"
			if s.Backup.Email != "" {
				who = "the backup reviewer (" + s.Backup.Email + ") decides it"
			}
		}
		return false, true, "", "self-review: nobody decides their own access; " + who
	case s.isOwners(a):
		if au.backup {
			return true, false, model.ReviewerBackup, ""
		}
		return false, false, "", "only the backup reviewer decides the owner's own access"
	case au.owner:
		return true, false, model.ReviewerOwner, ""
	case au.delegate:
		return true, false, model.ReviewerDelegate, ""
	}
	return false, false, "", "the backup reviewer decides only the owner's own access"
}

// expand turns one line of one comment into records.
func (r *resolver) expand(si int, c *Comment, au author, l Line) {
	s := r.systems[si]
	source := c.Source
	if source == "" {
		source = model.DecisionSourceJira
	}
	decidedBy := c.Author.AccountID
	if source == model.DecisionSourceCSV {
		decidedBy = strings.ToLower(c.Author.Email)
	}
	base := model.Decision{
		System: s.Name, Action: l.Action, GroupName: l.Group, DecidedBy: decidedBy, DecidedAt: c.Created,
		JiraKey: s.JiraKey, CommentID: c.ID, Edited: c.Edited(), Line: l.Raw,
		AuthorName: c.Author.DisplayName, AuthorEmail: c.Author.Email, Updated: c.Updated,
		Justification: l.Justification, LineIndex: l.Index, FromAll: l.All, Source: source,
		ReviewerRole: au.role(), ReviewerIsAdmin: au.admin,
	}
	if source == model.DecisionSourceCSV {
		base.JiraKey = ""
	}
	// add records one outcome: for access a, or (a < 0) for what the line
	// names as written.
	add := func(a int, written, status, reason, role string, specific bool) {
		d := base
		d.Status, d.Reason, d.Target = status, reason, written
		if role != "" {
			d.ReviewerRole = role
		}
		if a >= 0 {
			acc := s.Access[a]
			d.Target, d.GroupName, d.UserID, d.GroupID = target(acc), acc.Group, acc.UserID, acc.GroupID
		}
		r.records = append(r.records, &record{Decision: d, sys: si, access: a, specific: specific,
			open: status == model.DecisionAccepted, comment: c})
	}
	switch {
	case l.Malformed != "":
		base.Action = ""
		add(-1, l.Subject, model.DecisionRejected, "malformed: "+l.Malformed, "", false)
	case !au.authorised():
		add(-1, l.Subject, model.DecisionRejected, fmt.Sprintf("not an authorised reviewer of %s: only its owner, a delegate or, for the owner's own access, the backup reviewer decide", s.Name), "", false)
	case l.All:
		inGroup := l.Group == ""
		n := len(r.records)
		for ai, a := range s.Access {
			if l.Group != "" && !strings.EqualFold(a.Group, l.Group) {
				continue
			}
			inGroup = true
			switch ok, self, role, why := s.mayDecide(au, a); {
			case ok:
				add(ai, "", model.DecisionAccepted, "", role, false)
			case self:
				add(ai, "", model.DecisionRejected, why, "", false)
			}
		}
		switch {
		case !inGroup:
			add(-1, l.Subject, model.DecisionRejected, fmt.Sprintf("no group %s in %s", quote(l.Group), s.Name), "", false)
		case len(r.records) == n:
			add(-1, l.Subject, model.DecisionRejected, fmt.Sprintf("all covers no access you may decide in %s", s.Name), "", false)
		}
	default:
		done := map[int]bool{}
		for _, t := range l.Targets {
			matched := s.byAddr[strings.ToLower(t)]
			var inGroup []int
			for _, ai := range matched {
				if l.Group == "" || strings.EqualFold(s.Access[ai].Group, l.Group) {
					inGroup = append(inGroup, ai)
				}
			}
			switch {
			case len(matched) == 0:
				add(-1, t, model.DecisionRejected, fmt.Sprintf("%s has no access in %s in this review's snapshot", quote(t), s.Name), "", true)
			case len(inGroup) == 0:
				var groups []string
				for _, ai := range matched {
					groups = append(groups, s.Access[ai].Group)
				}
				add(-1, target(s.Access[matched[0]]), model.DecisionRejected, fmt.Sprintf("%s is not a member of %s in %s (member of: %s)",
					quote(t), quote(l.Group), s.Name, strings.Join(groups, ", ")), "", true)
			}
			for _, ai := range inGroup {
				if done[ai] {
					continue
				}
				done[ai] = true
				if ok, _, role, why := s.mayDecide(au, s.Access[ai]); ok {
					add(ai, "", model.DecisionAccepted, "", role, true)
				} else {
					add(ai, "", model.DecisionRejected, why, "", true)
				}
			}
		}
	}
}

func (r *resolver) reject(rec *record, reason string) {
	rec.open = false
	rec.Status, rec.Reason = model.DecisionRejected, reason
}

// group returns every access's records, oldest line first. Records
// never move between accesses, so one grouping serves every pass.
func (r *resolver) group() map[accessRef][]*record {
	out := map[accessRef][]*record{}
	for _, rec := range r.records {
		if rec.access >= 0 {
			k := accessRef{rec.sys, rec.access}
			out[k] = append(out[k], rec)
		}
	}
	for _, rs := range out {
		slices.SortStableFunc(rs, func(a, b *record) int {
			return cmpOrder(a.DecidedAt, a.CommentID, a.LineIndex, b.DecidedAt, b.CommentID, b.LineIndex)
		})
	}
	return out
}

// open returns the records of rs still in the running, of one kind.
func open(rs []*record, specific bool) []*record {
	var out []*record
	for _, rec := range rs {
		if rec.open && rec.specific == specific {
			out = append(out, rec)
		}
	}
	return out
}

// settleSpecific finds the latest specific decision per access and
// returns the revoked accesses. With final, the others become superseded,
// and so does every CERTIFY: all on an access that has a specific one.
func (r *resolver) settleSpecific(byAccess map[accessRef][]*record, final bool) map[accessRef]bool {
	revoked := map[accessRef]bool{}
	for k, all := range byAccess {
		rs := open(all, true)
		if len(rs) == 0 {
			continue
		}
		win := rs[len(rs)-1]
		if win.Action == model.ActionRevoke {
			revoked[k] = true
		}
		if !final {
			continue
		}
		for _, rec := range rs[:len(rs)-1] {
			r.supersede(rec, win, "superseded by a later decision")
		}
		for _, rec := range open(all, false) {
			r.supersede(rec, win, "a specific decision for this access takes precedence over all")
		}
	}
	return revoked
}

func (r *resolver) supersede(rec, by *record, why string) {
	rec.open = false
	rec.Status = model.DecisionSuperseded
	rec.Reason = fmt.Sprintf("%s: %s in comment %s line %d (%s)", why, by.Action, by.CommentID, by.LineIndex, by.DecidedAt.UTC().Format(time.RFC3339))
	if by.Source == model.DecisionSourceCSV {
		rec.Reason = fmt.Sprintf("%s: %s on CSV line %d (%s)", why, by.Action, by.LineIndex, by.DecidedAt.UTC().Format(time.RFC3339))
	}
}

// settleBlanket decides the accesses that only CERTIFY: all covers: the
// latest wins, unless the rubber-stamp guard holds it back.
func (r *resolver) settleBlanket(byAccess map[accessRef][]*record) {
	for k, all := range byAccess {
		rs := open(all, false)
		if len(rs) == 0 {
			continue
		}
		if !r.in.CertifyAllCoversHigh {
			if rules := r.openHigh(k.sys, k.access); len(rules) > 0 {
				for _, rec := range rs {
					r.reject(rec, fmt.Sprintf("open HIGH finding %s on this access: all does not certify it; it needs its own line with a justification, or a revocation", strings.Join(rules, ", ")))
					rec.guarded = true
				}
				continue
			}
		}
		win := rs[len(rs)-1]
		for _, rec := range rs[:len(rs)-1] {
			r.supersede(rec, win, "superseded by a later decision")
		}
	}
}

// openHigh returns the sorted rule ids of the open HIGH findings naming
// the access that no revoked membership (r.revoked) has addressed.
func (r *resolver) openHigh(si, ai int) []string {
	if ai < 0 {
		return nil
	}
	a := r.systems[si].Access[ai]
	var rules []string
	for _, fi := range r.findingsOf(a) {
		f := r.findings[fi]
		if !r.names(f, accessRef{si, ai}) || slices.Contains(rules, f.RuleID) {
			continue
		}
		addressed := false
		for _, ref := range r.byUser[accessUserKey(a)] {
			if r.revoked[ref] && r.names(f, ref) {
				addressed = true
				break
			}
		}
		if !addressed {
			rules = append(rules, f.RuleID)
		}
	}
	slices.Sort(rules)
	return rules
}

// names reports whether finding f names the access.
func (r *resolver) names(f model.Finding, ref accessRef) bool {
	s := r.systems[ref.sys]
	a := s.Access[ref.access]
	switch {
	case f.UserID != "" && a.UserID != "":
		if f.UserID != a.UserID {
			return false
		}
	case f.UserLogin != "":
		if !strings.EqualFold(f.UserLogin, a.Login) && !strings.EqualFold(f.UserLogin, a.Email) {
			return false
		}
	default:
		return false
	}
	if len(f.Groups) == 0 {
		return f.System == "" || strings.EqualFold(f.System, s.Name)
	}
	for _, g := range f.Groups {
		if strings.EqualFold(g, a.Group) {
			return true
		}
	}
	return false
}

// result sorts the records and derives access states, replies and
// summaries.
func (r *resolver) result() Result {
	slices.SortStableFunc(r.records, func(a, b *record) int {
		return cmp.Or(cmp.Compare(a.sys, b.sys),
			cmpOrder(a.DecidedAt, a.CommentID, a.LineIndex, b.DecidedAt, b.CommentID, b.LineIndex),
			cmp.Compare(a.GroupName, b.GroupName), cmp.Compare(a.Target, b.Target), cmp.Compare(a.UserID, b.UserID),
			cmp.Compare(a.Status, b.Status))
	})
	accesses := 0
	for _, s := range r.systems {
		accesses += len(s.Access)
	}
	// Access is sized once: at 500,000 accesses, growing it by appends
	// held about twice its size at the peak.
	res := Result{Decisions: make([]model.Decision, len(r.records)), Access: make([]AccessState, 0, accesses), Replies: []Reply{}, Summaries: []Summary{}}
	winner := map[accessRef]int{}
	guarded := map[accessRef]bool{}
	for i, rec := range r.records {
		res.Decisions[i] = rec.Decision
		if rec.access >= 0 {
			k := accessRef{rec.sys, rec.access}
			if rec.Status == model.DecisionAccepted {
				winner[k] = i
			}
			if rec.guarded {
				guarded[k] = true
			}
		}
	}
	outcomes := r.outcomes()
	for si, s := range r.systems {
		sum := Summary{System: s.Name, Accesses: len(s.Access)}
		for ai, a := range s.Access {
			k := accessRef{si, ai}
			st := AccessState{System: s.Name, JiraKey: s.JiraKey, Access: a, Decision: model.AccessPending, OpenHigh: r.openHigh(si, ai)}
			if st.OpenHigh == nil {
				st.OpenHigh = []string{}
			}
			if i, ok := winner[k]; ok {
				st.Winner = &res.Decisions[i]
				st.Decision = model.AccessCertified
				if st.Winner.Action == model.ActionRevoke {
					st.Decision = model.AccessRevoked
				}
			} else if guarded[k] {
				st.Pending = fmt.Sprintf("open HIGH finding %s: all does not certify it; it needs its own line with a justification, or a revocation", strings.Join(st.OpenHigh, ", "))
				sum.PendingHigh++
			} else {
				st.Pending = "no decision yet"
			}
			switch st.Decision {
			case model.AccessCertified:
				sum.Certified++
			case model.AccessRevoked:
				sum.Revoked++
			default:
				sum.Pending++
			}
			res.Access = append(res.Access, st)
		}
		for _, c := range s.Comments {
			if len(c.Lines) > 0 && c.Edited() {
				sum.Edited++
			}
			sum.Lines += len(c.Lines)
			for _, l := range c.Lines {
				if l.Malformed != "" {
					sum.Malformed++
				}
			}
		}
		sum.Rejected = len(outcomes[si].rejected)
		res.Summaries = append(res.Summaries, sum)
		res.Replies = append(res.Replies, r.replies(si, outcomes[si])...)
	}
	return res
}

// lineKey identifies a decision line of a system.
type lineKey struct {
	comment *Comment
	index   int
}

// lineOutcomes groups one system's records by line: the rejections other
// than the rubber-stamp guard (which get a reply), and whether the line
// did anything at all.
type lineOutcomes struct {
	rejected map[lineKey][]*record
	applied  map[lineKey]bool
	guarded  []*record
}

func (r *resolver) outcomes() []lineOutcomes {
	out := make([]lineOutcomes, len(r.systems))
	for i := range out {
		out[i] = lineOutcomes{rejected: map[lineKey][]*record{}, applied: map[lineKey]bool{}}
	}
	for _, rec := range r.records {
		o, k := &out[rec.sys], lineKey{rec.comment, rec.LineIndex}
		switch {
		case rec.guarded:
			o.guarded = append(o.guarded, rec)
		case rec.Status == model.DecisionRejected:
			o.rejected[k] = append(o.rejected[k], rec)
		default:
			o.applied[k] = true
		}
	}
	return out
}
