package decisions

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// People of the fixture: the owner, a delegate and the backup reviewer of
// NetSuite, and a stranger.
var (
	nina     = Author{AccountID: "acc-nina", DisplayName: "Nina Patel", Email: "nina@acme.com"}
	dan      = Author{AccountID: "acc-dan", DisplayName: "Dan Delegate", Email: "dan@acme.com"}
	cfo      = Author{AccountID: "acc-cfo", DisplayName: "CFO"} // e-mail hidden by Jira
	stranger = Author{AccountID: "acc-x", DisplayName: "Mallory", Email: "mallory@acme.com"}
)

func acc(user, group string, admin bool) Access {
	return Access{UserID: "u-" + user, Login: user + "@acme.com", Email: user + "@acme.com", GroupID: "g-" + group, Group: group, Admin: admin}
}

const (
	nsUsers  = "SOX-NetSuite-Users"
	nsAdmins = "SOX-NetSuite-Admins"
	wdAdmins = "SOX-Workday-Admins"
)

// fixture returns a review of two systems. dave carries an open HIGH
// finding in NetSuite; eve a HIGH finding naming her admin groups in both
// systems.
func fixture() Input {
	return Input{
		Systems: []System{
			{
				Name: "NetSuite", JiraKey: "UAR-1",
				Owner:     Reviewer{AccountID: "acc-nina", Email: "nina@acme.com"},
				Delegates: []Reviewer{{AccountID: "acc-dan", Email: "dan@acme.com"}},
				Backup:    Reviewer{AccountID: "acc-cfo", Email: "cfo@acme.com"},
				Access: []Access{
					acc("nina", nsUsers, false), acc("nina", nsAdmins, true),
					acc("alice", nsUsers, false),
					acc("bob", nsUsers, false), acc("bob", nsAdmins, true),
					acc("dave", nsAdmins, true),
					acc("dan", nsUsers, false),
					acc("eve", nsAdmins, true),
				},
			},
			{
				Name: "Workday", JiraKey: "UAR-2",
				Owner:  Reviewer{AccountID: "acc-wo", Email: "wo@acme.com"},
				Backup: Reviewer{AccountID: "acc-cfo", Email: "cfo@acme.com"},
				Access: []Access{acc("eve", wdAdmins, true), acc("zoe", "SOX-Workday-Users", false)},
			},
		},
		Findings: []model.Finding{
			{RuleID: "SOD-IT-ERP-ADMIN", Risk: model.RiskHigh, System: "NetSuite", UserID: "u-dave", UserLogin: "dave@acme.com", Groups: []string{nsAdmins}, Title: "IT staff administering the ERP"},
			{RuleID: "multi_system_admin", Risk: model.RiskHigh, UserID: "u-eve", UserLogin: "eve@acme.com", Groups: []string{nsAdmins, wdAdmins}, Title: "admin in more than one system"},
			{RuleID: "contractor", Risk: model.RiskMedium, System: "NetSuite", UserID: "u-alice", Groups: []string{nsUsers}},
			{RuleID: "SOD-OLD", Risk: model.RiskHigh, System: "NetSuite", UserID: "u-alice", Groups: []string{nsUsers}, Suppressed: &model.Suppression{Ticket: "UAR-9"}},
		},
	}
}

var commentSeq = 10000

// say adds a comment by who on system sys, at t0 + minutes, and returns
// its id.
func say(in *Input, sys string, who Author, minutes int, text string) string {
	commentSeq++
	id := fmt.Sprint(commentSeq)
	addComment(in, sys, Comment{ID: id, Author: who, Created: t0.Add(time.Duration(minutes) * time.Minute),
		Updated: t0.Add(time.Duration(minutes) * time.Minute), Lines: ParseText(text)})
	return id
}

func addComment(in *Input, sys string, c Comment) {
	for i := range in.Systems {
		if in.Systems[i].Name == sys {
			in.Systems[i].Comments = append(in.Systems[i].Comments, c)
			return
		}
	}
	panic("no system " + sys)
}

// state returns the decision on user's access to group.
func state(t *testing.T, res Result, user, group string) AccessState {
	t.Helper()
	for _, s := range res.Access {
		if s.Access.Login == user+"@acme.com" && s.Access.Group == group {
			return s
		}
	}
	t.Fatalf("no access %s in %s", user, group)
	return AccessState{}
}

func wantState(t *testing.T, res Result, user, group, decision string) AccessState {
	t.Helper()
	s := state(t, res, user, group)
	if s.Decision != decision {
		t.Errorf("%s in %s: %s (winner %+v, pending %q), want %s", user, group, s.Decision, s.Winner, s.Pending, decision)
	}
	return s
}

// recs returns the records of comment id.
func recs(res Result, id string) []model.Decision {
	var out []model.Decision
	for _, d := range res.Decisions {
		if d.CommentID == id {
			out = append(out, d)
		}
	}
	return out
}

func oneRec(t *testing.T, res Result, id, status, reason string) model.Decision {
	t.Helper()
	rs := recs(res, id)
	if len(rs) != 1 || rs[0].Status != status || !strings.Contains(rs[0].Reason, reason) {
		t.Fatalf("comment %s: records %+v, want one %s with reason containing %q", id, rs, status, reason)
	}
	return rs[0]
}

func replyFor(res Result, commentID string) []Reply {
	var out []Reply
	for _, r := range res.Replies {
		if r.CommentID == commentID && r.LineIndex >= 0 {
			out = append(out, r)
		}
	}
	return out
}

func TestOnlyReviewersDecide(t *testing.T) {
	in := fixture()
	id := say(&in, "NetSuite", stranger, 1, "REVOKE: alice@acme.com, bob@acme.com")
	res := Resolve(in)
	d := oneRec(t, res, id, model.DecisionRejected, "not an authorised reviewer of NetSuite")
	if d.Target != "alice@acme.com, bob@acme.com" || d.Action != model.ActionRevoke || d.DecidedBy != "acc-x" || d.ReviewerRole != "" {
		t.Fatalf("record %+v", d)
	}
	wantState(t, res, "alice", nsUsers, model.AccessPending)
	if rs := replyFor(res, id); len(rs) != 1 || !slices.Equal(rs[0].Mentions, []string{"acc-x"}) || !strings.Contains(rs[0].Text, "not an authorised reviewer") {
		t.Fatalf("replies %+v", rs)
	}
	// The owner of another system is a stranger here too.
	id = say(&in, "NetSuite", Author{AccountID: "acc-wo", Email: "wo@acme.com"}, 2, "CERTIFY: all")
	oneRec(t, Resolve(in), id, model.DecisionRejected, "not an authorised reviewer")
}

func TestOwnerAndDelegateDecide(t *testing.T) {
	in := fixture()
	o := say(&in, "NetSuite", nina, 1, "REVOKE: alice@acme.com")
	d := say(&in, "NetSuite", dan, 2, "CERTIFY: eve@acme.com -- needed for the migration")
	in.Systems[0].Access = append(in.Systems[0].Access, acc("frank", nsUsers, false))
	f := say(&in, "NetSuite", dan, 3, "REVOKE: frank@acme.com")
	res := Resolve(in)
	if r := oneRec(t, res, o, model.DecisionAccepted, ""); r.ReviewerRole != model.ReviewerOwner || r.UserID != "u-alice" || r.GroupID != "g-"+nsUsers {
		t.Fatalf("owner's record %+v", r)
	}
	if r := oneRec(t, res, d, model.DecisionAccepted, ""); r.ReviewerRole != model.ReviewerDelegate || r.Justification != "needed for the migration" {
		t.Fatalf("delegate's record %+v", r)
	}
	oneRec(t, res, f, model.DecisionAccepted, "")
	wantState(t, res, "alice", nsUsers, model.AccessRevoked)
	wantState(t, res, "eve", nsAdmins, model.AccessCertified)
	wantState(t, res, "frank", nsUsers, model.AccessRevoked)
	if len(res.Replies) != 0 {
		t.Fatalf("replies %+v", res.Replies)
	}
}

func TestBackupDecidesOnlyOwnersAccess(t *testing.T) {
	in := fixture()
	ok := say(&in, "NetSuite", cfo, 1, "CERTIFY: nina@acme.com -- CFO reviewed")
	no := say(&in, "NetSuite", cfo, 2, "REVOKE: alice@acme.com")
	res := Resolve(in)
	got := recs(res, ok)
	if len(got) != 2 || got[0].Status != model.DecisionAccepted || got[1].Status != model.DecisionAccepted || got[0].ReviewerRole != model.ReviewerBackup {
		t.Fatalf("backup on owner's access: %+v", got)
	}
	wantState(t, res, "nina", nsUsers, model.AccessCertified)
	wantState(t, res, "nina", nsAdmins, model.AccessCertified)
	oneRec(t, res, no, model.DecisionRejected, "the backup reviewer decides only the owner's own access")
	wantState(t, res, "alice", nsUsers, model.AccessPending)

	// Someone who is both delegate and backup decides the owner's access
	// as the backup.
	in = fixture()
	in.Systems[0].Backup = Reviewer{AccountID: "acc-dan", Email: "dan@acme.com"}
	both := say(&in, "NetSuite", dan, 1, "REVOKE: nina@acme.com from SOX-NetSuite-Admins\nREVOKE: alice@acme.com")
	for _, d := range recs(Resolve(in), both) {
		want := map[string]string{"nina@acme.com": model.ReviewerBackup, "alice@acme.com": model.ReviewerDelegate}[d.Target]
		if d.Status != model.DecisionAccepted || d.ReviewerRole != want {
			t.Fatalf("record %+v, want accepted as %s", d, want)
		}
	}

	// The backup's CERTIFY: all covers the owner's accesses and nothing else.
	in = fixture()
	all := say(&in, "NetSuite", cfo, 1, "CERTIFY: all")
	res = Resolve(in)
	got = recs(res, all)
	if len(got) != 2 || got[0].Target != "nina@acme.com" || got[1].Target != "nina@acme.com" || !got[0].FromAll {
		t.Fatalf("backup's all: %+v", got)
	}
	// With no owner's access there is nothing for the backup to decide.
	in = fixture()
	all = say(&in, "Workday", cfo, 1, "CERTIFY: all")
	oneRec(t, Resolve(in), all, model.DecisionRejected, "all covers no access you may decide in Workday")
}

func TestSelfReviewRefused(t *testing.T) {
	in := fixture()
	all := say(&in, "NetSuite", nina, 1, "CERTIFY: all")
	own := say(&in, "NetSuite", dan, 2, "CERTIFY: dan@acme.com")
	boss := say(&in, "NetSuite", dan, 3, "REVOKE: nina@acme.com from SOX-NetSuite-Admins")
	res := Resolve(in)
	var self, accepted int
	for _, d := range recs(res, all) {
		switch {
		case d.Target == "nina@acme.com":
			self++
			if d.Status != model.DecisionRejected || !strings.Contains(d.Reason, "self-review") || !strings.Contains(d.Reason, "backup reviewer (cfo@acme.com)") || !d.FromAll {
				t.Errorf("owner's own access: %+v", d)
			}
		case d.Status == model.DecisionAccepted:
			accepted++
		}
	}
	if self != 2 {
		t.Fatalf("%d self-review records, want one per own access (2)", self)
	}
	wantState(t, res, "nina", nsUsers, model.AccessPending)
	wantState(t, res, "alice", nsUsers, model.AccessCertified)
	// The owner is told about the self-review in a reply to that line.
	if rs := replyFor(res, all); len(rs) != 1 || !strings.Contains(rs[0].Text, "nina@acme.com in SOX-NetSuite-Admins: self-review") {
		t.Fatalf("replies to the owner's all: %+v", rs)
	}
	oneRec(t, res, own, model.DecisionRejected, "self-review: nobody decides their own access; the owner decides it")
	// A delegate cannot decide the owner's access either: only the backup can.
	oneRec(t, res, boss, model.DecisionRejected, "only the backup reviewer decides the owner's own access")
	// dan's own access is decided by the owner's all (dan's line was rejected).
	wantState(t, res, "dan", nsUsers, model.AccessCertified)
}

func TestSelfReviewByVisibleEmailOnly(t *testing.T) {
	// The owner is configured by accountId only; Jira shows the author's
	// e-mail, which still identifies her own access.
	in := fixture()
	in.Systems[0].Owner.Email = ""
	id := say(&in, "NetSuite", nina, 1, "CERTIFY: nina@acme.com")
	rs := recs(Resolve(in), id)
	if len(rs) != 2 {
		t.Fatalf("records %+v", rs)
	}
	for _, d := range rs {
		if d.Status != model.DecisionRejected || !strings.Contains(d.Reason, "self-review") || !strings.Contains(d.Reason, "backup reviewer") {
			t.Fatalf("record %+v", d)
		}
	}
}

func TestAddressNotInSnapshot(t *testing.T) {
	in := fixture()
	id := say(&in, "NetSuite", nina, 1, "REVOKE: zoe@acme.com, Alice@ACME.com, ghost")
	res := Resolve(in)
	rs := recs(res, id)
	if len(rs) != 3 {
		t.Fatalf("records %+v", rs)
	}
	for _, d := range rs {
		switch d.Target {
		case "zoe@acme.com": // in Workday, not in NetSuite
			if d.Status != model.DecisionRejected || !strings.Contains(d.Reason, "has no access in NetSuite") || d.GroupName != "" {
				t.Errorf("zoe: %+v", d)
			}
		case "ghost":
			if d.Status != model.DecisionRejected {
				t.Errorf("ghost: %+v", d)
			}
		case "alice@acme.com": // matched case-insensitively, recorded as in the snapshot
			if d.Status != model.DecisionAccepted {
				t.Errorf("alice: %+v", d)
			}
		default:
			t.Errorf("unexpected record %+v", d)
		}
	}
	if rs := replyFor(res, id); len(rs) != 1 || strings.Count(rs[0].Text, "has no access") != 2 {
		t.Fatalf("one reply listing both unknown addresses, got %+v", rs)
	}
}

func TestMalformedRejected(t *testing.T) {
	in := fixture()
	id := say(&in, "NetSuite", nina, 1, "REVOKE ivan@acme.com\nCERTIFY: everyone\nREVOKE: bob from")
	res := Resolve(in)
	rs := recs(res, id)
	if len(rs) != 3 {
		t.Fatalf("records %+v", rs)
	}
	for i, d := range rs {
		if d.Status != model.DecisionRejected || d.Action != "" || !strings.HasPrefix(d.Reason, "malformed: ") || d.LineIndex != i {
			t.Errorf("record %d: %+v", i, d)
		}
	}
	if rs[0].Target != "ivan@acme.com" || rs[1].Target != "everyone" {
		t.Errorf("targets as written: %q, %q", rs[0].Target, rs[1].Target)
	}
	if got := replyFor(res, id); len(got) != 3 {
		t.Fatalf("one reply per malformed line, got %d", len(got))
	}
	if s := res.Summaries[0]; s.Malformed != 3 || s.Rejected != 3 || s.Lines != 3 {
		t.Fatalf("summary %+v", s)
	}
}

func TestRevokeWithoutFromCoversEveryMembership(t *testing.T) {
	in := fixture()
	id := say(&in, "NetSuite", nina, 1, "REVOKE: bob@acme.com -- left the company")
	res := Resolve(in)
	rs := recs(res, id)
	if len(rs) != 2 || rs[0].GroupName != nsAdmins || rs[1].GroupName != nsUsers || rs[0].Status != model.DecisionAccepted || rs[1].Status != model.DecisionAccepted {
		t.Fatalf("records %+v", rs)
	}
	wantState(t, res, "bob", nsUsers, model.AccessRevoked)
	wantState(t, res, "bob", nsAdmins, model.AccessRevoked)

	in = fixture()
	id = say(&in, "NetSuite", nina, 1, "REVOKE: bob@acme.com from sox-netsuite-admins")
	res = Resolve(in)
	oneRec(t, res, id, model.DecisionAccepted, "")
	wantState(t, res, "bob", nsAdmins, model.AccessRevoked)
	wantState(t, res, "bob", nsUsers, model.AccessPending)
}

func TestFromGroupUserIsNotIn(t *testing.T) {
	in := fixture()
	id := say(&in, "NetSuite", nina, 1, "REVOKE: alice@acme.com from SOX-NetSuite-Admins")
	d := oneRec(t, Resolve(in), id, model.DecisionRejected, "is not a member of “SOX-NetSuite-Admins” in NetSuite (member of: SOX-NetSuite-Users)")
	if d.Target != "alice@acme.com" || d.GroupName != nsAdmins {
		t.Fatalf("record %+v", d)
	}
	in = fixture()
	id = say(&in, "NetSuite", nina, 1, "CERTIFY: all from SOX-Nope")
	oneRec(t, Resolve(in), id, model.DecisionRejected, "no group “SOX-Nope” in NetSuite")
}

func TestSpecificBeatsCertifyAll(t *testing.T) {
	for _, order := range []string{"specific first", "all first"} {
		in := fixture()
		var spec, all string
		if order == "specific first" {
			spec = say(&in, "NetSuite", dan, 1, "REVOKE: alice@acme.com")
			all = say(&in, "NetSuite", nina, 2, "CERTIFY: all")
		} else {
			all = say(&in, "NetSuite", nina, 1, "CERTIFY: all")
			spec = say(&in, "NetSuite", dan, 2, "REVOKE: alice@acme.com")
		}
		res := Resolve(in)
		s := wantState(t, res, "alice", nsUsers, model.AccessRevoked)
		if s.Winner == nil || s.Winner.CommentID != spec {
			t.Fatalf("%s: winner %+v", order, s.Winner)
		}
		for _, d := range recs(res, all) {
			if d.Target == "alice@acme.com" && (d.Status != model.DecisionSuperseded || !strings.Contains(d.Reason, "takes precedence") || !strings.Contains(d.Reason, "comment "+spec)) {
				t.Fatalf("%s: blanket record for alice %+v", order, d)
			}
		}
		wantState(t, res, "bob", nsUsers, model.AccessCertified)
	}
}

func TestLatestSpecificWins(t *testing.T) {
	in := fixture()
	first := say(&in, "NetSuite", nina, 1, "CERTIFY: alice@acme.com")
	second := say(&in, "NetSuite", dan, 5, "REVOKE: alice@acme.com")
	res := Resolve(in)
	wantState(t, res, "alice", nsUsers, model.AccessRevoked)
	d := oneRec(t, res, first, model.DecisionSuperseded, "superseded by a later decision: REVOKE in comment "+second)
	if !strings.Contains(d.Reason, "2026-12-01T09:05:00Z") {
		t.Fatalf("reason %q", d.Reason)
	}

	// Same created time: the comment id decides, numerically ("9" < "10").
	in = fixture()
	addComment(&in, "NetSuite", Comment{ID: "10", Author: nina, Created: t0, Updated: t0, Lines: ParseText("REVOKE: alice@acme.com")})
	addComment(&in, "NetSuite", Comment{ID: "9", Author: nina, Created: t0, Updated: t0, Lines: ParseText("CERTIFY: alice@acme.com")})
	s := wantState(t, Resolve(in), "alice", nsUsers, model.AccessRevoked)
	if s.Winner.CommentID != "10" {
		t.Fatalf("winner %+v", s.Winner)
	}

	// Same comment: the later line wins.
	in = fixture()
	id := say(&in, "NetSuite", nina, 1, "REVOKE: alice@acme.com\nCERTIFY: alice@acme.com -- changed my mind")
	s = wantState(t, Resolve(in), "alice", nsUsers, model.AccessCertified)
	if s.Winner.CommentID != id || s.Winner.LineIndex != 1 {
		t.Fatalf("winner %+v", s.Winner)
	}

	// Among CERTIFY: all lines the latest wins; the earlier is superseded.
	in = fixture()
	a1 := say(&in, "NetSuite", nina, 1, "CERTIFY: all")
	a2 := say(&in, "NetSuite", dan, 2, "CERTIFY: all from SOX-NetSuite-Users")
	res = Resolve(in)
	s = wantState(t, res, "alice", nsUsers, model.AccessCertified)
	if s.Winner.CommentID != a2 {
		t.Fatalf("winner %+v", s.Winner)
	}
	for _, d := range recs(res, a1) {
		if d.Target == "alice@acme.com" && d.Status != model.DecisionSuperseded {
			t.Fatalf("earlier all: %+v", d)
		}
	}
	for _, st := range res.Access {
		n := 0
		for _, d := range res.Decisions {
			if d.Status == model.DecisionAccepted && d.System == st.System && d.UserID == st.Access.UserID && d.GroupName == st.Access.Group {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("%+v has %d accepted records", st.Access, n)
		}
	}
}

func TestEditedCommentFlagged(t *testing.T) {
	in := fixture()
	addComment(&in, "NetSuite", Comment{ID: "77", Author: nina, Created: t0, Updated: t0.Add(time.Hour), Lines: ParseText("REVOKE: alice@acme.com")})
	res := Resolve(in)
	d := oneRec(t, res, "77", model.DecisionAccepted, "")
	if !d.Edited || !d.DecidedAt.Equal(t0) || !d.Updated.Equal(t0.Add(time.Hour)) {
		t.Fatalf("record %+v", d)
	}
	if res.Summaries[0].Edited != 1 {
		t.Fatalf("summary %+v", res.Summaries[0])
	}
}

func TestRubberStampGuard(t *testing.T) {
	in := fixture()
	all := say(&in, "NetSuite", nina, 1, "CERTIFY: all")
	res := Resolve(in)
	s := wantState(t, res, "dave", nsAdmins, model.AccessPending)
	if !strings.Contains(s.Pending, "SOD-IT-ERP-ADMIN") || !slices.Equal(s.OpenHigh, []string{"SOD-IT-ERP-ADMIN"}) {
		t.Fatalf("dave: %+v", s)
	}
	wantState(t, res, "bob", nsAdmins, model.AccessCertified)
	wantState(t, res, "eve", nsAdmins, model.AccessPending)
	for _, d := range recs(res, all) {
		if d.Target == "dave@acme.com" && (d.Status != model.DecisionRejected || !strings.Contains(d.Reason, "open HIGH finding SOD-IT-ERP-ADMIN")) {
			t.Fatalf("dave's blanket record %+v", d)
		}
	}
	// The guard is not a line error: the line reply speaks only of the
	// self-review; one system reply lists the held accesses for the owner.
	if rs := replyFor(res, all); len(rs) != 1 || strings.Contains(rs[0].Text, "dave") {
		t.Fatalf("line replies %+v", rs)
	}
	var sys []Reply
	for _, r := range res.Replies {
		if r.LineIndex < 0 {
			sys = append(sys, r)
		}
	}
	if len(sys) != 1 || sys[0].JiraKey != "UAR-1" || sys[0].CommentID != all || !slices.Contains(sys[0].Mentions, "acc-nina") ||
		!strings.Contains(sys[0].Text, "dave@acme.com in SOX-NetSuite-Admins: SOD-IT-ERP-ADMIN (IT staff administering the ERP)") ||
		!strings.Contains(sys[0].Text, "eve@acme.com in SOX-NetSuite-Admins: multi_system_admin") {
		t.Fatalf("system replies %+v", sys)
	}
	if sum := res.Summaries[0]; sum.PendingHigh != 2 || sum.Pending != 4 || sum.Certified != 4 {
		t.Fatalf("summary %+v", sum)
	}
	firstKey := sys[0].Key

	// An explicit CERTIFY without a justification does not clear the guard.
	bare := say(&in, "NetSuite", nina, 2, "CERTIFY: dave@acme.com")
	res = Resolve(in)
	oneRec(t, res, bare, model.DecisionRejected, "needs a justification")
	wantState(t, res, "dave", nsAdmins, model.AccessPending)

	// With a justification it does; the system reply's list changes, so
	// its key does too.
	why := say(&in, "NetSuite", nina, 3, "CERTIFY: dave@acme.com -- break-glass admin, reviewed monthly")
	res = Resolve(in)
	s = wantState(t, res, "dave", nsAdmins, model.AccessCertified)
	if s.Winner.CommentID != why || s.Winner.Justification != "break-glass admin, reviewed monthly" {
		t.Fatalf("winner %+v", s.Winner)
	}
	for _, r := range res.Replies {
		if r.LineIndex < 0 && (r.Key == firstKey || strings.Contains(r.Text, "dave")) {
			t.Fatalf("system reply not updated: %+v", r)
		}
	}

	// A REVOKE decides it too.
	in = fixture()
	say(&in, "NetSuite", nina, 1, "CERTIFY: all")
	say(&in, "NetSuite", nina, 2, "REVOKE: dave@acme.com")
	wantState(t, Resolve(in), "dave", nsAdmins, model.AccessRevoked)

	// certify_all_covers_high turns the guard off.
	in = fixture()
	in.CertifyAllCoversHigh = true
	say(&in, "NetSuite", nina, 1, "CERTIFY: all")
	bare = say(&in, "NetSuite", nina, 2, "CERTIFY: eve@acme.com")
	res = Resolve(in)
	wantState(t, res, "dave", nsAdmins, model.AccessCertified)
	wantState(t, res, "eve", nsAdmins, model.AccessCertified)
	for _, r := range res.Replies {
		if r.LineIndex < 0 {
			t.Fatalf("no system reply without the guard: %+v", r)
		}
	}
}

func TestGuardIgnoresSuppressedAndLowerFindings(t *testing.T) {
	// alice has a MEDIUM finding and a suppressed HIGH one: all certifies her.
	in := fixture()
	say(&in, "NetSuite", nina, 1, "CERTIFY: all")
	wantState(t, Resolve(in), "alice", nsUsers, model.AccessCertified)
}

func TestFindingAddressedByRevocation(t *testing.T) {
	// eve's finding names her admin groups in NetSuite and Workday: the
	// Workday owner revoking one addresses it, so NetSuite's all covers
	// the other.
	in := fixture()
	say(&in, "NetSuite", nina, 1, "CERTIFY: all")
	say(&in, "Workday", Author{AccountID: "acc-wo"}, 2, "REVOKE: eve@acme.com")
	res := Resolve(in)
	wantState(t, res, "eve", wdAdmins, model.AccessRevoked)
	s := wantState(t, res, "eve", nsAdmins, model.AccessCertified)
	if len(s.OpenHigh) != 0 {
		t.Fatalf("eve: %+v", s)
	}
	// A rejected REVOKE addresses nothing.
	in = fixture()
	say(&in, "NetSuite", nina, 1, "CERTIFY: all")
	say(&in, "Workday", stranger, 2, "REVOKE: eve@acme.com")
	wantState(t, Resolve(in), "eve", nsAdmins, model.AccessPending)
}

func TestGuardWithoutCycles(t *testing.T) {
	// A later bare CERTIFY would undo the REVOKE that addresses the very
	// finding it needs a justification for: the CERTIFY is refused and
	// the REVOKE stands.
	in := fixture()
	say(&in, "NetSuite", nina, 1, "REVOKE: dave@acme.com")
	bare := say(&in, "NetSuite", nina, 2, "CERTIFY: dave@acme.com")
	res := Resolve(in)
	oneRec(t, res, bare, model.DecisionRejected, "needs a justification")
	wantState(t, res, "dave", nsAdmins, model.AccessRevoked)
}

func TestReviewerIsAdminFlagged(t *testing.T) {
	in := fixture()
	o := say(&in, "NetSuite", nina, 1, "REVOKE: alice@acme.com")
	d := say(&in, "NetSuite", dan, 2, "REVOKE: bob@acme.com from SOX-NetSuite-Users")
	res := Resolve(in)
	if r := oneRec(t, res, o, model.DecisionAccepted, ""); !r.ReviewerIsAdmin {
		t.Fatalf("owner in an admin group not flagged: %+v", r)
	}
	if r := oneRec(t, res, d, model.DecisionAccepted, ""); r.ReviewerIsAdmin {
		t.Fatalf("delegate in no admin group flagged: %+v", r)
	}
}

func TestReviewerMatchedByEmailWithoutAccountID(t *testing.T) {
	in := fixture()
	in.Systems[0].Delegates = []Reviewer{{Email: "DAN@acme.com"}}
	ok := say(&in, "NetSuite", dan, 1, "REVOKE: alice@acme.com")
	hidden := say(&in, "NetSuite", Author{AccountID: "acc-dan"}, 2, "REVOKE: bob@acme.com")
	res := Resolve(in)
	oneRec(t, res, ok, model.DecisionAccepted, "")
	oneRec(t, res, hidden, model.DecisionRejected, "not an authorised reviewer")
	// With an accountId configured, a matching e-mail is not enough.
	in = fixture()
	id := say(&in, "NetSuite", Author{AccountID: "acc-impostor", Email: "nina@acme.com"}, 1, "REVOKE: alice@acme.com")
	oneRec(t, Resolve(in), id, model.DecisionRejected, "not an authorised reviewer")
}

func TestRepliesAreStableAndNotReadBack(t *testing.T) {
	hostile := Author{AccountID: "acc-h", DisplayName: "REVOKE: alice@acme.com", Email: "h@acme.com"}
	in := fixture()
	in.Systems[0].Access = append(in.Systems[0].Access, acc("h", nsUsers, false))
	addComment(&in, "NetSuite", Comment{ID: "500", Author: nina, Created: t0, Updated: t0,
		Lines: ParseText("REVOKE: ghost@acme.com\nthanks\nREVOKE ivan@acme.com\nREVOKE: ghost@acme.com")})
	say(&in, "NetSuite", hostile, 1, "CERTIFY: all")
	say(&in, "NetSuite", nina, 2, "CERTIFY: all")
	res := Resolve(in)
	keys := map[string]bool{}
	for _, r := range res.Replies {
		if keys[r.Key] {
			t.Fatalf("duplicate key %s", r.Key)
		}
		keys[r.Key] = true
		if lines, err := ParseADF(r.Body); err != nil || len(lines) != 0 {
			t.Fatalf("reply body read back as decisions: %+v, %v\n%s", lines, err, r.Body)
		}
		if lines := ParseText(r.Text); len(lines) != 0 {
			t.Fatalf("reply text read back as decisions: %+v\n%s", lines, r.Text)
		}
		var doc struct{ Type string }
		if json.Unmarshal(r.Body, &doc) != nil || doc.Type != "doc" {
			t.Fatalf("body is not an ADF doc: %s", r.Body)
		}
	}
	r500 := replyFor(res, "500")
	if len(r500) != 3 || r500[0].Key == r500[2].Key {
		t.Fatalf("replies to 500: %+v", r500)
	}

	// Editing the comment elsewhere keeps the keys of unchanged lines;
	// changing a line gives it a new one.
	in2 := fixture()
	in2.Systems[0].Access = in.Systems[0].Access
	in2.Systems[0].Comments = slices.Clone(in.Systems[0].Comments)
	in2.Systems[0].Comments[0] = Comment{ID: "500", Author: nina, Created: t0, Updated: t0.Add(time.Hour),
		Lines: ParseText("CERTIFY: alice@acme.com\nREVOKE: ghost@acme.com\nREVOKE ivan@acme.com!\nREVOKE: ghost@acme.com")}
	res2 := Resolve(in2)
	k1, k2 := map[string]bool{}, map[string]bool{}
	for _, r := range replyFor(res, "500") {
		k1[r.Key] = true
	}
	for _, r := range replyFor(res2, "500") {
		k2[r.Key] = true
	}
	same := 0
	for k := range k2 {
		if k1[k] {
			same++
		}
	}
	if len(k2) != 3 || same != 2 {
		t.Fatalf("keys before %v after %v", k1, k2)
	}
}

func TestResolveDeterministic(t *testing.T) {
	in := fixture()
	say(&in, "NetSuite", nina, 1, "CERTIFY: all\nREVOKE: bob@acme.com from SOX-NetSuite-Admins")
	say(&in, "NetSuite", dan, 1, "REVOKE: alice@acme.com\nREVOKE: ghost")
	say(&in, "NetSuite", stranger, 1, "CERTIFY: all")
	say(&in, "Workday", cfo, 3, "CERTIFY: zoe@acme.com")
	addComment(&in, "NetSuite", Comment{ID: "abc", Author: dan, Created: t0, Lines: ParseText("REVOKE: dave@acme.com")})
	want, _ := json.Marshal(Resolve(in))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		sh := fixture()
		sh.Findings = slices.Clone(in.Findings)
		rng.Shuffle(len(sh.Findings), func(i, j int) { sh.Findings[i], sh.Findings[j] = sh.Findings[j], sh.Findings[i] })
		sh.Systems = nil
		for _, s := range in.Systems {
			s.Access = slices.Clone(s.Access)
			s.Comments = slices.Clone(s.Comments)
			rng.Shuffle(len(s.Access), func(i, j int) { s.Access[i], s.Access[j] = s.Access[j], s.Access[i] })
			rng.Shuffle(len(s.Comments), func(i, j int) { s.Comments[i], s.Comments[j] = s.Comments[j], s.Comments[i] })
			sh.Systems = append(sh.Systems, s)
		}
		rng.Shuffle(len(sh.Systems), func(i, j int) { sh.Systems[i], sh.Systems[j] = sh.Systems[j], sh.Systems[i] })
		got, _ := json.Marshal(Resolve(sh))
		if string(got) != string(want) {
			t.Fatalf("order of the input changed the result:\n%s\nvs\n%s", got, want)
		}
	}
	if !reflect.DeepEqual(Resolve(Input{}), Result{Decisions: []model.Decision{}, Access: []AccessState{}, Replies: []Reply{}, Summaries: []Summary{}}) {
		t.Fatal("empty input must give empty, non-nil slices")
	}
}

func TestResolveDoesNotMutateInput(t *testing.T) {
	in := fixture()
	say(&in, "NetSuite", nina, 1, "CERTIFY: all\nREVOKE: bob@acme.com")
	before, _ := json.Marshal(in)
	Resolve(in)
	after, _ := json.Marshal(in)
	if string(before) != string(after) {
		t.Fatal("Resolve changed its input")
	}
}
