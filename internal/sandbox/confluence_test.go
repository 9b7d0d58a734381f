package sandbox

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestConfluenceFakeWire(t *testing.T) {
	c := NewConfluence(ConfluenceOptions{Email: "a@x.com", Token: "t", Clock: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }, VersionsPage: 1})
	srv := httptest.NewServer(c)
	defer srv.Close()
	ok := func(method, path, body string, want int) string {
		t.Helper()
		resp, b := jiraDo(t, srv, method, path, body, "a@x.com", "t")
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		if want == 200 && strings.Contains(path, "/versions") && strings.Contains(b, `"next"`) && resp.Header.Get("Link") == "" {
			t.Fatal("next link without a Link header")
		}
		return b
	}
	if resp, _ := jiraDo(t, srv, "GET", "/wiki/api/v2/spaces?keys=SOX", "", "a@x.com", "bad"); resp.StatusCode != 401 {
		t.Fatalf("auth: %d", resp.StatusCode)
	}
	if b := ok("GET", "/wiki/api/v2/spaces?keys=SOX", "", 200); !strings.Contains(b, `"id":"65537"`) {
		t.Fatal(b)
	}
	ok("POST", "/wiki/api/v2/pages", `{"spaceId":"99","status":"current","title":"x","body":{"representation":"storage","value":"<p/>"}}`, 404)
	ok("POST", "/wiki/api/v2/pages", `{"spaceId":"65537","status":"current","title":"T","body":{"representation":"storage","value":"<p>one</p>"}}`, 200)
	ok("PUT", "/wiki/api/v2/pages/98765", `{"id":"98765","status":"current","title":"T","body":{"representation":"storage","value":"<p>two</p>"},"version":{"number":3}}`, 409)
	ok("PUT", "/wiki/api/v2/pages/98765", `{"id":"98765","status":"current","title":"T","body":{"representation":"storage","value":"<p>two</p>"},"version":{"number":2,"message":"m"}}`, 200)
	if b := ok("GET", "/wiki/api/v2/pages/98765?body-format=storage&version=1", "", 200); !strings.Contains(b, `\u003cp\u003eone\u003c/p\u003e`) {
		t.Fatalf("old version body: %s", b)
	}
	if b := ok("GET", "/wiki/api/v2/pages/98765?body-format=storage", "", 200); !strings.Contains(b, `\u003cp\u003etwo`) || !strings.Contains(b, `"createdAt":"2026-01-02T03:04:05.000Z"`) {
		t.Fatalf("current: %s", b)
	}
	if b := ok("GET", "/wiki/api/v2/pages/98765/versions", "", 200); !strings.Contains(b, `"number":2`) || !strings.Contains(b, "cursor=") {
		t.Fatalf("versions: %s", b)
	}
	ok("GET", "/wiki/api/v2/pages/98765/versions?cursor=!!notbase64", "", 400)
	ok("GET", "/wiki/api/v2/pages/1", "", 404)
	if b := ok("POST", "/wiki/api/v2/users-bulk", `{"accountIds":["`+JiraAccountID("a@x.com")+`"]}`, 200); !strings.Contains(b, "a@x.com") {
		t.Fatal(b)
	}
	if p := c.Pages(); len(p) != 1 || len(p[0].Versions) != 2 || p[0].Current().Message != "m" {
		t.Fatalf("pages %+v", p)
	}
}
