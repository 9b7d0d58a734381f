package report

import (
	"database/sql/driver"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// cellType is what a value became after normalisation.
type cellType uint8

const (
	cEmpty  cellType = iota // nil, zero time, empty time string
	cString                 // text, including strings that did not parse
	cInt
	cUint // only for uint64 values above MaxInt64
	cFloat
	cTime
	cBool
)

// cell is a normalised value. s keeps the original string when the value
// came as a string (CSV and JSON carry it unchanged); for a time.Time it is
// empty and the formats print t.
type cell struct {
	typ     cellType
	fromStr bool // the value was a string (s holds it)
	s       string
	i       int64
	u       uint64
	f       float64
	t       time.Time
	b       bool
}

// rowError is a bad value at a place in a sheet.
func rowError(sheet string, row int64, col string, format string, args ...any) error {
	return fmt.Errorf("report: sheet %q: row %d: column %q: %s", sheet, row, col, fmt.Sprintf(format, args...))
}

// toCell normalises v for a column of kind k.
func toCell(v any, k Kind) (cell, error) {
	switch x := v.(type) {
	case nil:
		return cell{}, nil
	case string:
		return strCell(x, k), nil
	case []byte:
		return strCell(string(x), k), nil
	case bool:
		return cell{typ: cBool, b: x}, nil
	case int:
		return cell{typ: cInt, i: int64(x)}, nil
	case int8:
		return cell{typ: cInt, i: int64(x)}, nil
	case int16:
		return cell{typ: cInt, i: int64(x)}, nil
	case int32:
		return cell{typ: cInt, i: int64(x)}, nil
	case int64:
		return cell{typ: cInt, i: x}, nil
	case uint:
		return uintCell(uint64(x)), nil
	case uint8:
		return cell{typ: cInt, i: int64(x)}, nil
	case uint16:
		return cell{typ: cInt, i: int64(x)}, nil
	case uint32:
		return cell{typ: cInt, i: int64(x)}, nil
	case uint64:
		return uintCell(x), nil
	case float32:
		return floatCell(float64(x)), nil
	case float64:
		return floatCell(x), nil
	case time.Time:
		if x.IsZero() {
			return cell{}, nil
		}
		return cell{typ: cTime, t: x.UTC()}, nil
	case driver.Valuer:
		dv, err := x.Value()
		if err != nil {
			return cell{}, fmt.Errorf("value of %T: %w", v, err)
		}
		if _, again := dv.(driver.Valuer); again {
			return cell{}, fmt.Errorf("value of %T is another driver.Valuer", v)
		}
		return toCell(dv, k)
	case fmt.Stringer:
		return strCell(x.String(), k), nil
	}
	return cell{}, fmt.Errorf("unsupported value type %T", v)
}

func uintCell(u uint64) cell {
	if u > math.MaxInt64 {
		return cell{typ: cUint, u: u}
	}
	return cell{typ: cInt, i: int64(u)}
}

// floatCell keeps NaN and infinities as text: neither XLSX nor JSON has them.
func floatCell(f float64) cell {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return cell{typ: cString, s: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	return cell{typ: cFloat, f: f}
}

// strCell parses s as the column's kind asks; what does not parse stays text.
func strCell(s string, k Kind) cell {
	c := cell{typ: cString, fromStr: true, s: s}
	switch k {
	case Integer:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			c.typ, c.i = cInt, i
		}
	case Number:
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			c.typ, c.f = cFloat, f
		}
	case Time:
		if s == "" {
			c.typ = cEmpty
		} else if t, ok := parseTime(s); ok {
			c.typ, c.t = cTime, t
		}
	}
	return c
}

// parseTime reads the store's UTC RFC 3339 times (with or without
// fractional seconds, any offset), returning them in UTC.
func parseTime(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// text is the cell as plain text, as CSV writes it: strings unchanged, times
// in UTC RFC 3339, numbers in Go's shortest form.
func (c *cell) text() string {
	if c.fromStr {
		return c.s
	}
	switch c.typ {
	case cString:
		return c.s
	case cInt:
		return strconv.FormatInt(c.i, 10)
	case cUint:
		return strconv.FormatUint(c.u, 10)
	case cFloat:
		return strconv.FormatFloat(c.f, 'f', -1, 64)
	case cTime:
		return c.t.Format(time.RFC3339Nano)
	case cBool:
		return strconv.FormatBool(c.b)
	}
	return ""
}

// display is the cell as a person reads it (HTML): times as
// "2006-01-02 15:04:05Z", everything else as text.
func (c *cell) display() string {
	if c.typ == cTime {
		return displayTime(c.t)
	}
	return c.text()
}

func displayTime(t time.Time) string {
	if t.Nanosecond() != 0 {
		return t.Format("2006-01-02 15:04:05.999999999Z")
	}
	return t.Format("2006-01-02 15:04:05Z")
}

// risk levels for colouring.
type riskLevel uint8

const (
	riskNone riskLevel = iota
	riskHigh
	riskMedium
	riskLow
)

func riskOf(s string) riskLevel {
	switch {
	case strings.EqualFold(s, "HIGH"):
		return riskHigh
	case strings.EqualFold(s, "MEDIUM"):
		return riskMedium
	case strings.EqualFold(s, "LOW"):
		return riskLow
	}
	return riskNone
}

// formulaTriggers are the first characters that make a spreadsheet read a
// CSV field as a formula (OWASP "CSV Injection", CWE-1236), plus their
// full-width forms, which some locales' spreadsheets also accept.
func startsFormula(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	for _, p := range [...]string{"＝", "＋", "－", "＠"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// neutralise prefixes a value that would start a formula with an apostrophe,
// which spreadsheets show as text and hide.
func neutralise(s string) string {
	if startsFormula(s) {
		return "'" + s
	}
	return s
}
