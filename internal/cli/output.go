package cli

// Output conventions: stdout carries results only — a table (aligned on a
// terminal, tab-separated when piped), or one JSON document with --json
// (2-space indent, trailing newline, top level always an object, empty
// lists as []). Everything else goes to stderr through ui.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// writeJSON writes v as the command's single JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeTable writes a header and rows: aligned columns on a terminal,
// TSV otherwise (no truncation; tabs, newlines and control characters in
// cells escaped).
func writeTable(w io.Writer, tty bool, header []string, rows [][]string) error {
	if tty {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, r := range rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = tsvCell(c)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		return tw.Flush()
	}
	// Stream: a large result (hundreds of thousands of findings) must not
	// be built up in memory first.
	b := bufio.NewWriterSize(w, 64<<10)
	b.WriteString(strings.Join(header, "\t"))
	b.WriteByte('\n')
	for _, r := range rows {
		if err := writeTSVRow(b, r); err != nil {
			return err
		}
	}
	return b.Flush()
}

func writeTSVRow(w *bufio.Writer, cells []string) error {
	for i, c := range cells {
		if i > 0 {
			w.WriteByte('\t')
		}
		w.WriteString(tsvCell(c))
	}
	return w.WriteByte('\n')
}

var tsvEscaper = strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\n", "\\n", "\r", "\\r")

// tsvCell escapes a cell for one line of a table: backslash, tab and line
// breaks as \\, \t, \n, \r; other control characters as \xNN.
func tsvCell(s string) string { return safeText(tsvEscaper.Replace(s)) }

// cellString renders a SQLite value for a table cell.
func cellString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}
