package report

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"
)

// sortedZip writes entries sorted by name whatever order they come in, and
// moves its spool to a temporary file past spoolMemory, removed on Close.
func TestSortedZip(t *testing.T) {
	tmp := t.TempDir()
	var out bytes.Buffer
	z := newSortedZip(context.Background(), &out, created, tmp)
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, spoolMemory+(1<<20)) // incompressible: forces the file
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	contents := map[string][]byte{
		"xl/worksheets/sheet2.xml": big,
		"xl/worksheets/sheet1.xml": []byte("<worksheet/>"),
		"[Content_Types].xml":      []byte("<Types/>"),
		"docProps/core.xml":        bytes.Repeat([]byte("core "), 1000),
	}
	for _, name := range []string{"xl/worksheets/sheet2.xml", "xl/worksheets/sheet1.xml", "[Content_Types].xml", "docProps/core.xml"} {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		data := contents[name]
		for len(data) > 0 { // in pieces, as io.Copy does
			n := min(len(data), 32<<10)
			if _, err := w.Write(data[:n]); err != nil {
				t.Fatal(err)
			}
			data = data[n:]
		}
	}
	if z.spool.file == nil {
		t.Fatal("spool stayed in memory past spoolMemory")
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 1 {
		t.Fatalf("spool file not in TmpDir: %v", ents)
	}
	if _, err := z.Create("docProps/core.xml"); err == nil {
		t.Error("duplicate entry accepted")
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("spool left behind: %v", ents)
	}
	zr, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[Content_Types].xml", "docProps/core.xml", "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"}
	for i, f := range zr.File {
		if f.Name != want[i] {
			t.Errorf("entry %d is %s, want %s", i, f.Name, want[i])
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc) // checks the CRC too
		rc.Close()
		if err != nil || !bytes.Equal(got, contents[f.Name]) {
			t.Errorf("%s: %d bytes back (%v), want %d", f.Name, len(got), err, len(contents[f.Name]))
		}
	}
	if _, err := z.Create("late"); err == nil {
		t.Error("create after close accepted")
	}
}

// A cancelled context stops a long entry and the archive is not written.
func TestSortedZipCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	z := newSortedZip(ctx, &out, created, t.TempDir())
	w, _ := z.Create("a")
	cancel()
	var err error
	for range 64 {
		if _, err = w.Write(make([]byte, 64<<10)); err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("write error = %v", err)
	}
	if err := z.Close(); !errors.Is(err, context.Canceled) || out.Len() != 0 {
		t.Errorf("close = %v with %d bytes out", err, out.Len())
	}
}
