package report

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
)

// CSV layout: RFC 4180 quoting (comma, double quotes where needed), UTF-8
// without a byte-order mark, a header row of column names, then one line per
// row. Lines end in LF, not RFC 4180's CRLF: encoding/csv in CRLF mode drops
// a carriage return inside a value, and an evidence export must not change
// a value.
// Text that a spreadsheet would take for a formula (it starts with = + - @,
// a tab or a carriage return) gets a leading apostrophe (OWASP's advice for
// CWE-1236); numbers, times and booleans are written as they are.

func writeCSVZip(ctx context.Context, w io.Writer, wb *Workbook, opts Options) (Result, error) {
	zw := zip.NewWriter(w)
	var res Result
	for i := range wb.Sheets {
		s := &wb.Sheets[i]
		name := csvFileName(i, len(wb.Sheets), s.Name)
		fw, err := zw.CreateHeader(zipHeader(name, wb.Created))
		if err != nil {
			return Result{}, fmt.Errorf("report: csv: %s: %w", name, err)
		}
		n, err := writeCSVSheet(ctx, fw, s, opts)
		if err != nil {
			return Result{}, err
		}
		res.Sheets = append(res.Sheets, SheetResult{Name: s.Name, Rows: n, Parts: []string{name}})
	}
	if err := zw.Close(); err != nil {
		return Result{}, fmt.Errorf("report: csv: zip: %w", err)
	}
	return res, nil
}

// writeCSVSheet writes one sheet as CSV and returns its row count.
func writeCSVSheet(ctx context.Context, w io.Writer, s *Sheet, opts Options) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	rec := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		rec[i] = neutralise(c.Name)
	}
	if err := cw.Write(rec); err != nil {
		return 0, fmt.Errorf("report: csv: sheet %q: %w", s.Name, err)
	}
	n, err := eachRow(ctx, s, opts, func(n int64, row []any) error {
		for i, c := range s.Columns {
			cl, err := toCell(row[i], c.Kind)
			if err != nil {
				return rowError(s.Name, n, c.Name, "%v", err)
			}
			if cl.typ == cString {
				rec[i] = neutralise(cl.s)
			} else {
				rec[i] = cl.text()
			}
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("report: csv: sheet %q: %w", s.Name, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return 0, fmt.Errorf("report: csv: sheet %q: %w", s.Name, err)
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("report: csv: sheet %q: %w", s.Name, err)
	}
	return n, nil
}
