// Package confluence is a small typed client for Confluence Cloud REST v2
// (/wiki/api/v2): resolve a space, find, create and read a page, update it
// by read-modify-write with optimistic versioning, and list its versions
// (the page history is external evidence of when uar wrote what).
//
// # Wire contract
//
// Requests carry Basic auth (email:API token); the token never appears in
// an error or a returned value. Failures are *httpx.StatusError values
// whose Hint names the settings to check (confluence.base_url,
// confluence.email, UAR_CONFLUENCE_TOKEN, confluence.space).
//
// 429 answers (and 503 with Retry-After) are retried after Retry-After, a
// bounded number of times; idempotent reads and the PUT of an update are
// also retried on 5xx. Creating a page is not retried on 5xx: the caller
// looks it up with FindPage first (titles are unique in a space).
package confluence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
)

// Config is the [confluence] section of uar.yaml plus the token from the
// environment (UAR_CONFLUENCE_TOKEN, falling back to UAR_JIRA_TOKEN; the
// CLI resolves the fallbacks, including email → jira.email).
type Config struct {
	BaseURL      string // confluence.base_url, the site (https://acme.atlassian.net); API paths add /wiki/api/v2
	Email        string // confluence.email
	Token        string // UAR_CONFLUENCE_TOKEN; never printed
	Space        string // confluence.space, the space key
	ParentPageID string // confluence.parent_page_id, optional numeric page id
}

// Validate checks the configuration without contacting Confluence. Errors
// name the config key and never contain the token.
func (c Config) Validate() error {
	errs := httpx.CheckBasicAuth("confluence.base_url", c.BaseURL, "confluence.email", c.Email, " (it defaults to jira.email)",
		c.Token, "UAR_CONFLUENCE_TOKEN: is not set (nor UAR_JIRA_TOKEN)")
	switch {
	case strings.TrimSpace(c.Space) == "":
		errs = append(errs, errors.New("confluence.space: is empty"))
	case strings.ContainsAny(c.Space, " \t,\"'"):
		errs = append(errs, fmt.Errorf("confluence.space: %q is not a space key", c.Space))
	}
	if c.ParentPageID != "" && strings.Trim(c.ParentPageID, "0123456789") != "" {
		errs = append(errs, fmt.Errorf("confluence.parent_page_id: %q is not a numeric page id", c.ParentPageID))
	}
	return errors.Join(errs...)
}

// Client talks to one Confluence site. It is safe for concurrent use.
type Client struct {
	cfg       Config
	rest      httpx.REST // the shared request engine; options tune it
	maxUpdate int
}

// Option customises a Client.
type Option func(*Client)

// WithSleep replaces the wait between retries (tests record it instead of
// waiting). The default waits on a timer and stops when ctx is done.
func WithSleep(f func(context.Context, time.Duration) error) Option {
	return func(c *Client) { c.rest.Sleep = f }
}

// WithClock supplies the current time, used only for a Retry-After given
// as an HTTP date; without it the server's Date header is the reference.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.rest.Now = now } }

// WithUserAgent sets the User-Agent header (default "uar").
func WithUserAgent(ua string) Option { return func(c *Client) { c.rest.UserAgent = ua } }

// WithMaxRetries bounds the retries of one call after 429/503/5xx
// (default 4).
func WithMaxRetries(n int) Option { return func(c *Client) { c.rest.MaxRetries = max(n, 0) } }

// WithMaxUpdateAttempts bounds how many times UpdatePage re-reads and
// re-writes after a 409 version conflict (default 5).
func WithMaxUpdateAttempts(n int) Option { return func(c *Client) { c.maxUpdate = max(n, 1) } }

// New returns a client for cfg that sends its requests through hc. Whatever
// hc is, the client only ever sends to BaseURL's origin: a request or
// redirect elsewhere fails with an *httpx.OriginError and is never sent.
func New(cfg Config, hc *http.Client, opts ...Option) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	hc = httpx.Guarded("confluence", cfg.BaseURL, hc)
	c := &Client{
		cfg: cfg,
		rest: httpx.REST{
			Service:    "confluence",
			BaseField:  "confluence.base_url",
			BaseURL:    cfg.BaseURL,
			HTTP:       hc,
			User:       cfg.Email,
			Password:   cfg.Token,
			UserAgent:  "uar",
			Sleep:      httpx.SleepContext,
			MaxRetries: 4,
			MaxWait:    60 * time.Second,
			Decode:     decodeError,
			OnFail:     unavailableHint,
		},
		maxUpdate: 5,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

const authHint = "check confluence.email and UAR_CONFLUENCE_TOKEN (or UAR_JIRA_TOKEN), and that the account can see confluence.space; a scoped API token needs confluence.base_url https://api.atlassian.com/ex/confluence/<cloudId>"

// call is one REST operation; see [httpx.Call].
type call struct {
	op         string
	method     string
	path       string // below BaseURL, escaped, starting with /wiki/
	query      url.Values
	body       any
	idempotent bool
	ok         []int
}

func (c *Client) do(ctx context.Context, cl call, out any) error {
	return c.rest.Do(ctx, httpx.Call{Op: cl.op, Method: cl.method, Path: cl.path, Query: cl.query,
		Body: cl.body, Idempotent: cl.idempotent, OK: cl.ok}, out)
}

// unavailableHint explains a 429 or 5xx that outlasted the retries (or
// was not retried), unless the decoder already gave a better hint.
func unavailableHint(last error, retries int) {
	if se := (*httpx.StatusError)(nil); errors.As(last, &se) && (se.Status == 429 || se.Status >= 500) && se.Hint == "" {
		se.Hint = fmt.Sprintf("Confluence is rate-limiting or unavailable after %d retries; re-run later (re-running updates the page, never duplicates it)", retries)
	}
}

// decodeError adapts [statusError] to [httpx.REST.Decode].
func decodeError(method string, u *url.URL, resp *http.Response, raw []byte) error {
	return statusError(method, u, resp, raw)
}

// statusError parses both error shapes Confluence uses: v2
// {"errors":[{"status","code","title","detail"}]} and v1
// {"statusCode","message"}.
func statusError(method string, u *url.URL, resp *http.Response, raw []byte) *httpx.StatusError {
	se := &httpx.StatusError{Service: "confluence", Method: method, URL: httpx.RedactURL(u), Status: resp.StatusCode}
	var body struct {
		Errors []struct {
			Code   string  `json:"code"`
			Title  string  `json:"title"`
			Detail *string `json:"detail"`
		} `json:"errors"`
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &body) == nil && (len(body.Errors) > 0 || body.Message != "") {
		if len(body.Errors) > 0 {
			se.Code = body.Errors[0].Code
			var parts []string
			for _, e := range body.Errors {
				m := e.Title
				if e.Detail != nil && *e.Detail != "" {
					m += " (" + *e.Detail + ")"
				}
				parts = append(parts, m)
			}
			se.Message = strings.Join(parts, "; ")
		} else {
			se.Message = body.Message
		}
	} else if t := strings.TrimSpace(string(raw)); t != "" && !strings.HasPrefix(t, "<") && len(t) < 300 {
		se.Message = t
	}
	if se.IsAuth() {
		se.Hint = authHint
	}
	return se
}

func isStatus(err error, status int) bool {
	var se *httpx.StatusError
	return errors.As(err, &se) && se.Status == status
}
