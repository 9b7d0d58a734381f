package httpx

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// OriginError is a request, redirect or link refused because it would take
// a service's credentials somewhere other than the service's configured
// origin (scheme, host and port of its base URL; DESIGN §12). Nothing was
// sent. URL never holds user info, a query or a fragment. cli maps it to
// exit 1: it is not an authentication refusal (IsAuth is false).
type OriginError struct {
	Service string // "okta", "jira", ...
	Kind    string // "request", "redirect", "next link"
	URL     string // the refused URL, redacted (RedactURL)
	Allowed string // the configured origin, scheme://host:port
	Reason  string // optional detail ("path /x is not /api/v1/groups")
}

func (e *OriginError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: refused %s to %s", e.Service, e.Kind, e.URL)
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	} else {
		fmt.Fprintf(&b, ": not the configured origin %s", e.Allowed)
	}
	b.WriteString(" (credentials are only sent to the configured origin)")
	return b.String()
}

// Origin is a normalised scheme://host:port triple. The zero value matches
// nothing.
type Origin struct {
	Scheme, Host, Port string
}

// ParseOrigin returns the origin of an absolute http(s) URL; the port is
// made explicit (80/443) and the scheme and host lower-cased.
func ParseOrigin(raw string) (Origin, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Origin{}, fmt.Errorf("%q is not a URL: %v", RedactRaw(raw), err)
	}
	o, ok := OriginOf(u)
	if !ok {
		return Origin{}, fmt.Errorf("%q is not an absolute http(s) URL", RedactRaw(raw))
	}
	return o, nil
}

// OriginOf returns u's origin; ok is false when u is not an absolute
// http or https URL.
func OriginOf(u *url.URL) (Origin, bool) {
	if u == nil {
		return Origin{}, false
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if (scheme != "http" && scheme != "https") || host == "" {
		return Origin{}, false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	} else if strings.TrimLeft(port, "0123456789") != "" {
		return Origin{}, false
	}
	return Origin{Scheme: scheme, Host: strings.TrimSuffix(host, "."), Port: port}, true
}

// Matches reports whether u is at origin o.
func (o Origin) Matches(u *url.URL) bool {
	got, ok := OriginOf(u)
	return ok && o.Scheme != "" && got == o
}

func (o Origin) String() string {
	return o.Scheme + "://" + net.JoinHostPort(o.Host, o.Port)
}

// RedactRaw is RedactURL for a URL given as text; text that does not parse
// is cut at its first '?' or '#' and any user info before an '@' is removed.
func RedactRaw(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return RedactURL(u)
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "//"); j >= 0 && j < i {
			raw = raw[:j+2] + raw[i+1:]
		} else {
			raw = raw[i+1:]
		}
	}
	return raw
}

// originGuard is the RoundTripper of GuardOrigin.
type originGuard struct {
	service string
	origin  Origin
	base    http.RoundTripper
}

func (g *originGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if !g.origin.Matches(req.URL) {
		if req.Body != nil {
			_ = req.Body.Close() // RoundTrippers must close the body, even on errors
		}
		return nil, &OriginError{Service: g.service, Kind: "request", URL: RedactURL(req.URL), Allowed: g.origin.String()}
	}
	return g.base.RoundTrip(req)
}

// maxRedirects is net/http's own default limit, kept when a guard replaces
// a client's CheckRedirect.
const maxRedirects = 10

// GuardOrigin returns a copy of hc (nil: a client without a timeout over
// http.DefaultTransport) whose transport refuses, before anything is sent,
// every request whose scheme, host or port differs from baseURL's, and
// whose CheckRedirect refuses a redirect to another origin. A same-origin
// redirect is followed, each hop through the guarded transport (so a
// recording transport inside it records every hop). Refusals are
// *OriginError values naming service and the redacted URL.
//
// The guard wraps hc's transport from the outside: a refused request never
// reaches it, so an evidence recorder there never records it as a call.
// GuardOrigin returns an error when baseURL is not an absolute http(s) URL.
func GuardOrigin(service, baseURL string, hc *http.Client) (*http.Client, error) {
	o, err := ParseOrigin(baseURL)
	if err != nil {
		return nil, fmt.Errorf("%s: base URL: %w", service, err)
	}
	var c http.Client
	if hc != nil {
		c = *hc
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if g, ok := base.(*originGuard); ok && g.origin == o {
		base = g.base // already guarded for this origin: do not stack guards
	}
	c.Transport = &originGuard{service: service, origin: o, base: base}
	inner := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !o.Matches(req.URL) {
			return &OriginError{Service: service, Kind: "redirect", URL: RedactURL(req.URL), Allowed: o.String()}
		}
		if inner != nil {
			return inner(req, via)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("%s: stopped after %d redirects", service, maxRedirects)
		}
		return nil
	}
	return &c, nil
}

// Guarded is GuardOrigin for constructors that cannot return an error: when
// baseURL is unusable the client it returns fails every request with that
// error (the adapter's Validate reports the setting first).
func Guarded(service, baseURL string, hc *http.Client) *http.Client {
	c, err := GuardOrigin(service, baseURL, hc)
	if err == nil {
		return c
	}
	var fc http.Client
	if hc != nil {
		fc = *hc
	}
	fc.Transport = failTransport{err: err}
	fc.CheckRedirect = func(*http.Request, []*http.Request) error { return err }
	return &fc
}

type failTransport struct{ err error }

func (f failTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return nil, f.err
}

// IsOrigin reports whether err (or anything it wraps) is an *OriginError.
func IsOrigin(err error) bool {
	var oe *OriginError
	return errors.As(err, &oe)
}
