// Package jira is a small typed client for Jira Cloud REST v3 (rich text as
// ADF), with the few operations uar needs: check the credentials, create
// one review ticket per system without ever duplicating it, read it back,
// comment on it, read its comments, and move it to Done.
//
// # Wire contract
//
// Requests carry Basic auth (email:API token). The token is never put in
// an error, a log line or a returned value: failures are *httpx.StatusError
// values that name the config keys to check (jira.base_url, jira.email,
// UAR_JIRA_TOKEN, jira.project, jira.issue_type), never their secret values.
//
// 429 answers (and 503 with Retry-After) are retried after the Retry-After
// delay, a bounded number of times. Idempotent calls (GET, PUT, a JQL
// search) are also retried on 5xx and transport errors. A create (POST
// issue, POST comment, POST transition) is never retried blindly: see
// [Client.CreateIssueOnce], which looks the issue up first.
//
// Times: Jira writes "2006-01-02T15:04:05.000-0700" (no colon in the
// offset), which RFC 3339 parsers reject; [ParseTime] accepts it and
// normalises to UTC.
package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
)

// DefaultIssueType is the issue type used when Config.IssueType is empty.
const DefaultIssueType = "Task"

// Config is the [jira] section of uar.yaml plus the token from the
// environment (UAR_JIRA_TOKEN).
type Config struct {
	BaseURL   string // jira.base_url, e.g. https://acme.atlassian.net (or the api.atlassian.com/ex/jira/<cloudId> gateway for scoped tokens)
	Email     string // jira.email, the account the token belongs to
	Token     string // UAR_JIRA_TOKEN; never printed
	Project   string // jira.project, the project key
	IssueType string // jira.issue_type, default "Task"
}

// Validate checks the configuration without contacting Jira. Errors name
// the config key (jira.base_url, jira.email, UAR_JIRA_TOKEN, jira.project)
// and never contain the token.
func (c Config) Validate() error {
	var errs []error
	if err := httpx.CheckEndpoint("jira.base_url", c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(c.Email) == "" {
		errs = append(errs, errors.New("jira.email: is empty"))
	} else if !strings.Contains(c.Email, "@") {
		errs = append(errs, fmt.Errorf("jira.email: %q is not an email address", c.Email))
	}
	if c.Token == "" {
		errs = append(errs, errors.New("UAR_JIRA_TOKEN: is not set"))
	}
	switch {
	case strings.TrimSpace(c.Project) == "":
		errs = append(errs, errors.New("jira.project: is empty"))
	case strings.ContainsAny(c.Project, " \t\"'"):
		errs = append(errs, fmt.Errorf("jira.project: %q is not a project key", c.Project))
	}
	return errors.Join(errs...)
}

func (c Config) issueType() string {
	if c.IssueType == "" {
		return DefaultIssueType
	}
	return c.IssueType
}

// Client talks to one Jira site. It is safe for concurrent use.
type Client struct {
	cfg        Config
	base       *url.URL
	hc         *http.Client
	userAgent  string
	sleep      func(context.Context, time.Duration) error
	now        func() time.Time
	maxRetries int
	maxWait    time.Duration
}

// Option customises a Client.
type Option func(*Client)

// WithSleep replaces the wait between retries (tests pass a recorder so
// they do not wait for real). The default waits on a timer and returns
// early with ctx.Err() when ctx is cancelled.
func WithSleep(f func(context.Context, time.Duration) error) Option {
	return func(c *Client) { c.sleep = f }
}

// WithClock supplies the current time, used only to interpret a
// Retry-After given as an HTTP date. Without it the server's Date header
// is the reference, so the client never reads the local clock.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithUserAgent sets the User-Agent header (default "uar").
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithMaxRetries bounds how many times one call is retried after a 429,
// a 503 or (for idempotent calls) a 5xx or transport error. Default 4.
func WithMaxRetries(n int) Option { return func(c *Client) { c.maxRetries = max(n, 0) } }

// New returns a client for cfg that sends its requests through hc (the CLI
// passes a client whose Transport records evidence). cfg should have
// passed Validate; an unparsable BaseURL makes every call fail.
func New(cfg Config, hc *http.Client, opts ...Option) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	c := &Client{
		cfg:        cfg,
		hc:         hc,
		userAgent:  "uar",
		sleep:      sleepCtx,
		maxRetries: 4,
		maxWait:    60 * time.Second,
	}
	c.base, _ = url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	for _, o := range opts {
		o(c)
	}
	return c
}

// Project returns the configured project key.
func (c *Client) Project() string { return c.cfg.Project }

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// call is one REST operation.
type call struct {
	op         string // for error messages: "create issue"
	method     string
	path       string // below the base URL, already escaped
	query      url.Values
	body       any
	idempotent bool  // may be retried after a 5xx or transport error
	ok         []int // accepted statuses
}

// attemptErr is one failed attempt and whether it may be repeated; wait
// < 0 means "use the exponential backoff".
type attemptErr struct {
	err   error
	retry bool
	wait  time.Duration
}

func (c *Client) do(ctx context.Context, cl call, out any) error {
	if c.base == nil || c.base.Host == "" {
		return fmt.Errorf("jira: %s: jira.base_url %q is not an absolute URL", cl.op, c.cfg.BaseURL)
	}
	u, err := url.Parse(strings.TrimRight(c.base.String(), "/") + cl.path)
	if err != nil {
		return fmt.Errorf("jira: %s: %w", cl.op, err)
	}
	u.RawQuery = cl.query.Encode()
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("jira: %s: encode request: %w", cl.op, err)
		}
	}
	var last error
	for attempt := 0; ; attempt++ {
		ae := c.attempt(ctx, cl, u, payload, out)
		if ae == nil {
			return nil
		}
		last = ae.err
		if !ae.retry || attempt >= c.maxRetries || ctx.Err() != nil {
			break
		}
		wait := ae.wait
		if wait < 0 {
			wait = backoff(attempt)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("jira: %s: %w", cl.op, err)
		}
	}
	if se := (*httpx.StatusError)(nil); errors.As(last, &se) && se.Status == http.StatusTooManyRequests {
		se.Hint = fmt.Sprintf("Jira kept rate-limiting after %d retries; wait a few minutes and re-run (re-running updates, never duplicates)", c.maxRetries)
	}
	return fmt.Errorf("jira: %s: %w", cl.op, last)
}

// backoff is the wait before retry n+1 when the server gave no
// Retry-After: 1s, 2s, 4s ... capped at 30s. No jitter, so runs stay
// reproducible; one CLI process is not a thundering herd.
func backoff(n int) time.Duration {
	d := time.Second << min(n, 5)
	return min(d, 30*time.Second)
}

func (c *Client) attempt(ctx context.Context, cl call, u *url.URL, payload []byte, out any) *attemptErr {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return &attemptErr{err: err}
	}
	req.SetBasicAuth(c.cfg.Email, c.cfg.Token)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error repeats the URL (with its query); keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil {
			return &attemptErr{err: ctx.Err()}
		}
		return &attemptErr{err: fmt.Errorf("%s %s: %w", cl.method, httpx.RedactURL(u), err), retry: cl.idempotent, wait: -1}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &attemptErr{err: fmt.Errorf("%s %s: read response: %w", cl.method, httpx.RedactURL(u), err), retry: cl.idempotent, wait: -1}
	}
	if slices.Contains(cl.ok, resp.StatusCode) {
		// With bad Basic credentials Jira may serve the request anonymously
		// (200, empty results) and say so only in this header.
		if r := resp.Header.Get("X-Seraph-LoginReason"); r == "AUTHENTICATED_FAILED" || r == "AUTHENTICATION_DENIED" {
			return &attemptErr{err: &httpx.AuthError{Service: "jira", Err: fmt.Errorf("%s %s: login reason %s", cl.method, httpx.RedactURL(u), r), Hint: authHint}}
		}
		if out != nil && len(bytes.TrimSpace(raw)) > 0 {
			if err := json.Unmarshal(raw, out); err != nil {
				return &attemptErr{err: fmt.Errorf("%s %s: decode response: %w", cl.method, httpx.RedactURL(u), err)}
			}
		}
		return nil
	}
	se := statusError(cl.method, u, resp, raw)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
		return &attemptErr{err: se, retry: true, wait: c.retryAfter(resp, backoff(0))}
	case resp.StatusCode >= 500 && cl.idempotent:
		return &attemptErr{err: se, retry: true, wait: -1}
	}
	return &attemptErr{err: se}
}

// retryAfter reads Retry-After relative to the injected clock, or to the
// server's own Date header when no clock was injected.
func (c *Client) retryAfter(resp *http.Response, def time.Duration) time.Duration {
	var now time.Time
	if c.now != nil {
		now = c.now()
	} else if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		now = t
	}
	h := resp.Header.Get("Retry-After")
	if now.IsZero() {
		if _, err := http.ParseTime(h); err == nil {
			return def // an HTTP date with no reference time
		}
	}
	return httpx.RetryAfter(h, now, def, c.maxWait)
}

const authHint = "check jira.email and UAR_JIRA_TOKEN (a scoped API token needs jira.base_url https://api.atlassian.com/ex/jira/<cloudId>); tokens expire after a year"

// errorCollection is Jira's error body.
type errorCollection struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

func statusError(method string, u *url.URL, resp *http.Response, raw []byte) error {
	se := &httpx.StatusError{Service: "jira", Method: method, URL: httpx.RedactURL(u), Status: resp.StatusCode}
	var ec errorCollection
	if json.Unmarshal(raw, &ec) == nil && (len(ec.ErrorMessages) > 0 || len(ec.Errors) > 0) {
		parts := slices.Clone(ec.ErrorMessages)
		keys := make([]string, 0, len(ec.Errors))
		for k := range ec.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			parts = append(parts, k+": "+ec.Errors[k])
		}
		se.Message = strings.Join(parts, "; ")
	} else if t := strings.TrimSpace(string(raw)); t != "" && !strings.HasPrefix(t, "<") && len(t) < 300 {
		// Some 401s are plain text; HTML error pages are not worth quoting.
		se.Message = t
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		se.Hint = authHint
	}
	if resp.StatusCode == http.StatusBadRequest && len(ec.Errors) > 0 {
		return &fieldError{StatusError: se, fields: ec.Errors}
	}
	return se
}

// fieldError is a 400 that names fields (Jira's "errors" map), kept so
// callers can map a field back to the setting that fed it.
type fieldError struct {
	*httpx.StatusError
	fields map[string]string
}

func (e *fieldError) Unwrap() error { return e.StatusError }

// badFields returns the field names of a Jira 400 in err, sorted.
func badFields(err error) []string {
	var fe *fieldError
	if !errors.As(err, &fe) {
		return nil
	}
	keys := make([]string, 0, len(fe.fields))
	for k := range fe.fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
