package sandbox

// The fake Jira Cloud (REST v3) follows reference §1.9: Basic auth with
// X-Seraph-LoginReason on failure, ErrorCollection bodies, "+0000" dates
// from the injected clock, /search/jql with an opaque nextPageToken (and
// the removed /search answering 410), paged comments with total, and
// transitions that change status and statusCategory.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// jiraTimeLayout is how Jira writes timestamps: milliseconds and an offset
// without a colon.
const jiraTimeLayout = "2006-01-02T15:04:05.000-0700"

// JiraOptions configures a fake Jira. Empty lists take the defaults shown.
type JiraOptions struct {
	Email       string // the API user (Basic auth name)
	Token       string // its API token
	DisplayName string // shown as the author of its comments (default: Email)
	Projects    []string
	IssueTypes  []string       // default Task, Bug, Story
	Priorities  []string       // default Highest, High, Medium, Low, Lowest
	Clock       Clock          // stamps created/updated
	Location    *time.Location // zone dates are written in (default UTC, i.e. "+0000")
	SearchPage  int            // max issues per /search/jql page (default 50)
	// Users is the site's user directory for /user/search (email →
	// display name). Nil makes every well-formed address a user, with
	// JiraAccountID(email) as its account id.
	Users       map[string]string
	CommentPage int // max comments per page (default 100)
	// AnyUser accepts Token with any email as the Basic-auth user, and
	// acts as that user (a comment posted is theirs): how `uar sandbox
	// comment` plays an owner answering in the ticket.
	AnyUser bool
}

// JiraIssue is the fake's view of an issue, for assertions.
type JiraIssue struct {
	ID          string
	Key         string
	Project     string
	IssueType   string
	Summary     string
	Description json.RawMessage
	Labels      []string
	Priority    string
	Assignee    string
	Status      string
	Created     time.Time
	Updated     time.Time
	Comments    []JiraComment
}

// JiraComment is one comment on a fake issue.
type JiraComment struct {
	ID           string
	AuthorEmail  string
	AuthorID     string
	AuthorName   string
	HideEmail    bool
	Body         json.RawMessage
	Created      time.Time
	Updated      time.Time
	UpdateAuthor string
}

// Jira is a fake Jira Cloud site; it is an http.Handler.
type Jira struct {
	opts JiraOptions
	log  RequestLog

	mu          sync.Mutex
	issues      []*JiraIssue
	nextIssue   int
	nextComment int
	hidden      map[string]bool
	lostCreates int
	faults      faults
	reqID       int
}

// NewJira returns a fake Jira with no issues.
func NewJira(o JiraOptions) *Jira {
	if len(o.Projects) == 0 {
		o.Projects = []string{"UAR"}
	}
	if len(o.IssueTypes) == 0 {
		o.IssueTypes = []string{"Task", "Bug", "Story"}
	}
	if len(o.Priorities) == 0 {
		o.Priorities = []string{"Highest", "High", "Medium", "Low", "Lowest"}
	}
	if o.SearchPage <= 0 {
		o.SearchPage = 50
	}
	if o.CommentPage <= 0 {
		o.CommentPage = 100
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	return &Jira{opts: o, nextIssue: 10000, nextComment: 10000, hidden: map[string]bool{}}
}

// JiraAccountID is the fake's account id for an email: a content hash, so
// it is stable across runs.
func JiraAccountID(email string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "557058:" + hex.EncodeToString(h[:12])
}

// Requests returns the requests received so far.
func (j *Jira) Requests() []Request { return j.log.All() }

// Log is the request log (Count, Reset...).
func (j *Jira) Log() *RequestLog { return &j.log }

// Issues returns a deep copy of every issue, ordered by key number.
func (j *Jira) Issues() []JiraIssue {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]JiraIssue, 0, len(j.issues))
	for _, is := range j.issues {
		c := *is
		c.Labels = slices.Clone(is.Labels)
		c.Comments = slices.Clone(is.Comments)
		out = append(out, c)
	}
	return out
}

// Inject429 makes the next n requests answer 429 with the given
// Retry-After header (empty: no header).
func (j *Jira) Inject429(n int, retryAfter string) { j.faults.inject429(n, retryAfter) }

// Inject5xx makes the next n requests answer status (500 if 0) without
// doing anything.
func (j *Jira) Inject5xx(n, status int) {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	j.faults.inject5xx(n, status)
}

// LoseCreateResponses makes the next n issue creates succeed but answer
// 504, as when a gateway times out after Jira committed: the case a
// client must not blindly retry.
func (j *Jira) LoseCreateResponses(n int) {
	j.mu.Lock()
	j.lostCreates = n
	j.mu.Unlock()
}

// SetLatency delays every response by d (benchmarks, timeouts).
func (j *Jira) SetLatency(d time.Duration) { j.faults.setLatency(d) }

// HideEmail hides (or shows) an author's emailAddress in comments, as
// Jira does under the user's privacy settings.
func (j *Jira) HideEmail(email string, hide bool) {
	j.mu.Lock()
	j.hidden[strings.ToLower(email)] = hide
	j.mu.Unlock()
}

// AddComment adds a comment on key as authorEmail with the given times,
// as if that user had written it in the Jira UI. body is an ADF document
// (JSON with "type":"doc") or plain text, turned into one paragraph per
// line. A zero updated means updated = created. It returns the comment id.
func (j *Jira) AddComment(key, authorEmail, body string, created, updated time.Time) (string, error) {
	var adf json.RawMessage
	if jiraIsDoc([]byte(body)) {
		adf = json.RawMessage(body)
	} else {
		adf = jiraTextDoc(body)
	}
	if updated.IsZero() {
		updated = created
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	is := j.find(key)
	if is == nil {
		return "", fmt.Errorf("sandbox jira: no issue %s", key)
	}
	c := j.newComment(authorEmail, authorEmail, adf, created.UTC())
	c.Updated = updated.UTC()
	is.Comments = append(is.Comments, c)
	// A comment (or its edit) updates the issue, as in Jira.
	if c.Updated.After(is.Updated) {
		is.Updated = c.Updated
	}
	return c.ID, nil
}

// SetStatus moves an issue to a status as if a user did it in the UI.
func (j *Jira) SetStatus(key, status string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	is := j.find(key)
	if is == nil {
		return fmt.Errorf("sandbox jira: no issue %s", key)
	}
	is.Status = status
	return nil
}

func (j *Jira) newComment(email, name string, body json.RawMessage, at time.Time) JiraComment {
	j.nextComment++
	return JiraComment{ID: strconv.Itoa(j.nextComment - 1), AuthorEmail: email, AuthorID: JiraAccountID(email),
		AuthorName: name, Body: body, Created: at, Updated: at, UpdateAuthor: email}
}

func (j *Jira) find(key string) *JiraIssue {
	for _, is := range j.issues {
		if is.Key == key || is.ID == key {
			return is
		}
	}
	return nil
}

func (j *Jira) fmtTime(t time.Time) string { return t.In(j.opts.Location).Format(jiraTimeLayout) }

type jiraRecorder struct {
	http.ResponseWriter
	status int
}

func (r *jiraRecorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
	r.ResponseWriter.WriteHeader(s)
}

// jiraError writes Jira's ErrorCollection.
func jiraError(w http.ResponseWriter, status int, msgs []string, fields map[string]string) {
	if msgs == nil {
		msgs = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	writeJSON(w, status, map[string]any{"errorMessages": msgs, "errors": fields})
}

// ServeHTTP implements http.Handler.
func (j *Jira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := readBody(r)
	rec := &jiraRecorder{ResponseWriter: w}
	defer func() {
		j.log.Add(Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body), Status: rec.status})
	}()
	j.mu.Lock()
	j.reqID++
	rid := j.reqID
	j.mu.Unlock()
	rec.Header().Set("X-Arequestid", fmt.Sprintf("fake-%d", rid))
	rec.Header().Set("Atl-Traceid", fmt.Sprintf("trace%08d", rid))
	j.faults.delay(r)

	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/browse/") {
		rec.status = http.StatusOK
		j.browseIssue(rec, strings.TrimPrefix(r.URL.Path, "/browse/"))
		return
	}
	email, token, ok := r.BasicAuth()
	impersonating := ok && j.opts.AnyUser && strings.Contains(email, "@") && !strings.EqualFold(email, j.opts.Email) &&
		subtle.ConstantTimeCompare([]byte(token), []byte(j.opts.Token)) == 1
	if impersonating {
		r = r.WithContext(context.WithValue(r.Context(), jiraActorKey{}, strings.ToLower(email)))
	} else if !ok || subtle.ConstantTimeCompare([]byte(email), []byte(j.opts.Email)) != 1 ||
		subtle.ConstantTimeCompare([]byte(token), []byte(j.opts.Token)) != 1 {
		rec.Header().Set("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")
		rec.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		rec.WriteHeader(http.StatusUnauthorized)
		_, _ = rec.Write([]byte("Client must be authenticated to access this resource."))
		return
	}

	switch st, ra := j.faults.next(); {
	case st == http.StatusTooManyRequests:
		if ra != "" {
			rec.Header().Set("Retry-After", ra)
		}
		rec.Header().Set("RateLimit-Reason", "jira-burst-based")
		jiraError(rec, st, []string{"Rate limit exceeded."}, nil)
		return
	case st != 0:
		jiraError(rec, st, []string{"Internal server error"}, nil)
		return
	}

	p := strings.TrimSuffix(r.URL.Path, "/")
	const api = "/rest/api/3"
	switch {
	case p == api+"/myself" && r.Method == http.MethodGet:
		writeJSON(rec, 200, map[string]any{"accountId": JiraAccountID(j.opts.Email), "emailAddress": j.opts.Email,
			"displayName": j.displayName(j.opts.Email), "active": true, "timeZone": j.opts.Location.String(), "accountType": "atlassian"})
	case p == api+"/user/search" && r.Method == http.MethodGet:
		j.userSearch(rec, r)
	case p == api+"/search" || p == "/rest/api/2/search":
		jiraError(rec, http.StatusGone, []string{"The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"}, nil)
	case p == api+"/search/jql" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		j.search(rec, r, body)
	case p == api+"/issue" && r.Method == http.MethodPost:
		j.create(rec, r, body)
	case strings.HasPrefix(p, api+"/issue/"):
		rest := strings.Split(strings.TrimPrefix(p, api+"/issue/"), "/")
		switch {
		case len(rest) == 1 && r.Method == http.MethodGet:
			j.get(rec, r, rest[0])
		case len(rest) == 1 && r.Method == http.MethodPut:
			j.update(rec, rest[0], body)
		case len(rest) == 2 && rest[1] == "comment" && r.Method == http.MethodGet:
			j.listComments(rec, r, rest[0])
		case len(rest) == 2 && rest[1] == "comment" && r.Method == http.MethodPost:
			j.postComment(rec, r, rest[0], body)
		case len(rest) == 2 && rest[1] == "transitions" && r.Method == http.MethodGet:
			j.transitions(rec, rest[0])
		case len(rest) == 2 && rest[1] == "transitions" && r.Method == http.MethodPost:
			j.transition(rec, rest[0], body)
		default:
			jiraError(rec, http.StatusNotFound, []string{"No route"}, nil)
		}
	default:
		jiraError(rec, http.StatusNotFound, []string{"No route " + r.Method + " " + p}, nil)
	}
}

func (j *Jira) displayName(email string) string {
	if strings.EqualFold(email, j.opts.Email) && j.opts.DisplayName != "" {
		return j.opts.DisplayName
	}
	return email
}

// jiraActorKey carries the user an AnyUser request acts as.
type jiraActorKey struct{}

// jiraStatuses is the fake workflow: name → (transition id, category).
var jiraStatuses = []struct{ name, id, cat, catName, color string }{
	{"To Do", "11", "new", "To Do", "blue-gray"},
	{"In Progress", "21", "indeterminate", "In Progress", "yellow"},
	{"Done", "31", "done", "Done", "green"},
}

func jiraStatusJSON(name string) map[string]any {
	for i, s := range jiraStatuses {
		if s.name == name {
			return map[string]any{"name": s.name, "id": strconv.Itoa(10000 + i),
				"statusCategory": map[string]any{"id": i + 2, "key": s.cat, "colorName": s.color, "name": s.catName}}
		}
	}
	return map[string]any{"name": name, "statusCategory": map[string]any{"key": "indeterminate"}}
}

func jiraStatusCategory(name string) string {
	for _, s := range jiraStatuses {
		if strings.EqualFold(s.name, name) {
			return s.cat
		}
	}
	return "indeterminate"
}

func jiraIsDoc(b []byte) bool {
	var d struct {
		Type    string          `json:"type"`
		Version int             `json:"version"`
		Content json.RawMessage `json:"content"`
	}
	return json.Unmarshal(b, &d) == nil && d.Type == "doc" && d.Version == 1
}

// jiraValidADF checks what Jira checks of a v3 rich-text value: an ADF
// doc (a plain string is refused), whose text nodes are non-empty.
func jiraValidADF(b json.RawMessage) string {
	if !jiraIsDoc(b) {
		return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
	}
	var v any
	_ = json.Unmarshal(b, &v)
	var walk func(any) string
	walk = func(x any) string {
		m, ok := x.(map[string]any)
		if !ok {
			return ""
		}
		if t, _ := m["type"].(string); t == "text" {
			if s, _ := m["text"].(string); s == "" {
				return "INVALID_INPUT: text nodes must not be empty"
			}
		}
		c, _ := m["content"].([]any)
		for _, y := range c {
			if e := walk(y); e != "" {
				return e
			}
		}
		return ""
	}
	return walk(v)
}

func jiraTextDoc(s string) json.RawMessage {
	var ps []any
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if line == "" {
			continue
		}
		ps = append(ps, map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": line}}})
	}
	if ps == nil {
		ps = []any{}
	}
	b, _ := json.Marshal(map[string]any{"type": "doc", "version": 1, "content": ps})
	return b
}

type jiraFieldsIn struct {
	Project *struct {
		Key string `json:"key"`
		ID  string `json:"id"`
	} `json:"project"`
	IssueType *struct {
		Name string `json:"name"`
		ID   string `json:"id"`
	} `json:"issuetype"`
	Summary     *string         `json:"summary"`
	Description json.RawMessage `json:"description"`
	Labels      []string        `json:"labels"`
	Priority    *struct {
		Name string `json:"name"`
	} `json:"priority"`
	Assignee *struct {
		AccountID string `json:"accountId"`
	} `json:"assignee"`
}

// check validates fields as Jira does, returning the errors map.
func (j *Jira) check(f jiraFieldsIn, create bool) map[string]string {
	errs := map[string]string{}
	if create {
		if f.Project == nil || !slices.Contains(j.opts.Projects, f.Project.Key) {
			errs["project"] = "valid project is required"
		}
		if f.IssueType == nil || !slices.Contains(j.opts.IssueTypes, f.IssueType.Name) {
			errs["issuetype"] = "Specify an issue type"
		}
		if f.Summary == nil {
			errs["summary"] = "You must specify a summary of the issue."
		}
	}
	if f.Summary != nil {
		switch {
		case strings.TrimSpace(*f.Summary) == "":
			errs["summary"] = "You must specify a summary of the issue."
		case utf8.RuneCountInString(*f.Summary) > 255:
			errs["summary"] = "Summary must be less than 255 characters."
		}
	}
	if f.Priority != nil && !slices.Contains(j.opts.Priorities, f.Priority.Name) {
		errs["priority"] = fmt.Sprintf("Priority name '%s' is not valid", f.Priority.Name)
	}
	for _, l := range f.Labels {
		if l == "" || strings.ContainsFunc(l, unicode.IsSpace) {
			errs["labels"] = "The label '" + l + "' contains spaces which is invalid."
		}
	}
	if len(f.Description) > 0 && string(f.Description) != "null" {
		if e := jiraValidADF(f.Description); e != "" {
			errs["description"] = e
		}
	}
	return errs
}

func (j *Jira) create(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		Fields jiraFieldsIn `json:"fields"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		jiraError(w, 400, []string{"Unexpected character in request body: " + err.Error()}, nil)
		return
	}
	if errs := j.check(in.Fields, true); len(errs) > 0 {
		jiraError(w, 400, nil, errs)
		return
	}
	j.mu.Lock()
	now := j.opts.Clock.now()
	j.nextIssue++
	id := strconv.Itoa(j.nextIssue - 1)
	n := 1
	for _, is := range j.issues {
		if is.Project == in.Fields.Project.Key {
			n++
		}
	}
	is := &JiraIssue{ID: id, Key: fmt.Sprintf("%s-%d", in.Fields.Project.Key, n), Project: in.Fields.Project.Key,
		IssueType: in.Fields.IssueType.Name, Summary: *in.Fields.Summary, Labels: slices.Clone(in.Fields.Labels),
		Status: "To Do", Created: now, Updated: now}
	if len(in.Fields.Description) > 0 && string(in.Fields.Description) != "null" {
		is.Description = slices.Clone(in.Fields.Description)
	}
	if in.Fields.Priority != nil {
		is.Priority = in.Fields.Priority.Name
	} else {
		is.Priority = "Medium"
	}
	if in.Fields.Assignee != nil {
		is.Assignee = in.Fields.Assignee.AccountID
	}
	j.issues = append(j.issues, is)
	lost := j.lostCreates > 0
	if lost {
		j.lostCreates--
	}
	j.mu.Unlock()
	if lost {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusGatewayTimeout)
		_, _ = w.Write([]byte("<html><body>504 Gateway Time-out</body></html>"))
		return
	}
	writeJSON(w, 201, map[string]any{"id": is.ID, "key": is.Key, "self": jiraSelf(r, "/rest/api/3/issue/"+is.ID)})
}

func jiraSelf(r *http.Request, path string) string { return "http://" + r.Host + path }

func (j *Jira) update(w http.ResponseWriter, key string, body []byte) {
	var in struct {
		Fields jiraFieldsIn `json:"fields"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		jiraError(w, 400, []string{"Unexpected character in request body: " + err.Error()}, nil)
		return
	}
	if errs := j.check(in.Fields, false); len(errs) > 0 {
		jiraError(w, 400, nil, errs)
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	is := j.find(key)
	if is == nil {
		jiraError(w, 404, []string{"Issue does not exist or you do not have permission to see it."}, nil)
		return
	}
	f := in.Fields
	if f.Summary != nil {
		is.Summary = *f.Summary
	}
	if len(f.Description) > 0 {
		is.Description = slices.Clone(f.Description)
	}
	if f.Labels != nil {
		is.Labels = slices.Clone(f.Labels)
	}
	if f.Priority != nil {
		is.Priority = f.Priority.Name
	}
	if f.Assignee != nil {
		is.Assignee = f.Assignee.AccountID
	}
	is.Updated = j.opts.Clock.now()
	w.WriteHeader(http.StatusNoContent)
}

// issueJSON renders an issue with only the requested fields (none: just
// id/key/self, as /search/jql does by default). Caller holds j.mu.
func (j *Jira) issueJSON(r *http.Request, is *JiraIssue, fields []string) map[string]any {
	all := slices.Contains(fields, "*all") || slices.Contains(fields, "*navigable")
	want := func(f string) bool { return all || slices.Contains(fields, f) }
	fs := map[string]any{}
	if want("summary") {
		fs["summary"] = is.Summary
	}
	if want("labels") {
		fs["labels"] = append([]string{}, is.Labels...)
	}
	if want("priority") {
		fs["priority"] = map[string]any{"name": is.Priority, "id": strconv.Itoa(1 + max(0, slices.Index(j.opts.Priorities, is.Priority)))}
	}
	if want("status") {
		fs["status"] = jiraStatusJSON(is.Status)
	}
	if want("created") {
		fs["created"] = j.fmtTime(is.Created)
	}
	if want("updated") {
		fs["updated"] = j.fmtTime(is.Updated)
	}
	if want("issuetype") {
		fs["issuetype"] = map[string]any{"name": is.IssueType}
	}
	if want("project") {
		fs["project"] = map[string]any{"key": is.Project}
	}
	if want("description") {
		if is.Description != nil {
			fs["description"] = is.Description
		} else {
			fs["description"] = nil
		}
	}
	if want("assignee") {
		if is.Assignee != "" {
			fs["assignee"] = map[string]any{"accountId": is.Assignee}
		} else {
			fs["assignee"] = nil
		}
	}
	out := map[string]any{"id": is.ID, "key": is.Key, "self": jiraSelf(r, "/rest/api/3/issue/"+is.ID)}
	if len(fs) > 0 {
		out["fields"] = fs
	}
	return out
}

func jiraSplitFields(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (j *Jira) get(w http.ResponseWriter, r *http.Request, key string) {
	fields := []string{"*all"}
	if q := r.URL.Query().Get("fields"); q != "" {
		fields = jiraSplitFields(q)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	is := j.find(key)
	if is == nil {
		jiraError(w, 404, []string{"Issue does not exist or you do not have permission to see it."}, nil)
		return
	}
	writeJSON(w, 200, j.issueJSON(r, is, fields))
}

// jiraClause is one "field op value" of the supported JQL subset.
type jiraClause struct {
	field, op string
	values    []string
	at        time.Time // for updated/created comparisons
}

// jiraJQLTime parses a JQL date-time ("2026/12/01 09:30", "2026-12-01
// 09:30" or a date, in the site's zone as Jira does) or a relative one
// ("-5m", "-2h", "-1d", "-1w": that long before the fake's now).
func (j *Jira) jiraJQLTime(v string) (time.Time, error) {
	if len(v) > 2 && (v[0] == '-' || v[0] == '+') {
		if n, err := strconv.Atoi(v[1 : len(v)-1]); err == nil && n >= 0 {
			unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[v[len(v)-1]]
			if unit != 0 {
				d := time.Duration(n) * unit
				if v[0] == '-' {
					d = -d
				}
				return j.opts.Clock.now().Add(d), nil
			}
		}
	}
	for _, layout := range []string{"2006/01/02 15:04", "2006-01-02 15:04", "2006/01/02", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, j.opts.Location); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date value '%s' for field 'updated' is invalid: valid formats include 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd'", v)
}

// jiraParseJQL parses `clause (AND clause)* [ORDER BY field [ASC|DESC]]`
// where clause is `field (=|!=) value` or `field in (v, ...)`, field one
// of project, labels, status, key, statusCategory, or `updated|created
// (>=|>|<=|<) "date"`. Values are bare words or "quoted" with backslash
// escapes.
func (j *Jira) jiraParseJQL(q string) ([]jiraClause, bool, error) {
	toks, err := jiraLex(q)
	if err != nil {
		return nil, false, err
	}
	var cls []jiraClause
	desc := false
	i := 0
	peek := func() string {
		if i < len(toks) {
			return toks[i]
		}
		return ""
	}
	for i < len(toks) {
		if strings.EqualFold(peek(), "ORDER") {
			if i+2 >= len(toks) || !strings.EqualFold(toks[i+1], "BY") {
				return nil, false, fmt.Errorf("expecting 'BY' after 'ORDER'")
			}
			if f := strings.ToLower(toks[i+2]); f != "key" && f != "created" {
				return nil, false, fmt.Errorf("ordering by %q is not supported", toks[i+2])
			}
			i += 3
			if i < len(toks) {
				switch strings.ToUpper(toks[i]) {
				case "ASC":
				case "DESC":
					desc = true
				default:
					return nil, false, fmt.Errorf("unexpected %q after ORDER BY", toks[i])
				}
				i++
			}
			if i != len(toks) {
				return nil, false, fmt.Errorf("unexpected %q at the end of the query", toks[i])
			}
			break
		}
		if len(cls) > 0 {
			if !strings.EqualFold(peek(), "AND") {
				return nil, false, fmt.Errorf("expecting 'AND' but got %q", peek())
			}
			i++
		}
		if i+2 >= len(toks) {
			return nil, false, fmt.Errorf("incomplete clause at the end of the query")
		}
		c := jiraClause{field: strings.ToLower(toks[i]), op: strings.ToLower(toks[i+1])}
		switch c.field {
		case "project", "labels", "status", "key", "statuscategory":
		case "updated", "created":
			if c.op != ">=" && c.op != ">" && c.op != "<=" && c.op != "<" {
				return nil, false, fmt.Errorf("operator %q is not supported for field '%s'", c.op, c.field)
			}
			t, err := j.jiraJQLTime(toks[i+2])
			if err != nil {
				return nil, false, err
			}
			c.at = t
			cls = append(cls, c)
			i += 3
			continue
		default:
			return nil, false, fmt.Errorf("field '%s' does not exist or you do not have permission to view it", toks[i])
		}
		i += 2
		switch c.op {
		case "=", "!=":
			c.values = []string{toks[i]}
			i++
		case "in":
			if peek() != "(" {
				return nil, false, fmt.Errorf("expecting '(' after 'in'")
			}
			i++
			for {
				if i >= len(toks) {
					return nil, false, fmt.Errorf("unterminated list")
				}
				c.values = append(c.values, toks[i])
				i++
				if peek() == "," {
					i++
					continue
				}
				if peek() == ")" {
					i++
					break
				}
				return nil, false, fmt.Errorf("expecting ',' or ')' in list")
			}
		default:
			return nil, false, fmt.Errorf("operator %q is not supported", c.op)
		}
		cls = append(cls, c)
	}
	if len(cls) == 0 {
		return nil, false, fmt.Errorf("unbounded JQL queries are not allowed; add a restriction such as project = KEY")
	}
	return cls, desc, nil
}

func jiraLex(q string) ([]string, error) {
	var toks []string
	rs := []rune(q)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case (c == '>' || c == '<') && i+1 < len(rs) && rs[i+1] == '=':
			toks = append(toks, string(c)+"=")
			i += 2
		case c == '(' || c == ')' || c == ',' || c == '=' || c == '>' || c == '<':
			toks = append(toks, string(c))
			i++
		case c == '!' && i+1 < len(rs) && rs[i+1] == '=':
			toks = append(toks, "!=")
			i += 2
		case c == '"' || c == '\'':
			var b strings.Builder
			i++
			for ; i < len(rs) && rs[i] != c; i++ {
				if rs[i] == '\\' && i+1 < len(rs) {
					i++
				}
				b.WriteRune(rs[i])
			}
			if i >= len(rs) {
				return nil, fmt.Errorf("unterminated string")
			}
			i++
			toks = append(toks, b.String())
		default:
			start := i
			for i < len(rs) && !unicode.IsSpace(rs[i]) && !strings.ContainsRune("()=,!<>\"'", rs[i]) {
				i++
			}
			if i == start {
				return nil, fmt.Errorf("unexpected character %q", c)
			}
			toks = append(toks, string(rs[start:i]))
		}
	}
	return toks, nil
}

func (c jiraClause) match(is *JiraIssue) bool {
	if c.field == "updated" || c.field == "created" {
		t := is.Updated
		if c.field == "created" {
			t = is.Created
		}
		// JQL compares at minute precision.
		t = t.Truncate(time.Minute)
		switch c.op {
		case ">=":
			return !t.Before(c.at)
		case ">":
			return t.After(c.at)
		case "<=":
			return !t.After(c.at)
		}
		return t.Before(c.at)
	}
	var have []string
	switch c.field {
	case "project":
		have = []string{is.Project}
	case "labels":
		have = is.Labels
	case "status":
		have = []string{is.Status}
	case "key":
		have = []string{is.Key}
	case "statuscategory":
		have = []string{jiraStatusCategory(is.Status)}
	}
	hit := false
	for _, v := range c.values {
		for _, h := range have {
			// Jira compares labels exactly and the rest case-insensitively.
			if (c.field == "labels" && h == v) || (c.field != "labels" && strings.EqualFold(h, v)) {
				hit = true
			}
		}
	}
	if c.op == "!=" {
		return !hit
	}
	return hit
}

func (j *Jira) search(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		JQL           string   `json:"jql"`
		Fields        []string `json:"fields"`
		MaxResults    int      `json:"maxResults"`
		NextPageToken string   `json:"nextPageToken"`
	}
	if r.Method == http.MethodPost {
		if err := json.Unmarshal(body, &in); err != nil {
			jiraError(w, 400, []string{"Invalid request payload: " + err.Error()}, nil)
			return
		}
	} else {
		q := r.URL.Query()
		in.JQL, in.NextPageToken = q.Get("jql"), q.Get("nextPageToken")
		in.Fields = jiraSplitFields(q.Get("fields"))
		in.MaxResults, _ = strconv.Atoi(q.Get("maxResults"))
	}
	cls, desc, err := j.jiraParseJQL(in.JQL)
	if err != nil {
		jiraError(w, 400, []string{"Error in the JQL Query: " + err.Error()}, nil)
		return
	}
	// Real Jira refuses a JQL naming a project that does not exist (or
	// that the caller cannot see) rather than returning no issues.
	for _, c := range cls {
		if c.field != "project" || c.op == "!=" {
			continue
		}
		for _, v := range c.values {
			if !slices.ContainsFunc(j.opts.Projects, func(p string) bool { return strings.EqualFold(p, v) }) {
				jiraError(w, 400, []string{fmt.Sprintf("The value '%s' does not exist for the field 'project'.", v)}, nil)
				return
			}
		}
	}
	start := 0
	if in.NextPageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextPageToken)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "o:") || n < 0 {
			jiraError(w, 400, []string{"The provided next page token is invalid or expired."}, nil)
			return
		}
		start = n
	}
	size := in.MaxResults
	if size <= 0 || size > j.opts.SearchPage {
		size = j.opts.SearchPage
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	var hits []*JiraIssue
	for _, is := range j.issues {
		ok := true
		for _, c := range cls {
			ok = ok && c.match(is)
		}
		if ok {
			hits = append(hits, is)
		}
	}
	if desc {
		slices.Reverse(hits)
	}
	out := map[string]any{}
	page := []any{}
	end := min(start+size, len(hits))
	for _, is := range hits[min(start, len(hits)):end] {
		page = append(page, j.issueJSON(r, is, in.Fields))
	}
	out["issues"] = page
	if end < len(hits) {
		out["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
		out["isLast"] = false
	} else {
		out["isLast"] = true
	}
	writeJSON(w, 200, out)
}

// commentJSON renders a comment. Caller holds j.mu.
func (j *Jira) commentJSON(r *http.Request, is *JiraIssue, c JiraComment) map[string]any {
	author := func(email string) map[string]any {
		a := map[string]any{"accountId": JiraAccountID(email), "displayName": j.displayName(email), "active": true, "accountType": "atlassian", "timeZone": j.opts.Location.String()}
		if !j.hidden[strings.ToLower(email)] {
			a["emailAddress"] = email
		}
		return a
	}
	return map[string]any{"id": c.ID, "self": jiraSelf(r, "/rest/api/3/issue/"+is.ID+"/comment/"+c.ID),
		"author": author(c.AuthorEmail), "updateAuthor": author(c.UpdateAuthor), "body": c.Body,
		"created": j.fmtTime(c.Created), "updated": j.fmtTime(c.Updated), "jsdPublic": true}
}

func (j *Jira) listComments(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	if ob := q.Get("orderBy"); ob != "" && ob != "created" && ob != "+created" && ob != "-created" {
		jiraError(w, 400, []string{"orderBy must be 'created'"}, nil)
		return
	}
	start, _ := strconv.Atoi(q.Get("startAt"))
	size, err := strconv.Atoi(q.Get("maxResults"))
	if err != nil || size <= 0 || size > j.opts.CommentPage {
		size = j.opts.CommentPage
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	is := j.find(key)
	if is == nil {
		jiraError(w, 404, []string{"Issue does not exist or you do not have permission to see it."}, nil)
		return
	}
	cs := slices.Clone(is.Comments)
	slices.SortStableFunc(cs, func(a, b JiraComment) int { return a.Created.Compare(b.Created) })
	if q.Get("orderBy") == "-created" {
		slices.Reverse(cs)
	}
	start = max(0, min(start, len(cs)))
	end := min(start+size, len(cs))
	page := []any{}
	for _, c := range cs[start:end] {
		page = append(page, j.commentJSON(r, is, c))
	}
	writeJSON(w, 200, map[string]any{"startAt": start, "maxResults": size, "total": len(cs), "comments": page})
}

func (j *Jira) postComment(w http.ResponseWriter, r *http.Request, key string, body []byte) {
	var in struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		jiraError(w, 400, []string{"Invalid request payload: " + err.Error()}, nil)
		return
	}
	if e := jiraValidADF(in.Body); e != "" {
		jiraError(w, 400, nil, map[string]string{"comment": "Comment body is not valid! " + e})
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	is := j.find(key)
	if is == nil {
		jiraError(w, 404, []string{"Issue does not exist or you do not have permission to see it."}, nil)
		return
	}
	author := j.opts.Email
	if who, ok := r.Context().Value(jiraActorKey{}).(string); ok {
		author = who
	}
	c := j.newComment(author, j.displayName(author), slices.Clone(in.Body), j.opts.Clock.now())
	is.Comments = append(is.Comments, c)
	is.Updated = c.Created
	writeJSON(w, 201, j.commentJSON(r, is, c))
}

func (j *Jira) transitions(w http.ResponseWriter, key string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	is := j.find(key)
	if is == nil {
		jiraError(w, 404, []string{"Issue does not exist or you do not have permission to see it."}, nil)
		return
	}
	ts := []any{}
	for _, s := range jiraStatuses {
		if s.name == is.Status {
			continue
		}
		ts = append(ts, map[string]any{"id": s.id, "name": s.name, "hasScreen": false, "isGlobal": true, "isAvailable": true,
			"to": jiraStatusJSON(s.name)})
	}
	writeJSON(w, 200, map[string]any{"expand": "transitions", "transitions": ts})
}

func (j *Jira) transition(w http.ResponseWriter, key string, body []byte) {
	var in struct {
		Transition struct {
			ID string `json:"id"`
		} `json:"transition"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		jiraError(w, 400, []string{"Invalid request payload: " + err.Error()}, nil)
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	is := j.find(key)
	if is == nil {
		jiraError(w, 404, []string{"Issue does not exist or you do not have permission to see it."}, nil)
		return
	}
	for _, s := range jiraStatuses {
		if s.id == in.Transition.ID && s.name != is.Status {
			is.Status = s.name
			is.Updated = j.opts.Clock.now()
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	jiraError(w, 400, []string{"Transition id '" + in.Transition.ID + "' is not valid for this issue."}, nil)
}

// userSearch answers GET /rest/api/3/user/search?query=: the users whose
// email or display name contains the query (case-insensitive), with the
// email hidden where HideEmail says so, as Jira's privacy settings do.
func (j *Jira) userSearch(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("query")))
	if q == "" {
		jiraError(w, http.StatusBadRequest, []string{"The query parameter 'query' is required."}, nil)
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	users := j.opts.Users
	if users == nil {
		users = map[string]string{}
		if at := strings.Index(q, "@"); at > 0 && at < len(q)-1 && !strings.ContainsAny(q, " ,;") {
			users[q] = q
		}
	}
	emails := make([]string, 0, len(users))
	for e := range users {
		emails = append(emails, e)
	}
	slices.Sort(emails)
	out := []map[string]any{}
	for _, e := range emails {
		name := users[e]
		if !strings.Contains(strings.ToLower(e), q) && !strings.Contains(strings.ToLower(name), q) {
			continue
		}
		u := map[string]any{"accountId": JiraAccountID(e), "accountType": "atlassian", "displayName": name, "active": true}
		if !j.hidden[strings.ToLower(e)] {
			u["emailAddress"] = e
		}
		out = append(out, u)
	}
	writeJSON(w, http.StatusOK, out)
}
