package report

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// JSON layout: one document, written as rows arrive (never built in
// memory), one row per line:
//
//	{
//	  "title": "UAR 2026-Q4",
//	  "creator": "uar v1.4.0",
//	  "created": "2026-12-31T17:00:00Z",
//	  "sheets": [
//	    {
//	      "name": "Access",
//	      "kind": "table",
//	      "columns": [{"name": "review", "kind": "text"}, ...],
//	      "rows": [
//	        ["2026-Q4", ...],
//	        ...
//	      ],
//	      "row_count": 500000
//	    }
//	  ]
//	}
//
// "kind" is "table" or "summary" (columns section, item, value). Values are
// raw: a string is the string given (formula-like text is not altered: JSON
// is data, not a spreadsheet), integers and floats are numbers, a time.Time
// is a UTC RFC 3339 string, nil is null. "created" is null when the
// workbook has no Created time.

func writeJSON(ctx context.Context, w io.Writer, wb *Workbook, opts Options) (Result, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var b []byte
	b = append(b, "{\n  \"title\": "...)
	b = appendJSONString(b, wb.Title)
	b = append(b, ",\n  \"creator\": "...)
	b = appendJSONString(b, wb.Creator)
	b = append(b, ",\n  \"created\": "...)
	if wb.Created.IsZero() {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, wb.Created.UTC().Format(time.RFC3339Nano))
	}
	b = append(b, ",\n  \"sheets\": ["...)
	var res Result
	for i := range wb.Sheets {
		s := &wb.Sheets[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    {\n      \"name\": "...)
		b = appendJSONString(b, s.Name)
		if s.IsSummary() {
			b = append(b, ",\n      \"kind\": \"summary\""...)
		} else {
			b = append(b, ",\n      \"kind\": \"table\""...)
		}
		b = append(b, ",\n      \"columns\": ["...)
		for j, c := range s.Columns {
			if j > 0 {
				b = append(b, ", "...)
			}
			b = append(b, "{\"name\": "...)
			b = appendJSONString(b, c.Name)
			b = append(b, ", \"kind\": "...)
			b = appendJSONString(b, c.Kind.String())
			b = append(b, '}')
		}
		b = append(b, "],\n      \"rows\": ["...)
		n, err := eachRow(ctx, s, opts, func(n int64, row []any) error {
			if n > 1 {
				b = append(b, ',')
			}
			b = append(b, "\n        ["...)
			for j, c := range s.Columns {
				if j > 0 {
					b = append(b, ", "...)
				}
				cl, err := toCell(row[j], c.Kind)
				if err != nil {
					return rowError(s.Name, n, c.Name, "%v", err)
				}
				b = appendJSONValue(b, &cl)
			}
			b = append(b, ']')
			if len(b) >= 32<<10 {
				if _, err := bw.Write(b); err != nil {
					return fmt.Errorf("report: json: %w", err)
				}
				b = b[:0]
			}
			return nil
		})
		if err != nil {
			return Result{}, err
		}
		if n > 0 {
			b = append(b, "\n      "...)
		}
		b = append(b, "],\n      \"row_count\": "...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, "\n    }"...)
		res.Sheets = append(res.Sheets, SheetResult{Name: s.Name, Rows: n})
	}
	b = append(b, "\n  ]\n}\n"...)
	if _, err := bw.Write(b); err != nil {
		return Result{}, fmt.Errorf("report: json: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return Result{}, fmt.Errorf("report: json: %w", err)
	}
	return res, nil
}

func appendJSONValue(b []byte, c *cell) []byte {
	if c.fromStr {
		return appendJSONString(b, c.s)
	}
	switch c.typ {
	case cString:
		return appendJSONString(b, c.s)
	case cInt:
		return strconv.AppendInt(b, c.i, 10)
	case cUint:
		return strconv.AppendUint(b, c.u, 10)
	case cFloat:
		return strconv.AppendFloat(b, c.f, 'g', -1, 64)
	case cTime:
		return appendJSONString(b, c.t.Format(time.RFC3339Nano))
	case cBool:
		return strconv.AppendBool(b, c.b)
	}
	return append(b, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, U+2028/U+2029 escaped (JavaScript line
// terminators), invalid UTF-8 replaced by U+FFFD, as encoding/json does
// (without its HTML escaping: < > & are kept).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
