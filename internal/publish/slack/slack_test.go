package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/sandbox"
	"github.com/uar-dev/uar/templates"
)

const token = "xoxb-1234-secret-token-value"

var clock = func() time.Time { return time.Unix(1733043600, 0) }

type env struct {
	fake   *sandbox.Slack
	client *slack.Client
	sleeps []time.Duration
	cfg    slack.Config
}

func newEnv(t *testing.T, cfg slack.Config, opts ...slack.Option) *env {
	t.Helper()
	fake := sandbox.NewSlack(sandbox.SlackOptions{Token: token, Clock: clock,
		Channels: map[string]string{"sox-uar": "C0SOXUAR01", "private": "C0PRIVATE1"}, NotMember: []string{"private"}})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	e := &env{fake: fake}
	if cfg.Channel == "" {
		cfg.Channel = "#sox-uar"
	}
	if cfg.Token == "" {
		cfg.Token = token
	}
	cfg.APIURL = srv.URL + "/api" // no trailing slash: Validate must add it
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	opts = append([]slack.Option{slack.WithSleep(func(ctx context.Context, d time.Duration) error {
		e.sleeps = append(e.sleeps, d)
		return ctx.Err()
	})}, opts...)
	e.client = slack.New(cfg, srv.Client(), opts...)
	return e
}

func summary(t *testing.T) (json.RawMessage, string) {
	t.Helper()
	v := model.ReviewView{Review: "2026-Q4", RunID: "run-0001", RunAt: clock(), ToolVersion: "test", LedgerHead: "7:abc",
		PageURL: "https://acme.atlassian.net/wiki/x", Deadline: clock().AddDate(0, 0, 30),
		Systems: []model.SystemReview{{System: model.System{Name: "NetSuite & Co <x>"}, Risk: model.RiskHigh,
			Access:   []model.AccessRow{{UserEmail: "dave.kim@company.com"}},
			Findings: []model.Finding{{Risk: model.RiskHigh, UserLogin: "dave.kim@company.com"}},
			JiraKey:  "UAR-1", JiraURL: "https://acme.atlassian.net/browse/UAR-1"}}}
	b, f, err := templates.SlackSummary(v)
	if err != nil {
		t.Fatal(err)
	}
	return b, f
}

func TestPostPermalinkAndUpdate(t *testing.T) {
	e := newEnv(t, slack.Config{})
	ctx := context.Background()
	blocks, fallback := summary(t)

	m, err := e.client.PostSummary(ctx, blocks, fallback)
	if err != nil {
		t.Fatal(err)
	}
	want := slack.Message{Channel: "C0SOXUAR01", TS: "1733043600.000100",
		Permalink: "https://acme.slack.com/archives/C0SOXUAR01/p1733043600000100"}
	if m != want {
		t.Fatalf("posted %+v, want %+v", m, want)
	}
	if got := m.Time(); !got.Truncate(time.Second).Equal(clock()) || got.Sub(clock()) != 100*time.Microsecond {
		t.Errorf("Time() = %v", got)
	}
	msgs := e.fake.Messages()
	if len(msgs) != 1 || msgs[0].Text != fallback {
		t.Fatalf("fake holds %+v", msgs)
	}
	var sent, rendered any
	if err := json.Unmarshal(msgs[0].Blocks, &sent); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(blocks, &rendered)
	if !reflect.DeepEqual(sent, rendered) {
		t.Errorf("blocks not sent as rendered:\nsent %s\nrendered %s", msgs[0].Blocks, blocks)
	}
	// The token travels in the form body (as slack-go sends it) and the
	// log keeps it redacted.
	reqs := e.fake.Requests().All()
	if len(reqs) != 2 || reqs[0].Path != "/api/chat.postMessage" || reqs[1].Path != "/api/chat.getPermalink" {
		t.Fatalf("requests %+v", reqs)
	}
	if !strings.Contains(reqs[0].Body, "token=REDACTED") || !strings.Contains(reqs[0].Body, "channel=%23sox-uar") {
		t.Errorf("post body %q", reqs[0].Body)
	}

	// A re-run updates the same message instead of posting a new one.
	m2, err := e.client.UpdateSummary(ctx, m.Channel, m.TS, blocks, fallback+" (updated)")
	if err != nil {
		t.Fatal(err)
	}
	if m2 != want {
		t.Errorf("updated %+v, want %+v", m2, want)
	}
	msgs = e.fake.Messages()
	if len(msgs) != 1 || msgs[0].Edits != 1 || !strings.HasSuffix(msgs[0].Text, "(updated)") {
		t.Errorf("after update the fake holds %+v", msgs)
	}
	if n := e.fake.Requests().Count("POST", "/api/chat.postMessage"); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}

	note, err := e.client.PostNote(ctx, "Revoked 2 accesses: <https://x|UAR-1>")
	if err != nil {
		t.Fatal(err)
	}
	if note.TS != "1733043600.000200" || note.Permalink == "" {
		t.Errorf("note %+v", note)
	}
	for _, r := range e.fake.Requests().All() {
		if strings.Contains(r.Body, token) || strings.Contains(r.Query, token) {
			t.Errorf("token in logged request %+v", r)
		}
	}
}

func TestAuthTest(t *testing.T) {
	e := newEnv(t, slack.Config{})
	id, err := e.client.AuthTest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if id.Team != sandbox.SlackTeam || id.UserID != sandbox.SlackBotUserID || id.URL != sandbox.SlackURL {
		t.Errorf("identity %+v", id)
	}
}

func TestInvalidAuthIsAuthError(t *testing.T) {
	e := newEnv(t, slack.Config{Token: "xoxb-9999-wrong-token"})
	blocks, fallback := summary(t)
	_, err := e.client.PostSummary(context.Background(), blocks, fallback)
	if err == nil {
		t.Fatal("no error with a wrong token")
	}
	var ae *httpx.AuthError
	if !errors.As(err, &ae) || ae.Service != "slack" || !httpx.IsAuth(err) {
		t.Fatalf("want *httpx.AuthError, got %T %v", err, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "UAR_SLACK_TOKEN") || !strings.Contains(msg, "invalid_auth") {
		t.Errorf("message %q should name invalid_auth and UAR_SLACK_TOKEN", msg)
	}
	if strings.Contains(msg, "wrong-token") || strings.Contains(msg, "xoxb") || strings.Contains(ae.Hint, "xoxb") {
		t.Errorf("token leaked in %q", msg)
	}
	if len(e.fake.Messages()) != 0 {
		t.Errorf("message stored despite the bad token")
	}

	for _, code := range []string{"token_revoked", "account_inactive", "not_authed"} {
		e := newEnv(t, slack.Config{})
		e.fake.FailWith("auth.test", 1, code)
		_, err := e.client.AuthTest(context.Background())
		if !httpx.IsAuth(err) || !strings.Contains(err.Error(), code) {
			t.Errorf("%s: got %v", code, err)
		}
	}
}

func TestChannelErrorsNameTheSetting(t *testing.T) {
	blocks, fallback := summary(t)
	for _, tc := range []struct{ channel, code string }{{"#nope", "channel_not_found"}, {"#private", "not_in_channel"}} {
		e := newEnv(t, slack.Config{Channel: tc.channel})
		_, err := e.client.PostSummary(context.Background(), blocks, fallback)
		want := `slack: channel "` + tc.channel + `" (slack.channel): ` + tc.code + ` — invite the bot or fix the setting`
		if err == nil || err.Error() != want {
			t.Errorf("got %v\nwant %s", err, want)
		}
		var se *slack.Error
		if !errors.As(err, &se) || se.Code != tc.code || httpx.IsAuth(err) {
			t.Errorf("%s: want *slack.Error with code, not auth: %#v", tc.code, err)
		}
	}
}

func TestUpdateOfVanishedMessage(t *testing.T) {
	e := newEnv(t, slack.Config{})
	blocks, fallback := summary(t)
	_, err := e.client.UpdateSummary(context.Background(), "C0SOXUAR01", "1700000000.000001", blocks, fallback)
	if !slack.IsMessageGone(err) {
		t.Fatalf("want message_not_found, got %v", err)
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	e := newEnv(t, slack.Config{})
	e.fake.RateLimit("chat.postMessage", 2, "7")
	e.fake.RateLimit("chat.getPermalink", 1, "3600")
	blocks, fallback := summary(t)
	m, err := e.client.PostSummary(context.Background(), blocks, fallback)
	if err != nil {
		t.Fatal(err)
	}
	if m.Permalink == "" {
		t.Errorf("no permalink: %+v", m)
	}
	want := []time.Duration{7 * time.Second, 7 * time.Second, slack.MaxRetryWait}
	if len(e.sleeps) != len(want) {
		t.Fatalf("slept %v, want %v", e.sleeps, want)
	}
	for i := range want {
		if e.sleeps[i] != want[i] {
			t.Errorf("sleep %d = %v, want %v", i, e.sleeps[i], want[i])
		}
	}
	if n := e.fake.Requests().Count("POST", "/api/chat.postMessage"); n != 3 {
		t.Errorf("%d post attempts, want 3", n)
	}
	if len(e.fake.Messages()) != 1 {
		t.Errorf("%d messages, want 1", len(e.fake.Messages()))
	}
}

func TestRateLimitBounded(t *testing.T) {
	e := newEnv(t, slack.Config{}, slack.WithMaxRetries(2))
	e.fake.RateLimit("", 10, "1")
	blocks, fallback := summary(t)
	_, err := e.client.PostSummary(context.Background(), blocks, fallback)
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != 429 || se.Code != "ratelimited" {
		t.Fatalf("want a 429 StatusError, got %v", err)
	}
	if len(e.sleeps) != 2 || e.fake.Requests().Count("", "/api/chat.postMessage") != 3 {
		t.Errorf("slept %v over %d attempts", e.sleeps, e.fake.Requests().Count("", "/api/chat.postMessage"))
	}
	if len(e.fake.Messages()) != 0 {
		t.Errorf("a rate-limited post was stored")
	}
}

func TestRateLimitWaitCancelled(t *testing.T) {
	e := newEnv(t, slack.Config{})
	e.fake.RateLimit("", 1, "1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	blocks, fallback := summary(t)
	_, err := e.client.PostSummary(ctx, blocks, fallback)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestPermalinkFailureKeepsThePost(t *testing.T) {
	e := newEnv(t, slack.Config{})
	e.fake.FailWith("chat.getPermalink", 1, "internal_error")
	blocks, fallback := summary(t)
	m, err := e.client.PostSummary(context.Background(), blocks, fallback)
	if err == nil || !strings.Contains(err.Error(), "chat.getPermalink: internal_error") {
		t.Fatalf("got %v", err)
	}
	if m.TS == "" || m.Channel != "C0SOXUAR01" || m.Permalink != "" {
		t.Errorf("want the posted message without permalink, got %+v", m)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, slack.Config{})
	ctx := context.Background()
	if _, err := e.client.PostSummary(ctx, json.RawMessage(`[{"type":`), "x"); err == nil {
		t.Error("malformed blocks accepted")
	}
	if _, err := e.client.PostSummary(ctx, nil, " "); err == nil {
		t.Error("empty fallback accepted")
	}
	if _, err := e.client.PostNote(ctx, ""); err == nil {
		t.Error("empty note accepted")
	}
	if len(e.fake.Requests().All()) != 0 {
		t.Error("bad input reached Slack")
	}
}

func TestConfigValidate(t *testing.T) {
	ok := slack.Config{Channel: "#sox-uar", Token: "t"}
	if err := ok.Validate(); err != nil || ok.APIURL != slack.DefaultAPIURL {
		t.Errorf("default: %v %q", err, ok.APIURL)
	}
	c := slack.Config{Channel: "#c", Token: "t", APIURL: "http://127.0.0.1:8080/api"}
	if err := c.Validate(); err != nil || c.APIURL != "http://127.0.0.1:8080/api/" {
		t.Errorf("loopback: %v %q", err, c.APIURL)
	}
	for _, tc := range []struct {
		cfg  slack.Config
		want string
	}{
		{slack.Config{Token: "t"}, "slack.channel"},
		{slack.Config{Channel: "#c", Token: "t", APIURL: "http://slack.example.com/api/"}, "slack.api_url"},
		{slack.Config{Channel: "#c", Token: "t", APIURL: "ftp://x/"}, "slack.api_url"},
		{slack.Config{Channel: "#c"}, "UAR_SLACK_TOKEN"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want mention of %s", tc.cfg, err, tc.want)
		}
	}
}

// Whatever client the caller passes, a redirect off slack.api_url's origin
// is refused before the token leaves.
func TestRedirectOffOriginRefused(t *testing.T) {
	hits := 0
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		t.Errorf("attacker reached: %s", r.URL)
	}))
	defer evil.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	cfg := slack.Config{Channel: "#sox-uar", Token: token, APIURL: srv.URL + "/api/"}
	c := slack.New(cfg, &http.Client{})
	_, err := c.AuthTest(context.Background())
	var oe *httpx.OriginError
	if !errors.As(err, &oe) || oe.Service != "slack" || httpx.IsAuth(err) || strings.Contains(err.Error(), token) {
		t.Fatalf("err = %v, want an *httpx.OriginError", err)
	}
	if hits != 0 {
		t.Fatal("redirect followed")
	}
}
