package report

import (
	"encoding/json"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// CSV, JSON, HTML and XLSX carry the same rows, in the same order.
func TestFormatsAgree(t *testing.T) {
	wb := func() *Workbook { return sampleWorkbook(40) }
	jb, _ := write(t, JSON, wb(), Options{})
	var doc jsonDoc
	if err := json.Unmarshal(jb, &doc); err != nil {
		t.Fatal(err)
	}
	cb, _ := write(t, CSV, wb(), Options{})
	csvFiles := unzipAll(t, cb)
	hb, _ := write(t, HTML, wb(), Options{})
	xb, _ := write(t, XLSX, wb(), Options{})
	xf := openXLSX(t, xb)

	for i, s := range wb().Sheets {
		js := doc.Sheets[i]
		if js.Name != s.Name || js.RowCount != int64(len(js.Rows)) {
			t.Fatalf("json sheet %d: %s with %d rows, row_count %d", i, js.Name, len(js.Rows), js.RowCount)
		}
		recs, err := csvRecords(csvFiles[csvFileName(i, 4, s.Name)])
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(js.Rows)+1 {
			t.Fatalf("%s: csv %d records, json %d rows", s.Name, len(recs)-1, len(js.Rows))
		}
		for c, col := range s.Columns {
			if recs[0][c] != col.Name || js.Columns[c].Name != col.Name || js.Columns[c].Kind != col.Kind.String() {
				t.Errorf("%s: column %d: csv %q json %+v, want %q", s.Name, c, recs[0][c], js.Columns[c], col.Name)
			}
		}
		for r, row := range js.Rows {
			for c, v := range row {
				got := strings.TrimPrefix(recs[r+1][c], "'")
				if want := jsonText(v); got != strings.TrimPrefix(want, "'") {
					t.Errorf("%s row %d col %d: csv %q, json %q", s.Name, r+1, c, got, want)
				}
			}
		}
		if s.IsSummary() {
			continue
		}
		htmlRows := htmlTable(t, string(hb), i+1)
		xrows, _ := xf.GetRows(s.Name)
		if len(htmlRows) != len(js.Rows) || len(xrows) != len(js.Rows)+1 {
			t.Fatalf("%s: html %d rows, xlsx %d, json %d", s.Name, len(htmlRows), len(xrows)-1, len(js.Rows))
		}
		for r, row := range js.Rows {
			for c, v := range row {
				want := jsonText(v)
				if s.Columns[c].Kind == Time && want != "" {
					ts, _ := time.Parse(time.RFC3339Nano, want)
					want = displayTime(ts.UTC())
				}
				if got := htmlRows[r][c]; got != want {
					t.Errorf("%s row %d col %d: html %q, want %q", s.Name, r+1, c, got, want)
				}
				if got := cellAt(xrows[r+1], c); got != want {
					t.Errorf("%s row %d col %d: xlsx %q, want %q", s.Name, r+1, c, got, want)
				}
			}
		}
	}
}

func cellAt(row []string, i int) string {
	if i < len(row) {
		return row[i]
	}
	return ""
}

func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// htmlTable returns the unescaped cells of the data table in section n.
func htmlTable(t *testing.T, page string, n int) [][]string {
	t.Helper()
	start := strings.Index(page, `<section class="sheet" id="sheet-`+itoa(n)+`">`)
	if start < 0 {
		t.Fatalf("no section %d", n)
	}
	sec := page[start:]
	sec = sec[:strings.Index(sec, "</section>")]
	body := sec[strings.Index(sec, "<tbody>"):]
	var rows [][]string
	tags := regexp.MustCompile(`<[^>]*>`)
	td := regexp.MustCompile(`(?s)<td(?: class="[a-z]+")?>(.*?)</td>`)
	for _, tr := range regexp.MustCompile(`(?s)<tr>(.*?)</tr>`).FindAllStringSubmatch(body, -1) {
		var cells []string
		for _, m := range td.FindAllStringSubmatch(tr[1], -1) {
			cells = append(cells, html.UnescapeString(tags.ReplaceAllString(m[1], "")))
		}
		rows = append(rows, cells)
	}
	return rows
}

func itoa(n int) string { return groupDigits(int64(n)) }

func TestJSONDocument(t *testing.T) {
	b, res := write(t, JSON, sampleWorkbook(2), Options{})
	var doc jsonDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	if doc.Title != "UAR 2026-Q4 — auditor workbook" || doc.Created == nil || *doc.Created != "2026-12-31T17:04:05Z" || doc.Creator != "uar test" {
		t.Errorf("head %+v", doc)
	}
	if doc.Sheets[0].Kind != "summary" || doc.Sheets[1].Kind != "table" {
		t.Errorf("kinds %s %s", doc.Sheets[0].Kind, doc.Sheets[1].Kind)
	}
	sum := doc.Sheets[0]
	if got := jsonText(sum.Rows[3]); got != `["Review","data as of","2026-12-31T17:04:05Z"]` {
		t.Errorf("summary time row %s", got)
	}
	if got := jsonText(sum.Rows[4]); got != `["Population","NetSuite memberships",1200]` {
		t.Errorf("summary int row %s", got)
	}
	if got := jsonText(sum.Rows[9]); got != `["Coverage","never anchored",null]` {
		t.Errorf("summary nil row %s", got)
	}
	for i, s := range doc.Sheets {
		if s.RowCount != res.Sheets[i].Rows || int64(len(s.Rows)) != s.RowCount {
			t.Errorf("%s: row_count %d, rows %d, result %d", s.Name, s.RowCount, len(s.Rows), res.Sheets[i].Rows)
		}
	}
	// an empty sheet is [] and one row per line keeps diffs readable
	empty := &Workbook{Sheets: []Sheet{{Name: "E", Columns: []Column{{Name: "a"}}}}}
	b, _ = write(t, JSON, empty, Options{})
	if !strings.Contains(string(b), `"rows": [],`) {
		t.Errorf("empty sheet:\n%s", b)
	}
	b, _ = write(t, JSON, sampleWorkbook(2), Options{})
	if n := strings.Count(string(b), "\n        ["); n != 10+2+len(hostile)+4+1 {
		t.Errorf("%d row lines", n)
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range append([]string{"", "plain", "quote\" back\\slash", "\x00\x01\x1f\x7f", "line\u2028sep\u2029", "bad \xff utf8 \xc3", "é 日本 😀", "</script>&"}, hostile...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if !utf8.ValidString(s) {
			// encoding/json replaces each bad byte; ToValidUTF8 a run of them
			std, _ := json.Marshal(s)
			_ = json.Unmarshal(std, &want)
		}
		if got != want {
			t.Fatalf("%q round-trips to %q, want %q", s, got, want)
		}
	})
}

func TestHTMLCap(t *testing.T) {
	wb := &Workbook{Title: "T", Sheets: []Sheet{accessSheet("Access", 25), accessSheet("Small", 3)}}
	b, res := write(t, HTML, wb, Options{HTMLMaxRows: 10})
	page := string(b)
	if got := len(htmlTable(t, page, 1)); got != 10 {
		t.Errorf("capped sheet shows %d rows, want 10", got)
	}
	if res.Sheets[0].Rows != 25 {
		t.Errorf("result says %d rows, want 25", res.Sheets[0].Rows)
	}
	note := `<p class="note">This sheet has 25 rows; the first 10 are shown here. The XLSX, CSV and JSON formats of this report hold every row.</p>`
	if i, j := strings.Index(page, note), strings.Index(page, `<table class="data">`); i < 0 || i > j {
		t.Errorf("no note above the capped table")
	}
	if got := len(htmlTable(t, page, 2)); got != 3 || strings.Count(page, `class="note"`) != 1 {
		t.Errorf("small sheet shows %d rows; %d notes", got, strings.Count(page, `class="note"`))
	}
	// no cap
	b, _ = write(t, HTML, wb, Options{HTMLMaxRows: -1})
	if got := len(htmlTable(t, string(b), 1)); got != 25 || strings.Contains(string(b), `class="note"`) {
		t.Errorf("uncapped sheet shows %d rows", got)
	}
	// the default
	b, _ = write(t, HTML, &Workbook{Sheets: []Sheet{accessSheet("Access", DefaultHTMLMaxRows+1)}}, Options{})
	if got := len(htmlTable(t, string(b), 1)); got != DefaultHTMLMaxRows || !strings.Contains(string(b), "This sheet has 5,001 rows; the first 5,000") {
		t.Errorf("default cap shows %d rows", got)
	}
}

func TestHTMLPage(t *testing.T) {
	b, _ := write(t, HTML, sampleWorkbook(2), Options{})
	page := string(b)
	for _, want := range []string{
		"<title>UAR 2026-Q4 — auditor workbook</title>",
		`<a href="#sheet-2">Access</a>`,
		"Data as of 2026-12-31 17:04:05Z",
		`<tr class="section"><th colspan="2">Population</th></tr>`,
		`<tr><th scope="row">NetSuite memberships</th><td class="n">1200</td></tr>`,
		`<td class="rh">HIGH</td>`, `<td class="rm">MEDIUM</td>`, `<td class="rl">LOW</td>`, `<td class="rm">medium</td>`,
		"thead{display:table-header-group}", "break-before:page", "size:landscape", "print-color-adjust:exact",
		"11 rows", // access: 2 + 9 hostile
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	empty := &Workbook{Sheets: []Sheet{{Name: "Revocations", Columns: []Column{{Name: "a"}, {Name: "b"}}}}}
	b, _ = write(t, HTML, empty, Options{})
	if !strings.Contains(string(b), `<td class="empty" colspan="2">No rows.</td>`) {
		t.Error("empty sheet has no 'No rows'")
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1048575: "1,048,575", -12345: "-12,345"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %s", n, got)
		}
	}
}
