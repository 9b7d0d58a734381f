package okta

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// transport sits between the SDK and the caller's transport (the evidence
// recorder), so the recorder sees every attempt. It paces requests with a
// token bucket (okta.max_requests_per_minute), pauses everyone when Okta
// says the org's quota is nearly spent (X-Rate-Limit-Remaining low: wait
// for X-Rate-Limit-Reset, leaving the rest of the quota to other
// integrations), and retries 5xx answers to GETs a bounded number of
// times (the SDK retries only 429s).
//
// It measures elapsed time for pacing only; now and sleep are replaced in
// tests.
type transport struct {
	base  http.RoundTripper
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	max5xx    int
	backoff5x time.Duration

	mu         sync.Mutex
	rate       float64 // tokens per second; 0 = no cap
	burst      float64
	tokens     float64
	last       time.Time
	pauseUntil time.Time

	requests, status429, status5xx, retries5xx, waits atomic.Int64
}

func newTransport(base http.RoundTripper, perMinute int) *transport {
	t := &transport{base: base, now: time.Now, sleep: sleepCtx, max5xx: 2, backoff5x: 500 * time.Millisecond}
	if perMinute > 0 {
		t.rate = float64(perMinute) / 60
		t.burst = max(1, t.rate) // about one second's worth
		t.tokens = t.burst
	}
	return t
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxPause bounds a pause asked for by X-Rate-Limit-Reset (Okta's windows
// are 60 s); a skewed or bogus header cannot stall a run for longer.
const maxPause = 61 * time.Second

func (t *transport) wait(ctx context.Context) error {
	t.mu.Lock()
	now := t.now()
	var d time.Duration
	if t.pauseUntil.After(now) {
		d = t.pauseUntil.Sub(now)
	}
	if t.rate > 0 {
		if !t.last.IsZero() && now.After(t.last) {
			t.tokens = min(t.burst, t.tokens+now.Sub(t.last).Seconds()*t.rate)
		}
		if now.After(t.last) {
			t.last = now
		}
		t.tokens-- // reserve, possibly into debt: the debt is the wait
		if t.tokens < 0 {
			d = max(d, time.Duration(-t.tokens/t.rate*float64(time.Second)))
		}
	}
	t.mu.Unlock()
	if d <= 0 {
		return ctx.Err()
	}
	t.waits.Add(1)
	return t.sleep(ctx, d)
}

// observe reads the rate-limit headers of a non-429 answer (the SDK
// already sleeps on 429s) and pauses when the remaining quota is low.
func (t *transport) observe(resp *http.Response) {
	limit, err1 := strconv.Atoi(resp.Header.Get("X-Rate-Limit-Limit"))
	remaining, err2 := strconv.Atoi(resp.Header.Get("X-Rate-Limit-Remaining"))
	reset, err3 := strconv.ParseInt(resp.Header.Get("X-Rate-Limit-Reset"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || limit <= 0 {
		return
	}
	reserve := max(1, limit/20) // leave 5% of the org's quota to others
	if remaining > reserve {
		return
	}
	// Measure against the server's Date, as the SDK does, so clock skew
	// between us and Okta does not matter.
	var wait time.Duration
	if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		wait = time.Duration(reset-date.Unix()+1) * time.Second
	} else {
		wait = time.Until(time.Unix(reset+1, 0))
	}
	wait = min(max(wait, 0), maxPause)
	if wait == 0 {
		return
	}
	t.mu.Lock()
	if until := t.now().Add(wait); until.After(t.pauseUntil) {
		t.pauseUntil = until
	}
	t.mu.Unlock()
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		if err := t.wait(req.Context()); err != nil {
			return nil, err
		}
		t.requests.Add(1)
		resp, err := t.base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			t.status429.Add(1)
		case resp.StatusCode >= 500:
			t.status5xx.Add(1)
		default:
			t.observe(resp)
		}
		retriable := resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented &&
			req.Method == http.MethodGet && (req.Body == nil || req.Body == http.NoBody)
		if !retriable || attempt >= t.max5xx {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		t.retries5xx.Add(1)
		if err := t.sleep(req.Context(), t.backoff5x<<attempt); err != nil {
			return nil, err
		}
	}
}
