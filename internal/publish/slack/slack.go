// Package slack posts the review summary and later notes to Slack through
// the Web API (chat.postMessage, chat.update, chat.getPermalink), on
// github.com/slack-go/slack.
//
// The client never reads the environment: the token comes in [Config] (the
// CLI takes it from UAR_SLACK_TOKEN) and the HTTP client is handed in, so
// the evidence Recorder sees every request. Errors name the setting to fix
// (slack.channel, slack.api_url, UAR_SLACK_TOKEN) and never the token.
// Slack answers API errors with HTTP 200 and ok:false; this package turns
// the auth family (invalid_auth, not_authed, token_revoked, ...) into an
// [httpx.AuthError] (exit 4), channel problems into an [*Error] naming
// slack.channel, and honours HTTP 429 Retry-After with a bounded number of
// retries.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/uar-dev/uar/internal/httpx"
)

// DefaultAPIURL is Slack's Web API base; slack-go appends method names to
// it, so it ends with a slash.
const DefaultAPIURL = "https://slack.com/api/"

// TokenEnv names the environment variable that holds the token, for
// messages (the value itself is never printed).
const TokenEnv = "UAR_SLACK_TOKEN"

// Retry bounds for HTTP 429 (reference §3.1: ~1 message per second per
// channel; slack-go does not retry by itself).
const (
	DefaultMaxRetries = 3
	MaxRetryWait      = 60 * time.Second
	// defaultRetryWait applies to a 429 without a usable Retry-After.
	defaultRetryWait = time.Second
)

// Config is the slack: section of uar.yaml plus the token from the
// environment.
type Config struct {
	Channel string // slack.channel: "#name", "name" or a channel id
	APIURL  string // slack.api_url: default DefaultAPIURL
	Token   string // UAR_SLACK_TOKEN; never printed
}

// Validate checks the settings and normalises APIURL (default
// DefaultAPIURL, trailing slash added because slack-go concatenates method
// names). Errors name the config key or environment variable.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.Channel) == "" || c.Channel == "#" {
		return errors.New("slack.channel: is empty; set the channel to post the summary to (e.g. \"#sox-uar\")")
	}
	c.APIURL = normaliseAPIURL(c.APIURL)
	if err := httpx.CheckEndpoint("slack.api_url", c.APIURL); err != nil {
		return err
	}
	if c.Token == "" {
		return fmt.Errorf("slack: %s is not set", TokenEnv)
	}
	return nil
}

func normaliseAPIURL(u string) string {
	u = strings.TrimSpace(u)
	if u == "" {
		return DefaultAPIURL
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// Message identifies a posted message: the channel id (Slack always
// answers with the id, even when a name was posted to), the message ts
// (also its id and Slack's own post time, "<unix>.<micro>") and the
// permalink, kept as evidence.
type Message struct {
	Channel   string `json:"channel"`
	TS        string `json:"ts"`
	Permalink string `json:"permalink"`
}

// Time returns the post time encoded in ts, in UTC (zero if ts is not a
// Slack timestamp).
func (m Message) Time() time.Time {
	sec, micro, ok := strings.Cut(m.TS, ".")
	if !ok || len(micro) != 6 {
		return time.Time{}
	}
	s, err1 := strconv.ParseInt(sec, 10, 64)
	us, err2 := strconv.ParseInt(micro, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}
	}
	return time.Unix(s, us*1000).UTC()
}

// Identity is what auth.test says about the token.
type Identity struct {
	Team   string `json:"team"`
	TeamID string `json:"team_id"`
	User   string `json:"user"`
	UserID string `json:"user_id"`
	BotID  string `json:"bot_id"`
	URL    string `json:"url"`
}

// Error is an ok:false answer from Slack that is not an authentication
// failure. Code is Slack's error code (channel_not_found, invalid_blocks,
// ...); the message says which setting to check.
type Error struct {
	Method string
	Code   string
	msg    string
}

func (e *Error) Error() string { return e.msg }

// IsMessageGone reports whether err says the message to update no longer
// exists (message_not_found) or cannot be edited by this token
// (cant_update_message): publish then posts a new summary instead.
func IsMessageGone(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == "message_not_found" || e.Code == "cant_update_message")
}

// Option tunes a Client.
type Option func(*Client)

// WithSleep replaces the wait between rate-limited attempts (tests record
// the durations instead of sleeping). sleep must return ctx.Err() when ctx
// ends first.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = sleep }
}

// WithMaxRetries sets how many times a rate-limited call is retried
// (default DefaultMaxRetries; 0 disables retries).
func WithMaxRetries(n int) Option {
	return func(c *Client) { c.maxRetries = max(0, n) }
}

// Client posts to one Slack channel.
type Client struct {
	cfg        Config
	api        *slackapi.Client
	sleep      func(context.Context, time.Duration) error
	maxRetries int
}

// New returns a client for cfg (call cfg.Validate first; New normalises
// APIURL again so a forgotten trailing slash cannot break method URLs).
// hc carries the evidence Recorder and timeouts; nil gets a private client
// with a 30 s timeout, never http.DefaultClient.
func New(cfg Config, hc *http.Client, opts ...Option) *Client {
	cfg.APIURL = normaliseAPIURL(cfg.APIURL)
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	// Only APIURL's origin ever receives the token: anything else (a
	// redirect, a URL built elsewhere) is refused before it is sent.
	hc = httpx.Guarded("slack", cfg.APIURL, hc)
	c := &Client{cfg: cfg, sleep: sleepCtx, maxRetries: DefaultMaxRetries}
	for _, o := range opts {
		o(c)
	}
	c.api = slackapi.New(cfg.Token,
		slackapi.OptionHTTPClient(hc),
		slackapi.OptionAPIURL(cfg.APIURL),
		// slack-go's default logger writes to stderr; uar's packages never do.
		slackapi.OptionLog(log.New(io.Discard, "", 0)),
	)
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AuthTest checks the token with auth.test. An invalid token is an
// *httpx.AuthError naming UAR_SLACK_TOKEN.
func (c *Client) AuthTest(ctx context.Context) (Identity, error) {
	var id Identity
	err := c.do(ctx, "auth.test", func() error {
		r, err := c.api.AuthTestContext(ctx)
		if err != nil {
			return err
		}
		id = Identity{Team: r.Team, TeamID: r.TeamID, User: r.User, UserID: r.UserID, BotID: r.BotID, URL: r.URL}
		return nil
	})
	return id, err
}

// PostSummary posts the summary (Block Kit blocks as rendered by
// templates.SlackSummary, plus the fallback text shown in notifications)
// to the configured channel with chat.postMessage, then fetches its
// permalink with chat.getPermalink. A re-run of publish should call
// UpdateSummary with the stored channel and ts instead, so the channel
// gets no duplicate. When the post succeeds but the permalink lookup
// fails, the Message (without Permalink) is returned with the error, so
// the caller can still record the post.
func (c *Client) PostSummary(ctx context.Context, blocks json.RawMessage, fallback string) (Message, error) {
	opts, err := msgOptions(blocks, fallback)
	if err != nil {
		return Message{}, err
	}
	return c.post(ctx, opts)
}

// UpdateSummary replaces the blocks and fallback text of an earlier
// summary (chat.update on channelID and ts, as returned by PostSummary)
// and returns the message with its permalink.
func (c *Client) UpdateSummary(ctx context.Context, channelID, ts string, blocks json.RawMessage, fallback string) (Message, error) {
	opts, err := msgOptions(blocks, fallback)
	if err != nil {
		return Message{}, err
	}
	var m Message
	err = c.do(ctx, "chat.update", func() error {
		ch, newTS, _, err := c.api.UpdateMessageContext(ctx, channelID, ts, opts...)
		if err != nil {
			return err
		}
		m = Message{Channel: ch, TS: newTS}
		return nil
	})
	if err != nil {
		return Message{}, err
	}
	return c.withPermalink(ctx, m)
}

// PostNote posts a plain mrkdwn note (e.g. the revocation summary or a
// reminder) to the configured channel and returns it with its permalink.
// text is sent as is: escape & < > in user-provided parts
// (templates.SlackEscape).
func (c *Client) PostNote(ctx context.Context, text string) (Message, error) {
	if strings.TrimSpace(text) == "" {
		return Message{}, errors.New("slack: chat.postMessage: empty note")
	}
	return c.post(ctx, []slackapi.MsgOption{slackapi.MsgOptionText(text, false)})
}

func (c *Client) post(ctx context.Context, opts []slackapi.MsgOption) (Message, error) {
	var m Message
	err := c.do(ctx, "chat.postMessage", func() error {
		ch, ts, err := c.api.PostMessageContext(ctx, c.cfg.Channel, opts...)
		if err != nil {
			return err
		}
		m = Message{Channel: ch, TS: ts}
		return nil
	})
	if err != nil {
		return Message{}, err
	}
	return c.withPermalink(ctx, m)
}

func (c *Client) withPermalink(ctx context.Context, m Message) (Message, error) {
	err := c.do(ctx, "chat.getPermalink", func() error {
		p, err := c.api.GetPermalinkContext(ctx, &slackapi.PermalinkParameters{Channel: m.Channel, Ts: m.TS})
		if err != nil {
			return err
		}
		m.Permalink = p
		return nil
	})
	return m, err
}

// msgOptions turns rendered blocks into slack-go options. The blocks are
// decoded into slack-go's types (which it re-encodes for the form), so a
// block slack-go does not know is an error here rather than a silent loss.
func msgOptions(blocks json.RawMessage, fallback string) ([]slackapi.MsgOption, error) {
	if strings.TrimSpace(fallback) == "" {
		return nil, errors.New("slack: message: empty fallback text (Slack shows it in notifications)")
	}
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(fallback, false)}
	if len(blocks) > 0 {
		var bs slackapi.Blocks
		if err := json.Unmarshal(blocks, &bs); err != nil {
			return nil, fmt.Errorf("slack: message: blocks: %w", err)
		}
		if len(bs.BlockSet) > 0 {
			opts = append(opts, slackapi.MsgOptionBlocks(bs.BlockSet...))
		}
	}
	return opts, nil
}

// do runs one Web API call, retrying it on HTTP 429 after the Retry-After
// Slack sent (capped at MaxRetryWait) at most maxRetries times. A 429 means
// Slack did not process the call, so retrying a post cannot duplicate it.
func (c *Client) do(ctx context.Context, method string, call func() error) error {
	for attempt := 0; ; attempt++ {
		err := call()
		if err == nil {
			return nil
		}
		wait, limited := rateLimited(err)
		if !limited {
			return c.classify(method, err)
		}
		if attempt >= c.maxRetries {
			return &httpx.StatusError{Service: "slack", Method: httpMethod(method), URL: c.methodURL(method),
				Status: http.StatusTooManyRequests, Code: "ratelimited",
				Message: fmt.Sprintf("still rate limited after %d retries", c.maxRetries)}
		}
		if err := c.sleep(ctx, min(wait, MaxRetryWait)); err != nil {
			return fmt.Errorf("slack: %s: waiting out a rate limit: %w", method, err)
		}
	}
}

// rateLimited reports whether err is an HTTP 429 and how long to wait.
func rateLimited(err error) (time.Duration, bool) {
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return max(rl.RetryAfter, 0), true
	}
	var sc slackapi.StatusCodeError
	if errors.As(err, &sc) && sc.Code == http.StatusTooManyRequests {
		return defaultRetryWait, true // 429 without a usable Retry-After
	}
	return 0, false
}

// Slack error codes that mean the token was refused (exit 4).
var authCodes = map[string]bool{
	"invalid_auth": true, "not_authed": true, "token_revoked": true, "token_expired": true,
	"account_inactive": true, "no_permission": true, "missing_scope": true,
	"not_allowed_token_type": true, "ekm_access_denied": true, "team_access_not_granted": true,
}

// Slack error codes that mean the configured channel is wrong or the bot
// cannot post there.
var channelCodes = map[string]string{
	"channel_not_found":                   "invite the bot or fix the setting",
	"not_in_channel":                      "invite the bot or fix the setting",
	"is_archived":                         "the channel is archived; fix the setting",
	"channel_is_archived":                 "the channel is archived; fix the setting",
	"restricted_action":                   "the workspace restricts posting there; fix the setting",
	"restricted_action_read_only_channel": "the channel is read-only; fix the setting",
}

func (c *Client) classify(method string, err error) error {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		code := se.Err
		if authCodes[code] {
			detail := code
			if se.Needed != "" {
				detail += " (needs scope " + se.Needed + ")"
			}
			return &httpx.AuthError{Service: "slack",
				Err:  fmt.Errorf("%s: %s: check the token in %s", method, detail, TokenEnv),
				Hint: "set " + TokenEnv + " to a bot token with chat:write"}
		}
		if hint, ok := channelCodes[code]; ok {
			return &Error{Method: method, Code: code,
				msg: fmt.Sprintf("slack: channel %q (slack.channel): %s — %s", c.cfg.Channel, code, hint)}
		}
		return &Error{Method: method, Code: code, msg: fmt.Sprintf("slack: %s: %s", method, code)}
	}
	var sc slackapi.StatusCodeError
	if errors.As(err, &sc) {
		se := &httpx.StatusError{Service: "slack", Method: httpMethod(method), URL: c.methodURL(method), Status: sc.Code}
		if se.IsAuth() {
			se.Hint = "check " + TokenEnv
		}
		if sc.Code == http.StatusNotFound {
			se.Hint = "check slack.api_url"
		}
		return se
	}
	// Transport errors (*url.Error) carry the request URL: the API URL
	// plus, for GETs, channel and ts — never the token, which slack-go
	// sends in the form body or the Authorization header.
	return fmt.Errorf("slack: %s: %w", method, err)
}

func httpMethod(method string) string {
	if method == "chat.getPermalink" {
		return http.MethodGet
	}
	return http.MethodPost
}

func (c *Client) methodURL(method string) string {
	u, err := url.Parse(c.cfg.APIURL + method)
	if err != nil {
		return method
	}
	return httpx.RedactURL(u)
}
