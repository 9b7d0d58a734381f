package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ErrUserNotFound is wrapped by FindUser when no active account matches.
var ErrUserNotFound = errors.New("no Jira account matches")

// FindUser resolves an email address to the Jira account it belongs to
// (GET /rest/api/3/user/search?query=EMAIL). It prefers the active account
// whose emailAddress equals email (case-insensitive); when Jira hides every
// candidate's email (privacy settings), a single active match is taken.
// Anything else — none, or several indistinguishable accounts — wraps
// ErrUserNotFound, naming the address.
func (c *Client) FindUser(ctx context.Context, email string) (User, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return User{}, errors.New("jira: find user: empty email")
	}
	var found []struct {
		User
		Active      bool   `json:"active"`
		AccountType string `json:"accountType"`
	}
	err := c.do(ctx, call{op: "find user " + email, method: http.MethodGet, path: "/rest/api/3/user/search",
		query: url.Values{"query": {email}, "maxResults": {"50"}}, idempotent: true, ok: []int{200}}, &found)
	if err != nil {
		return User{}, err
	}
	var active []User
	for _, u := range found {
		if !u.Active || u.AccountID == "" || (u.AccountType != "" && u.AccountType != "atlassian") {
			continue
		}
		if strings.EqualFold(u.EmailAddress, email) {
			return u.User, nil
		}
		active = append(active, u.User)
	}
	if len(active) == 1 && active[0].EmailAddress == "" {
		return active[0], nil
	}
	return User{}, fmt.Errorf("jira: find user %s: %w (%d candidates)", email, ErrUserNotFound, len(active))
}
