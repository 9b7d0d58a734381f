package review

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/uar-dev/uar/internal/publish/jira"
)

// TicketSearch finds issues by JQL; *jira.Client is one.
type TicketSearch interface {
	SearchJQL(ctx context.Context, jql string, fields []string) ([]jira.Issue, error)
	Project() string
}

// UpdatedTickets returns the keys of the review's tickets updated at or
// after since (a comment updates its ticket). The JQL uses a relative
// time ("updated >= -Nm", a minute more than the time since), so the
// service account's time zone does not matter; a ticket seen twice is
// harmless (a decisions pass is idempotent).
func UpdatedTickets(ctx context.Context, s *Step, t TicketSearch, since time.Time) ([]string, error) {
	minutes := int(math.Ceil(s.now().Sub(since).Minutes())) + 1
	jql := fmt.Sprintf("project = %s AND labels = %s AND updated >= \"-%dm\" ORDER BY key ASC",
		jira.JQLString(t.Project()), jira.JQLString(ReviewLabel(s.Review)), max(minutes, 1))
	issues, err := t.SearchJQL(ctx, jql, []string{"updated"})
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(issues))
	for _, is := range issues {
		keys = append(keys, is.Key)
	}
	return keys, nil
}
