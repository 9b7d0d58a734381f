package okta

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"time"
)

// This file decodes member pages (GET /api/v1/groups/{id}/users): arrays
// of full User objects (okta-api.md §2.2), about 780 bytes each and half a
// million of them in a large org. A reflective decode was the largest
// single cost of a snapshot, so the page is scanned once, by hand: the
// scanner validates the whole document as encoding/json would, reads the
// dozen fields a snapshot keeps and skips everything else without copying.
// It decodes exactly what encoding/json decodes into wireUser, with one
// deliberate difference: keys match only in their exact spelling or an
// ASCII case fold of it (encoding/json also folds a few non-ASCII runes,
// such as the Kelvin sign for "k"); Okta's keys are fixed ASCII names.
// TestDecodeUserPageMatchesEncodingJSON and FuzzDecodeUserPage hold the two
// equal.

// userRec is one decoded member: byte slices into the page (or, for
// strings with escapes or non-ASCII bytes, decoded copies) and parsed
// times. A present-but-null or absent field is empty.
type userRec struct {
	id, status         []byte
	created, lastLogin time.Time
	hasCreated, hasLL  bool
	prof               [nProfile][]byte
}

// Profile attributes a snapshot keeps, in userRec.prof order.
const (
	pLogin = iota
	pEmail
	pFirstName
	pLastName
	pDepartment
	pTitle
	pUserType
	pEmployee // the okta.employee_id_attribute, "employeeNumber" by default
	pManager
	nProfile
)

var profileKeys = [nProfile]string{"login", "email", "firstName", "lastName", "department", "title", "userType", "employeeNumber", "manager"}

// DefaultEmployeeIDAttribute is the Okta profile attribute read into
// model.User.EmployeeNumber unless okta.employee_id_attribute says otherwise.
const DefaultEmployeeIDAttribute = "employeeNumber"

// syntaxError is a malformed page; Offset is the byte where it was found.
type syntaxError struct {
	msg    string
	Offset int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("decode: %s at offset %d", e.msg, e.Offset) }

// scanner walks one JSON document.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) fail(msg string) error { return &syntaxError{msg, s.i} }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte (0 at the end).
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// str reads a string at s.i (which must be '"') and returns its raw
// content and whether that needs decoding (escapes or non-ASCII bytes).
func (s *scanner) str() (raw []byte, complex bool, err error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, s.fail("expected a string")
	}
	s.i++
	start := s.i
	// Fast path: up to the next quote there is no escape, no control
	// character and no byte outside ASCII (nearly every string of a page).
	if j, plain := plainUntilQuote(s.b, start); plain {
		s.i = j + 1
		return s.b[start:j], false, nil
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, complex, nil
		case c == '\\':
			complex = true
			s.i++
			if s.i >= len(s.b) {
				return nil, false, s.fail("unterminated string")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+4 >= len(s.b) {
					return nil, false, s.fail("bad \\u escape")
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return nil, false, s.fail("bad \\u escape")
					}
				}
				s.i += 5
			default:
				return nil, false, s.fail("bad escape")
			}
		case c < 0x20:
			return nil, false, s.fail("control character in string")
		case c >= 0x80:
			complex = true
			s.i++
		default:
			s.i++
		}
	}
	return nil, false, s.fail("unterminated string")
}

// plainUntilQuote finds the first byte from i on that is a quote, a
// backslash, a control character or outside ASCII, eight bytes at a time,
// and returns its index and whether it is a quote (the string from i to
// it is then plain ASCII). It returns (len(b), false) when there is none.
//
// Per 8-byte word, (x-lo)&^x&hi flags the bytes of x that are zero, and
// can wrongly flag a byte only above a truly flagged one, so the lowest
// flag is always right (likewise for "less than 0x20").
func plainUntilQuote(b []byte, i int) (int, bool) {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		q := w ^ (lo * '"')
		bs := w ^ (lo * '\\')
		if m := ((q-lo)&^q | (bs-lo)&^bs | (w-lo*0x20)&^w | w) & hi; m != 0 {
			j := i + bits.TrailingZeros64(m)/8
			return j, b[j] == '"'
		}
		i += 8
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			return i, c == '"'
		}
	}
	return len(b), false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// strValue decodes the string at s.i: the raw bytes when they are plain
// ASCII, else what encoding/json makes of them (escapes resolved, invalid
// UTF-8 replaced).
func (s *scanner) strValue() ([]byte, error) {
	start := s.i
	raw, complex, err := s.str()
	if err != nil || !complex {
		return raw, err
	}
	var v string
	if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
		return nil, &syntaxError{err.Error(), start}
	}
	return []byte(v), nil
}

// number reads a JSON number at s.i and returns its text.
func (s *scanner) number() ([]byte, error) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
		}
	default:
		return nil, s.fail("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		d := s.i
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return nil, s.fail("bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		d := s.i
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return nil, s.fail("bad number")
		}
	}
	return s.b[start:s.i], nil
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return s.fail("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// maxDepth bounds nesting, as encoding/json does (10000).
const maxDepth = 10000

// skip validates and passes over one value.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	switch s.peek() {
	case '"':
		_, _, err := s.str()
		return err
	case '{':
		return s.object(depth+1, func([]byte) error { return s.skip(depth + 1) })
	case '[':
		return s.array(depth+1, func() error { return s.skip(depth + 1) })
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case 0:
		return s.fail("unexpected end of input")
	default:
		_, err := s.number()
		return err
	}
}

// object reads an object at s.i, calling member for each key with s.i at
// its value; member must consume the value.
func (s *scanner) object(depth int, member func(key []byte) error) error {
	if depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	s.i++ // {
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.fail("expected a key")
		}
		key, complex, err := s.str()
		if err != nil {
			return err
		}
		if complex {
			var k string
			if err := json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k); err != nil {
				return s.fail(err.Error())
			}
			key = []byte(k)
		}
		if s.peek() != ':' {
			return s.fail("expected ':'")
		}
		s.i++
		s.ws()
		if err := member(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or '}'")
		}
	}
}

// members is object for the hot objects (users, profiles): the same
// checks, with the common case (a plain key, no white space) read first.
func (s *scanner) members(depth int, member func(key []byte) error) error {
	if depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	s.i++ // {
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.fail("expected a key")
		}
		start := s.i + 1
		var key []byte
		if j, plain := plainUntilQuote(s.b, start); plain {
			key, s.i = s.b[start:j], j+1
		} else {
			raw, complex, err := s.str()
			if err != nil {
				return err
			}
			key = raw
			if complex {
				var k string
				if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k); err != nil {
					return s.fail(err.Error())
				}
				key = []byte(k)
			}
		}
		if s.i < len(s.b) && s.b[s.i] == ':' {
			s.i++
		} else if s.peek() == ':' {
			s.i++
		} else {
			return s.fail("expected ':'")
		}
		if s.i < len(s.b) && s.b[s.i] > ' ' {
			// no white space: the value starts here
		} else {
			s.ws()
		}
		if err := member(key); err != nil {
			return err
		}
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
			continue
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or '}'")
		}
	}
}

// array reads an array at s.i, calling elem with s.i at each element.
func (s *scanner) array(depth int, elem func() error) error {
	if depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	s.i++ // [
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or ']'")
		}
	}
}

// keyIs reports whether key names want: exactly, or in another ASCII case.
func keyIs(key []byte, want string) bool {
	if len(key) != len(want) {
		return false
	}
	if string(key) == want {
		return true
	}
	for i := range key {
		a, b := key[i], want[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// typeError is a field of the wrong JSON type (encoding/json's
// UnmarshalTypeError); the page is refused.
func typeError(s *scanner, field, want string) error {
	return s.fail(fmt.Sprintf("%s: want %s", field, want))
}

// plainString reads a JSON string or null into dst (null leaves it as is,
// as encoding/json does for a string field).
func (s *scanner) plainString(field string, dst *[]byte) error {
	switch s.peek() {
	case '"':
		v, err := s.strValue()
		if err != nil {
			return err
		}
		*dst = v
		return nil
	case 'n':
		return s.literal("null")
	}
	return typeError(s, field, "a string")
}

// flexValue reads a profile attribute as flexString does: a string's
// value, a number's or boolean's text, "" for null, an object or an array.
func (s *scanner) flexValue(depth int) ([]byte, error) {
	switch s.peek() {
	case '"':
		return s.strValue()
	case 'n':
		return nil, s.literal("null")
	case 't':
		start := s.i
		err := s.literal("true")
		return s.b[start:s.i], err
	case 'f':
		start := s.i
		err := s.literal("false")
		return s.b[start:s.i], err
	case '{', '[':
		return nil, s.skip(depth)
	case 0:
		return nil, s.fail("unexpected end of input")
	}
	return s.number()
}

// timeValue reads an RFC 3339 string or null, as a *time.Time field.
func (s *scanner) timeValue(field string, dst *time.Time, set *bool) error {
	switch s.peek() {
	case 'n':
		*dst, *set = time.Time{}, false
		return s.literal("null")
	case '"':
	default:
		return typeError(s, field, "a time string")
	}
	start := s.i
	raw, complex, err := s.str()
	if err != nil {
		return err
	}
	if t, ok := fastTime(raw); ok && !complex {
		*dst, *set = t, true
		return nil
	}
	var t time.Time
	if err := t.UnmarshalJSON(s.b[start:s.i]); err != nil {
		return &syntaxError{field + ": " + err.Error(), start}
	}
	*dst, *set = t, true
	return nil
}

// fastTime parses Okta's "2006-01-02T15:04:05.000Z" (and the form without
// fraction) and returns ok only when the value is valid; anything else
// goes through time.Time.UnmarshalJSON, which it matches.
func fastTime(b []byte) (time.Time, bool) {
	if len(b) != 24 && len(b) != 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(p, n int) (int, bool) {
		v := 0
		for _, c := range b[p : p+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	d, ok3 := num(8, 2)
	h, ok4 := num(11, 2)
	mi, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	ms := 0
	ok7 := true
	if len(b) == 24 {
		if b[19] != '.' {
			return time.Time{}, false
		}
		ms, ok7 = num(20, 3)
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	if d > daysIn(time.Month(mo), y) {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, ms*int(time.Millisecond), time.UTC), true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// decodeUserPage decodes a member page into recs (reused: it is reset and
// returned grown). empAttr is the profile key read as the employee id.
// A page that is not a JSON array of User objects (or null) is an error.
func decodeUserPage(b []byte, empAttr string, recs []userRec) ([]userRec, error) {
	recs = recs[:0]
	s := &scanner{b: b}
	switch s.peek() {
	case 'n':
		if err := s.literal("null"); err != nil {
			return nil, err
		}
	case '[':
		err := s.array(1, func() error {
			recs = append(recs, userRec{})
			r := &recs[len(recs)-1]
			switch s.peek() {
			case 'n':
				return s.literal("null")
			case '{':
				return s.members(2, func(key []byte) error { return s.userField(r, key, empAttr) })
			}
			return typeError(s, "user", "an object")
		})
		if err != nil {
			return nil, err
		}
	default:
		return nil, s.fail("want a JSON array of users")
	}
	if s.peek() != 0 {
		return nil, s.fail("data after the top-level value")
	}
	return recs, nil
}

func (s *scanner) userField(r *userRec, key []byte, empAttr string) error {
	switch {
	case keyIs(key, "id"):
		return s.plainString("id", &r.id)
	case keyIs(key, "status"):
		return s.plainString("status", &r.status)
	case keyIs(key, "created"):
		return s.timeValue("created", &r.created, &r.hasCreated)
	case keyIs(key, "lastLogin"):
		return s.timeValue("lastLogin", &r.lastLogin, &r.hasLL)
	case keyIs(key, "profile"):
		switch s.peek() {
		case 'n':
			return s.literal("null")
		case '{':
			return s.members(3, func(pk []byte) error {
				v, err := s.flexValue(4)
				if err != nil {
					return err
				}
				for f := range nProfile {
					name := profileKeys[f]
					if f == pEmployee {
						name = empAttr
					}
					if keyIs(pk, name) {
						r.prof[f] = v
					}
				}
				return nil
			})
		}
		return typeError(s, "profile", "an object")
	}
	return s.skip(2)
}
