package sandbox

// This file is the fake Slack Web API (reference/atlassian-slack-anthropic.md
// §3). It answers the methods uar uses the way slack.com/api does on the
// wire: the token comes in the form body (`token=`, as slack-go sends it
// for POSTs) or as `Authorization: Bearer` (slack-go's GETs); API errors
// are HTTP 200 with {"ok":false,"error":"..."}; rate limits are HTTP 429
// with Retry-After; channel ids and message timestamps ("<unix>.<micro>")
// come from the fake, whatever name the client posted to. Faults (429s,
// ok:false codes, latency) are injected from Go at run time.

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Identity the fake reports from auth.test, and the workspace its
// permalinks point into.
const (
	SlackTeam      = "Acme"
	SlackTeamID    = "T0ACME0001"
	SlackBotUser   = "uar-bot"
	SlackBotUserID = "U0UARBOT01"
	SlackBotID     = "B0UARBOT01"
	SlackURL       = "https://acme.slack.com/"
)

// SlackOptions configures the fake Slack API.
type SlackOptions struct {
	// Token is the only token accepted. Empty accepts any non-empty token.
	Token string
	// Channels maps channel names (without '#') to ids. Nil means one
	// channel, sox-uar -> C0SOXUAR01.
	Channels map[string]string
	// NotMember lists channel names the bot has not joined: posting there
	// answers not_in_channel.
	NotMember []string
	// Clock stamps message timestamps; nil uses the real clock.
	Clock Clock
}

// SlackMessage is one message the fake holds, as last posted or updated.
type SlackMessage struct {
	Channel  string          `json:"channel"` // channel id
	TS       string          `json:"ts"`
	ThreadTS string          `json:"thread_ts,omitempty"`
	Text     string          `json:"text"`
	Blocks   json.RawMessage `json:"blocks,omitempty"`
	Edits    int             `json:"edits"` // how many chat.update calls changed it
}

// Slack is a fake Slack Web API (an http.Handler) serving
// {base}/api/<method>. It is safe for concurrent use; fault injection may
// happen while requests are served.
type Slack struct {
	opts     SlackOptions
	channels map[string]string // name -> id
	log      RequestLog

	mu       sync.Mutex
	seq      int
	messages []SlackMessage
	faults   []slackFault
	latency  time.Duration
}

type slackFault struct {
	method     string // "" matches any
	left       int
	code       string // ok:false error code; "" with retryAfter set = 429
	ratelimit  bool
	retryAfter string
}

// NewSlack returns a fake Slack API.
func NewSlack(o SlackOptions) *Slack {
	ch := map[string]string{"sox-uar": "C0SOXUAR01"}
	if o.Channels != nil {
		ch = make(map[string]string, len(o.Channels))
		for name, id := range o.Channels {
			ch[strings.TrimPrefix(name, "#")] = id
		}
	}
	return &Slack{opts: o, channels: ch}
}

// Requests returns the log of every request received. Bodies are kept with
// the token value replaced by REDACTED; headers are not kept.
func (s *Slack) Requests() *RequestLog { return &s.log }

// Messages returns a copy of the messages posted so far, in posting order.
func (s *Slack) Messages() []SlackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SlackMessage, len(s.messages))
	for i, m := range s.messages {
		m.Blocks = append(json.RawMessage(nil), m.Blocks...)
		out[i] = m
	}
	return out
}

// RateLimit makes the next n requests to method ("" = any method) answer
// HTTP 429 with the given Retry-After header (seconds; "" sends none).
func (s *Slack) RateLimit(method string, n int, retryAfter string) {
	s.inject(slackFault{method: method, left: n, ratelimit: true, retryAfter: retryAfter})
}

// FailWith makes the next n requests to method ("" = any method) answer
// HTTP 200 {"ok":false,"error":code}, e.g. "invalid_auth" or
// "channel_not_found".
func (s *Slack) FailWith(method string, n int, code string) {
	s.inject(slackFault{method: method, left: n, code: code})
}

func (s *Slack) inject(f slackFault) {
	if f.left <= 0 {
		return
	}
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}

// ClearFaults drops every queued fault.
func (s *Slack) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// SetLatency delays every answer by d (the wait ends early if the client
// goes away).
func (s *Slack) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// nextFault consumes the first queued fault matching method, if any.
func (s *Slack) nextFault(method string) (slackFault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		f := &s.faults[i]
		if f.method != "" && f.method != method {
			continue
		}
		got := *f
		f.left--
		if f.left <= 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return got, true
	}
	return slackFault{}, false
}

func (s *Slack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := readBody(r)
	status, logBody := s.serve(w, r, body)
	s.log.Add(Request{Method: r.Method, Path: r.URL.Path, Query: slackRedact(r.URL.Query()).Encode(), Body: logBody, Status: status})
}

// slackRedact returns a copy of v with the token value hidden.
func slackRedact(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		if k == "token" {
			c[k] = []string{"REDACTED"}
			continue
		}
		c[k] = vs
	}
	return c
}

// slackParams reads the parameters of a request: the query, then the
// form-encoded body, or a JSON body's top-level fields (blocks kept as raw
// JSON text, as in a form).
func slackParams(r *http.Request, body []byte) (url.Values, string, error) {
	v := r.URL.Query()
	if len(body) == 0 {
		return v, "", nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, "", err
		}
		for k, raw := range m {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				v.Set(k, str)
			} else {
				v.Set(k, string(raw))
			}
		}
		return v, string(body), nil
	default:
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, "", err
		}
		for k, vs := range f {
			v[k] = vs
		}
		return v, slackRedact(f).Encode(), nil
	}
}

// slackOK writes a success answer; fields are merged into {"ok":true}.
func slackOK(w http.ResponseWriter, fields map[string]any) int {
	fields["ok"] = true
	writeJSON(w, http.StatusOK, fields)
	return http.StatusOK
}

// slackError writes an API error the Slack way: HTTP 200, ok:false.
func slackError(w http.ResponseWriter, code string) int {
	writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
	return http.StatusOK
}

func (s *Slack) serve(w http.ResponseWriter, r *http.Request, body []byte) (int, string) {
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || method == "" || strings.Contains(method, "/") {
		http.NotFound(w, r)
		return http.StatusNotFound, ""
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return http.StatusMethodNotAllowed, ""
	}
	params, logBody, err := slackParams(r, body)
	if err != nil {
		return slackError(w, "invalid_form_data"), ""
	}

	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return 499, logBody
		}
	}

	token := params.Get("token")
	if h := r.Header.Get("Authorization"); token == "" && h != "" {
		token, _ = strings.CutPrefix(h, "Bearer ")
	}
	if token == "" {
		return slackError(w, "not_authed"), logBody
	}
	if s.opts.Token != "" && token != s.opts.Token {
		return slackError(w, "invalid_auth"), logBody
	}

	handlers := map[string]func(http.ResponseWriter, url.Values) int{
		"auth.test":          s.authTest,
		"chat.postMessage":   s.postMessage,
		"chat.update":        s.update,
		"chat.getPermalink":  s.permalink,
		"conversations.list": s.conversationsList,
	}
	h, known := handlers[method]
	if !known {
		return slackError(w, "unknown_method"), logBody
	}
	if f, ok := s.nextFault(method); ok {
		if f.ratelimit {
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
			return http.StatusTooManyRequests, logBody
		}
		return slackError(w, f.code), logBody
	}
	return h(w, params), logBody
}

func (s *Slack) authTest(w http.ResponseWriter, _ url.Values) int {
	return slackOK(w, map[string]any{
		"url": SlackURL, "team": SlackTeam, "user": SlackBotUser,
		"team_id": SlackTeamID, "user_id": SlackBotUserID, "bot_id": SlackBotID,
		"is_enterprise_install": false,
	})
}

// slackChannel resolves a channel given by id, "#name" or "name". byName
// false accepts ids only (chat.update, chat.getPermalink want the id).
func (s *Slack) slackChannel(ch string, byName bool) (id, name string, ok bool) {
	for n, i := range s.channels {
		if ch == i {
			return i, n, true
		}
	}
	if byName {
		n := strings.TrimPrefix(ch, "#")
		if i, ok := s.channels[n]; ok {
			return i, n, true
		}
	}
	return "", "", false
}

// slackCheckBlocks validates a blocks parameter the way Slack does, for
// the limits uar relies on: a JSON array of at most 50 typed objects,
// header text up to 150 characters, section text up to 3000.
func slackCheckBlocks(raw string) (json.RawMessage, string) {
	if raw == "" {
		return nil, ""
	}
	var blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
	}
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return nil, "invalid_blocks_format"
	}
	if len(blocks) > 50 {
		return nil, "invalid_blocks"
	}
	for _, b := range blocks {
		if b.Type == "" {
			return nil, "invalid_blocks"
		}
		if b.Text != nil {
			n := utf8.RuneCountInString(b.Text.Text)
			if n == 0 || (b.Type == "header" && n > 150) || (b.Type == "section" && n > 3000) {
				return nil, "invalid_blocks"
			}
		}
	}
	return json.RawMessage(raw), ""
}

func (s *Slack) messageJSON(m SlackMessage) map[string]any {
	out := map[string]any{"type": "message", "text": m.Text, "user": SlackBotUserID, "bot_id": SlackBotID, "ts": m.TS, "team": SlackTeamID}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	return out
}

func (s *Slack) postMessage(w http.ResponseWriter, p url.Values) int {
	id, name, ok := s.slackChannel(p.Get("channel"), true)
	if !ok {
		return slackError(w, "channel_not_found")
	}
	if slices.Contains(s.opts.NotMember, name) {
		return slackError(w, "not_in_channel")
	}
	blocks, code := slackCheckBlocks(p.Get("blocks"))
	if code != "" {
		return slackError(w, code)
	}
	text := p.Get("text")
	if text == "" && blocks == nil {
		return slackError(w, "no_text")
	}
	if utf8.RuneCountInString(text) > 40000 {
		return slackError(w, "msg_too_long")
	}
	s.mu.Lock()
	s.seq++
	m := SlackMessage{Channel: id, TS: fmt.Sprintf("%d.%06d", s.opts.Clock.now().Unix(), 100*s.seq), ThreadTS: p.Get("thread_ts"), Text: text, Blocks: blocks}
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	return slackOK(w, map[string]any{"channel": id, "ts": m.TS, "message": s.messageJSON(m)})
}

func (s *Slack) update(w http.ResponseWriter, p url.Values) int {
	id, _, ok := s.slackChannel(p.Get("channel"), false)
	if !ok {
		return slackError(w, "channel_not_found")
	}
	blocks, code := slackCheckBlocks(p.Get("blocks"))
	if code != "" {
		return slackError(w, code)
	}
	text := p.Get("text")
	if text == "" && blocks == nil {
		return slackError(w, "no_text")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.messages {
		m := &s.messages[i]
		if m.Channel == id && m.TS == p.Get("ts") {
			m.Text, m.Blocks = text, blocks
			m.Edits++
			return slackOK(w, map[string]any{"channel": id, "ts": m.TS, "text": text, "message": s.messageJSON(*m)})
		}
	}
	return slackError(w, "message_not_found")
}

func (s *Slack) permalink(w http.ResponseWriter, p url.Values) int {
	id, _, ok := s.slackChannel(p.Get("channel"), false)
	if !ok {
		return slackError(w, "channel_not_found")
	}
	ts := p.Get("message_ts")
	s.mu.Lock()
	found := slices.ContainsFunc(s.messages, func(m SlackMessage) bool { return m.Channel == id && m.TS == ts })
	s.mu.Unlock()
	if !found {
		return slackError(w, "message_not_found")
	}
	return slackOK(w, map[string]any{"channel": id, "permalink": SlackURL + "archives/" + id + "/p" + strings.ReplaceAll(ts, ".", "")})
}

func (s *Slack) conversationsList(w http.ResponseWriter, _ url.Values) int {
	names := make([]string, 0, len(s.channels))
	for n := range s.channels {
		names = append(names, n)
	}
	slices.Sort(names)
	var list []map[string]any
	for _, n := range names {
		list = append(list, map[string]any{"id": s.channels[n], "name": n, "is_channel": true,
			"is_archived": false, "is_member": !slices.Contains(s.opts.NotMember, n)})
	}
	return slackOK(w, map[string]any{"channels": list, "response_metadata": map[string]any{"next_cursor": ""}})
}
