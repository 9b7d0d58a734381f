package httpx

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
)

// DefaultMaxBody is the response-body limit of [REST] when MaxBody is 0.
// Anything past it is dropped unread, so a runaway or hostile server cannot
// exhaust memory; a truncated JSON body then fails to decode.
const DefaultMaxBody = 64 << 20

// REST is the request engine shared by the JSON REST clients (Jira,
// Confluence): Basic auth, JSON in and out, and bounded retries.
//
// Retry policy, per call:
//   - 429, and 503 with a Retry-After header, are retried after the
//     Retry-After delay (see [REST.Now]) whatever the method, because the
//     server promises it did not act on the request;
//   - other 5xx answers and transport errors are retried with [Backoff]
//     only when [Call.Idempotent] is set: a POST that failed that way may
//     have happened, and blind repetition could duplicate it;
//   - everything else is returned at once.
//
// Each service supplies its own error decoding ([REST.Decode]) so hints
// and error shapes stay in the service's package. A REST value must not
// be changed once calls are in flight; [REST.Do] itself is safe for
// concurrent use.
type REST struct {
	Service   string // "jira": prefix of every error, StatusError.Service of the default decoder
	BaseField string // config key of BaseURL ("jira.base_url"), named when it is not absolute
	BaseURL   string // scheme://host[/prefix]; Call.Path is appended

	HTTP      *http.Client // nil: a client with a 60 s timeout
	User      string       // Basic auth user (an email); may appear in errors
	Password  string       // Basic auth password (an API token); never in an error
	UserAgent string       // User-Agent header; empty: "uar"

	// Sleep waits between retries; nil means [SleepContext]. Tests inject
	// a recorder so they never wait for real.
	Sleep func(context.Context, time.Duration) error
	// Now is the reference for a Retry-After given as an HTTP date. When
	// nil the server's Date header is used, so the engine never reads the
	// local clock; with neither, such a header counts as absent.
	Now        func() time.Time
	MaxRetries int           // retries after the first attempt; 0 disables them
	MaxWait    time.Duration // cap on one Retry-After wait; 0: uncapped
	MaxBody    int64         // response-body limit; 0: DefaultMaxBody

	// Decode turns a response whose status is not in Call.OK into an error
	// (usually a *StatusError). raw is the body, at most MaxBody bytes.
	// nil: a bare *StatusError with the status and the redacted URL.
	Decode func(method string, u *url.URL, resp *http.Response, raw []byte) error
	// Check, when set, inspects a response whose status is in Call.OK
	// before its body is decoded; an error fails the call without a retry
	// (Jira signals refused credentials on a 200 in a header).
	Check func(method string, u *url.URL, resp *http.Response) error
	// OnFail, when set, sees the last error of a call that failed after
	// its attempts, before it is wrapped, to attach a hint (for example to
	// a *StatusError it wraps). retries is MaxRetries. It is not called
	// for a bad BaseURL, an unencodable body or a cancelled wait.
	OnFail func(last error, retries int)
}

// Call is one REST operation.
type Call struct {
	Op         string     // for error messages: "create issue"
	Method     string     // http.MethodGet...
	Path       string     // below BaseURL, already escaped, starting with "/"
	Query      url.Values // may be nil
	Body       any        // JSON-encoded when non-nil
	Idempotent bool       // may be retried after a 5xx or a transport error
	OK         []int      // accepted statuses
}

// attemptErr is one failed attempt and whether it may be repeated; wait
// < 0 means "use the exponential backoff".
type attemptErr struct {
	err   error
	retry bool
	wait  time.Duration
}

// Do performs cl, retrying as described on [REST], and decodes an
// accepted response's JSON body into out (when out is non-nil and the body
// is not empty). Errors read "<service>: <op>: ..." and never contain the
// password or the query string.
func (r *REST) Do(ctx context.Context, cl Call, out any) error {
	base, _ := url.Parse(strings.TrimRight(r.BaseURL, "/"))
	if base == nil || base.Host == "" {
		return fmt.Errorf("%s: %s: %s %q is not an absolute URL", r.Service, cl.Op, r.BaseField, r.BaseURL)
	}
	u, err := url.Parse(strings.TrimRight(base.String(), "/") + cl.Path)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", r.Service, cl.Op, err)
	}
	u.RawQuery = cl.Query.Encode()
	var payload []byte
	if cl.Body != nil {
		if payload, err = json.Marshal(cl.Body); err != nil {
			return fmt.Errorf("%s: %s: encode request: %w", r.Service, cl.Op, err)
		}
	}
	sleep := r.Sleep
	if sleep == nil {
		sleep = SleepContext
	}
	var last error
	for attempt := 0; ; attempt++ {
		ae := r.attempt(ctx, cl, u, payload, out)
		if ae == nil {
			return nil
		}
		last = ae.err
		if !ae.retry || attempt >= r.MaxRetries || ctx.Err() != nil {
			break
		}
		wait := ae.wait
		if wait < 0 {
			wait = Backoff(attempt)
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %s: %w", r.Service, cl.Op, err)
		}
	}
	if r.OnFail != nil {
		r.OnFail(last, r.MaxRetries)
	}
	return fmt.Errorf("%s: %s: %w", r.Service, cl.Op, last)
}

func (r *REST) attempt(ctx context.Context, cl Call, u *url.URL, payload []byte, out any) *attemptErr {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.Method, u.String(), body)
	if err != nil {
		return &attemptErr{err: err}
	}
	req.SetBasicAuth(r.User, r.Password)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	ua := r.UserAgent
	if ua == "" {
		ua = "uar"
	}
	req.Header.Set("User-Agent", ua)
	hc := r.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error repeats the URL (with its query); keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil {
			return &attemptErr{err: ctx.Err()}
		}
		if IsOrigin(err) {
			// Refused before sending (a redirect or URL off the configured
			// origin): repeating it cannot help.
			return &attemptErr{err: err}
		}
		return &attemptErr{err: fmt.Errorf("%s %s: %w", cl.Method, RedactURL(u), err), retry: cl.Idempotent, wait: -1}
	}
	defer resp.Body.Close()
	limit := r.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return &attemptErr{err: fmt.Errorf("%s %s: read response: %w", cl.Method, RedactURL(u), err), retry: cl.Idempotent, wait: -1}
	}
	if slices.Contains(cl.OK, resp.StatusCode) {
		if r.Check != nil {
			if err := r.Check(cl.Method, u, resp); err != nil {
				return &attemptErr{err: err}
			}
		}
		if out != nil && len(bytes.TrimSpace(raw)) > 0 {
			if err := json.Unmarshal(raw, out); err != nil {
				return &attemptErr{err: fmt.Errorf("%s %s: decode response: %w", cl.Method, RedactURL(u), err)}
			}
		}
		return nil
	}
	var se error
	if r.Decode != nil {
		se = r.Decode(cl.Method, u, resp, raw)
	} else {
		se = &StatusError{Service: r.Service, Method: cl.Method, URL: RedactURL(u), Status: resp.StatusCode}
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
		return &attemptErr{err: se, retry: true, wait: r.retryAfter(resp, Backoff(0))}
	case resp.StatusCode >= 500 && cl.Idempotent:
		return &attemptErr{err: se, retry: true, wait: -1}
	}
	return &attemptErr{err: se}
}

// retryAfter reads Retry-After relative to the injected clock, or to the
// server's own Date header when no clock was injected.
func (r *REST) retryAfter(resp *http.Response, def time.Duration) time.Duration {
	var now time.Time
	if r.Now != nil {
		now = r.Now()
	} else if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		now = t
	}
	h := resp.Header.Get("Retry-After")
	if now.IsZero() {
		if _, err := http.ParseTime(h); err == nil {
			return def // an HTTP date with no reference time
		}
	}
	return RetryAfter(h, now, def, r.MaxWait)
}

// Backoff is the wait before retry n+1 when the server gave no
// Retry-After: 1s, 2s, 4s ... capped at 30s. No jitter, so runs stay
// reproducible; one CLI process is not a thundering herd.
func Backoff(n int) time.Duration {
	return min(time.Second<<min(max(n, 0), 5), 30*time.Second)
}

// SleepContext waits d on a timer and returns early with ctx.Err() when
// ctx is done; d <= 0 returns ctx.Err() at once.
func SleepContext(ctx context.Context, d time.Duration) error {
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
