// Package sandbox holds faithful fakes of the services uar talks to (Okta,
// Jira, Confluence, Slack, Anthropic) and a seeded org generator. The fakes
// behave like the real services on the wire, as described in
// shared/reference: they back the package tests, `uar sandbox`, `uar demo`
// and the benchmarks. Each fake records the requests it receives so tests
// can assert on what was sent.
//
// Conventions for every fake in this package: a fake is an http.Handler
// built by New<Service>; it never reads the process environment or the
// real clock (a Clock func is injected); unexported helpers are prefixed
// with the service name when they are service-specific.
package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// Request is one request a fake received. Authorization is not kept: tests
// that care about credentials assert on the fake's verdict, not the value.
type Request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query,omitempty"`
	Body   string `json:"body,omitempty"`
	Status int    `json:"status"`
}

// RequestLog is a concurrency-safe list of received requests.
type RequestLog struct {
	mu   sync.Mutex
	reqs []Request
}

// Add appends r.
func (l *RequestLog) Add(r Request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
}

// All returns a copy of the requests received so far, in arrival order.
func (l *RequestLog) All() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.reqs...)
}

// Count returns how many requests matched method and path exactly (an
// empty method or path matches any).
func (l *RequestLog) Count(method, path string) int {
	n := 0
	for _, r := range l.All() {
		if (method == "" || r.Method == method) && (path == "" || r.Path == path) {
			n++
		}
	}
	return n
}

// Reset forgets every request.
func (l *RequestLog) Reset() {
	l.mu.Lock()
	l.reqs = nil
	l.mu.Unlock()
}

// Clock returns the current time; fakes take one so tests can pin it.
type Clock func() time.Time

func (c Clock) now() time.Time {
	if c == nil {
		return time.Now().UTC()
	}
	return c().UTC()
}

// writeJSON writes v as JSON with the given status and content type
// application/json (charset included, as the real services send it).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads a request body fully (bounded at 32 MiB) for logging and
// decoding.
func readBody(r *http.Request) []byte {
	if r.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	return b
}

// faults is the fault injection the Atlassian fakes share: the next N
// requests answer 429 (with a Retry-After) or a 5xx, and every response can
// be delayed. It has its own lock, so it is safe to change while serving.
type faults struct {
	mu         sync.Mutex
	fail429    int
	retryAfter string
	fail5xx    int
	status5xx  int
	latency    time.Duration
}

func (f *faults) inject429(n int, retryAfter string) {
	f.mu.Lock()
	f.fail429, f.retryAfter = n, retryAfter
	f.mu.Unlock()
}

func (f *faults) inject5xx(n, status int) {
	f.mu.Lock()
	f.fail5xx, f.status5xx = n, status
	f.mu.Unlock()
}

func (f *faults) setLatency(d time.Duration) {
	f.mu.Lock()
	f.latency = d
	f.mu.Unlock()
}

// delay waits the configured latency, or until the request is abandoned.
func (f *faults) delay(r *http.Request) {
	f.mu.Lock()
	lat := f.latency
	f.mu.Unlock()
	if lat <= 0 {
		return
	}
	t := time.NewTimer(lat)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// next uses up one injected failure: status 429 (with retryAfter, which
// may be empty), a 5xx status, or 0 when the request should be served.
func (f *faults) next() (status int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.fail429 > 0:
		f.fail429--
		return http.StatusTooManyRequests, f.retryAfter
	case f.fail5xx > 0:
		f.fail5xx--
		return f.status5xx, ""
	}
	return 0, ""
}
