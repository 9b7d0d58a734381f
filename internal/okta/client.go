// Package okta reads the SOX access population from Okta with
// okta-sdk-golang/v2 (v2.20.0) and removes memberships for revocations.
//
// The SDK is configured hermetically (every setting that its environment
// and YAML lookup could inject is set explicitly), with its cache off (a
// cached list after a revoke would be stale), on the caller's
// *http.Client so the evidence recorder sees every request. Around the
// caller's transport this package adds a client-side rate limit, respect
// for X-Rate-Limit-Remaining/Reset and bounded retries of 5xx GETs; the
// SDK itself retries 429s. Pages are always decoded into fresh values and
// pagination is guarded against repeated cursors and endless next links
// (reference okta-api.md §7).
//
// # Trust boundary
//
// The token only ever goes to okta.org_url's origin: the client is wrapped
// in [httpx.GuardOrigin] (requests and redirects elsewhere are refused
// before they are sent), and every Link header is parsed and checked
// before the SDK sees it, because the SDK builds next-page URLs by string
// concatenation (see checkLinks). Refusals are *httpx.OriginError values;
// a malformed Link header is an error wrapping httpx.ErrMalformedLink.
//
// # Parsing once, and re-derivation
//
// A list page is parsed once, from the bytes the evidence recorder stored
// (an httpx.BodyHook), and the SDK is handed an empty body: it still
// sends, authenticates, paces and retries, and follows the (checked) next
// links, but never reads, copies or decodes a page. [Client.Read] gives
// the population to a [Sink] page by page; [Client.Snapshot] returns it
// whole. Both feed the same builder as [Rebuilder] (and [BuildSnapshot]),
// which re-derives a snapshot from recorded pages, one at a time, for
// `uar verify --rederive`.
//
// # Completeness
//
// The group search asks for expand=stats, so Okta's own usersCount of
// each group comes with the listing at no extra call. A group whose
// distinct paged members differ is read once more (its stats, then its
// members); if they still differ its [Listing] says gap.
package okta

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	sdk "github.com/okta/okta-sdk-golang/v2/okta"

	"github.com/uar-dev/uar/internal/httpx"
)

// Auth modes.
const (
	AuthSSWS       = "ssws"
	AuthPrivateKey = "private_key"
)

// Defaults applied by [New] to zero Config fields.
const (
	DefaultPageSize             = 200
	DefaultConcurrency          = 4
	DefaultMaxRequestsPerMinute = 300
	DefaultRequestTimeout       = 60 * time.Second
	DefaultMaxPages             = 100000
	DefaultMax429Retries        = 4
)

// Config is the okta section of uar.yaml plus the token from the
// environment (UAR_OKTA_TOKEN). It is never printed.
type Config struct {
	OrgURL   string // okta.org_url: https://acme.okta.com (http only for loopback)
	Token    string // UAR_OKTA_TOKEN (ssws mode)
	AuthMode string // okta.auth_mode: "ssws" (default) or "private_key"
	// OAuth service app (private_key mode).
	ClientID       string   // okta.client_id
	Scopes         []string // okta.scopes (default okta.groups.read, okta.users.read)
	PrivateKeyFile string   // okta.private_key_file: PEM, PKCS#1 or PKCS#8 RSA
	PrivateKeyID   string   // okta.private_key_id (JWT kid), optional

	PageSize             int           // okta.page_size: groups/rules/members per page (1-200; members up to 1000)
	Concurrency          int           // okta.concurrency: groups whose members are read in parallel (1-32)
	MaxRequestsPerMinute int           // okta.max_requests_per_minute: client-side cap; -1 = no cap
	RequestTimeout       time.Duration // okta.request_timeout: per call, retries included
	MaxPages             int           // page cap per listing against endless next links
	Max429Retries        int           // SDK retries of a 429 before giving up
	// EmployeeIDAttribute is okta.employee_id_attribute: the profile
	// attribute read into model.User.EmployeeNumber when SnapshotOptions
	// names none (default DefaultEmployeeIDAttribute).
	EmployeeIDAttribute string

	// Now is the clock the client-side pacing measures with (the CLI passes
	// its Env clock). Without it pacing counts only the client's own
	// sleeps, which is conservative: never faster than the cap.
	Now func() time.Time
	// Sleep waits between paced or retried requests; nil waits on a timer
	// and returns early with ctx.Err(). Tests pass a virtual clock's sleep.
	Sleep func(context.Context, time.Duration) error
}

func (c Config) withDefaults() Config {
	if c.AuthMode == "" {
		c.AuthMode = AuthSSWS
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxRequestsPerMinute == 0 {
		c.MaxRequestsPerMinute = DefaultMaxRequestsPerMinute
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxPages == 0 {
		c.MaxPages = DefaultMaxPages
	}
	if c.Max429Retries == 0 {
		c.Max429Retries = DefaultMax429Retries
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"okta.groups.read", "okta.users.read"}
	}
	if c.EmployeeIDAttribute == "" {
		c.EmployeeIDAttribute = DefaultEmployeeIDAttribute
	}
	c.OrgURL = strings.TrimRight(strings.TrimSpace(c.OrgURL), "/")
	return c
}

// Validate checks the configuration after defaults; errors name the
// config key (okta.org_url, okta.page_size...) and never contain the token.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := httpx.CheckEndpoint("okta.org_url", c.OrgURL); err != nil {
		errs = append(errs, err)
	} else if u, _ := url.Parse(c.OrgURL); u.Path != "" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("okta.org_url: %q must be the org's base URL without a path", c.OrgURL))
	} else if h := strings.ToLower(u.Hostname()); strings.Contains(h, "-admin.okta") {
		errs = append(errs, fmt.Errorf("okta.org_url: %q is the admin console; use the org URL without -admin", c.OrgURL))
	}
	switch c.AuthMode {
	case AuthSSWS:
		if c.Token == "" {
			errs = append(errs, errors.New("okta token: UAR_OKTA_TOKEN is empty"))
		}
	case AuthPrivateKey:
		if c.ClientID == "" {
			errs = append(errs, errors.New("okta.client_id: required for auth_mode private_key"))
		}
		if c.PrivateKeyFile == "" {
			errs = append(errs, errors.New("okta.private_key_file: required for auth_mode private_key"))
		}
	default:
		errs = append(errs, fmt.Errorf("okta.auth_mode: %q: want ssws or private_key", c.AuthMode))
	}
	if c.PageSize < 1 || c.PageSize > 1000 {
		errs = append(errs, fmt.Errorf("okta.page_size: %d: want 1-1000 (200 recommended)", c.PageSize))
	}
	if c.Concurrency < 1 || c.Concurrency > 32 {
		errs = append(errs, fmt.Errorf("okta.concurrency: %d: want 1-32", c.Concurrency))
	}
	if c.MaxRequestsPerMinute < -1 {
		errs = append(errs, fmt.Errorf("okta.max_requests_per_minute: %d: want a positive number, or -1 for no cap", c.MaxRequestsPerMinute))
	}
	if c.RequestTimeout < time.Second {
		errs = append(errs, fmt.Errorf("okta.request_timeout: %s: want at least 1s", c.RequestTimeout))
	}
	if c.MaxPages < 1 || c.Max429Retries < 0 {
		errs = append(errs, errors.New("okta: max pages must be positive and 429 retries non-negative"))
	}
	return errors.Join(errs...)
}

// sdkResponse is the SDK's response type.
type sdkResponse = sdk.Response

// Client reads and changes Okta group memberships.
type Client struct {
	cfg    Config
	sdk    *sdk.Client
	tr     *transport
	origin string // scheme://host of the org, for errors
}

// New builds a client over hc (whose Transport, typically the evidence
// recorder, sees every request including retries; nil hc uses a plain
// client with the request timeout). It validates cfg, reads and converts
// the private key in private_key mode, and never reads OKTA_CLIENT_*
// settings: every SDK option is set explicitly. ctx is unused by the SDK
// beyond construction.
func New(ctx context.Context, cfg Config, hc *http.Client) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if hc == nil {
		hc = &http.Client{Timeout: cfg.RequestTimeout}
	}
	// The origin guard sits outside the caller's transport (the evidence
	// recorder): a request off the org's origin is refused before it is
	// sent or recorded. The pacing/link-checking transport sits outside
	// both, so the SDK never sees an unchecked Link header.
	guarded, err := httpx.GuardOrigin("okta", cfg.OrgURL, hc)
	if err != nil {
		return nil, err
	}
	origin, _ := httpx.ParseOrigin(cfg.OrgURL)
	tr := newTransport(guarded.Transport, origin, cfg.MaxRequestsPerMinute, cfg.Now, cfg.Sleep)
	wrapped := &http.Client{Transport: tr, Timeout: hc.Timeout, Jar: hc.Jar, CheckRedirect: guarded.CheckRedirect}

	u, _ := url.Parse(cfg.OrgURL)
	insecure := u.Scheme == "http" // CheckEndpoint allowed it only for loopback
	timeoutSec := int64(math.Ceil(cfg.RequestTimeout.Seconds()))
	setters := []sdk.ConfigSetter{
		sdk.WithOrgUrl(cfg.OrgURL),
		sdk.WithCache(false),
		sdk.WithCacheTtl(0),
		sdk.WithCacheTti(0),
		sdk.WithHttpClientPtr(wrapped),
		sdk.WithConnectionTimeout(timeoutSec),
		sdk.WithRequestTimeout(timeoutSec),
		sdk.WithRateLimitMaxRetries(int32(cfg.Max429Retries)),
		sdk.WithRateLimitMaxBackOff(30),
		sdk.WithTestingDisableHttpsCheck(insecure),
		sdk.WithUserAgentExtra("uar"),
		sdk.WithProxyHost(""), sdk.WithProxyPort(0), sdk.WithProxyUsername(""), sdk.WithProxyPassword(""),
		sdk.WithClientAssertion(""),
		sdk.WithPrivateKeyId(cfg.PrivateKeyID),
		sdk.WithClientId(cfg.ClientID),
		sdk.WithScopes(cfg.Scopes),
	}
	switch cfg.AuthMode {
	case AuthSSWS:
		setters = append(setters, sdk.WithAuthorizationMode("SSWS"), sdk.WithToken(cfg.Token))
	case AuthPrivateKey:
		pemKey, err := loadPKCS1(cfg.PrivateKeyFile)
		if err != nil {
			return nil, err
		}
		signer, err := sdk.CreateKeySigner(pemKey, cfg.PrivateKeyID)
		if err != nil {
			return nil, fmt.Errorf("okta.private_key_file: %w", err)
		}
		setters = append(setters, sdk.WithAuthorizationMode("PrivateKey"), sdk.WithToken(""), sdk.WithPrivateKeySigner(signer))
	}
	_, c, err := sdk.NewClient(ctx, setters...)
	if err != nil {
		return nil, fmt.Errorf("okta: configure SDK: %s", scrub(err.Error(), cfg.Token))
	}
	return &Client{cfg: cfg, sdk: c, tr: tr, origin: u.Scheme + "://" + u.Host}, nil
}

// loadPKCS1 reads an RSA private key PEM and returns it in the PKCS#1
// ("RSA PRIVATE KEY") form the SDK insists on, converting PKCS#8.
func loadPKCS1(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("okta.private_key_file: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return "", fmt.Errorf("okta.private_key_file: %s: no PEM block", path)
	}
	var key *rsa.PrivateKey
	switch blk.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		var k any
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err == nil {
			var ok bool
			if key, ok = k.(*rsa.PrivateKey); !ok {
				return "", fmt.Errorf("okta.private_key_file: %s: a %T key; Okta's SDK signs with RS256 and needs an RSA key", path, k)
			}
		}
	default:
		return "", fmt.Errorf("okta.private_key_file: %s: PEM type %q: want an RSA private key (PKCS#1 or PKCS#8, unencrypted)", path, blk.Type)
	}
	if err != nil {
		return "", fmt.Errorf("okta.private_key_file: %s: %w", path, err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})), nil
}

// scrub removes a secret from a message as a last line of defence.
func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "[REDACTED]")
}

// callError turns an SDK outcome into this package's errors: a
// *httpx.StatusError for HTTP failures (401/403 with a hint naming the
// settings, never their values), a 429 StatusError naming the endpoint
// when the SDK's retries ran out, and the context error otherwise.
func (c *Client) callError(method, pathAndQuery string, resp *sdk.Response, err error) error {
	endpoint := c.origin + pathOnly(pathAndQuery)
	var oe *sdk.Error
	if resp != nil && resp.StatusCode >= 400 {
		se := &httpx.StatusError{Service: "okta", Method: method, URL: endpoint, Status: resp.StatusCode}
		if errors.As(err, &oe) {
			se.Code, se.Message = oe.ErrorCode, scrub(oe.ErrorSummary, c.cfg.Token)
		}
		if se.IsAuth() {
			if c.cfg.AuthMode == AuthPrivateKey {
				se.Hint = "check okta.client_id, okta.private_key_file, okta.scopes and okta.org_url (" + c.cfg.OrgURL + "); the service app needs okta.groups.read"
			} else {
				se.Hint = "check UAR_OKTA_TOKEN and okta.org_url (" + c.cfg.OrgURL + "); the token's admin needs read access to groups"
			}
		}
		return se
	}
	if err != nil && err.Error() == "too many requests" {
		return &httpx.StatusError{Service: "okta", Method: method, URL: endpoint, Status: http.StatusTooManyRequests, Code: "E0000047",
			Message: fmt.Sprintf("rate limited: still HTTP 429 after %d retries", c.cfg.Max429Retries),
			Hint:    "lower okta.max_requests_per_minute or okta.concurrency, or retry later"}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error carries the full URL; the token request's query holds a
		// signed client assertion, so keep the path only.
		return fmt.Errorf("okta: %s %s: %w", method, endpoint, ue.Err)
	}
	return fmt.Errorf("okta: %s %s: %w", method, endpoint, &scrubbedError{msg: scrub(err.Error(), c.cfg.Token), err: err})
}

// scrubbedError keeps errors.Is/As working on err while its text has any
// secret removed.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func pathOnly(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

// tokenError reports a failure to build a request: in private_key mode
// that is the access-token exchange (POST /oauth2/v1/token), whose refusal
// the SDK returns as a bare *okta.Error without the status.
func (c *Client) tokenError(err error) error {
	var oe *sdk.Error
	if errors.As(err, &oe) {
		msg := oe.ErrorSummary
		if msg == "" {
			msg = "access token request refused"
		}
		return &httpx.StatusError{Service: "okta", Method: "POST", URL: c.origin + "/oauth2/v1/token", Status: http.StatusUnauthorized,
			Code: oe.ErrorCode, Message: scrub(msg, c.cfg.Token),
			Hint: "check okta.client_id, okta.private_key_file (its public key must be registered on the service app), okta.scopes and okta.org_url (" + c.cfg.OrgURL + ")"}
	}
	return c.callError("POST", "/oauth2/v1/token", nil, err)
}
