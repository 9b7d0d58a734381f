package okta

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/sandbox"
)

// attackerServer stands for the host a hostile next link points at: it
// must never receive a request, let alone the token.
func attackerServer(t *testing.T, l net.Listener) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		t.Errorf("attacker received %s %s with Authorization %q", r.Method, r.URL, r.Header.Get("Authorization"))
	}))
	if l != nil {
		srv.Listener.Close()
		srv.Listener = l
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &hits
}

// portPair listens on 127.0.0.1:P and 127.0.0.1:P1 (P with a digit
// appended), so that a next link "<1/api/...>" concatenated to
// "http://127.0.0.1:P" by the SDK would reach the second listener.
func portPair(t *testing.T) (org, evil net.Listener) {
	t.Helper()
	start := 1100 + os.Getpid()%5000
	for i := range 5400 {
		p := 1100 + (start-1100+i)%5400 // p*10+1 stays below 65536
		l1, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d1", p))
		if err != nil {
			l1.Close()
			continue
		}
		return l1, l2
	}
	t.Fatal("no free port pair P, P1 on 127.0.0.1")
	return nil, nil
}

func hostport(u string) string { p, _ := url.Parse(u); return p.Host }

// TestHostileNextLinks runs a snapshot against a fake org whose next links
// would, through the SDK's string concatenation, send the SSWS token to
// another listener. The snapshot must fail with a clear error, nothing may
// reach the other listener, and nothing may panic.
func TestHostileNextLinks(t *testing.T) {
	orgL, evilL := portPair(t)
	evil, hits := attackerServer(t, evilL)
	fake := sandbox.NewOkta(sandbox.ReferenceOrg(), sandbox.OktaOptions{Token: testToken, Clock: func() time.Time { return sandbox.ReferenceNow }})
	org := httptest.NewUnstartedServer(fake)
	org.Listener.Close()
	org.Listener = orgL
	org.Start()
	t.Cleanup(org.Close)
	otherScheme := strings.Replace(org.URL, "http://", "https://", 1)

	cases := []struct {
		name, link string
		origin     bool // an *httpx.OriginError (else a malformed-link error)
	}{
		// "@host:port/..." does not even parse as a URL reference (a colon
		// in the first path segment): the SDK would dereference nil.
		{"userinfo with port", `<@` + hostport(evil.URL) + `/api/v1/groups?after=x>; rel="next"`, false},
		{"userinfo", `<@evil.example/api/v1/groups?after=x>; rel="next"`, true},
		{"port suffix", `<1/api/v1/groups?after=x>; rel="next"`, true},
		{"other scheme", `<` + otherScheme + `/api/v1/groups?after=x>; rel="next"`, true},
		{"other host", `<` + evil.URL + `/api/v1/groups?after=x>; rel="next"`, true},
		{"protocol relative", `<//` + hostport(evil.URL) + `/api/v1/groups?after=x>; rel="next"`, true},
		{"other path", `</api/v1/users?after=x>; rel="next"`, true},
		{"user info in an absolute link", `<http://x:y@` + hostport(org.URL) + `/api/v1/groups?after=x>; rel="next"`, true},
		{"bad escape", `</api/v1/gr%zzoups>; rel="next"`, false},
		{"no angle brackets", `/api/v1/groups?after=x; rel="next"`, false},
		{"unterminated", `</api/v1/groups?after=x; rel="next"`, false},
		{"bad query", `</api/v1/groups?after=%zz>; rel="next"`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake.SetRawNextLink(tc.link)
			fake.Requests().Reset()
			capt := &captureTransport{base: http.DefaultTransport}
			c := newTestClient(t, org.URL, &http.Client{Transport: capt}, nil)
			snap, _, err := c.Snapshot(context.Background(), refOpts())
			if err == nil || snap != nil {
				t.Fatalf("snapshot accepted a hostile next link: %v", err)
			}
			var oe *httpx.OriginError
			if tc.origin && (!errors.As(err, &oe) || oe.Service != "okta" || oe.Kind != "next link") {
				t.Fatalf("err = %v, want an *httpx.OriginError for the next link", err)
			}
			if !tc.origin && !IsMalformedLink(err) {
				t.Fatalf("err = %v, want a malformed Link error", err)
			}
			if httpx.IsAuth(err) {
				t.Error("a refused link must not read as an auth failure (exit 4)")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "okta: ") || strings.Contains(msg, testToken) || strings.Contains(msg, "after=x") {
				t.Errorf("message %q: want it to name okta, without the token or the link's query", msg)
			}
			// Only the first page of the first listing was fetched; every
			// request that was sent went to the org.
			for _, p := range capt.pages {
				if !strings.HasPrefix(p.URL, org.URL+"/") {
					t.Errorf("request sent off the org: %s", p.URL)
				}
			}
			if n := len(fake.Requests().All()); n != 1 {
				t.Errorf("org received %d requests, want 1 (the page with the hostile link)", n)
			}
		})
	}
	if hits.Load() != 0 {
		t.Fatalf("the other listener received %d requests", hits.Load())
	}
}

// A redirect to another origin is not followed, whatever client the caller
// passes: okta.New guards it.
func TestRedirectOffOrgRefused(t *testing.T) {
	evil, hits := attackerServer(t, nil)
	fake := sandbox.NewOkta(sandbox.ReferenceOrg(), sandbox.OktaOptions{Token: testToken})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/groups/rules" {
			http.Redirect(w, r, evil.URL+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, &http.Client{}, nil)
	_, _, err := c.Snapshot(context.Background(), refOpts())
	var oe *httpx.OriginError
	if !errors.As(err, &oe) || oe.Kind != "redirect" || httpx.IsAuth(err) {
		t.Fatalf("err = %v, want a refused redirect", err)
	}
	if hits.Load() != 0 {
		t.Fatal("redirect followed to another origin")
	}
}

func TestCheckLinksCanonicalises(t *testing.T) {
	origin, _ := httpx.ParseOrigin("https://acme.okta.com")
	req, _ := http.NewRequest("GET", "https://acme.okta.com/api/v1/groups?limit=2&search=x", nil)
	h := http.Header{}
	// Both relations comma-joined in one header: the SDK alone would follow
	// self forever (okta-api.md §3); after checkLinks it sees two headers.
	h.Add("Link", `<https://ACME.okta.com:443/api/v1/groups?limit=2>; rel="self", <https://acme.okta.com/api/v1/groups?after=00g2&limit=2>; rel="next", <https://elsewhere/x>; rel="help"`)
	if err := checkLinks(origin, req, h); err != nil {
		t.Fatal(err)
	}
	got := h.Values("Link")
	want := []string{`</api/v1/groups?limit=2>; rel="self"`, `</api/v1/groups?after=00g2&limit=2>; rel="next"`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("links %q, want %q", got, want)
	}
	if next := sdkNextPage(t, "https://acme.okta.com", req, h); next != "https://acme.okta.com/api/v1/groups?after=00g2&limit=2&search=x" {
		t.Errorf("the SDK would follow %q", next)
	}
	// Two different next links are ambiguous: refused.
	h = http.Header{"Link": {`</api/v1/groups?after=a>; rel="next"`, `</api/v1/groups?after=b>; rel="next"`}}
	if err := checkLinks(origin, req, h); !IsMalformedLink(err) {
		t.Errorf("two next links: %v", err)
	}
}

// sdkNextPage replays okta-sdk-golang v2.20.0's newResponse and NewRequest
// on h: split on ';', strip scheme and host, merge the request's query,
// and prefix org_url. It returns the URL the SDK's resp.Next would GET
// ("" when there is no next link).
func sdkNextPage(t testing.TB, orgURL string, req *http.Request, h http.Header) string {
	t.Helper()
	next := ""
	for _, link := range h["Link"] {
		parts := strings.Split(link, ";")
		if len(parts) < 2 {
			continue
		}
		raw := strings.TrimRight(strings.TrimLeft(parts[0], "<"), ">")
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("the SDK would panic on %q", raw)
		}
		u.Scheme, u.Host = "", ""
		q := req.URL.Query()
		for k, v := range u.Query() {
			q.Set(k, v[0])
		}
		u.RawQuery = q.Encode()
		if strings.Contains(link, `rel="next"`) {
			next = orgURL + u.String()
		}
	}
	return next
}

// FuzzCheckLinks: whatever Link header an org sends, checkLinks never
// panics, and when it accepts the header the SDK's own handling of the
// rewritten header follows a URL on the org's origin and the request's
// path.
func FuzzCheckLinks(f *testing.F) {
	for _, s := range []string{
		`<http://127.0.0.1:8080/api/v1/groups?after=00g2&limit=2>; rel="next"`,
		`</api/v1/groups?after=x>; rel="next"`,
		`<@evil.example/api/v1/groups?after=x>; rel="next"`,
		`<1/api/v1/groups?after=x>; rel="next"`,
		`<https://127.0.0.1:8080/api/v1/groups?after=x>; rel="next"`,
		`</api/v1/gr%zzoups>; rel="next"`,
		`/api/v1/groups; rel="next"`,
		`<a>; rel="self", <?after=y>; rel="next"`,
		`<//evil/api/v1/groups>; rel=next`,
		`<../groups?after=z>; rel="next self"`,
	} {
		f.Add(s)
	}
	const org = "http://127.0.0.1:8080"
	origin, _ := httpx.ParseOrigin(org)
	f.Fuzz(func(t *testing.T, v string) {
		req, _ := http.NewRequest("GET", org+"/api/v1/groups?limit=2", nil)
		h := http.Header{"Link": {v}}
		if err := checkLinks(origin, req, h); err != nil {
			return
		}
		next := sdkNextPage(t, org, req, h)
		if next == "" {
			return
		}
		u, err := url.Parse(next)
		if err != nil {
			t.Fatalf("SDK next %q does not parse", next)
		}
		if !origin.Matches(u) || u.User != nil || u.Path != "/api/v1/groups" {
			t.Fatalf("accepted %q: the SDK would GET %q", v, next)
		}
	})
}
