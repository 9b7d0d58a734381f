package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Result is a generic query result for `uar query`: column names and rows
// of values as SQLite returned them (int64, float64, string, nil).
type Result struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// Query runs a read query with bound arguments (positional or sql.Named).
// On a store opened ReadOnly, SQLite's query_only refuses any write.
func (s *Store) Query(ctx context.Context, text string, args ...any) (*Result, error) {
	rows, err := s.db.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	res := &Result{Columns: cols, Rows: [][]any{}}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		res.Rows = append(res.Rows, vals)
	}
	return res, rows.Err()
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
