package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/store"
)

func TestSecretForms(t *testing.T) {
	const email, tok = "svc-uar@acme.com", "ATATT3x/Fq+tok==en-0123"
	forms := SecretForms([]string{tok, "", "abc"}, []string{email, ""})
	cred := []byte(email + ":" + tok)
	want := []string{
		tok, "Bearer " + tok, "SSWS " + tok, strings.ReplaceAll(tok, "/", `\/`),
		base64.StdEncoding.EncodeToString(cred), "Basic " + base64.StdEncoding.EncodeToString(cred),
		base64.RawStdEncoding.EncodeToString(cred), base64.URLEncoding.EncodeToString(cred),
		"Basic " + base64.RawURLEncoding.EncodeToString(cred),
	}
	for _, w := range want {
		if !slices.Contains(forms, w) {
			t.Errorf("missing form %q", w)
		}
	}
	std := base64.StdEncoding.EncodeToString(cred)
	if strings.ContainsAny(std, "/+") {
		esc := strings.ReplaceAll(std, "/", `\/`)
		if !slices.Contains(forms, esc) || !slices.Contains(forms, "Basic "+esc) {
			t.Errorf("missing the JSON-escaped form %q", esc)
		}
	}
	if slices.Contains(forms, "abc") || slices.Contains(forms, "") {
		t.Error("short or empty secrets must not become forms")
	}
	if !slices.IsSortedFunc(forms, func(a, b string) int { return len(b) - len(a) }) {
		t.Error("forms must be longest first")
	}
	if n := len(forms); n != len(slices.Compact(slices.Clone(forms))) {
		t.Error("duplicate forms")
	}
}

// The Scrubber agrees with naive replacement, longest form first.
func TestScrubberMatchesNaiveReplace(t *testing.T) {
	forms := SecretForms([]string{"s3cr3t-token", "xoxb-123-abc"}, []string{"a@b.c"})
	sc := NewScrubber(forms)
	naive := func(s string) string {
		for _, f := range forms {
			s = strings.ReplaceAll(s, f, Redacted)
		}
		return s
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := append(slices.Clone(forms), "x", " ", "Basic ", "Bearer", "s3cr3t", "{\"a\":\"", "\"}", "tok", "YUBiLmM6")
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		in := b.String()
		if got, want := sc.String(in), naive(in); got != want {
			t.Fatalf("scrub(%q) = %q, naive %q", in, got, want)
		}
	}
	var nilSc *Scrubber
	if nilSc.String("s3cr3t-token") != "s3cr3t-token" || NewScrubber(nil).String("x") != "x" {
		t.Error("an empty scrubber must change nothing")
	}
	clean := []byte(`{"id":"00u1","profile":{"login":"a@b.c"}}`)
	if out := sc.Bytes(clean); &out[0] != &clean[0] {
		t.Error("a clean body must be returned as is, without a copy")
	}
}

// BenchmarkScrubberCleanPage measures the cost of scrubbing a page with
// no secret in it (every recorded response pays it): one pass, whatever
// the number of forms.
func BenchmarkScrubberCleanPage(b *testing.B) {
	forms := SecretForms([]string{"00abcdefghijklmnopqrstuvwxyz0123456789ABCD", "ATATT3xFfGF0jira-token-value-0123", "xoxb-1234-5678-slacktoken"},
		[]string{"svc-uar@acme.com", "svc-conf@acme.com"})
	sc := NewScrubber(forms)
	var page bytes.Buffer
	for i := 0; page.Len() < 1<<20; i++ {
		fmt.Fprintf(&page, `{"id":"00u%017d","status":"ACTIVE","profile":{"login":"user%d@company.com","email":"user%d@company.com","department":"Finance","title":"Analyst"}},`, i, i, i)
	}
	data := page.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportMetric(float64(len(forms)), "forms")
	for b.Loop() {
		if out := sc.Bytes(data); len(out) != len(data) {
			b.Fatal("changed a clean page")
		}
	}
}

// An Atlassian server that echoes the Authorization header into its body
// and into its error answer: the base64 credential (in any form) appears
// nowhere in the store file, its WAL, any decompressed blob, or the
// error text the client returns.
func TestEchoedBasicCredentialIsNowhere(t *testing.T) {
	const email, tok = "svc-uar@acme.com", "ATATT-jira/token+value-0123456789"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", auth)
		if r.URL.Path == "/rest/api/3/myself" {
			b, _ := json.Marshal(map[string]any{"accountId": "x", "emailAddress": email, "seen": auth,
				"escaped": strings.ReplaceAll(auth, "/", `\/`), "raw": strings.TrimPrefix(auth, "Basic ")})
			w.Write(b)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"errorMessages":["bad request from %s"],"errors":{"project":"%s"}}`, auth, strings.TrimPrefix(auth, "Basic "))
	}))
	defer srv.Close()
	cred := base64.StdEncoding.EncodeToString([]byte(email + ":" + tok))
	leaks := []string{cred, strings.TrimRight(cred, "="), strings.ReplaceAll(cred, "/", `\/`), tok}

	path := filepath.Join(t.TempDir(), "uar.db")
	s := openStore(t, path)
	rec := &Recorder{Ledger: newLedger(s), Service: "jira", Secrets: []string{tok}, BasicUsers: []string{email}}
	c := jira.New(jira.Config{BaseURL: srv.URL, Email: email, Token: tok, Project: "UAR"}, rec.Client(5*time.Second),
		jira.WithSleep(func(context.Context, time.Duration) error { return nil }))
	if _, err := c.Myself(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetIssue(context.Background(), "UAR-1")
	if err == nil {
		t.Fatal("want the 400")
	}
	var se *httpx.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	texts := []string{err.Error(), se.Message, se.Hint}
	// While the store is open the rows may sit in the WAL only.
	files := func() (out []string) {
		for _, f := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(f)
			if err == nil {
				out = append(out, string(b))
			}
		}
		return out
	}
	texts = append(texts, files()...)
	err = s.EachBlob(context.Background(), func(h string, _ int64, comp []byte) error {
		raw, err := Decompress(comp)
		texts = append(texts, string(raw))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := s.FindEvidence(context.Background(), store.EvidenceFilter{})
	for _, r := range rows {
		texts = append(texts, r.QueryText, r.QueryParams)
	}
	s.Close()
	texts = append(texts, files()...)
	for _, txt := range texts {
		for _, l := range leaks {
			if strings.Contains(txt, l) {
				t.Fatalf("credential form %q leaked into %q", l, clipText(txt))
			}
		}
	}
	if len(rows) != 2 || !strings.Contains(rows[1].QueryParams, `"status":400`) {
		t.Errorf("both calls must be recorded: %+v", rows)
	}
}

func clipText(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// A transport error that quotes a credential is scrubbed before it is
// recorded or returned, and still unwraps to its cause.
func TestTransportErrorScrubbed(t *testing.T) {
	const tok = "okta-token-SECRET-42"
	cause := errors.New("proxy said: Authorization: SSWS " + tok)
	path := filepath.Join(t.TempDir(), "uar.db")
	s := openStore(t, path)
	rec := &Recorder{Ledger: newLedger(s), Service: "okta", Secrets: []string{tok},
		Base: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, cause })}
	req, _ := http.NewRequest("GET", "https://acme.okta.com/api/v1/groups", nil)
	_, err := rec.RoundTrip(req)
	if err == nil || strings.Contains(err.Error(), tok) || !errors.Is(err, cause) {
		t.Fatalf("err = %v", err)
	}
	rows, _ := s.FindEvidence(context.Background(), store.EvidenceFilter{})
	if len(rows) != 1 || strings.Contains(rows[0].QueryParams, tok) || !strings.Contains(rows[0].QueryParams, Redacted) {
		t.Fatalf("rows %+v", rows)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// bigBody streams n bytes of JSON-ish filler without holding them.
func bigBody(n int64, declare bool) http.HandlerFunc {
	chunk := bytes.Repeat([]byte(`{"id":"00u0000000000000000","x":"yyyyyyyy"},`), 1500) // ~66 KB
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if declare {
			w.Header().Set("Content-Length", fmt.Sprint(n))
		}
		for sent := int64(0); sent < n; {
			k := min(int64(len(chunk)), n-sent)
			if _, err := w.Write(chunk[:k]); err != nil {
				return // the client hung up: expected past the cap
			}
			sent += k
		}
	}
}

func allocDuring(f func()) (totalAlloc uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A 200 MB Okta page: the call fails naming service and endpoint, nothing
// of the body is stored, and the memory allocated is bounded by the cap
// (32 MiB), not by the body. TotalAlloc counts every byte allocated
// during the call, freed or not, so it bounds the peak as well.
func TestRecorderCapsResponseBody(t *testing.T) {
	const size = 200 << 20
	for _, declare := range []bool{false, true} {
		t.Run(fmt.Sprintf("content-length=%v", declare), func(t *testing.T) {
			srv := httptest.NewServer(bigBody(size, declare))
			defer srv.Close()
			path := filepath.Join(t.TempDir(), "uar.db")
			s := openStore(t, path)
			rec := &Recorder{Ledger: newLedger(s), Service: "okta"}
			hc := rec.Client(time.Minute)
			var err error
			alloc := allocDuring(func() {
				var resp *http.Response
				resp, err = hc.Get(srv.URL + "/api/v1/groups?limit=200&after=00g1")
				if err == nil {
					resp.Body.Close()
				}
			})
			var tl *BodyTooLargeError
			if !errors.As(err, &tl) || tl.Service != "okta" || tl.Limit != MaxBodyOkta || tl.URL != srv.URL+"/api/v1/groups" {
				t.Fatalf("err = %v, want a *BodyTooLargeError for okta", err)
			}
			msg := tl.Error() // (net/http's *url.Error around it repeats the raw URL; adapters unwrap it)
			if !strings.Contains(msg, "okta: GET "+srv.URL+"/api/v1/groups") || !strings.Contains(msg, "32 MiB") || strings.Contains(msg, "after=") {
				t.Errorf("message %q", msg)
			}
			limit := uint64(MaxBodyOkta + 8<<20) // the cap, one growing chunk, and slack
			if declare {
				limit = 4 << 20 // declared too large: nothing is read at all
			}
			t.Logf("allocated %d MiB for a %d MiB body (cap %d MiB)", alloc>>20, size>>20, MaxBodyOkta>>20)
			if alloc > limit {
				t.Errorf("allocated %d MiB during the call, want at most %d MiB", alloc>>20, limit>>20)
			}
			rows, _ := s.FindEvidence(context.Background(), store.EvidenceFilter{})
			if len(rows) != 1 || !strings.Contains(rows[0].QueryParams, "exceeds the okta limit") || rows[0].ResultRowCount != 0 {
				t.Fatalf("the failed call must be recorded without its body: %+v", rows)
			}
			err = s.EachBlob(context.Background(), func(h string, n int64, _ []byte) error {
				if n > 1<<20 {
					return fmt.Errorf("blob %s of %d bytes stored", h, n)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	// Under the cap (an explicit smaller one), a body is kept whole.
	srv := httptest.NewServer(bigBody(1<<20, false))
	defer srv.Close()
	s := openStore(t, filepath.Join(t.TempDir(), "uar.db"))
	rec := &Recorder{Ledger: newLedger(s), Service: "slack", MaxBody: 2 << 20}
	resp, err := rec.Client(time.Minute).Get(srv.URL + "/api/chat.postMessage")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if len(b) != 1<<20 {
		t.Errorf("read %d bytes", len(b))
	}
	if DefaultMaxBody("jira") != 64<<20 || DefaultMaxBody("confluence") != 64<<20 || DefaultMaxBody("slack") != 8<<20 || DefaultMaxBody("anthropic") != 16<<20 {
		t.Error("default caps changed")
	}
}

// The origin guard wraps the recorder from the outside (as every adapter
// applies it): a refused request is neither sent nor recorded as a call;
// a same-origin redirect is recorded hop by hop.
func TestGuardOutsideRecorder(t *testing.T) {
	var evilHits int
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { evilHits++ }))
	defer evil.Close()
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, evil.URL+"/x", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusFound)
		default:
			io.WriteString(w, "[]")
		}
	}))
	defer home.Close()
	s := openStore(t, filepath.Join(t.TempDir(), "uar.db"))
	rec := &Recorder{Ledger: newLedger(s), Service: "jira"}
	hc, err := httpx.GuardOrigin("jira", home.URL, rec.Client(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Get(evil.URL + "/direct"); !httpx.IsOrigin(err) {
		t.Fatalf("direct: %v", err)
	}
	if _, err := hc.Get(home.URL + "/away"); !httpx.IsOrigin(err) {
		t.Fatalf("redirect away: %v", err)
	}
	resp, err := hc.Get(home.URL + "/moved")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	rows, _ := s.FindEvidence(context.Background(), store.EvidenceFilter{})
	var texts []string
	for _, r := range rows {
		texts = append(texts, r.QueryText)
	}
	want := []string{"GET " + home.URL + "/away", "GET " + home.URL + "/moved", "GET " + home.URL + "/here"}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("recorded %q, want %q (nothing off-origin, every same-origin hop)", texts, want)
	}
	if evilHits != 0 {
		t.Fatal("another origin was contacted")
	}
}

// The body handed on carries its recording (ledger row and hash of the
// stored bytes), and a caller's body hook counts the rows once: the row
// records its count, not a scan of its own. A hook that fails leaves the
// recorder to count; a failed status never reaches the hook.
func TestRecorderHandsOnRecordingAndUsesBodyHook(t *testing.T) {
	body := `[{"id":"a"},{"id":"b"},{"id":"c"}]`
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	s := openStore(t, filepath.Join(t.TempDir(), "uar.db"))
	rec := &Recorder{Ledger: newLedger(s), Service: "okta"}
	call := func(hook httpx.BodyHook) (*http.Response, store.EvidenceRow) {
		t.Helper()
		ctx := context.Background()
		if hook != nil {
			ctx = httpx.WithBodyHook(ctx, hook)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/groups", nil)
		resp, err := rec.RoundTrip(req) // as the okta transport calls it
		if err == nil && resp.StatusCode >= 500 {
			return resp, lastRow(t, s)
		}
		if err != nil {
			t.Fatal(err)
		}
		return resp, lastRow(t, s)
	}
	var seen []byte
	resp, row := call(func(b []byte) (int64, error) { seen = b; return 42, nil })
	rb, ok := resp.Body.(*httpx.RecordedBody)
	if !ok {
		t.Fatalf("body is a %T", resp.Body)
	}
	got, _ := io.ReadAll(resp.Body)
	r := rb.Recording()
	if string(got) != body || string(r.Body) != body || string(seen) != body || r.EvidenceID != row.ID || r.Hash != row.ResultHash || r.Hash != Sum([]byte(body)) {
		t.Errorf("recording %+v of row %s %s, read %q, hook saw %q", r, row.ID, row.ResultHash, got, seen)
	}
	if row.ResultRowCount != 42 {
		t.Errorf("row count %d, want the hook's 42", row.ResultRowCount)
	}
	_, row = call(func([]byte) (int64, error) { return 0, errors.New("not mine") })
	if row.ResultRowCount != 3 {
		t.Errorf("row count after a failed hook: %d, want the recorder's own 3", row.ResultRowCount)
	}
	status = http.StatusInternalServerError
	called := false
	_, row = call(func([]byte) (int64, error) { called = true; return 7, nil })
	if called || row.ResultRowCount != 3 {
		t.Errorf("hook called on a 500 (%v) or count %d", called, row.ResultRowCount)
	}
}

func lastRow(t *testing.T, s *store.Store) store.EvidenceRow {
	t.Helper()
	h, _ := s.Head(context.Background())
	row, err := s.EvidenceAt(context.Background(), h.Seq)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// The recorder's one pass (secret forms and credential fields together)
// finds a credential field exactly when the separate check does.
func TestScanFindsCredentialFieldsLikeTheCheck(t *testing.T) {
	sc := newScrubberWithMarkers(SecretForms([]string{"tok-SECRET"}, nil), secretJSONKeys)
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{`"password"`, `"access_token"`, `"id_token"`, `:`, ` `, "\n", `"x"`, `{}`, `{`, `}`, `,`, `"acc`, `"pass`, `tok-SECRET`, `"client_secret"`, `"client_assertion"`, `"refresh_token"`, `ab`}
	for range 5000 {
		var b strings.Builder
		for range rng.IntN(10) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		in := []byte(b.String())
		out, found := sc.Scan(in)
		if want := hasSecretJSONString(in); found != want {
			t.Fatalf("Scan(%q) found %v, the check says %v", in, found, want)
		}
		if string(out) != ScrubString(string(in), SecretForms([]string{"tok-SECRET"}, nil)) {
			t.Fatalf("Scan(%q) scrubbed to %q", in, out)
		}
	}
}

// readCapped returns an undeclared body exactly, on either side of its
// 1 MiB scratch buffer, and refuses one over the limit.
func TestReadCappedAroundTheScratchBuffer(t *testing.T) {
	for _, size := range []int{0, 1, 1<<20 - 1, 1 << 20, 1<<20 + 1, 3<<20 + 7} {
		body := bytes.Repeat([]byte{'x'}, size)
		got, over, err := readCapped(bytes.NewReader(body), 4<<20, -1)
		if err != nil || over || !bytes.Equal(got, body) {
			t.Errorf("size %d: %d bytes, over %v, err %v", size, len(got), over, err)
		}
		if size > 0 {
			if _, over, _ := readCapped(bytes.NewReader(body), int64(size-1), -1); !over {
				t.Errorf("size %d: a body over the limit was taken", size)
			}
		}
	}
}
