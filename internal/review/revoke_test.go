package review

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/store"
)

// seedDecisions records an accepted decisions pass for system, one row per
// (action, email, group), as parse-decisions would.
func seedDecisions(t *testing.T, st *store.Store, system string, rows ...store.Decision) {
	t.Helper()
	ctx := context.Background()
	s, _ := newStep(t, st, "parse-decisions", rev)
	err := st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := s.Ledger.Derive(ctx, tx, "decisions", func(evID string) (evidence.Derived, error) {
			p := store.DecisionPass{Review: rev, PassID: s.Run.ID, RunID: s.Run.ID, System: system, Source: store.DecisionFromJira, Lines: len(rows)}
			for i := range rows {
				rows[i].System, rows[i].Status = system, model.DecisionAccepted
				if rows[i].DecidedAt == "" {
					rows[i].DecidedAt = "2026-12-01T10:00:00Z"
				}
			}
			err := tx.InsertDecisionPass(ctx, p, rows, evID)
			return evidence.Derived{Scopes: []evidence.Scope{{Table: "decisions", Scope: s.Run.ID}, {Table: "decision_passes", Scope: s.Run.ID}}}, err
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func revokeTargetsFor(s *Step, sb *sandbox.Running) RevokeTargets {
	tg := sandboxTargets(s, sb)
	client, err := okta.New(context.Background(), okta.Config{OrgURL: sb.URL(sandbox.ServiceOkta), Token: sandbox.OktaToken, MaxRequestsPerMinute: -1}, recorded(s, "okta"))
	if err != nil {
		panic(err)
	}
	return RevokeTargets{Okta: client, Pages: tg.Pages, Comments: tg.Tickets.(*jira.Client), JiraBaseURL: tg.JiraBaseURL, Notes: tg.Chat.(*slack.Client)}
}

func revokeOpts(t RevokeTargets) RevokeOptions {
	return RevokeOptions{MaxPerRun: 25, Workers: 4, Connect: func(bool) (RevokeTargets, error) { return t, nil }}
}

// publishedReference is the reference org snapshotted, scored and
// published, with its population and its users and groups by id.
func publishedReference(t *testing.T) (*store.Store, *sandbox.Running, []model.System, *Population, map[string]model.User, map[string]model.Group) {
	t.Helper()
	ctx := context.Background()
	st, sb, systems := testStore(t), startSandbox(t, nil), sandbox.ReferenceSystems()
	snapshotAndScore(t, st, sb, rev, systems)
	s, _ := newStep(t, st, "publish", rev)
	if _, err := Publish(ctx, s, publishOpts(sandboxTargets(s, sb), systems)); err != nil {
		t.Fatal(err)
	}
	pop, err := LoadPopulation(ctx, st, rev)
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]model.User{}
	for _, u := range pop.Snap.Users {
		users[u.ID] = u
	}
	groups := map[string]model.Group{}
	for _, g := range pop.Snap.Groups {
		groups[g.ID] = g
	}
	return st, sb, systems, pop, users, groups
}

// The whole revoke step against the sandbox: removals proven in Okta, one
// APP_GROUP refusal that does not stop the others, the panel on the page,
// a comment per ticket, a Slack note; a re-run repeats nothing.
func TestRevokeEndToEnd(t *testing.T) {
	ctx := context.Background()
	st, sb, systems, pop, users, groups := publishedReference(t)
	// Pick two NetSuite memberships: one OKTA_GROUP, and every APP_GROUP one.
	var okRow, appRow *store.Decision
	for _, m := range pop.Snap.Memberships {
		g, u := groups[m.GroupID], users[m.UserID]
		d := &store.Decision{Action: model.ActionRevoke, Target: u.Email, GroupName: g.Name, UserID: u.ID, DecidedBy: "acct", DecidedByEmail: "nina.patel@company.com", JiraKey: "UAR-1", CommentID: "10001"}
		switch {
		case g.System != "NetSuite":
		case g.Type == model.GroupTypeApp && appRow == nil:
			appRow = d
		case g.Type == model.GroupTypeOkta && okRow == nil:
			okRow = d
		}
	}
	if okRow == nil {
		t.Fatal("reference org: no NetSuite OKTA_GROUP membership")
	}
	rows := []store.Decision{*okRow}
	if appRow != nil {
		rows = append(rows, *appRow)
	}
	seedDecisions(t, st, "NetSuite", rows...)

	// Dry run: the plan, nothing removed.
	s, _ := newStep(t, st, "revoke", rev)
	o := revokeOpts(revokeTargetsFor(s, sb))
	o.DryRun = true
	res, err := Revoke(ctx, s, o)
	if err != nil || len(res.Plan) != len(rows) || sb.Okta.Requests().Count(http.MethodDelete, "") != 0 {
		t.Fatalf("dry run: %v, plan %d, deletes %d", err, len(res.Plan), sb.Okta.Requests().Count(http.MethodDelete, ""))
	}

	// Someone edits the page meanwhile: the append's first write is a 409,
	// retried on the new version.
	sb.Confluence.InjectConflicts(1)
	s, out := newStep(t, st, "revoke", rev)
	res, err = Revoke(ctx, s, revokeOpts(revokeTargetsFor(s, sb)))
	if appRow != nil {
		var he *HintedError
		if !errors.As(err, &he) || res.Failed != 1 {
			t.Fatalf("APP_GROUP: err %v, failed %d, want one failure reported\n%s", err, res.Failed, out)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	byStatus := map[string]int{}
	for _, o := range res.Outcomes {
		byStatus[o.Status]++
		if o.Status == "done" && (o.RequestID == "" || o.VerifiedAt.IsZero() || o.LogEventID == "") {
			t.Errorf("done without its proof: %+v", o)
		}
	}
	if byStatus["done"] != 1 {
		t.Fatalf("outcomes %+v", res.Outcomes)
	}
	gid, uid := groupAndUser(pop.Snap, okRow.GroupName, okRow.UserID)
	if sb.Okta.IsMember(gid, uid) {
		t.Error("Okta still has the revoked membership")
	}
	// Recorded where people look.
	body := sb.Confluence.Pages()[0].Current().Body
	if !strings.Contains(body, "Revocation record – run "+s.Run.ID) || !strings.Contains(body, okRow.GroupName) {
		t.Errorf("the review page has no revocation panel for run %s", s.Run.ID)
	}
	var comments int
	for _, is := range sb.Jira.Issues() {
		for _, c := range is.Comments {
			if strings.Contains(string(c.Body), "uar revoke") {
				comments++
			}
		}
	}
	if comments != 1 {
		t.Errorf("%d revocation comments, want 1 (NetSuite's ticket)", comments)
	}
	if n := len(sb.Slack.Messages()); n != 2 {
		t.Errorf("%d Slack messages, want the summary and the revocation note", n)
	}
	// The panel is the run's last write outside: the ledger head it
	// carries covers the comment and the note recorded before it.
	anchoredSeq := scalar(t, st, `SELECT max(e.seq) FROM evidence e JOIN publications p ON p.evidence_id = e.id
		WHERE p.run_id = ? AND COALESCE(json_extract(e.query_params, '$.ledger_head'), '') <> ''`, s.Run.ID)
	headSeq := scalar(t, st, `SELECT CAST(substr(json_extract(e.query_params, '$.ledger_head'), 1, instr(json_extract(e.query_params, '$.ledger_head'), ':') - 1) AS INTEGER)
		FROM evidence e WHERE e.seq = ?`, anchoredSeq)
	lastOther := scalar(t, st, `SELECT max(e.seq) FROM evidence e JOIN publications p ON p.evidence_id = e.id
		WHERE p.run_id = ? AND p.service IN ('jira', 'slack')`, s.Run.ID)
	if anchoredSeq == 0 || lastOther == 0 || headSeq < lastOther {
		t.Errorf("the panel anchors head seq %d (row %d), before the run's last comment or note (row %d)", headSeq, anchoredSeq, lastOther)
	}

	// Re-run: nothing removed twice; the failed APP_GROUP one is retried
	// (and fails again), the done one is not.
	deletes := sb.Okta.Requests().Count(http.MethodDelete, "")
	s, _ = newStep(t, st, "revoke", rev)
	res, _ = Revoke(ctx, s, revokeOpts(revokeTargetsFor(s, sb)))
	for _, o := range res.Plan {
		if o.GroupName == okRow.GroupName && o.UserID == okRow.UserID {
			t.Error("a proven removal was planned again")
		}
	}
	if got := sb.Okta.Requests().Count(http.MethodDelete, "") - deletes; got != len(res.Plan) {
		t.Errorf("re-run sent %d removals for a plan of %d", got, len(res.Plan))
	}
	// Re-publishing keeps the panel.
	s, _ = newStep(t, st, "publish", rev)
	if _, err := Publish(ctx, s, publishOpts(sandboxTargets(s, sb), systems)); err != nil {
		t.Fatal(err)
	}
	if body := sb.Confluence.Pages()[0].Current().Body; !strings.Contains(body, "Revocation record") {
		t.Error("publish dropped the revocation panel")
	}
	if sum, err := evidence.Verify(ctx, st, evidence.Options{Rederivers: Rederivers()}); err != nil {
		t.Fatalf("verify: %v %+v", err, sum.Problems)
	}
}

func groupAndUser(snap *model.Snapshot, groupName, userID string) (string, string) {
	for _, g := range snap.Groups {
		if g.Name == groupName {
			return g.ID, userID
		}
	}
	return "", userID
}

// A crash between the removal and its record: the re-run finds the user
// gone and records already_absent with the member listing as proof.
func TestRevokeAfterCrashRecordsAlreadyAbsent(t *testing.T) {
	ctx := context.Background()
	st, sb, systems := testStore(t), startSandbox(t, nil), sandbox.ReferenceSystems()
	snapshotAndScore(t, st, sb, rev, systems)
	pop, _ := LoadPopulation(ctx, st, rev)
	var d store.Decision
	var gid string
	for _, m := range pop.Snap.Memberships {
		for _, g := range pop.Snap.Groups {
			if g.ID == m.GroupID && g.Type == model.GroupTypeOkta && d.UserID == "" {
				for _, u := range pop.Snap.Users {
					if u.ID == m.UserID {
						d = store.Decision{Action: model.ActionRevoke, Target: u.Email, GroupName: g.Name, UserID: u.ID, DecidedBy: "acct"}
						gid = g.ID
					}
				}
			}
		}
	}
	seedDecisions(t, st, groupsSystem(pop.Snap, d.GroupName), d)
	// The "crashed" run removed it in Okta and recorded nothing.
	req, _ := http.NewRequest(http.MethodDelete, sb.URL(sandbox.ServiceOkta)+"/api/v1/groups/"+gid+"/users/"+d.UserID, nil)
	req.Header.Set("Authorization", "SSWS "+sandbox.OktaToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("direct removal: %v %v", err, resp)
	}
	resp.Body.Close()
	s, _ := newStep(t, st, "revoke", rev)
	tg := revokeTargetsFor(s, sb)
	tg.Pages, tg.Comments, tg.Notes = nil, nil, nil
	res, err := Revoke(ctx, s, revokeOpts(tg))
	if err != nil || len(res.Outcomes) != 1 || res.Outcomes[0].Status != "already_absent" || res.Outcomes[0].VerifiedAt.IsZero() {
		t.Fatalf("%v %+v", err, res)
	}
	revs, err := st.LatestRevocations(ctx, rev)
	if err != nil || len(revs) != 1 || revs[0].Status != "already_absent" {
		t.Fatalf("recorded %+v %v", revs, err)
	}
}

func groupsSystem(snap *model.Snapshot, name string) string {
	for _, g := range snap.Groups {
		if g.Name == name {
			return g.System
		}
	}
	return ""
}

// More planned removals than the cap are refused: nothing is removed.
func TestRevokeBlastRadius(t *testing.T) {
	ctx := context.Background()
	st, sb, systems := testStore(t), startSandbox(t, nil), sandbox.ReferenceSystems()
	snapshotAndScore(t, st, sb, rev, systems)
	pop, _ := LoadPopulation(ctx, st, rev)
	var rows []store.Decision
	for _, m := range pop.Snap.Memberships {
		for _, g := range pop.Snap.Groups {
			if g.ID == m.GroupID && g.System == "NetSuite" {
				for _, u := range pop.Snap.Users {
					if u.ID == m.UserID {
						rows = append(rows, store.Decision{Action: model.ActionRevoke, Target: u.Email, GroupName: g.Name, UserID: u.ID, DecidedBy: "acct"})
					}
				}
			}
		}
	}
	seedDecisions(t, st, "NetSuite", rows...)
	s, _ := newStep(t, st, "revoke", rev)
	o := revokeOpts(revokeTargetsFor(s, sb))
	o.MaxPerRun = 2
	_, err := Revoke(ctx, s, o)
	var br *BlastRadiusError
	if !errors.As(err, &br) || br.Planned != len(rows) || br.Max != 2 {
		t.Fatalf("err = %v, want a *BlastRadiusError for %d", err, len(rows))
	}
	if n := sb.Okta.Requests().Count(http.MethodDelete, ""); n != 0 {
		t.Errorf("%d removals sent over the cap", n)
	}
	o.Max = len(rows)
	if _, err := Revoke(ctx, s, o); err != nil && !errors.As(err, new(*HintedError)) {
		t.Fatalf("with --max: %v", err)
	}
}

// A system whose every access is decided and whose revocations are all
// proven is moved to Done by the revoke run that finishes it, once: a
// re-run finds it done and moves nothing; a system still pending stays
// open.
func TestRevokeMovesACompleteSystemToDone(t *testing.T) {
	ctx := context.Background()
	st, sb, _, pop, users, groups := publishedReference(t)
	// Every NetSuite access decided: one OKTA_GROUP membership revoked,
	// every other certified one by one.
	var rows []store.Decision
	revoked := false
	for _, m := range pop.Snap.Memberships {
		g, u := groups[m.GroupID], users[m.UserID]
		if g.System != "NetSuite" {
			continue
		}
		d := store.Decision{Action: model.ActionCertify, Target: u.Email, GroupName: g.Name, UserID: u.ID, DecidedBy: "acct",
			DecidedByEmail: "nina.patel@company.com", JiraKey: "UAR-1", CommentID: "10001"}
		if !revoked && g.Type == model.GroupTypeOkta {
			d.Action, revoked = model.ActionRevoke, true
		}
		rows = append(rows, d)
	}
	if !revoked {
		t.Fatal("reference org: no NetSuite OKTA_GROUP membership")
	}
	seedDecisions(t, st, "NetSuite", rows...)
	status := func(key string) string {
		for _, is := range sb.Jira.Issues() {
			if is.Key == key {
				return is.Status
			}
		}
		t.Fatalf("no ticket %s", key)
		return ""
	}
	transitions := func() int64 {
		return scalar(t, st, `SELECT count(*) FROM publications WHERE kind = 'transition'`)
	}
	open := status("UAR-1")
	s, out := newStep(t, st, "revoke", rev)
	if _, err := Revoke(ctx, s, revokeOpts(revokeTargetsFor(s, sb))); err != nil {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	if got := status("UAR-1"); got == open || !strings.EqualFold(got, "Done") {
		t.Errorf("UAR-1 is %q after its last revocation, want Done (was %q)", got, open)
	}
	if got := status("UAR-2"); got != open {
		t.Errorf("UAR-2 (Salesforce, undecided) moved to %q", got)
	}
	if n := transitions(); n != 1 {
		t.Errorf("%d transitions recorded, want 1", n)
	}
	// A later run with nothing to do moves nothing again.
	s, _ = newStep(t, st, "revoke", rev)
	if _, err := Revoke(ctx, s, revokeOpts(revokeTargetsFor(s, sb))); err != nil {
		t.Fatal(err)
	}
	if n := transitions(); n != 1 {
		t.Errorf("after a re-run: %d transitions recorded, want 1", n)
	}
}
