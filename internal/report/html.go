package report

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HTML layout: one self-contained file (inline CSS, no script, a Content
// Security Policy that forbids every fetch) that reads on screen and prints
// to PDF: landscape pages, each sheet on a new page, the table header
// repeated on every page, small type, long values wrapped, risk cells
// coloured with print-color-adjust: exact and a coloured left border (which
// prints even when backgrounds are switched off). Every value, name and the
// title are HTML-escaped.
//
// A sheet shows at most Options.HTMLMaxRows rows (DefaultHTMLMaxRows):
// printed, 5,000 rows are about 110 pages, and a PDF of half a million
// memberships helps nobody. A capped sheet says, above its table, how many
// rows it has and that the XLSX, CSV and JSON formats hold all of them. The
// shown rows are held in memory (bounded by the cap) so the note can come
// first; the rest are only counted.

const htmlCSS = `
:root{color-scheme:light}
*{box-sizing:border-box}
body{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans",sans-serif;color:#111;margin:24px;background:#fff}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:0 0 6px;padding-bottom:3px;border-bottom:2px solid #1f4e79;color:#1f4e79}
.meta{color:#444;margin:0 0 10px}
nav ol{margin:0 0 8px;padding-left:22px;columns:3 14em}
nav a{color:#1f4e79}
section.sheet{margin-top:28px}
section.sheet+section.sheet{margin-top:36px}
.count{color:#444;margin:0 0 6px}
.note{background:#fff4ce;border:1px solid #d9b44a;border-left:5px solid #d9b44a;padding:6px 9px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #c9ced6;padding:2px 5px;text-align:left;vertical-align:top;white-space:pre-wrap;overflow-wrap:break-word}
thead th{background:#d9e1f2;font-weight:700;position:sticky;top:0;white-space:normal}
table.data tbody tr:nth-child(even) td{background:#f5f7fa}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.t{font-variant-numeric:tabular-nums}
td.t span{white-space:nowrap}
td.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace;font-size:.85em;word-break:break-all;min-width:11em}
table.data tbody td.rh,table.summary td.rh{background:#ffc7ce;color:#9c0006;font-weight:700;border-left:4px solid #c00000;white-space:nowrap}
table.data tbody td.rm,table.summary td.rm{background:#ffeb9c;color:#7a4400;font-weight:700;border-left:4px solid #e0a000;white-space:nowrap}
table.data tbody td.rl,table.summary td.rl{background:#c6efce;color:#006100;font-weight:700;border-left:4px solid #2e7d32;white-space:nowrap}
td.empty{color:#666;font-style:italic;text-align:center}
table.summary{width:auto;min-width:60%;max-width:100%}
table.summary th[scope=row]{font-weight:400;background:#f5f7fa;width:22em}
table.summary tr.section th{background:#d9e1f2;font-weight:700;font-size:1.05em;padding-top:5px}
table.summary td{min-width:12em}
table.summary td.n{text-align:left}
@page{size:landscape;margin:11mm 9mm 13mm;@bottom-right{content:"page " counter(page) " of " counter(pages);font:8pt sans-serif;color:#555}}
@media print{
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  body{margin:0;font-size:7.5pt;line-height:1.25}
  h1{font-size:14pt}
  h2{font-size:11pt}
  nav ol{columns:4}
  nav a{color:#111;text-decoration:none}
  section.sheet{margin-top:14px}
  section.sheet+section.sheet{margin-top:0;break-before:page}
  h2,.count,.note{break-after:avoid}
  thead{display:table-header-group}
  thead th{position:static}
  tr{break-inside:avoid}
  th,td{padding:1px 3px}
}
`

type htmlWriter struct {
	w   *bufio.Writer
	err error
}

func (h *htmlWriter) raw(s string) {
	if h.err == nil {
		_, h.err = h.w.WriteString(s)
	}
}

func (h *htmlWriter) text(s string) {
	if h.err == nil {
		_, h.err = h.w.Write(appendHTML(nil, s))
	}
}

func writeHTML(ctx context.Context, w io.Writer, wb *Workbook, opts Options) (Result, error) {
	h := &htmlWriter{w: bufio.NewWriterSize(w, 64<<10)}
	h.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	h.raw("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n")
	h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	if wb.Creator != "" {
		h.raw("<meta name=\"generator\" content=\"")
		h.text(wb.Creator)
		h.raw("\">\n")
	}
	h.raw("<title>")
	h.text(wb.Title)
	h.raw("</title>\n<style>")
	h.raw(htmlCSS)
	h.raw("</style>\n</head>\n<body>\n<header>\n<h1>")
	h.text(wb.Title)
	h.raw("</h1>\n<p class=\"meta\">")
	if !wb.Created.IsZero() {
		h.raw("Data as of ")
		h.text(displayTime(wb.Created.UTC()))
		h.raw(" · ")
	}
	if wb.Creator != "" {
		h.text(wb.Creator)
		h.raw(" · ")
	}
	h.raw("All times are UTC.</p>\n<nav><ol>\n")
	for i, s := range wb.Sheets {
		h.raw("<li><a href=\"#sheet-" + strconv.Itoa(i+1) + "\">")
		h.text(s.Name)
		h.raw("</a></li>\n")
	}
	h.raw("</ol></nav>\n</header>\n")
	if h.err != nil {
		return Result{}, fmt.Errorf("report: html: %w", h.err)
	}

	var res Result
	for i := range wb.Sheets {
		s := &wb.Sheets[i]
		h.raw("<section class=\"sheet\" id=\"sheet-" + strconv.Itoa(i+1) + "\">\n<h2>")
		h.text(s.Name)
		h.raw("</h2>\n")
		var n int64
		var err error
		if s.IsSummary() {
			n, err = h.summary(s)
		} else {
			n, err = h.table(ctx, s, opts)
		}
		if err != nil {
			return Result{}, err
		}
		h.raw("</section>\n")
		if h.err != nil {
			return Result{}, fmt.Errorf("report: html: %w", h.err)
		}
		res.Sheets = append(res.Sheets, SheetResult{Name: s.Name, Rows: n})
	}
	h.raw("</body>\n</html>\n")
	if h.err == nil {
		h.err = h.w.Flush()
	}
	if h.err != nil {
		return Result{}, fmt.Errorf("report: html: %w", h.err)
	}
	return res, nil
}

func (h *htmlWriter) summary(s *Sheet) (int64, error) {
	h.raw("<table class=\"summary\">\n<tbody>\n")
	section := ""
	for i, e := range s.summary {
		if e.Section != section || (i == 0 && e.Section != "") {
			section = e.Section
			h.raw("<tr class=\"section\"><th colspan=\"2\">")
			h.text(e.Section)
			h.raw("</th></tr>\n")
		}
		cl, err := toCell(e.Value, Auto)
		if err != nil {
			return 0, rowError(s.Name, int64(i+1), e.Key, "%v", err)
		}
		h.raw("<tr><th scope=\"row\">")
		h.text(e.Key)
		h.raw("</th>")
		if h.err == nil {
			_, h.err = h.w.Write(appendHTMLCell(nil, &cl, Auto))
		}
		h.raw("</tr>\n")
	}
	if len(s.summary) == 0 {
		h.raw("<tr><td class=\"empty\" colspan=\"2\">No entries.</td></tr>\n")
	}
	h.raw("</tbody>\n</table>\n")
	return int64(len(s.summary)), nil
}

func (h *htmlWriter) thead(s *Sheet) {
	h.raw("<table class=\"data\">\n<thead><tr>")
	for _, c := range s.Columns {
		h.raw("<th>")
		// let snake_case names wrap after an underscore
		h.raw(strings.ReplaceAll(string(appendHTML(nil, c.Name)), "_", "_<wbr>"))
		h.raw("</th>")
	}
	h.raw("</tr></thead>\n<tbody>\n")
}

func (h *htmlWriter) table(ctx context.Context, s *Sheet, opts Options) (int64, error) {
	limit := opts.htmlMaxRows()
	var buf bytes.Buffer // the shown rows when capped
	var line []byte
	if limit < 0 {
		h.thead(s)
	}
	n, err := eachRow(ctx, s, opts, func(n int64, row []any) error {
		if limit >= 0 && n > int64(limit) {
			for j, c := range s.Columns { // still check every value
				if _, err := toCell(row[j], c.Kind); err != nil {
					return rowError(s.Name, n, c.Name, "%v", err)
				}
			}
			return nil
		}
		line = append(line[:0], "<tr>"...)
		for j, c := range s.Columns {
			cl, err := toCell(row[j], c.Kind)
			if err != nil {
				return rowError(s.Name, n, c.Name, "%v", err)
			}
			line = appendHTMLCell(line, &cl, c.Kind)
		}
		line = append(line, "</tr>\n"...)
		if limit >= 0 {
			buf.Write(line)
			return nil
		}
		if h.err == nil {
			_, h.err = h.w.Write(line)
		}
		return h.err
	})
	if err != nil {
		return 0, err
	}
	cols := strconv.Itoa(len(s.Columns))
	if limit < 0 {
		if n == 0 {
			h.raw("<tr><td class=\"empty\" colspan=\"" + cols + "\">No rows.</td></tr>\n")
		}
		h.raw("</tbody>\n</table>\n<p class=\"count\">" + rowsWord(n) + "</p>\n")
		return n, nil
	}
	h.raw("<p class=\"count\">" + rowsWord(n) + "</p>\n")
	if n > int64(limit) {
		h.raw("<p class=\"note\">This sheet has " + groupDigits(n) + " rows; the first " + groupDigits(int64(limit)) +
			" are shown here. The XLSX, CSV and JSON formats of this report hold every row.</p>\n")
	}
	h.thead(s)
	if n == 0 {
		h.raw("<tr><td class=\"empty\" colspan=\"" + cols + "\">No rows.</td></tr>\n")
	}
	if h.err == nil {
		_, h.err = buf.WriteTo(h.w)
	}
	h.raw("</tbody>\n</table>\n")
	return n, nil
}

func rowsWord(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return groupDigits(n) + " rows"
}

// groupDigits writes n with thousands separators: 1,048,575.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}

// appendHTMLCell appends one <td> with the class its kind and value call for.
func appendHTMLCell(b []byte, c *cell, k Kind) []byte {
	class := ""
	switch c.typ {
	case cInt, cUint, cFloat:
		class = "n"
	case cTime:
		class = "t"
	case cString:
		switch {
		case k == ID:
			class = "id"
		case k == Risk:
			switch riskOf(c.s) {
			case riskHigh:
				class = "rh"
			case riskMedium:
				class = "rm"
			case riskLow:
				class = "rl"
			}
		}
	}
	if class == "" {
		b = append(b, "<td>"...)
	} else {
		b = append(b, "<td class=\""...)
		b = append(b, class...)
		b = append(b, "\">"...)
	}
	if c.typ == cTime {
		// date and time each unbroken (a browser would break after a
		// hyphen), on one line or two
		date, clock, _ := strings.Cut(c.display(), " ")
		b = append(b, "<span>"...)
		b = appendHTML(b, date)
		b = append(b, "</span> <span>"...)
		b = appendHTML(b, clock)
		b = append(b, "</span>"...)
	} else {
		b = appendHTML(b, c.display())
	}
	return append(b, "</td>"...)
}

// appendHTML appends s with & < > " ' escaped, and invalid UTF-8 and NUL
// replaced by U+FFFD.
func appendHTML(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		var esc string
		size := 1
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case 0:
			esc = "\uFFFD"
		default:
			if c >= utf8.RuneSelf {
				r, n := utf8.DecodeRuneInString(s[i:])
				size = n
				if r == utf8.RuneError && n == 1 {
					esc = "\uFFFD"
				}
			}
		}
		if esc == "" {
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		i += size
		start = i
	}
	return append(b, s[start:]...)
}
