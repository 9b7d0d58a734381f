package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uar-dev/uar/internal/httpx"
)

// User is a Jira account. EmailAddress may be empty: Jira hides it under
// the user's privacy settings, so AccountID is the stable identity.
type User struct {
	AccountID    string `json:"accountId"`
	EmailAddress string `json:"emailAddress,omitempty"`
	DisplayName  string `json:"displayName,omitempty"`
}

// Issue is a Jira issue as uar reads it. Created/Updated are UTC; the
// *Raw fields keep Jira's own strings for the evidence record.
type Issue struct {
	ID             string
	Key            string
	Self           string
	Summary        string
	Labels         []string
	Priority       string
	Status         string
	StatusCategory string // new, indeterminate or done
	Created        time.Time
	Updated        time.Time
	CreatedRaw     string
	UpdatedRaw     string
}

// IssueFields is what uar writes on an issue. Description is an ADF
// document (from [Node.Raw] or a rendered template); empty means none.
// Priority empty leaves the priority out (Jira's default on create, the
// current one on update): the name must exist in the project's priority
// scheme. AssigneeAccountID empty leaves the issue unassigned/unchanged.
type IssueFields struct {
	Summary           string
	Description       json.RawMessage
	Labels            []string
	Priority          string
	AssigneeAccountID string
}

// Myself returns the account the credentials belong to; call it first to
// check them. A refusal is an *httpx.StatusError with IsAuth() true (or
// an *httpx.AuthError when Jira silently fell back to anonymous).
func (c *Client) Myself(ctx context.Context) (User, error) {
	var u User
	err := c.do(ctx, call{op: "check credentials", method: http.MethodGet, path: "/rest/api/3/myself", idempotent: true, ok: []int{200}}, &u)
	if err == nil && u.AccountID == "" {
		// Anonymous access answers without an account.
		err = &httpx.AuthError{Service: "jira", Err: errors.New("GET /rest/api/3/myself returned no account"), Hint: authHint}
	}
	return u, err
}

func (f IssueFields) check() error {
	if strings.TrimSpace(f.Summary) == "" {
		return errors.New("summary is empty")
	}
	if n := utf8.RuneCountInString(f.Summary); n > 255 {
		return fmt.Errorf("summary is %d characters; Jira allows 255", n)
	}
	for _, l := range f.Labels {
		if l == "" || strings.ContainsAny(l, " \t\r\n") {
			return fmt.Errorf("label %q: labels cannot be empty or contain spaces", l)
		}
	}
	if len(f.Description) > 0 && !json.Valid(f.Description) {
		return errors.New("description is not valid JSON (want an ADF document)")
	}
	return nil
}

// wire renders the fields for a create (withProject) or an update.
func (c *Client) wire(f IssueFields, create bool) map[string]any {
	m := map[string]any{"summary": f.Summary}
	if create {
		m["project"] = map[string]string{"key": c.cfg.Project}
		m["issuetype"] = map[string]string{"name": c.cfg.issueType()}
	}
	if len(f.Description) > 0 {
		m["description"] = f.Description
	}
	if f.Labels != nil {
		m["labels"] = f.Labels
	}
	if f.Priority != "" {
		m["priority"] = map[string]string{"name": f.Priority}
	}
	if f.AssigneeAccountID != "" {
		m["assignee"] = map[string]string{"accountId": f.AssigneeAccountID}
	}
	return m
}

// explain maps a Jira 400 on the issue's fields to the uar setting that
// fed the bad value.
func (c *Client) explain(err error, f IssueFields) error {
	var why []string
	for _, k := range badFields(err) {
		switch k {
		case "project":
			why = append(why, fmt.Sprintf("jira.project %q is not a project this account can create issues in", c.cfg.Project))
		case "issuetype":
			why = append(why, fmt.Sprintf("jira.issue_type %q is not an issue type of project %s", c.cfg.issueType(), c.cfg.Project))
		case "priority":
			why = append(why, fmt.Sprintf("priority %q is not in the project's priority scheme (or not on its create screen)", f.Priority))
		case "assignee":
			why = append(why, fmt.Sprintf("assignee account %q cannot be assigned (check the system's owner/owner_account_id)", f.AssigneeAccountID))
		}
	}
	if len(why) == 0 {
		return err
	}
	var se *httpx.StatusError
	if errors.As(err, &se) && se.Hint == "" {
		se.Hint = "check " + strings.Join(why, "; ")
	}
	return fmt.Errorf("%s: %w", strings.Join(why, "; "), err)
}

type createResp struct {
	ID   string `json:"id"`
	Key  string `json:"key"`
	Self string `json:"self"`
}

// CreateIssue creates an issue in the configured project and reads it
// back to learn its server-side `created` time (the create answer has
// none). It is a plain POST: after a timeout or 5xx the issue may or may
// not exist, so callers that must not duplicate use CreateIssueOnce.
// An unknown project, issue type or priority gives an error naming the
// setting (jira.project, jira.issue_type, priority).
func (c *Client) CreateIssue(ctx context.Context, f IssueFields) (Issue, error) {
	if err := f.check(); err != nil {
		return Issue{}, fmt.Errorf("jira: create issue: %w", err)
	}
	var cr createResp
	err := c.do(ctx, call{op: "create issue", method: http.MethodPost, path: "/rest/api/3/issue",
		body: map[string]any{"fields": c.wire(f, true)}, ok: []int{201, 200}}, &cr)
	if err != nil {
		return Issue{}, c.explain(err, f)
	}
	if cr.Key == "" {
		return Issue{}, errors.New("jira: create issue: response has no issue key")
	}
	iss, err := c.GetIssue(ctx, cr.Key)
	if err != nil {
		return Issue{ID: cr.ID, Key: cr.Key, Self: cr.Self}, fmt.Errorf("jira: created %s but could not read it back: %w", cr.Key, err)
	}
	return iss, nil
}

// CreateIssueOnce creates the issue unless one labelled uniqueLabel
// already exists in the project, so a re-run or a retry never duplicates a
// ticket. uniqueLabel is added to f.Labels if missing; it must be unique
// to this ticket (e.g. "uar-2026-Q4-netsuite"). It returns the issue and
// whether this call created it.
//
// A create that fails ambiguously (transport error, timeout, 5xx) is
// followed by a search; only if the issue is still absent is the create
// tried again, at most twice more. Jira search is eventually consistent,
// so a retry can in rare cases still duplicate; the bounded count limits
// that to the unlucky window.
func (c *Client) CreateIssueOnce(ctx context.Context, f IssueFields, uniqueLabel string) (Issue, bool, error) {
	if uniqueLabel == "" || strings.ContainsAny(uniqueLabel, " \t\r\n") {
		return Issue{}, false, fmt.Errorf("jira: create issue: unique label %q must be non-empty and without spaces", uniqueLabel)
	}
	if !slices.Contains(f.Labels, uniqueLabel) {
		f.Labels = append(slices.Clone(f.Labels), uniqueLabel)
	}
	if err := f.check(); err != nil {
		return Issue{}, false, fmt.Errorf("jira: create issue: %w", err)
	}
	const attempts = 3
	for i := 0; ; i++ {
		found, err := c.FindByLabels(ctx, c.cfg.Project, []string{uniqueLabel})
		if err != nil {
			return Issue{}, false, err
		}
		if len(found) > 0 {
			iss, err := c.GetIssue(ctx, found[0].Key)
			return iss, false, err
		}
		iss, err := c.CreateIssue(ctx, f)
		if err == nil || !ambiguous(err) || i+1 >= attempts || ctx.Err() != nil {
			return iss, err == nil, err
		}
		if err := c.sleep(ctx, backoff(i)); err != nil {
			return Issue{}, false, fmt.Errorf("jira: create issue: %w", err)
		}
	}
}

// ambiguous reports whether a failed create may have happened anyway.
func ambiguous(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var se *httpx.StatusError
	if errors.As(err, &se) {
		return se.Status >= 500
	}
	var ae *httpx.AuthError
	return !errors.As(err, &ae)
}

// UpdateIssue rewrites the given fields of issue key (Jira answers 204).
// Empty Summary is an error; empty Priority, nil Labels, empty Description
// and empty AssigneeAccountID leave those fields as they are.
func (c *Client) UpdateIssue(ctx context.Context, key string, f IssueFields) error {
	if err := f.check(); err != nil {
		return fmt.Errorf("jira: update %s: %w", key, err)
	}
	err := c.do(ctx, call{op: "update " + key, method: http.MethodPut, path: "/rest/api/3/issue/" + url.PathEscape(key),
		body: map[string]any{"fields": c.wire(f, false)}, idempotent: true, ok: []int{204, 200}}, nil)
	if err != nil {
		return c.explain(err, f)
	}
	return nil
}

// issueFieldNames are the fields uar reads on an issue.
var issueFieldNames = []string{"summary", "labels", "priority", "status", "created", "updated"}

type wireIssue struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Self   string `json:"self"`
	Fields struct {
		Summary  string   `json:"summary"`
		Labels   []string `json:"labels"`
		Priority *struct {
			Name string `json:"name"`
		} `json:"priority"`
		Status *struct {
			Name           string `json:"name"`
			StatusCategory struct {
				Key string `json:"key"`
			} `json:"statusCategory"`
		} `json:"status"`
		Created string `json:"created"`
		Updated string `json:"updated"`
	} `json:"fields"`
}

func (w wireIssue) issue() (Issue, error) {
	iss := Issue{ID: w.ID, Key: w.Key, Self: w.Self, Summary: w.Fields.Summary, Labels: w.Fields.Labels,
		CreatedRaw: w.Fields.Created, UpdatedRaw: w.Fields.Updated}
	if w.Fields.Priority != nil {
		iss.Priority = w.Fields.Priority.Name
	}
	if w.Fields.Status != nil {
		iss.Status = w.Fields.Status.Name
		iss.StatusCategory = w.Fields.Status.StatusCategory.Key
	}
	var err error
	if iss.Created, err = ParseTime(w.Fields.Created); err != nil {
		return iss, fmt.Errorf("issue %s: created: %w", w.Key, err)
	}
	if iss.Updated, err = ParseTime(w.Fields.Updated); err != nil {
		return iss, fmt.Errorf("issue %s: updated: %w", w.Key, err)
	}
	return iss, nil
}

// GetIssue reads issue key (summary, labels, priority, status, created,
// updated). A missing issue is an *httpx.StatusError with Status 404
// (Jira also says 404 when the account may not see it).
func (c *Client) GetIssue(ctx context.Context, key string) (Issue, error) {
	var w wireIssue
	err := c.do(ctx, call{op: "get " + key, method: http.MethodGet, path: "/rest/api/3/issue/" + url.PathEscape(key),
		query: url.Values{"fields": {strings.Join(issueFieldNames, ",")}}, idempotent: true, ok: []int{200}}, &w)
	if err != nil {
		return Issue{}, err
	}
	iss, err := w.issue()
	if err != nil {
		return iss, fmt.Errorf("jira: %w", err)
	}
	return iss, nil
}

// SearchJQL runs a bounded JQL query (it must restrict e.g. the project)
// on POST /rest/api/3/search/jql, following nextPageToken until the last
// page. fields nil means summary, labels, priority, status, created,
// updated. (The old /rest/api/3/search answers 410 Gone.)
func (c *Client) SearchJQL(ctx context.Context, jql string, fields []string) ([]Issue, error) {
	if fields == nil {
		fields = issueFieldNames
	}
	var out []Issue
	seen := map[string]bool{}
	token := ""
	for page := 1; ; page++ {
		body := map[string]any{"jql": jql, "fields": fields, "maxResults": 100}
		if token != "" {
			body["nextPageToken"] = token
		}
		var resp struct {
			Issues        []wireIssue `json:"issues"`
			NextPageToken string      `json:"nextPageToken"`
			IsLast        bool        `json:"isLast"`
		}
		err := c.do(ctx, call{op: fmt.Sprintf("search page %d", page), method: http.MethodPost, path: "/rest/api/3/search/jql",
			body: body, idempotent: true, ok: []int{200}}, &resp)
		if err != nil {
			return nil, err
		}
		for _, w := range resp.Issues {
			iss, err := w.issue()
			if err != nil {
				return nil, fmt.Errorf("jira: search: %w", err)
			}
			out = append(out, iss)
		}
		if resp.NextPageToken == "" || resp.IsLast {
			return out, nil
		}
		if seen[resp.NextPageToken] {
			return nil, fmt.Errorf("jira: search page %d: nextPageToken repeats; stopping", page)
		}
		seen[resp.NextPageToken] = true
		token = resp.NextPageToken
	}
}

// JQLString quotes s as a JQL string literal.
func JQLString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// ErrUnknownProject is wrapped by FindByLabels when Jira does not know
// jira.project (or hides it from the account).
var ErrUnknownProject = errors.New("unknown project")

// FindByLabels returns the issues of project that carry every label in
// labels, ordered by key.
func (c *Client) FindByLabels(ctx context.Context, project string, labels []string) ([]Issue, error) {
	if project == "" {
		return nil, errors.New("jira: find by labels: jira.project is empty")
	}
	var b strings.Builder
	b.WriteString("project = " + JQLString(project))
	for _, l := range labels {
		b.WriteString(" AND labels = " + JQLString(l))
	}
	b.WriteString(" ORDER BY key ASC")
	out, err := c.SearchJQL(ctx, b.String(), nil)
	var se *httpx.StatusError
	if errors.As(err, &se) && se.Status == http.StatusBadRequest && strings.Contains(se.Message, "for the field 'project'") {
		// Jira refuses JQL over a project it does not know (or hides).
		return nil, fmt.Errorf("jira: jira.project %q does not exist or this account cannot see it: %w", project, errors.Join(ErrUnknownProject, err))
	}
	return out, err
}

// Comment is a Jira comment. Text is Body flattened by ADFText, one line
// per paragraph or list item. Author.EmailAddress may be empty (privacy);
// an Updated later than Created means the comment was edited.
type Comment struct {
	ID         string
	Author     User
	Body       json.RawMessage
	Text       string
	Created    time.Time
	Updated    time.Time
	CreatedRaw string
	UpdatedRaw string
}

// Edited reports whether the comment was changed after it was posted.
func (c Comment) Edited() bool { return !c.Updated.IsZero() && !c.Updated.Equal(c.Created) }

type wireComment struct {
	ID      string          `json:"id"`
	Author  User            `json:"author"`
	Body    json.RawMessage `json:"body"`
	Created string          `json:"created"`
	Updated string          `json:"updated"`
}

func (w wireComment) comment() (Comment, error) {
	cm := Comment{ID: w.ID, Author: w.Author, Body: w.Body, CreatedRaw: w.Created, UpdatedRaw: w.Updated}
	var err error
	if cm.Text, err = ADFText(w.Body); err != nil {
		return cm, fmt.Errorf("comment %s: %w", w.ID, err)
	}
	if cm.Created, err = ParseTime(w.Created); err != nil {
		return cm, fmt.Errorf("comment %s: created: %w", w.ID, err)
	}
	if cm.Updated, err = ParseTime(w.Updated); err != nil {
		return cm, fmt.Errorf("comment %s: updated: %w", w.ID, err)
	}
	return cm, nil
}

// AddComment posts an ADF comment on issue key. Like a create it is not
// retried after a 5xx or timeout (the comment may exist); the caller
// decides, e.g. by listing comments first.
func (c *Client) AddComment(ctx context.Context, key string, body json.RawMessage) (Comment, error) {
	if !json.Valid(body) {
		return Comment{}, fmt.Errorf("jira: comment on %s: body is not valid JSON (want an ADF document)", key)
	}
	var w wireComment
	err := c.do(ctx, call{op: "comment on " + key, method: http.MethodPost, path: "/rest/api/3/issue/" + url.PathEscape(key) + "/comment",
		body: map[string]any{"body": body}, ok: []int{201, 200}}, &w)
	if err != nil {
		return Comment{}, err
	}
	cm, err := w.comment()
	if err != nil {
		return cm, fmt.Errorf("jira: %w", err)
	}
	return cm, nil
}

// ListComments returns every comment on issue key, oldest first, paging
// with startAt/maxResults until total is reached.
func (c *Client) ListComments(ctx context.Context, key string) ([]Comment, error) {
	var out []Comment
	for startAt := 0; ; {
		var page struct {
			StartAt    int           `json:"startAt"`
			MaxResults int           `json:"maxResults"`
			Total      int           `json:"total"`
			Comments   []wireComment `json:"comments"`
		}
		q := url.Values{"startAt": {strconv.Itoa(startAt)}, "maxResults": {"100"}, "orderBy": {"created"}}
		err := c.do(ctx, call{op: fmt.Sprintf("list comments on %s from %d", key, startAt), method: http.MethodGet,
			path: "/rest/api/3/issue/" + url.PathEscape(key) + "/comment", query: q, idempotent: true, ok: []int{200}}, &page)
		if err != nil {
			return nil, err
		}
		for _, w := range page.Comments {
			cm, err := w.comment()
			if err != nil {
				return nil, fmt.Errorf("jira: %s: %w", key, err)
			}
			out = append(out, cm)
		}
		startAt += len(page.Comments)
		if len(page.Comments) == 0 || startAt >= page.Total {
			return out, nil
		}
	}
}

// Transition is a workflow move available on an issue.
type Transition struct {
	ID         string
	Name       string
	ToName     string
	ToCategory string // new, indeterminate or done
}

// Transitions lists the transitions the account may perform on key (empty
// without the Transition issues permission).
func (c *Client) Transitions(ctx context.Context, key string) ([]Transition, error) {
	var resp struct {
		Transitions []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			To   struct {
				Name           string `json:"name"`
				StatusCategory struct {
					Key string `json:"key"`
				} `json:"statusCategory"`
			} `json:"to"`
		} `json:"transitions"`
	}
	err := c.do(ctx, call{op: "transitions of " + key, method: http.MethodGet,
		path: "/rest/api/3/issue/" + url.PathEscape(key) + "/transitions", idempotent: true, ok: []int{200}}, &resp)
	if err != nil {
		return nil, err
	}
	out := make([]Transition, 0, len(resp.Transitions))
	for _, t := range resp.Transitions {
		out = append(out, Transition{ID: t.ID, Name: t.Name, ToName: t.To.Name, ToCategory: t.To.StatusCategory.Key})
	}
	return out, nil
}

// DoTransition moves issue key to the status named toStatus (matched
// case-insensitively against the target status, then the transition
// name). If the issue is already in that status it does nothing, so
// re-runs are safe. No matching transition is an error listing the
// available ones.
func (c *Client) DoTransition(ctx context.Context, key, toStatus string) error {
	ts, err := c.Transitions(ctx, key)
	if err != nil {
		return err
	}
	pick := ""
	for _, t := range ts {
		if strings.EqualFold(t.ToName, toStatus) {
			pick = t.ID
			break
		}
	}
	if pick == "" {
		for _, t := range ts {
			if strings.EqualFold(t.Name, toStatus) {
				pick = t.ID
				break
			}
		}
	}
	if pick == "" {
		iss, err := c.GetIssue(ctx, key)
		if err == nil && strings.EqualFold(iss.Status, toStatus) {
			return nil
		}
		names := make([]string, 0, len(ts))
		for _, t := range ts {
			names = append(names, t.ToName)
		}
		slices.Sort(names)
		return fmt.Errorf("jira: move %s to %q: no such transition (available: %s)", key, toStatus, strings.Join(names, ", "))
	}
	return c.do(ctx, call{op: "move " + key + " to " + toStatus, method: http.MethodPost,
		path: "/rest/api/3/issue/" + url.PathEscape(key) + "/transitions",
		body: map[string]any{"transition": map[string]string{"id": pick}}, ok: []int{204, 200}}, nil)
}
