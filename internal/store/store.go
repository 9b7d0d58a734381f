// Package store is uar's SQLite evidence store: opening the file with the
// right pragmas, applying the embedded forward-only migrations, and typed
// queries. It is the only package that executes SQL.
//
// # Conventions
//
// Per-connection pragmas live in the DSN, busy_timeout first, because a
// pool-wide PRAGMA reaches only one connection and the connection must
// block on busy before WAL mode is set. Writes go through [Store.WithTx]
// on a single-connection pool with _txlock=immediate, so two processes
// writing one store serialise at BEGIN instead of failing mid-transaction.
// Times are stored as UTC RFC 3339 text.
package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrNotExist is returned by Open when the store file does not exist and
// Options.Create is false.
var ErrNotExist = errors.New("store does not exist")

// ErrNotUARStore is returned by Open for an existing file that is not a
// uar store: not SQLite at all, or a SQLite database with objects but
// without uar's schema_migrations table. Such a file is never migrated
// (that would add uar's tables to someone else's database).
var ErrNotUARStore = errors.New("not a uar store")

// ErrNotFound is returned by lookups that find no row.
var ErrNotFound = errors.New("not found")

// ErrDiskFull wraps SQLite's SQLITE_FULL: the disk (or the file system's
// quota) is full. The transaction was rolled back; nothing partial was
// written. cli records "disk full" for the run instead of letting the next
// command call it a crash.
var ErrDiskFull = errors.New("disk full")

// DefaultBusyTimeout is how long a writer waits for another process's
// write lock. The longest write transaction (the final transaction of a
// 500,000-membership snapshot) takes about 25 s; waiting longer than that
// lets two writers take turns instead of failing.
const DefaultBusyTimeout = 60 * time.Second

// TimeFormat is the one layout used for every time stored.
const TimeFormat = time.RFC3339

// FormatTime renders t as UTC RFC 3339; the zero time renders as "".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

// ParseTime is the inverse of FormatTime.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(TimeFormat, s)
	return t.UTC(), err
}

// Options controls Open.
type Options struct {
	// Create the file (mode 0600) and apply migrations when it is missing
	// or empty (0 bytes, "adopted"; its mode is then set to 0600 too).
	Create bool
	// ReadOnly opens the file for auditors and `uar query --sql`: no
	// migration is applied, no write can succeed, and nothing is ever
	// created beside the file (see [Open]).
	ReadOnly bool
	// Now is the clock captured by each transaction; required for writes.
	Now func() time.Time
	// BusyTimeout is how long a writer waits for another process's lock;
	// 0 means DefaultBusyTimeout.
	BusyTimeout time.Duration
}

// Store is an open evidence store.
type Store struct {
	db       *sql.DB
	path     string
	now      func() time.Time
	readOnly bool
	busy     time.Duration
	cleanup  func() // removes a private read-only copy, if one was made
	// attach is the URI another connection ATTACHes this store by
	// (Compare): read-only, and for a read-only store the way Open found
	// to read it (immutable, mode=ro or the private copy), so a comparison
	// works on read-only media too.
	attach string
}

// Open opens (and, for writers, migrates) the store at path.
//
// Errors: ErrNotExist (wrapped) when the file is missing and opts.Create
// is false, so that a mistyped --db never creates an empty store;
// ErrNotUARStore (wrapped) when an existing file is not a uar store, which
// is then left untouched; ErrDiskFull (wrapped) when a migration ran out
// of space.
//
// # Read-only
//
// With opts.ReadOnly the file is opened so that it works on read-only
// media (a 0444 file in a 0555 folder) and never leaves a -wal or -shm
// file beside it, also in a writable folder:
//
//   - no -wal with frames and not both -wal and -shm present (nobody has
//     the store open, nothing un-checkpointed): immutable=1, which reads
//     the main file only and creates nothing;
//   - -wal and -shm both present (a live writer, or a crash): mode=ro, which
//     reads the log through the existing files and creates none;
//   - a -wal with frames but no -shm (a crash, copied without its -shm):
//     the file and its log are copied to a private temporary folder and
//     opened there, so the frames are read and nothing is written beside
//     the original; Close removes the copy.
//
// If mode=ro still fails (SQLite cannot use the -shm), Open falls back to
// immutable=1 when there are no frames to lose, else to the private copy.
// An immutable reader assumes the file does not change while it reads; it
// is chosen only when no process has the store open (a live connection
// always has both -wal and -shm), so only a writer that starts during the
// read can disturb it (a checkpoint rewriting pages under the reader; run
// verify again, or on a copy). An auditor's copy at rest is never
// affected.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: no path given")
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	created, adopt := false, false
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !opts.Create || opts.ReadOnly {
			return nil, fmt.Errorf("store %s: %w", path, ErrNotExist)
		}
		// Create with 0600 before SQLite does: evidence is confidential.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("store: create %s: %w", path, err)
		}
		f.Close()
		created = true
	case err != nil:
		return nil, fmt.Errorf("store: %w", err)
	case fi.IsDir():
		return nil, fmt.Errorf("store %s: is a directory, not a uar store: %w", path, ErrNotUARStore)
	}
	if opts.ReadOnly {
		return openReadOnly(ctx, path, opts.Now, busy)
	}
	if !created {
		walSize, _ := fileSize(path + "-wal")
		if fi.Size() == 0 && walSize == 0 { // (a crash before the first checkpoint leaves a 0-byte file and a -wal)
			if !opts.Create {
				return nil, fmt.Errorf("store %s: empty file: %w", path, ErrNotExist)
			}
			adopt = true
		} else if err := probeUARStore(ctx, path, busy); err != nil {
			return nil, err
		}
	}
	if created || adopt {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("store: %s: %w", path, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// A 16 MiB page cache (the default is 2 MiB) keeps a large snapshot
	// transaction from spilling dirty pages to the WAL one by one.
	q.Add("_pragma", "cache_size(-16384)")
	// Statement journals and sorter temporaries stay in memory: a
	// multi-row insert or a digest's sort must not spill to temp files.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "foreign_keys(ON)")
	return openDB(ctx, path, fileDSN(path, q), opts.Now, busy, false, nil)
}

func fileDSN(path string, q url.Values) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

func openDB(ctx context.Context, path, dsn string, now func() time.Time, busy time.Duration, readOnly bool, cleanup func()) (*Store, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return newStore(ctx, db, path, now, busy, readOnly, cleanup, readOnlyURI(path))
}

func newStore(ctx context.Context, db *sql.DB, path string, now func() time.Time, busy time.Duration, readOnly bool, cleanup func(), attach string) (*Store, error) {
	s := &Store{db: db, path: path, now: now, readOnly: readOnly, busy: busy, cleanup: cleanup, attach: attach}
	if s.now == nil {
		s.now = func() time.Time { panic("store: no clock") }
	}
	if err := s.init(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// sqliteHeader starts every SQLite 3 database file.
const sqliteHeader = "SQLite format 3\x00"

// probeUARStore refuses an existing non-empty file that is not a uar
// store, before any pragma (journal_mode=WAL is a write) touches it.
func probeUARStore(ctx context.Context, path string, busy time.Duration) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	hdr := make([]byte, len(sqliteHeader))
	_, err = io.ReadFull(f, hdr)
	f.Close()
	if err != nil || string(hdr) != sqliteHeader {
		return fmt.Errorf("store %s: not a SQLite database; refusing to use it (give --db a new file or an existing uar store): %w", path, ErrNotUARStore)
	}
	db, cleanup, _, err := readOnlyDB(ctx, path, busy, false)
	if err != nil {
		return err
	}
	defer cleanup()
	defer db.Close()
	var objects, marker int
	err = db.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE type = 'table' AND name = 'schema_migrations') FROM sqlite_master`).Scan(&objects, &marker)
	if err != nil {
		return fmt.Errorf("store %s: %w", path, classify(err))
	}
	if objects > 0 && marker == 0 {
		return fmt.Errorf("store %s: a SQLite database without uar's schema_migrations table; refusing to add uar's tables to it (give --db a new file or an existing uar store): %w", path, ErrNotUARStore)
	}
	return nil
}

// openReadOnly opens path for reading only; see Open.
func openReadOnly(ctx context.Context, path string, now func() time.Time, busy time.Duration) (*Store, error) {
	db, cleanup, attach, err := readOnlyDB(ctx, path, busy, true)
	if err != nil {
		return nil, err
	}
	return newStore(ctx, db, path, now, busy, true, cleanup, attach)
}

// readOnlyDB opens path read-only following the plan described on Open,
// and checks that the first read works. cleanup removes any private copy
// and must be called once the database is closed. Without mayCopy (the
// probe before a writer opens the file) un-checkpointed frames that
// cannot be read in place are ignored (immutable) instead of copied: the
// probe only asks whether the file is a uar store, and the writer then
// recovers the log itself.
func readOnlyDB(ctx context.Context, path string, busy time.Duration, mayCopy bool) (*sql.DB, func(), string, error) {
	walSize, walExists := fileSize(path + "-wal")
	_, shmExists := fileSize(path + "-shm")
	frames := walExists && walSize > 0
	base := func() url.Values {
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
		q.Add("_pragma", "query_only(1)")
		return q
	}
	immutable := func() url.Values {
		q := base()
		q.Set("mode", "ro")
		q.Set("immutable", "1")
		return q
	}
	nothing := func() {}
	try := func(dsn string) (*sql.DB, error) {
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	}
	if !frames && !(walExists && shmExists) || !mayCopy && !shmExists {
		db, err := try(fileDSN(path, immutable()))
		if err != nil {
			return nil, nil, "", fmt.Errorf("store: open %s read-only: %w", path, classify(err))
		}
		return db, nothing, immutableURI(path), nil
	}
	if shmExists {
		q := base()
		q.Set("mode", "ro")
		if db, err := try(fileDSN(path, q)); err == nil {
			return db, nothing, readOnlyURI(path), nil
		}
		if !frames || !mayCopy {
			db, err := try(fileDSN(path, immutable()))
			if err != nil {
				return nil, nil, "", fmt.Errorf("store: open %s read-only: %w", path, classify(err))
			}
			return db, nothing, immutableURI(path), nil
		}
	}
	// Un-checkpointed frames that cannot be read in place: read a private
	// copy of the file and its log, never the original's folder.
	dir, err := os.MkdirTemp("", "uar-ro-")
	if err != nil {
		return nil, nil, "", fmt.Errorf("store: open %s read-only: %s-wal holds uncommitted pages and cannot be read in place: %w", path, path, err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	cp := filepath.Join(dir, filepath.Base(path))
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(path+suffix, cp+suffix); err != nil {
			cleanup()
			return nil, nil, "", fmt.Errorf("store: open %s read-only: copy: %w", path, err)
		}
	}
	q := base()
	q.Set("mode", "rw") // the private copy may replay its log; the original is not touched
	db, err := try(fileDSN(cp, q))
	if err != nil {
		cleanup()
		return nil, nil, "", fmt.Errorf("store: open %s read-only (private copy): %w", path, classify(err))
	}
	return db, cleanup, readOnlyURI(cp), nil
}

func fileSize(p string) (int64, bool) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, false
	}
	return fi.Size(), true
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (s *Store) init(ctx context.Context) error {
	if s.readOnly {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n); err != nil {
			return fmt.Errorf("store: open %s: %w", s.path, err)
		}
		if n == 0 {
			return fmt.Errorf("store %s: empty file: %w", s.path, ErrNotUARStore)
		}
		return s.checkMigrations(ctx, false)
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, classify(err))
	}
	if mode != "wal" {
		return fmt.Errorf("store: %s: journal_mode is %q, want wal", s.path, mode)
	}
	return s.checkMigrations(ctx, true)
}

// schemaMigrationsDDL creates the table that records applied migrations.
// It is created by code, not by a migration; the schema check (see
// ReferenceSchema) builds the same table the same way.
const schemaMigrationsDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
			name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`

// Migration is one embedded schema step.
type Migration struct {
	Name     string
	Checksum string // sha256 of the file
	SQL      string
}

// Migrations returns the embedded migrations in the order they apply.
func Migrations() []Migration {
	ents, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		panic(err)
	}
	var ms []Migration
	for _, e := range ents {
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{Name: e.Name(), Checksum: hex.EncodeToString(sum[:]), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	return ms
}

func (s *Store) checkMigrations(ctx context.Context, apply bool) error {
	if apply {
		if _, err := s.db.ExecContext(ctx, schemaMigrationsDDL); err != nil {
			return fmt.Errorf("store: create schema_migrations: %w", classify(err))
		}
	}
	applied := map[string]string{}
	rows, err := s.db.QueryContext(ctx, `SELECT name, checksum FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("store %s: %w: %v", s.path, ErrNotUARStore, err)
	}
	for rows.Next() {
		var n, c string
		if err := rows.Scan(&n, &c); err != nil {
			rows.Close()
			return err
		}
		applied[n] = c
	}
	rows.Close()
	known := map[string]bool{}
	for _, m := range Migrations() {
		known[m.Name] = true
		if c, ok := applied[m.Name]; ok {
			if c != m.Checksum {
				return fmt.Errorf("store: migration %s was applied with checksum %s but this build has %s", m.Name, c, m.Checksum)
			}
			continue
		}
		if !apply {
			return fmt.Errorf("store %s: migration %s not applied; open it once with a writing command of this version", s.path, m.Name)
		}
		err := s.WithTx(ctx, func(tx *Tx) error {
			if _, err := tx.tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.tx.ExecContext(ctx, `INSERT INTO schema_migrations(name, checksum, applied_at) VALUES (?,?,?)`,
				m.Name, m.Checksum, FormatTime(tx.Now))
			return err
		})
		if err != nil {
			return fmt.Errorf("store: apply migration %s: %w", m.Name, classify(err))
		}
	}
	for n := range applied {
		if !known[n] {
			return fmt.Errorf("store %s: migration %s is newer than this uar; upgrade uar", s.path, n)
		}
	}
	return nil
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Close closes the store (and removes a private read-only copy).
func (s *Store) Close() error {
	err := s.db.Close()
	if s.cleanup != nil {
		s.cleanup()
		s.cleanup = nil
	}
	return err
}

// Tx is a write transaction. Now is captured once when it begins, so every
// row written in one transaction carries the same time.
type Tx struct {
	tx    *sql.Tx
	Now   time.Time
	stmts map[string]*sql.Stmt
}

// WithTx runs fn in a transaction and commits if fn returns nil. The
// transaction takes the write lock at BEGIN (immediate), waiting up to the
// busy timeout for another process.
//
// Errors: a *BusyError when another process still held the lock after the
// busy timeout (naming its running run, when runs has one), never a raw
// SQLITE_BUSY; an error wrapping ErrDiskFull when SQLite ran out of space
// (the transaction is rolled back); otherwise fn's error, or the commit's.
func (s *Store) WithTx(ctx context.Context, fn func(*Tx) error) error {
	if s.readOnly {
		return errors.New("store: opened read-only")
	}
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		if isBusy(err) {
			return s.busyError(ctx, err)
		}
		return fmt.Errorf("store: begin: %w", classify(err))
	}
	tx := &Tx{tx: sqlTx, Now: s.now().UTC(), stmts: map[string]*sql.Stmt{}}
	done := false
	finish := func() {
		if done {
			return
		}
		done = true
		for _, st := range tx.stmts {
			st.Close()
		}
		_ = sqlTx.Rollback()
	}
	defer finish()
	if err := fn(tx); err != nil {
		finish() // release the connection before looking up the lock holder
		if isBusy(err) {
			return s.busyError(ctx, err)
		}
		return classify(err)
	}
	if err := sqlTx.Commit(); err != nil {
		finish()
		if isBusy(err) {
			return s.busyError(ctx, err)
		}
		return fmt.Errorf("store: commit: %w", classify(err))
	}
	return nil
}

// BusyError says the store is being written by another uar process: a
// writing command found a live run on its host at start (see
// [Tx.LiveRuns]), or the write lock stayed taken past the busy timeout.
// RunID is empty when no running run could be named.
type BusyError struct {
	Path      string
	RunID     string
	Command   string
	PID       int
	Host      string
	StartedAt string
	Waited    time.Duration // how long SQLite waited for the lock; 0 when refused at run start
	Err       error         // the SQLite error, when there was one
}

func (e *BusyError) Error() string {
	var b strings.Builder
	if e.RunID == "" {
		fmt.Fprintf(&b, "store %s is locked by another process", e.Path)
	} else {
		fmt.Fprintf(&b, "store %s is in use by run %s (uar %s, pid %d on %s, started %s)", e.Path, e.RunID, e.Command, e.PID, e.Host, e.StartedAt)
	}
	if e.Waited > 0 {
		fmt.Fprintf(&b, "; waited %s for it", e.Waited)
	}
	b.WriteString("; run again when it has finished")
	return b.String()
}

func (e *BusyError) Unwrap() error { return e.Err }

// busyError names the newest running run, read outside any transaction
// (readers are not blocked by a writer in WAL mode).
func (s *Store) busyError(ctx context.Context, cause error) error {
	be := &BusyError{Path: s.path, Waited: s.busy, Err: cause}
	row := s.db.QueryRowContext(context.WithoutCancel(ctx), `SELECT id, command, pid, host, started_at FROM runs
		WHERE status = 'running' ORDER BY started_at DESC, id DESC LIMIT 1`)
	_ = row.Scan(&be.RunID, &be.Command, &be.PID, &be.Host, &be.StartedAt) // none found: the generic message
	return be
}

// stmt returns a statement prepared once per transaction, for bulk inserts.
func (tx *Tx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := tx.stmts[q]; ok {
		return st, nil
	}
	st, err := tx.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	tx.stmts[q] = st
	return st, nil
}

// Exec runs one bound statement in the transaction. Callers outside store
// use it only for test tampering; domain writes have typed methods.
func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := tx.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// placeholders returns "?,?,...,?" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// classify maps SQLite result codes that callers act on to this package's
// errors: SQLITE_FULL to ErrDiskFull, SQLITE_READONLY (a write on a store
// opened read-only) to ErrReadOnly. Other errors pass through.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrDiskFull) || errors.Is(err, ErrReadOnly) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return fmt.Errorf("%w: %w", ErrDiskFull, err)
		case sqlite3.SQLITE_READONLY:
			return fmt.Errorf("%w: %w", ErrReadOnly, err)
		}
	}
	return err
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (another connection
// holds the lock past the busy timeout).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}
