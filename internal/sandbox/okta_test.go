package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const oktaTestToken = "tok"

func oktaTestServer(t *testing.T, org *Org) (*Okta, *httptest.Server) {
	t.Helper()
	f := NewOkta(org, OktaOptions{Token: oktaTestToken, Clock: func() time.Time { return ReferenceNow }})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func oktaDo(t *testing.T, method, u, auth string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func oktaGet(t *testing.T, u string) (*http.Response, []map[string]any) {
	t.Helper()
	resp, b := oktaDo(t, "GET", u, "SSWS "+oktaTestToken)
	var out []map[string]any
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v: %s", u, err, b)
		}
	}
	return resp, out
}

func oktaNext(resp *http.Response) string {
	for _, l := range resp.Header.Values("Link") {
		if strings.HasSuffix(l, `rel="next"`) {
			return strings.TrimSuffix(strings.TrimPrefix(strings.Split(l, ";")[0], "<"), ">")
		}
	}
	return ""
}

func TestReferenceOrgFindings(t *testing.T) {
	o := ReferenceOrg()
	users := map[string]OrgUser{}
	byID := map[string]OrgUser{}
	for _, u := range o.Users {
		users[u.Login], byID[u.ID] = u, u
	}
	if len(o.Users) != 10 {
		t.Fatalf("%d users, want 10", len(o.Users))
	}
	members := map[string][]string{}
	for _, g := range o.Groups {
		for _, m := range g.Members {
			members[g.Name] = append(members[g.Name], byID[m].Login)
		}
	}
	has := func(g, login string) bool { return slices.Contains(members[g], login) }
	if d := users["dave.kim@company.com"]; d.Department != "IT" || d.Title != "IT Manager" || !has("SOX-NetSuite-Admins", d.Login) {
		t.Error("dave.kim finding missing")
	}
	if iv := users["ivan.petrov@company.com"]; iv.UserType != "Contractor" || !has("SOX-NetSuite-Users", iv.Login) {
		t.Error("ivan.petrov finding missing")
	}
	if !has("SOX-NetSuite-Admins", "carol.wong@company.com") || !has("SOX-Workday-Admins", "carol.wong@company.com") {
		t.Error("carol.wong SoD missing")
	}
	if b := users["bob.smith@company.com"]; b.LastLogin == nil || ReferenceNow.Sub(*b.LastLogin) != 200*24*time.Hour {
		t.Error("200-day dormant user missing")
	}
	if users["frank.miller@company.com"].Status != "DEPROVISIONED" || !has("SOX-NetSuite-Users", "frank.miller@company.com") {
		t.Error("deprovisioned SOX member missing")
	}
	owners := map[string]string{}
	for _, s := range ReferenceSystems() {
		owners[s.Name] = s.Owner
	}
	if !has("SOX-NetSuite-Users", owners["NetSuite"]) {
		t.Error("owner-in-own-group case missing")
	}
}

func TestOktaGroupSearchPagingAndHeaders(t *testing.T) {
	_, srv := oktaTestServer(t, ReferenceOrg())
	q := url.Values{"search": {`profile.name sw "SOX-"`}, "limit": {"2"}, "expand": {"stats"}}
	u := srv.URL + "/api/v1/groups?" + q.Encode()
	var names []string
	pages := 0
	for u != "" {
		resp, gs := oktaGet(t, u)
		pages++
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
			!strings.HasPrefix(resp.Header.Get("X-Okta-Request-Id"), "req-") || resp.Header.Get("X-Rate-Limit-Reset") == "" {
			t.Fatalf("headers %v", resp.Header)
		}
		if links := resp.Header.Values("Link"); len(links) < 1 || strings.Contains(links[0], ",") {
			t.Fatalf("Link headers must be separate: %q", links)
		}
		for _, g := range gs {
			names = append(names, g["profile"].(map[string]any)["name"].(string))
			if g["_embedded"].(map[string]any)["stats"].(map[string]any)["usersCount"] == nil {
				t.Error("expand=stats missing")
			}
		}
		u = oktaNext(resp)
		if u != "" && (!strings.Contains(u, "search=") || !strings.Contains(u, "after=")) {
			t.Fatalf("next link lost params: %s", u)
		}
	}
	slices.Sort(names)
	want := []string{"SOX-NetSuite-Admins", "SOX-NetSuite-Users", "SOX-Salesforce-Admins", "SOX-Workday-Admins", "sox-sandbox-users"}
	if !slices.Equal(names, want) || pages != 3 {
		t.Fatalf("names %v over %d pages; want %v (case-insensitive) over 3", names, pages, want)
	}
	_, gs := oktaGet(t, srv.URL+"/api/v1/groups?filter="+url.QueryEscape(`type eq "APP_GROUP"`))
	if len(gs) != 1 || gs[0]["source"] == nil {
		t.Errorf("filter type: %v", gs)
	}
	resp, _ := oktaGet(t, srv.URL+"/api/v1/groups?filter="+url.QueryEscape(`profile.name eq "x"`))
	if resp.StatusCode != 400 {
		t.Errorf("filter on profile.name: %d, want 400", resp.StatusCode)
	}
}

func TestOktaAuthAndErrors(t *testing.T) {
	_, srv := oktaTestServer(t, ReferenceOrg())
	for _, auth := range []string{"", "SSWS wrong", "Basic tok"} {
		resp, b := oktaDo(t, "GET", srv.URL+"/api/v1/groups", auth)
		if resp.StatusCode != 401 || !strings.Contains(string(b), "E0000011") {
			t.Errorf("auth %q: %d %s", auth, resp.StatusCode, b)
		}
	}
	if resp, _ := oktaDo(t, "GET", srv.URL+"/api/v1/groups", "Bearer "+oktaTestToken); resp.StatusCode != 200 {
		t.Errorf("Bearer: %d", resp.StatusCode)
	}
	resp, b := oktaDo(t, "DELETE", srv.URL+"/api/v1/groups/00gnope/users/00uref00000000000001", "SSWS tok")
	if resp.StatusCode != 404 || !strings.Contains(string(b), "(UserGroup)") {
		t.Errorf("unknown group: %d %s", resp.StatusCode, b)
	}
	resp, b = oktaDo(t, "DELETE", srv.URL+"/api/v1/groups/00gref00000000000001/users/00unope", "SSWS tok")
	if resp.StatusCode != 404 || !strings.Contains(string(b), "(User)") {
		t.Errorf("unknown user: %d %s", resp.StatusCode, b)
	}
	resp, b = oktaDo(t, "DELETE", srv.URL+"/api/v1/groups/00gref00000000000004/users/00uref00000000000007", "SSWS tok")
	if resp.StatusCode != 403 || !strings.Contains(string(b), "E0000006") {
		t.Errorf("APP_GROUP delete: %d %s", resp.StatusCode, b)
	}
}

func TestOktaMembershipChangesAndLog(t *testing.T) {
	f, srv := oktaTestServer(t, ReferenceOrg())
	const admins, users, dave, ivan = "00gref00000000000001", "00gref00000000000002", "00uref00000000000004", "00uref00000000000008"
	resp, _ := oktaDo(t, "DELETE", srv.URL+"/api/v1/groups/"+admins+"/users/"+dave, "SSWS tok")
	if resp.StatusCode != 204 || f.IsMember(admins, dave) {
		t.Fatalf("delete: %d member=%v", resp.StatusCode, f.IsMember(admins, dave))
	}
	delID := resp.Header.Get("X-Okta-Request-Id")
	if resp, _ := oktaDo(t, "DELETE", srv.URL+"/api/v1/groups/"+admins+"/users/"+dave, "SSWS tok"); resp.StatusCode != 204 {
		t.Errorf("non-member delete default: %d", resp.StatusCode)
	}
	f.SetNonMemberDelete404(true)
	if resp, _ := oktaDo(t, "DELETE", srv.URL+"/api/v1/groups/"+admins+"/users/"+dave, "SSWS tok"); resp.StatusCode != 404 {
		t.Errorf("non-member delete 404 mode: %d", resp.StatusCode)
	}
	// Rule-managed removal: exclusion added, two events.
	if resp, _ := oktaDo(t, "DELETE", srv.URL+"/api/v1/groups/"+users+"/users/"+ivan, "SSWS tok"); resp.StatusCode != 204 {
		t.Fatal(resp.StatusCode)
	}
	if r, _ := f.Rule("0prref00000000000001"); !slices.Contains(r.Exclude, ivan) {
		t.Errorf("exclusion not added: %+v", r)
	}
	if resp, _ := oktaDo(t, "PUT", srv.URL+"/api/v1/groups/"+admins+"/users/"+dave, "SSWS tok"); resp.StatusCode != 204 || !f.IsMember(admins, dave) {
		t.Error("PUT did not add")
	}
	q := url.Values{"filter": {`eventType eq "group.user_membership.remove" and target.id eq "` + dave + `"`}, "since": {"2026-11-30T00:00:00Z"}, "until": {"2026-12-02T00:00:00Z"}}
	resp, evs := oktaGet(t, srv.URL+"/api/v1/logs?"+q.Encode())
	if len(evs) != 1 || oktaNext(resp) != "" {
		t.Fatalf("logs: %v next=%q", evs, oktaNext(resp))
	}
	if got := evs[0]["debugContext"].(map[string]any)["debugData"].(map[string]any)["requestId"]; got != delID {
		t.Errorf("event requestId %v, want %s", got, delID)
	}
	q.Set("filter", `eventType eq "group.user_membership.rule.add_exclusion"`)
	_, evs = oktaGet(t, srv.URL+"/api/v1/logs?"+q.Encode())
	if len(evs) != 1 || evs[0]["actor"].(map[string]any)["type"] != "SystemPrincipal" {
		t.Errorf("exclusion event: %v", evs)
	}
	// A polling query (no until) always has a next link.
	resp, _ = oktaGet(t, srv.URL+"/api/v1/logs")
	if oktaNext(resp) == "" {
		t.Error("polling logs query without next link")
	}
}

func TestOktaUsersAndNulls(t *testing.T) {
	_, srv := oktaTestServer(t, ReferenceOrg())
	_, us := oktaGet(t, srv.URL+"/api/v1/users")
	if len(us) != 9 {
		t.Errorf("list users without query: %d, want 9 (DEPROVISIONED omitted)", len(us))
	}
	_, us = oktaGet(t, srv.URL+"/api/v1/users?search="+url.QueryEscape(`status eq "DEPROVISIONED"`))
	if len(us) != 1 {
		t.Errorf("search DEPROVISIONED: %d", len(us))
	}
	resp, b := oktaDo(t, "GET", srv.URL+"/api/v1/users/sam.rivera@company.com", "SSWS tok")
	if resp.StatusCode != 200 || strings.Contains(string(b), "lastLogin") {
		t.Errorf("sam: lastLogin key should be absent: %s", b)
	}
	_, b = oktaDo(t, "GET", srv.URL+"/api/v1/users/00uref00000000000005", "SSWS tok")
	if !strings.Contains(string(b), `"lastLogin":null`) {
		t.Errorf("erin: lastLogin should be null: %s", b)
	}
	_, b = oktaDo(t, "GET", srv.URL+"/api/v1/users/00uref00000000000006", "SSWS tok")
	if strings.Contains(string(b), "department") {
		t.Errorf("frank: department should be absent: %s", b)
	}
}

func TestOktaFaultsAndLimits(t *testing.T) {
	now := ReferenceNow
	f := NewOkta(ReferenceOrg(), OktaOptions{Token: oktaTestToken, Clock: func() time.Time { return now }, RateLimitPerMinute: 3})
	srv := httptest.NewServer(f)
	defer srv.Close()
	f.Fail429(1, "/api/v1/users", 5)
	resp, _ := oktaGet(t, srv.URL+"/api/v1/users")
	if resp.StatusCode != 429 || resp.Header.Get("X-Rate-Limit-Reset") != strconv.FormatInt(now.Unix()+5, 10) || resp.Header.Get("Date") != now.Format(http.TimeFormat) {
		t.Errorf("429: %d %v", resp.StatusCode, resp.Header)
	}
	f.Fail500(1, "")
	if resp, _ := oktaGet(t, srv.URL+"/api/v1/groups"); resp.StatusCode != 500 {
		t.Errorf("500: %d", resp.StatusCode)
	}
	resp, _ = oktaGet(t, srv.URL+"/api/v1/groups")
	if resp.StatusCode != 200 || resp.Header.Get("X-Rate-Limit-Remaining") != "0" {
		t.Errorf("3rd request: %d remaining %s", resp.StatusCode, resp.Header.Get("X-Rate-Limit-Remaining"))
	}
	if resp, _ := oktaGet(t, srv.URL+"/api/v1/groups"); resp.StatusCode != 429 {
		t.Errorf("over quota: %d", resp.StatusCode)
	}
	now = now.Add(time.Minute)
	if resp, _ := oktaGet(t, srv.URL+"/api/v1/groups"); resp.StatusCode != 200 {
		t.Errorf("after reset: %d", resp.StatusCode)
	}
	// limit is clamped to 200 for groups.
	org := Generate(GenerateOptions{Users: 10, SOXGroups: 250, NonSOXGroups: 1, Memberships: 300})
	_, srv2 := oktaTestServer(t, org)
	if _, gs := oktaGet(t, srv2.URL+"/api/v1/groups?limit=1000"); len(gs) != 200 {
		t.Errorf("clamp: %d groups", len(gs))
	}
}

func TestGenerate(t *testing.T) {
	o := GenerateOptions{Seed: 3, Users: 2000, SOXGroups: 60, NonSOXGroups: 10, Memberships: 20000}
	a, b := Generate(o), Generate(o)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("Generate is not deterministic")
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if sox := soxMemberships(a); sox != 20000 || len(a.Users) != 2000 || len(a.Groups) != 70 || a.Membership() <= sox {
		t.Fatalf("sizes: %d SOX memberships (%d in all) %d users %d groups", sox, a.Membership(), len(a.Users), len(a.Groups))
	}
	var contractors, dormant, inactive, app int
	for _, u := range a.Users {
		if u.UserType == "Contractor" {
			contractors++
		}
		if u.LastLogin != nil && ReferenceNow.Sub(*u.LastLogin) > 90*24*time.Hour {
			dormant++
		}
		if u.Status != "ACTIVE" {
			inactive++
		}
	}
	for _, g := range a.Groups {
		if g.Type == "APP_GROUP" {
			app++
		}
	}
	if contractors < 100 || contractors > 220 || dormant < 50 || dormant > 160 || inactive < 10 || inactive > 80 || app == 0 || len(a.Rules) == 0 {
		t.Errorf("proportions: contractors %d dormant %d inactive %d app %d rules %d", contractors, dormant, inactive, app, len(a.Rules))
	}
	if c := Generate(GenerateOptions{Seed: 4, Users: 2000, SOXGroups: 60, NonSOXGroups: 10, Memberships: 20000}); c.Groups[0].Members[0] == a.Groups[0].Members[0] && c.Groups[1].Members[0] == a.Groups[1].Members[0] && c.Users[0].Login == a.Users[0].Login {
		t.Error("seed has no effect")
	}
}

func TestGenerateLarge(t *testing.T) {
	o := Generate(GenerateOptions{Seed: 1, Users: 50000, SOXGroups: 400, NonSOXGroups: 50, Memberships: 500000})
	if sox := soxMemberships(o); sox != 500000 || len(o.Users) != 50000 {
		t.Fatalf("sizes %d / %d", sox, len(o.Users))
	}
	// Asked for more than the SOX groups can hold: each group full.
	full := Generate(GenerateOptions{Seed: 2, Users: 10, SOXGroups: 3, NonSOXGroups: 2, Memberships: 100})
	if sox := soxMemberships(full); sox != 30 {
		t.Errorf("%d SOX memberships, want 3 groups x 10 users", sox)
	}
}

// soxMemberships counts the memberships of the org's SOX- groups: what a
// snapshot with the default prefix reads, and what "memberships" asks for.
func soxMemberships(o *Org) int {
	n := 0
	for _, g := range o.Groups {
		if strings.HasPrefix(g.Name, "SOX-") {
			n += len(g.Members)
		}
	}
	return n
}

func TestLoadOrgRejectsBadInput(t *testing.T) {
	for _, s := range []string{
		`{"users":[],"groups":[],"bogus":1}`,
		`{"users":[{"id":"u1","login":"a"}],"groups":[{"id":"g1","name":"G","type":"OKTA_GROUP","members":["u2"]}]}`,
		`{"users":[],"groups":[{"id":"g1","name":"G","type":"WEIRD"}]}`,
	} {
		if _, err := LoadOrg(strings.NewReader(s)); err == nil {
			t.Errorf("accepted %s", s)
		}
	}
}
