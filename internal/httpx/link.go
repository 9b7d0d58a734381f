package httpx

import (
	"errors"
	"fmt"
	"strings"
)

// Link is one link-value of an HTTP Link header (RFC 8288 §3).
type Link struct {
	URL    string            // the URI-Reference between < and >, as sent
	Rel    []string          // the rel parameter's relation types, lower case
	Params map[string]string // every parameter, names lower case, values unquoted
}

// HasRel reports whether l has relation type rel (case-insensitive).
func (l Link) HasRel(rel string) bool {
	for _, r := range l.Rel {
		if strings.EqualFold(r, rel) {
			return true
		}
	}
	return false
}

// MaxLinks bounds the link-values ParseLinks accepts in one response; an
// API page has two (self, next).
const MaxLinks = 64

// ErrMalformedLink is wrapped by every ParseLinks error.
var ErrMalformedLink = errors.New("malformed Link header")

// ParseLinks parses the values of every Link header of a response (each
// value may itself hold several comma-separated link-values). It never
// panics; on any syntax error it returns an error wrapping
// ErrMalformedLink that names the header and the offending position but
// not the URL (which may carry a cursor or worse). It does not interpret
// the URLs: callers resolve and check them.
func ParseLinks(values []string) ([]Link, error) {
	var out []Link
	for hi, v := range values {
		p := linkParser{s: v}
		for {
			p.skipSpaceAndCommas()
			if p.done() {
				break
			}
			l, err := p.link()
			if err != nil {
				return nil, fmt.Errorf("%w (header %d, byte %d): %v", ErrMalformedLink, hi+1, p.i, err)
			}
			out = append(out, l)
			if len(out) > MaxLinks {
				return nil, fmt.Errorf("%w: more than %d links", ErrMalformedLink, MaxLinks)
			}
			p.skipSpace()
			if p.done() {
				break
			}
			if p.s[p.i] != ',' {
				return nil, fmt.Errorf("%w (header %d, byte %d): want ',' between links, got %q", ErrMalformedLink, hi+1, p.i, p.s[p.i])
			}
		}
	}
	return out, nil
}

type linkParser struct {
	s string
	i int
}

func (p *linkParser) done() bool { return p.i >= len(p.s) }

func (p *linkParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *linkParser) skipSpaceAndCommas() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

func (p *linkParser) link() (Link, error) {
	if p.s[p.i] != '<' {
		return Link{}, errors.New("a link must start with '<'")
	}
	end := strings.IndexByte(p.s[p.i+1:], '>')
	if end < 0 {
		return Link{}, errors.New("no '>' closes the link target")
	}
	target := p.s[p.i+1 : p.i+1+end]
	for _, c := range []byte(target) {
		if c <= ' ' || c == 0x7f || c == '<' || c == '"' {
			return Link{}, errors.New("the link target holds a space, a control character or a quote")
		}
	}
	p.i += end + 2
	l := Link{URL: target, Params: map[string]string{}}
	for {
		p.skipSpace()
		if p.done() || p.s[p.i] == ',' {
			break
		}
		if p.s[p.i] != ';' {
			return Link{}, fmt.Errorf("want ';' before a parameter, got %q", p.s[p.i])
		}
		p.i++
		p.skipSpace()
		name := p.token()
		if name == "" {
			return Link{}, errors.New("empty parameter name")
		}
		name = strings.ToLower(name)
		p.skipSpace()
		val := ""
		if !p.done() && p.s[p.i] == '=' {
			p.i++
			p.skipSpace()
			if !p.done() && p.s[p.i] == '"' {
				q, err := p.quoted()
				if err != nil {
					return Link{}, err
				}
				val = q
			} else {
				val = p.token()
				if val == "" {
					return Link{}, fmt.Errorf("parameter %s has no value", name)
				}
			}
		}
		if _, dup := l.Params[name]; dup {
			// RFC 8288 §3.3: occurrences after the first rel are ignored.
			continue
		}
		l.Params[name] = val
		if name == "rel" {
			for _, r := range strings.Fields(val) {
				l.Rel = append(l.Rel, strings.ToLower(r))
			}
		}
	}
	return l, nil
}

// token reads an RFC 9110 token.
func (p *linkParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func isTokenChar(c byte) bool {
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// quoted reads a quoted-string whose opening quote is at p.i.
func (p *linkParser) quoted() (string, error) {
	var b strings.Builder
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", errors.New("unterminated quoted string")
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case c < ' ' && c != '\t' || c == 0x7f:
			return "", errors.New("control character in a quoted string")
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", errors.New("unterminated quoted string")
}
