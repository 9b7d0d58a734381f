package report

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// zipEpoch is the earliest time a zip (MS-DOS) timestamp holds; entries of a
// workbook without a Created time get it.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// zipTime is the fixed modification time of every entry.
func zipTime(created time.Time) time.Time {
	if created.Before(zipEpoch) {
		return zipEpoch
	}
	return created.UTC().Truncate(time.Second)
}

// zipHeader is the header of every entry: deflated, fixed time, nothing
// taken from the machine (no mode, no owner). The time is set the way
// zip.Writer.CreateHeader sets it (MS-DOS fields plus an "extended
// timestamp" extra field with the exact second), because CreateRaw, which
// the XLSX spool uses, takes the header as it is.
func zipHeader(name string, created time.Time) *zip.FileHeader {
	t := zipTime(created)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate}
	h.ModifiedDate = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	h.ModifiedTime = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	var extra [9]byte
	binary.LittleEndian.PutUint16(extra[0:], 0x5455) // extended timestamp
	binary.LittleEndian.PutUint16(extra[2:], 5)      // size
	extra[4] = 1                                     // flags: modification time
	binary.LittleEndian.PutUint32(extra[5:], uint32(t.Unix()))
	h.Extra = extra[:]
	return h
}

// sortedZip is an excelize.ZipWriter that makes excelize's output
// deterministic. excelize writes the streamed worksheets in Go map order
// (random) and then the other parts; sortedZip deflates each entry into a
// spool as it arrives and, on Close, writes the entries to out sorted by
// name ([Content_Types].xml first), with one fixed time. The spool keeps the
// first spoolMemory bytes of compressed data in memory and the rest in a
// temporary file, so memory stays bounded whatever the sheet sizes.
type sortedZip struct {
	ctx      context.Context
	out      io.Writer
	created  time.Time
	level    int
	tmpDir   string
	spool    spool
	entries  []spooled
	cur      *spoolEntryWriter
	closed   bool
	finalErr error
}

type spooled struct {
	name   string
	off, n int64 // compressed bytes in the spool
	crc    uint32
	size   int64 // uncompressed
}

func newSortedZip(ctx context.Context, out io.Writer, created time.Time, tmpDir string) *sortedZip {
	return &sortedZip{ctx: ctx, out: out, created: created, level: zipLevel, tmpDir: tmpDir,
		spool: spool{tmpDir: tmpDir}}
}

// zipLevel is the deflate level of XLSX parts: flate.BestSpeed compresses
// sheet XML about 10:1 at several times the speed of the default level (see
// the package benchmarks), and deflate is most of an XLSX build's time.
const zipLevel = flate.BestSpeed

// Create starts a new entry; the previous one is finished.
func (z *sortedZip) Create(name string) (io.Writer, error) {
	if z.closed {
		return nil, errors.New("zip: create after close")
	}
	if err := z.finish(); err != nil {
		return nil, err
	}
	if slices.ContainsFunc(z.entries, func(e spooled) bool { return e.name == name }) {
		return nil, fmt.Errorf("zip: duplicate entry %q", name)
	}
	fw, err := flate.NewWriter(&z.spool, z.level)
	if err != nil {
		return nil, err
	}
	z.cur = &spoolEntryWriter{ctx: z.ctx, name: name, start: z.spool.size, fw: fw, crc: crc32.NewIEEE()}
	return z.cur, nil
}

// AddFS is part of excelize.ZipWriter; excelize does not call it when saving.
func (z *sortedZip) AddFS(fs.FS) error { return errors.New("zip: AddFS not supported") }

func (z *sortedZip) finish() error {
	if z.cur == nil {
		return nil
	}
	cur := z.cur
	z.cur = nil
	if cur.err != nil {
		return cur.err
	}
	if err := cur.fw.Close(); err != nil {
		return fmt.Errorf("zip: %s: %w", cur.name, err)
	}
	if z.spool.err != nil {
		return z.spool.err
	}
	z.entries = append(z.entries, spooled{name: cur.name, off: cur.start, n: z.spool.size - cur.start,
		crc: cur.crc.Sum32(), size: cur.size})
	return nil
}

// Close writes the sorted archive to out and removes the spool.
func (z *sortedZip) Close() error {
	if z.closed {
		return z.finalErr
	}
	z.closed = true
	defer z.spool.close()
	if err := z.finish(); err != nil {
		z.finalErr = err
		return err
	}
	slices.SortFunc(z.entries, func(a, b spooled) int { return strings.Compare(a.name, b.name) })
	zw := zip.NewWriter(z.out)
	for _, e := range z.entries {
		if err := z.ctx.Err(); err != nil {
			z.finalErr = err
			return err
		}
		h := zipHeader(e.name, z.created)
		h.CRC32, h.CompressedSize64, h.UncompressedSize64 = e.crc, uint64(e.n), uint64(e.size)
		w, err := zw.CreateRaw(h)
		if err != nil {
			z.finalErr = fmt.Errorf("zip: %s: %w", e.name, err)
			return z.finalErr
		}
		r, err := z.spool.section(e.off, e.n)
		if err != nil {
			z.finalErr = fmt.Errorf("zip: %s: %w", e.name, err)
			return z.finalErr
		}
		if _, err := io.Copy(w, r); err != nil {
			z.finalErr = fmt.Errorf("zip: %s: %w", e.name, err)
			return z.finalErr
		}
	}
	if err := zw.Close(); err != nil {
		z.finalErr = fmt.Errorf("zip: %w", err)
		return z.finalErr
	}
	return nil
}

// abort drops the spool without writing anything.
func (z *sortedZip) abort() {
	z.closed = true
	z.spool.close()
}

type spoolEntryWriter struct {
	ctx   context.Context
	name  string
	start int64
	fw    *flate.Writer
	crc   hash.Hash32
	size  int64
	n     int // bytes since the last context check
	err   error
}

func (w *spoolEntryWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.n += len(p); w.n > 1<<20 {
		w.n = 0
		if err := w.ctx.Err(); err != nil {
			w.err = err
			return 0, err
		}
	}
	w.crc.Write(p)
	w.size += int64(len(p))
	n, err := w.fw.Write(p)
	if err != nil {
		w.err = fmt.Errorf("zip: %s: %w", w.name, err)
	}
	return n, w.err
}

// spoolMemory is how much compressed data the spool keeps in memory before
// it moves to a temporary file.
const spoolMemory = 8 << 20

// spool is an append-only byte store: memory first, then a temporary file.
type spool struct {
	tmpDir string
	mem    bytes.Buffer
	file   *os.File
	size   int64
	err    error
}

func (s *spool) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.file == nil && s.mem.Len()+len(p) > spoolMemory {
		f, err := os.CreateTemp(s.tmpDir, "uar-report-*.zip.spool")
		if err != nil {
			s.err = fmt.Errorf("zip spool: %w", err)
			return 0, s.err
		}
		s.file = f
		if _, err := s.mem.WriteTo(f); err != nil {
			s.err = fmt.Errorf("zip spool: %w", err)
			return 0, s.err
		}
		s.mem = bytes.Buffer{}
	}
	var n int
	var err error
	if s.file != nil {
		n, err = s.file.Write(p)
	} else {
		n, err = s.mem.Write(p)
	}
	s.size += int64(n)
	if err != nil {
		s.err = fmt.Errorf("zip spool: %w", err)
	}
	return n, s.err
}

func (s *spool) section(off, n int64) (io.Reader, error) {
	if s.file != nil {
		return io.NewSectionReader(s.file, off, n), nil
	}
	return bytes.NewReader(s.mem.Bytes()[off : off+n]), nil
}

func (s *spool) close() {
	s.mem = bytes.Buffer{}
	if s.file != nil {
		name := s.file.Name()
		_ = s.file.Close()
		_ = os.Remove(name)
		s.file = nil
	}
}
