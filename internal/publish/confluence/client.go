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
	var errs []error
	if err := httpx.CheckEndpoint("confluence.base_url", c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(c.Email) == "" {
		errs = append(errs, errors.New("confluence.email: is empty (it defaults to jira.email)"))
	} else if !strings.Contains(c.Email, "@") {
		errs = append(errs, fmt.Errorf("confluence.email: %q is not an email address", c.Email))
	}
	if c.Token == "" {
		errs = append(errs, errors.New("UAR_CONFLUENCE_TOKEN: is not set (nor UAR_JIRA_TOKEN)"))
	}
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
	cfg        Config
	base       *url.URL
	hc         *http.Client
	userAgent  string
	sleep      func(context.Context, time.Duration) error
	now        func() time.Time
	maxRetries int
	maxWait    time.Duration
	maxUpdate  int
}

// Option customises a Client.
type Option func(*Client)

// WithSleep replaces the wait between retries (tests record it instead of
// waiting). The default waits on a timer and stops when ctx is done.
func WithSleep(f func(context.Context, time.Duration) error) Option {
	return func(c *Client) { c.sleep = f }
}

// WithClock supplies the current time, used only for a Retry-After given
// as an HTTP date; without it the server's Date header is the reference.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithUserAgent sets the User-Agent header (default "uar").
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithMaxRetries bounds the retries of one call after 429/503/5xx
// (default 4).
func WithMaxRetries(n int) Option { return func(c *Client) { c.maxRetries = max(n, 0) } }

// WithMaxUpdateAttempts bounds how many times UpdatePage re-reads and
// re-writes after a 409 version conflict (default 5).
func WithMaxUpdateAttempts(n int) Option { return func(c *Client) { c.maxUpdate = max(n, 1) } }

// New returns a client for cfg that sends its requests through hc.
func New(cfg Config, hc *http.Client, opts ...Option) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	c := &Client{cfg: cfg, hc: hc, userAgent: "uar", sleep: sleepCtx, maxRetries: 4, maxWait: 60 * time.Second, maxUpdate: 5}
	c.base, _ = url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	for _, o := range opts {
		o(c)
	}
	return c
}

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

const authHint = "check confluence.email and UAR_CONFLUENCE_TOKEN (or UAR_JIRA_TOKEN), and that the account can see confluence.space; a scoped API token needs confluence.base_url https://api.atlassian.com/ex/confluence/<cloudId>"

type call struct {
	op         string
	method     string
	path       string // below BaseURL, escaped, starting with /wiki/
	query      url.Values
	body       any
	idempotent bool
	ok         []int
}

type attemptErr struct {
	err   error
	retry bool
	wait  time.Duration // < 0: exponential backoff
}

func (c *Client) do(ctx context.Context, cl call, out any) error {
	if c.base == nil || c.base.Host == "" {
		return fmt.Errorf("confluence: %s: confluence.base_url %q is not an absolute URL", cl.op, c.cfg.BaseURL)
	}
	u, err := url.Parse(strings.TrimRight(c.base.String(), "/") + cl.path)
	if err != nil {
		return fmt.Errorf("confluence: %s: %w", cl.op, err)
	}
	u.RawQuery = cl.query.Encode()
	var payload []byte
	if cl.body != nil {
		if payload, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("confluence: %s: encode request: %w", cl.op, err)
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
			return fmt.Errorf("confluence: %s: %w", cl.op, err)
		}
	}
	if se := (*httpx.StatusError)(nil); errors.As(last, &se) && (se.Status == 429 || se.Status >= 500) && se.Hint == "" {
		se.Hint = fmt.Sprintf("Confluence is rate-limiting or unavailable after %d retries; re-run later (re-running updates the page, never duplicates it)", c.maxRetries)
	}
	return fmt.Errorf("confluence: %s: %w", cl.op, last)
}

// backoff: 1s, 2s, 4s ... capped at 30s, without jitter (reproducible).
func backoff(n int) time.Duration { return min(time.Second<<min(n, 5), 30*time.Second) }

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
			return def
		}
	}
	return httpx.RetryAfter(h, now, def, c.maxWait)
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
