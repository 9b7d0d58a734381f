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
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	errs := httpx.CheckBasicAuth("jira.base_url", c.BaseURL, "jira.email", c.Email, "", c.Token, "UAR_JIRA_TOKEN: is not set")
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
	cfg  Config
	rest httpx.REST // the shared request engine; options tune it
}

// Option customises a Client.
type Option func(*Client)

// WithSleep replaces the wait between retries (tests pass a recorder so
// they do not wait for real). The default waits on a timer and returns
// early with ctx.Err() when ctx is cancelled.
func WithSleep(f func(context.Context, time.Duration) error) Option {
	return func(c *Client) { c.rest.Sleep = f }
}

// WithClock supplies the current time, used only to interpret a
// Retry-After given as an HTTP date. Without it the server's Date header
// is the reference, so the client never reads the local clock.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.rest.Now = now } }

// WithUserAgent sets the User-Agent header (default "uar").
func WithUserAgent(ua string) Option { return func(c *Client) { c.rest.UserAgent = ua } }

// WithMaxRetries bounds how many times one call is retried after a 429,
// a 503 or (for idempotent calls) a 5xx or transport error. Default 4.
func WithMaxRetries(n int) Option { return func(c *Client) { c.rest.MaxRetries = max(n, 0) } }

// New returns a client for cfg that sends its requests through hc (the CLI
// passes a client whose Transport records evidence). cfg should have
// passed Validate; an unparsable BaseURL makes every call fail. Whatever
// hc is, the client only ever sends to BaseURL's origin (scheme, host,
// port): a request or redirect elsewhere fails with an *httpx.OriginError
// before anything, least of all the credentials, leaves the process.
func New(cfg Config, hc *http.Client, opts ...Option) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	hc = httpx.Guarded("jira", cfg.BaseURL, hc)
	c := &Client{
		cfg: cfg,
		rest: httpx.REST{
			Service:    "jira",
			BaseField:  "jira.base_url",
			BaseURL:    cfg.BaseURL,
			HTTP:       hc,
			User:       cfg.Email,
			Password:   cfg.Token,
			UserAgent:  "uar",
			Sleep:      httpx.SleepContext,
			MaxRetries: 4,
			MaxWait:    60 * time.Second,
			Decode:     statusError,
			Check:      checkSeraph,
			OnFail:     rateLimitHint,
		},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Project returns the configured project key.
func (c *Client) Project() string { return c.cfg.Project }

// call is one REST operation; see [httpx.Call].
type call struct {
	op         string // for error messages: "create issue"
	method     string
	path       string // below the base URL, already escaped
	query      url.Values
	body       any
	idempotent bool  // may be retried after a 5xx or transport error
	ok         []int // accepted statuses
}

func (c *Client) do(ctx context.Context, cl call, out any) error {
	return c.rest.Do(ctx, httpx.Call{Op: cl.op, Method: cl.method, Path: cl.path, Query: cl.query,
		Body: cl.body, Idempotent: cl.idempotent, OK: cl.ok}, out)
}

// sleep waits d with the injected sleep (CreateIssueOnce between lookups).
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.rest.Sleep == nil {
		return httpx.SleepContext(ctx, d)
	}
	return c.rest.Sleep(ctx, d)
}

// backoff is [httpx.Backoff]: 1s, 2s, 4s ... capped at 30s.
func backoff(n int) time.Duration { return httpx.Backoff(n) }

// checkSeraph catches refused credentials on an accepted status: with bad
// Basic credentials Jira may serve the request anonymously (200, empty
// results) and say so only in this header.
func checkSeraph(method string, u *url.URL, resp *http.Response) error {
	if r := resp.Header.Get("X-Seraph-LoginReason"); r == "AUTHENTICATED_FAILED" || r == "AUTHENTICATION_DENIED" {
		return &httpx.AuthError{Service: "jira", Err: fmt.Errorf("%s %s: login reason %s", method, httpx.RedactURL(u), r), Hint: authHint}
	}
	return nil
}

// rateLimitHint explains a 429 that outlasted every retry.
func rateLimitHint(last error, retries int) {
	if se := (*httpx.StatusError)(nil); errors.As(last, &se) && se.Status == http.StatusTooManyRequests {
		se.Hint = fmt.Sprintf("Jira kept rate-limiting after %d retries; wait a few minutes and re-run (re-running updates, never duplicates)", retries)
	}
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
