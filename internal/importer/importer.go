// Package importer reads app-native entitlement exports (CSV or JSON) for
// SOX applications that are not behind Okta, and turns them into the users,
// groups and memberships of a snapshot (uar snapshot --import FILE
// --system NAME). It also reads the HR listing of people, their status and
// termination date (uar snapshot --import FILE --kind hr; see [ParseHR]
// and [HRColumns]) with the same machinery and the same error contract.
//
// # Format
//
// CSV has a header row; JSON is an array of objects, or an object
// {"rows": [...]}, with the same keys. Columns (header names are
// case-insensitive):
//
//	user_email   required  the account's e-mail address
//	entitlement  required  the role, profile or permission set held
//	user_name, department, title, user_type, status   optional text
//	last_login   optional  RFC 3339 or YYYY-MM-DD (UTC)
//
// One row per user × entitlement. An unknown column is an error (a typo
// must not drop data silently). A user's attributes may repeat on each of
// their rows or be given once; two different non-empty values are an error.
//
// # Errors
//
// Every bad row is reported, with its line, in one *[ParseError] (the
// first MaxProblems, then a count of the rest); a file with any problem
// yields no data at all, so a half-read export can never be scored. A
// value longer than MaxFieldLen, a JSON object with the same key twice and
// bytes that are not UTF-8 are problems too, each with its line.
package importer

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uar-dev/uar/internal/model"
)

// MaxProblems is how many problems a ParseError lists; the rest are only
// counted (ParseError.More), so a hostile file cannot produce an error
// message of unbounded size.
const MaxProblems = 100

// MaxFieldLen is the longest value (or header name) accepted, in bytes.
const MaxFieldLen = 4 << 10

// Columns lists the recognised columns in canonical order.
var Columns = []string{"user_email", "entitlement", "user_name", "department", "title", "user_type", "status", "last_login"}

// Import is the population read from one export, in the model's types,
// sorted by ID (memberships by group then user). Every slice is non-nil.
type Import struct {
	Users       []model.User       `json:"users"`
	Groups      []model.Group      `json:"groups"`
	Memberships []model.Membership `json:"memberships"`
}

// Problem is one defect in an export. Line is the 1-based line of the row
// (for JSON, of the start of the row's object); Field names the column,
// prefixed for JSON by the row's index (e.g. "[3].user_email" or
// "rows[3].user_email").
type Problem struct {
	Line  int    `json:"line"`
	Field string `json:"field"`
	Msg   string `json:"msg"`
}

// ParseError lists the problems found in an export file: the first
// MaxProblems, and how many more there were.
type ParseError struct {
	File     string    `json:"file"`
	Problems []Problem `json:"problems"`
	More     int       `json:"more"` // problems found beyond those listed
}

// Error renders one line per problem: file:line: field: msg, then
// "file: and N more problems" when some were not listed.
func (e *ParseError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s:%d: ", e.File, p.Line)
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Msg)
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n%s: and %d more problems", e.File, e.More)
	}
	return b.String()
}

// UserID returns the snapshot user ID of an imported account.
func UserID(system, email string) string {
	return "import:" + system + ":" + strings.ToLower(email)
}

// GroupID returns the snapshot group ID of an imported entitlement.
func GroupID(system, entitlement string) string {
	return "import:" + system + ":" + entitlement
}

// Parse reads an export. The format comes from the extension (.csv,
// .json), else from the content (JSON when it starts with [ or {).
// filename is used for that and in error messages only; system names the
// application the export belongs to (the Group.System of every
// entitlement). It returns a *ParseError listing every problem, and a nil
// *Import, when the file has any defect.
func Parse(filename string, data []byte, system string) (*Import, error) {
	system = strings.TrimSpace(system)
	if system == "" {
		return nil, errors.New("import: a system name is required")
	}
	data = trimBOM(data)
	b := &builder{file: filename, format: entitlements, system: system, first: map[string]int{}, users: map[string]*userRow{}}
	if !b.read(filename, data) {
		return nil, b.err()
	}
	if len(b.rows) == 0 {
		b.add(0, "", "no data rows: an empty export is more likely a failed export than an application with no users")
		return nil, b.err()
	}
	return b.build(), nil
}

// trimBOM drops Excel's UTF-8 byte order mark.
func trimBOM(data []byte) []byte { return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) }

// read checks the bytes are UTF-8 and reads every row as CSV or JSON
// (see [Parse] for how the format is chosen), calling the format's record
// for each. It reports whether the file had no problem.
func (b *builder) read(filename string, data []byte) bool {
	if !utf8.Valid(data) {
		b.invalidUTF8(data)
		return false
	}
	if isJSON(filename, data) {
		b.parseJSON(data)
	} else {
		b.parseCSV(data)
	}
	return !b.failed()
}

func isJSON(filename string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".json":
		return true
	case ".csv":
		return false
	}
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '[' || t[0] == '{')
}

// row is one validated user × entitlement pair.
type row struct {
	line        int
	email       string // lower case
	entitlement string
}

// userRow accumulates one user's attributes across rows.
type userRow struct {
	user  model.User
	lines map[string]int // attribute -> line it was first given on
}

// builder collects the rows and problems of one file. The reading
// machinery (UTF-8 check, CSV and JSON row reading, problem caps) is
// shared by every file kind; format says which columns the kind has and
// what one row means.
type builder struct {
	file     string
	format   format
	problems []Problem
	more     int // problems beyond MaxProblems

	// entitlement exports (Parse)
	system string
	rows   []row
	first  map[string]int // email + "\x00" + entitlement -> first line
	users  map[string]*userRow

	// HR listings (ParseHR)
	hr *hrState
}

// format describes one kind of file: its columns (lower case, canonical
// order), the ones a header must have, and what to do with one row given
// as column -> value (absent columns are empty; prefix is prepended to
// field names, the JSON row index).
type format struct {
	columns  []string
	required []string
	record   func(b *builder, line int, prefix string, vals map[string]string)
}

var entitlements = format{columns: Columns, required: []string{"user_email", "entitlement"}, record: (*builder).record}

// requiredList reads "a and b" (or "a, b and c") for messages.
func (f format) requiredList() string {
	switch n := len(f.required); n {
	case 0:
		return ""
	case 1:
		return f.required[0]
	default:
		return strings.Join(f.required[:n-1], ", ") + " and " + f.required[n-1]
	}
}

func (b *builder) add(line int, field, format string, args ...any) {
	if len(b.problems) >= MaxProblems {
		b.more++
		return
	}
	b.problems = append(b.problems, Problem{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// failed reports whether any problem was found (listed or only counted).
func (b *builder) failed() bool { return len(b.problems) > 0 || b.more > 0 }

func (b *builder) err() error {
	return &ParseError{File: b.file, Problems: b.problems, More: b.more}
}

// row hands one row to the format after refusing values longer than
// MaxFieldLen (each such value is a problem and the row is dropped).
func (b *builder) row(line int, prefix string, vals map[string]string) {
	long := false
	for _, col := range b.format.columns {
		if n := len(vals[col]); n > MaxFieldLen {
			b.add(line, prefix+col, "value is %d bytes, more than the %d allowed", n, MaxFieldLen)
			long = true
		}
	}
	if !long {
		b.format.record(b, line, prefix, vals)
	}
}

// invalidUTF8 reports each line holding bytes that are not UTF-8, with
// the column (in bytes) of the first bad one.
func (b *builder) invalidUTF8(data []byte) {
	line := 1
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			end = len(data)
		}
		l := data[:end]
		if !utf8.Valid(l) {
			col := 0
			for col < len(l) {
				r, size := utf8.DecodeRune(l[col:])
				if r == utf8.RuneError && size <= 1 {
					break
				}
				col += size
			}
			b.add(line, "", "not valid UTF-8 (byte 0x%02x at column %d); save the export as UTF-8", l[col], col+1)
		}
		line++
		if end == len(data) {
			break
		}
		data = data[end+1:]
	}
}

// record validates one row given as column -> value (absent columns are
// empty). prefix is prepended to field names (JSON row index).
func (b *builder) record(line int, prefix string, vals map[string]string) {
	bad := false
	fieldErr := func(col, format string, args ...any) {
		b.add(line, prefix+col, format, args...)
		bad = true
	}
	email := strings.TrimSpace(vals["user_email"])
	switch {
	case email == "":
		fieldErr("user_email", "required")
	default:
		if !isAddress(email) {
			fieldErr("user_email", "%q is not an e-mail address", email)
		}
	}
	ent := strings.TrimSpace(vals["entitlement"])
	switch {
	case ent == "":
		fieldErr("entitlement", "required (empty entitlement)")
	case strings.ContainsFunc(ent, unicode.IsControl):
		fieldErr("entitlement", "%q contains a control character", ent)
	}
	var last time.Time
	if s := strings.TrimSpace(vals["last_login"]); s != "" {
		t, err := parseTime(s)
		if err != nil {
			fieldErr("last_login", "%q is not a date (want RFC 3339, e.g. 2026-05-15T08:30:00Z, or YYYY-MM-DD)", s)
		}
		last = t
	}
	if bad {
		return
	}
	email = strings.ToLower(email)
	key := email + "\x00" + ent
	if firstLine, dup := b.first[key]; dup {
		b.add(line, prefix+"entitlement", "duplicate row: %s already holds %q (line %d)", email, ent, firstLine)
		return
	}
	b.first[key] = line
	b.rows = append(b.rows, row{line: line, email: email, entitlement: ent})

	ur, ok := b.users[email]
	if !ok {
		ur = &userRow{user: model.User{
			ID:     UserID(b.system, email),
			Login:  email,
			Email:  email,
			Origin: model.OriginImport,
		}, lines: map[string]int{}}
		b.users[email] = ur
	}
	first, rest, _ := strings.Cut(strings.Join(strings.Fields(vals["user_name"]), " "), " ")
	attrs := []struct {
		col string
		dst *string
		val string
	}{
		{"user_name", nil, strings.TrimSpace(first + " " + rest)},
		{"department", &ur.user.Department, strings.TrimSpace(vals["department"])},
		{"title", &ur.user.Title, strings.TrimSpace(vals["title"])},
		{"user_type", &ur.user.UserType, strings.TrimSpace(vals["user_type"])},
		{"status", &ur.user.Status, strings.TrimSpace(vals["status"])},
	}
	for _, a := range attrs {
		if a.val == "" {
			continue
		}
		var cur string
		if a.dst != nil {
			cur = *a.dst
		} else {
			cur = strings.TrimSpace(ur.user.FirstName + " " + ur.user.LastName)
		}
		switch {
		case cur == "":
			if a.dst != nil {
				*a.dst = a.val
			} else {
				ur.user.FirstName, ur.user.LastName = first, rest
			}
			ur.lines[a.col] = line
		case cur != a.val:
			b.add(line, prefix+a.col, "%q conflicts with %q given for %s on line %d", a.val, cur, email, ur.lines[a.col])
		}
	}
	if !last.IsZero() {
		switch {
		case ur.user.LastLogin.IsZero():
			ur.user.LastLogin = last
			ur.lines["last_login"] = line
		case !ur.user.LastLogin.Equal(last):
			b.add(line, prefix+"last_login", "%s conflicts with %s given for %s on line %d",
				last.Format(time.RFC3339), ur.user.LastLogin.Format(time.RFC3339), email, ur.lines["last_login"])
		}
	}
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

func (b *builder) build() *Import {
	im := &Import{Users: []model.User{}, Groups: []model.Group{}, Memberships: make([]model.Membership, 0, len(b.rows))}
	for _, ur := range b.users {
		im.Users = append(im.Users, ur.user)
	}
	slices.SortFunc(im.Users, func(a, b model.User) int { return cmp.Compare(a.ID, b.ID) })
	seen := map[string]bool{}
	for _, r := range b.rows {
		gid := GroupID(b.system, r.entitlement)
		if !seen[gid] {
			seen[gid] = true
			im.Groups = append(im.Groups, model.Group{
				ID:     gid,
				Name:   r.entitlement,
				Type:   model.GroupTypeImport,
				System: b.system,
				Role:   r.entitlement,
			})
		}
		im.Memberships = append(im.Memberships, model.Membership{GroupID: gid, UserID: UserID(b.system, r.email), Source: model.SourceApp})
	}
	slices.SortFunc(im.Groups, func(a, b model.Group) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(im.Memberships, func(a, b model.Membership) int {
		return cmp.Or(cmp.Compare(a.GroupID, b.GroupID), cmp.Compare(a.UserID, b.UserID))
	})
	return im
}

// parseCSV reads a header row and then the data rows. A semicolon
// delimiter (spreadsheets in some locales) is accepted when the header has
// semicolons and no commas.
func (b *builder) parseCSV(data []byte) {
	r := csv.NewReader(bytes.NewReader(data))
	if hdr, _, _ := bytes.Cut(data, []byte("\n")); bytes.Contains(hdr, []byte(";")) && !bytes.Contains(hdr, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		b.add(1, "", "empty file: want a header row with %s", b.format.requiredList())
		return
	}
	if err != nil {
		b.add(csvLine(err, 1), "", "header: %s", csvMsg(err))
		return
	}
	cols := make([]string, len(header))
	at := map[string]int{}
	var unknown []string
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		cols[i] = name
		switch {
		case len(h) > MaxFieldLen:
			b.add(1, "", "header: column %d is %d bytes long, more than the %d allowed", i+1, len(h), MaxFieldLen)
		case name == "":
			b.add(1, "", "header: column %d has no name", i+1)
		case !slices.Contains(b.format.columns, name):
			unknown = append(unknown, fmt.Sprintf("%q", clip(strings.TrimSpace(h))))
		case at[name] != 0:
			b.add(1, name, "header: duplicate column (columns %d and %d)", at[name], i+1)
		default:
			at[name] = i + 1
		}
	}
	if len(unknown) > 0 {
		if len(unknown) > 10 {
			unknown = append(unknown[:10], fmt.Sprintf("and %d more", len(unknown)-10))
		}
		b.add(1, "", "header: unknown column(s) %s (allowed: %s)", strings.Join(unknown, ", "), strings.Join(b.format.columns, ", "))
	}
	for _, req := range b.format.required {
		if at[req] == 0 {
			b.add(1, "", "header: missing required column %s", req)
		}
	}
	if b.failed() {
		return // rows cannot be read reliably against a bad header
	}
	for {
		before := r.InputOffset()
		rec, err := r.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			b.add(csvLine(err, 0), "", "%s", csvMsg(err))
			if r.InputOffset() == before {
				return // no progress: stop rather than loop
			}
			continue
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(cols) {
			b.add(line, "", "row has %d fields, header has %d", len(rec), len(cols))
			continue
		}
		vals := make(map[string]string, len(cols))
		for i, c := range cols {
			vals[c] = rec[i]
		}
		b.row(line, "", vals)
	}
}

func csvLine(err error, def int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Line
	}
	return def
}

func csvMsg(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("column %d: %v", pe.Column, pe.Err)
	}
	return err.Error()
}

// lineCounter maps increasing byte offsets to 1-based line numbers in one
// pass over the data.
type lineCounter struct {
	data []byte
	off  int
	line int
}

func (lc *lineCounter) at(off int) int {
	off = min(off, len(lc.data))
	if off < lc.off {
		lc.off, lc.line = 0, 1
	}
	lc.line += bytes.Count(lc.data[lc.off:off], []byte("\n"))
	lc.off = off
	return lc.line
}

// parseJSON reads an array of row objects, or {"rows": [...]}.
func (b *builder) parseJSON(data []byte) {
	lc := &lineCounter{data: data, line: 1}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	syntax := func(err error) {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			b.add(lc.at(int(se.Offset)), "", "invalid JSON: %v", se)
			return
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			b.add(lc.at(len(data)), "", "invalid JSON: unexpected end of file")
			return
		}
		b.add(lc.at(int(dec.InputOffset())), "", "invalid JSON: %v", err)
	}
	tok, err := dec.Token()
	if err != nil {
		syntax(err)
		return
	}
	prefix := ""
	wrapped := false
	switch tok {
	case json.Delim('['):
	case json.Delim('{'):
		wrapped = true
		prefix = "rows"
		found := false
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				syntax(err)
				return
			}
			key, _ := kt.(string)
			if key != "rows" {
				b.add(lc.at(int(dec.InputOffset())), key, "unknown key (want {\"rows\": [...]})")
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					syntax(err)
					return
				}
				continue
			}
			if found {
				b.add(lc.at(int(dec.InputOffset())), "rows", "duplicate key")
				return
			}
			found = true
			t, err := dec.Token()
			if err != nil {
				syntax(err)
				return
			}
			if t != json.Delim('[') {
				b.add(lc.at(int(dec.InputOffset())), "rows", "want an array of rows")
				return
			}
			if !b.jsonRows(dec, lc, prefix, syntax) {
				return
			}
		}
		if !found {
			b.add(1, "", "want an array of rows, or an object with a \"rows\" array")
			return
		}
	default:
		b.add(1, "", "want an array of rows, or an object with a \"rows\" array")
		return
	}
	if !wrapped {
		if !b.jsonRows(dec, lc, prefix, syntax) {
			return
		}
	} else if _, err := dec.Token(); err != nil { // the closing }
		syntax(err)
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		b.add(lc.at(int(dec.InputOffset())), "", "invalid JSON: unexpected data after the rows")
	}
}

// jsonRows decodes the elements of an array whose [ was already read, up to
// and including its ]. It returns false after a syntax error.
func (b *builder) jsonRows(dec *json.Decoder, lc *lineCounter, prefix string, syntax func(error)) bool {
	for i := 0; dec.More(); i++ {
		// InputOffset is the end of the previous token; the row starts
		// after any whitespace and comma.
		off := int(dec.InputOffset())
		for off < len(lc.data) && strings.IndexByte(" \t\r\n,", lc.data[off]) >= 0 {
			off++
		}
		line := lc.at(off)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			syntax(err)
			return false
		}
		p := fmt.Sprintf("%s[%d]", prefix, i)
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			b.add(line, p, "want an object with %s", b.format.requiredList())
			continue
		}
		// encoding/json keeps the last of two equal keys: a row saying two
		// things is refused instead of silently read as one of them.
		if dups := duplicateKeys(raw); len(dups) > 0 {
			for _, d := range dups {
				b.add(lc.at(off+d.offset), p+"."+clip(d.key), "duplicate key %q (an object must give each key once)", clip(d.key))
			}
			continue
		}
		vals := map[string]string{}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var unknown []string
		bad := false
		for _, k := range keys {
			name := strings.ToLower(strings.TrimSpace(k))
			if !slices.Contains(b.format.columns, name) {
				if len(unknown) < 10 {
					unknown = append(unknown, fmt.Sprintf("%q", clip(k)))
				} else if len(unknown) == 10 {
					unknown = append(unknown, "and more")
				}
				continue
			}
			if _, dup := vals[name]; dup {
				b.add(line, p+"."+name, "duplicate key")
				bad = true
				continue
			}
			var s *string
			if err := json.Unmarshal(obj[k], &s); err != nil {
				b.add(line, p+"."+name, "want a string, got %s", clip(string(obj[k])))
				bad = true
				continue
			}
			if s != nil {
				vals[name] = *s
			} else {
				vals[name] = ""
			}
		}
		if len(unknown) > 0 {
			b.add(line, p, "unknown key(s) %s (allowed: %s)", strings.Join(unknown, ", "), strings.Join(b.format.columns, ", "))
			bad = true
		}
		if bad {
			continue
		}
		b.row(line, p+".", vals)
	}
	if _, err := dec.Token(); err != nil { // ]
		syntax(err)
		return false
	}
	return true
}

type dupKey struct {
	key    string
	offset int // of the second occurrence, within the object
}

// duplicateKeys returns the keys of a JSON object (raw, already valid)
// that occur more than once, at their repeated occurrence.
func duplicateKeys(raw []byte) []dupKey {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	var out []dupKey
	for dec.More() {
		off := int(dec.InputOffset())
		t, err := dec.Token()
		if err != nil {
			return out
		}
		k, _ := t.(string)
		if seen[k] {
			for off < len(raw) && strings.IndexByte(" \t\r\n,", raw[off]) >= 0 {
				off++
			}
			out = append(out, dupKey{key: k, offset: off})
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return out
		}
	}
	return out
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
