package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Redacted replaces every secret value uar removes before storing.
const Redacted = "[REDACTED]"

// sensitiveParams are query-string and form fields that can carry a
// credential (Slack's token=, OAuth's client_assertion and access_token...).
var sensitiveParams = map[string]bool{
	"token": true, "access_token": true, "refresh_token": true, "id_token": true,
	"client_secret": true, "client_assertion": true, "api_key": true, "apikey": true,
	"key": true, "password": true, "secret": true, "sig": true, "signature": true, "code": true,
}

// keptHeaders are the response headers worth keeping as evidence: the
// server's clock, request ids and rate-limit state. Nothing else is kept,
// so Authorization, cookies and API-key headers can never be stored.
var keptHeaders = []string{
	"Date", "Content-Type", "X-Okta-Request-Id", "X-Request-Id", "Request-Id", "X-Slack-Req-Id",
	"Atl-Traceid", "X-Arequestid", "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset",
	"Retry-After", "Anthropic-Organization-Id",
}

// requestIDHeaders are tried in order to find a response's request id.
var requestIDHeaders = []string{"X-Okta-Request-Id", "Request-Id", "X-Request-Id", "X-Slack-Req-Id", "Atl-Traceid", "X-Arequestid"}

// Recorder is an http.RoundTripper that records every request and its
// response in the ledger: one "call" row per HTTP exchange, with the raw
// response body as a blob (result_hash = its sha256), the request body (if
// any) as a second blob, the server's Date header as source_time and the
// request id kept. Credentials never reach the ledger: headers other than
// the allow-list are dropped, sensitive query and form fields are replaced
// with [REDACTED], and any literal Secrets value found in a body is too.
//
// A response is recorded only after its body has been read in full; the
// caller gets the same bytes back. Failed exchanges (no response) are
// recorded too, with the error text.
type Recorder struct {
	Base    http.RoundTripper // nil means http.DefaultTransport
	Ledger  *Ledger
	Service string // source_system: okta, jira, confluence, slack, anthropic
	// Secrets are literal values (tokens, keys) to scrub from anything
	// stored. Empty strings are ignored.
	Secrets []string
	// Now reads the clock for failures that carry no server time; optional.
	Now func() time.Time
}

// Client returns an *http.Client whose transport is r, with the timeout.
func (r *Recorder) Client(timeout time.Duration) *http.Client {
	return &http.Client{Transport: r, Timeout: timeout}
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	base := r.Base
	if base == nil {
		base = http.DefaultTransport
	}
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	resp, rtErr := base.RoundTrip(req)
	var respBody []byte
	if rtErr == nil {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			rtErr = err
		} else {
			respBody = b
			resp.Body = io.NopCloser(bytes.NewReader(b))
		}
	}
	if err := r.record(req, reqBody, resp, respBody, rtErr); err != nil {
		// Evidence that cannot be written is a failure of the call: uar
		// must not act on a response it could not record.
		if resp != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	if rtErr != nil {
		return nil, rtErr
	}
	return resp, nil
}

func (r *Recorder) record(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte, rtErr error) error {
	params := map[string]any{"query": redactQuery(req.URL.Query())}
	var extra [][]byte
	if len(reqBody) > 0 {
		rb := r.scrub(redactJSONSecrets(redactBody(req.Header.Get("Content-Type"), reqBody)))
		params["request_body"] = Sum(rb)
		extra = append(extra, rb)
	}
	var sourceTime time.Time
	entry := Entry{Kind: KindCall, SourceSystem: r.Service, QueryName: r.Service + " " + req.Method + " " + pathPattern(req.URL.Path)}
	u := *req.URL
	u.User = nil
	u.RawQuery = encodeRedacted(req.URL.Query())
	entry.QueryText = req.Method + " " + u.String()
	if rtErr != nil {
		params["error"] = r.scrubString(rtErr.Error())
		entry.Body = []byte{}
	} else {
		params["status"] = resp.StatusCode
		hdr := map[string]string{}
		for _, k := range keptHeaders {
			if v := resp.Header.Values(k); len(v) > 0 {
				hdr[strings.ToLower(k)] = r.scrubString(strings.Join(v, ", "))
			}
		}
		params["headers"] = hdr
		for _, k := range requestIDHeaders {
			if v := resp.Header.Get(k); v != "" {
				params["request_id"] = v
				break
			}
		}
		if d := resp.Header.Get("Date"); d != "" {
			if t, err := http.ParseTime(d); err == nil {
				sourceTime = t.UTC()
			}
		}
		entry.Body = r.scrub(redactJSONSecrets(respBody))
		entry.RowCount = countRows(entry.Body)
	}
	entry.Params = params
	entry.SourceTime = sourceTime
	entry.Extra = extra
	ctx := context.WithoutCancel(req.Context()) // record even if the caller gave up
	_, err := r.Ledger.AppendTx(ctx, entry)
	return err
}

func (r *Recorder) scrub(b []byte) []byte {
	for _, s := range r.Secrets {
		if len(s) >= 4 && bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte(Redacted))
		}
	}
	return b
}

func (r *Recorder) scrubString(s string) string { return string(r.scrub([]byte(s))) }

func redactQuery(q url.Values) map[string][]string {
	out := map[string][]string{}
	for k, vs := range q {
		if sensitiveParams[strings.ToLower(k)] {
			out[k] = []string{Redacted}
			continue
		}
		out[k] = vs
	}
	return out
}

func encodeRedacted(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range q[k] {
			if sensitiveParams[strings.ToLower(k)] {
				v = Redacted
			}
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

// redactBody removes sensitive fields from form-encoded bodies (Slack
// sends its token as a form field); other bodies pass through unchanged
// and rely on the literal Secrets scrub.
func redactBody(contentType string, b []byte) []byte {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/x-www-form-urlencoded" {
		return b
	}
	q, err := url.ParseQuery(string(b))
	if err != nil {
		return []byte(Redacted)
	}
	return []byte(encodeRedacted(q))
}

// listKeys are the fields under which the services return lists.
var listKeys = []string{"results", "values", "issues", "comments", "messages", "channels", "content", "transitions", "data"}

// countRows is the number of result items in a JSON body: an array's
// length, the length of a well-known list field, 1 for another object, 0
// for an empty body.
func countRows(b []byte) int64 {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return 0
	}
	switch t[0] {
	case '[':
		if n, ok := countArray(t); ok {
			return n
		}
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(t, &m) == nil {
			for _, k := range listKeys {
				var a []json.RawMessage
				if raw, ok := m[k]; ok && json.Unmarshal(raw, &a) == nil {
					return int64(len(a))
				}
			}
		}
	}
	return 1
}

var idSegment = regexp.MustCompile(`^(?:[0-9A-Za-z]*[0-9][0-9A-Za-z_-]{4,}|[A-Z][A-Z0-9]+-[0-9]+)$`)

// pathPattern replaces id-like path segments with {id}, so query_name
// groups calls by endpoint ("okta GET /api/v1/groups/{id}/users").
func pathPattern(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if idSegment.MatchString(s) && s != "v1" && s != "v2" && s != "v3" {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// secretJSONKeys are fields whose values are credentials wherever they
// appear in a JSON body: an OAuth token endpoint answers with
// access_token, a login request may carry client_secret.
var secretJSONKeys = []string{"access_token", "refresh_token", "id_token", "client_secret", "client_assertion", "password"}

var secretJSONField = regexp.MustCompile(`"(access_token|refresh_token|id_token|client_secret|client_assertion|password)"\s*:\s*"(?:[^"\\]|\\.)*"`)

// redactJSONSecrets replaces the values of secretJSONKeys in a JSON body.
// It works on the bytes (no decode/re-encode), so the rest of the body is
// kept exactly as the server sent it.
func redactJSONSecrets(b []byte) []byte {
	if !hasSecretJSONString(b) {
		return b
	}
	return secretJSONField.ReplaceAll(b, []byte(`"$1":"`+Redacted+`"`))
}

// hasSecretJSONString is the cheap pre-check: a secret key followed by a
// string value. Okta user pages carry "password":{} on every user, which
// must not send every page through the regexp.
func hasSecretJSONString(b []byte) bool {
	for _, k := range secretJSONKeys {
		key := []byte(`"` + k + `"`)
		for rest := b; ; {
			i := bytes.Index(rest, key)
			if i < 0 {
				break
			}
			rest = rest[i+len(key):]
			j := 0
			for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r') {
				j++
			}
			if j < len(rest) && rest[j] == ':' {
				j++
				for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r') {
					j++
				}
				if j < len(rest) && rest[j] == '"' {
					return true
				}
			}
		}
	}
	return false
}

// countArray counts the top-level elements of a JSON array without
// decoding it (pages run to megabytes); ok is false if b is not a
// well-nested array, and the caller then counts it as one result.
func countArray(b []byte) (int64, bool) {
	depth, n := 0, int64(0)
	inString, escaped, seen := false, false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
			if depth == 1 {
				seen = true
			}
		case '[', '{':
			if depth == 1 {
				seen = true
			}
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				if seen {
					n++
				}
				return n, true
			}
		case ',':
			if depth == 1 {
				n++
			}
		case ' ', '\t', '\n', '\r':
		default:
			if depth == 1 {
				seen = true
			}
		}
	}
	return 0, false
}
