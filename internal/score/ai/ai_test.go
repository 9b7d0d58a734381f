package ai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/sandbox"
)

const testKey = "sk-ant-test-SECRET-0123456789"

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fixture is a two-system snapshot with one user in each interesting case:
//   - ivan: contractor in an admin group, flagged by rules and the fake (agree);
//   - dave: IT Manager administering the ERP, flagged by the SoD rule only
//     (the fake dismisses it: rule_only);
//   - sara: suspended, flagged by the fake only (ai_only);
//   - alice, bob: nothing to say; zed: in no system (never sent).
func fixture() (*model.Snapshot, []model.Finding) {
	users := []model.User{
		{ID: "00u5sara", Login: "sara.lopez@acme.com", Email: "sara.lopez@acme.com", FirstName: "Sara", LastName: "Lopez", Department: "Payroll", Title: "Payroll Specialist", UserType: "Employee", EmployeeNumber: "E10005", Manager: "bob.martin@acme.com", Status: "SUSPENDED", Created: at("2024-01-02T00:00:00Z"), LastLogin: at("2026-05-01T10:00:00Z"), Origin: model.OriginOkta},
		{ID: "00u1alice", Login: "alice.chen@acme.com", Email: "alice.chen@acme.com", FirstName: "Alice", LastName: "Chen", Department: "Finance", Title: "Controller", UserType: "Employee", EmployeeNumber: "E10001", Manager: "Quentin Moss", Status: "ACTIVE", Created: at("2023-01-02T00:00:00Z"), LastLogin: at("2026-09-20T08:00:00Z"), Origin: model.OriginOkta},
		{ID: "00u2dave", Login: "dave.kim@acme.com", Email: "dave.kim@acme.com", FirstName: "Dave", LastName: "Kim", Department: "IT", Title: "IT Manager", UserType: "Employee", EmployeeNumber: "E10002", Manager: "alice.chen@acme.com", Status: "ACTIVE", Created: at("2023-03-02T00:00:00Z"), LastLogin: at("2026-09-21T08:00:00Z"), Origin: model.OriginOkta},
		{ID: "00u3ivan", Login: "ivan.petrov@acme.com", Email: "ivan.petrov@acme.com", FirstName: "Ivan", LastName: "Petrov", Department: "Finance", Title: "ERP Consultant", UserType: "Contractor", EmployeeNumber: "C20003", Manager: "alice.chen@acme.com", Status: "ACTIVE", Created: at("2025-06-02T00:00:00Z"), Origin: model.OriginOkta},
		{ID: "00u4bob", Login: "bob.martin@acme.com", Email: "bob.martin@acme.com", FirstName: "Bob", LastName: "Martin", Department: "HR", Title: "HR Director", UserType: "Employee", EmployeeNumber: "E10004", Status: "ACTIVE", Created: at("2022-01-02T00:00:00Z"), LastLogin: at("2026-09-22T08:00:00Z"), Origin: model.OriginOkta},
		{ID: "00u9zed", Login: "zed.nobody@acme.com", Email: "zed.nobody@acme.com", FirstName: "Zed", LastName: "Nobody", Department: "Sales", Title: "Account Executive", UserType: "Employee", Status: "ACTIVE", Origin: model.OriginOkta},
	}
	groups := []model.Group{
		{ID: "g1", Name: "SOX-NetSuite-Admins", Type: model.GroupTypeOkta, System: "NetSuite", Role: "Admins"},
		{ID: "g2", Name: "SOX-NetSuite-Approvers", Type: model.GroupTypeOkta, System: "NetSuite", Role: "Approvers"},
		{ID: "g3", Name: "SOX-Workday-Users", Type: model.GroupTypeOkta, System: "Workday", Role: "Users"},
		{ID: "g4", Name: "SOX-Workday-Admins", Type: model.GroupTypeOkta, System: "Workday", Role: "Admins"},
		{ID: "g5", Name: "Everyone", Type: model.GroupTypeBuiltIn},
	}
	ms := []model.Membership{
		{GroupID: "g1", UserID: "00u2dave", Source: model.SourceDirect},
		{GroupID: "g1", UserID: "00u3ivan", Source: model.SourceRule},
		{GroupID: "g2", UserID: "00u1alice", Source: model.SourceDirect},
		{GroupID: "g3", UserID: "00u5sara", Source: model.SourceDirect},
		{GroupID: "g3", UserID: "00u1alice", Source: model.SourceDirect},
		{GroupID: "g4", UserID: "00u4bob", Source: model.SourceDirect},
		{GroupID: "g5", UserID: "00u9zed", Source: model.SourceDirect},
	}
	snap := &model.Snapshot{ID: 7, Review: "2026-Q4", TakenAt: at("2026-10-01T09:00:00Z"), Users: users, Groups: groups, Memberships: ms}
	rules := []model.Finding{
		{RuleID: "SOD-IT-ERP-ADMIN", Risk: model.RiskHigh, System: "NetSuite", UserID: "00u2dave", UserLogin: "dave.kim@acme.com",
			Groups: []string{"SOX-NetSuite-Admins"}, Title: "IT staff administering the ERP",
			Detail:         "Dave Kim (dave.kim@acme.com, E10002, reports to Alice Chen), IT Manager in SOX-NetSuite-Admins: IT staff must not administer the ERP used by Finance (segregation of duties).",
			Recommendation: "Recommend revoking SOX-NetSuite-Admins from Kim, Dave.", Source: model.FindingSourceRule},
		{RuleID: "contractor", Risk: model.RiskMedium, System: "NetSuite", UserID: "00u3ivan", UserLogin: "ivan.petrov@acme.com",
			Groups: []string{"SOX-NetSuite-Admins"}, Title: "Contractor with SOX access", Detail: "ERP Consultant (Contractor) in SOX-NetSuite-Admins.", Source: model.FindingSourceRule},
		// Suppressed by an exception: not sent, not a disagreement.
		{RuleID: "dormant", Risk: model.RiskMedium, System: "Workday", UserID: "00u4bob", UserLogin: "bob.martin@acme.com",
			Groups: []string{"SOX-Workday-Admins"}, Title: "Dormant account", Detail: "Bob Martin has not logged in.", Source: model.FindingSourceRule,
			Suppressed: &model.Suppression{ApprovedBy: "cfo@acme.com", Ticket: "UAR-1", Expires: "2027-01-01", Reason: "leave"}},
	}
	return snap, rules
}

type fakeAPI struct {
	api *sandbox.Anthropic
	srv *httptest.Server
	cfg Config
}

func newFake(t *testing.T) *fakeAPI {
	t.Helper()
	api := sandbox.NewAnthropic(sandbox.AnthropicOptions{APIKey: testKey, Clock: func() time.Time { return at("2026-10-01T09:00:00Z") }})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &fakeAPI{api: api, srv: srv, cfg: Config{
		Model: "claude-sonnet-5-5", BaseURL: srv.URL, APIKey: testKey, Pseudonymize: true, MaxRetries: 2, Timeout: 10 * time.Second,
	}}
}

func (f *fakeAPI) review(t *testing.T, cfg Config) (*Result, error) {
	t.Helper()
	snap, rules := fixture()
	return Review(context.Background(), cfg, f.srv.Client(), snap, rules)
}

func callOf(t *testing.T, r *Result, sys string) Call {
	t.Helper()
	for _, c := range r.Calls {
		if c.System == sys {
			return c
		}
	}
	t.Fatalf("no call for %s in %+v", sys, r.Calls)
	return Call{}
}

func TestReviewHappyPath(t *testing.T) {
	f := newFake(t)
	res, err := f.review(t, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed()) != 0 {
		t.Fatalf("failed calls: %+v", res.Failed())
	}

	want := []struct {
		rule, sys, login, risk string
		groups                 []string
	}{
		{"AI-NetSuite-1", "NetSuite", "ivan.petrov@acme.com", "HIGH", []string{"SOX-NetSuite-Admins"}},
		{"AI-Workday-1", "Workday", "sara.lopez@acme.com", "MEDIUM", []string{"SOX-Workday-Users"}},
	}
	if len(res.Findings) != len(want) {
		t.Fatalf("findings = %+v", res.Findings)
	}
	snap, _ := fixture()
	ids := map[string]string{}
	for _, u := range snap.Users {
		ids[u.Login] = u.ID
	}
	for i, w := range want {
		g := res.Findings[i]
		if g.RuleID != w.rule || g.System != w.sys || g.UserLogin != w.login || g.UserID != ids[w.login] ||
			string(g.Risk) != w.risk || !slices.Equal(g.Groups, w.groups) || g.Source != model.FindingSourceAI {
			t.Errorf("finding %d = %+v, want %+v", i, g, w)
		}
		// The model's rationale names the token; it is mapped back locally.
		if !strings.Contains(g.Detail, w.login) || strings.Contains(g.Detail, "user-0") {
			t.Errorf("finding %d detail not mapped back: %q", i, g.Detail)
		}
		if g.Recommendation == "" || g.Title == "" {
			t.Errorf("finding %d lacks title/recommendation: %+v", i, g)
		}
	}

	wantDis := []Disagreement{
		{System: "NetSuite", UserID: "00u2dave", UserLogin: "dave.kim@acme.com", Kind: RuleOnly, RuleIDs: []string{"SOD-IT-ERP-ADMIN"}},
		{System: "Workday", UserID: "00u5sara", UserLogin: "sara.lopez@acme.com", Kind: AIOnly, RuleIDs: []string{}, AIRisk: model.RiskMedium},
	}
	if len(res.Disagreements) != len(wantDis) {
		t.Fatalf("disagreements = %+v", res.Disagreements)
	}
	for i, w := range wantDis {
		g := res.Disagreements[i]
		if g.Rationale == "" {
			t.Errorf("disagreement %d has no rationale", i)
		}
		g.Rationale = ""
		if !reflect.DeepEqual(g, w) {
			t.Errorf("disagreement %d = %+v, want %+v", i, g, w)
		}
	}

	if len(res.Calls) != 2 || res.Calls[0].System != "NetSuite" || res.Calls[1].System != "Workday" {
		t.Fatalf("calls = %+v", res.Calls)
	}
	for _, c := range res.Calls {
		if c.RequestID == "" || c.InputTokens <= 0 || c.OutputTokens <= 0 || c.StopReason != "tool_use" ||
			c.Attempts != 1 || c.Model != "claude-sonnet-5-5" || c.Findings != 1 {
			t.Errorf("call = %+v", c)
		}
	}
	// Tokens are assigned in user-id order over the whole snapshot; only
	// the users actually sent are listed.
	wantPs := []Pseudonym{{"user-0001", "00u1alice"}, {"user-0002", "00u2dave"}, {"user-0003", "00u3ivan"}, {"user-0004", "00u4bob"}, {"user-0005", "00u5sara"}}
	if !reflect.DeepEqual(res.Pseudonyms, wantPs) {
		t.Errorf("pseudonyms = %+v", res.Pseudonyms)
	}

	// On the wire: one POST per system, forced tool, strict schema.
	reqs := f.api.Requests().All()
	if len(reqs) != 2 {
		t.Fatalf("requests = %d", len(reqs))
	}
	for _, r := range reqs {
		if r.Method != "POST" || r.Path != "/v1/messages" || r.Status != 200 {
			t.Errorf("request %+v", r)
		}
		var body struct {
			Model      string                      `json:"model"`
			MaxTokens  int                         `json:"max_tokens"`
			ToolChoice struct{ Type, Name string } `json:"tool_choice"`
			Tools      []struct {
				Name        string          `json:"name"`
				Strict      bool            `json:"strict"`
				InputSchema json.RawMessage `json:"input_schema"`
			} `json:"tools"`
		}
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatal(err)
		}
		if body.ToolChoice.Type != "tool" || body.ToolChoice.Name != ToolName || len(body.Tools) != 1 || body.Tools[0].Name != ToolName ||
			!body.Tools[0].Strict || body.Model != "claude-sonnet-5-5" || body.MaxTokens != DefaultMaxTokens {
			t.Errorf("request body: %+v", body)
		}
		if !strings.Contains(string(body.Tools[0].InputSchema), `"additionalProperties":false`) {
			t.Errorf("schema not strict: %s", body.Tools[0].InputSchema)
		}
	}
	if strings.Contains(reqs[0].Body, "SOX-Workday") || strings.Contains(reqs[1].Body, "SOX-NetSuite") {
		t.Error("a request carries another system's groups")
	}
	if strings.Contains(reqs[1].Body, `\"rule_id\":\"dormant\"`) || !strings.Contains(reqs[0].Body, `\"rule_id\":\"SOD-IT-ERP-ADMIN\"`) {
		t.Error("a suppressed rule finding was sent")
	}
}

// identities returns every identity string of every user in the fixture.
func identities() []string {
	snap, _ := fixture()
	var out []string
	for _, u := range snap.Users {
		for _, s := range []string{u.ID, u.Login, u.Email, u.FirstName, u.LastName, u.EmployeeNumber, u.Manager} {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func TestPseudonymisationSendsNoIdentity(t *testing.T) {
	f := newFake(t)
	res, err := f.review(t, f.cfg)
	if err != nil || len(res.Failed()) != 0 {
		t.Fatalf("err %v, calls %+v", err, res.Calls)
	}
	reqs := f.api.Requests().All()
	if len(reqs) == 0 {
		t.Fatal("nothing sent")
	}
	for _, r := range reqs {
		for _, id := range identities() {
			// Whole words: "Zed" is not leaked by "pseudonymized".
			if regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(id) + `\b`).MatchString(r.Body) {
				t.Errorf("request body contains identity %q", id)
			}
		}
		// What the model reasons about is still there.
		for _, keep := range []string{"IT Manager", "SOX-NetSuite-Admins", "Contractor"} {
			if strings.Contains(r.Path, "/v1/messages") && strings.Contains(r.Body, "NetSuite") && !strings.Contains(r.Body, keep) {
				t.Errorf("request body lost %q", keep)
			}
		}
	}
	if !strings.Contains(reqs[0].Body, "user-0002") {
		t.Error("NetSuite request does not name dave by token")
	}

	// Control: with pseudonymisation off the same check does find
	// identities, so the assertion above can fail.
	g := newFake(t)
	cfg := g.cfg
	cfg.Pseudonymize = false
	res, err = g.review(t, cfg)
	if err != nil || len(res.Failed()) != 0 {
		t.Fatalf("err %v, calls %+v", err, res.Calls)
	}
	body := g.api.Requests().All()[0].Body
	if !strings.Contains(body, "dave.kim@acme.com") || !strings.Contains(body, "Dave Kim") {
		t.Errorf("identities absent with pseudonymisation off: %s", body)
	}
	if len(res.Pseudonyms) != 0 {
		t.Errorf("pseudonyms without pseudonymisation: %+v", res.Pseudonyms)
	}
	if len(res.Findings) != 2 || res.Findings[0].UserLogin != "ivan.petrov@acme.com" {
		t.Errorf("findings by login: %+v", res.Findings)
	}
}

func TestScrubKeepsOtherWords(t *testing.T) {
	snap, _ := fixture()
	snap.Users[1].FirstName = "Ann" // alice becomes "Ann Chen"
	ix := newIndex(snap, true)
	sc := ix.scope("NetSuite", ix.rows("NetSuite"))
	got := sc.scrub("Annual review: Ann Chen (ALICE.CHEN@ACME.COM) and Kim, Dave approve; Kimberly stays.")
	want := "Annual review: user-0001 (user-0001) and user-0002 approve; Kimberly stays."
	if got != want {
		t.Errorf("scrub = %q\nwant    %q", got, want)
	}
	if sc.unscrub("user-0003 and user-0002, not user-9999") != "ivan.petrov@acme.com and dave.kim@acme.com, not user-9999" {
		t.Errorf("unscrub = %q", sc.unscrub("user-0003 and user-0002, not user-9999"))
	}
}

func TestInvalidJSONAnswerFailsOnlyThatSystem(t *testing.T) {
	f := newFake(t)
	f.api.InvalidJSON(1)
	res, err := f.review(t, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, wd := callOf(t, res, "NetSuite"), callOf(t, res, "Workday")
	if !strings.Contains(ns.Err, "ai: NetSuite: ") || !strings.Contains(ns.Err, "JSON") {
		t.Errorf("NetSuite err = %q", ns.Err)
	}
	if wd.Err != "" || wd.Findings != 1 {
		t.Errorf("Workday call = %+v", wd)
	}
	for _, fd := range res.Findings {
		if fd.System == "NetSuite" {
			t.Errorf("finding from a rejected answer: %+v", fd)
		}
	}
	for _, d := range res.Disagreements {
		if d.System == "NetSuite" {
			t.Errorf("disagreement from a rejected answer: %+v", d)
		}
	}
}

func TestOffSchemaAnswerRejected(t *testing.T) {
	f := newFake(t)
	f.api.OffSchema(1)
	res, err := f.review(t, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := callOf(t, res, "NetSuite")
	for _, want := range []string{`user "nobody@example.invalid" is not in the NetSuite access list`, `dismissed[0]`} {
		if !strings.Contains(ns.Err, want) {
			t.Errorf("NetSuite err = %q, want it to contain %q", ns.Err, want)
		}
	}
	if len(res.Findings) != 1 || res.Findings[0].System != "Workday" {
		t.Errorf("findings = %+v", res.Findings)
	}
}

func TestAnswerValidation(t *testing.T) {
	cases := []struct {
		name, answer, want string
	}{
		{"bad risk", `{"findings":[{"user":"user-0002","groups":["SOX-NetSuite-Admins"],"risk":"CRITICAL","title":"t","rationale":"r","recommendation":""}],"dismissed":[]}`, `risk "CRITICAL"`},
		{"lower-case risk", `{"findings":[{"user":"user-0002","groups":["SOX-NetSuite-Admins"],"risk":"high","title":"t","rationale":"r","recommendation":""}],"dismissed":[]}`, `risk "high"`},
		{"user of another system", `{"findings":[{"user":"user-0005","groups":["SOX-NetSuite-Admins"],"risk":"LOW","title":"t","rationale":"r","recommendation":""}],"dismissed":[]}`, `user "user-0005" is not in the NetSuite access list`},
		{"real login instead of token", `{"findings":[{"user":"dave.kim@acme.com","groups":["SOX-NetSuite-Admins"],"risk":"LOW","title":"t","rationale":"r","recommendation":""}],"dismissed":[]}`, `is not in the NetSuite access list`},
		{"unknown group", `{"findings":[{"user":"user-0002","groups":["SOX-NetSuite-Root"],"risk":"LOW","title":"t","rationale":"r","recommendation":""}],"dismissed":[]}`, `group "SOX-NetSuite-Root" is not a group of NetSuite`},
		{"group not held", `{"findings":[{"user":"user-0002","groups":["SOX-NetSuite-Approvers"],"risk":"LOW","title":"t","rationale":"r","recommendation":""}],"dismissed":[]}`, `user-0002 is not a member of SOX-NetSuite-Approvers`},
		{"empty rationale", `{"findings":[{"user":"user-0002","groups":["SOX-NetSuite-Admins"],"risk":"LOW","title":"t","rationale":"  ","recommendation":""}],"dismissed":[]}`, `rationale is empty`},
		{"no groups", `{"findings":[{"user":"user-0002","groups":[],"risk":"LOW","title":"t","rationale":"r","recommendation":""}],"dismissed":[]}`, `groups is empty`},
		{"missing field", `{"findings":[{"user":"user-0002","groups":["SOX-NetSuite-Admins"],"risk":"LOW","rationale":"r"}],"dismissed":[]}`, `are required`},
		{"extra field", `{"findings":[],"dismissed":[],"verdict":"fine"}`, `unknown field "verdict"`},
		{"missing dismissed", `{"findings":[]}`, `"dismissed" are required`},
		{"unknown rule dismissed", `{"findings":[],"dismissed":[{"user":"user-0002","rule_id":"contractor","rationale":"r"}]}`, `no rule finding "contractor" for user-0002`},
		{"not an object", `["findings"]`, `not a JSON object`},
		{"trailing garbage inside", `{"findings":[{"user":"user-0002","groups":["SOX-NetSuite-Admins"],"risk":"LOW","title":"t","rationale":"r","recommendation":"","extra":1}],"dismissed":[]}`, `unknown field "extra"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			f.api.SetAnswer(json.RawMessage(c.answer))
			res, err := f.review(t, f.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ns := callOf(t, res, "NetSuite")
			if !strings.Contains(ns.Err, c.want) {
				t.Errorf("err = %q, want it to contain %q", ns.Err, c.want)
			}
			for _, fd := range res.Findings {
				if fd.System == "NetSuite" {
					t.Errorf("finding kept from a rejected answer: %+v", fd)
				}
			}
		})
	}
}

func TestRefusal(t *testing.T) {
	f := newFake(t)
	f.api.Refuse(1)
	res, err := f.review(t, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := callOf(t, res, "NetSuite")
	if ns.StopReason != "refusal" || !strings.Contains(ns.Err, "refused") || ns.RequestID == "" {
		t.Errorf("NetSuite call = %+v", ns)
	}
	if wd := callOf(t, res, "Workday"); wd.Err != "" {
		t.Errorf("Workday call = %+v", wd)
	}
}

func TestOverloadStormGivesUpAfterRetries(t *testing.T) {
	f := newFake(t)
	f.api.Overload(3, "0") // MaxRetries 2: all three attempts of the first system see 529
	res, err := f.review(t, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := callOf(t, res, "NetSuite")
	for _, want := range []string{"anthropic: POST " + f.srv.URL + "/v1/messages: HTTP 529 overloaded_error: Overloaded", "gave up after 3 attempts", "system NetSuite"} {
		if !strings.Contains(ns.Err, want) {
			t.Errorf("err = %q, want %q", ns.Err, want)
		}
	}
	if ns.Attempts != 3 || ns.RequestID == "" {
		t.Errorf("call = %+v", ns)
	}
	if wd := callOf(t, res, "Workday"); wd.Err != "" || wd.Attempts != 1 {
		t.Errorf("Workday call = %+v", wd)
	}
	if n := f.api.Requests().Count("POST", "/v1/messages"); n != 4 {
		t.Errorf("requests = %d, want 4", n)
	}
}

func TestRateLimitRetriedThenSucceeds(t *testing.T) {
	f := newFake(t)
	f.api.RateLimit(1, "0")
	f.api.Overload(1, "0")
	res, err := f.review(t, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed()) != 0 || len(res.Findings) != 2 {
		t.Fatalf("calls %+v findings %+v", res.Calls, res.Findings)
	}
	if ns := callOf(t, res, "NetSuite"); ns.Attempts != 3 {
		t.Errorf("NetSuite attempts = %d, want 3", ns.Attempts)
	}
	statuses := []int{}
	for _, r := range f.api.Requests().All() {
		statuses = append(statuses, r.Status)
	}
	if !slices.Equal(statuses, []int{429, 529, 200, 200}) {
		t.Errorf("statuses = %v", statuses)
	}
}

func TestAuthRefusedStopsAndNamesVariable(t *testing.T) {
	f := newFake(t)
	cfg := f.cfg
	cfg.APIKey = "sk-ant-wrong-SECRET-9876"
	res, err := f.review(t, cfg)
	if err == nil {
		t.Fatal("want an error")
	}
	if !httpx.IsAuth(err) {
		t.Errorf("IsAuth false for %v", err)
	}
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Service != "anthropic" || se.Status != 401 || se.Code != "authentication_error" {
		t.Errorf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), KeyEnv) || !strings.Contains(se.Hint, KeyEnv) {
		t.Errorf("error does not name %s: %v / %q", KeyEnv, err, se.Hint)
	}
	out, _ := json.Marshal(res)
	for _, s := range []string{err.Error(), se.Hint, se.URL, string(out)} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("the key leaked: %s", s)
		}
	}
	if n := len(f.api.Requests().All()); n != 1 {
		t.Errorf("requests after a 401 = %d, want 1 (no retry, no further system)", n)
	}
	if len(res.Calls) != 1 || res.Calls[0].Err == "" {
		t.Errorf("calls = %+v", res.Calls)
	}
}

func TestEnvironmentIsIgnored(t *testing.T) {
	var mu sync.Mutex
	hits := 0
	decoy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		w.WriteHeader(500)
	}))
	defer decoy.Close()
	t.Setenv("ANTHROPIC_BASE_URL", decoy.URL)
	t.Setenv("ANTHROPIC_API_KEY", "env-key-SECRET")
	t.Setenv("ANTHROPIC_AUTH_TOKEN", "env-token-SECRET")
	t.Setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Leak: yes")

	f := newFake(t)
	res, err := f.review(t, f.cfg)
	if err != nil || len(res.Failed()) != 0 {
		t.Fatalf("err %v calls %+v", err, res.Calls)
	}
	if hits != 0 {
		t.Errorf("ANTHROPIC_BASE_URL redirected %d requests", hits)
	}

	// Without a configured base URL the production endpoint is used, not
	// the environment's; the transport records where it was sent and the
	// key it carried, without going anywhere.
	var gotHost, gotKey, gotAuth, gotLeak string
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		gotHost, gotKey, gotAuth, gotLeak = r.URL.Host, r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"), r.Header.Get("X-Leak")
		return nil, errors.New("offline")
	})}
	cfg := f.cfg
	cfg.BaseURL = ""
	cfg.MaxRetries = -1
	snap, rules := fixture()
	res, err = Review(context.Background(), cfg, hc, snap, rules)
	if err != nil {
		t.Fatal(err)
	}
	if gotHost != "api.anthropic.com" || gotKey != testKey || gotAuth != "" || gotLeak != "" {
		t.Errorf("sent to %q with key %q auth %q leak %q", gotHost, gotKey, gotAuth, gotLeak)
	}
	if c := res.Calls[0]; !strings.Contains(c.Err, "offline") || c.Attempts != 1 || strings.Contains(c.Err, "SECRET") {
		t.Errorf("call = %+v", c)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDeterministic(t *testing.T) {
	run := func(shuffle bool) ([]string, []byte) {
		f := newFake(t)
		snap, rules := fixture()
		if shuffle {
			slices.Reverse(snap.Users)
			slices.Reverse(snap.Groups)
			slices.Reverse(snap.Memberships)
			slices.Reverse(rules)
		}
		res, err := Review(context.Background(), f.cfg, f.srv.Client(), snap, rules)
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, r := range f.api.Requests().All() {
			bodies = append(bodies, r.Body)
		}
		out, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		return bodies, out
	}
	b1, r1 := run(false)
	b2, r2 := run(false)
	b3, r3 := run(true)
	if !slices.Equal(b1, b2) || !slices.Equal(b1, b3) {
		t.Errorf("request bodies differ between runs:\n%v\n%v", b1, b3)
	}
	if string(r1) != string(r2) || string(r1) != string(r3) {
		t.Errorf("results differ:\n%s\n%s", r1, r3)
	}
}

func TestReadyAndValidate(t *testing.T) {
	ok, why := Config{}.Ready()
	if ok || !strings.Contains(why, KeyEnv) {
		t.Errorf("Ready() = %v, %q", ok, why)
	}
	if ok, _ := (Config{APIKey: "k"}).Ready(); !ok {
		t.Error("Ready false with a key")
	}
	snap, rules := fixture()
	if _, err := Review(context.Background(), Config{}, http.DefaultClient, snap, rules); err == nil || !strings.Contains(err.Error(), KeyEnv) {
		t.Errorf("Review without key: %v", err)
	}
	for _, bad := range []Config{
		{APIKey: "k", BaseURL: "http://api.example.com"},
		{APIKey: "k", BaseURL: "https://user:pw@api.example.com"},
		{APIKey: "k", MaxTokens: -1},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
		if _, err := Review(context.Background(), bad, http.DefaultClient, snap, rules); err == nil {
			t.Errorf("Review(%+v) = nil error", bad)
		}
	}
	if err := (Config{BaseURL: "http://127.0.0.1:8080"}).Validate(); err != nil {
		t.Errorf("loopback http rejected: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	f := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	snap, rules := fixture()
	_, err := Review(ctx, f.cfg, f.srv.Client(), snap, rules)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestTitlesAreScrubbedAndLeakGuardRefusesToSend(t *testing.T) {
	f := newFake(t)
	snap, rules := fixture()
	snap.Users[1].Title = "Assistant to Bob Martin" // alice, in both systems
	// An identity hidden where nothing is scrubbed: a group name.
	snap.Groups[2].Name = "SOX-Workday-sara.lopez@acme.com"
	res, err := Review(context.Background(), f.cfg, f.srv.Client(), snap, rules)
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.api.Requests().All()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1 (Workday must not be sent)", len(reqs))
	}
	if strings.Contains(reqs[0].Body, "Martin") || !strings.Contains(reqs[0].Body, "Assistant to user-0004") {
		t.Errorf("title not scrubbed: %s", reqs[0].Body)
	}
	wd := callOf(t, res, "Workday")
	if !strings.Contains(wd.Err, "pseudonymisation incomplete") || !strings.Contains(wd.Err, "nothing was sent") || strings.Contains(wd.Err, "sara") {
		t.Errorf("Workday call = %+v", wd)
	}
}

// A redirect off the configured origin is refused before the key leaves
// the process, and stops the pass with an *httpx.OriginError.
func TestRedirectOffOriginRefused(t *testing.T) {
	var stolen atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		t.Errorf("attacker got x-api-key %q", r.Header.Get("X-Api-Key"))
	}))
	defer evil.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	cfg := Config{BaseURL: srv.URL, APIKey: testKey, Pseudonymize: true, MaxRetries: -1, Timeout: 10 * time.Second}
	snap, rules := fixture()
	res, err := Review(context.Background(), cfg, srv.Client(), snap, rules)
	var oe *httpx.OriginError
	if !errors.As(err, &oe) || oe.Service != "anthropic" || httpx.IsAuth(err) {
		t.Fatalf("err = %v, want an *httpx.OriginError", err)
	}
	if len(res.Calls) != 1 || !strings.Contains(res.Calls[0].Err, "refused redirect") || strings.Contains(res.Calls[0].Err, testKey) {
		t.Errorf("calls %+v", res.Calls)
	}
	if stolen.Load() != 0 {
		t.Fatal("the key reached another origin")
	}
}
