package review

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/store"
)

// Publication kind of a reminder (a Jira comment or a Slack message).
const KindReminder = "reminder"

// CommentPoster posts a Jira comment; *jira.Client is one.
type CommentPoster interface {
	AddComment(ctx context.Context, key string, body json.RawMessage) (jira.Comment, error)
}

// RemindTargets are the clients remind posts with; Chat may be nil.
type RemindTargets struct {
	Comments    CommentPoster
	JiraBaseURL string
	Chat        interface {
		PostNote(ctx context.Context, text string) (slack.Message, error)
	}
}

// RemindOptions are remind's settings.
type RemindOptions struct {
	WindowDays int   // review.window_days
	RemindDays []int // review.remind_days
	Connect    func() (RemindTargets, error)
}

// Reminder is what remind did (or decided) for one system.
type Reminder struct {
	System   string `json:"system"`
	Pending  int    `json:"pending"`
	Deadline string `json:"deadline"`  // UTC date
	DaysLeft int    `json:"days_left"` // negative once overdue
	Action   string `json:"action"`    // reminded, escalated, already_sent_today, not_due, nothing_pending, no_ticket
	JiraKey  string `json:"jira_key"`
}

// Remind nudges the reviewers of systems with pending accesses: on the
// days review.remind_days before the deadline (first publish +
// review.window_days) a Jira comment mentioning the owner and delegates,
// and once overdue an escalation that also names the backup reviewer; one
// Slack message lists them. It is idempotent per day: a system reminded
// today (UTC, by the comment's own Jira time) is not reminded again.
func Remind(ctx context.Context, s *Step, o RemindOptions) ([]Reminder, error) {
	ix, err := LoadPublications(ctx, s.Store, s.Review)
	if err != nil {
		return nil, err
	}
	if len(ix.Tickets) == 0 {
		return nil, prerequisite("run 'uar publish --review "+s.Review+"' first", "review %s has no tickets: nothing to remind about", s.Review)
	}
	start, err := firstPublished(ctx, s.Store, s.Review)
	if err != nil {
		return nil, err
	}
	deadline := start.AddDate(0, 0, o.WindowDays)
	progress, err := s.Store.ReviewProgress(ctx, s.Review)
	if err != nil {
		return nil, err
	}
	sent, err := remindedOn(ctx, s.Store, s.Review, s.Now)
	if err != nil {
		return nil, err
	}
	reviewers, err := s.Store.CurrentReviewers(ctx, s.Review)
	if err != nil {
		return nil, err
	}
	today := s.Now.UTC().Truncate(24 * time.Hour)
	daysLeft := int(deadline.UTC().Truncate(24*time.Hour).Sub(today).Hours() / 24)
	var out []Reminder
	for _, p := range progress {
		r := Reminder{System: p.System, Pending: p.Pending, Deadline: deadline.UTC().Format("2006-01-02"), DaysLeft: daysLeft}
		t, hasTicket := ix.Tickets[p.System]
		switch {
		case p.Pending == 0:
			r.Action = "nothing_pending"
		case !hasTicket:
			r.Action = "no_ticket"
		case sent[p.System]:
			r.Action = "already_sent_today"
			r.JiraKey = t.ExternalKey
		case daysLeft < 0:
			r.Action = "escalated"
			r.JiraKey = t.ExternalKey
		case slices.Contains(o.RemindDays, daysLeft):
			r.Action = "reminded"
			r.JiraKey = t.ExternalKey
		default:
			r.Action = "not_due"
		}
		out = append(out, r)
	}
	var due []Reminder
	for _, r := range out {
		if r.Action == "reminded" || r.Action == "escalated" {
			due = append(due, r)
		}
	}
	if len(due) == 0 {
		return out, nil
	}
	t, err := o.Connect()
	if err != nil {
		return out, err
	}
	var errs []error
	if t.Chat != nil {
		m, err := t.Chat.PostNote(ctx, reminderNote(s.Review, due))
		if m.TS != "" {
			if _, rerr := RecordPublication(ctx, s, store.Publication{Service: store.ServiceSlack, Kind: KindReminder, Action: store.ActionCreated,
				ExternalID: m.TS, ExternalKey: m.Channel, URL: m.Permalink, ServiceTime: store.FormatTime(m.Time())}, ""); rerr != nil {
				return out, rerr
			}
		}
		if err != nil {
			errs = append(errs, &PublishError{Service: store.ServiceSlack, Object: "reminder", Err: err})
		}
	}
	for _, r := range due {
		// Each reminder carries the ledger head as it is posted: the last
		// one anchors the run's writes (the Slack note went first).
		head, err := s.Store.Head(ctx)
		if err != nil {
			return out, err
		}
		body := reminderComment(s.Review, r, reviewersOf(reviewers, r.System, r.Action == "escalated"), head.String())
		cm, err := t.Comments.AddComment(ctx, r.JiraKey, body)
		if err != nil {
			errs = append(errs, &PublishError{Service: store.ServiceJira, Object: "reminder on " + r.JiraKey, Err: err})
			continue
		}
		if _, err := RecordPublication(ctx, s, store.Publication{Service: store.ServiceJira, Kind: KindReminder, System: r.System, Action: r.Action,
			ExternalID: cm.ID, ExternalKey: r.JiraKey, URL: commentURL(t.JiraBaseURL, r.JiraKey, cm.ID), ServiceTime: store.FormatTime(cm.Created)}, head.String()); err != nil {
			return out, err
		}
		s.Out.Infof("remind: %s %s (%d pending, deadline %s)", r.Action, r.JiraKey, r.Pending, r.Deadline)
	}
	if len(errs) > 0 {
		return out, &IncompleteError{Published: len(due) - len(errs), Errs: errs}
	}
	return out, nil
}

// firstPublished is when the review's first ticket was created (Jira's own
// time), which starts the decision window.
func firstPublished(ctx context.Context, st *store.Store, review string) (time.Time, error) {
	pubs, err := st.Publications(ctx, review)
	if err != nil {
		return time.Time{}, err
	}
	for _, p := range pubs { // id order
		if p.Service == store.ServiceJira && p.Kind == store.KindTicket && p.ServiceTime != "" {
			return store.ParseTime(p.ServiceTime)
		}
	}
	return time.Time{}, prerequisite("run 'uar publish --review "+review+"' first", "review %s has no published ticket", review)
}

// remindedOn returns the systems reminded on now's UTC day.
func remindedOn(ctx context.Context, st *store.Store, review string, now time.Time) (map[string]bool, error) {
	pubs, err := st.Publications(ctx, review)
	if err != nil {
		return nil, err
	}
	day := now.UTC().Format("2006-01-02")
	out := map[string]bool{}
	for _, p := range pubs {
		if p.Kind == KindReminder && p.Service == store.ServiceJira && strings.HasPrefix(p.ServiceTime, day) {
			out[p.System] = true
		}
	}
	return out, nil
}

// reviewersOf are the accounts to mention: owner and delegates, plus the
// backup reviewer on an escalation.
func reviewersOf(rs []store.Reviewer, system string, escalate bool) []store.Reviewer {
	var out []store.Reviewer
	for _, r := range rs {
		if r.System == system && (r.Role != store.RoleBackup || escalate) {
			out = append(out, r)
		}
	}
	return out
}

func reminderComment(review string, r Reminder, mention []store.Reviewer, ledgerHead string) json.RawMessage {
	var inline []*jira.Node
	for i, m := range mention {
		if i > 0 {
			inline = append(inline, jira.Text(" "))
		}
		name := m.DisplayName
		if name == "" {
			name = m.Email
		}
		inline = append(inline, jira.Mention(m.AccountID, "@"+name))
	}
	var msg string
	if r.Action == "escalated" {
		msg = fmt.Sprintf(" Escalation: the decision deadline of UAR %s (%s) has passed and %d access(es) of %s are still pending. The backup reviewer is asked to make sure they are decided.", review, r.Deadline, r.Pending, r.System)
	} else {
		msg = fmt.Sprintf(" Reminder: %d access(es) of %s are still pending in UAR %s; the deadline is %s (UTC), in %d day(s).", r.Pending, r.System, review, r.Deadline, r.DaysLeft)
	}
	inline = append(inline, jira.Text(msg+" Reply with REVOKE: or CERTIFY: lines, as the description explains."))
	return jira.Doc(jira.Paragraph(inline...), jira.Paragraph(jira.Text("uar evidence ledger head: "+ledgerHead))).Raw()
}

func reminderNote(review string, due []Reminder) string {
	var parts []string
	for _, r := range due {
		parts = append(parts, fmt.Sprintf("%s (%s: %d pending)", r.JiraKey, r.System, r.Pending))
	}
	return fmt.Sprintf("UAR %s: decisions still pending, deadline %s: %s.", review, due[0].Deadline, strings.Join(parts, ", "))
}
