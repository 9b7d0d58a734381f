// Package ai is the optional, advisory LLM pass of `uar score` (DESIGN §7).
//
// For each SOX system in a snapshot, [Review] sends the system's access list
// and the deterministic rule findings to the Anthropic Messages API with an
// auditor briefing, forces the answer into JSON through a forced tool
// (tool_choice {"type":"tool"}), validates it strictly against that
// system's access list, and returns the model's findings tagged
// source=ai, together with where the model and the rules disagree.
//
// # Privacy
//
// With [Config.Pseudonymize] on (the CLI's default), no identity leaves the
// machine: users are sent as stable tokens ("user-0001", assigned in
// sorted order of user id), names, logins, e-mails, managers and employee
// numbers are scrubbed from every free-text field, and the tokens are
// mapped back locally when the answer is parsed. Departments, titles, user
// types, statuses and group names are sent: they are what the model
// reasons about.
//
// # Advisory only
//
// AI findings never drive a revocation: they are shown to reviewers and
// stored as evidence, and only an owner's decision in Jira revokes access.
//
// The package reads no environment variable (the Anthropic SDK's own
// environment defaults are switched off) and writes nothing to stdout or
// stderr; the API key is sent in the x-api-key header only and never
// appears in a [Result] or an error.
package ai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
)

// Defaults applied by [Review] to zero-valued [Config] fields.
const (
	DefaultModel      = "claude-sonnet-5-5"
	DefaultMaxTokens  = 4096
	DefaultTimeout    = 2 * time.Minute
	DefaultMaxRetries = 2
	DefaultBaseURL    = "https://api.anthropic.com"
)

// KeyEnv names the environment variable that holds the API key (the CLI
// falls back to ANTHROPIC_API_KEY). Errors name the variable, never its
// value.
const KeyEnv = "UAR_ANTHROPIC_API_KEY"

// ToolName is the forced tool the model must answer with.
const ToolName = "record_access_review"

// Config configures the LLM pass. The zero value of each numeric field
// means its default.
type Config struct {
	Model        string        // default DefaultModel
	BaseURL      string        // default https://api.anthropic.com; http only for loopback
	APIKey       string        // from UAR_ANTHROPIC_API_KEY; never logged or returned
	Pseudonymize bool          // send tokens instead of identities (the CLI defaults it to true)
	MaxTokens    int           // answer budget per system; default DefaultMaxTokens
	Timeout      time.Duration // per attempt; default DefaultTimeout
	MaxRetries   int           // SDK retries on 429/5xx/529; 0 means DefaultMaxRetries, negative means none
}

// Ready reports whether the pass can run. When it cannot, why is a note
// for the user (the CLI skips the pass and prints it); it names the
// environment variable, never a secret.
func (c Config) Ready() (ok bool, why string) {
	if strings.TrimSpace(c.APIKey) == "" {
		return false, "AI review skipped: no Anthropic API key (set " + KeyEnv + " or ANTHROPIC_API_KEY)"
	}
	return true, ""
}

// Validate checks the configuration (an API key is not required here; see
// [Config.Ready]).
func (c Config) Validate() error {
	if c.BaseURL != "" {
		if err := httpx.CheckEndpoint("ai.base_url", c.BaseURL); err != nil {
			return err
		}
	}
	if c.MaxTokens < 0 {
		return fmt.Errorf("ai: max_tokens %d: must not be negative", c.MaxTokens)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("ai: timeout %s: must not be negative", c.Timeout)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	return c
}

// Result is the outcome of the LLM pass.
//
// Everything in it is advisory: AI findings and disagreements are shown to
// reviewers and recorded as evidence, and MUST NOT trigger a revocation.
type Result struct {
	// Findings are the model's validated findings, mapped back to real
	// users, with Source model.FindingSourceAI, sorted by system, risk
	// (highest first), user login and groups. RuleID is "AI-<system>-<n>".
	Findings []model.Finding `json:"findings"`
	// Disagreements between the model and the rules, sorted by system,
	// user login and kind.
	Disagreements []Disagreement `json:"disagreements"`
	// Calls has one entry per system reviewed, sorted by system.
	Calls []Call `json:"calls"`
	// Pseudonyms maps the tokens sent to the users they stand for (only
	// with Config.Pseudonymize), in token order. Local evidence only.
	Pseudonyms []Pseudonym `json:"pseudonyms"`
}

// Failed returns the calls that ended in an error.
func (r *Result) Failed() []Call {
	var out []Call
	for _, c := range r.Calls {
		if c.Err != "" {
			out = append(out, c)
		}
	}
	return out
}

// Disagreement kinds.
const (
	// AIOnly: the model flagged a user the rules did not flag.
	AIOnly = "ai_only"
	// RuleOnly: the rules flagged a user the model considers fine.
	RuleOnly = "rule_only"
)

// Disagreement is a user on whom the model and the rules differ. It is
// shown to reviewers and never acted on.
type Disagreement struct {
	System    string     `json:"system"`
	UserID    string     `json:"user_id"`
	UserLogin string     `json:"user_login"`
	Kind      string     `json:"kind"`     // AIOnly or RuleOnly
	RuleIDs   []string   `json:"rule_ids"` // RuleOnly: the rule findings the model disputes
	AIRisk    model.Risk `json:"ai_risk"`  // AIOnly: the model's risk
	Rationale string     `json:"rationale"`
}

// Call records one system's request to the model.
type Call struct {
	System       string `json:"system"`
	Model        string `json:"model"`
	RequestID    string `json:"request_id"` // the request-id header of the last attempt
	Attempts     int    `json:"attempts"`   // HTTP attempts, retries included
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
	StopReason   string `json:"stop_reason"`
	Findings     int    `json:"findings"` // validated findings from this call
	Err          string `json:"err,omitempty"`
}

// Pseudonym maps a token sent to the model back to a user.
type Pseudonym struct {
	Token  string `json:"token"`
	UserID string `json:"user_id"`
}

// Review runs the LLM pass over every system in snap that has members,
// one request per system in name order. ruleFindings are the rules
// engine's findings (suppressed ones are ignored).
//
// A system whose answer is malformed, off-schema, refused or truncated, or
// whose request fails after the SDK's retries (429, 5xx, 529), gets an
// error in its [Call] and the other systems continue; Review then returns
// a nil error. Review returns an error, with the partial Result, when the
// configuration is invalid, when the API refuses the key (an error for
// which httpx.IsAuth is true, naming UAR_ANTHROPIC_API_KEY), when a
// request or redirect would leave the configured origin (an
// *httpx.OriginError; nothing is sent there), or when ctx
// ends.
func Review(ctx context.Context, cfg Config, hc *http.Client, snap *model.Snapshot, ruleFindings []model.Finding) (*Result, error) {
	res := &Result{Findings: []model.Finding{}, Disagreements: []Disagreement{}, Calls: []Call{}, Pseudonyms: []Pseudonym{}}
	if ok, why := cfg.Ready(); !ok {
		return res, errors.New("ai: " + why)
	}
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	if hc == nil {
		return res, errors.New("ai: no HTTP client")
	}
	if snap == nil {
		return res, errors.New("ai: no snapshot")
	}
	cfg = cfg.withDefaults()
	// The API key only ever goes to the configured origin: a redirect or a
	// URL elsewhere is refused before it is sent (an *httpx.OriginError).
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	hc, err := httpx.GuardOrigin("anthropic", base, hc)
	if err != nil {
		return res, fmt.Errorf("ai.base_url: %w", err)
	}

	opts := []option.RequestOption{
		// The SDK would otherwise read ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL,
		// profiles and federation settings on its own; uar resolves its
		// configuration itself (DESIGN §5).
		option.WithoutEnvironmentDefaults(),
		option.WithHTTPClient(hc),
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(cfg.MaxRetries),
		option.WithRequestTimeout(cfg.Timeout),
	}
	if cfg.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
	}
	client := anthropic.NewClient(opts...)

	ix := newIndex(snap, cfg.Pseudonymize)
	sent := map[string]bool{} // user ids sent under a token
	for _, sys := range ix.systems() {
		rows := ix.rows(sys)
		call, findings, dis, err := reviewSystem(ctx, &client, cfg, ix, sys, rows, ruleFindings, sent)
		res.Calls = append(res.Calls, call)
		res.Findings = append(res.Findings, findings...)
		res.Disagreements = append(res.Disagreements, dis...)
		if err != nil {
			res.finish(ix, sent)
			return res, err
		}
	}
	res.finish(ix, sent)
	return res, nil
}

func (r *Result) finish(ix *index, sent map[string]bool) {
	for id := range sent {
		r.Pseudonyms = append(r.Pseudonyms, Pseudonym{Token: ix.token[id], UserID: id})
	}
	// Tokens were numbered in user-id order: sorting by id is token order,
	// also past user-9999 where strings would put user-10000 first.
	slices.SortFunc(r.Pseudonyms, func(a, b Pseudonym) int { return strings.Compare(a.UserID, b.UserID) })
	slices.SortStableFunc(r.Findings, func(a, b model.Finding) int {
		if c := strings.Compare(a.System, b.System); c != 0 {
			return c
		}
		if c := b.Risk.Rank() - a.Risk.Rank(); c != 0 {
			return c
		}
		if c := strings.Compare(a.UserLogin, b.UserLogin); c != 0 {
			return c
		}
		if c := slices.Compare(a.Groups, b.Groups); c != 0 {
			return c
		}
		return strings.Compare(a.RuleID, b.RuleID)
	})
	slices.SortStableFunc(r.Disagreements, func(a, b Disagreement) int {
		if c := strings.Compare(a.System, b.System); c != 0 {
			return c
		}
		if c := strings.Compare(a.UserLogin, b.UserLogin); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
}

// reviewSystem sends one system and validates the answer. A non-nil error
// stops the whole pass (authentication, cancellation); any other failure
// is recorded in the returned Call.
//
// sent collects the users whose token went out, for Result.Pseudonyms.
func reviewSystem(ctx context.Context, client *anthropic.Client, cfg Config, ix *index, sys string, rows []accessRow, ruleFindings []model.Finding, sent map[string]bool) (Call, []model.Finding, []Disagreement, error) {
	call := Call{System: sys, Model: cfg.Model}
	sc := ix.scope(sys, rows)
	doc, rules := buildPrompt(ix, sc, sys, rows, ruleFindings)
	// Compact: the access list of a large system is long, and tokens cost.
	userText, err := json.Marshal(doc)
	if err != nil {
		call.Err = "ai: " + sys + ": encode prompt: " + err.Error()
		return call, nil, nil, nil
	}
	if cfg.Pseudonymize {
		if leak := sc.leak(userText); leak != "" {
			// Defence in depth: refuse to send rather than leak.
			call.Err = "ai: " + sys + ": pseudonymisation incomplete: an identity of " + leak + " is still in the prompt; nothing was sent"
			return call, nil, nil, nil
		}
		// Every token in the prompt, members and anyone named in free text.
		for _, t := range tokenRe.FindAllString(string(userText), -1) {
			if id, ok := ix.byTok[t]; ok {
				sent[id] = true
			}
		}
	}

	params := anthropic.MessageNewParams{
		Model:     anthropic.Model(cfg.Model),
		MaxTokens: int64(cfg.MaxTokens),
		System:    []anthropic.TextBlockParam{{Text: systemPrompt(cfg.Pseudonymize)}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(string(userText)))},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name:        ToolName,
			Description: anthropic.String("Record the result of the access review of one SOX system."),
			Strict:      anthropic.Bool(true),
			InputSchema: toolSchema(),
		}}},
		ToolChoice: anthropic.ToolChoiceParamOfTool(ToolName),
	}
	var httpResp *http.Response
	attempts := 0
	msg, err := client.Messages.New(ctx, params,
		option.WithResponseInto(&httpResp),
		option.WithMiddleware(func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			attempts++
			return next(req)
		}))
	call.Attempts = attempts
	if httpResp != nil {
		call.RequestID = httpResp.Header.Get("request-id")
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			call.Err = "ai: " + sys + ": " + ctxErr.Error()
			return call, nil, nil, fmt.Errorf("ai: %s: %w", sys, ctxErr)
		}
		var ae *anthropic.Error
		if errors.As(err, &ae) {
			// Never return the SDK's error: it holds the *http.Request and
			// so the x-api-key header.
			se := statusError(ae)
			call.RequestID = ae.RequestID
			if se.IsAuth() {
				call.Err = se.Error()
				return call, nil, nil, se
			}
			call.Err = fmt.Sprintf("%s (system %s, gave up after %d attempts)", se.Error(), sys, attempts)
			return call, nil, nil, nil
		}
		var oe *httpx.OriginError
		if errors.As(err, &oe) {
			// A redirect off the configured origin: nothing was sent there,
			// and the pass stops (a hostile endpoint is not a flaky one).
			call.Err = oe.Error()
			return call, nil, nil, oe
		}
		// A transport error names the URL (no query or credentials: see
		// Config.Validate) and never a header.
		call.Err = fmt.Sprintf("anthropic: system %s: %v (gave up after %d attempts)", sys, err, attempts)
		return call, nil, nil, nil
	}
	if msg.Model != "" {
		call.Model = string(msg.Model)
	}
	call.InputTokens = msg.Usage.InputTokens
	call.OutputTokens = msg.Usage.OutputTokens
	call.StopReason = string(msg.StopReason)

	ans, err := parseAnswer(msg)
	if err == nil {
		var findings []model.Finding
		var dis []Disagreement
		findings, dis, err = interpret(ans, ix, sc, sys, rows, rules)
		if err == nil {
			call.Findings = len(findings)
			return call, findings, dis, nil
		}
	}
	call.Err = "ai: " + sys + ": " + err.Error()
	return call, nil, nil, nil
}

// statusError converts the SDK's API error into the shared, secret-free
// error type.
func statusError(ae *anthropic.Error) *httpx.StatusError {
	se := &httpx.StatusError{Service: "anthropic", Method: http.MethodPost, Status: ae.StatusCode, Code: string(ae.Type())}
	if ae.Request != nil {
		se.Method = ae.Request.Method
		se.URL = httpx.RedactURL(ae.Request.URL)
	}
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(ae.RawJSON()), &body) == nil {
		se.Message = body.Error.Message
	}
	switch {
	case se.IsAuth():
		se.Hint = "check " + KeyEnv + " (or ANTHROPIC_API_KEY): the Anthropic API refused the key"
		if se.Message == "" {
			se.Message = "refused the API key in " + KeyEnv
		} else {
			se.Message += " (check " + KeyEnv + ")"
		}
	case se.Status == 429:
		se.Hint = "the Anthropic rate limit was hit; retry later or lower the number of systems per run"
	case se.Status == 529 || se.Status >= 500:
		se.Hint = "the Anthropic API is overloaded or failing; retry later (rule findings are unaffected)"
	}
	return se
}
