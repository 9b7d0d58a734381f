package okta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
)

// transport sits between the SDK and the caller's transport (the evidence
// recorder, behind the origin guard), so the recorder sees every attempt.
// It paces requests with a token bucket (okta.max_requests_per_minute),
// pauses everyone when Okta says the org's quota is nearly spent
// (X-Rate-Limit-Remaining low: wait for X-Rate-Limit-Reset, leaving the
// rest of the quota to other integrations), retries 5xx answers to GETs a
// bounded number of times (the SDK retries only 429s), and validates every
// Link header before the SDK sees it (see checkLinks).
//
// Time comes from the injected clock (Config.Now, Config.Sleep). Without a
// clock the transport measures time by what it slept itself, which only
// over-estimates the wait: pacing stays within the cap, just slower.
type transport struct {
	base   http.RoundTripper
	origin httpx.Origin
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
	clock  bool // now is a real clock (not the sleep-counting fallback)

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

func newTransport(base http.RoundTripper, origin httpx.Origin, perMinute int, now func() time.Time, sleep func(context.Context, time.Duration) error) *transport {
	t := &transport{base: base, origin: origin, now: now, sleep: sleep, clock: now != nil, max5xx: 2, backoff5x: 500 * time.Millisecond}
	if t.sleep == nil {
		t.sleep = httpx.SleepContext
	}
	if t.now == nil {
		// The sleep-counting clock: elapsed time is at least what was slept.
		var slept atomic.Int64
		inner := t.sleep
		t.now = func() time.Time { return time.Unix(0, slept.Load()).UTC() }
		t.sleep = func(ctx context.Context, d time.Duration) error {
			err := inner(ctx, d)
			if err == nil && d > 0 {
				slept.Add(int64(d))
			}
			return err
		}
	}
	if perMinute > 0 {
		t.rate = float64(perMinute) / 60
		t.burst = max(1, t.rate) // about one second's worth
		t.tokens = t.burst
	}
	return t
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
	} else if t.clock {
		wait = time.Unix(reset+1, 0).Sub(t.now())
	} else {
		wait = maxPause // no reference time at all: the longest pause is the safe one
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
		if err := checkLinks(t.origin, req, resp.Header); err != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
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
			if err := takePage(req, resp); err != nil {
				return nil, err
			}
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

// maxPageBody caps a page read here, when no evidence recorder below has
// read it already (evidence.MaxBodyOkta).
const maxPageBody = 32 << 20

// takePage hands a successful page requested by list (its context holds a
// pageSlot) to the slot and gives the SDK an empty body in its place, so
// the SDK's response handling (links, errors) runs but it never reads,
// copies or decodes a list page. Below an evidence recorder the page was
// decoded by the recorder's body hook from the bytes it stored, and the
// body names their ledger row; without one it is read and decoded here.
func takePage(req *http.Request, resp *http.Response) error {
	slot, _ := req.Context().Value(pageSlotKey{}).(*pageSlot)
	if slot == nil || req.Method != http.MethodGet || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil
	}
	if rb, ok := resp.Body.(*httpx.RecordedBody); ok && slot.parsed {
		slot.ev = rb.Recording().EvidenceID
	} else {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBody+1))
		if err == nil && len(b) > maxPageBody {
			err = fmt.Errorf("okta: GET %s: page larger than %d bytes", httpx.RedactURL(req.URL), maxPageBody)
		}
		if err != nil {
			_ = resp.Body.Close()
			return err
		}
		_, _ = slot.decode(b)
		if rb, ok := resp.Body.(*httpx.RecordedBody); ok {
			slot.ev = rb.Recording().EvidenceID
		}
	}
	slot.uri = req.URL.RequestURI()
	_ = resp.Body.Close()
	resp.Body = http.NoBody
	resp.ContentLength = 0
	resp.Header.Del("Content-Length")
	return nil
}

// checkLinks validates the Link headers of a response to req before the SDK
// parses them, and rewrites them into a form the SDK cannot misread.
//
// The SDK (v2.20.0, requestExecutor.newResponse) splits each header on ';',
// strips the scheme and host of the target and concatenates org_url with
// the rest, so a next link "<@evil.example/...>" becomes
// "https://org@evil.example/..." and "<1/api/...>" adds a digit to the
// port; a target that does not parse makes it dereference nil and panic.
// Here every header is parsed properly (httpx.ParseLinks); each self or
// next link must resolve against the request URL to the org's origin and
// to the request's own API path, without user info, or the response is
// refused with an *httpx.OriginError (naming the link without its query).
// A header that does not parse is a plain error wrapping
// httpx.ErrMalformedLink. What the SDK then sees is one header per kept
// relation, "</path?query>; rel="next"", which it resolves to exactly the
// URL validated here. Other relations are dropped.
func checkLinks(origin httpx.Origin, req *http.Request, h http.Header) error {
	vals := h.Values("Link")
	if len(vals) == 0 {
		return nil
	}
	links, err := httpx.ParseLinks(vals)
	if err != nil {
		return err
	}
	kept := map[string]string{} // rel -> canonical header value
	for _, l := range links {
		for _, rel := range []string{"self", "next"} {
			if !l.HasRel(rel) {
				continue
			}
			canon, err := checkLink(origin, req.URL, rel, l.URL)
			if err != nil {
				return err
			}
			if prev, dup := kept[rel]; dup && prev != canon {
				return fmt.Errorf("%w: two different %s links", httpx.ErrMalformedLink, rel)
			}
			kept[rel] = canon
		}
	}
	h.Del("Link")
	for _, rel := range []string{"self", "next"} {
		if v, ok := kept[rel]; ok {
			h.Add("Link", v)
		}
	}
	return nil
}

// checkLink resolves one link target against the request URL and returns
// its canonical header value.
func checkLink(origin httpx.Origin, reqURL *url.URL, rel, target string) (string, error) {
	ref, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("%w: %s link %q does not parse as a URL", httpx.ErrMalformedLink, rel, httpx.RedactRaw(target))
	}
	if _, err := url.ParseQuery(ref.RawQuery); err != nil {
		return "", fmt.Errorf("%w: %s link %q has a malformed query", httpx.ErrMalformedLink, rel, httpx.RedactRaw(target))
	}
	abs := reqURL.ResolveReference(ref)
	refuse := func(reason string) error {
		return &httpx.OriginError{Service: "okta", Kind: rel + " link", URL: httpx.RedactRaw(target), Allowed: origin.String(), Reason: reason}
	}
	switch {
	case !origin.Matches(abs):
		return "", refuse("it resolves to " + httpx.RedactURL(abs) + ", not the org " + origin.String())
	case abs.User != nil:
		return "", refuse("it carries user info")
	case abs.Path != reqURL.Path:
		return "", refuse("it resolves to path " + strconv.Quote(abs.EscapedPath()) + ", not the requested " + strconv.Quote(reqURL.EscapedPath()))
	}
	c := url.URL{Path: reqURL.Path, RawPath: reqURL.RawPath, RawQuery: abs.RawQuery}
	return "<" + c.String() + `>; rel="` + rel + `"`, nil
}

// IsMalformedLink reports whether err is a refused malformed Link header.
func IsMalformedLink(err error) bool { return errors.Is(err, httpx.ErrMalformedLink) }
