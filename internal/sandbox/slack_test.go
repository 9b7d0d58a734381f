package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func slackTestServer(t *testing.T) (*Slack, *httptest.Server) {
	t.Helper()
	f := NewSlack(SlackOptions{Token: "xoxb-good", Clock: func() time.Time { return time.Unix(1733043600, 0) }})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// slackCall posts a form to method and returns the HTTP status, headers
// and decoded body.
func slackCall(t *testing.T, srv *httptest.Server, method string, form url.Values, bearer string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/"+method, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: body %q is not JSON: %v", method, b, err)
	}
	return resp.StatusCode, resp.Header, m
}

func TestSlackFakeAuth(t *testing.T) {
	_, srv := slackTestServer(t)
	for _, tc := range []struct {
		form   url.Values
		bearer string
		want   string
	}{
		{url.Values{}, "", "not_authed"},
		{url.Values{"token": {"xoxb-bad"}}, "", "invalid_auth"},
		{url.Values{}, "xoxb-bad", "invalid_auth"},
		{url.Values{"token": {"xoxb-good"}}, "", ""},
		{url.Values{}, "xoxb-good", ""},
	} {
		status, _, body := slackCall(t, srv, "auth.test", tc.form, tc.bearer)
		if status != 200 {
			t.Errorf("status %d: API errors are HTTP 200", status)
		}
		if tc.want == "" {
			if body["ok"] != true || body["team_id"] != SlackTeamID {
				t.Errorf("auth.test: %v", body)
			}
		} else if body["ok"] != false || body["error"] != tc.want {
			t.Errorf("want %s, got %v", tc.want, body)
		}
	}
}

func TestSlackFakePostUpdatePermalink(t *testing.T) {
	f, srv := slackTestServer(t)
	tok := url.Values{"token": {"xoxb-good"}}
	post := func(v url.Values) map[string]any {
		for k, vs := range tok {
			v[k] = vs
		}
		_, _, b := slackCall(t, srv, "chat.postMessage", v, "")
		return b
	}
	b := post(url.Values{"channel": {"#sox-uar"}, "text": {"hi"}, "blocks": {`[{"type":"section","text":{"type":"mrkdwn","text":"x"}}]`}})
	if b["ok"] != true || b["channel"] != "C0SOXUAR01" || b["ts"] != "1733043600.000100" {
		t.Fatalf("post: %v", b)
	}
	if b2 := post(url.Values{"channel": {"C0SOXUAR01"}, "text": {"again"}}); b2["ts"] != "1733043600.000200" {
		t.Errorf("ts not incrementing: %v", b2["ts"])
	}
	for _, tc := range []struct {
		v    url.Values
		want string
	}{
		{url.Values{"channel": {"#nope"}, "text": {"x"}}, "channel_not_found"},
		{url.Values{"text": {"x"}}, "channel_not_found"},
		{url.Values{"channel": {"sox-uar"}}, "no_text"},
		{url.Values{"channel": {"sox-uar"}, "text": {"x"}, "blocks": {`[{"type":`}}, "invalid_blocks_format"},
		{url.Values{"channel": {"sox-uar"}, "text": {"x"}, "blocks": {`[{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("a", 3001) + `"}}]`}}, "invalid_blocks"},
		{url.Values{"channel": {"sox-uar"}, "text": {"x"}, "blocks": {"[" + strings.TrimSuffix(strings.Repeat(`{"type":"divider"},`, 51), ",") + "]"}}, "invalid_blocks"},
	} {
		if got := post(tc.v); got["ok"] != false || got["error"] != tc.want {
			t.Errorf("%v: want %s, got %v", tc.v, tc.want, got)
		}
	}

	up := url.Values{"token": {"xoxb-good"}, "channel": {"#sox-uar"}, "ts": {"1733043600.000100"}, "text": {"edited"}}
	if _, _, b := slackCall(t, srv, "chat.update", up, ""); b["error"] != "channel_not_found" {
		t.Errorf("chat.update takes a channel id only: %v", b)
	}
	up.Set("channel", "C0SOXUAR01")
	if _, _, b := slackCall(t, srv, "chat.update", up, ""); b["ok"] != true || b["ts"] != "1733043600.000100" {
		t.Errorf("update: %v", b)
	}
	up.Set("ts", "1.000001")
	if _, _, b := slackCall(t, srv, "chat.update", up, ""); b["error"] != "message_not_found" {
		t.Errorf("update of unknown ts: %v", b)
	}

	// chat.getPermalink as slack-go sends it: GET, bearer token.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/chat.getPermalink?channel=C0SOXUAR01&message_ts=1733043600.000100", nil)
	req.Header.Set("Authorization", "Bearer xoxb-good")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pl map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&pl)
	resp.Body.Close()
	if pl["permalink"] != "https://acme.slack.com/archives/C0SOXUAR01/p1733043600000100" {
		t.Errorf("permalink: %v", pl)
	}

	msgs := f.Messages()
	if len(msgs) != 2 || msgs[0].Text != "edited" || msgs[0].Edits != 1 || string(msgs[0].Blocks) != "" {
		t.Errorf("messages: %+v", msgs)
	}
	for _, r := range f.Requests().All() {
		if strings.Contains(r.Body, "xoxb-good") || strings.Contains(r.Query, "xoxb-good") {
			t.Errorf("token kept in the log: %+v", r)
		}
	}
	if _, _, b := slackCall(t, srv, "conversations.list", tok, ""); b["ok"] != true {
		t.Errorf("conversations.list: %v", b)
	}
	if _, _, b := slackCall(t, srv, "chat.nope", tok, ""); b["error"] != "unknown_method" {
		t.Errorf("unknown method: %v", b)
	}
}

func TestSlackFakeFaults(t *testing.T) {
	f, srv := slackTestServer(t)
	tok := url.Values{"token": {"xoxb-good"}}
	f.RateLimit("auth.test", 2, "3")
	f.FailWith("", 1, "fatal_error")
	for i := range 2 {
		status, h, b := slackCall(t, srv, "auth.test", tok, "")
		if status != 429 || h.Get("Retry-After") != "3" || b["error"] != "ratelimited" {
			t.Errorf("attempt %d: %d %q %v", i, status, h.Get("Retry-After"), b)
		}
	}
	if status, _, b := slackCall(t, srv, "auth.test", tok, ""); status != 200 || b["error"] != "fatal_error" {
		t.Errorf("injected error: %d %v", status, b)
	}
	if _, _, b := slackCall(t, srv, "auth.test", tok, ""); b["ok"] != true {
		t.Errorf("faults not consumed: %v", b)
	}

	// Latency: a client that gives up is not answered.
	f.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/auth.test", strings.NewReader(tok.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	done := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	cancel()
	if err := <-done; err == nil {
		t.Error("request answered despite the latency")
	}
	f.SetLatency(0)
}
