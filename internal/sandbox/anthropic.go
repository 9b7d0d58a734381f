package sandbox

// This file is the fake Anthropic Messages API (reference/atlassian-slack-
// anthropic.md §4). It answers POST /v1/messages the way the real service
// does on the wire: x-api-key and anthropic-version are required, errors use
// the {"type":"error","error":{...},"request_id":...} envelope, every
// response carries a request-id header, and usage is counted. Answers are
// computed deterministically from the request, so the same request always
// gets the same answer; faults (429, 529 storms, malformed answers,
// refusals, latency) are injected from Go at run time.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// AnthropicOptions configures the fake Anthropic API.
type AnthropicOptions struct {
	// APIKey is the only key accepted in x-api-key. Empty accepts any
	// non-empty key.
	APIKey string
	// Clock stamps rate-limit reset headers; nil uses the real clock.
	Clock Clock
}

// Anthropic is a fake Anthropic Messages API (an http.Handler). It is safe
// for concurrent use; fault injection may happen while requests are served.
type Anthropic struct {
	opts AnthropicOptions
	log  RequestLog

	mu      sync.Mutex
	seq     int // request counter: request ids, message ids
	faults  []anthropicFault
	latency time.Duration
	answer  json.RawMessage // scripted answer replacing the computed one
}

// AnthropicFaultKind names one kind of injected fault.
type AnthropicFaultKind string

// Fault kinds understood by the fake.
const (
	// AnthropicRateLimit answers 429 rate_limit_error with retry-after.
	AnthropicRateLimit AnthropicFaultKind = "rate_limit"
	// AnthropicOverloaded answers 529 overloaded_error (a "529 storm" when
	// repeated).
	AnthropicOverloaded AnthropicFaultKind = "overloaded"
	// AnthropicInvalidJSON answers 200 with an answer that is not valid
	// JSON: the tool input (or structured-output text) is truncated JSON.
	AnthropicInvalidJSON AnthropicFaultKind = "invalid_json"
	// AnthropicOffSchema answers 200 with well-formed JSON that violates
	// the requested schema (unknown risk, unknown user, empty rationale).
	AnthropicOffSchema AnthropicFaultKind = "off_schema"
	// AnthropicRefusal answers 200 with stop_reason "refusal".
	AnthropicRefusal AnthropicFaultKind = "refusal"
)

type anthropicFault struct {
	kind       AnthropicFaultKind
	left       int
	retryAfter string
}

// NewAnthropic returns a fake Anthropic API.
func NewAnthropic(o AnthropicOptions) *Anthropic { return &Anthropic{opts: o} }

// Requests returns the log of every request received, including rejected
// ones. Headers (and so the API key) are not kept.
func (a *Anthropic) Requests() *RequestLog { return &a.log }

// Inject queues n occurrences of a fault. Faults are consumed in the order
// they were queued, one per authenticated request, so RateLimit(2) followed
// by Overload(3) yields two 429s then three 529s. retryAfter is sent as
// the retry-after header for 429/529 when non-empty (tests use "0" to keep
// the SDK's backoff instant).
func (a *Anthropic) Inject(kind AnthropicFaultKind, n int, retryAfter string) {
	if n <= 0 {
		return
	}
	a.mu.Lock()
	a.faults = append(a.faults, anthropicFault{kind: kind, left: n, retryAfter: retryAfter})
	a.mu.Unlock()
}

// RateLimit queues n 429 rate_limit_error answers.
func (a *Anthropic) RateLimit(n int, retryAfter string) { a.Inject(AnthropicRateLimit, n, retryAfter) }

// Overload queues n 529 overloaded_error answers.
func (a *Anthropic) Overload(n int, retryAfter string) { a.Inject(AnthropicOverloaded, n, retryAfter) }

// InvalidJSON queues n answers whose JSON is malformed.
func (a *Anthropic) InvalidJSON(n int) { a.Inject(AnthropicInvalidJSON, n, "") }

// OffSchema queues n answers that do not match the requested schema.
func (a *Anthropic) OffSchema(n int) { a.Inject(AnthropicOffSchema, n, "") }

// Refuse queues n refusals (stop_reason "refusal").
func (a *Anthropic) Refuse(n int) { a.Inject(AnthropicRefusal, n, "") }

// ClearFaults drops every queued fault.
func (a *Anthropic) ClearFaults() {
	a.mu.Lock()
	a.faults = nil
	a.mu.Unlock()
}

// SetLatency delays every answer by d (the wait ends early if the client
// goes away).
func (a *Anthropic) SetLatency(d time.Duration) {
	a.mu.Lock()
	a.latency = d
	a.mu.Unlock()
}

// SetAnswer makes every later successful answer carry input verbatim as the
// tool input (or structured-output text) instead of the computed answer;
// nil restores the computed answer.
func (a *Anthropic) SetAnswer(input json.RawMessage) {
	a.mu.Lock()
	a.answer = append(json.RawMessage(nil), input...)
	if input == nil {
		a.answer = nil
	}
	a.mu.Unlock()
}

// anthropicRequest is the part of a Messages request the fake reads.
type anthropicRequest struct {
	Model     string          `json:"model"`
	MaxTokens int64           `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Name        string          `json:"name"`
		Type        string          `json:"type"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
	ToolChoice *struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tool_choice"`
	OutputConfig *struct {
		Format *struct {
			Type   string          `json:"type"`
			Schema json.RawMessage `json:"schema"`
		} `json:"format"`
	} `json:"output_config"`
	Stream bool `json:"stream"`
}

func (a *Anthropic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := readBody(r)
	a.mu.Lock()
	a.seq++
	n := a.seq
	latency := a.latency
	a.mu.Unlock()
	reqID := fmt.Sprintf("req_sandbox%08d", n)
	w.Header().Set("request-id", reqID)

	status := a.serve(w, r, body, n, reqID, latency)
	a.log.Add(Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body), Status: status})
}

// serve answers one request and returns the status it sent.
func (a *Anthropic) serve(w http.ResponseWriter, r *http.Request, body []byte, n int, reqID string, latency time.Duration) int {
	if r.URL.Path != "/v1/messages" {
		return anthropicError(w, reqID, http.StatusNotFound, "not_found_error", "Not found", "")
	}
	if r.Method != http.MethodPost {
		return anthropicError(w, reqID, http.StatusMethodNotAllowed, "invalid_request_error", "Method Not Allowed", "")
	}
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		return anthropicError(w, reqID, http.StatusUnauthorized, "authentication_error", "x-api-key header is required", "")
	}
	if a.opts.APIKey != "" && key != a.opts.APIKey {
		return anthropicError(w, reqID, http.StatusUnauthorized, "authentication_error", "invalid x-api-key", "")
	}
	if r.Header.Get("Anthropic-Version") == "" {
		return anthropicError(w, reqID, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required", "")
	}

	var req anthropicRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return anthropicError(w, reqID, http.StatusBadRequest, "invalid_request_error", "There was an error parsing the body of your request: "+err.Error(), "")
	}
	if msg := anthropicValidate(&req); msg != "" {
		return anthropicError(w, reqID, http.StatusBadRequest, "invalid_request_error", msg, "")
	}

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return 499 // client went away; nothing is written
		}
	}

	fault := a.nextFault()
	switch fault.kind {
	case AnthropicRateLimit:
		return anthropicError(w, reqID, http.StatusTooManyRequests, "rate_limit_error",
			"Number of request tokens has exceeded your per-minute rate limit", fault.retryAfter)
	case AnthropicOverloaded:
		return anthropicError(w, reqID, 529, "overloaded_error", "Overloaded", fault.retryAfter)
	}

	a.mu.Lock()
	scripted := a.answer
	a.mu.Unlock()
	answer := scripted
	if answer == nil {
		answer = anthropicComputeAnswer(&req)
	}
	switch fault.kind {
	case AnthropicOffSchema:
		answer = json.RawMessage(`{"findings":[{"user":"nobody@example.invalid","groups":["No-Such-Group"],"risk":"CRITICAL","title":"","rationale":"","recommendation":""}],"dismissed":[{"user":"","rule_id":"NO-SUCH-RULE","rationale":""}]}`)
	case AnthropicInvalidJSON:
		// Cut the answer mid-way: what a truncated generation looks like.
		answer = answer[:len(answer)/2]
	}

	msg := anthropicMessage{
		ID:    fmt.Sprintf("msg_sandbox%08d", n),
		Type:  "message",
		Role:  "assistant",
		Model: req.Model,
	}
	forced := anthropicForcedTool(&req)
	switch {
	case fault.kind == AnthropicRefusal:
		msg.StopReason = "refusal"
		msg.Content = []map[string]any{{"type": "text", "text": "I can't help with that request."}}
	case forced != "":
		var input any = answer
		if fault.kind == AnthropicInvalidJSON || !json.Valid(answer) {
			// The API parses tool input server-side; a malformed one can
			// only reach the client as a string.
			input = string(answer)
		}
		msg.StopReason = "tool_use"
		msg.Content = []map[string]any{{
			"type": "tool_use", "id": fmt.Sprintf("toolu_sandbox%08d", n), "name": forced, "input": input,
		}}
	case req.OutputConfig != nil && req.OutputConfig.Format != nil && req.OutputConfig.Format.Type == "json_schema":
		msg.StopReason = "end_turn"
		msg.Content = []map[string]any{{"type": "text", "text": string(answer)}}
	default:
		msg.StopReason = "end_turn"
		msg.Content = []map[string]any{{"type": "text", "text": "Reviewed the access list; see the findings for details."}}
	}
	out, _ := json.Marshal(msg.Content)
	msg.Usage = anthropicUsage{
		InputTokens:  int64(len(body)/4 + 1),
		OutputTokens: int64(len(out)/4 + 1),
		ServiceTier:  "standard",
	}

	h := w.Header()
	h.Set("anthropic-ratelimit-requests-limit", "4000")
	h.Set("anthropic-ratelimit-requests-remaining", "3999")
	h.Set("anthropic-ratelimit-requests-reset", a.opts.Clock.now().Add(time.Minute).Format(time.RFC3339))
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(msg)
	return http.StatusOK
}

func (a *Anthropic) nextFault() anthropicFault {
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.faults) > 0 && a.faults[0].left <= 0 {
		a.faults = a.faults[1:]
	}
	if len(a.faults) == 0 {
		return anthropicFault{}
	}
	a.faults[0].left--
	return a.faults[0]
}

type anthropicMessage struct {
	ID           string           `json:"id"`
	Type         string           `json:"type"`
	Role         string           `json:"role"`
	Model        string           `json:"model"`
	Content      []map[string]any `json:"content"`
	StopReason   string           `json:"stop_reason"`
	StopSequence *string          `json:"stop_sequence"`
	Usage        anthropicUsage   `json:"usage"`
}

type anthropicUsage struct {
	InputTokens              int64  `json:"input_tokens"`
	OutputTokens             int64  `json:"output_tokens"`
	CacheCreationInputTokens int64  `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64  `json:"cache_read_input_tokens"`
	ServiceTier              string `json:"service_tier"`
}

// anthropicError writes the API's error envelope.
func anthropicError(w http.ResponseWriter, reqID string, status int, typ, msg, retryAfter string) int {
	if retryAfter != "" {
		w.Header().Set("retry-after", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":       "error",
		"error":      map[string]string{"type": typ, "message": msg},
		"request_id": reqID,
	})
	return status
}

// anthropicValidate mirrors the API's 400 checks that matter to uar.
func anthropicValidate(req *anthropicRequest) string {
	switch {
	case req.Model == "":
		return "model: Field required"
	case req.MaxTokens <= 0:
		return "max_tokens: Field required"
	case len(req.Messages) == 0:
		return "messages: Field required"
	case req.Stream:
		return "stream: not supported by the sandbox"
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
	}
	if req.ToolChoice != nil && req.ToolChoice.Type == "tool" {
		found := false
		for _, t := range req.Tools {
			if t.Name == req.ToolChoice.Name {
				found = len(t.InputSchema) > 0
			}
		}
		if !found {
			return fmt.Sprintf("tool_choice: tool %q not found in tools", req.ToolChoice.Name)
		}
	}
	return ""
}

// anthropicForcedTool returns the tool the answer must use, or "".
func anthropicForcedTool(req *anthropicRequest) string {
	if req.ToolChoice == nil {
		return ""
	}
	switch req.ToolChoice.Type {
	case "tool":
		return req.ToolChoice.Name
	case "any":
		if len(req.Tools) > 0 {
			return req.Tools[0].Name
		}
	}
	return ""
}

// anthropicPrompt is the access review document uar sends as the last user
// message (internal/score/ai). The fake reads it to compute its answer.
type anthropicPrompt struct {
	Access []struct {
		User       string `json:"user"`
		Group      string `json:"group"`
		Department string `json:"department"`
		Title      string `json:"title"`
		UserType   string `json:"user_type"`
		Status     string `json:"status"`
	} `json:"access"`
	RuleFindings []struct {
		RuleID string `json:"rule_id"`
		User   string `json:"user"`
	} `json:"rule_findings"`
}

type anthropicAnswerFinding struct {
	User           string   `json:"user"`
	Groups         []string `json:"groups"`
	Risk           string   `json:"risk"`
	Title          string   `json:"title"`
	Rationale      string   `json:"rationale"`
	Recommendation string   `json:"recommendation"`
}

type anthropicAnswerDismissed struct {
	User      string `json:"user"`
	RuleID    string `json:"rule_id"`
	Rationale string `json:"rationale"`
}

// anthropicComputeAnswer builds a deterministic, schema-valid answer from
// the access list in the last user message: every user whose type,
// status, title or department suggests risk is flagged (HIGH when the
// access is administrative), and every rule finding about a user the fake
// does not flag is dismissed. An unreadable prompt yields empty lists.
func anthropicComputeAnswer(req *anthropicRequest) json.RawMessage {
	var p anthropicPrompt
	_ = json.Unmarshal([]byte(anthropicLastUserText(req)), &p)

	type flagged struct {
		reasons []string
		groups  []string
		admin   bool
	}
	byUser := map[string]*flagged{}
	var order []string
	for _, row := range p.Access {
		var reasons []string
		text := strings.ToLower(row.Title + " " + row.Department)
		switch {
		case strings.EqualFold(row.UserType, "contractor"):
			reasons = append(reasons, "a contractor")
		case anthropicHasWord(text, "contractor", "consultant", "vendor", "temp", "temporary", "intern"):
			reasons = append(reasons, fmt.Sprintf("title %q suggests temporary or external staff", row.Title))
		}
		if row.Status != "" && !strings.EqualFold(row.Status, "ACTIVE") {
			reasons = append(reasons, "in status "+row.Status)
		}
		if len(reasons) == 0 {
			continue
		}
		f := byUser[row.User]
		if f == nil {
			f = &flagged{}
			byUser[row.User] = f
			order = append(order, row.User)
		}
		for _, r := range reasons {
			if !slices.Contains(f.reasons, r) {
				f.reasons = append(f.reasons, r)
			}
		}
		if !slices.Contains(f.groups, row.Group) {
			f.groups = append(f.groups, row.Group)
		}
		if strings.Contains(strings.ToLower(row.Group), "admin") {
			f.admin = true
		}
	}

	ans := struct {
		Findings  []anthropicAnswerFinding   `json:"findings"`
		Dismissed []anthropicAnswerDismissed `json:"dismissed"`
	}{Findings: []anthropicAnswerFinding{}, Dismissed: []anthropicAnswerDismissed{}}
	for _, u := range order {
		f := byUser[u]
		slices.Sort(f.groups)
		risk := "MEDIUM"
		if f.admin {
			risk = "HIGH"
		}
		ans.Findings = append(ans.Findings, anthropicAnswerFinding{
			User:           u,
			Groups:         f.groups,
			Risk:           risk,
			Title:          "Access inconsistent with role",
			Rationale:      fmt.Sprintf("%s is %s and holds %s.", u, strings.Join(f.reasons, " and "), strings.Join(f.groups, ", ")),
			Recommendation: "Confirm the business need with the system owner or revoke.",
		})
	}
	for _, rf := range p.RuleFindings {
		if byUser[rf.User] != nil {
			continue
		}
		ans.Dismissed = append(ans.Dismissed, anthropicAnswerDismissed{
			User:      rf.User,
			RuleID:    rf.RuleID,
			Rationale: fmt.Sprintf("Nothing in %s's title, department or status suggests the access is inappropriate.", rf.User),
		})
	}
	out, _ := json.Marshal(ans)
	return out
}

// anthropicHasWord reports whether s holds one of words as a whole word
// ("intern" must not match "Internal Audit").
func anthropicHasWord(s string, words ...string) bool {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if slices.Contains(words, f) {
			return true
		}
	}
	return false
}

// anthropicLastUserText concatenates the text blocks of the last user
// message (content may be a string or a list of blocks).
func anthropicLastUserText(req *anthropicRequest) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		if m.Role != "user" {
			continue
		}
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			return s
		}
		var blocks []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		_ = json.Unmarshal(m.Content, &blocks)
		var b strings.Builder
		for _, bl := range blocks {
			if bl.Type == "text" {
				b.WriteString(bl.Text)
			}
		}
		return b.String()
	}
	return ""
}
