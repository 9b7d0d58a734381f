package report

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// xlsxParts reads every part of an XLSX and maps sheet names to their XML.
func xlsxParts(t *testing.T, b []byte) (parts map[string][]byte, sheets map[string][]byte, order []string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	parts = map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		parts[f.Name] = data
	}
	var wbx struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
			RID  string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	if err := xml.Unmarshal(parts["xl/workbook.xml"], &wbx); err != nil {
		t.Fatal(err)
	}
	var rels struct {
		Rel []struct {
			ID     string `xml:"Id,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := xml.Unmarshal(parts["xl/_rels/workbook.xml.rels"], &rels); err != nil {
		t.Fatal(err)
	}
	sheets = map[string][]byte{}
	for _, s := range wbx.Sheets {
		for _, r := range rels.Rel {
			if r.ID == s.RID {
				sheets[s.Name] = parts[path.Join("xl", r.Target)]
			}
		}
		if sheets[s.Name] == nil {
			t.Fatalf("sheet %q has no part", s.Name)
		}
		order = append(order, s.Name)
	}
	return parts, sheets, order
}

// xmlCell is one <c> of a worksheet.
type xmlCell struct {
	Ref     string `xml:"r,attr"`
	Type    string `xml:"t,attr"`
	Style   int    `xml:"s,attr"`
	Formula *struct {
		Text string `xml:",chardata"`
	} `xml:"f"`
	V  string `xml:"v"`
	IS struct {
		T string `xml:"t"`
	} `xml:"is"`
}

func sheetCells(t *testing.T, data []byte) []xmlCell {
	t.Helper()
	var ws struct {
		Rows []struct {
			Cells []xmlCell `xml:"c"`
		} `xml:"sheetData>row"`
	}
	if err := xml.Unmarshal(data, &ws); err != nil {
		t.Fatal(err)
	}
	var cells []xmlCell
	for _, r := range ws.Rows {
		cells = append(cells, r.Cells...)
	}
	return cells
}

func openXLSX(t *testing.T, b []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestXLSXLayout(t *testing.T) {
	const n = 300
	wb := sampleWorkbook(n)
	b, res := write(t, XLSX, wb, Options{MaxRowsPerSheet: 250})
	parts, sheets, order := xlsxParts(t, b)
	if got := strings.Join(order, "|"); got != "Summary|Access|Access (2)|Findings|Queries" {
		t.Fatalf("sheets %s", got)
	}
	if p := res.Sheets[1].Parts; len(p) != 2 || p[1] != "Access (2)" || res.Sheets[1].Rows != n+int64(len(hostile)) {
		t.Errorf("access result %+v", res.Sheets[1])
	}
	f := openXLSX(t, b)

	// Every table worksheet: bold shaded header in row 1, frozen, with an
	// autofilter over exactly the rows written, columns in ascending order.
	wantRows := map[string]int{"Access": 250, "Access (2)": n + len(hostile) - 250, "Findings": 4, "Queries": 1}
	for name, rows := range wantRows {
		xmlData := string(sheets[name])
		panes, err := f.GetPanes(name)
		if err != nil || !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
			t.Errorf("%s: panes %+v %v", name, panes, err)
		}
		cols := len(wb.Sheets[map[string]int{"Access": 1, "Access (2)": 1, "Findings": 2, "Queries": 3}[name]].Columns)
		last, _ := excelize.ColumnNumberToName(cols)
		if want := `<autoFilter ref="$A$1:$` + last + `$` + strconv.Itoa(rows+1) + `">`; !strings.Contains(xmlData, want) {
			t.Errorf("%s: no %s", name, want)
		}
		mins := regexp.MustCompile(`<col min="(\d+)"`).FindAllStringSubmatch(xmlData, -1)
		for i, m := range mins {
			if m[1] != strconv.Itoa(i+1) {
				t.Errorf("%s: <col> %d has min %s: not ascending", name, i, m[1])
				break
			}
		}
		got, _ := f.GetRows(name)
		if len(got) != rows+1 {
			t.Errorf("%s: %d rows, want %d", name, len(got), rows+1)
		}
		style, _ := f.GetCellStyle(name, "A1")
		st, _ := f.GetStyle(style)
		if st == nil || st.Font == nil || !st.Font.Bold || len(st.Fill.Color) == 0 {
			t.Errorf("%s: header style %+v", name, st)
		}
		if !strings.Contains(xmlData, `orientation="landscape"`) || !strings.Contains(xmlData, `fitToPage="true"`) {
			t.Errorf("%s: no landscape fit-to-width page setup", name)
		}
		if !strings.Contains(string(parts["xl/workbook.xml"]), `name="_xlnm.Print_Titles">&#39;`+name+`&#39;!$1:$1<`) {
			t.Errorf("%s: header row does not repeat on printed pages", name)
		}
	}

	// Column widths: sized from the data, within bounds; set widths kept.
	for col, want := range map[string][2]float64{"A": {8, 12}, "D": {19, 30}, "P": {60, 60}} {
		w, _ := f.GetColWidth("Access", col)
		if w < want[0] || w > want[1] {
			t.Errorf("Access column %s width %g, want %g..%g", col, w, want[0], want[1])
		}
	}
	if w, _ := f.GetColWidth("Findings", "H"); w != 60 {
		t.Errorf("Findings detail width %g, want 60", w)
	}

	// The continuation holds the rows after the first part, in order, under
	// the same header.
	rowsA, _ := f.GetRows("Access")
	rowsB, _ := f.GetRows("Access (2)")
	if strings.Join(rowsA[0], ",") != strings.Join(rowsB[0], ",") {
		t.Errorf("continuation header %v", rowsB[0])
	}
	src := make([]any, 16)
	accessRow(src, 250-len(hostile)) // row 251 of the sheet, the first of part 2
	if rowsB[1][3] != src[3] {
		t.Errorf("Access (2) starts with %s, want %s", rowsB[1][3], src[3])
	}

	// Times are real date cells in UTC with the date format.
	accessRow(src, 1)
	ts, _ := time.Parse(time.RFC3339, src[9].(string))
	// rows: 1 header, 2..10 the hostile rows, then generated row i at i+len(hostile)+2
	raw, _ := f.GetCellValue("Access", "J"+strconv.Itoa(len(hostile)+3), excelize.Options{RawCellValue: true})
	serial, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		t.Fatalf("last_login cell %q is not a number", raw)
	}
	if got := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).Add(time.Duration(serial * 86400 * float64(time.Second))).Round(time.Second); !got.Equal(ts) {
		t.Errorf("last_login %v, want %v", got, ts)
	}
	shown, _ := f.GetCellValue("Access", "J"+strconv.Itoa(len(hostile)+3))
	if shown != ts.Format("2006-01-02 15:04:05")+"Z" {
		t.Errorf("last_login shows %q", shown)
	}
	// An empty time is an empty cell, not 1899 or 0001.
	accessRow(src, 0)
	if src[9] != "" {
		t.Fatal("fixture: row 0 should have no last_login")
	}
	if v, _ := f.GetCellValue("Access", "J"+strconv.Itoa(len(hostile)+2)); v != "" {
		t.Errorf("empty last_login shows %q", v)
	}

	// Risk cells are coloured by level, whatever the case.
	for cellRef, fill := range map[string]string{"C2": "FFC7CE", "C3": "FFEB9C", "C4": "C6EFCE", "C5": "FFEB9C"} {
		style, _ := f.GetCellStyle("Findings", cellRef)
		st, _ := f.GetStyle(style)
		if st == nil || len(st.Fill.Color) == 0 || !strings.EqualFold(st.Fill.Color[0], fill) {
			t.Errorf("Findings %s fill %+v, want %s", cellRef, st, fill)
		}
	}

	// Document properties carry the data time and title, not the clock.
	props, _ := f.GetDocProps()
	if props.Created != created.Format(time.RFC3339) || props.Modified != props.Created || props.Title != wb.Title {
		t.Errorf("doc props %+v", props)
	}
}

func TestXLSXSummary(t *testing.T) {
	b, _ := write(t, XLSX, sampleWorkbook(1), Options{})
	f := openXLSX(t, b)
	rows, _ := f.GetRows("Summary")
	var flat []string
	for _, r := range rows {
		flat = append(flat, strings.Join(r, "="))
	}
	got := strings.Join(flat, "\n")
	for _, want := range []string{"item=value", "Review", "review=2026-Q4", "Population", "NetSuite memberships=1200",
		"data as of=2026-12-31 17:04:05Z", "median hours to verified removal=3.25", "never anchored"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	// a number is a number cell
	cells := sheetCells(t, mustSheet(t, b, "Summary"))
	for _, c := range cells {
		if c.V == "1200" && c.Type != "" {
			t.Errorf("1200 has type %q, want a number", c.Type)
		}
	}
}

func mustSheet(t *testing.T, b []byte, name string) []byte {
	t.Helper()
	_, sheets, _ := xlsxParts(t, b)
	return sheets[name]
}

func TestXLSXContinuationNames(t *testing.T) {
	long := "Abcdefghijklmnopqrstuvwxyz01234" // 31 characters
	wb := &Workbook{Created: created, Sheets: []Sheet{accessSheet(long, 25)}}
	b, res := write(t, XLSX, wb, Options{MaxRowsPerSheet: 10})
	_, _, order := xlsxParts(t, b)
	want := []string{long, "Abcdefghijklmnopqrstuvwxyz0 (2)", "Abcdefghijklmnopqrstuvwxyz0 (3)"}
	if strings.Join(order, "|") != strings.Join(want, "|") || strings.Join(res.Sheets[0].Parts, "|") != strings.Join(want, "|") {
		t.Errorf("parts %v / %v, want %v", order, res.Sheets[0].Parts, want)
	}
	// A continuation may not take the name of another sheet.
	wb = &Workbook{Sheets: []Sheet{accessSheet("Access", 25), accessSheet("Access (2)", 1)}}
	if _, err := Write(context.Background(), io.Discard, XLSX, wb, Options{MaxRowsPerSheet: 10}); err == nil || !strings.Contains(err.Error(), "clashes") {
		t.Errorf("error = %v, want a clash", err)
	}
	// Exactly the limit: no continuation.
	wb = &Workbook{Sheets: []Sheet{accessSheet("Access", 10)}}
	_, res = write(t, XLSX, wb, Options{MaxRowsPerSheet: 10})
	if len(res.Sheets[0].Parts) != 1 {
		t.Errorf("10 rows at limit 10 took %v", res.Sheets[0].Parts)
	}
}

func TestXLSXEmptySheet(t *testing.T) {
	wb := &Workbook{Sheets: []Sheet{{Name: "Revocations", Columns: []Column{{Name: "a"}, {Name: "b", Kind: Time}}}}}
	b, _ := write(t, XLSX, wb, Options{})
	f := openXLSX(t, b)
	rows, _ := f.GetRows("Revocations")
	if len(rows) != 1 || strings.Join(rows[0], ",") != "a,b" {
		t.Errorf("rows %v", rows)
	}
}

// Text longer than a cell holds is cut with a note, never silently.
func TestXLSXLongText(t *testing.T) {
	long := strings.Repeat("é", 40000)
	wb := &Workbook{Sheets: []Sheet{{Name: "Queries", Columns: []Column{{Name: "sql"}}, Rows: sliceRows([][]any{{long}})}}}
	b, _ := write(t, XLSX, wb, Options{})
	f := openXLSX(t, b)
	v, _ := f.GetCellValue("Queries", "A2")
	if n := len([]rune(v)); n > excelMaxCellChars || !strings.HasSuffix(v, "hold the whole value]") || !strings.Contains(v, "40000 characters") {
		t.Errorf("cell has %d characters, ends %q", n, v[len(v)-60:])
	}
}

// Go values of every accepted type land in the right cell type.
func TestXLSXValueTypes(t *testing.T) {
	cols := []Column{{Name: "auto", Kind: Auto}, {Name: "int", Kind: Integer}, {Name: "num", Kind: Number}, {Name: "time", Kind: Time}}
	rows := [][]any{
		{int64(42), "17", "2.5", created},
		{true, "not a number", "x", "not a time"},
		{uint64(1 << 63), int32(-3), float32(1.5), ""},
		{[]byte("bytes"), nil, 3, "2026-01-02T03:04:05.5+01:00"},
	}
	wb := &Workbook{Sheets: []Sheet{{Name: "T", Columns: cols, Rows: sliceRows(rows)}}}
	b, _ := write(t, XLSX, wb, Options{})
	cells := map[string]xmlCell{}
	for _, c := range sheetCells(t, mustSheet(t, b, "T")) {
		cells[c.Ref] = c
	}
	want := map[string]string{ // ref: type ("n" = number)
		"A2": "n", "B2": "n", "C2": "n", "D2": "n",
		"A3": "b", "B3": "inlineStr", "C3": "inlineStr", "D3": "inlineStr",
		"A4": "n", "B4": "n", "C4": "n",
		"A5": "inlineStr", "C5": "n", "D5": "n",
	}
	for ref, typ := range want {
		c, ok := cells[ref]
		if !ok {
			t.Errorf("%s: no cell", ref)
			continue
		}
		if got := c.Type; (typ == "n" && got != "" && got != "n") || (typ != "n" && got != typ) {
			t.Errorf("%s: type %q, want %s", ref, got, typ)
		}
	}
	for _, ref := range []string{"D4", "B5"} {
		if _, ok := cells[ref]; ok {
			t.Errorf("%s: empty value wrote a cell", ref)
		}
	}
	if v := cells["D5"].V; !strings.HasPrefix(v, "46024.0") { // 2026-01-02 02:04:05.5 UTC
		t.Errorf("D5 = %s", v)
	}
}

// The writer keeps the first rows to size columns: a source that reuses its
// row slice and its byte buffers must still see its own values written.
func TestXLSXReusedBuffers(t *testing.T) {
	buf := make([]byte, 8)
	row := make([]any, 1)
	wb := &Workbook{Sheets: []Sheet{{Name: "R", Columns: []Column{{Name: "v"}}, Rows: func(yield func([]any) error) error {
		for i := range 300 {
			copy(buf, fmt.Sprintf("row%05d", i))
			row[0] = buf
			if err := yield(row); err != nil {
				return err
			}
		}
		return nil
	}}}}
	b, _ := write(t, XLSX, wb, Options{})
	rows, _ := openXLSX(t, b).GetRows("R")
	for i := range 300 {
		if got, want := rows[i+1][0], fmt.Sprintf("row%05d", i); got != want {
			t.Fatalf("row %d = %q, want %q", i+1, got, want)
		}
	}
}
