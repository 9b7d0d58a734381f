package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/uar-dev/uar/internal/httpx"
)

// countingTransport stands for the evidence recorder: it sees every
// request that is actually sent.
type countingTransport struct {
	mu   sync.Mutex
	urls []string
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.urls = append(c.urls, r.URL.String())
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.urls...)
}

// attacker is a listener that must never receive anything.
func attacker(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		t.Errorf("the attacker received %s %s (Authorization %q)", r.Method, r.URL, r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestGuardOriginRefusesOtherOrigins(t *testing.T) {
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer home.Close()
	evil, hits := attacker(t)
	inner := &countingTransport{}
	hc, err := httpx.GuardOrigin("jira", home.URL+"/prefix", &http.Client{Transport: inner})
	if err != nil {
		t.Fatal(err)
	}
	// Same origin (any path): sent.
	resp, err := hc.Get(home.URL + "/anything?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	homePort := home.URL[strings.LastIndex(home.URL, ":")+1:]
	for _, target := range []string{
		evil.URL + "/rest/api/3/issue",                                       // another port
		strings.Replace(home.URL, "127.0.0.1", "localhost", 1) + "/x",        // another host name
		strings.Replace(home.URL, "http://", "https://", 1) + "/x",           // another scheme
		"http://tok:secret@127.0.0.1:" + homePort + "1/x?token=secret-query", // port suffix, with user info and query
	} {
		req, _ := http.NewRequest("GET", target, strings.NewReader("body"))
		req.SetBasicAuth("svc@acme.com", "secret")
		_, err := hc.Do(req)
		var oe *httpx.OriginError
		if !errors.As(err, &oe) || oe.Service != "jira" || oe.Kind != "request" {
			t.Fatalf("%s: err = %v, want *OriginError", target, err)
		}
		if httpx.IsAuth(err) || !httpx.IsOrigin(err) {
			t.Errorf("%s: an origin refusal must not read as an auth refusal", target)
		}
		// *url.Error (net/http's wrapper) repeats the raw URL; adapters
		// unwrap it (see REST), so the refusal itself must be clean.
		msg := oe.Error()
		if strings.Contains(msg, "secret") || strings.Contains(msg, "tok:") || !strings.Contains(msg, "jira") {
			t.Errorf("%s: message %q leaks or does not name the service", target, msg)
		}
	}
	if got := inner.seen(); len(got) != 1 {
		t.Errorf("inner transport saw %v, want only the same-origin request", got)
	}
	if hits.Load() != 0 {
		t.Fatal("the attacker was contacted")
	}
}

func TestGuardOriginRedirects(t *testing.T) {
	evil, hits := attacker(t)
	var home *httptest.Server
	home = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/away":
			http.Redirect(w, r, evil.URL+"/steal?token=abc", http.StatusFound)
		case "/final":
			io.WriteString(w, "final:"+r.Header.Get("Authorization"))
		}
	}))
	defer home.Close()
	inner := &countingTransport{}
	hc, err := httpx.GuardOrigin("confluence", home.URL, &http.Client{Transport: inner})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", home.URL+"/same", nil)
	req.Header.Set("Authorization", "Basic abc")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "final:Basic abc" {
		t.Errorf("same-origin redirect: body %q", b)
	}
	if got := inner.seen(); len(got) != 2 || !strings.HasSuffix(got[1], "/final") {
		t.Errorf("each hop must pass the inner transport (recorder): %v", got)
	}

	req, _ = http.NewRequest("GET", home.URL+"/away", nil)
	req.Header.Set("Authorization", "Basic abc")
	_, err = hc.Do(req)
	var oe *httpx.OriginError
	if !errors.As(err, &oe) || oe.Kind != "redirect" || strings.Contains(oe.Error(), "token=abc") {
		t.Fatalf("cross-origin redirect: err = %v", err)
	}
	if hits.Load() != 0 {
		t.Fatal("a cross-origin redirect was followed")
	}
}

func TestGuardOriginDefaultsAndErrors(t *testing.T) {
	o1, err := httpx.ParseOrigin("https://Acme.Atlassian.net/wiki")
	if err != nil {
		t.Fatal(err)
	}
	o2, _ := httpx.ParseOrigin("https://acme.atlassian.net:443")
	if o1 != o2 || o1.String() != "https://acme.atlassian.net:443" {
		t.Errorf("origins %v %v", o1, o2)
	}
	for _, bad := range []string{"", "acme.okta.com", "ftp://x", "https://", "https://x:port"} {
		if _, err := httpx.GuardOrigin("okta", bad, nil); err == nil {
			t.Errorf("GuardOrigin(%q) accepted", bad)
		}
	}
	// Guarded: an unusable base URL fails every request, nothing is sent.
	inner := &countingTransport{}
	hc := httpx.Guarded("slack", "::bad", &http.Client{Transport: inner})
	if _, err := hc.Get("https://slack.com/api/auth.test"); err == nil {
		t.Error("a client over an unusable base URL sent a request")
	}
	if len(inner.seen()) != 0 {
		t.Error("inner transport reached")
	}
	// Guarding twice for one origin does not stack two guards.
	a, _ := httpx.GuardOrigin("okta", "https://acme.okta.com", nil)
	b, _ := httpx.GuardOrigin("okta", "https://acme.okta.com", a)
	if b.Transport == a.Transport {
		t.Error("GuardOrigin must return a new client")
	}
}

func TestRESTDoesNotRetryOriginRefusals(t *testing.T) {
	evil, hits := attacker(t)
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+"/x", http.StatusTemporaryRedirect)
	}))
	defer home.Close()
	inner := &countingTransport{}
	hc, _ := httpx.GuardOrigin("jira", home.URL, &http.Client{Transport: inner})
	sl := &sleeps{}
	r := &httpx.REST{Service: "jira", BaseField: "jira.base_url", BaseURL: home.URL, HTTP: hc, User: "u@x", Password: "pw-secret",
		Sleep: sl.sleep, MaxRetries: 3}
	err := r.Do(context.Background(), httpx.Call{Op: "get issue", Method: "GET", Path: "/rest/api/3/issue/X-1", Idempotent: true, OK: []int{200}}, nil)
	if !httpx.IsOrigin(err) || strings.Contains(err.Error(), "pw-secret") {
		t.Fatalf("err = %v", err)
	}
	if n := len(inner.seen()); n != 1 {
		t.Errorf("sent %d requests, want 1 (no retry of a refusal)", n)
	}
	if hits.Load() != 0 {
		t.Fatal("attacker contacted")
	}
}
