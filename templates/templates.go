// Package templates renders what uar publishes from one [model.ReviewView]:
// the Confluence review page (storage-format XHTML through html/template),
// the Jira ticket descriptions (Atlassian Document Format built from Go
// structs) and the Slack summary (Block Kit JSON). All three read the same
// view, so they cannot disagree about a review.
//
// # Safety
//
// Every string that comes from a snapshot (names, titles, departments,
// group names, finding details) is hostile input. The renderers never
// splice it into markup by hand:
//   - Confluence: html/template escapes by context, and every string is first
//     passed through [XMLText], which replaces characters that XML 1.0
//     forbids (control characters, invalid UTF-8) with U+FFFD, because
//     Confluence storage must be well-formed XML. No user text is ever put in
//     CDATA. The rendered page is parsed with encoding/xml before it is
//     returned, so a malformed page is an error here, not a 400 upstream.
//   - Jira: ADF is built from structs and encoding/json, so a name that looks
//     like ADF JSON stays a text node. Empty text nodes, which ADF rejects,
//     are never emitted.
//   - Slack: & < > in user text are escaped as mrkdwn requires, and links are
//     only emitted for http(s) URLs without characters that would break the
//     <url|label> syntax.
//
// # Determinism
//
// Output depends only on the view: no clock, no map iteration. Times are
// rendered in UTC. Golden files in testdata/ pin the exact bytes.
package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uar-dev/uar/internal/model"
)

//go:embed *.tmpl
var files embed.FS

// parsed holds every template, parsed once; a template that fails to parse
// is a programmer error caught by any test of this package.
var parsed = template.Must(template.New("").ParseFS(files, "*.tmpl"))

// XMLText returns s with every character that XML 1.0 does not allow
// (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF; surrogates;
// invalid UTF-8) replaced by U+FFFD, so that escaped output is always
// well-formed. Escaping of & < > " ' is left to the renderer.
func XMLText(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || !xmlChar(r) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || !xmlChar(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// xmlChar implements the Char production of XML 1.0 (fifth edition).
func xmlChar(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// webURL returns raw when it is an absolute http(s) URL that is safe to
// put in a link, and "" otherwise (the renderers then show no link rather
// than a broken or dangerous one).
func webURL(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" || XMLText(raw) != raw {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	if strings.ContainsAny(raw, " <>|\"'`\\{}") {
		return ""
	}
	return raw
}

// utcTime renders t as UTC RFC 3339, or "" for the zero time.
func utcTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// utcDate renders t as a UTC calendar date, or "" for the zero time.
func utcDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// riskCounts counts a system's findings by risk.
type riskCounts struct{ High, Medium, Low int }

func countRisks(fs []model.Finding) riskCounts {
	var c riskCounts
	for _, f := range fs {
		switch f.Risk {
		case model.RiskHigh:
			c.High++
		case model.RiskMedium:
			c.Medium++
		case model.RiskLow:
			c.Low++
		}
	}
	return c
}

// highestRisk is s.Risk when set, else the highest risk among its findings
// (the view builder normally sets it; this keeps renderers consistent when
// it does not).
func highestRisk(s model.SystemReview) model.Risk {
	best := s.Risk
	for _, f := range s.Findings {
		if f.Risk.Rank() > best.Rank() {
			best = f.Risk
		}
	}
	return best
}

// userOf names the user of an access row: email, else login.
func userOf(r model.AccessRow) string {
	if r.UserEmail != "" {
		return r.UserEmail
	}
	return r.UserLogin
}

// marshalJSON encodes v compactly without HTML escaping (<, >, & stay
// literal inside JSON strings, which is valid JSON and keeps goldens
// readable; the consumers are JSON APIs, not HTML pages).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
