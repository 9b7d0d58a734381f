package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
)

// Schema names of a Comparison: the earlier review's store is attached as
// "a", the later one's as "b". Comparison queries (queries/diff-*.sql)
// qualify every table and view with one of them.
const (
	SchemaFrom = "a"
	SchemaTo   = "b"
)

// Comparison is one connection on which the stores of two reviews are
// attached read-only as schemas "a" (from) and "b" (to), so a single SQL
// statement compares them through indexed lookups instead of loading either
// into memory. The two may be the same file (two reviews in one store) or
// two handed-over files; a view of an attached store reads that store's
// own tables.
//
// While a Comparison is open it holds the connection of the store it was
// opened on: run nothing else on that store until Close.
type Comparison struct {
	conn *sql.Conn
}

// Compare opens a comparison on a connection of s, attaching from's file as
// schema a and to's as schema b, both read-only (mode=ro: nothing can be
// written to either, whatever the SQL). s may be either store. Both must
// have been opened with Open, which checked that their migrations are this
// build's, so the views the comparison queries read exist in both.
func (s *Store) Compare(ctx context.Context, from, to *Store) (*Comparison, error) {
	if from == nil || to == nil {
		return nil, errors.New("store: compare: two stores are needed")
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: compare: %w", err)
	}
	c := &Comparison{conn: conn}
	for _, at := range []struct {
		schema string
		st     *Store
	}{{SchemaFrom, from}, {SchemaTo, to}} {
		// The file name is bound, never spliced; the schema name is one of
		// the two constants above.
		if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS `+at.schema, at.st.attach); err != nil {
			c.Close()
			return nil, fmt.Errorf("store: attach %s as %s: %w", at.st.path, at.schema, err)
		}
	}
	return c, nil
}

// readOnlyURI is an SQLite URI that opens path read-only.
func readOnlyURI(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro"
}

// immutableURI opens path read-only as a file nobody changes: no -wal or
// -shm is read or created (read-only media; see Open).
func immutableURI(path string) string {
	return readOnlyURI(path) + "&immutable=1"
}

// QueryEach runs a read query on the comparison and streams it as
// [Store.QueryEach] does.
func (c *Comparison) QueryEach(ctx context.Context, text string, args []any, columns func([]string) error, row func([]any) error) error {
	rows, err := c.conn.QueryContext(ctx, text, args...)
	if err != nil {
		return classify(err)
	}
	return eachRow(rows, columns, row)
}

// Explain runs EXPLAIN on text so broken comparison SQL is caught without
// running it.
func (c *Comparison) Explain(ctx context.Context, text string, args ...any) error {
	rows, err := c.conn.QueryContext(ctx, "EXPLAIN "+text, args...)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	return rows.Close()
}

// Close discards the connection, and with it both attachments: the store's
// next query gets a fresh connection that sees only its own file.
func (c *Comparison) Close() error {
	if c == nil || c.conn == nil {
		return nil
	}
	// Returning driver.ErrBadConn from Raw makes database/sql close the
	// connection instead of pooling it with the stores still attached.
	_ = c.conn.Raw(func(any) error { return driver.ErrBadConn })
	err := c.conn.Close()
	c.conn = nil
	if errors.Is(err, sql.ErrConnDone) {
		err = nil
	}
	return err
}
