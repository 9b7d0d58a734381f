package okta

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// LogEvent is a System Log event about a group membership (reference
// okta-api.md §1.6), reduced to what a revocation's proof needs.
type LogEvent struct {
	UUID      string    `json:"uuid"`
	Published time.Time `json:"published"`
	EventType string    `json:"event_type"`
	ActorID   string    `json:"actor_id"`
	ActorType string    `json:"actor_type"`
	UserID    string    `json:"user_id"`
	GroupID   string    `json:"group_id"`
	RequestID string    `json:"request_id"`
	Result    string    `json:"result"`
}

// Membership events in the System Log.
const (
	EventMembershipRemove = "group.user_membership.remove"
	EventRuleExclusion    = "group.user_membership.rule.add_exclusion"
)

type wireLogEvent struct {
	UUID      string    `json:"uuid"`
	Published time.Time `json:"published"`
	EventType string    `json:"eventType"`
	Outcome   struct {
		Result string `json:"result"`
	} `json:"outcome"`
	Actor struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"actor"`
	Target []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"target"`
	DebugContext struct {
		DebugData struct {
			RequestID string `json:"requestId"`
		} `json:"debugData"`
	} `json:"debugContext"`
	Transaction struct {
		ID string `json:"id"`
	} `json:"transaction"`
}

// MembershipEvents returns the System Log events of eventType published in
// [since, until], oldest first (GET /api/v1/logs, a bounded query: both
// since and until are sent, so the listing ends when Okta stops giving a
// next link; a polling query would never end). Targets are matched by
// type, not position.
func (c *Client) MembershipEvents(ctx context.Context, eventType string, since, until time.Time) ([]LogEvent, error) {
	q := url.Values{
		"since":     {since.UTC().Format("2006-01-02T15:04:05.000Z")},
		"until":     {until.UTC().Format("2006-01-02T15:04:05.000Z")},
		"filter":    {`eventType eq "` + eventType + `"`},
		"sortOrder": {"ASCENDING"},
		"limit":     {strconv.Itoa(1000)},
	}
	var out []LogEvent
	var page []wireLogEvent
	_, _, _, err := c.listPages(ctx, "/api/v1/logs?"+q.Encode(), func(body []byte) (int64, error) {
		page = nil // fresh per page (okta-api.md §7.3)
		if err := json.Unmarshal(body, &page); err != nil {
			return 0, fmt.Errorf("decode: %w", err)
		}
		return int64(len(page)), nil
	}, func(string, string) error {
		for _, w := range page {
			e := LogEvent{UUID: w.UUID, Published: w.Published.UTC(), EventType: w.EventType, ActorID: w.Actor.ID, ActorType: w.Actor.Type,
				RequestID: w.DebugContext.DebugData.RequestID, Result: w.Outcome.Result}
			if e.RequestID == "" {
				e.RequestID = w.Transaction.ID
			}
			for _, t := range w.Target {
				switch t.Type {
				case "User":
					e.UserID = t.ID
				case "UserGroup":
					e.GroupID = t.ID
				}
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
