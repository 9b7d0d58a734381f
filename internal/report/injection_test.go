package report

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestFormulaInjection plants formula-like values (CWE-1236) and markup in
// user attributes and checks that every format keeps them inert: XLSX as
// text cells with no formula, CSV with a leading apostrophe, JSON raw, HTML
// escaped.
func TestFormulaInjection(t *testing.T) {
	wb := sampleWorkbook(3)
	triggers := func(s string) bool { return startsFormula(s) }

	t.Run("xlsx", func(t *testing.T) {
		b, _ := write(t, XLSX, wb, Options{})
		parts, sheets, _ := xlsxParts(t, b)
		for name, data := range sheets {
			if regexp.MustCompile(`<f[ >/]`).Match(data) {
				t.Errorf("%s: worksheet has a formula element", name)
			}
		}
		if _, ok := parts["xl/calcChain.xml"]; ok {
			t.Error("workbook has a calculation chain")
		}
		quoted := quotePrefixed(t, parts["xl/styles.xml"])
		found := map[string]int{}
		for _, sheet := range []string{"Access", "Findings", "Summary"} {
			for _, c := range sheetCells(t, sheets[sheet]) {
				if !slices.Contains(hostile, c.IS.T) {
					continue
				}
				found[c.IS.T]++
				if c.Type != "inlineStr" || c.Formula != nil || c.V != "" {
					t.Errorf("%s %s: %q stored as type %q formula %v value %q", sheet, c.Ref, c.IS.T, c.Type, c.Formula, c.V)
				}
				if !quoted[c.Style] {
					t.Errorf("%s %s: %q has style %d without quotePrefix", sheet, c.Ref, c.IS.T, c.Style)
				}
			}
		}
		for _, h := range hostile {
			// department and title in Access; detail in Findings; a summary value
			if found[h] < 2 {
				t.Errorf("%q found %d times in the sheets, want at least 2", h, found[h])
			}
		}
		// and what a reader gets back is the exact string
		f := openXLSX(t, b)
		rows, _ := f.GetRows("Access")
		for i, h := range hostile {
			if got := rows[i+1][5]; got != h {
				t.Errorf("Access row %d department = %q, want %q", i+2, got, h)
			}
		}
	})

	t.Run("csv", func(t *testing.T) {
		b, _ := write(t, CSV, wb, Options{})
		files := unzipAll(t, b)
		recs, err := csvRecords(files["02-access.csv"])
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range hostile {
			want := h
			if triggers(h) {
				want = "'" + h
			}
			if got := recs[i+1][5]; got != want {
				t.Errorf("access row %d department = %q, want %q", i+1, got, want)
			}
		}
		// Nothing in any CSV starts a formula (quoted fields included).
		for name, data := range files {
			recs, err := csvRecords(data)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, r := range recs {
				for _, v := range r {
					if triggers(v) {
						t.Errorf("%s: field %q starts a formula", name, v)
					}
				}
			}
		}
		// Numbers and times are not touched: a negative count stays a number.
		num := &Workbook{Sheets: []Sheet{{Name: "N", Columns: []Column{{Name: "n", Kind: Integer}, {Name: "s"}},
			Rows: sliceRows([][]any{{-5, "-5"}, {"-7", "-2+3"}})}}}
		b, _ = write(t, CSV, num, Options{})
		if got := string(unzipAll(t, b)["01-n.csv"]); got != "n,s\n-5,'-5\n-7,'-2+3\n" {
			t.Errorf("numbers: %q", got)
		}
	})

	t.Run("json", func(t *testing.T) {
		b, _ := write(t, JSON, wb, Options{})
		var doc jsonDoc
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		access := doc.Sheets[1]
		for i, h := range hostile {
			if got := access.Rows[i][5]; got != h {
				t.Errorf("access row %d department = %#v, want %q", i+1, got, h)
			}
		}
	})

	t.Run("html", func(t *testing.T) {
		b, _ := write(t, HTML, wb, Options{})
		s := string(b)
		if strings.Contains(s, "<script") || strings.Contains(s, "</script>") {
			t.Error("markup in a value reached the page unescaped")
		}
		for _, h := range hostile {
			if esc := string(appendHTML(nil, h)); !strings.Contains(s, "<td>"+esc+"</td>") {
				t.Errorf("%q not shown escaped as %q", h, esc)
			}
		}
		// Self-contained: nothing is fetched.
		for _, bad := range []string{"<link", "<img", "<iframe", " src=", "url(", "@import", `href="http`, `href="//`} {
			if strings.Contains(s, bad) {
				t.Errorf("page has %q", bad)
			}
		}
		if !strings.Contains(s, `content="default-src 'none'; style-src 'unsafe-inline'"`) {
			t.Error("no Content-Security-Policy")
		}
	})
}

// quotePrefixed returns the cellXfs indexes that have quotePrefix set.
func quotePrefixed(t *testing.T, styles []byte) map[int]bool {
	t.Helper()
	var ss struct {
		Xf []struct {
			QuotePrefix string `xml:"quotePrefix,attr"`
		} `xml:"cellXfs>xf"`
	}
	if err := xml.Unmarshal(styles, &ss); err != nil {
		t.Fatal(err)
	}
	m := map[int]bool{}
	for i, x := range ss.Xf {
		m[i] = x.QuotePrefix == "true" || x.QuotePrefix == "1"
	}
	return m
}

func unzipAll(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		m[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func csvRecords(b []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	return r.ReadAll()
}

type jsonDoc struct {
	Title   string  `json:"title"`
	Creator string  `json:"creator"`
	Created *string `json:"created"`
	Sheets  []struct {
		Name    string `json:"name"`
		Kind    string `json:"kind"`
		Columns []struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		} `json:"columns"`
		Rows     [][]any `json:"rows"`
		RowCount int64   `json:"row_count"`
	} `json:"sheets"`
}
