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
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrNotExist is returned by Open when the store file does not exist and
// Options.Create is false.
var ErrNotExist = errors.New("store does not exist")

// ErrNotFound is returned by lookups that find no row.
var ErrNotFound = errors.New("not found")

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
	// Create the file (mode 0600) and apply migrations when it is missing.
	Create bool
	// ReadOnly opens the file with mode=ro and query_only, for auditors and
	// `uar query --sql`; no migration is applied and no write can succeed.
	ReadOnly bool
	// Now is the clock captured by each transaction; required for writes.
	Now func() time.Time
	// BusyTimeout is how long a writer waits for another process's lock.
	BusyTimeout time.Duration
}

// Store is an open evidence store.
type Store struct {
	db       *sql.DB
	path     string
	now      func() time.Time
	readOnly bool
}

// Open opens (and, for writers, migrates) the store at path. It returns an
// error wrapping ErrNotExist if the file is missing and opts.Create is
// false, so that a mistyped --db never creates an empty store.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: no path given")
	}
	if _, err := os.Stat(path); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("store: %w", err)
		}
		if !opts.Create || opts.ReadOnly {
			return nil, fmt.Errorf("store %s: %w", path, ErrNotExist)
		}
		// Create with 0600 before SQLite does: evidence is confidential.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("store: create %s: %w", path, err)
		}
		f.Close()
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	if opts.ReadOnly {
		q.Set("mode", "ro")
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		// A 16 MiB page cache (the default is 2 MiB) keeps a large snapshot transaction from
		// spilling dirty pages to the WAL one by one.
		q.Add("_pragma", "cache_size(-16384)")
		q.Set("_txlock", "immediate")
	}
	q.Add("_pragma", "foreign_keys(ON)")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path, now: opts.Now, readOnly: opts.ReadOnly}
	if s.now == nil {
		s.now = func() time.Time { panic("store: no clock") }
	}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	if s.readOnly {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n); err != nil {
			return fmt.Errorf("store: open %s: %w", s.path, err)
		}
		if n == 0 {
			return fmt.Errorf("store %s: empty file, not a uar store", s.path)
		}
		return s.checkMigrations(ctx, false)
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	if mode != "wal" {
		return fmt.Errorf("store: %s: journal_mode is %q, want wal", s.path, mode)
	}
	return s.checkMigrations(ctx, true)
}

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
		if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
			return fmt.Errorf("store: create schema_migrations: %w", err)
		}
	}
	applied := map[string]string{}
	rows, err := s.db.QueryContext(ctx, `SELECT name, checksum FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("store %s: not a uar store: %w", s.path, err)
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
			return fmt.Errorf("store: apply migration %s: %w", m.Name, err)
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

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

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
func (s *Store) WithTx(ctx context.Context, fn func(*Tx) error) error {
	if s.readOnly {
		return errors.New("store: opened read-only")
	}
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, Now: s.now().UTC(), stmts: map[string]*sql.Stmt{}}
	defer func() {
		for _, st := range tx.stmts {
			st.Close()
		}
		_ = sqlTx.Rollback()
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
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
