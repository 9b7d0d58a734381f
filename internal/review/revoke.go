package review

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/revoke"
	"github.com/uar-dev/uar/internal/store"
)

// OktaRevoker is the Okta side of revoke; *okta.Client is one.
type OktaRevoker interface {
	RemoveMember(ctx context.Context, groupID, userID string) (okta.RemoveResult, error)
	IsMember(ctx context.Context, groupID, userID string) (bool, error)
	MembershipEvents(ctx context.Context, eventType string, since, until time.Time) ([]okta.LogEvent, error)
}

// Comments is the Jira side of the decision loop; *jira.Client is one.
type Comments interface {
	ListComments(ctx context.Context, key string) ([]jira.Comment, error)
	AddComment(ctx context.Context, key string, body json.RawMessage) (jira.Comment, error)
	Transitions(ctx context.Context, key string) ([]jira.Transition, error)
	DoTransition(ctx context.Context, key, toStatus string) error
	GetIssue(ctx context.Context, key string) (jira.Issue, error)
}

// Notes posts a Slack note; *slack.Client is one.
type Notes interface {
	PostNote(ctx context.Context, text string) (slack.Message, error)
}

// RevokeTargets are the clients revoke works with. Pages, Comments and
// Notes may be nil (the record is then not written there, with a warning).
type RevokeTargets struct {
	Okta        OktaRevoker
	Pages       Pages
	Comments    Comments
	JiraBaseURL string
	Notes       Notes
}

// RevokeOptions says what revoke may do.
type RevokeOptions struct {
	DryRun bool
	// MaxPerRun is revoke.max_per_run; Max (--max) raises it explicitly.
	MaxPerRun int
	Max       int
	// Workers is how many removals may be under way at once
	// (okta.concurrency; 0 means one at a time).
	Workers int
	Connect func(dryRun bool) (RevokeTargets, error)
}

// BlastRadiusError is a plan larger than the cap: nothing was removed.
type BlastRadiusError struct {
	Planned, Max int
}

func (e *BlastRadiusError) Error() string {
	return fmt.Sprintf("revoke: %d removals planned, more than the cap of %d (revoke.max_per_run): nothing was removed", e.Planned, e.Max)
}

// RevokeResult is what a revoke run planned and did.
type RevokeResult struct {
	Plan     []revoke.Request
	Outcomes []revoke.Outcome
	Failed   int
}

// RevokeParams are the params of a "revoke" derive row (one per outcome).
type RevokeParams struct {
	RevocationID int64  `json:"revocation_id"`
	Status       string `json:"status"`
	GroupID      string `json:"group_id"`
	UserID       string `json:"user_id"`
	DecisionID   int64  `json:"decision_id"`
}

// Revoke plans the removals of the review's accepted REVOKE decisions not
// yet done, and (unless a dry run) applies them through Okta, proving each
// one, then records them on the review page (a red panel), in a comment on
// each ticket (moved to Done once every access in it is decided and every
// revocation final) and in a Slack note. A membership failing does not stop
// the others; the run then returns an error naming them (exit 1) and a
// re-run finishes the rest without repeating a removal.
func Revoke(ctx context.Context, s *Step, o RevokeOptions) (*RevokeResult, error) {
	pop, err := LoadPopulation(ctx, s.Store, s.Review)
	if err != nil {
		return nil, err
	}
	reqs, err := revokeRequests(ctx, s, pop.Snap)
	if err != nil {
		return nil, err
	}
	latest, err := s.Store.LatestRevocations(ctx, s.Review)
	if err != nil {
		return nil, err
	}
	done := map[string]string{}
	for _, r := range latest {
		done[r.GroupID+"/"+r.UserID] = r.Status
	}
	inSnapshot := map[string]bool{}
	for _, g := range pop.Snap.Groups {
		inSnapshot[g.ID] = true
	}
	plan, err := revoke.Plan(reqs, done, func(id string) bool { return inSnapshot[id] })
	if err != nil {
		return nil, err
	}
	res := &RevokeResult{Plan: plan}
	limit := max(o.MaxPerRun, o.Max)
	if len(plan) > limit {
		return res, &BlastRadiusError{Planned: len(plan), Max: limit}
	}
	if o.DryRun || len(plan) == 0 {
		if len(plan) == 0 {
			s.Out.Infof("revoke %s: nothing to revoke", s.Review)
		}
		return res, nil
	}
	t, err := o.Connect(false)
	if err != nil {
		return res, err
	}
	s.Out.Infof("revoke %s: %d removals planned", s.Review, len(plan))
	dep := oktaDeprovisioner{t.Okta, s}
	n := 0
	outcomes, err := revoke.Apply(ctx, plan, o.Workers, dep, dep, s.now, func(out revoke.Outcome) error {
		if out.Status != revoke.Planned {
			n++
			s.Out.Progress("revoke: %d/%d (%s from %s: %s)", n, len(plan), out.UserLogin, out.GroupName, out.Status)
		}
		return recordRevocation(ctx, s, out)
	})
	s.Out.ProgressDone()
	res.Outcomes = outcomes
	for _, out := range outcomes {
		if out.Status == revoke.Failed {
			res.Failed++
		}
	}
	if err != nil {
		return res, err
	}
	if err := announceRevocations(ctx, s, t, outcomes); err != nil {
		return res, err
	}
	if res.Failed > 0 {
		var names []string
		for _, out := range outcomes {
			if out.Status == revoke.Failed {
				names = append(names, fmt.Sprintf("%s from %s (%s)", out.UserLogin, out.GroupName, out.Reason))
			}
		}
		return res, &HintedError{Err: fmt.Errorf("revoke: %d of %d removals failed: %s", res.Failed, len(outcomes), strings.Join(names, "; ")),
			Hint: "the others are done and recorded; fix the cause (or remove the access at its source) and run 'uar revoke' again"}
	}
	return res, nil
}

// revokeRequests turns the review's accepted REVOKE decisions into
// requests for the memberships of the current population.
func revokeRequests(ctx context.Context, s *Step, snap *model.Snapshot) ([]revoke.Request, error) {
	decs, err := s.Store.CurrentDecisions(ctx, s.Review)
	if err != nil {
		return nil, err
	}
	groups := map[string]model.Group{} // by name
	for _, g := range snap.Groups {
		groups[g.System+"\x00"+g.Name] = g
	}
	users := map[string]model.User{}
	byEmail := map[string]model.User{}
	for _, u := range snap.Users {
		users[u.ID] = u
		byEmail[strings.ToLower(u.Email)] = u
	}
	member := map[string]string{} // gid/uid -> source
	for _, m := range snap.Memberships {
		member[m.GroupID+"/"+m.UserID] = m.Source
	}
	var out []revoke.Request
	for _, d := range decs {
		if d.Status != model.DecisionAccepted || d.Action != model.ActionRevoke {
			continue
		}
		u, ok := users[d.UserID]
		if !ok {
			u, ok = byEmail[strings.ToLower(d.Target)]
		}
		g, gok := groups[d.System+"\x00"+d.GroupName]
		if !ok || !gok {
			continue // the access is gone from the current snapshot
		}
		src, isMember := member[g.ID+"/"+u.ID]
		if !isMember {
			continue
		}
		at, _ := store.ParseTime(d.DecidedAt)
		out = append(out, revoke.Request{
			Membership: revoke.Membership{System: d.System, GroupID: g.ID, GroupName: g.Name, GroupType: g.Type, UserID: u.ID, UserLogin: u.Login, Source: src},
			DecisionID: d.ID, RequestedBy: firstNonEmpty(d.DecidedByEmail, d.DecidedByName, d.DecidedBy), DecidedAt: at,
			JiraKey: d.JiraKey, CommentID: d.CommentID,
		})
	}
	return out, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// recordRevocation writes one outcome, sealed, in its own transaction
// (even when ctx is cancelled: an Okta change must be on record).
func recordRevocation(ctx context.Context, s *Step, out revoke.Outcome) error {
	ctx = context.WithoutCancel(ctx)
	r := store.Revocation{Review: s.Review, RunID: s.Run.ID, System: out.System, UserID: out.UserID, UserLogin: out.UserLogin,
		GroupID: out.GroupID, GroupName: out.GroupName, Status: out.Status, Reason: s.scrub(out.Reason), RequestedBy: out.RequestedBy,
		ExecutedAt: store.FormatTime(out.ExecutedAt), VerifiedAt: store.FormatTime(out.VerifiedAt), OktaRequestID: out.RequestID,
		DecisionID: out.DecisionID, DecidedAt: store.FormatTime(out.DecidedAt), JiraKey: out.JiraKey, CommentID: out.CommentID,
		MembershipSource: out.Source, LogEventID: out.LogEventID, LogEventTime: store.FormatTime(out.LogEventTime),
		LatencySeconds: int64(out.Latency() / time.Second)}
	return s.Store.WithTx(ctx, func(tx *store.Tx) error {
		_, err := s.Ledger.Derive(ctx, tx, "revoke", func(evID string) (evidence.Derived, error) {
			id, err := tx.InsertRevocation(ctx, r, evID)
			return evidence.Derived{Scopes: []evidence.Scope{{Table: "revocations", Scope: id}},
				Params: RevokeParams{RevocationID: id, Status: r.Status, GroupID: r.GroupID, UserID: r.UserID, DecisionID: r.DecisionID}}, err
		})
		return err
	})
}

// oktaDeprovisioner adapts OktaRevoker to revoke's interfaces.
type oktaDeprovisioner struct {
	okta OktaRevoker
	s    *Step
}

func (d oktaDeprovisioner) Remove(ctx context.Context, groupID, userID string) (revoke.Removal, error) {
	r, err := d.okta.RemoveMember(ctx, groupID, userID)
	return revoke.Removal{RequestID: r.RequestID}, err
}

func (d oktaDeprovisioner) IsMember(ctx context.Context, groupID, userID string) (bool, error) {
	return d.okta.IsMember(ctx, groupID, userID)
}

// RemovalEvent looks for the removal in a bounded System Log window, from
// since to the run's clock plus a minute (the log's own times may lead
// ours a little).
func (d oktaDeprovisioner) RemovalEvent(ctx context.Context, groupID, userID string, since time.Time) (string, time.Time, bool, error) {
	evs, err := d.okta.MembershipEvents(ctx, okta.EventMembershipRemove, since, d.s.now().Add(time.Minute))
	if err != nil {
		return "", time.Time{}, false, err
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if e := evs[i]; e.GroupID == groupID && e.UserID == userID {
			return e.UUID, e.Published, true, nil
		}
	}
	return "", time.Time{}, false, nil
}
