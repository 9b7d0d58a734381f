package okta

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/sandbox"
)

const testToken = "s3cr3t-okta-token-value"

// vclock is a virtual clock shared by the fake and the client's pacing:
// sleeping advances it, so rate-limit tests take no wall time.
type vclock struct {
	mu     sync.Mutex
	t      time.Time
	slept  []time.Duration
	sleepN int
}

func (c *vclock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *vclock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	c.mu.Unlock()
	return ctx.Err()
}

func startFake(t *testing.T, org *sandbox.Org, opts sandbox.OktaOptions) (*sandbox.Okta, *httptest.Server) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	if opts.Clock == nil {
		opts.Clock = func() time.Time { return sandbox.ReferenceNow }
	}
	f := sandbox.NewOkta(org, opts)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func newTestClient(t *testing.T, orgURL string, hc *http.Client, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{OrgURL: orgURL, Token: testToken, MaxRequestsPerMinute: -1, RequestTimeout: 20 * time.Second,
		Now:   func() time.Time { return sandbox.ReferenceNow },
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }, // 5xx backoff: no wall time
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(context.Background(), cfg, hc)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func refOpts() SnapshotOptions {
	return SnapshotOptions{Prefix: "SOX-", Systems: sandbox.ReferenceSystems(), TakenAt: sandbox.ReferenceNow}
}

func byLogin(s *model.Snapshot) map[string]model.User {
	m := map[string]model.User{}
	for _, u := range s.Users {
		m[u.Login] = u
	}
	return m
}

func TestSnapshotReferenceOrg(t *testing.T) {
	f, srv := startFake(t, sandbox.ReferenceOrg(), sandbox.OktaOptions{})
	c := newTestClient(t, srv.URL, srv.Client(), nil)
	snap, st, err := c.Snapshot(context.Background(), refOpts())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	types := map[string]model.Group{}
	for _, g := range snap.Groups {
		names = append(names, g.Name)
		types[g.ID] = g
	}
	want := []string{"SOX-NetSuite-Admins", "SOX-NetSuite-Users", "SOX-Salesforce-Admins", "SOX-Workday-Admins"}
	if !slices.Equal(names, want) {
		t.Fatalf("groups %v, want %v (the look-alike sox-sandbox-users must be dropped)", names, want)
	}
	if st.GroupsDropped != 1 || st.GroupsMatched != 4 {
		t.Errorf("stats matched/dropped = %d/%d, want 4/1", st.GroupsMatched, st.GroupsDropped)
	}
	g0 := snap.Groups[0]
	if g0.System != "NetSuite" || g0.Role != "Admins" || g0.Type != model.GroupTypeOkta || g0.RuleManaged {
		t.Errorf("group 0 = %+v", g0)
	}
	if !snap.Groups[1].RuleManaged || snap.Groups[2].Type != model.GroupTypeApp || snap.Groups[3].RuleManaged {
		t.Errorf("rule/app flags wrong: %+v", snap.Groups)
	}
	sources := map[string]string{}
	for _, m := range snap.Memberships {
		sources[types[m.GroupID].Name] = m.Source
	}
	if sources["SOX-NetSuite-Users"] != model.SourceRule || sources["SOX-Salesforce-Admins"] != model.SourceApp || sources["SOX-NetSuite-Admins"] != model.SourceDirect || sources["SOX-Workday-Admins"] != model.SourceDirect {
		t.Errorf("sources = %v", sources)
	}
	if len(snap.Memberships) != 9 || len(snap.Users) != 8 {
		t.Errorf("memberships %d users %d, want 9 and 8", len(snap.Memberships), len(snap.Users))
	}
	u := byLogin(snap)
	if d := u["dave.kim@company.com"]; d.Department != "IT" || d.Title != "IT Manager" || d.Origin != model.OriginOkta {
		t.Errorf("dave = %+v", d)
	}
	if iv := u["ivan.petrov@company.com"]; iv.UserType != "Contractor" || iv.EmployeeNumber != "" {
		t.Errorf("ivan = %+v", iv)
	}
	if b := u["bob.smith@company.com"]; !b.LastLogin.Equal(time.Date(2026, 5, 15, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("bob last login %v", b.LastLogin)
	}
	if fr := u["frank.miller@company.com"]; fr.Status != "DEPROVISIONED" || fr.Department != "" || fr.Title != "" {
		t.Errorf("frank = %+v", fr)
	}
	if _, ok := u["sam.rivera@company.com"]; ok {
		t.Error("a non-member leaked into the snapshot")
	}
	// Sorted output.
	if !slices.IsSortedFunc(snap.Users, func(a, b model.User) int { return strings.Compare(a.Login, b.Login) }) {
		t.Error("users not sorted by login")
	}
	// One search request with the documented expression and limit 200.
	var sawSearch bool
	for _, r := range f.Requests().All() {
		if r.Path == "/api/v1/groups" && strings.Contains(r.Query, "search=profile.name+sw+%22SOX-%22") && strings.Contains(r.Query, "limit=200") {
			sawSearch = true
		}
	}
	if !sawSearch {
		t.Errorf("no search request; got %+v", f.Requests().All())
	}
	if st.Requests != int64(st.RulePages+st.GroupPages+st.MemberPages) || st.Requests != int64(st.MinRequests) {
		t.Errorf("stats %+v: requests should equal pages and the minimum", st)
	}
}

// captureTransport records every response body, as the evidence recorder does.
type captureTransport struct {
	base  http.RoundTripper
	mu    sync.Mutex
	pages []Page
}

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	c.mu.Lock()
	c.pages = append(c.pages, Page{Method: r.Method, URL: r.URL.String(), Status: resp.StatusCode, Body: b})
	c.mu.Unlock()
	return resp, nil
}

func generated(users, sox, mem int) *sandbox.Org {
	return sandbox.Generate(sandbox.GenerateOptions{Seed: 7, Users: users, SOXGroups: sox, NonSOXGroups: 12, Memberships: mem})
}

func TestSnapshotPaginationAndRederive(t *testing.T) {
	org := generated(400, 9, 2500)
	f, srv := startFake(t, org, sandbox.OktaOptions{})
	f.Fail500(1, "/api/v1/groups/")
	f.Fail429(2, "/api/v1/groups/", -1)
	capt := &captureTransport{base: http.DefaultTransport}
	c := newTestClient(t, srv.URL, &http.Client{Transport: capt}, func(c *Config) { c.PageSize = 7; c.Concurrency = 3 })
	snap, st, err := c.Snapshot(context.Background(), SnapshotOptions{Prefix: "SOX-", TakenAt: sandbox.ReferenceNow})
	if err != nil {
		t.Fatal(err)
	}
	// Ground truth from the org.
	want := map[[2]string]bool{}
	for _, g := range org.Groups {
		if strings.HasPrefix(g.Name, "SOX-") {
			for _, m := range g.Members {
				want[[2]string{g.ID, m}] = true
			}
		}
	}
	got := map[[2]string]bool{}
	for _, m := range snap.Memberships {
		got[[2]string{m.GroupID, m.UserID}] = true
	}
	if !reflect.DeepEqual(got, want) || len(snap.Memberships) != len(want) {
		t.Fatalf("memberships: got %d, want %d", len(snap.Memberships), len(want))
	}
	if st.MemberPages < 50 || st.Responses429 != 2 || st.Retries5xx != 1 {
		t.Errorf("stats %+v: want many member pages, 2 429s, 1 5xx retry", st)
	}
	if st.Requests != int64(st.RulePages+st.GroupPages+st.MemberPages)+3 {
		t.Errorf("requests %d != pages + 3 retries (%+v)", st.Requests, st)
	}
	// Re-derivation from the captured raw pages gives the identical snapshot,
	// however the groups' pages interleave (concurrent reads record them in
	// any order; each group's own pages stay in order).
	re, err := BuildSnapshot(capt.pages, SnapshotOptions{Prefix: "SOX-", TakenAt: sandbox.ReferenceNow})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(re, snap) {
		t.Fatal("BuildSnapshot differs from the live snapshot")
	}
	var head, members []Page
	for _, p := range capt.pages {
		if strings.Contains(p.URL, "/users") {
			members = append(members, p)
		} else {
			head = append(head, p)
		}
	}
	// Take the groups' pages round-robin, last group first.
	byGroup := map[string][]Page{}
	var order []string
	for _, p := range members {
		u, _ := url.Parse(p.URL)
		gid := strings.Split(u.Path, "/")[4]
		if _, ok := byGroup[gid]; !ok {
			order = append(order, gid)
		}
		byGroup[gid] = append(byGroup[gid], p)
	}
	slices.Reverse(order)
	if len(order) < 3 {
		t.Fatalf("want pages of several groups, got %v", order)
	}
	mixed := slices.Clone(head)
	for len(mixed) < len(capt.pages) {
		for _, gid := range order {
			if ps := byGroup[gid]; len(ps) > 0 {
				mixed, byGroup[gid] = append(mixed, ps[0]), ps[1:]
			}
		}
	}
	re2, err := BuildSnapshot(mixed, SnapshotOptions{Prefix: "SOX-", TakenAt: sandbox.ReferenceNow})
	if err != nil || !reflect.DeepEqual(re2, snap) {
		t.Fatalf("BuildSnapshot on interleaved pages differs (err %v)", err)
	}
	// A recording with a group's member pages missing is refused.
	var partial []Page
	for _, p := range capt.pages {
		if !strings.Contains(p.URL, snap.Groups[0].ID+"/users") {
			partial = append(partial, p)
		}
	}
	if _, err := BuildSnapshot(partial, SnapshotOptions{Prefix: "SOX-"}); err == nil || !strings.Contains(err.Error(), "no member page") {
		t.Errorf("partial recording: err = %v", err)
	}
	if _, err := BuildSnapshot([]Page{{Method: "GET", URL: "/api/v1/groups?limit=1", Body: []byte("{not json")}}, SnapshotOptions{Prefix: "SOX-"}); err == nil {
		t.Error("corrupt page accepted")
	}
}

func TestRateLimitExhaustedNamesEndpoint(t *testing.T) {
	f, srv := startFake(t, sandbox.ReferenceOrg(), sandbox.OktaOptions{})
	f.Fail429(10, "/api/v1/groups/rules", -1)
	c := newTestClient(t, srv.URL, srv.Client(), func(c *Config) { c.Max429Retries = 1 })
	_, _, err := c.Snapshot(context.Background(), refOpts())
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != 429 || se.URL != srv.URL+"/api/v1/groups/rules" || se.IsAuth() {
		t.Fatalf("err = %v (%#v)", err, se)
	}
	if n := f.Requests().Count("GET", "/api/v1/groups/rules"); n != 2 {
		t.Errorf("rules requests = %d, want 2 (1 + 1 retry)", n)
	}
}

func TestAuthFailure(t *testing.T) {
	_, srv := startFake(t, sandbox.ReferenceOrg(), sandbox.OktaOptions{Token: "the-right-one"})
	c := newTestClient(t, srv.URL, srv.Client(), nil)
	_, _, err := c.Snapshot(context.Background(), refOpts())
	var se *httpx.StatusError
	if !errors.As(err, &se) || !se.IsAuth() || se.Status != 401 || se.Code != "E0000011" || !httpx.IsAuth(err) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error() + se.Hint
	if !strings.Contains(msg, "okta") || !strings.Contains(msg, srv.URL) || !strings.Contains(se.Hint, "UAR_OKTA_TOKEN") {
		t.Errorf("message %q should name okta and the org URL", msg)
	}
	if strings.Contains(msg, testToken) || strings.Contains(se.URL, "?") {
		t.Errorf("secret or query leaked: %q", msg)
	}
}

func TestNullAndMissingAttributes(t *testing.T) {
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	org := &sandbox.Org{
		Users: []sandbox.OrgUser{
			{ID: "00u00000000000000001", Status: "ACTIVE", Created: created, Login: "null@company.com", Email: "null@company.com"},
			{ID: "00u00000000000000002", Status: "STAGED", Created: created, Login: "absent@company.com", Email: "absent@company.com", Omit: []string{"lastLogin", "passwordChanged", "activated"}},
		},
		Groups: []sandbox.OrgGroup{{ID: "00g00000000000000001", Name: "SOX-X-Users", Type: "OKTA_GROUP", Created: created, Members: []string{"00u00000000000000001", "00u00000000000000002"}}},
	}
	_, srv := startFake(t, org, sandbox.OktaOptions{})
	c := newTestClient(t, srv.URL, srv.Client(), nil)
	snap, _, err := c.Snapshot(context.Background(), SnapshotOptions{Prefix: "SOX-"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range snap.Users {
		if !u.LastLogin.IsZero() || u.Department != "" || u.FirstName != "" || !u.Created.Equal(created) {
			t.Errorf("user %+v", u)
		}
	}
	if g := snap.Groups[0]; g.System != "X" || g.Role != "Users" || g.Description != "" {
		t.Errorf("group %+v", g)
	}
}

func TestEndlessNextLinks(t *testing.T) {
	f, srv := startFake(t, generated(60, 3, 150), sandbox.OktaOptions{})
	f.SetEndlessNext(true)
	c := newTestClient(t, srv.URL, srv.Client(), func(c *Config) { c.PageSize = 10 })
	snap, st, err := c.Snapshot(context.Background(), SnapshotOptions{Prefix: "SOX-"})
	if err != nil {
		t.Fatal(err)
	}
	if st.RepeatedCursors == 0 || len(snap.Memberships) == 0 {
		t.Errorf("guard did not fire: %+v", st)
	}
	// A page cap stops a listing whose cursors keep changing.
	c2 := newTestClient(t, srv.URL, srv.Client(), func(c *Config) { c.PageSize = 2; c.MaxPages = 3 })
	if _, _, err := c2.Snapshot(context.Background(), SnapshotOptions{Prefix: "SOX-"}); err == nil || !strings.Contains(err.Error(), "more than 3 pages") {
		t.Errorf("page cap: err = %v", err)
	}
}

func TestContextCancel(t *testing.T) {
	f, srv := startFake(t, generated(100, 6, 400), sandbox.OktaOptions{})
	c := newTestClient(t, srv.URL, srv.Client(), func(c *Config) { c.PageSize = 5 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.Snapshot(ctx, SnapshotOptions{Prefix: "SOX-"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("pre-cancelled: err = %v", err)
	}
	f.SetLatency(20 * time.Millisecond)
	ctx, cancel = context.WithCancel(context.Background())
	var once sync.Once
	_, _, err := c.Snapshot(ctx, SnapshotOptions{Prefix: "SOX-", Progress: func(p Progress) {
		if p.GroupsDone > 0 {
			once.Do(cancel)
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("mid-run cancel: err = %v", err)
	}
}

func TestClientSidePacing(t *testing.T) {
	vc := &vclock{t: sandbox.ReferenceNow}
	f, srv := startFake(t, sandbox.ReferenceOrg(), sandbox.OktaOptions{Clock: vc.Now})
	c := newTestClient(t, srv.URL, srv.Client(), func(c *Config) {
		c.MaxRequestsPerMinute, c.Concurrency, c.Now, c.Sleep = 60, 1, vc.Now, vc.Sleep
	})
	if _, st, err := c.Snapshot(context.Background(), refOpts()); err != nil || st.Waits == 0 {
		t.Fatalf("err %v stats %+v", err, st)
	}
	// 6 requests at 1/s with a burst of 1: at least 5 s of virtual waiting.
	var total time.Duration
	for _, d := range vc.slept {
		total += d
	}
	if total < 5*time.Second {
		t.Errorf("paced %v in total, want >= 5s", total)
	}

	// Low X-Rate-Limit-Remaining: the client waits for the reset instead of
	// spending the org's last requests (the fake would 429 past 8).
	vc.slept = nil
	f.SetRateLimit(8)
	f.Requests().Reset()
	c2 := newTestClient(t, srv.URL, srv.Client(), func(c *Config) { c.Concurrency, c.Now, c.Sleep = 1, vc.Now, vc.Sleep })
	for range 2 {
		if _, _, err := c2.Snapshot(context.Background(), refOpts()); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range f.Requests().All() {
		if r.Status == http.StatusTooManyRequests {
			t.Fatalf("client hit the quota: %+v", r)
		}
	}
	if len(vc.slept) == 0 {
		t.Error("client never paused for X-Rate-Limit-Reset")
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Token: "x"}, "okta.org_url"},
		{Config{OrgURL: "http://acme.okta.com", Token: "x"}, "okta.org_url"},
		{Config{OrgURL: "https://acme-admin.okta.com", Token: "x"}, "admin"},
		{Config{OrgURL: "https://acme.okta.com"}, "UAR_OKTA_TOKEN"},
		{Config{OrgURL: "https://acme.okta.com", Token: testToken, PageSize: 5000}, "okta.page_size"},
		{Config{OrgURL: "https://acme.okta.com", Token: testToken, Concurrency: -2}, "okta.concurrency"},
		{Config{OrgURL: "https://acme.okta.com", Token: testToken, AuthMode: "basic"}, "okta.auth_mode"},
		{Config{OrgURL: "https://acme.okta.com", AuthMode: AuthPrivateKey}, "okta.client_id"},
	}
	for _, tc := range cases {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), testToken) {
			t.Errorf("%+v: err = %v, want mention of %s", tc.cfg.OrgURL, err, tc.want)
		}
	}
	if err := (Config{OrgURL: "https://acme.okta.com/", Token: "x"}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	if err := (Config{OrgURL: "http://127.0.0.1:8080", Token: "x"}).Validate(); err != nil {
		t.Errorf("loopback http: %v", err)
	}
}

func writeKey(t *testing.T, typ string, der []byte) string {
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrivateKeyAuth(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pkcs8 := writeKey(t, "PRIVATE KEY", der)
	f, srv := startFake(t, sandbox.ReferenceOrg(), sandbox.OktaOptions{OAuthClientID: "0oaclient", OAuthPublicKey: &key.PublicKey})
	c := newTestClient(t, srv.URL, srv.Client(), func(c *Config) {
		c.Token, c.AuthMode, c.ClientID, c.PrivateKeyFile, c.PrivateKeyID = "", AuthPrivateKey, "0oaclient", pkcs8, "kid1"
	})
	snap, _, err := c.Snapshot(context.Background(), refOpts())
	if err != nil || len(snap.Groups) != 4 {
		t.Fatalf("private key snapshot: %v", err)
	}
	if n := f.Requests().Count("POST", "/oauth2/v1/token"); n != 1 {
		t.Errorf("token requests = %d, want 1 (cached)", n)
	}
	// A key the server does not know is refused with an auth error.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherPath := writeKey(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(other))
	c2 := newTestClient(t, srv.URL, srv.Client(), func(c *Config) {
		c.Token, c.AuthMode, c.ClientID, c.PrivateKeyFile = "", AuthPrivateKey, "0oaclient", otherPath
	})
	if _, _, err := c2.Snapshot(context.Background(), refOpts()); err == nil || !httpx.IsAuth(err) || strings.Contains(err.Error(), "client_assertion=") {
		t.Errorf("wrong key: err = %v", err)
	}
	// Non-RSA keys get a clear error at New.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	_, err = New(context.Background(), Config{OrgURL: srv.URL, AuthMode: AuthPrivateKey, ClientID: "x", PrivateKeyFile: writeKey(t, "PRIVATE KEY", ecDER)}, srv.Client())
	if err == nil || !strings.Contains(err.Error(), "RSA") || !strings.Contains(err.Error(), "okta.private_key_file") {
		t.Errorf("EC key: err = %v", err)
	}
}

func TestRemoveMember(t *testing.T) {
	f, srv := startFake(t, sandbox.ReferenceOrg(), sandbox.OktaOptions{})
	c := newTestClient(t, srv.URL, srv.Client(), func(c *Config) { c.PageSize = 1 })
	ctx := context.Background()
	const admins, dave = "00gref00000000000001", "00uref00000000000004"
	if in, err := c.IsMember(ctx, admins, dave); err != nil || !in {
		t.Fatalf("IsMember before: %v %v", in, err)
	}
	res, err := c.RemoveMember(ctx, admins, dave)
	if err != nil || res.Status != "removed" || res.RequestID == "" || f.IsMember(admins, dave) {
		t.Fatalf("remove: %+v %v", res, err)
	}
	if in, err := c.IsMember(ctx, admins, dave); err != nil || in {
		t.Fatalf("IsMember after: %v %v", in, err)
	}
	f.SetNonMemberDelete404(true)
	if res, err := c.RemoveMember(ctx, admins, dave); err != nil || res.Status != "already_absent" {
		t.Errorf("second remove: %+v %v", res, err)
	}
	_, err = c.RemoveMember(ctx, "00gref00000000000004", "00uref00000000000007")
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != 403 || se.Code != "E0000006" {
		t.Errorf("APP_GROUP: %v", err)
	}
	if _, err := c.RemoveMember(ctx, "00gnope", dave); !errors.As(err, &se) || se.Status != 404 {
		t.Errorf("unknown group: %v", err)
	}
}

// hookRecorder stands in for the evidence recorder: it reads each body,
// gives a 2xx body to the request's body hook, and hands on a
// RecordedBody whose readable bytes are NOT JSON: a snapshot that works
// proves the SDK never decoded a page, and the hook count proves each
// page was parsed exactly once.
type hookRecorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	seq   int
	hooks int
	gets  int
}

func (h *hookRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.seq++
	id := fmt.Sprintf("E%08d", h.seq)
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if ok {
		h.gets++
	}
	h.mu.Unlock()
	if hook := httpx.BodyHookFrom(r.Context()); hook != nil && ok {
		h.mu.Lock()
		h.hooks++
		h.mu.Unlock()
		if _, err := hook(b); err != nil {
			return nil, err
		}
	}
	readable := b
	if ok {
		readable = []byte("not json: the SDK must not read this")
	}
	resp.Body = httpx.NewRecordedBody(readable, httpx.Recording{EvidenceID: id, Body: b})
	return resp, nil
}

func TestEachPageParsedOnceFromTheRecordedBytes(t *testing.T) {
	org := generated(200, 6, 900)
	_, srv := startFake(t, org, sandbox.OktaOptions{})
	rec := &hookRecorder{base: http.DefaultTransport}
	c := newTestClient(t, srv.URL, &http.Client{Transport: rec}, func(c *Config) { c.PageSize = 20 })
	res, st, err := c.Read(context.Background(), SnapshotOptions{Prefix: "SOX-"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pages := st.RulePages + st.GroupPages + st.MemberPages
	if rec.hooks != pages || rec.gets != pages || st.Requests != int64(pages) {
		t.Errorf("%d pages, %d parsed by the hook, %d GETs answered, %d requests", pages, rec.hooks, rec.gets, st.Requests)
	}
	// Every member listing names its pages' ledger rows.
	n := 0
	for _, l := range res.Listings {
		if l.Kind == "members" {
			n += len(l.PageEvidence)
			if l.Status != ListingComplete || l.OktaCount != l.Rows || len(l.PageEvidence) != l.Pages || l.CountEvidence == "" {
				t.Errorf("listing %+v", l)
			}
		}
	}
	if n != st.MemberPages {
		t.Errorf("%d member pages, %d named by the listings", st.MemberPages, n)
	}
}
