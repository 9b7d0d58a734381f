package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func jiraDo(t *testing.T, srv *httptest.Server, method, path, body, user, pass string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestJiraFakeWire(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	j := NewJira(JiraOptions{Email: "a@x.com", Token: "t", Clock: func() time.Time { return at }})
	srv := httptest.NewServer(j)
	defer srv.Close()

	resp, _ := jiraDo(t, srv, "GET", "/rest/api/3/myself", "", "a@x.com", "nope")
	if resp.StatusCode != 401 || resp.Header.Get("X-Seraph-LoginReason") != "AUTHENTICATED_FAILED" {
		t.Fatalf("bad auth: %d %v", resp.StatusCode, resp.Header)
	}
	ok := func(method, path, body string, want int) string {
		t.Helper()
		resp, b := jiraDo(t, srv, method, path, body, "a@x.com", "t")
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		return b
	}
	ok("POST", "/rest/api/3/issue", `{"fields":{"project":{"key":"UAR"},"issuetype":{"name":"Task"},"summary":"s","labels":["uar"]}}`, 201)
	b := ok("POST", "/rest/api/3/issue", `{"fields":{"project":{"key":"X"},"issuetype":{"name":"Nope"},"summary":"s","priority":{"name":"P0"},"description":"plain"}}`, 400)
	var ec struct{ Errors map[string]string }
	_ = json.Unmarshal([]byte(b), &ec)
	for _, f := range []string{"project", "issuetype", "priority", "description"} {
		if ec.Errors[f] == "" {
			t.Errorf("no error for %s in %s", f, b)
		}
	}
	b = ok("GET", "/rest/api/3/issue/UAR-1?fields=created,status", "", 200)
	if !strings.Contains(b, `"created":"2026-01-02T03:04:05.006+0000"`) || !strings.Contains(b, `"key":"new"`) || strings.Contains(b, "summary") {
		t.Fatalf("issue = %s", b)
	}
	// Search: default returns ids only; the last page has no token.
	b = ok("GET", "/rest/api/3/search/jql?jql=project%20%3D%20UAR%20AND%20labels%20in%20(uar%2C%20other)", "", 200)
	if strings.Contains(b, "fields") || strings.Contains(b, "nextPageToken") || !strings.Contains(b, `"isLast":true`) {
		t.Fatalf("search = %s", b)
	}
	for _, bad := range []string{``, `project = `, `project ~ UAR`, `reporter = x`, `project = UAR OR labels = x`, `project = "UAR`} {
		body, _ := json.Marshal(map[string]any{"jql": bad})
		ok("POST", "/rest/api/3/search/jql", string(body), 400)
	}
	ok("POST", "/rest/api/3/search/jql", `{"jql":"project = UAR","nextPageToken":"garbage!"}`, 400)
	ok("POST", "/rest/api/3/search", `{"jql":"project = UAR"}`, 410)
	// Comments.
	ok("POST", "/rest/api/3/issue/UAR-1/comment", `{"body":"plain text"}`, 400)
	ok("POST", "/rest/api/3/issue/UAR-1/comment", `{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":""}]}]}}`, 400)
	ok("GET", "/rest/api/3/issue/UAR-1/comment?orderBy=author", "", 400)
	ok("GET", "/rest/api/3/issue/UAR-9/comment", "", 404)
	// Transitions.
	ok("POST", "/rest/api/3/issue/UAR-1/transitions", `{"transition":{"id":"999"}}`, 400)
	ok("POST", "/rest/api/3/issue/UAR-1/transitions", `{"transition":{"id":"31"}}`, 204)
	if s := j.Issues()[0].Status; s != "Done" {
		t.Fatalf("status %s", s)
	}
	ok("GET", "/rest/api/3/nowhere", "", 404)
	if n := len(j.Requests()); n < 15 {
		t.Fatalf("only %d requests recorded", n)
	}
}
