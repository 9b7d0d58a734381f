package review

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/confluence"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/revoke"
	"github.com/uar-dev/uar/internal/store"
	"github.com/uar-dev/uar/templates"
)

// Publication kinds written by the decision loop.
const (
	KindComment    = "comment"    // a Jira comment uar posted (replies, revocation summaries, reminders)
	KindTransition = "transition" // a ticket moved to Done
	KindNote       = "note"       // a Slack note
)

// announceRevocations records a revoke run where people look: a comment
// on each ticket concerned (the ticket moved to Done once its review is
// complete), a Slack note, and last a red panel on the review page with
// the ledger head, anchoring all of it. Each is recorded as a publication; a failure
// of one does not stop the others and is returned in an *IncompleteError.
func announceRevocations(ctx context.Context, s *Step, t RevokeTargets, outcomes []revoke.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	ix, err := LoadPublications(ctx, s.Store, s.Review)
	if err != nil {
		return err
	}
	run := revocationRun(s, outcomes, t.JiraBaseURL)
	var errs []error
	published := 0
	fail := func(service, object string, err error) {
		errs = append(errs, &PublishError{Service: service, Object: object, Err: err})
	}
	if t.Comments != nil {
		n, cerrs := commentRevocations(ctx, s, t.Comments, t.JiraBaseURL, ix, outcomes)
		published += n
		errs = append(errs, cerrs...)
	}
	if t.Notes != nil {
		text := revocationNote(s.Review, outcomes, ix)
		m, err := t.Notes.PostNote(ctx, text)
		if m.TS != "" {
			if _, rerr := RecordPublication(ctx, s, store.Publication{Service: store.ServiceSlack, Kind: KindNote, Action: store.ActionCreated,
				ExternalID: m.TS, ExternalKey: m.Channel, URL: m.Permalink, ServiceTime: store.FormatTime(m.Time())}, ""); rerr != nil {
				return rerr
			}
			published++
		}
		if err != nil {
			fail(store.ServiceSlack, "revocation note", err)
		}
	}
	// The panel goes last: the ledger head it carries then covers the
	// comments and the note just recorded (the run's last anchor).
	if t.Pages == nil || ix.Page == nil {
		s.Out.Warnf("revoke: no review page published for %s: the revocation panel is not written (run 'uar publish')", s.Review)
	} else if err := appendPanel(ctx, s, t.Pages, ix.Page, run); err != nil {
		fail(store.ServiceConfluence, "revocation panel", err)
	} else {
		published++
	}
	if len(errs) > 0 {
		return &IncompleteError{Published: published, Errs: errs}
	}
	return nil
}

// revocationRun is the panel of this run's outcomes.
func revocationRun(s *Step, outcomes []revoke.Outcome, jiraBase string) model.RevocationRun {
	run := model.RevocationRun{RunID: s.Run.ID, At: s.now()}
	for _, o := range outcomes {
		run.Items = append(run.Items, model.RevocationItem{System: o.System, UserLogin: o.UserLogin, GroupName: o.GroupName,
			Status: o.Status, Reason: o.Reason, RequestedBy: o.RequestedBy, DecidedAt: o.DecidedAt, JiraKey: o.JiraKey,
			CommentURL: commentURL(jiraBase, o.JiraKey, o.CommentID), OktaRequestID: o.RequestID, VerifiedAt: o.VerifiedAt, LogEventID: o.LogEventID})
	}
	return run
}

// commentURL links a Jira comment (the ticket, focused on the comment).
func commentURL(base, key, commentID string) string {
	if base == "" || key == "" {
		return ""
	}
	u := strings.TrimRight(base, "/") + "/browse/" + url.PathEscape(key)
	if commentID != "" {
		u += "?focusedCommentId=" + url.QueryEscape(commentID)
	}
	return u
}

// appendPanel appends the run's red panel to the review page (Confluence
// has no partial update: read, append, write version+1, retried on 409 by
// the client) with the ledger head at write time, and records the update.
func appendPanel(ctx context.Context, s *Step, pages Pages, page *store.Publication, run model.RevocationRun) error {
	var head string
	pg, err := pages.UpdatePage(ctx, page.ExternalID, page.ExternalKey, "uar revoke "+s.Review+", run "+s.Run.ID, func(cur confluence.Page) (string, error) {
		h, err := s.Store.Head(ctx)
		if err != nil {
			return "", err
		}
		head = h.String()
		run.LedgerHead = head
		panel, err := templates.RevocationPanel(run)
		if err != nil {
			return "", err
		}
		return cur.Body + "\n" + panel, nil
	})
	if err != nil {
		return err
	}
	_, err = RecordPublication(ctx, s, pagePub(store.KindPage, "", store.ActionUpdated, pg), head)
	return err
}

// commentRevocations posts, on each ticket concerned, a comment listing
// what this run did for its system, and moves the ticket to Done once its
// review is complete.
func commentRevocations(ctx context.Context, s *Step, c Comments, jiraBase string, ix *PublicationIndex, outcomes []revoke.Outcome) (int, []error) {
	bySystem := map[string][]revoke.Outcome{}
	var systems []string
	for _, o := range outcomes {
		if _, ok := bySystem[o.System]; !ok {
			systems = append(systems, o.System)
		}
		bySystem[o.System] = append(bySystem[o.System], o)
	}
	slices.Sort(systems)
	progress, err := s.Store.ReviewProgress(ctx, s.Review)
	if err != nil {
		return 0, []error{err}
	}
	var errs []error
	n := 0
	for _, sys := range systems {
		t, ok := ix.Tickets[sys]
		if !ok {
			s.Out.Warnf("revoke: system %s has no ticket: its revocations are not commented (run 'uar publish')", sys)
			continue
		}
		body := revocationComment(s.Review, s.Run.ID, bySystem[sys])
		cm, err := c.AddComment(ctx, t.ExternalKey, body)
		if err != nil {
			errs = append(errs, &PublishError{Service: store.ServiceJira, Object: "revocation comment on " + t.ExternalKey, Err: err})
			continue
		}
		if _, err := RecordPublication(ctx, s, store.Publication{Service: store.ServiceJira, Kind: KindComment, System: sys, Action: store.ActionCreated,
			ExternalID: cm.ID, ExternalKey: t.ExternalKey, URL: commentURL(jiraBase, t.ExternalKey, cm.ID),
			ServiceTime: store.FormatTime(cm.Created)}, ""); err != nil {
			return n, append(errs, err)
		}
		n++
		if complete(progress, sys) {
			moved, err := moveToDone(ctx, c, t.ExternalKey)
			if err != nil {
				errs = append(errs, &PublishError{Service: store.ServiceJira, Object: "move " + t.ExternalKey + " to Done", Err: err})
				continue
			}
			if moved {
				if _, err := RecordPublication(ctx, s, store.Publication{Service: store.ServiceJira, Kind: KindTransition, System: sys,
					Action: store.ActionUpdated, ExternalID: t.ExternalID, ExternalKey: t.ExternalKey, URL: t.URL}, ""); err != nil {
					return n, append(errs, err)
				}
				n++
			}
		}
	}
	return n, errs
}

// complete reports whether every access of sys is decided and every
// revocation proven.
func complete(progress []store.Progress, sys string) bool {
	for _, p := range progress {
		if p.System == sys {
			return p.Total > 0 && p.Pending == 0 && p.Unfinished == 0
		}
	}
	return false
}

// moveToDone moves key to the first status of category done; it reports
// false when the ticket is already done.
func moveToDone(ctx context.Context, c Comments, key string) (bool, error) {
	is, err := c.GetIssue(ctx, key)
	if err != nil {
		return false, err
	}
	if is.StatusCategory == "done" {
		return false, nil
	}
	ts, err := c.Transitions(ctx, key)
	if err != nil {
		return false, err
	}
	for _, t := range ts {
		if t.ToCategory == "done" {
			return true, c.DoTransition(ctx, key, t.ToName)
		}
	}
	return false, errors.New("no transition to a done status is available to the service account")
}

// revocationComment is the ADF comment listing what one run did for one
// system.
func revocationComment(review, runID string, outs []revoke.Outcome) []byte {
	var items []*jira.Node
	for _, o := range outs {
		line := fmt.Sprintf("%s from %s: %s", o.UserLogin, o.GroupName, strings.ReplaceAll(o.Status, "_", " "))
		if !o.VerifiedAt.IsZero() {
			line += ", proven absent at " + store.FormatTime(o.VerifiedAt)
		}
		if o.RequestID != "" {
			line += " (Okta request " + o.RequestID + ")"
		}
		if o.Reason != "" {
			line += ": " + o.Reason
		}
		items = append(items, jira.ListItem(jira.Text(line)))
	}
	doc := jira.Doc(
		jira.Paragraph(jira.Strong("uar revoke"), jira.Text(fmt.Sprintf(" (review %s, run %s) applied the REVOKE decisions of this ticket:", review, runID))),
		jira.BulletList(items...),
	)
	return doc.Raw()
}

// revocationNote is the Slack note of a revoke run.
func revocationNote(review string, outs []revoke.Outcome, ix *PublicationIndex) string {
	counts := map[string]int{}
	for _, o := range outs {
		counts[o.Status]++
	}
	text := fmt.Sprintf("UAR %s: revoke applied %d decision(s): %d done, %d already absent, %d failed, %d skipped.",
		review, len(outs), counts[revoke.Done], counts[revoke.AlreadyAbsent], counts[revoke.Failed], counts[revoke.Skipped])
	if ix.Page != nil && ix.Page.URL != "" {
		text += " Record: " + ix.Page.URL
	}
	return text
}

// LoadRevocationRuns returns the red panel of every revoke run of the
// review so far, oldest first, with the ledger head each wrote on the page:
// what the review page must keep whenever it is rewritten.
func LoadRevocationRuns(ctx context.Context, st *store.Store, review, jiraBase string) ([]model.RevocationRun, error) {
	revs, err := st.Revocations(ctx, review)
	if err != nil {
		return nil, err
	}
	heads := map[string]string{}
	rows, err := st.FindEvidence(ctx, store.EvidenceFilter{Review: review, Kind: "derive", QueryName: "publish"})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		var p PublishParams
		if err := evidence.DeriveParams(r, &p); err == nil && p.Kind == store.KindPage && p.LedgerHead != "" {
			heads[r.RunID] = p.LedgerHead
		}
	}
	var out []model.RevocationRun
	index := map[string]int{}
	for _, r := range revs {
		if r.Status == revoke.Planned {
			continue
		}
		i, ok := index[r.RunID]
		if !ok {
			i = len(out)
			index[r.RunID] = i
			out = append(out, model.RevocationRun{RunID: r.RunID, LedgerHead: heads[r.RunID]})
		}
		item := model.RevocationItem{System: r.System, UserLogin: r.UserLogin, GroupName: r.GroupName, Status: r.Status, Reason: r.Reason,
			RequestedBy: r.RequestedBy, JiraKey: r.JiraKey, CommentURL: commentURL(jiraBase, r.JiraKey, r.CommentID), OktaRequestID: r.OktaRequestID,
			LogEventID: r.LogEventID}
		item.DecidedAt, _ = store.ParseTime(r.DecidedAt)
		item.VerifiedAt, _ = store.ParseTime(r.VerifiedAt)
		for _, t := range []string{r.ExecutedAt, r.VerifiedAt} {
			if at, err := store.ParseTime(t); err == nil && at.After(out[i].At) {
				out[i].At = at
			}
		}
		out[i].Items = append(out[i].Items, item)
	}
	return out, nil
}
