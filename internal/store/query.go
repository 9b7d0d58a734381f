package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrReadOnly is wrapped by QueryEach (and Query) when SQLite refused a
// write because the store is open read-only.
var ErrReadOnly = errors.New("the store is open read-only")

// Result is a generic query result for `uar query`: column names and rows
// of values as SQLite returned them (int64, float64, string, nil).
type Result struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// Query runs a read query with bound arguments (positional or sql.Named)
// and returns every row. On a store opened ReadOnly, SQLite's query_only
// refuses any write. Use QueryEach for large results.
func (s *Store) Query(ctx context.Context, text string, args ...any) (*Result, error) {
	res := &Result{Rows: [][]any{}}
	err := s.QueryEach(ctx, text, args, func(cols []string) error {
		res.Columns = cols
		return nil
	}, func(row []any) error {
		res.Rows = append(res.Rows, append([]any(nil), row...))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// QueryEach runs a read query and streams it: columns is called once with
// the column names, then row for each row with its values as SQLite
// returned them (int64, float64, string, nil). The slice passed to row is
// reused: copy it to keep it.
func (s *Store) QueryEach(ctx context.Context, text string, args []any, columns func([]string) error, row func([]any) error) error {
	rows, err := s.db.QueryContext(ctx, text, args...)
	if err != nil {
		return classify(err)
	}
	return eachRow(rows, columns, row)
}

// eachRow streams rows (and closes them) for QueryEach.
func eachRow(rows *sql.Rows, columns func([]string) error, row func([]any) error) error {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	if err := columns(cols); err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		if err := row(vals); err != nil {
			return err
		}
	}
	return classify(rows.Err())
}

// Named is sql.Named, re-exported so callers need not import database/sql.
func Named(name string, v any) sql.NamedArg { return sql.Named(name, v) }

// Explain runs EXPLAIN on text so broken SQL is caught without running it.
func (s *Store) Explain(ctx context.Context, text string, args ...any) error {
	rows, err := s.db.QueryContext(ctx, "EXPLAIN "+text, args...)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	return rows.Close()
}
