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

const anthropicTestKey = "sk-ant-sandbox-key"

func anthropicTestServer(t *testing.T) (*Anthropic, *httptest.Server) {
	t.Helper()
	a := NewAnthropic(AnthropicOptions{APIKey: anthropicTestKey, Clock: func() time.Time {
		return time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	}})
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, srv
}

type anthropicTestResp struct {
	status  int
	header  http.Header
	decoded map[string]any
	raw     string
}

func anthropicPost(t *testing.T, srv *httptest.Server, path, key, version, body string) anthropicTestResp {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	if version != "" {
		req.Header.Set("anthropic-version", version)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("response is not JSON: %s", raw)
	}
	return anthropicTestResp{status: res.StatusCode, header: res.Header, decoded: m, raw: string(raw)}
}

func anthropicErrType(r anthropicTestResp) string {
	e, _ := r.decoded["error"].(map[string]any)
	t, _ := e["type"].(string)
	return t
}

const anthropicPromptBody = `{"model":"claude-sonnet-5-5","max_tokens":1024,
 "system":[{"type":"text","text":"brief"}],
 "messages":[{"role":"user","content":[{"type":"text","text":"{\"access\":[` +
	`{\"user\":\"user-0001\",\"group\":\"SOX-NetSuite-Admins\",\"department\":\"Internal Audit\",\"title\":\"Auditor\",\"user_type\":\"Employee\",\"status\":\"ACTIVE\"},` +
	`{\"user\":\"user-0002\",\"group\":\"SOX-NetSuite-Admins\",\"department\":\"Finance\",\"title\":\"ERP Consultant\",\"user_type\":\"Contractor\",\"status\":\"ACTIVE\"},` +
	`{\"user\":\"user-0003\",\"group\":\"SOX-NetSuite-Users\",\"department\":\"Sales\",\"title\":\"Rep\",\"user_type\":\"Employee\",\"status\":\"SUSPENDED\"}],` +
	`\"rule_findings\":[{\"rule_id\":\"SOD-1\",\"user\":\"user-0001\"},{\"rule_id\":\"contractor\",\"user\":\"user-0002\"}]}"}]}]`

func anthropicWith(extra string) string {
	return anthropicPromptBody + "," + extra + "}"
}

func TestAnthropicAuthAndVersion(t *testing.T) {
	a, srv := anthropicTestServer(t)
	body := anthropicWith(`"stream":false`)

	r := anthropicPost(t, srv, "/v1/messages", "", "2023-06-01", body)
	if r.status != 401 || anthropicErrType(r) != "authentication_error" || r.decoded["type"] != "error" {
		t.Errorf("no key: %d %s", r.status, r.raw)
	}
	if id := r.header.Get("request-id"); id == "" || r.decoded["request_id"] != id {
		t.Errorf("request id header %q body %v", id, r.decoded["request_id"])
	}
	r = anthropicPost(t, srv, "/v1/messages", "wrong", "2023-06-01", body)
	if r.status != 401 || !strings.Contains(r.raw, "invalid x-api-key") {
		t.Errorf("wrong key: %d %s", r.status, r.raw)
	}
	r = anthropicPost(t, srv, "/v1/messages", anthropicTestKey, "", body)
	if r.status != 400 || anthropicErrType(r) != "invalid_request_error" || !strings.Contains(r.raw, "anthropic-version") {
		t.Errorf("no version: %d %s", r.status, r.raw)
	}
	r = anthropicPost(t, srv, "/v1/nothing", anthropicTestKey, "2023-06-01", body)
	if r.status != 404 || anthropicErrType(r) != "not_found_error" {
		t.Errorf("unknown path: %d %s", r.status, r.raw)
	}
	r = anthropicPost(t, srv, "/v1/messages", anthropicTestKey, "2023-06-01", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	if r.status != 400 || !strings.Contains(r.raw, "max_tokens") {
		t.Errorf("no max_tokens: %d %s", r.status, r.raw)
	}
	r = anthropicPost(t, srv, "/v1/messages", anthropicTestKey, "2023-06-01", anthropicWith(`"tool_choice":{"type":"tool","name":"absent"}`))
	if r.status != 400 || !strings.Contains(r.raw, "absent") {
		t.Errorf("unknown forced tool: %d %s", r.status, r.raw)
	}
	r = anthropicPost(t, srv, "/v1/messages", anthropicTestKey, "2023-06-01", body)
	if r.status != 200 || r.decoded["stop_reason"] != "end_turn" {
		t.Errorf("plain request: %d %s", r.status, r.raw)
	}

	reqs := a.Requests().All()
	if len(reqs) != 7 || reqs[0].Status != 401 || reqs[2].Status != 400 || reqs[6].Status != 200 || reqs[6].Body != body {
		t.Errorf("log = %+v", reqs)
	}
	for _, rq := range reqs {
		if strings.Contains(rq.Body, anthropicTestKey) || strings.Contains(rq.Query, anthropicTestKey) {
			t.Error("the key was logged")
		}
	}
}

const anthropicToolExtra = `"tools":[{"name":"record_access_review","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"tool","name":"record_access_review"}`

type anthropicTestAnswer struct {
	Findings []struct {
		User   string   `json:"user"`
		Groups []string `json:"groups"`
		Risk   string   `json:"risk"`
	} `json:"findings"`
	Dismissed []struct {
		User   string `json:"user"`
		RuleID string `json:"rule_id"`
	} `json:"dismissed"`
}

func TestAnthropicForcedToolAnswer(t *testing.T) {
	_, srv := anthropicTestServer(t)
	r := anthropicPost(t, srv, "/v1/messages", anthropicTestKey, "2023-06-01", anthropicWith(anthropicToolExtra))
	if r.status != 200 || r.decoded["stop_reason"] != "tool_use" || r.decoded["type"] != "message" || r.decoded["model"] != "claude-sonnet-5-5" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	usage := r.decoded["usage"].(map[string]any)
	if usage["input_tokens"].(float64) <= 0 || usage["output_tokens"].(float64) <= 0 {
		t.Errorf("usage = %v", usage)
	}
	content := r.decoded["content"].([]any)
	block := content[0].(map[string]any)
	if block["type"] != "tool_use" || block["name"] != "record_access_review" || !strings.HasPrefix(block["id"].(string), "toolu_") {
		t.Fatalf("block = %v", block)
	}
	in, _ := json.Marshal(block["input"])
	var ans anthropicTestAnswer
	if err := json.Unmarshal(in, &ans); err != nil {
		t.Fatal(err)
	}
	// user-0001 works in Internal Audit ("intern" must not match); user-0002
	// is a contractor in an admin group; user-0003 is suspended.
	if len(ans.Findings) != 2 || ans.Findings[0].User != "user-0002" || ans.Findings[0].Risk != "HIGH" ||
		ans.Findings[1].User != "user-0003" || ans.Findings[1].Risk != "MEDIUM" {
		t.Errorf("findings = %+v", ans.Findings)
	}
	if len(ans.Dismissed) != 1 || ans.Dismissed[0].User != "user-0001" || ans.Dismissed[0].RuleID != "SOD-1" {
		t.Errorf("dismissed = %+v", ans.Dismissed)
	}

	// Same request, same answer.
	r2 := anthropicPost(t, srv, "/v1/messages", anthropicTestKey, "2023-06-01", anthropicWith(anthropicToolExtra))
	in2, _ := json.Marshal(r2.decoded["content"].([]any)[0].(map[string]any)["input"])
	if string(in) != string(in2) {
		t.Errorf("answers differ:\n%s\n%s", in, in2)
	}
}

func TestAnthropicStructuredOutput(t *testing.T) {
	_, srv := anthropicTestServer(t)
	r := anthropicPost(t, srv, "/v1/messages", anthropicTestKey, "2023-06-01",
		anthropicWith(`"output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}}`))
	if r.status != 200 || r.decoded["stop_reason"] != "end_turn" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	block := r.decoded["content"].([]any)[0].(map[string]any)
	var ans anthropicTestAnswer
	if block["type"] != "text" || json.Unmarshal([]byte(block["text"].(string)), &ans) != nil || len(ans.Findings) != 2 {
		t.Errorf("block = %v", block)
	}
}

func TestAnthropicFaultQueue(t *testing.T) {
	a, srv := anthropicTestServer(t)
	a.RateLimit(1, "2")
	a.Overload(2, "0")
	a.Refuse(1)
	a.InvalidJSON(1)
	a.OffSchema(1)
	body := anthropicWith(anthropicToolExtra)
	post := func() anthropicTestResp {
		return anthropicPost(t, srv, "/v1/messages", anthropicTestKey, "2023-06-01", body)
	}

	// An unauthenticated request does not consume a fault.
	if r := anthropicPost(t, srv, "/v1/messages", "", "2023-06-01", body); r.status != 401 {
		t.Fatalf("no key: %d", r.status)
	}
	r := post()
	if r.status != 429 || anthropicErrType(r) != "rate_limit_error" || r.header.Get("retry-after") != "2" {
		t.Errorf("1st: %d %v %s", r.status, r.header, r.raw)
	}
	for i := 0; i < 2; i++ {
		r = post()
		if r.status != 529 || anthropicErrType(r) != "overloaded_error" || r.header.Get("retry-after") != "0" || !strings.Contains(r.raw, `"message":"Overloaded"`) {
			t.Errorf("529 #%d: %d %s", i, r.status, r.raw)
		}
	}
	r = post()
	if r.status != 200 || r.decoded["stop_reason"] != "refusal" {
		t.Errorf("refusal: %d %s", r.status, r.raw)
	}
	r = post()
	input := r.decoded["content"].([]any)[0].(map[string]any)["input"]
	if s, ok := input.(string); !ok || json.Valid([]byte(s)) {
		t.Errorf("invalid JSON fault: input %#v", input)
	}
	r = post()
	in, _ := json.Marshal(r.decoded["content"].([]any)[0].(map[string]any)["input"])
	if !strings.Contains(string(in), "CRITICAL") {
		t.Errorf("off-schema fault: %s", in)
	}
	r = post()
	if r.status != 200 || r.decoded["stop_reason"] != "tool_use" {
		t.Errorf("after faults: %d %s", r.status, r.raw)
	}

	a.Overload(5, "0")
	a.ClearFaults()
	if r := post(); r.status != 200 {
		t.Errorf("after ClearFaults: %d", r.status)
	}

	a.SetAnswer(json.RawMessage(`{"findings":[],"dismissed":[]}`))
	r = post()
	in, _ = json.Marshal(r.decoded["content"].([]any)[0].(map[string]any)["input"])
	if string(in) != `{"dismissed":[],"findings":[]}` {
		t.Errorf("scripted answer: %s", in)
	}
	a.SetAnswer(nil)
	r = post()
	in, _ = json.Marshal(r.decoded["content"].([]any)[0].(map[string]any)["input"])
	if !strings.Contains(string(in), "user-0002") {
		t.Errorf("computed answer not restored: %s", in)
	}
}

func TestAnthropicLatencyEndsWithClient(t *testing.T) {
	a, srv := anthropicTestServer(t)
	a.SetLatency(time.Hour) // the request is abandoned long before
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(anthropicWith(anthropicToolExtra)))
	req.Header.Set("X-Api-Key", anthropicTestKey)
	req.Header.Set("anthropic-version", "2023-06-01")
	hc := &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := hc.Do(req); err == nil {
		t.Fatal("want a client timeout")
	}
	srv.Close() // waits for the handler: it must return without the hour
	if reqs := a.Requests().All(); len(reqs) != 1 || reqs[0].Status != 499 {
		t.Errorf("log = %+v", reqs)
	}
}
