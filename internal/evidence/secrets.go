package evidence

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strings"
)

// MinSecretLen is the shortest form SecretForms returns and a Scrubber
// replaces: a shorter "secret" would redact ordinary data.
const MinSecretLen = 4

// SecretForms expands secrets into every form in which they may leak into
// a response body, a header, an error or a log line:
//
//   - each secret as is, as "Bearer <s>" and "SSWS <s>", and JSON-escaped
//     (also with "/" written as `\/`);
//   - for each basic-auth user u (the Atlassian e-mail addresses) and each
//     secret s, base64("u:s") in the standard and URL alphabets, with and
//     without padding, each also with "/" as `\/` and "+" as `\u002b` (how
//     some JSON encoders write them), and each again as "Basic <that>".
//
// Empty inputs and forms shorter than MinSecretLen are skipped. The result
// has no duplicates and is sorted longest first, so that replacing in that
// order removes a whole "Basic ..." before any part of it. cli uses the
// same list for runs.error, stderr and --json; the Recorder uses it for
// everything it stores and returns.
func SecretForms(secrets []string, basicUsers []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if len(v) >= MinSecretLen && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	escapes := func(v string) []string {
		vs := []string{v}
		if strings.Contains(v, "/") {
			vs = append(vs, strings.ReplaceAll(v, "/", `\/`))
		}
		if strings.Contains(v, "+") {
			for _, w := range slices.Clone(vs) {
				vs = append(vs, strings.ReplaceAll(w, "+", `\u002b`))
			}
		}
		return vs
	}
	encodings := []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, v := range append([]string{s}, jsonForms(s)...) {
			add(v)
			add("Bearer " + v)
			add("SSWS " + v)
		}
		for _, u := range basicUsers {
			if u == "" {
				continue
			}
			for _, enc := range encodings {
				for _, v := range escapes(enc.EncodeToString([]byte(u + ":" + s))) {
					add(v)
					add("Basic " + v)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	return out
}

// jsonForms returns s as a JSON string would carry it (without the
// quotes), when that differs from s, plus the `\/` variant.
func jsonForms(s string) []string {
	b, err := json.Marshal(s)
	if err != nil {
		return nil
	}
	var out []string
	if j := string(b[1 : len(b)-1]); j != s {
		out = append(out, j)
	}
	if strings.Contains(s, "/") {
		out = append(out, strings.ReplaceAll(string(b[1:len(b)-1]), "/", `\/`))
	}
	return out
}

// Scrubber replaces a fixed set of secret forms with Redacted in one pass
// over its input. A body with no secret costs one scan, whatever the number
// of forms: each position is filtered by a hash of its first four bytes
// (every form has at least MinSecretLen = 4), and only a hit is compared
// with the forms starting with those bytes. The zero value and a Scrubber
// with no forms leave everything unchanged.
type Scrubber struct {
	forms  [][]byte         // longest first
	byHead map[uint32][]int // first four bytes -> indexes into forms
	bitmap [1 << 16 / 64]uint64
	first  [256]bool // the first bytes of forms and markers
	// markers are JSON keys (with their quotes) whose presence with a
	// string value Scan reports: the recorder's credential fields, found
	// in the same pass as the secret forms.
	markers    [][]byte
	markerHead map[uint32][]int
}

func head4(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

func headHash(h uint32) uint32 { return (h * 0x9E3779B1) >> 16 }

// NewScrubber builds a Scrubber for forms (typically SecretForms(...));
// forms shorter than MinSecretLen are ignored.
func NewScrubber(forms []string) *Scrubber {
	s := &Scrubber{byHead: map[uint32][]int{}}
	fs := slices.Clone(forms)
	slices.SortFunc(fs, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	for _, f := range slices.Compact(fs) {
		if len(f) < MinSecretLen {
			continue
		}
		h := head4([]byte(f))
		s.byHead[h] = append(s.byHead[h], len(s.forms))
		x := headHash(h)
		s.bitmap[x>>6] |= 1 << (x & 63)
		s.first[f[0]] = true
		s.forms = append(s.forms, []byte(f))
	}
	return s
}

// newScrubberWithMarkers is NewScrubber whose Scan also reports JSON
// string fields keyed by one of keys (see hasSecretJSONString).
func newScrubberWithMarkers(forms, keys []string) *Scrubber {
	s := NewScrubber(forms)
	s.markerHead = map[uint32][]int{}
	for _, k := range keys {
		m := []byte(`"` + k + `"`)
		h := head4(m)
		s.markerHead[h] = append(s.markerHead[h], len(s.markers))
		x := headHash(h)
		s.bitmap[x>>6] |= 1 << (x & 63)
		s.first[m[0]] = true
		s.markers = append(s.markers, m)
	}
	return s
}

// Bytes returns b with every form replaced by Redacted. It returns b
// itself (not a copy) when nothing matched.
func (s *Scrubber) Bytes(b []byte) []byte {
	out, _ := s.Scan(b)
	return out
}

// Scan is Bytes, and also reports whether b holds a marker key followed
// by a string value (only for a Scrubber with markers): one pass finds
// both.
func (s *Scrubber) Scan(b []byte) ([]byte, bool) {
	if s == nil || len(s.forms) == 0 && len(s.markers) == 0 {
		return b, false
	}
	var out []byte
	last := 0
	found := false
	bm := &s.bitmap
	first := &s.first
	for i := 0; i+MinSecretLen <= len(b); i++ {
		if !first[b[i]] { // most bytes start no form: one table load
			continue
		}
		h := head4(b[i : i+4])
		x := headHash(h)
		if bm[(x>>6)&uint32(len(bm)-1)]&(1<<(x&63)) == 0 {
			continue
		}
		if !found {
			for _, mi := range s.markerHead[h] {
				if m := s.markers[mi]; bytes.HasPrefix(b[i:], m) && stringValueAt(b, i+len(m)) {
					found = true
					break
				}
			}
		}
		for _, fi := range s.byHead[h] {
			f := s.forms[fi]
			if bytes.HasPrefix(b[i:], f) {
				if out == nil {
					out = make([]byte, 0, len(b))
				}
				out = append(out, b[last:i]...)
				out = append(out, Redacted...)
				last = i + len(f)
				i = last - 1
				break
			}
		}
	}
	if out == nil {
		return b, found
	}
	return append(out, b[last:]...), found
}

// stringValueAt reports whether b[j:] is optional white space, a colon,
// optional white space and a string's opening quote.
func stringValueAt(b []byte, j int) bool {
	ws := func() {
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
			j++
		}
	}
	ws()
	if j >= len(b) || b[j] != ':' {
		return false
	}
	j++
	ws()
	return j < len(b) && b[j] == '"'
}

// String is Bytes for a string.
func (s *Scrubber) String(v string) string {
	if s == nil || len(s.forms) == 0 {
		return v
	}
	b := s.Bytes([]byte(v))
	return string(b)
}

// ScrubString replaces every form (see SecretForms) in v with Redacted.
// It is the one-off form of a Scrubber, for error texts and output.
func ScrubString(v string, forms []string) string {
	return NewScrubber(forms).String(v)
}
