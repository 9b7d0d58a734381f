package report

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// WriteFile writes wb to path in the given format and returns what it wrote,
// with each file's SHA-256 (for the report's ledger row).
//
// Every file is written to a temporary file beside it and renamed into place
// only when complete, so a failed or interrupted write leaves no partial
// report (and an earlier report at path untouched). Files are created with
// mode 0600 and folders with 0700: a report lists people and their access.
//
// CSV writes a zip when path ends in ".zip", else a folder at path (created
// if missing) holding one file per sheet, named "01-summary.csv",
// "02-access.csv" ... in sheet order; files of those names are replaced,
// other files in the folder are left alone.
//
// An XLSX build spills to temporary files in Options.TmpDir, by default the
// output's folder.
func WriteFile(ctx context.Context, path string, format Format, wb *Workbook, opts Options) (Result, error) {
	if err := wb.validate(); err != nil {
		return Result{}, err
	}
	if format == CSV && !strings.EqualFold(filepath.Ext(path), ".zip") {
		return writeCSVDir(ctx, path, wb, opts)
	}
	if opts.TmpDir == "" {
		// Spill files go beside the output, on a disk with room for it,
		// not to a /tmp that may be memory (tmpfs).
		opts.TmpDir = filepath.Dir(path)
	}
	var res Result
	fr, err := atomicWrite(path, func(w io.Writer) error {
		var err error
		res, err = Write(ctx, w, format, wb, opts)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	res.Files = []FileResult{fr}
	return res, nil
}

func writeCSVDir(ctx context.Context, dir string, wb *Workbook, opts Options) (Result, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Result{}, fmt.Errorf("report: csv: %w", err)
	}
	var res Result
	for i := range wb.Sheets {
		s := &wb.Sheets[i]
		name := csvFileName(i, len(wb.Sheets), s.Name)
		var n int64
		fr, err := atomicWrite(filepath.Join(dir, name), func(w io.Writer) error {
			var err error
			n, err = writeCSVSheet(ctx, w, s, opts)
			return err
		})
		if err != nil {
			return Result{}, err
		}
		res.Sheets = append(res.Sheets, SheetResult{Name: s.Name, Rows: n, Parts: []string{name}})
		res.Files = append(res.Files, fr)
	}
	return res, nil
}

// atomicWrite runs write into a temporary file in path's folder, hashing what
// is written, and renames it to path on success.
func atomicWrite(path string, write func(io.Writer) error) (fr FileResult, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return FileResult{}, fmt.Errorf("report: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	hw := &hashWriter{w: f, h: sha256.New()}
	if err = write(hw); err != nil {
		return FileResult{}, err
	}
	if err = f.Sync(); err != nil {
		return FileResult{}, fmt.Errorf("report: %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return FileResult{}, fmt.Errorf("report: %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return FileResult{}, fmt.Errorf("report: %w", err)
	}
	return FileResult{Path: path, Size: hw.n, SHA256: hex.EncodeToString(hw.h.Sum(nil))}, nil
}

type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return n, err
}
