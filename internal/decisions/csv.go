package decisions

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uar-dev/uar/internal/model"
)

// Bounds on a CSV file of decisions.
const (
	MaxCSVField    = 1000   // bytes per field
	MaxCSVRows     = 100000 // data rows per file
	MaxCSVProblems = 100    // problems listed in a CSVError's message
)

// CSVColumns lists the columns of a CSV file of decisions, in canonical
// order (see the package doc).
var CSVColumns = []string{"system", "action", "target", "group", "decided_by_email", "decided_at", "justification"}

var csvRequired = []string{"system", "action", "target", "decided_by_email", "decided_at"}

// CSVDecision is one validated row of a CSV file of decisions.
type CSVDecision struct {
	Line          int       `json:"line"`   // 1-based line of the row in the file
	System        string    `json:"system"` // as configured, when ParseCSV was given the names
	Action        string    `json:"action"` // model.ActionCertify or model.ActionRevoke
	Target        string    `json:"target"` // an address, or "all"
	Group         string    `json:"group"`
	DecidedBy     string    `json:"decided_by"` // lower-case e-mail
	DecidedAt     time.Time `json:"decided_at"` // UTC
	Justification string    `json:"justification"`
	Raw           string    `json:"raw"` // the row, re-encoded as one CSV line
}

// Comment returns the row as the Comment that Resolve reads: source csv,
// no id, authored by DecidedBy's e-mail, one line whose Index is the
// row's line in the file.
func (d CSVDecision) Comment() Comment {
	l := Line{Index: d.Line, Raw: d.Raw, Action: d.Action, Subject: d.Target, Group: d.Group, Justification: d.Justification}
	if strings.EqualFold(d.Target, "all") {
		l.All = true
	} else {
		l.Targets = []string{d.Target}
	}
	return Comment{Source: model.DecisionSourceCSV, Author: Author{Email: d.DecidedBy}, Created: d.DecidedAt, Updated: d.DecidedAt, Lines: []Line{l}}
}

// AddCSV adds each row to the comments of its system in in. It returns an
// error naming every row whose system is not in in.Systems, and adds
// nothing then.
func (in *Input) AddCSV(rows []CSVDecision) error {
	idx := make([]int, len(rows))
	var missing []string
	for i, d := range rows {
		idx[i] = slices.IndexFunc(in.Systems, func(s System) bool { return strings.EqualFold(s.Name, d.System) })
		if idx[i] < 0 {
			missing = append(missing, fmt.Sprintf("line %d: system %q", d.Line, d.System))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("decisions: CSV rows for systems not in this review: %s", strings.Join(missing, "; "))
	}
	for i, d := range rows {
		in.Systems[idx[i]].Comments = append(in.Systems[idx[i]].Comments, d.Comment())
	}
	return nil
}

// CSVProblem is one defect in a CSV file of decisions. Line is 1-based;
// Field names the column, "" for the row or file as a whole.
type CSVProblem struct {
	Line  int    `json:"line"`
	Field string `json:"field"`
	Msg   string `json:"msg"`
}

// CSVError lists the problems of a CSV file of decisions.
type CSVError struct {
	File     string       `json:"file"`
	Problems []CSVProblem `json:"problems"`
}

// Error renders one "file:line: field: msg" line per problem, the first
// MaxCSVProblems of them, then how many more there are.
func (e *CSVError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i == MaxCSVProblems {
			fmt.Fprintf(&b, "\n%s: and %d more problems", e.File, len(e.Problems)-MaxCSVProblems)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s:%d: ", e.File, p.Line)
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// ParseCSV reads a CSV file of decisions (format in the package doc).
// filename is used in messages only. When systems is not nil, a row's
// system must be one of them (case-insensitively) and is given their
// spelling. It returns every row, in file order, or a *CSVError listing
// every problem and no rows at all.
func ParseCSV(filename string, data []byte, systems []string) ([]CSVDecision, error) {
	p := &csvParser{file: filename, systems: systems}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // Excel's UTF-8 BOM
	if !utf8.Valid(data) {
		p.add(0, "", "file is not valid UTF-8 (save it as UTF-8)")
		return nil, p.err()
	}
	p.read(data)
	if len(p.problems) == 0 && len(p.rows) == 0 {
		p.add(1, "", "no decisions: the file has a header and no rows")
	}
	if len(p.problems) > 0 {
		return nil, p.err()
	}
	return p.rows, nil
}

type csvParser struct {
	file     string
	systems  []string
	problems []CSVProblem
	rows     []CSVDecision
}

func (p *csvParser) add(line int, field, format string, args ...any) {
	p.problems = append(p.problems, CSVProblem{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *csvParser) err() error { return &CSVError{File: p.file, Problems: p.problems} }

func (p *csvParser) read(data []byte) {
	r := csv.NewReader(bytes.NewReader(data))
	if hdr, _, _ := bytes.Cut(data, []byte("\n")); bytes.Contains(hdr, []byte(";")) && !bytes.Contains(hdr, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		p.add(1, "", "empty file: want a header row (%s)", strings.Join(CSVColumns, ","))
		return
	}
	if err != nil {
		p.add(csvLine(err, 1), "", "header: %s", csvMsg(err))
		return
	}
	at := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		switch {
		case name == "":
			p.add(1, "", "header: column %d has no name", i+1)
		case !slices.Contains(CSVColumns, name):
			p.add(1, "", "header: unknown column %q (allowed: %s)", cutBytes(strings.TrimSpace(h), 80), strings.Join(CSVColumns, ", "))
		case at[name] != 0:
			p.add(1, name, "header: duplicate column (columns %d and %d)", at[name], i+1)
		default:
			at[name] = i + 1
		}
	}
	for _, c := range csvRequired {
		if at[c] == 0 {
			p.add(1, "", "header: missing required column %s", c)
		}
	}
	if len(p.problems) > 0 {
		return // rows cannot be read reliably against a bad header
	}
	for n := 0; ; n++ {
		before := r.InputOffset()
		rec, err := r.Read()
		if err == io.EOF {
			return
		}
		if n == MaxCSVRows {
			line, _ := r.FieldPos(0)
			p.add(line, "", "more than %d rows: split the file", MaxCSVRows)
			return
		}
		if err != nil {
			p.add(csvLine(err, 0), "", "%s", csvMsg(err))
			if r.InputOffset() == before {
				return // no progress: stop rather than loop
			}
			continue
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			p.add(line, "", "row has %d fields, header has %d", len(rec), len(header))
			continue
		}
		vals := map[string]string{}
		for name, i := range at {
			vals[name] = rec[i-1]
		}
		p.row(line, vals, rec, r.Comma)
	}
}

// row validates one data row, given as column -> value.
func (p *csvParser) row(line int, vals map[string]string, rec []string, comma rune) {
	bad := false
	fail := func(field, format string, args ...any) {
		p.add(line, field, format, args...)
		bad = true
	}
	for _, c := range CSVColumns { // canonical order: problems come out in a stable order
		v := vals[c]
		switch {
		case len(v) > MaxCSVField:
			fail(c, "longer than %d bytes", MaxCSVField)
		case strings.ContainsFunc(v, unicode.IsControl):
			fail(c, "contains a control character (a line break or tab)")
		default:
			vals[c] = strings.TrimSpace(v)
			if vals[c] == "" && slices.Contains(csvRequired, c) {
				fail(c, "required")
			}
		}
	}
	if bad {
		return
	}
	d := CSVDecision{Line: line, System: vals["system"], Target: vals["target"], Group: vals["group"], Justification: vals["justification"]}
	if p.systems != nil {
		i := slices.IndexFunc(p.systems, func(s string) bool { return strings.EqualFold(s, d.System) })
		if i < 0 {
			fail("system", "%q is not a system of this review (systems: %s)", cutBytes(d.System, 80), strings.Join(p.systems, ", "))
		} else {
			d.System = p.systems[i]
		}
	}
	switch a := strings.ToUpper(vals["action"]); a {
	case model.ActionCertify, model.ActionRevoke:
		d.Action = a
	default:
		fail("action", "%q: want CERTIFY or REVOKE", cutBytes(vals["action"], 80))
	}
	switch low := strings.ToLower(d.Target); {
	case low == "all":
		d.Target = "all"
		if d.Action == model.ActionRevoke {
			fail("target", "all is accepted only with CERTIFY: name each user to revoke")
		}
	case notAddresses[low] || !isEmail(d.Target) && !isLogin(d.Target):
		fail("target", "%q is not an e-mail address, a login or all (one target per row)", cutBytes(d.Target, 80))
	}
	if by := vals["decided_by_email"]; !isEmail(by) {
		fail("decided_by_email", "%q is not an e-mail address", cutBytes(by, 80))
	} else {
		d.DecidedBy = strings.ToLower(by)
	}
	if t, err := time.Parse(time.RFC3339, vals["decided_at"]); err != nil {
		fail("decided_at", "%q is not an RFC 3339 time with an offset (e.g. 2026-12-01T09:30:00Z)", cutBytes(vals["decided_at"], 80))
	} else {
		d.DecidedAt = t.UTC()
	}
	if bad {
		return
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = comma
	_ = w.Write(rec) // a bytes.Buffer does not fail
	w.Flush()
	d.Raw = strings.TrimRight(b.String(), "\r\n")
	p.rows = append(p.rows, d)
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
