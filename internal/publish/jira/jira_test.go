package jira_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/sandbox"
)

const (
	testEmail = "svc-uar@acme.com"
	testToken = "tok-SECRET-4242"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 123e6, time.UTC)

// sleeps records the waits the client asked for instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return nil
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}

type env struct {
	fake   *sandbox.Jira
	srv    *httptest.Server
	client *jira.Client
	sl     *sleeps
	cfg    jira.Config
}

func newEnv(t *testing.T, o sandbox.JiraOptions, mutate ...func(*jira.Config)) *env {
	t.Helper()
	o.Email, o.Token = testEmail, testToken
	if o.Clock == nil {
		o.Clock = func() time.Time { return t0 }
	}
	fake := sandbox.NewJira(o)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := jira.Config{BaseURL: srv.URL, Email: testEmail, Token: testToken, Project: "UAR", IssueType: "Task"}
	for _, m := range mutate {
		m(&cfg)
	}
	sl := &sleeps{}
	c := jira.New(cfg, srv.Client(), jira.WithSleep(sl.sleep))
	return &env{fake: fake, srv: srv, client: c, sl: sl, cfg: cfg}
}

func fields(summary string, labels ...string) jira.IssueFields {
	return jira.IssueFields{
		Summary:     summary,
		Description: jira.Doc(jira.Heading(2, jira.Text("Risk summary")), jira.Paragraph(jira.Text("3 high-risk grants"))).Raw(),
		Labels:      append([]string{"uar"}, labels...),
	}
}

func TestConfigValidate(t *testing.T) {
	ok := jira.Config{BaseURL: "https://acme.atlassian.net", Email: "a@b.c", Token: "secret-xyz", Project: "UAR"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	loop := ok
	loop.BaseURL = "http://127.0.0.1:9999"
	if err := loop.Validate(); err != nil {
		t.Fatalf("loopback http should pass: %v", err)
	}
	for name, tc := range map[string]struct {
		mut  func(*jira.Config)
		want string
	}{
		"plain http":  {func(c *jira.Config) { c.BaseURL = "http://acme.atlassian.net" }, "jira.base_url"},
		"no base":     {func(c *jira.Config) { c.BaseURL = "" }, "jira.base_url"},
		"no email":    {func(c *jira.Config) { c.Email = "" }, "jira.email"},
		"bad email":   {func(c *jira.Config) { c.Email = "nobody" }, "jira.email"},
		"no token":    {func(c *jira.Config) { c.Token = "" }, "UAR_JIRA_TOKEN"},
		"no project":  {func(c *jira.Config) { c.Project = "" }, "jira.project"},
		"bad project": {func(c *jira.Config) { c.Project = "U A R" }, "jira.project"},
	} {
		c := ok
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-xyz") {
			t.Errorf("%s: token leaked: %v", name, err)
		}
	}
}

func TestMyself(t *testing.T) {
	e := newEnv(t, sandbox.JiraOptions{DisplayName: "UAR Bot"})
	u, err := e.client.Myself(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u.AccountID != sandbox.JiraAccountID(testEmail) || u.EmailAddress != testEmail || u.DisplayName != "UAR Bot" {
		t.Fatalf("myself = %+v", u)
	}
}

func TestBadTokenIsAuthAndDoesNotLeak(t *testing.T) {
	e := newEnv(t, sandbox.JiraOptions{}, func(c *jira.Config) { c.Token = "wrong-token-987" })
	_, err := e.client.Myself(context.Background())
	if err == nil {
		t.Fatal("want an error")
	}
	if !httpx.IsAuth(err) {
		t.Fatalf("want IsAuth, got %T %v", err, err)
	}
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != 401 || se.Service != "jira" {
		t.Fatalf("want a jira 401 StatusError, got %#v", err)
	}
	if !strings.Contains(se.Hint, "UAR_JIRA_TOKEN") || !strings.Contains(se.Hint, "jira.email") {
		t.Errorf("hint %q should name jira.email and UAR_JIRA_TOKEN", se.Hint)
	}
	for _, s := range []string{err.Error(), se.Hint, se.Message, se.URL} {
		if strings.Contains(s, "wrong-token-987") || strings.Contains(s, testToken) {
			t.Fatalf("token in error: %q", s)
		}
	}
	if !strings.Contains(se.Message, "authenticated") {
		t.Errorf("plain-text 401 body should be the message, got %q", se.Message)
	}
}

func TestCreateReadBackAndPlusZeroDates(t *testing.T) {
	// The fake writes dates in +0200 to prove the client normalises to UTC.
	e := newEnv(t, sandbox.JiraOptions{Location: time.FixedZone("CEST", 2*3600)})
	f := fields("UAR 2026-Q4: NetSuite access review", "uar-2026-Q4-netsuite")
	f.Priority = "Highest"
	iss, err := e.client.CreateIssue(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if iss.Key != "UAR-1" || iss.ID == "" || iss.Summary != f.Summary || iss.Priority != "Highest" || iss.Status != "To Do" || iss.StatusCategory != "new" {
		t.Fatalf("issue = %+v", iss)
	}
	if !iss.Created.Equal(t0) || iss.Created.Location() != time.UTC {
		t.Fatalf("created = %v, want %v UTC", iss.Created, t0)
	}
	if iss.CreatedRaw != "2026-11-24T12:00:00.123+0200" {
		t.Fatalf("raw created = %q", iss.CreatedRaw)
	}
	if !slices.Equal(iss.Labels, []string{"uar", "uar-2026-Q4-netsuite"}) {
		t.Fatalf("labels = %v", iss.Labels)
	}
	is := e.fake.Issues()
	if len(is) != 1 || is[0].IssueType != "Task" || is[0].Project != "UAR" {
		t.Fatalf("fake issues = %+v", is)
	}
	iss2, err := e.client.CreateIssue(context.Background(), fields("second"))
	if err != nil || iss2.Key != "UAR-2" {
		t.Fatalf("second create = %+v, %v", iss2, err)
	}
}

func TestCreateRejectsUnknownSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*jira.Config)
		prio string
		want string
	}{
		{"project", func(c *jira.Config) { c.Project = "NOPE" }, "", "jira.project"},
		{"issue type", func(c *jira.Config) { c.IssueType = "Epicish" }, "", "jira.issue_type"},
		{"priority", nil, "Hightest", `priority "Hightest"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var muts []func(*jira.Config)
			if tc.mut != nil {
				muts = append(muts, tc.mut)
			}
			e := newEnv(t, sandbox.JiraOptions{}, muts...)
			f := fields("s")
			f.Priority = tc.prio
			_, err := e.client.CreateIssue(context.Background(), f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
			var se *httpx.StatusError
			if !errors.As(err, &se) || se.Status != 400 || !strings.Contains(se.Hint, tc.want) {
				t.Fatalf("want a 400 StatusError with a hint naming %s, got %#v", tc.want, se)
			}
			if httpx.IsAuth(err) || len(e.fake.Issues()) != 0 {
				t.Fatal("nothing must be created and it is not an auth error")
			}
		})
	}
}

func TestCreateIssueChecksFieldsLocally(t *testing.T) {
	e := newEnv(t, sandbox.JiraOptions{})
	for _, f := range []jira.IssueFields{
		{Summary: ""},
		{Summary: strings.Repeat("x", 256)},
		{Summary: "s", Labels: []string{"has space"}},
		{Summary: "s", Description: []byte("{not json")},
	} {
		if _, err := e.client.CreateIssue(context.Background(), f); err == nil {
			t.Errorf("CreateIssue(%.40q...) should fail", f.Summary)
		}
	}
	if n := e.fake.Log().Count("POST", "/rest/api/3/issue"); n != 0 {
		t.Fatalf("bad fields reached Jira %d times", n)
	}
}

func TestCreateIssueOnceNeverDuplicates(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.JiraOptions{})
	f := fields("UAR 2026-Q4: Workday access review")
	iss, created, err := e.client.CreateIssueOnce(ctx, f, "uar-2026-Q4-workday")
	if err != nil || !created || iss.Key != "UAR-1" {
		t.Fatalf("first = %+v %v %v", iss, created, err)
	}
	again, created, err := e.client.CreateIssueOnce(ctx, f, "uar-2026-Q4-workday")
	if err != nil || created || again.Key != "UAR-1" {
		t.Fatalf("re-run = %+v %v %v", again, created, err)
	}
	if n := e.fake.Log().Count("POST", "/rest/api/3/issue"); n != 1 {
		t.Fatalf("%d creates, want 1", n)
	}

	// The create commits but the answer is lost (504): the client must find
	// the issue instead of creating a second one.
	e.fake.LoseCreateResponses(1)
	iss, _, err = e.client.CreateIssueOnce(ctx, fields("UAR 2026-Q4: NetSuite access review"), "uar-2026-Q4-netsuite")
	if err != nil || iss.Key != "UAR-2" {
		t.Fatalf("after lost response = %+v %v", iss, err)
	}
	if n := len(e.fake.Issues()); n != 2 {
		t.Fatalf("%d issues, want 2 (no duplicate)", n)
	}
	if n := e.fake.Log().Count("POST", "/rest/api/3/issue"); n != 2 {
		t.Fatalf("%d creates, want 2", n)
	}

	// A 500 before anything was written: looked up, absent, created once.
	e.fake.Inject5xx(1, 500)
	iss, created, err = e.client.CreateIssueOnce(ctx, fields("UAR 2026-Q4: Salesforce access review"), "uar-2026-Q4-sfdc")
	if err != nil || !created || iss.Key != "UAR-3" || len(e.fake.Issues()) != 3 {
		t.Fatalf("after 500 = %+v %v %v (issues %d)", iss, created, err, len(e.fake.Issues()))
	}
}

func TestPlainCreateIsNotRetriedOn5xx(t *testing.T) {
	e := newEnv(t, sandbox.JiraOptions{})
	e.fake.LoseCreateResponses(1)
	_, err := e.client.CreateIssue(context.Background(), fields("s"))
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != 504 {
		t.Fatalf("want the 504, got %v", err)
	}
	if n := e.fake.Log().Count("POST", "/rest/api/3/issue"); n != 1 {
		t.Fatalf("POST sent %d times, want 1", n)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	e := newEnv(t, sandbox.JiraOptions{})
	e.fake.Inject429(2, "7")
	if _, err := e.client.Myself(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.sl.all(); !slices.Equal(got, []time.Duration{7 * time.Second, 7 * time.Second}) {
		t.Fatalf("sleeps = %v, want [7s 7s]", got)
	}
	// A 429 on a create is safe to repeat: Jira did not process it.
	e.fake.Inject429(1, "3")
	if _, err := e.client.CreateIssue(context.Background(), fields("s")); err != nil {
		t.Fatal(err)
	}
	if len(e.fake.Issues()) != 1 {
		t.Fatal("want one issue")
	}
}

func TestRateLimitGivesUp(t *testing.T) {
	e := newEnv(t, sandbox.JiraOptions{})
	e.fake.Inject429(100, "2")
	_, err := e.client.GetIssue(context.Background(), "UAR-1")
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != 429 || !strings.Contains(se.Hint, "rate") {
		t.Fatalf("want a 429 with a hint, got %v", err)
	}
	if n := len(e.fake.Requests()); n != 5 {
		t.Fatalf("%d requests, want 1 + 4 retries", n)
	}
	if got := e.sl.all(); len(got) != 4 || got[0] != 2*time.Second {
		t.Fatalf("sleeps = %v", got)
	}
}

func TestIdempotentGetRetried5xx(t *testing.T) {
	e := newEnv(t, sandbox.JiraOptions{})
	if _, err := e.client.CreateIssue(context.Background(), fields("s")); err != nil {
		t.Fatal(err)
	}
	e.fake.Inject5xx(2, 502)
	iss, err := e.client.GetIssue(context.Background(), "UAR-1")
	if err != nil || iss.Key != "UAR-1" {
		t.Fatalf("%+v %v", iss, err)
	}
	if got := e.sl.all(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("backoff = %v", got)
	}
	_, err = e.client.GetIssue(context.Background(), "UAR-99")
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != 404 || !strings.Contains(se.Message, "does not exist") {
		t.Fatalf("missing issue: %v", err)
	}
}

func TestUpdateIssue(t *testing.T) {
	ctx := context.Background()
	clock := t0
	e := newEnv(t, sandbox.JiraOptions{Clock: func() time.Time { return clock }})
	iss, err := e.client.CreateIssue(ctx, fields("old"))
	if err != nil {
		t.Fatal(err)
	}
	clock = t0.Add(time.Hour)
	f := fields("new summary")
	f.Priority = "High"
	if err := e.client.UpdateIssue(ctx, iss.Key, f); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.GetIssue(ctx, iss.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Summary != "new summary" || got.Priority != "High" || !got.Updated.Equal(clock) || !got.Created.Equal(t0) {
		t.Fatalf("after update %+v", got)
	}
	f.Priority = "Urgent!"
	if err := e.client.UpdateIssue(ctx, iss.Key, f); err == nil || !strings.Contains(err.Error(), `priority "Urgent!"`) {
		t.Fatalf("bad priority: %v", err)
	}
}

func TestSearchJQLPaging(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.JiraOptions{SearchPage: 2, Projects: []string{"UAR", "OPS"}})
	for i := range 5 {
		if _, err := e.client.CreateIssue(ctx, fields("s", "batch")); err != nil {
			t.Fatal(i, err)
		}
	}
	other := jira.New(jira.Config{BaseURL: e.srv.URL, Email: testEmail, Token: testToken, Project: "OPS"}, e.srv.Client())
	if _, err := other.CreateIssue(ctx, fields("ops", "batch")); err != nil {
		t.Fatal(err)
	}
	e.fake.Log().Reset()
	got, err := e.client.SearchJQL(ctx, `project = "UAR" AND labels = "batch" ORDER BY key ASC`, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, is := range got {
		keys = append(keys, is.Key)
		if !is.Created.Equal(t0) || is.Summary != "s" {
			t.Fatalf("fields not returned: %+v", is)
		}
	}
	if !slices.Equal(keys, []string{"UAR-1", "UAR-2", "UAR-3", "UAR-4", "UAR-5"}) {
		t.Fatalf("keys = %v", keys)
	}
	if n := e.fake.Log().Count("POST", "/rest/api/3/search/jql"); n != 3 {
		t.Fatalf("%d pages, want 3", n)
	}
	found, err := e.client.FindByLabels(ctx, "OPS", []string{"batch"})
	if err != nil || len(found) != 1 || found[0].Key != "OPS-1" {
		t.Fatalf("FindByLabels = %+v %v", found, err)
	}
	_, err = e.client.SearchJQL(ctx, `assignee was currentUser()`, nil)
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != 400 || !strings.Contains(se.Message, "JQL") {
		t.Fatalf("bad JQL: %v", err)
	}
}

func TestOldSearchIsGone(t *testing.T) {
	e := newEnv(t, sandbox.JiraOptions{})
	req, _ := http.NewRequest("GET", e.srv.URL+"/rest/api/3/search?jql=project%3DUAR", nil)
	req.SetBasicAuth(testEmail, testToken)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("status %d, want 410", resp.StatusCode)
	}
}

func TestCommentsPagingAndFlattening(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.JiraOptions{CommentPage: 2})
	iss, err := e.client.CreateIssue(ctx, fields("s"))
	if err != nil {
		t.Fatal(err)
	}
	owner := "nina.patel@acme.com"
	e.fake.HideEmail("cfo@acme.com", true)
	mk := func(author, body string, c, u time.Time) string {
		id, err := e.fake.AddComment(iss.Key, author, body, c, u)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// Added out of order on purpose: the list is ordered by created.
	mk(owner, "CERTIFY: all", t0.Add(3*time.Hour), time.Time{})
	mk(owner, "REVOKE: ivan.petrov@acme.com\nREVOKE: dave.kim@acme.com from SOX-NetSuite-Admins", t0.Add(time.Hour), t0.Add(2*time.Hour))
	adf := `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[` +
		`{"type":"text","text":"REVOKE: "},{"type":"text","text":"eve@acme.com","marks":[{"type":"link","attrs":{"href":"mailto:eve@acme.com"}}]},` +
		`{"type":"hardBreak"},{"type":"mention","attrs":{"id":"abc","text":"@Nina Patel"}},{"type":"text","text":" thanks "},` +
		`{"type":"emoji","attrs":{"shortName":":thumbsup:","text":"👍"}}]},` +
		`{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"CERTIFY: a@acme.com"}]}]}]}]}`
	mk("cfo@acme.com", adf, t0.Add(4*time.Hour), time.Time{})
	mk(owner, "fourth", t0.Add(5*time.Hour), time.Time{})
	mk(owner, "fifth", t0.Add(6*time.Hour), time.Time{})

	cs, err := e.client.ListComments(ctx, iss.Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 5 {
		t.Fatalf("%d comments, want 5", len(cs))
	}
	if n := e.fake.Log().Count("GET", "/rest/api/3/issue/UAR-1/comment"); n != 3 {
		t.Fatalf("%d comment pages, want 3", n)
	}
	c0 := cs[0]
	if c0.Text != "REVOKE: ivan.petrov@acme.com\nREVOKE: dave.kim@acme.com from SOX-NetSuite-Admins" {
		t.Fatalf("text = %q", c0.Text)
	}
	if !c0.Created.Equal(t0.Add(time.Hour)) || !c0.Edited() || c0.Author.EmailAddress != owner || c0.Author.AccountID != sandbox.JiraAccountID(owner) {
		t.Fatalf("comment 0 = %+v", c0)
	}
	if cs[1].Text != "CERTIFY: all" || cs[1].Edited() {
		t.Fatalf("comment 1 = %+v", cs[1])
	}
	c2 := cs[2]
	if want := "REVOKE: eve@acme.com\n@Nina Patel thanks :thumbsup:\nCERTIFY: a@acme.com"; c2.Text != want {
		t.Fatalf("flattened = %q, want %q", c2.Text, want)
	}
	if c2.Author.EmailAddress != "" || c2.Author.AccountID != sandbox.JiraAccountID("cfo@acme.com") {
		t.Fatalf("hidden email author = %+v", c2.Author)
	}
}

func TestAddCommentHostileRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.JiraOptions{})
	iss, err := e.client.CreateIssue(ctx, fields("s"))
	if err != nil {
		t.Fatal(err)
	}
	hostile := []string{
		`<script>alert("x")</script>`,
		`]]> & "quotes" 'single' \backslash`,
		`emoji 🎉 and ünïcödé`,
		`{"type":"doc","version":1,"content":[{"type":"text","text":"pwned"}]}`,
		`"}]}],"x":{"type":"mention`,
	}
	var ps []*jira.Node
	for _, h := range hostile {
		ps = append(ps, jira.Paragraph(jira.Strong(h)))
	}
	c, err := e.client.AddComment(ctx, iss.Key, jira.Doc(ps...).Raw())
	if err != nil {
		t.Fatal(err)
	}
	if c.Text != strings.Join(hostile, "\n") || !c.Created.Equal(t0) || c.Author.EmailAddress != testEmail {
		t.Fatalf("posted comment = %+v", c)
	}
	cs, err := e.client.ListComments(ctx, iss.Key)
	if err != nil || len(cs) != 1 || cs[0].Text != strings.Join(hostile, "\n") {
		t.Fatalf("read back = %+v %v", cs, err)
	}
	// A non-ADF body is refused locally and by Jira.
	if _, err := e.client.AddComment(ctx, iss.Key, []byte(`"plain string"`)); err == nil {
		t.Fatal("a string body must be refused")
	}
}

func TestTransitions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.JiraOptions{})
	iss, err := e.client.CreateIssue(ctx, fields("s"))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := e.client.Transitions(ctx, iss.Key)
	if err != nil || len(ts) != 2 {
		t.Fatalf("transitions = %+v %v", ts, err)
	}
	if err := e.client.DoTransition(ctx, iss.Key, "done"); err != nil {
		t.Fatal(err)
	}
	got, _ := e.client.GetIssue(ctx, iss.Key)
	if got.Status != "Done" || got.StatusCategory != "done" {
		t.Fatalf("after transition %+v", got)
	}
	if err := e.client.DoTransition(ctx, iss.Key, "Done"); err != nil {
		t.Fatalf("already done should be a no-op: %v", err)
	}
	err = e.client.DoTransition(ctx, iss.Key, "Shipped")
	if err == nil || !strings.Contains(err.Error(), "available: In Progress, To Do") {
		t.Fatalf("unknown status: %v", err)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2021-01-17T12:34:00.000+0000": time.Date(2021, 1, 17, 12, 34, 0, 0, time.UTC),
		"2021-01-17T14:34:00.250+0200": time.Date(2021, 1, 17, 12, 34, 0, 250e6, time.UTC),
		"2021-01-17T07:34:00.000-0500": time.Date(2021, 1, 17, 12, 34, 0, 0, time.UTC),
		"2021-01-17T12:34:00+0000":     time.Date(2021, 1, 17, 12, 34, 0, 0, time.UTC),
		"2021-01-17T12:34:00.000Z":     time.Date(2021, 1, 17, 12, 34, 0, 0, time.UTC),
		"2021-01-17T13:34:00+01:00":    time.Date(2021, 1, 17, 12, 34, 0, 0, time.UTC),
		"":                             {},
	} {
		got, err := jira.ParseTime(in)
		if err != nil || !got.Equal(want) || (in != "" && got.Location() != time.UTC) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := jira.ParseTime("17/01/2021"); err == nil {
		t.Error("garbage must fail")
	}
}

func TestFindByLabelsUnknownProjectNamesSetting(t *testing.T) {
	e := newEnv(t, sandbox.JiraOptions{}, func(c *jira.Config) { c.Project = "NOPE" })
	_, err := e.client.FindByLabels(context.Background(), "NOPE", []string{"uar"})
	if err == nil || !strings.Contains(err.Error(), `jira.project "NOPE" does not exist`) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Fatal("token in error")
	}
}

// Whatever client the caller passes, a redirect off jira.base_url's origin
// is refused before the credentials leave, and is not retried.
func TestRedirectOffOriginRefused(t *testing.T) {
	hits := 0
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		t.Errorf("attacker got Authorization %q", r.Header.Get("Authorization"))
	}))
	defer evil.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	c := jira.New(jira.Config{BaseURL: srv.URL, Email: testEmail, Token: testToken, Project: "UAR"}, &http.Client{}, jira.WithSleep((&sleeps{}).sleep))
	_, err := c.Myself(context.Background())
	var oe *httpx.OriginError
	if !errors.As(err, &oe) || oe.Service != "jira" || httpx.IsAuth(err) || strings.Contains(err.Error(), testToken) {
		t.Fatalf("err = %v, want an *httpx.OriginError", err)
	}
	if hits != 0 {
		t.Fatal("redirect followed")
	}
}
