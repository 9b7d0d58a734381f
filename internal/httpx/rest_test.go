package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
)

// restServer answers each request with the next scripted reply (the last
// one repeats) and records what it received.
type restServer struct {
	t       *testing.T
	mu      sync.Mutex
	replies []reply
	got     []*http.Request
	bodies  []string
	srv     *httptest.Server
}

type reply struct {
	status int
	header map[string]string
	body   string
}

func newRESTServer(t *testing.T, replies ...reply) *restServer {
	s := &restServer{t: t, replies: replies}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.got)
		s.got = append(s.got, r.Clone(context.Background()))
		s.bodies = append(s.bodies, string(b))
		rp := s.replies[min(n, len(s.replies)-1)]
		s.mu.Unlock()
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rp.status)
		io.WriteString(w, rp.body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// reset replaces the script and forgets the requests received so far.
func (s *restServer) reset(replies ...reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies, s.got, s.bodies = replies, nil, nil
}

func (s *restServer) request(i int) (*http.Request, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[i], s.bodies[i]
}

func (s *restServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// sleeps records the waits instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}

const secret = "s3cr3t-token"

func newREST(s *restServer, sl *sleeps) *httpx.REST {
	return &httpx.REST{
		Service:    "svc",
		BaseField:  "svc.base_url",
		BaseURL:    s.srv.URL + "/",
		HTTP:       s.srv.Client(),
		User:       "me@example.com",
		Password:   secret,
		UserAgent:  "uar-test",
		Sleep:      sl.sleep,
		MaxRetries: 3,
		MaxWait:    time.Minute,
	}
}

func TestRESTSendsAuthAndJSON(t *testing.T) {
	s := newRESTServer(t, reply{status: 201, body: `{"id":"7"}`})
	r := newREST(s, &sleeps{})
	var out struct{ ID string }
	err := r.Do(context.Background(), httpx.Call{Op: "create", Method: http.MethodPost, Path: "/api/things",
		Query: url.Values{"x": {"1"}}, Body: map[string]string{"name": "a"}, OK: []int{201}}, &out)
	if err != nil || out.ID != "7" {
		t.Fatalf("out %+v, err %v", out, err)
	}
	got, body := s.request(0)
	if u, p, ok := got.BasicAuth(); !ok || u != "me@example.com" || p != secret {
		t.Errorf("basic auth = %q %q %v", u, p, ok)
	}
	if got.URL.Path != "/api/things" || got.URL.RawQuery != "x=1" {
		t.Errorf("url = %s", got.URL)
	}
	for h, want := range map[string]string{"Accept": "application/json", "Content-Type": "application/json", "User-Agent": "uar-test"} {
		if v := got.Header.Get(h); v != want {
			t.Errorf("%s = %q, want %q", h, v, want)
		}
	}
	if body != `{"name":"a"}` {
		t.Errorf("body = %s", body)
	}
}

func TestRESTGetHasNoContentType(t *testing.T) {
	s := newRESTServer(t, reply{status: 200})
	r := newREST(s, &sleeps{})
	r.UserAgent = ""
	var out map[string]any
	if err := r.Do(context.Background(), httpx.Call{Op: "get", Method: http.MethodGet, Path: "/x", OK: []int{200}}, &out); err != nil {
		t.Fatal(err)
	}
	if out != nil {
		t.Errorf("empty body decoded into %v", out)
	}
	got, _ := s.request(0)
	if ct := got.Header.Get("Content-Type"); ct != "" {
		t.Errorf("Content-Type on a GET without body: %q", ct)
	}
	if ua := got.Header.Get("User-Agent"); ua != "uar" {
		t.Errorf("default User-Agent = %q", ua)
	}
}

func TestREST429HonoursRetryAfter(t *testing.T) {
	s := newRESTServer(t,
		reply{status: 429, header: map[string]string{"Retry-After": "7"}},
		reply{status: 429, header: map[string]string{"Retry-After": "600"}}, // capped at MaxWait
		reply{status: 200, body: `{"ok":true}`})
	sl := &sleeps{}
	r := newREST(s, sl)
	// A 429 means the server did not act, so even a POST is repeated.
	var out struct{ OK bool }
	if err := r.Do(context.Background(), httpx.Call{Op: "post", Method: http.MethodPost, Path: "/p", Body: 1, OK: []int{200}}, &out); err != nil || !out.OK {
		t.Fatalf("%+v %v", out, err)
	}
	if got := sl.all(); !slices.Equal(got, []time.Duration{7 * time.Second, time.Minute}) {
		t.Fatalf("sleeps = %v", got)
	}
	if s.count() != 3 {
		t.Fatalf("%d requests, want 3", s.count())
	}
	for i := range 3 {
		if _, b := s.request(i); b != "1" {
			t.Errorf("request %d body %q: the payload must be resent whole", i, b)
		}
	}
}

func TestRESTRetryAfterHTTPDate(t *testing.T) {
	date := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	busy := reply{status: 503, header: map[string]string{
		"Date":        date.Format(http.TimeFormat),
		"Retry-After": date.Add(9 * time.Second).Format(http.TimeFormat)}}
	s := newRESTServer(t, busy, reply{status: 200})
	sl := &sleeps{}
	r := newREST(s, sl)
	// No clock injected: the server's Date is the reference.
	if err := r.Do(context.Background(), httpx.Call{Op: "get", Method: http.MethodGet, Path: "/", OK: []int{200}}, nil); err != nil {
		t.Fatal(err)
	}
	// With a clock, the clock wins over the Date header.
	r.Now = func() time.Time { return date.Add(4 * time.Second) }
	s.reset(busy, reply{status: 200})
	if err := r.Do(context.Background(), httpx.Call{Op: "get", Method: http.MethodGet, Path: "/", OK: []int{200}}, nil); err != nil {
		t.Fatal(err)
	}
	if got := sl.all(); !slices.Equal(got, []time.Duration{9 * time.Second, 5 * time.Second}) {
		t.Fatalf("sleeps = %v", got)
	}
}

func TestRESTNoBlindRetryOfPOST(t *testing.T) {
	for _, rp := range []reply{
		{status: 500, body: "boom"},
		{status: 502},
		{status: 503}, // no Retry-After: the server may have acted
	} {
		t.Run(fmt.Sprint(rp.status), func(t *testing.T) {
			s := newRESTServer(t, rp, reply{status: 201})
			sl := &sleeps{}
			r := newREST(s, sl)
			var failed error
			r.OnFail = func(last error, retries int) { failed = last }
			err := r.Do(context.Background(), httpx.Call{Op: "create thing", Method: http.MethodPost, Path: "/t", Body: 1, OK: []int{201}}, nil)
			var se *httpx.StatusError
			if !errors.As(err, &se) || se.Status != rp.status || se.Service != "svc" {
				t.Fatalf("err = %v", err)
			}
			if !strings.HasPrefix(err.Error(), "svc: create thing: ") {
				t.Errorf("error %q lacks the service and op", err)
			}
			if s.count() != 1 || len(sl.all()) != 0 {
				t.Fatalf("%d requests, sleeps %v: a failed POST must not be repeated", s.count(), sl.all())
			}
			if failed == nil {
				t.Error("OnFail not called")
			}
		})
	}
}

func TestREST5xxRetriedOnlyWhenIdempotent(t *testing.T) {
	s := newRESTServer(t, reply{status: 502}, reply{status: 500}, reply{status: 200, body: `[1,2]`})
	sl := &sleeps{}
	r := newREST(s, sl)
	var out []int
	if err := r.Do(context.Background(), httpx.Call{Op: "search", Method: http.MethodPost, Path: "/search", Body: 1, Idempotent: true, OK: []int{200}}, &out); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out, []int{1, 2}) || s.count() != 3 {
		t.Fatalf("out %v after %d requests", out, s.count())
	}
	if got := sl.all(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("backoff = %v", got)
	}
}

func TestRESTNo5xxRetryOf4xx(t *testing.T) {
	s := newRESTServer(t, reply{status: 404, body: `{"message":"gone"}`})
	r := newREST(s, &sleeps{})
	r.Decode = func(method string, u *url.URL, resp *http.Response, raw []byte) error {
		var b struct{ Message string }
		json.Unmarshal(raw, &b)
		return &httpx.StatusError{Service: "svc", Method: method, URL: httpx.RedactURL(u), Status: resp.StatusCode, Message: b.Message, Hint: "check svc.thing"}
	}
	err := r.Do(context.Background(), httpx.Call{Op: "get", Method: http.MethodGet, Path: "/g", Idempotent: true, OK: []int{200}}, nil)
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Message != "gone" || se.Hint != "check svc.thing" || s.count() != 1 {
		t.Fatalf("err %v after %d requests", err, s.count())
	}
}

func TestRESTGivesUpAfterMaxRetries(t *testing.T) {
	s := newRESTServer(t, reply{status: 429, header: map[string]string{"Retry-After": "1"}})
	sl := &sleeps{}
	r := newREST(s, sl)
	var retries int
	r.OnFail = func(last error, n int) {
		retries = n
		var se *httpx.StatusError
		if errors.As(last, &se) {
			se.Hint = "slow down"
		}
	}
	err := r.Do(context.Background(), httpx.Call{Op: "get", Method: http.MethodGet, Path: "/g?token=" + secret, Idempotent: true, OK: []int{200}}, nil)
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != 429 || se.Hint != "slow down" || retries != 3 {
		t.Fatalf("err %v, hint %q, retries %d", err, se.Hint, retries)
	}
	if s.count() != 4 || len(sl.all()) != 3 {
		t.Fatalf("%d requests and %d sleeps, want 1+3 and 3", s.count(), len(sl.all()))
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("secret in error: %v", err)
	}
}

func TestRESTCancelDuringWait(t *testing.T) {
	s := newRESTServer(t, reply{status: 429, header: map[string]string{"Retry-After": "3600"}}, reply{status: 200})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newREST(s, &sleeps{})
	r.MaxWait = 0 // uncapped: only the cancellation can end this wait
	// The default sleep, cancelled while it waits an hour.
	r.Sleep = func(ctx context.Context, d time.Duration) error {
		if d != time.Hour {
			t.Errorf("wait = %v, want 1h", d)
		}
		cancel()
		return httpx.SleepContext(ctx, d)
	}
	err := r.Do(ctx, httpx.Call{Op: "get", Method: http.MethodGet, Path: "/", Idempotent: true, OK: []int{200}}, nil)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "svc: get: ") {
		t.Fatalf("err = %v", err)
	}
	if s.count() != 1 {
		t.Fatalf("%d requests after cancel, want 1", s.count())
	}
}

func TestRESTCancelledBeforeRequest(t *testing.T) {
	s := newRESTServer(t, reply{status: 200})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sl := &sleeps{}
	err := newREST(s, sl).Do(ctx, httpx.Call{Op: "get", Method: http.MethodGet, Path: "/", Idempotent: true, OK: []int{200}}, nil)
	if !errors.Is(err, context.Canceled) || len(sl.all()) != 0 {
		t.Fatalf("err %v, sleeps %v", err, sl.all())
	}
}

func TestSleepContext(t *testing.T) {
	if err := httpx.SleepContext(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := httpx.SleepContext(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if err := httpx.SleepContext(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestBackoff(t *testing.T) {
	var got []time.Duration
	for n := range 8 {
		got = append(got, httpx.Backoff(n))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(got, want) {
		t.Fatalf("backoff = %v", got)
	}
}

func TestRESTBodyLimit(t *testing.T) {
	big := `{"name":"` + strings.Repeat("x", 100) + `"}`
	s := newRESTServer(t, reply{status: 200, body: big}, reply{status: 400, body: big})
	r := newREST(s, &sleeps{})
	r.MaxBody = 32
	var seen int
	r.Decode = func(method string, u *url.URL, resp *http.Response, raw []byte) error {
		seen = len(raw)
		return &httpx.StatusError{Service: "svc", Method: method, URL: httpx.RedactURL(u), Status: resp.StatusCode}
	}
	var out struct{ Name string }
	err := r.Do(context.Background(), httpx.Call{Op: "get", Method: http.MethodGet, Path: "/", Idempotent: true, OK: []int{200}}, &out)
	if err == nil || !strings.Contains(err.Error(), "decode response") || out.Name != "" {
		t.Fatalf("a body past MaxBody must be cut, not decoded: %+v %v", out, err)
	}
	// Not a retryable failure: the same answer would come back.
	if s.count() != 1 {
		t.Fatalf("%d requests", s.count())
	}
	err = r.Do(context.Background(), httpx.Call{Op: "get", Method: http.MethodGet, Path: "/", OK: []int{200}}, &out)
	if !errors.As(err, new(*httpx.StatusError)) || seen != 32 {
		t.Fatalf("error body of %d bytes reached Decode (want 32): %v", seen, err)
	}
	// Within the limit the same body decodes.
	r.MaxBody = 0
	s.reset(reply{status: 200, body: big})
	if err := r.Do(context.Background(), httpx.Call{Op: "get", Method: http.MethodGet, Path: "/", OK: []int{200}}, &out); err != nil || len(out.Name) != 100 {
		t.Fatalf("%v %d", err, len(out.Name))
	}
}

func TestRESTCheckRejectsAcceptedStatus(t *testing.T) {
	s := newRESTServer(t, reply{status: 200, header: map[string]string{"X-Login": "failed"}, body: `{"name":"anon"}`})
	sl := &sleeps{}
	r := newREST(s, sl)
	r.Check = func(method string, u *url.URL, resp *http.Response) error {
		if resp.Header.Get("X-Login") == "failed" {
			return &httpx.AuthError{Service: "svc", Err: errors.New("login failed")}
		}
		return nil
	}
	var out struct{ Name string }
	err := r.Do(context.Background(), httpx.Call{Op: "me", Method: http.MethodGet, Path: "/me", Idempotent: true, OK: []int{200}}, &out)
	if !httpx.IsAuth(err) || out.Name != "" || s.count() != 1 || len(sl.all()) != 0 {
		t.Fatalf("err %v, out %+v, %d requests", err, out, s.count())
	}
}

func TestRESTTransportError(t *testing.T) {
	s := newRESTServer(t, reply{status: 200})
	s.srv.Close() // connection refused from now on
	for _, idem := range []bool{false, true} {
		sl := &sleeps{}
		r := newREST(s, sl)
		err := r.Do(context.Background(), httpx.Call{Op: "op", Method: http.MethodPut, Path: "/x", Query: url.Values{"token": {secret}}, Idempotent: idem, OK: []int{200}}, nil)
		if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "token=") {
			t.Fatalf("err = %v", err)
		}
		want := 0
		if idem {
			want = 3
		}
		if got := sl.all(); len(got) != want {
			t.Errorf("idempotent=%v: sleeps %v, want %d", idem, got, want)
		}
	}
}

func TestRESTBadBaseURL(t *testing.T) {
	r := &httpx.REST{Service: "svc", BaseField: "svc.base_url", BaseURL: "not a url"}
	err := r.Do(context.Background(), httpx.Call{Op: "get", Method: http.MethodGet, Path: "/"}, nil)
	if err == nil || err.Error() != `svc: get: svc.base_url "not a url" is not an absolute URL` {
		t.Fatalf("err = %v", err)
	}
}

func TestRESTUnencodableBody(t *testing.T) {
	s := newRESTServer(t, reply{status: 200})
	err := newREST(s, &sleeps{}).Do(context.Background(), httpx.Call{Op: "post", Method: http.MethodPost, Path: "/", Body: func() {}, OK: []int{200}}, nil)
	if err == nil || !strings.Contains(err.Error(), "encode request") || s.count() != 0 {
		t.Fatalf("err %v after %d requests", err, s.count())
	}
}
