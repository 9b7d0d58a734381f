package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/decisions"
	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/store"
)

func decisionsOpts(s *Step, sb *sandbox.Running) DecisionsOptions {
	c := jira.New(jira.Config{BaseURL: sb.URL(sandbox.ServiceJira), Email: sandbox.JiraEmail, Token: sandbox.JiraToken, Project: sandbox.JiraProject},
		recorded(s, store.ServiceJira), jira.WithSleep(noSleep))
	return DecisionsOptions{Systems: sandbox.ReferenceSystems(), Connect: func() (DecisionJira, error) { return c, nil }}
}

// published is a reference review snapshotted, scored and published.
func published(t *testing.T) (*store.Store, *sandbox.Running) {
	t.Helper()
	st, sb := testStore(t), startSandbox(t, nil)
	snapshotAndScore(t, st, sb, rev, sandbox.ReferenceSystems())
	s, _ := newStep(t, st, "publish", rev)
	if _, err := Publish(context.Background(), s, publishOpts(sandboxTargets(s, sb), sandbox.ReferenceSystems())); err != nil {
		t.Fatal(err)
	}
	return st, sb
}

func comment(t *testing.T, sb *sandbox.Running, key, author, body string, at time.Time) string {
	t.Helper()
	id, err := sb.Jira.AddComment(key, author, body, at, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// accessDecisions is v_access's decision per user and group of a system.
func accessDecisions(t *testing.T, st *store.Store, system string) map[string]string {
	t.Helper()
	res, err := st.Query(context.Background(), `SELECT user_login, group_name, decision FROM v_access WHERE review = ? AND system = ? ORDER BY 1, 2`, rev, system)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range res.Rows {
		out[strings.TrimSuffix(r[0].(string), "@company.com")+"/"+r[1].(string)] = r[2].(string)
	}
	return out
}

// The decision loop on the reference review: the owner's CERTIFY: all is
// held back on the HIGH accesses and refused on her own, a later specific
// REVOKE beats it, a non-owner and a malformed line are rejected with one
// reply each (never repeated), the backup reviewer decides the owner's own
// access, and only the owner's REVOKE reaches Okta.
func TestParseDecisionsReferenceReview(t *testing.T) {
	ctx := context.Background()
	st, sb := published(t)
	t1 := sandbox.ReferenceNow.Add(time.Hour)
	comment(t, sb, "UAR-1", "nina.patel@company.com", "CERTIFY: all", t1)
	comment(t, sb, "UAR-1", "nina.patel@company.com", "REVOKE: ivan.petrov@company.com -- the consultancy ended in November", t1.Add(time.Minute))
	comment(t, sb, "UAR-1", "sam.rivera@company.com", "REVOKE: alice.nguyen@company.com", t1.Add(2*time.Minute))
	comment(t, sb, "UAR-1", "nina.patel@company.com", "thanks!\nREVOKE dave.kim@company.com", t1.Add(3*time.Minute))
	comment(t, sb, "UAR-1", "cfo@company.com", "CERTIFY: nina.patel@company.com -- reviewed by the CFO", t1.Add(4*time.Minute))

	s, _ := newStep(t, st, "parse-decisions", rev)
	res, err := ParseDecisions(ctx, s, decisionsOpts(s, sb))
	if err != nil {
		t.Fatal(err)
	}
	got := accessDecisions(t, st, "NetSuite")
	want := map[string]string{
		"alice.nguyen/SOX-NetSuite-Users": "certified", "bob.smith/SOX-NetSuite-Users": "certified",
		"frank.miller/SOX-NetSuite-Users": "certified", "ivan.petrov/SOX-NetSuite-Users": "revoked",
		"nina.patel/SOX-NetSuite-Users": "certified",
		// HIGH findings: CERTIFY: all does not cover them.
		"carol.wong/SOX-NetSuite-Admins": "pending", "dave.kim/SOX-NetSuite-Admins": "pending",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	var reasons []string
	for _, d := range res.Rejected {
		reasons = append(reasons, d.Reason)
	}
	joined := strings.Join(reasons, " | ")
	for _, want := range []string{"not an authorised reviewer", "malformed", "self-review"} {
		if !strings.Contains(joined, want) {
			t.Errorf("rejected reasons %q lack %q", joined, want)
		}
	}
	if res.Replies < 3 {
		t.Errorf("%d replies, want one per rejected line and one for the held-back HIGH accesses", res.Replies)
	}
	// The decision rows carry the evidence: author, Jira's time, the line.
	decs, err := st.CurrentDecisions(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range decs {
		if d.Target == "ivan.petrov@company.com" && d.Status == "accepted" {
			found = true
			if d.DecidedBy != sandbox.JiraAccountID("nina.patel@company.com") || d.DecidedAt != store.FormatTime(t1.Add(time.Minute)) ||
				d.Justification != "the consultancy ended in November" || !strings.Contains(d.Line, "REVOKE:") || d.CommentID == "" {
				t.Errorf("ivan's decision lacks its evidence: %+v", d)
			}
		}
	}
	if !found {
		t.Fatal("ivan's REVOKE not recorded as accepted")
	}

	// A second pass changes nothing and posts no reply twice.
	s2, _ := newStep(t, st, "parse-decisions", rev)
	res2, err := ParseDecisions(ctx, s2, decisionsOpts(s2, sb))
	if err != nil || res2.Replies != 0 {
		t.Fatalf("second pass: %v, %d new replies", err, res2.Replies)
	}

	// Revoke: only ivan (the owner's REVOKE); sam's line never reaches Okta.
	s3, _ := newStep(t, st, "revoke", rev)
	rres, err := Revoke(ctx, s3, revokeOpts(revokeTargetsFor(s3, sb)))
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if len(rres.Outcomes) != 1 || rres.Outcomes[0].UserLogin != "ivan.petrov@company.com" || rres.Outcomes[0].Status != "done" {
		t.Fatalf("outcomes %+v", rres.Outcomes)
	}
	if !strings.Contains(rres.Outcomes[0].Reason, "rule") {
		t.Errorf("SOX-NetSuite-Users is rule-managed: %q", rres.Outcomes[0].Reason)
	}
	if !sb.Okta.IsMember("00gref00000000000002", "00uref00000000000001") {
		t.Error("a non-owner's REVOKE removed alice")
	}
	if rule, ok := sb.Okta.Rule("0prref00000000000001"); !ok || !strings.Contains(strings.Join(rule.Exclude, ","), "00uref00000000000008") {
		t.Errorf("Okta did not add ivan to the rule's exclusions: %+v", rule)
	}
	if sum, err := evidence.Verify(ctx, st, evidence.Options{Rederivers: Rederivers()}); err != nil {
		t.Fatalf("verify: %v %+v", err, sum.Problems)
	}
}

// Decisions gathered outside Jira: validated (a bad file stores nothing),
// kept, marked csv, and read again by later passes.
func TestParseDecisionsFromCSV(t *testing.T) {
	ctx := context.Background()
	st, sb := published(t)
	bad := []byte("system,action,target,group,decided_by_email,decided_at,justification\nNetSuite,REVOKE,bob.smith@company.com,,nina.patel@company.com,yesterday,\n")
	s, _ := newStep(t, st, "parse-decisions", rev)
	o := decisionsOpts(s, sb)
	o.CSV = &CSVFile{Name: "offline.csv", Data: bad}
	_, err := ParseDecisions(ctx, s, o)
	var ce *decisions.CSVError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "offline.csv:2") {
		t.Fatalf("bad CSV: %v", err)
	}
	if rows, _ := st.FindEvidence(ctx, store.EvidenceFilter{QueryName: "decisions.csv"}); len(rows) != 0 {
		t.Fatal("a bad file was kept")
	}
	good := []byte("system,action,target,group,decided_by_email,decided_at,justification\nNetSuite,REVOKE,bob.smith@company.com,,nina.patel@company.com,2026-12-01T12:00:00Z,dormant since May\n")
	o.CSV = &CSVFile{Name: "offline.csv", Data: good}
	if _, err := ParseDecisions(ctx, s, o); err != nil {
		t.Fatal(err)
	}
	// A later Jira-only pass still counts the CSV decision.
	s2, _ := newStep(t, st, "parse-decisions", rev)
	if _, err := ParseDecisions(ctx, s2, decisionsOpts(s2, sb)); err != nil {
		t.Fatal(err)
	}
	if got := accessDecisions(t, st, "NetSuite")["bob.smith/SOX-NetSuite-Users"]; got != "revoked" {
		t.Errorf("bob = %q after a later pass, want revoked (from the kept CSV)", got)
	}
	res, err := st.Query(ctx, `SELECT source FROM v_decisions WHERE review = ? AND target = 'bob.smith@company.com' AND status = 'accepted'`, rev)
	if err != nil || len(res.Rows) != 1 || res.Rows[0][0] != "csv" {
		t.Errorf("v_decisions source: %v %v", res, err)
	}
}

// posterFunc is a CommentPoster over a function, counting the comments
// each ticket received.
type posterFunc struct {
	mu     sync.Mutex
	bodies map[string][]json.RawMessage
	fail   string // a ticket whose comments Jira refuses
}

func (p *posterFunc) AddComment(_ context.Context, key string, body json.RawMessage) (jira.Comment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if key == p.fail {
		return jira.Comment{}, &httpx.StatusError{Service: "jira", Status: http.StatusBadRequest, Message: "refused"}
	}
	if p.bodies == nil {
		p.bodies = map[string][]json.RawMessage{}
	}
	p.bodies[key] = append(p.bodies[key], body)
	return jira.Comment{ID: fmt.Sprintf("%s-%d", key, len(p.bodies[key])), Created: testNow}, nil
}

func reply(key, jiraKey, text string) decisions.Reply {
	body, err := json.Marshal(map[string]any{"type": "doc", "version": 1, "content": []any{
		map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": text}}}}})
	if err != nil {
		panic(err) // maps of strings always marshal
	}
	return decisions.Reply{Key: key, System: "S-" + jiraKey, JiraKey: jiraKey, Body: body}
}

// The new replies of a ticket go out as one comment (several when they
// would pass maxReplyBytes), each recorded under its own key so a second
// pass posts none; a ticket Jira refuses does not stop the others.
func TestRepliesBatchedPerTicket(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	s, _ := newStep(t, st, "parse-decisions", rev)
	long := strings.Repeat("x", maxReplyBytes/3)
	replies := []decisions.Reply{
		reply("a1", "UAR-1", "first"), reply("b1", "UAR-2", long), reply("a2", "UAR-1", "second"),
		reply("b2", "UAR-2", long), reply("b3", "UAR-2", long), reply("a1", "UAR-1", "first"), // a key twice: answered once
		reply("c1", "UAR-3", "refused"),
	}
	p := &posterFunc{fail: "UAR-3"}
	n, err := postReplies(ctx, s, p, replies, 3)
	var inc *IncompleteError
	if !errors.As(err, &inc) || !strings.Contains(err.Error(), "UAR-3") {
		t.Fatalf("err = %v, want an incomplete pass naming UAR-3", err)
	}
	if n != 5 {
		t.Errorf("%d replies posted, want 5", n)
	}
	if got := len(p.bodies["UAR-1"]); got != 1 {
		t.Errorf("UAR-1 got %d comments, want its 2 replies in one", got)
	}
	if got := len(p.bodies["UAR-2"]); got != 2 {
		t.Errorf("UAR-2 got %d comments, want 2 (3 replies of a third of the budget each)", got)
	}
	var doc struct {
		Type    string `json:"type"`
		Content []struct {
			Type string `json:"type"`
		} `json:"content"`
	}
	if err := json.Unmarshal(p.bodies["UAR-1"][0], &doc); err != nil || doc.Type != "doc" || len(doc.Content) != 3 || doc.Content[1].Type != "rule" {
		t.Errorf("joined reply is not paragraph, rule, paragraph: %s (%v)", p.bodies["UAR-1"][0], err)
	}
	for _, b := range p.bodies["UAR-2"] {
		if len(b) > maxReplyBytes+1024 {
			t.Errorf("a reply comment of %d bytes, over the budget", len(b))
		}
	}
	pubs, err := st.Publications(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, pub := range pubs {
		if pub.Kind == KindReply {
			keys[pub.ExternalKey] = pub.ExternalID
		}
	}
	if len(keys) != 5 || keys["a1"] != keys["a2"] || keys["a1"] == "" || keys["c1"] != "" {
		t.Errorf("recorded replies %v: want a1..b3 under their comments' ids, c1 not", keys)
	}
	// A second pass answers only what was not posted: the refused ticket.
	p.fail = ""
	n, err = postReplies(ctx, s, p, replies, 3)
	if err != nil || n != 1 || len(p.bodies["UAR-3"]) != 1 || len(p.bodies["UAR-1"]) != 1 {
		t.Errorf("second pass: %d posted, %v; comments %d on UAR-3, %d on UAR-1", n, err, len(p.bodies["UAR-3"]), len(p.bodies["UAR-1"]))
	}
}
