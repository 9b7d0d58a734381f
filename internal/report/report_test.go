package report

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// sampleDir writes the sample workbook in every format to a folder, for a
// look with LibreOffice or a browser:
//
//	go test ./internal/report -run TestSamples -sample-dir /tmp/samples
var sampleDir = flag.String("sample-dir", "", "write sample reports to this folder")

func TestSamples(t *testing.T) {
	if *sampleDir == "" {
		t.Skip("no -sample-dir")
	}
	for _, f := range []Format{XLSX, CSV, JSON, HTML} {
		path := filepath.Join(*sampleDir, "sample."+string(f))
		if f == CSV {
			path = filepath.Join(*sampleDir, "sample-csv.zip")
		}
		if _, err := WriteFile(context.Background(), path, f, sampleWorkbook(300), Options{MaxRowsPerSheet: 250}); err != nil {
			t.Fatal(err)
		}
	}
}

func write(t *testing.T, f Format, wb *Workbook, opts Options) ([]byte, Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := Write(context.Background(), &buf, f, wb, opts)
	if err != nil {
		t.Fatalf("write %s: %v", f, err)
	}
	return buf.Bytes(), res
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"xlsx": XLSX, "CSV": CSV, " json ": JSON, "Html": HTML} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseFormat("pdf"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("ParseFormat(pdf) error = %v, want ErrUnknownFormat", err)
	}
	for in, want := range map[string]Format{"a/b.XLSX": XLSX, "r.zip": CSV, "r.json": JSON, "r.htm": HTML, "out": "", "r.csv": ""} {
		if got := FileFormat(in); got != want {
			t.Errorf("FileFormat(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	col := []Column{{Name: "a"}}
	cases := map[string]*Workbook{
		"no sheets":         {},
		"empty name":        {Sheets: []Sheet{{Name: "", Columns: col}}},
		"long name":         {Sheets: []Sheet{{Name: strings.Repeat("x", 32), Columns: col}}},
		"slash":             {Sheets: []Sheet{{Name: "a/b", Columns: col}}},
		"apostrophe":        {Sheets: []Sheet{{Name: "Bob's", Columns: col}}},
		"duplicate":         {Sheets: []Sheet{{Name: "Access", Columns: col}, {Name: "ACCESS", Columns: col}}},
		"no columns":        {Sheets: []Sheet{{Name: "A"}}},
		"column no name":    {Sheets: []Sheet{{Name: "A", Columns: []Column{{}}}}},
		"bad kind":          {Sheets: []Sheet{{Name: "A", Columns: []Column{{Name: "a", Kind: Kind(99)}}}}},
		"width out of band": {Sheets: []Sheet{{Name: "A", Columns: []Column{{Name: "a", Width: 300}}}}},
	}
	for name, wb := range cases {
		for _, f := range []Format{XLSX, CSV, JSON, HTML} {
			if _, err := Write(context.Background(), io.Discard, f, wb, Options{}); err == nil {
				t.Errorf("%s, %s: no error", name, f)
			}
		}
	}
	if _, err := Write(context.Background(), io.Discard, Format("pdf"), sampleWorkbook(1), Options{}); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("format pdf: error = %v", err)
	}
}

// Every format reports the same rows per sheet, and the rows the sheet gave.
func TestRowCountsAgree(t *testing.T) {
	want := map[string]int64{"Summary": 10, "Access": 37 + int64(len(hostile)), "Findings": 4, "Queries": 1}
	for _, f := range []Format{XLSX, CSV, JSON, HTML} {
		_, res := write(t, f, sampleWorkbook(37), Options{})
		if len(res.Sheets) != 4 {
			t.Fatalf("%s: %d sheets", f, len(res.Sheets))
		}
		for _, s := range res.Sheets {
			if s.Rows != want[s.Name] {
				t.Errorf("%s: sheet %s: %d rows, want %d", f, s.Name, s.Rows, want[s.Name])
			}
		}
	}
}

// A bad value names its sheet, row and column; an error from the row source
// comes back wrapped, in every format.
func TestRowErrors(t *testing.T) {
	boom := errors.New("disk on fire")
	bad := func(rows RowFunc) *Workbook {
		return &Workbook{Sheets: []Sheet{{Name: "Access", Columns: []Column{{Name: "a"}, {Name: "b"}}, Rows: rows}}}
	}
	type weird struct{}
	cases := []struct {
		name string
		wb   *Workbook
		want string
		is   error
	}{
		{"type", bad(sliceRows([][]any{{"x", "y"}, {"x", weird{}}})), `sheet "Access": row 2: column "b": unsupported value type report.weird`, nil},
		{"length", bad(sliceRows([][]any{{"x"}})), `row 1 has 1 values, want 2`, nil},
		{"source", bad(func(yield func([]any) error) error {
			if err := yield([]any{"a", "b"}); err != nil {
				return err
			}
			return boom
		}), `sheet "Access": rows: disk on fire`, boom},
		{"swallowed", bad(func(yield func([]any) error) error {
			_ = yield([]any{"a"}) // a buggy source that ignores yield's error
			return nil
		}), `row 1 has 1 values`, nil},
	}
	for _, c := range cases {
		for _, f := range []Format{XLSX, CSV, JSON, HTML} {
			_, err := Write(context.Background(), io.Discard, f, c.wb, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, %s: error = %v, want it to contain %q", c.name, f, err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%s, %s: error %v does not wrap %v", c.name, f, err, c.is)
			}
		}
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, f := range []Format{XLSX, CSV, JSON, HTML} {
		_, err := Write(ctx, io.Discard, f, sampleWorkbook(10), Options{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: error = %v, want context.Canceled", f, err)
		}
	}
}

// The same input gives the same bytes, in every format, and nothing in the
// output depends on the machine or the moment.
func TestByteIdentical(t *testing.T) {
	for _, f := range []Format{XLSX, CSV, JSON, HTML} {
		// MaxRowsPerSheet makes the XLSX stream several worksheets: excelize
		// would write them in map order.
		opts := Options{MaxRowsPerSheet: 20}
		a, _ := write(t, f, sampleWorkbook(100), opts)
		for range 3 {
			b, _ := write(t, f, sampleWorkbook(100), opts)
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: two builds differ (%d and %d bytes)", f, len(a), len(b))
			}
		}
		if bytes.Contains(a, []byte(time.Now().UTC().Format("2006-01-02"))) && created.Format("2006-01-02") != time.Now().UTC().Format("2006-01-02") {
			t.Errorf("%s: output holds today's date", f)
		}
	}
}

// Zip entries (XLSX and CSV) are sorted by name, carry Workbook.Created and
// nothing of the machine.
func TestZipEntries(t *testing.T) {
	for _, f := range []Format{XLSX, CSV} {
		b, _ := write(t, f, sampleWorkbook(30), Options{MaxRowsPerSheet: 10})
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range zr.File {
			names = append(names, e.Name)
			if !e.Modified.Equal(created) {
				t.Errorf("%s: %s: modified %v, want %v", f, e.Name, e.Modified, created)
			}
			if e.Method != zip.Deflate {
				t.Errorf("%s: %s: method %d", f, e.Name, e.Method)
			}
			if e.ExternalAttrs != 0 || e.CreatorVersion>>8 != 0 {
				t.Errorf("%s: %s: attrs %x creator %x: machine details in the zip", f, e.Name, e.ExternalAttrs, e.CreatorVersion)
			}
		}
		sorted := append([]string(nil), names...)
		slices.Sort(sorted)
		if strings.Join(names, "\n") != strings.Join(sorted, "\n") {
			t.Errorf("%s: entries not sorted:\n%s", f, strings.Join(names, "\n"))
		}
		if f == CSV {
			if got := strings.Join(names, " "); got != "01-summary.csv 02-access.csv 03-findings.csv 04-queries.csv" {
				t.Errorf("csv entries = %s", got)
			}
		}
	}
}

func TestZeroCreated(t *testing.T) {
	wb := sampleWorkbook(3)
	wb.Created = time.Time{}
	for _, f := range []Format{XLSX, CSV} {
		b, _ := write(t, f, wb, Options{})
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if got := zr.File[0].Modified; !got.Equal(zipEpoch) {
			t.Errorf("%s: modified %v, want %v", f, got, zipEpoch)
		}
	}
	b, _ := write(t, JSON, wb, Options{})
	var doc struct{ Created *string }
	if err := json.Unmarshal(b, &doc); err != nil || doc.Created != nil {
		t.Errorf("json created = %v, %v; want null", doc.Created, err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for _, name := range []string{"r.xlsx", "r.json", "r.html", "r.zip"} {
		path := filepath.Join(dir, name)
		res, err := WriteFile(ctx, path, FileFormat(name), sampleWorkbook(5), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Files) != 1 || res.Files[0].Path != path || len(res.Files[0].SHA256) != 64 {
			t.Fatalf("%s: files %+v", name, res.Files)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 || fi.Size() != res.Files[0].Size {
			t.Errorf("%s: mode %v size %d, want 0600 and %d", name, fi.Mode().Perm(), fi.Size(), res.Files[0].Size)
		}
	}
	// CSV into a folder: one file per sheet, in order.
	out := filepath.Join(dir, "csv")
	res, err := WriteFile(ctx, out, CSV, sampleWorkbook(5), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(out)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != "01-summary.csv 02-access.csv 03-findings.csv 04-queries.csv" || len(res.Files) != 4 {
		t.Errorf("csv folder holds %v (files %d)", got, len(res.Files))
	}
	// A failed write leaves the earlier report and no temporary file.
	path := filepath.Join(dir, "r.xlsx")
	before, _ := os.ReadFile(path)
	wb := sampleWorkbook(5)
	wb.Sheets[1].Rows = func(yield func([]any) error) error { return errors.New("interrupted") }
	if _, err := WriteFile(ctx, path, XLSX, wb, Options{}); err == nil {
		t.Fatal("no error")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("failed write changed the earlier report")
	}
	// Nothing else is left beside the reports: no temporary file, no
	// excelize spill file, no zip spool.
	ents, _ = os.ReadDir(dir)
	for _, e := range ents {
		switch e.Name() {
		case "r.xlsx", "r.json", "r.html", "r.zip", "csv":
		default:
			t.Errorf("file left behind: %s", e.Name())
		}
	}
}

func TestCSVFileName(t *testing.T) {
	cases := []struct {
		i, n int
		name string
		want string
	}{
		{0, 8, "Summary", "01-summary.csv"},
		{7, 8, "Review quality", "08-review-quality.csv"},
		{2, 120, "Access (2)", "003-access-2.csv"},
		{0, 1, "Übersicht", "01-bersicht.csv"},
		{0, 1, "ÄÖÜ", "01-sheet.csv"},
	}
	for _, c := range cases {
		if got := csvFileName(c.i, c.n, c.name); got != c.want {
			t.Errorf("csvFileName(%d, %d, %q) = %q, want %q", c.i, c.n, c.name, got, c.want)
		}
	}
}

func TestProgress(t *testing.T) {
	var calls []int64
	opts := Options{Progress: func(sheet string, rows int64) {
		if sheet == "Access" {
			calls = append(calls, rows)
		}
	}}
	wb := &Workbook{Sheets: []Sheet{accessSheet("Access", 2*ProgressEvery+5)}}
	if _, err := Write(context.Background(), io.Discard, CSV, wb, opts); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 || calls[0] != ProgressEvery || calls[2] != 2*ProgressEvery+5 {
		t.Errorf("progress calls %v", calls)
	}
}
