// Package httpx is the HTTP plumbing shared by every adapter: the error type
// that carries an upstream status without ever carrying a credential, the
// https-or-loopback rule for endpoints, and Retry-After parsing.
package httpx

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// StatusError is an upstream service answering with a non-success status.
// It never holds request headers, tokens or query strings: URL is the
// request URL with its query removed.
type StatusError struct {
	Service string // "okta", "jira", "confluence", "slack", "anthropic"
	Method  string
	URL     string // scheme://host/path, no query, no userinfo
	Status  int
	Code    string // the service's own error code when it gives one (E0000011, channel_not_found...)
	Message string // the service's error summary
	Hint    string // what the user should check (setting names, never values of secrets)
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s: HTTP %d", e.Service, e.Method, e.URL, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// IsAuth reports whether the service refused the credentials or the
// permission (401/403). cli maps such errors to exit code 4.
func (e *StatusError) IsAuth() bool { return e.Status == 401 || e.Status == 403 }

// AuthError marks any error as an upstream authentication or permission
// refusal (exit code 4) when it is not an *StatusError, e.g. Slack's
// `ok:false, error:invalid_auth` on an HTTP 200.
type AuthError struct {
	Service string
	Err     error
	Hint    string
}

func (e *AuthError) Error() string { return e.Service + ": authentication refused: " + e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// IsAuth reports whether err (or anything it wraps) is an upstream
// authentication/permission refusal.
func IsAuth(err error) bool {
	var se *StatusError
	if errors.As(err, &se) && se.IsAuth() {
		return true
	}
	var ae *AuthError
	return errors.As(err, &ae)
}

// RedactURL returns u without query string, fragment or user info, for
// errors and evidence where a token might hide in a parameter.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}

// CheckEndpoint validates a configured base URL: it must be absolute and
// https, except for loopback hosts (127.0.0.0/8, ::1, localhost) where http
// is allowed so that the sandbox and tests work. field names the config key
// for the error message.
func CheckEndpoint(field, raw string) error {
	if raw == "" {
		return fmt.Errorf("%s: is empty", field)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %q is not a URL: %v", field, raw, err)
	}
	if u.Host == "" {
		return fmt.Errorf("%s: %q is not an absolute URL", field, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%s: credentials in the URL are not allowed; use the environment", field)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s: %q: http:// is allowed only for loopback hosts; use https://", field, raw)
	}
	return fmt.Errorf("%s: %q: scheme must be https", field, raw)
}

// IsLoopback reports whether host is localhost or a loopback IP.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RetryAfter parses a Retry-After header (delta seconds or HTTP date)
// relative to now. It returns def when the header is absent or invalid and
// never more than max.
func RetryAfter(h string, now time.Time, def, max time.Duration) time.Duration {
	d := def
	if h = strings.TrimSpace(h); h != "" {
		if s, err := strconv.Atoi(h); err == nil && s >= 0 {
			d = time.Duration(s) * time.Second
		} else if t, err := time.Parse(httpDateLayout, h); err == nil {
			d = t.Sub(now)
		}
	}
	if d < 0 {
		d = 0
	}
	if max > 0 && d > max {
		d = max
	}
	return d
}

const httpDateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

// CheckBasicAuth validates the settings of a service that uses HTTP basic
// auth with an email and an API token (Jira, Confluence): the base URL
// (CheckEndpoint), the email (emailField; emailNote is appended when it is
// empty) and the token (tokenMissing is the whole message when it is not
// set). Errors name the setting, never the token's value.
func CheckBasicAuth(baseField, baseURL, emailField, email, emailNote, token, tokenMissing string) []error {
	var errs []error
	if err := CheckEndpoint(baseField, baseURL); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(email) == "" {
		errs = append(errs, errors.New(emailField+": is empty"+emailNote))
	} else if !strings.Contains(email, "@") {
		errs = append(errs, fmt.Errorf("%s: %q is not an email address", emailField, email))
	}
	if token == "" {
		errs = append(errs, errors.New(tokenMissing))
	}
	return errs
}
