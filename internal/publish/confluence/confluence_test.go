package confluence_test

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
	"github.com/uar-dev/uar/internal/publish/confluence"
	"github.com/uar-dev/uar/internal/sandbox"
)

const (
	testEmail = "svc-uar@acme.com"
	testToken = "conf-SECRET-777"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

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
	fake   *sandbox.Confluence
	srv    *httptest.Server
	client *confluence.Client
	sl     *sleeps
	clock  *time.Time
}

func newEnv(t *testing.T, o sandbox.ConfluenceOptions, token string) *env {
	t.Helper()
	clock := t0
	o.Email, o.Token = testEmail, testToken
	o.Clock = func() time.Time { return clock }
	fake := sandbox.NewConfluence(o)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	sl := &sleeps{}
	cfg := confluence.Config{BaseURL: srv.URL, Email: testEmail, Token: token, Space: "SOX"}
	return &env{fake: fake, srv: srv, sl: sl, clock: &clock,
		client: confluence.New(cfg, srv.Client(), confluence.WithSleep(sl.sleep))}
}

func (e *env) space(t *testing.T) string {
	t.Helper()
	id, err := e.client.SpaceID(context.Background(), "SOX")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

const page1 = `<ac:structured-macro ac:name="info" ac:schema-version="1"><ac:parameter ac:name="title">Audit metadata</ac:parameter>` +
	`<ac:rich-text-body><p><strong>Review:</strong> 2026-Q4 &amp; more&nbsp;</p></ac:rich-text-body></ac:structured-macro><h2>NetSuite</h2><br/>`

func TestConfigValidate(t *testing.T) {
	ok := confluence.Config{BaseURL: "https://acme.atlassian.net", Email: "a@b.c", Token: "sekrit-1", Space: "SOX", ParentPageID: "123"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		mut  func(*confluence.Config)
		want string
	}{
		"http":      {func(c *confluence.Config) { c.BaseURL = "http://acme.atlassian.net" }, "confluence.base_url"},
		"email":     {func(c *confluence.Config) { c.Email = "" }, "confluence.email"},
		"token":     {func(c *confluence.Config) { c.Token = "" }, "UAR_CONFLUENCE_TOKEN"},
		"space":     {func(c *confluence.Config) { c.Space = "" }, "confluence.space"},
		"bad space": {func(c *confluence.Config) { c.Space = "S O X" }, "confluence.space"},
		"parent":    {func(c *confluence.Config) { c.ParentPageID = "abc" }, "confluence.parent_page_id"},
	} {
		c := ok
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "sekrit-1") {
			t.Errorf("%s: got %v, want an error naming %s", name, err, tc.want)
		}
	}
}

func TestSpaceID(t *testing.T) {
	e := newEnv(t, sandbox.ConfluenceOptions{Spaces: []string{"ENG", "SOX"}}, testToken)
	if id := e.space(t); id != "65538" {
		t.Fatalf("space id = %s", id)
	}
	_, err := e.client.SpaceID(context.Background(), "NOPE")
	if err == nil || !strings.Contains(err.Error(), `confluence.space "NOPE"`) {
		t.Fatalf("unknown space: %v", err)
	}
}

func TestBadTokenIsAuth(t *testing.T) {
	e := newEnv(t, sandbox.ConfluenceOptions{}, "bad-token-555")
	_, err := e.client.SpaceID(context.Background(), "SOX")
	if !httpx.IsAuth(err) {
		t.Fatalf("want IsAuth, got %v", err)
	}
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Service != "confluence" || !strings.Contains(se.Hint, "UAR_CONFLUENCE_TOKEN") || !strings.Contains(se.Hint, "confluence.email") {
		t.Fatalf("hint: %#v", se)
	}
	for _, s := range []string{err.Error(), se.Hint, se.Message} {
		if strings.Contains(s, "bad-token-555") || strings.Contains(s, testToken) {
			t.Fatalf("token leaked: %q", s)
		}
	}
}

func TestCreateReadUpdateVersions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.ConfluenceOptions{VersionsPage: 2}, testToken)
	sid := e.space(t)
	if p, err := e.client.FindPage(ctx, sid, "UAR 2026-Q4"); err != nil || p != nil {
		t.Fatalf("FindPage before create = %v, %v", p, err)
	}
	p, err := e.client.CreatePage(ctx, sid, "", "UAR 2026-Q4", page1)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == "" || p.Version.Number != 1 || !p.Version.CreatedAt.Equal(t0) || !p.CreatedAt.Equal(t0) {
		t.Fatalf("created %+v", p)
	}
	if want := e.srv.URL + "/wiki/spaces/SOX/pages/" + p.ID + "/UAR+2026-Q4"; p.WebURL != want {
		t.Fatalf("web url %q, want %q", p.WebURL, want)
	}
	found, err := e.client.FindPage(ctx, sid, "UAR 2026-Q4")
	if err != nil || found == nil || found.ID != p.ID || found.WebURL != p.WebURL {
		t.Fatalf("FindPage = %+v %v", found, err)
	}
	got, err := e.client.GetPage(ctx, p.ID)
	if err != nil || got.Body != page1 || got.Version.Number != 1 {
		t.Fatalf("GetPage = %+v %v", got, err)
	}

	for i := 2; i <= 4; i++ {
		*e.clock = t0.Add(time.Duration(i) * time.Hour)
		up, err := e.client.UpdatePage(ctx, p.ID, "", "Revocation recorded", func(cur confluence.Page) (string, error) {
			return cur.Body + "<p>panel " + string(rune('0'+i)) + "</p>", nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if up.Version.Number != i || !up.Version.CreatedAt.Equal(*e.clock) || up.Version.Message != "Revocation recorded" {
			t.Fatalf("update %d = %+v", i, up.Version)
		}
	}
	vs, err := e.client.Versions(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, v := range vs {
		nums = append(nums, v.Number)
	}
	if !slices.Equal(nums, []int{1, 2, 3, 4}) || !vs[3].CreatedAt.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("versions = %+v", vs)
	}
	if n := e.fake.Log().Count("GET", "/wiki/api/v2/pages/"+p.ID+"/versions"); n != 2 {
		t.Fatalf("%d version pages, want 2", n)
	}
	cur := e.fake.Pages()[0].Current()
	if !strings.HasSuffix(cur.Body, "<p>panel 2</p><p>panel 3</p><p>panel 4</p>") {
		t.Fatalf("body = %s", cur.Body)
	}
}

func TestDuplicateTitle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.ConfluenceOptions{}, testToken)
	sid := e.space(t)
	first, err := e.client.CreatePage(ctx, sid, "", "UAR 2026-Q4", "<p>a</p>")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.CreatePage(ctx, sid, "", "UAR 2026-Q4", "<p>b</p>")
	var pe *confluence.PageExistsError
	if !errors.Is(err, confluence.ErrPageExists) || !errors.As(err, &pe) || pe.Page.ID != first.ID {
		t.Fatalf("duplicate: %v", err)
	}
	if len(e.fake.Pages()) != 1 {
		t.Fatal("no second page")
	}
}

func TestParentPage(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.ConfluenceOptions{}, testToken)
	sid := e.space(t)
	parent, err := e.fake.AddPage("SOX", "SOX reviews", "<p/>")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.client.CreatePage(ctx, sid, parent, "UAR 2026-Q4", "<p>x</p>")
	if err != nil || p.ParentID != parent {
		t.Fatalf("%+v %v", p, err)
	}
	_, err = e.client.CreatePage(ctx, sid, "424242", "UAR 2027-Q1", "<p>x</p>")
	if err == nil || !strings.Contains(err.Error(), "confluence.parent_page_id") {
		t.Fatalf("missing parent: %v", err)
	}
}

func TestMalformedStorageRejected(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.ConfluenceOptions{}, testToken)
	sid := e.space(t)
	for _, bad := range []string{
		"<p>unclosed",
		"<p>a & b</p>",
		"<p>x</p></root><root>",
		"<br>",
		"<p>x</p><ac:unknown-ns:y/>",
		`<p title="a"b">x</p>`,
	} {
		_, err := e.client.CreatePage(ctx, sid, "", "T "+bad, bad)
		var se *httpx.StatusError
		if !errors.As(err, &se) || se.Status != 400 || !strings.Contains(se.Message, "xhtml") {
			t.Errorf("%q: got %v, want a 400 about xhtml", bad, err)
		}
	}
	if len(e.fake.Pages()) != 0 {
		t.Fatal("no page must be created")
	}
	big := "<p>" + strings.Repeat("x", 5<<20) + "</p>"
	_, err := e.client.CreatePage(ctx, sid, "", "big", big)
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("big body: %v", err)
	}
}

func TestUpdateRetriesOnConcurrentEdit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.ConfluenceOptions{}, testToken)
	sid := e.space(t)
	p, err := e.client.CreatePage(ctx, sid, "", "UAR 2026-Q4", "<p>v1</p>")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	up, err := e.client.UpdatePage(ctx, p.ID, "", "add panel", func(cur confluence.Page) (string, error) {
		calls++
		if calls == 1 {
			// Someone saves between our read and our write: our write is
			// stale and must get a real 409.
			if err := e.fake.EditPage(p.ID, "<p>v1</p><p>human edit</p>", "typo fix"); err != nil {
				t.Fatal(err)
			}
		}
		return cur.Body + "<p>panel</p>", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || up.Version.Number != 3 {
		t.Fatalf("calls=%d version=%d", calls, up.Version.Number)
	}
	if body := e.fake.Pages()[0].Current().Body; body != "<p>v1</p><p>human edit</p><p>panel</p>" {
		t.Fatalf("the human edit must be kept: %s", body)
	}

	// Injected conflicts: retried, then given up after the bound.
	e.fake.InjectConflicts(2)
	if _, err := e.client.UpdatePage(ctx, p.ID, "", "m", func(cur confluence.Page) (string, error) { return cur.Body, nil }); err != nil {
		t.Fatalf("2 conflicts should be absorbed: %v", err)
	}
	e.fake.InjectConflicts(100)
	_, err = e.client.UpdatePage(ctx, p.ID, "", "m", func(cur confluence.Page) (string, error) { return cur.Body, nil })
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != 409 || !strings.Contains(err.Error(), "5 attempts") || !strings.Contains(se.Message, "Current version is") {
		t.Fatalf("exhausted conflicts: %v", err)
	}
	if n := e.fake.Log().Count("PUT", "/wiki/api/v2/pages/"+p.ID); n != 2+3+5 {
		t.Fatalf("%d PUTs", n)
	}
}

func TestRetryAfterAndOutage(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sandbox.ConfluenceOptions{}, testToken)
	e.fake.Inject429(2, "5")
	if _, err := e.client.SpaceID(ctx, "SOX"); err != nil {
		t.Fatal(err)
	}
	if got := e.sl.all(); !slices.Equal(got, []time.Duration{5 * time.Second, 5 * time.Second}) {
		t.Fatalf("sleeps = %v", got)
	}
	sid := e.space(t)
	// A create is not retried on 503 without Retry-After ("Confluence down").
	e.fake.Inject5xx(1, 503)
	_, err := e.client.CreatePage(ctx, sid, "", "UAR 2026-Q4", "<p/>")
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != 503 {
		t.Fatalf("want 503, got %v", err)
	}
	if n := e.fake.Log().Count("POST", "/wiki/api/v2/pages"); n != 1 {
		t.Fatalf("create sent %d times", n)
	}
	// Reads ride out a short outage.
	e.fake.Inject5xx(2, 503)
	if _, err := e.client.SpaceID(ctx, "SOX"); err != nil {
		t.Fatalf("read during outage: %v", err)
	}
	// A long outage gives up with a hint.
	e.fake.Inject5xx(50, 503)
	_, err = e.client.SpaceID(ctx, "SOX")
	if !errors.As(err, &se) || se.Status != 503 || !strings.Contains(se.Hint, "re-run") {
		t.Fatalf("long outage: %v", err)
	}
}

// Whatever client the caller passes, a redirect off confluence.base_url's
// origin is refused before the credentials leave.
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
	c := confluence.New(confluence.Config{BaseURL: srv.URL, Email: "svc@acme.com", Token: "conf-SECRET", Space: "SOX"}, &http.Client{},
		confluence.WithSleep(func(context.Context, time.Duration) error { return nil }))
	_, err := c.SpaceID(context.Background(), "SOX")
	var oe *httpx.OriginError
	if !errors.As(err, &oe) || oe.Service != "confluence" || httpx.IsAuth(err) || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("err = %v, want an *httpx.OriginError", err)
	}
	if hits != 0 {
		t.Fatal("redirect followed")
	}
}
