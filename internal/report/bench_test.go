package report

import (
	"archive/zip"
	"context"
	"flag"
	"io"
	path2 "path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The benchmarks write 500,000 generated memberships × 16 columns, the size
// of the target review, plus a small summary. Run one at a time on a
// shared machine:
//
//	go test ./internal/report -run '^$' -bench 'Write/xlsx' -benchtime 1x -benchmem
//
// BenchmarkRowSource is the cost of generating the rows alone (fmt, time
// formatting), to subtract.

const benchRows = 500_000

func benchWorkbook(n int) *Workbook {
	return &Workbook{
		Title:   "bench",
		Created: created,
		Sheets: []Sheet{
			SummarySheet("Summary", []Entry{{Section: "Review", Key: "review", Value: "2026-Q4"}, {Key: "rows", Value: n}}),
			accessSheet("Access", n),
		},
	}
}

func BenchmarkRowSource(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s := accessSheet("Access", benchRows)
		if err := s.Rows(func([]any) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchRows), "rows/op")
}

func BenchmarkWrite(b *testing.B) {
	for _, f := range []Format{XLSX, CSV, JSON, HTML} {
		b.Run(string(f), func(b *testing.B) {
			b.ReportAllocs()
			var size int64
			for b.Loop() {
				cw := &countWriter{}
				if _, err := Write(context.Background(), cw, f, benchWorkbook(benchRows), Options{TmpDir: b.TempDir(), HTMLMaxRows: -1}); err != nil {
					b.Fatal(err)
				}
				size = cw.n
			}
			b.ReportMetric(float64(size)/(1<<20), "MB")
			b.ReportMetric(float64(benchRows), "rows/op")
		})
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// large runs TestExcelRowLimit, which writes one sheet past Excel's real
// 1,048,576-row limit (about a minute and 100 MB of temporary files):
//
//	go test ./internal/report -run TestExcelRowLimit -large
var large = flag.Bool("large", false, "run the tests that write more than a million rows")

func TestExcelRowLimit(t *testing.T) {
	if !*large {
		t.Skip("needs -large")
	}
	const n = ExcelMaxRows + 1000 // a header and 1,048,575 rows fill a sheet
	path := filepath.Join(t.TempDir(), "big.xlsx")
	wb := &Workbook{Created: created, Sheets: []Sheet{accessSheet("Access", n)}}
	res, err := WriteFile(context.Background(), path, XLSX, wb, Options{TmpDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Sheets[0].Parts; len(p) != 2 || p[1] != "Access (2)" || res.Sheets[0].Rows != n {
		t.Fatalf("result %+v", res.Sheets[0])
	}
	for sheet, want := range map[string]string{
		"Access":     `<autoFilter ref="$A$1:$P$1048576">`, // the sheet is full
		"Access (2)": `<autoFilter ref="$A$1:$P$1002">`,    // the last 1,001 rows
	} {
		if tail := partTail(t, path, sheet); !strings.Contains(tail, want) {
			t.Errorf("%s ends %q, want %s", sheet, tail, want)
		}
	}
}

// partTail returns the last 4 KB of a sheet's XML, read as a stream: the
// sheet is too large to hold.
func partTail(t *testing.T, path, sheet string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	small := func(name string) []byte {
		f, err := zr.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		return b
	}
	wb, rels := string(small("xl/workbook.xml")), string(small("xl/_rels/workbook.xml.rels"))
	rid := regexp.MustCompile(`<sheet name="` + regexp.QuoteMeta(sheet) + `" sheetId="\d+" r:id="(rId\d+)"`).FindStringSubmatch(wb)
	if rid == nil {
		t.Fatalf("no sheet %s", sheet)
	}
	target := regexp.MustCompile(`Id="` + rid[1] + `"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="` + rid[1] + `"`).FindStringSubmatch(rels)
	if target == nil {
		t.Fatalf("no part for %s", sheet)
	}
	name := target[1] + target[2]
	f, err := zr.Open(strings.TrimPrefix(path2.Join("xl", name), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tail []byte
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		tail = append(tail, buf[:n]...)
		if len(tail) > 4096 {
			tail = append(tail[:0], tail[len(tail)-4096:]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return string(tail)
}
