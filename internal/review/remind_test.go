package review

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/internal/store"
)

// movable is a clock a test sets, shared by the fakes and the steps.
type movable struct {
	mu sync.Mutex
	t  time.Time
}

func (m *movable) now() time.Time  { m.mu.Lock(); defer m.mu.Unlock(); return m.t }
func (m *movable) set(t time.Time) { m.mu.Lock(); m.t = t; m.mu.Unlock() }

// Remind nudges on the remind days, once per day, and escalates naming
// the backup reviewer once the deadline has passed.
func TestRemindSchedule(t *testing.T) {
	ctx := context.Background()
	clock := &movable{t: testNow}
	st := testStore(t)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sb, err := sandbox.Start(sctx, sandbox.StartOptions{Clock: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	systems := sandbox.ReferenceSystems()
	snapshotAndScore(t, st, sb, rev, systems)
	s, _ := newStep(t, st, "publish", rev)
	if _, err := Publish(ctx, s, publishOpts(sandboxTargets(s, sb), systems)); err != nil {
		t.Fatal(err)
	}
	remind := func(at time.Time) []Reminder {
		t.Helper()
		clock.set(at)
		s, _ := newStep(t, st, "remind", rev)
		s.Now = at
		c := jira.New(jira.Config{BaseURL: sb.URL(sandbox.ServiceJira), Email: sandbox.JiraEmail, Token: sandbox.JiraToken, Project: "UAR"}, recorded(s, store.ServiceJira))
		chat := slack.New(slack.Config{Channel: sandbox.SlackChannel, APIURL: sb.URL(sandbox.ServiceSlack), Token: sandbox.SlackToken}, recorded(s, store.ServiceSlack))
		rs, err := Remind(ctx, s, RemindOptions{WindowDays: 30, RemindDays: []int{7, 3, 1},
			Connect: func() (RemindTargets, error) { return RemindTargets{Comments: c, Chat: chat}, nil }})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	actions := func(rs []Reminder) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.System+"="+r.Action)
		}
		return strings.Join(out, " ")
	}
	comments := func(key string) (n int, last string) {
		for _, is := range sb.Jira.Issues() {
			if is.Key == key {
				for _, c := range is.Comments {
					n++
					last = string(c.Body)
				}
			}
		}
		return
	}
	if got := actions(remind(testNow.Add(10 * 24 * time.Hour))); got != "NetSuite=not_due Salesforce=not_due Workday=not_due" {
		t.Errorf("day 10: %s", got)
	}
	// Seven days before the deadline (published 2026-12-01, 30 days).
	day23 := testNow.Add(23*24*time.Hour + 2*time.Hour)
	if got := actions(remind(day23)); got != "NetSuite=reminded Salesforce=reminded Workday=reminded" {
		t.Errorf("day 23: %s", got)
	}
	n, body := comments("UAR-1")
	if n != 1 || !strings.Contains(body, sandbox.JiraAccountID("nina.patel@company.com")) || strings.Contains(body, sandbox.JiraAccountID("cfo@company.com")) {
		t.Errorf("reminder on UAR-1: %d comments, last %s", n, body)
	}
	// Again the same day: nothing.
	if got := actions(remind(day23.Add(3 * time.Hour))); got != "NetSuite=already_sent_today Salesforce=already_sent_today Workday=already_sent_today" {
		t.Errorf("same day again: %s", got)
	}
	if n, _ := comments("UAR-1"); n != 1 {
		t.Errorf("a second reminder the same day: %d comments", n)
	}
	// Overdue: an escalation that mentions the backup reviewer.
	remind(testNow.Add(32 * 24 * time.Hour))
	if n, body := comments("UAR-1"); n != 2 || !strings.Contains(body, "Escalation") || !strings.Contains(body, sandbox.JiraAccountID("cfo@company.com")) {
		t.Errorf("escalation: %d comments, last %s", n, body)
	}
	if got := len(sb.Slack.Messages()); got != 3 { // the summary, the reminder, the escalation
		t.Errorf("%d Slack messages", got)
	}
	// Each reminder carries the ledger head as it was posted, recorded as
	// an anchor; the run's last one covers its Slack note.
	var anchors, lastHead, slackSeq int64
	err = st.QueryEach(context.Background(), `SELECT e.seq, p.service, COALESCE(json_extract(e.query_params, '$.ledger_head'), '')
		FROM evidence e JOIN publications p ON p.evidence_id = e.id WHERE p.kind = 'reminder' ORDER BY e.seq`, nil,
		func([]string) error { return nil }, func(r []any) error {
			head := r[2].(string)
			switch {
			case r[1] == "slack":
				slackSeq = r[0].(int64)
			case head != "":
				anchors++
				seq, _, _ := strings.Cut(head, ":")
				n, err := strconv.ParseInt(seq, 10, 64)
				if err != nil {
					return fmt.Errorf("ledger head %q: %w", head, err)
				}
				lastHead = n
				if !strings.Contains(lastBodies(sb), head) {
					return fmt.Errorf("ledger head %s is in no reminder comment", head)
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if anchors != 6 || lastHead < slackSeq {
		t.Errorf("reminders anchored: %d (want 6), last head seq %d, the last Slack note at %d", anchors, lastHead, slackSeq)
	}
}

// lastBodies is every Jira comment's text, joined.
func lastBodies(sb *sandbox.Running) string {
	var b strings.Builder
	for _, is := range sb.Jira.Issues() {
		for _, c := range is.Comments {
			b.Write(c.Body)
		}
	}
	return b.String()
}
