package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/store"
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

// Default per-service response-body caps (DESIGN §12: every response body
// is read with a per-service size cap). An Okta page of 200 full users is
// well under 1 MiB; the caps leave two orders of magnitude.
const (
	MaxBodyOkta       int64 = 32 << 20
	MaxBodyAtlassian  int64 = 64 << 20 // jira, confluence
	MaxBodySlack      int64 = 8 << 20
	MaxBodyAnthropic  int64 = 16 << 20
	MaxBodyOtherwise  int64 = 32 << 20
	maxRequestBodyCap int64 = 64 << 20
)

// DefaultMaxBody is the response-body cap of a service by name.
func DefaultMaxBody(service string) int64 {
	switch service {
	case "okta":
		return MaxBodyOkta
	case "jira", "confluence":
		return MaxBodyAtlassian
	case "slack":
		return MaxBodySlack
	case "anthropic":
		return MaxBodyAnthropic
	}
	return MaxBodyOtherwise
}

// BodyTooLargeError is a response whose body exceeded the Recorder's cap.
// The body was not kept (the call is recorded without it) and the caller
// gets this error instead of the response.
type BodyTooLargeError struct {
	Service string
	Method  string
	URL     string // redacted: no user info, query or fragment
	Limit   int64
	Size    int64 // the declared Content-Length, or -1 when it was not declared
}

func (e *BodyTooLargeError) Error() string {
	size := "more than that"
	if e.Size >= 0 {
		size = fmt.Sprintf("%d bytes declared", e.Size)
	}
	return fmt.Sprintf("%s: %s %s: response body exceeds the %s limit of %s (%s); it was not read or stored",
		e.Service, e.Method, e.URL, e.Service, sizeText(e.Limit), size)
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Recorder is an http.RoundTripper that records every request and its
// response in the ledger: one "call" row per HTTP exchange, with the raw
// response body as a blob (result_hash = its sha256), the request body (if
// any) as a second blob, the server's Date header as source_time and the
// request id kept.
//
// # Bounded reads
//
// A response body is read up to MaxBody bytes (DefaultMaxBody(Service)
// when 0). A larger body fails the call with a *BodyTooLargeError naming
// service and endpoint; the exchange is recorded without the body, so no
// oversized blob is ever stored, and memory stays bounded by the cap.
//
// # Secrets
//
// Credentials never reach the ledger: headers other than an allow-list
// are dropped, sensitive query and form fields are replaced with
// [Redacted], and every form of every secret (SecretForms(Secrets,
// BasicUsers): raw, Bearer, SSWS, base64 basic-auth, JSON-escaped) is
// replaced with [Redacted] in blobs (request and response), params, query
// text and error texts. The caller receives the response body and header
// values with those forms replaced too (a service never legitimately
// returns the caller's own credential), so an error an adapter builds from
// an echoing server cannot carry one either; errors returned by the
// transport below are scrubbed the same way.
//
// A response is recorded only after its body has been read in full; the
// caller gets the same bytes back. Failed exchanges (no response) are
// recorded too, with the error text.
type Recorder struct {
	Base    http.RoundTripper // nil means http.DefaultTransport
	Ledger  *Ledger
	Service string // source_system: okta, jira, confluence, slack, anthropic
	// Secrets are literal values (tokens, keys) whose every form is
	// scrubbed from anything stored or returned. Empty strings are ignored.
	Secrets []string
	// BasicUsers are the basic-auth user names (Atlassian e-mails) paired
	// with each secret for the base64 forms.
	BasicUsers []string
	// MaxBody caps a response body; 0 means DefaultMaxBody(Service).
	MaxBody int64
	// Now reads the clock for failures that carry no server time; optional.
	Now func() time.Time

	once     sync.Once
	scrubber *Scrubber // the secret forms, and secretJSONKeys as markers
}

// Client returns an *http.Client whose transport is r, with the timeout.
func (r *Recorder) Client(timeout time.Duration) *http.Client {
	return &http.Client{Transport: r, Timeout: timeout}
}

func (r *Recorder) scrubberOnce() *Scrubber {
	r.once.Do(func() { r.scrubber = newScrubberWithMarkers(SecretForms(r.Secrets, r.BasicUsers), secretJSONKeys) })
	return r.scrubber
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	base := r.Base
	if base == nil {
		base = http.DefaultTransport
	}
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxRequestBodyCap+1))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > maxRequestBodyCap {
			return nil, fmt.Errorf("%s: %s %s: request body larger than %s", r.Service, req.Method, httpx.RedactURL(req.URL), sizeText(maxRequestBodyCap))
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	resp, rtErr := base.RoundTrip(req)
	var respBody []byte
	jsonSecret := false
	if rtErr == nil {
		b, err := r.readBody(req, resp)
		resp.Body.Close()
		if err != nil {
			rtErr = err
		} else {
			// One pass replaces the secret forms and notices credential
			// fields (access_token...), which record then redacts.
			respBody, jsonSecret = r.scrubberOnce().Scan(b)
			resp.Body = http.NoBody // replaced once recorded
			if len(respBody) != len(b) {
				resp.ContentLength = int64(len(respBody))
				if resp.Header.Get("Content-Length") != "" {
					resp.Header.Set("Content-Length", strconv.Itoa(len(respBody)))
				}
			}
			r.scrubHeaders(resp.Header)
		}
	}
	if rtErr != nil {
		rtErr = r.scrubError(rtErr)
	}
	row, stored, err := r.record(req, reqBody, resp, respBody, jsonSecret, rtErr)
	if err != nil {
		// Evidence that cannot be written is a failure of the call: uar
		// must not act on a response it could not record.
		return nil, err
	}
	if rtErr != nil {
		return nil, rtErr
	}
	resp.Body = httpx.NewRecordedBody(respBody, httpx.Recording{EvidenceID: row.ID, Hash: row.ResultHash, Body: stored})
	return resp, nil
}

// readBody reads resp's body up to the cap; over it, a *BodyTooLargeError.
func (r *Recorder) readBody(req *http.Request, resp *http.Response) ([]byte, error) {
	limit := r.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody(r.Service)
	}
	tooLarge := &BodyTooLargeError{Service: r.Service, Method: req.Method, URL: httpx.RedactURL(req.URL), Limit: limit, Size: -1}
	if resp.ContentLength > limit {
		tooLarge.Size = resp.ContentLength
		return nil, tooLarge // declared too large: not a byte is read
	}
	b, over, err := readCapped(resp.Body, limit, resp.ContentLength)
	if err != nil {
		return nil, err
	}
	if over {
		return nil, tooLarge
	}
	return b, nil
}

// readCapped reads r to its end unless it holds more than limit bytes
// (over is then true and the bytes are dropped). A declared length is
// read into one buffer. Otherwise the body is read into a pooled 1 MiB
// scratch buffer (a whole Okta page, usually) and, past that, into chunks
// growing to 4 MiB; what was read is then copied into one buffer of the
// exact size. So a body costs its own size in allocation (not the
// doubling growth of a single buffer, up to 4x limit for an over-cap
// one), and an over-cap body about limit bytes.
func readCapped(r io.Reader, limit, declared int64) (b []byte, over bool, err error) {
	r = io.LimitReader(r, limit+1)
	if declared >= 0 && declared <= limit {
		b = make([]byte, 0, declared+1) // +1: room to see an overrun without growing
		for {
			if len(b) == cap(b) {
				b = append(b, 0)[:len(b)] // longer than declared: grow normally
			}
			n, err := r.Read(b[len(b):cap(b)])
			b = b[:len(b)+n]
			if int64(len(b)) > limit {
				return nil, true, nil
			}
			if err == io.EOF {
				return b, false, nil
			}
			if err != nil {
				return nil, false, err
			}
		}
	}
	sp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(sp)
	scratch := (*sp)[:min(int64(len(*sp)), limit+1)]
	n, err := io.ReadFull(r, scratch)
	total := int64(n)
	if total > limit {
		return nil, true, nil
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return bytes.Clone(scratch[:n]), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	chunks := [][]byte{scratch}
	size := 32 << 10
	for {
		c := make([]byte, size)
		n, err := io.ReadFull(r, c)
		chunks = append(chunks, c[:n])
		total += int64(n)
		if total > limit {
			return nil, true, nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, false, err
		}
		size = min(size*2, 4<<20)
	}
	return bytes.Join(chunks, nil), false, nil
}

// scratchPool holds the 1 MiB buffers readCapped reads undeclared bodies
// into before copying them out.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

func (r *Recorder) scrubHeaders(h http.Header) {
	sc := r.scrubberOnce()
	for k, vs := range h {
		for i, v := range vs {
			if s := sc.String(v); s != v {
				h[k][i] = s
			}
		}
	}
}

// scrubError returns err, or an error with the same chain whose text has
// every secret form removed.
func (r *Recorder) scrubError(err error) error {
	msg := err.Error()
	if s := r.scrubberOnce().String(msg); s != msg {
		return &scrubbedError{msg: s, err: err}
	}
	return err
}

// scrubbedError keeps errors.Is/As working while its text is scrubbed.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// record appends the exchange's ledger row and returns it with the
// response body as stored.
func (r *Recorder) record(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte, jsonSecret bool, rtErr error) (store.EvidenceRow, []byte, error) {
	params := map[string]any{"query": r.scrubQuery(redactQuery(req.URL.Query()))}
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
	entry.QueryText = r.scrubString(req.Method + " " + u.String())
	if resp != nil {
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
				params["request_id"] = r.scrubString(v)
				break
			}
		}
		if d := resp.Header.Get("Date"); d != "" {
			if t, err := http.ParseTime(d); err == nil {
				sourceTime = t.UTC()
			}
		}
	}
	if rtErr != nil {
		// The error text is already scrubbed; the body, if any was read,
		// is not kept (an over-cap body is never stored).
		params["error"] = r.scrubString(rtErr.Error())
		entry.Body = []byte{}
	} else {
		entry.Body = respBody // secret forms already scrubbed
		if jsonSecret {
			entry.Body = redactJSONSecrets(respBody)
		}
		counted := false
		if hook := httpx.BodyHookFrom(req.Context()); hook != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			// The caller parses the body anyway: its count saves a scan.
			if n, err := hook(entry.Body); err == nil {
				entry.RowCount, counted = n, true
			}
		}
		if !counted {
			entry.RowCount = countRows(entry.Body)
		}
	}
	entry.Params = params
	entry.SourceTime = sourceTime
	entry.Extra = extra
	ctx := context.WithoutCancel(req.Context()) // record even if the caller gave up
	row, err := r.Ledger.AppendTx(ctx, entry)
	return row, entry.Body, err
}

func (r *Recorder) scrubQuery(q map[string][]string) map[string][]string {
	for k, vs := range q {
		for i, v := range vs {
			q[k][i] = r.scrubString(v)
		}
	}
	return q
}

func (r *Recorder) scrub(b []byte) []byte { return r.scrubberOnce().Bytes(b) }

func (r *Recorder) scrubString(s string) string { return r.scrubberOnce().String(s) }

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
