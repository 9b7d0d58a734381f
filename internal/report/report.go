package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Workbook is everything a report writer needs: a title, one time taken from
// the data, and the sheets in the order they appear.
type Workbook struct {
	// Title names the report (document title in XLSX, <title> and heading in
	// HTML, "title" in JSON).
	Title string
	// Creator is recorded as the XLSX author and shown under the HTML
	// title (e.g. "uar v1.4.0"). Optional.
	Creator string
	// Created is the time the report describes, taken from the data (e.g. the
	// newest ledger entry it was built from), never the wall clock. It pins
	// the XLSX document times and every zip entry's time, so the same data
	// gives byte-identical files. A zero Created is allowed: XLSX then keeps
	// excelize's fixed template times and zip entries get 1980-01-01.
	Created time.Time
	// Sheets in output order. Names must be unique (case-insensitive).
	Sheets []Sheet
}

// Sheet is one table (Columns + Rows) or one key/value summary, built by
// [SummarySheet] (whose Columns and Rows are set for CSV and JSON: leave
// them as they are).
type Sheet struct {
	// Name is the XLSX sheet name and the CSV file name's stem: 1 to 31
	// characters, none of : \ / ? * [ ] '. Leave room for continuations:
	// "Access (2)" takes 4 more characters (the base name is shortened to
	// fit if it must).
	Name string
	// Columns in output order; a table needs at least one.
	Columns []Column
	// Rows streams the table's rows; nil means no rows. See [RowFunc].
	Rows RowFunc

	summary []Entry // set by SummarySheet; Columns/Rows are then ignored
}

// RowFunc streams a sheet's rows: it calls yield once per row, in order, and
// must return yield's error unchanged (and stop) if yield fails. It is called
// once per Write, so a function that runs a query runs it once per format.
//
// Each row has exactly one value per column. The writer does not keep the
// slice after yield returns: a caller may reuse one []any (e.g. the scan
// destinations of *sql.Rows) for every row.
//
// Accepted values: nil, string, []byte, bool, every int and uint type,
// float32, float64, time.Time (zero = empty), fmt.Stringer, and
// database/sql/driver.Valuer (sql.NullString, sql.NullInt64, sql.NullTime ...).
// Anything else is an error naming the sheet, row and column.
type RowFunc func(yield func(row []any) error) error

// Column describes one column of a table sheet.
type Column struct {
	// Name is the header. Keep the view's column name (user_login,
	// evidence_id ...) so an auditor can match it with `uar query`.
	Name string
	// Kind decides how values are shown; the zero Kind is Text.
	Kind Kind
	// Width is the XLSX column width in characters; 0 sizes the column from
	// the header and the first rows (capped at 60).
	Width float64
	// Wrap wraps long text in XLSX cells of Text and ID columns (finding
	// details, SQL), and gives their rows the height the text needs. HTML
	// always wraps.
	Wrap bool
}

// Kind is how a column's values are shown. Go types decide the cell type
// (an int is a number, a time.Time is a date); Kind adds parsing of strings
// and presentation.
type Kind int

// Column kinds.
const (
	// Text: strings as text cells (the default).
	Text Kind = iota
	// Integer: integers, and strings that parse as base-10 integers, as
	// number cells. Other strings stay text.
	Integer
	// Number: floats, and strings that parse as floats, as number cells.
	Number
	// Time: time.Time values and UTC RFC 3339 strings as real date cells
	// (yyyy-mm-dd hh:mm:ss"Z"); an empty string is an empty cell, an
	// unparseable string stays text.
	Time
	// Risk: HIGH, MEDIUM and LOW (any case) coloured red, amber and green.
	Risk
	// ID: identifiers, hashes and code (SQL) in a monospace font.
	ID
	// Auto: like Text, but the value's Go type picks the presentation
	// (time.Time a date, ints a number); summary values use it.
	Auto
)

var kindNames = [...]string{"text", "integer", "number", "time", "risk", "id", "auto"}

// String returns the kind's name as written in JSON ("text", "time", ...).
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Entry is one line of a summary sheet. Consecutive entries with the same
// Section are grouped under one heading (XLSX, HTML); CSV and JSON carry the
// section in a column of their own.
type Entry struct {
	Section string
	Key     string
	Value   any // any value a RowFunc accepts; its Go type picks the presentation
}

// SummarySheet returns a key/value sheet: in XLSX and HTML a two-column
// list with section headings, in CSV and JSON the columns section, item,
// value. The entries are kept by reference; they are small.
func SummarySheet(name string, entries []Entry) Sheet {
	return Sheet{
		Name: name,
		Columns: []Column{
			{Name: "section"},
			{Name: "item"},
			{Name: "value", Kind: Auto},
		},
		Rows: func(yield func([]any) error) error {
			row := make([]any, 3)
			for _, e := range entries {
				row[0], row[1], row[2] = e.Section, e.Key, e.Value
				if err := yield(row); err != nil {
					return err
				}
			}
			return nil
		},
		summary: entries,
	}
}

// IsSummary reports whether the sheet was built by [SummarySheet].
func (s Sheet) IsSummary() bool { return s.summary != nil }

// Format is an output format.
type Format string

// Output formats.
const (
	XLSX Format = "xlsx"
	CSV  Format = "csv"
	JSON Format = "json"
	HTML Format = "html"
)

// ErrUnknownFormat is returned by [ParseFormat] for a name it does not know.
var ErrUnknownFormat = errors.New("unknown report format")

// ParseFormat maps "xlsx", "csv", "json" or "html" (any case) to a Format.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case XLSX, CSV, JSON, HTML:
		return f, nil
	}
	return "", fmt.Errorf("report: %q: %w (want xlsx, csv, json or html)", s, ErrUnknownFormat)
}

// Options tune a write. The zero Options are the defaults.
type Options struct {
	// MaxRowsPerSheet is the number of data rows an XLSX sheet holds before
	// the rest continues in "Name (2)", "Name (3)" ...; 0 means Excel's
	// limit, 1,048,576 rows minus the header. Other formats never split.
	MaxRowsPerSheet int
	// HTMLMaxRows caps the rows an HTML sheet shows; the sheet then says how
	// many rows it has and points to the XLSX/CSV/JSON formats. 0 means
	// DefaultHTMLMaxRows; a negative value shows every row.
	HTMLMaxRows int
	// TmpDir holds excelize's spill files and the zip spool (XLSX only): ""
	// means the output's folder for WriteFile and the system default for
	// Write. Spill files are as large as the sheets' uncompressed XML
	// (about 1 KB a row of 16 columns: 500 MB for 500,000 rows) and are
	// removed before Write returns. If excelize cannot create one it keeps
	// the sheet in memory instead.
	TmpDir string
	// Progress, if set, is called with the rows written so far in a sheet,
	// every ProgressEvery rows and once when the sheet ends. It runs on the
	// writing goroutine; keep it cheap.
	Progress func(sheet string, rows int64)
}

const (
	// ExcelMaxRows is the number of rows in an Excel worksheet.
	ExcelMaxRows = 1048576
	// DefaultHTMLMaxRows is the rows an HTML sheet shows by default: about
	// 110 landscape pages when printed.
	DefaultHTMLMaxRows = 5000
	// ProgressEvery is how often Options.Progress is called, in rows.
	ProgressEvery = 10000
	// excelMaxCellChars is the longest text an Excel cell holds.
	excelMaxCellChars = 32767
)

func (o Options) maxRows() int {
	if o.MaxRowsPerSheet > 0 {
		return min(o.MaxRowsPerSheet, ExcelMaxRows-1)
	}
	return ExcelMaxRows - 1
}

func (o Options) htmlMaxRows() int {
	switch {
	case o.HTMLMaxRows == 0:
		return DefaultHTMLMaxRows
	case o.HTMLMaxRows < 0:
		return -1
	}
	return o.HTMLMaxRows
}

// Result says what a write produced.
type Result struct {
	// Sheets in order, with the rows each held.
	Sheets []SheetResult
	// Files written by WriteFile (one, or one per sheet for a CSV folder),
	// each with its SHA-256. Write leaves it empty.
	Files []FileResult
}

// SheetResult is one sheet's row count and, in XLSX, the worksheets it took.
type SheetResult struct {
	Name string
	Rows int64
	// Parts are the XLSX worksheet names ("Access", "Access (2)" ...); the
	// CSV file name for CSV; empty otherwise.
	Parts []string
}

// FileResult is one written file.
type FileResult struct {
	Path   string
	Size   int64
	SHA256 string // lower-case hex
}

// Write writes wb to w in the given format. CSV goes to w as a zip with one
// file per sheet. Each sheet's Rows is called once; an error from it stops
// the write and is returned wrapped. Nothing is written to w after an error,
// but what was written before stays: write to a temporary file (as
// [WriteFile] does) to keep partial output away from readers.
func Write(ctx context.Context, w io.Writer, format Format, wb *Workbook, opts Options) (Result, error) {
	if err := wb.validate(); err != nil {
		return Result{}, err
	}
	switch format {
	case XLSX:
		return writeXLSX(ctx, w, wb, opts)
	case CSV:
		return writeCSVZip(ctx, w, wb, opts)
	case JSON:
		return writeJSON(ctx, w, wb, opts)
	case HTML:
		return writeHTML(ctx, w, wb, opts)
	}
	return Result{}, fmt.Errorf("report: %q: %w", format, ErrUnknownFormat)
}

// invalidSheetChars are the characters Excel refuses in a sheet name.
const invalidSheetChars = `:\/?*[]`

// maxSheetName is Excel's limit on a sheet name, in characters.
const maxSheetName = 31

func checkSheetName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return errors.New("empty sheet name")
	case n > maxSheetName:
		return fmt.Errorf("sheet name %q is longer than %d characters", name, maxSheetName)
	case strings.ContainsAny(name, invalidSheetChars):
		return fmt.Errorf("sheet name %q contains one of %s", name, invalidSheetChars)
	case strings.Contains(name, "'"):
		// Excel allows inner apostrophes, but excelize writes sheet
		// references without doubling them; names are ours to choose.
		return fmt.Errorf("sheet name %q contains an apostrophe", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("sheet name %q is not valid UTF-8", name)
	}
	return nil
}

func (wb *Workbook) validate() error {
	if wb == nil {
		return errors.New("report: nil workbook")
	}
	if len(wb.Sheets) == 0 {
		return errors.New("report: workbook has no sheets")
	}
	seen := map[string]bool{}
	for i, s := range wb.Sheets {
		if err := checkSheetName(s.Name); err != nil {
			return fmt.Errorf("report: sheet %d: %w", i+1, err)
		}
		key := strings.ToLower(s.Name)
		if seen[key] {
			return fmt.Errorf("report: sheet %q: duplicate name", s.Name)
		}
		seen[key] = true
		if len(s.Columns) == 0 {
			return fmt.Errorf("report: sheet %q: no columns", s.Name)
		}
		if len(s.Columns) > 16384 {
			return fmt.Errorf("report: sheet %q: %d columns, Excel holds 16384", s.Name, len(s.Columns))
		}
		for j, c := range s.Columns {
			if c.Name == "" {
				return fmt.Errorf("report: sheet %q: column %d has no name", s.Name, j+1)
			}
			if c.Kind < Text || c.Kind > Auto {
				return fmt.Errorf("report: sheet %q: column %q: unknown kind %d", s.Name, c.Name, int(c.Kind))
			}
			if c.Width < 0 || c.Width > 255 {
				return fmt.Errorf("report: sheet %q: column %q: width %g outside 0..255", s.Name, c.Name, c.Width)
			}
		}
	}
	return nil
}

// csvFileName is a sheet's file name inside a CSV folder or zip: a
// zero-padded position, so names sort in sheet order, and a slug of the name
// ("08-review-quality.csv").
func csvFileName(i, n int, name string) string {
	width := max(2, len(fmt.Sprint(n)))
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	slug := strings.TrimSuffix(b.String(), "-")
	if slug == "" {
		slug = "sheet"
	}
	return fmt.Sprintf("%0*d-%s.csv", width, i+1, slug)
}

// FileFormat guesses a format from a path's extension: .xlsx, .zip (CSV),
// .json, .html or .htm. It returns "" for anything else (a CSV folder has no
// extension to go by).
func FileFormat(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xlsx":
		return XLSX
	case ".zip":
		return CSV
	case ".json":
		return JSON
	case ".html", ".htm":
		return HTML
	}
	return ""
}

// eachRow runs s.Rows and calls fn with each row and its 1-based number. It
// checks the row's length, the context and reports progress every
// ProgressEvery rows and at the end. An error from fn (or a bad row) is
// returned as is, even if Rows swallowed it; an error of Rows's own is
// wrapped with the sheet's name.
func eachRow(ctx context.Context, s *Sheet, opts Options, fn func(n int64, row []any) error) (int64, error) {
	var n int64
	var failed error
	yield := func(row []any) error {
		if failed != nil {
			return failed
		}
		if len(row) != len(s.Columns) {
			failed = fmt.Errorf("report: sheet %q: row %d has %d values, want %d", s.Name, n+1, len(row), len(s.Columns))
			return failed
		}
		if err := fn(n+1, row); err != nil {
			failed = err
			return err
		}
		n++
		if n%ProgressEvery == 0 {
			if err := ctx.Err(); err != nil {
				failed = err
				return err
			}
			if opts.Progress != nil {
				opts.Progress(s.Name, n)
			}
		}
		return nil
	}
	if s.Rows != nil {
		err := s.Rows(yield)
		if failed != nil {
			return n, failed
		}
		if err != nil {
			return n, fmt.Errorf("report: sheet %q: rows: %w", s.Name, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return n, err
	}
	if opts.Progress != nil {
		opts.Progress(s.Name, n)
	}
	return n, nil
}
