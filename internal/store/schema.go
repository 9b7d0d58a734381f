package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// SchemaObject is one row of sqlite_master: a table, view, trigger or
// index. SQL is normalised (runs of white space collapsed) and empty for
// SQLite's automatic indexes.
type SchemaObject struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	TblName string `json:"tbl_name"`
	SQL     string `json:"sql"`
}

// SchemaDifference is one way the store's schema differs from what the
// embedded migrations create.
type SchemaDifference struct {
	Type string `json:"type"` // table, view, trigger, index
	Name string `json:"name"`
	What string `json:"what"` // "missing", "unexpected", "definition differs", ...
}

func (d SchemaDifference) String() string { return d.Type + " " + d.Name + ": " + d.What }

// ignoredSchemaObject reports objects whose presence says nothing about
// what an auditor reads: the statistics tables ANALYZE (or PRAGMA
// optimize) creates only steer the query planner.
func ignoredSchemaObject(name string) bool {
	return strings.HasPrefix(name, "sqlite_stat")
}

// NormalizeSQL collapses white space runs to one space and trims, so that
// only a change of meaning (or of a literal) is a difference.
func NormalizeSQL(s string) string { return strings.Join(strings.Fields(s), " ") }

func readSchema(ctx context.Context, q querier) ([]SchemaObject, error) {
	rows, err := q.QueryContext(ctx, `SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		return nil, fmt.Errorf("store: read schema: %w", err)
	}
	defer rows.Close()
	var out []SchemaObject
	for rows.Next() {
		var o SchemaObject
		if err := rows.Scan(&o.Type, &o.Name, &o.TblName, &o.SQL); err != nil {
			return nil, err
		}
		if ignoredSchemaObject(o.Name) {
			continue
		}
		o.SQL = NormalizeSQL(o.SQL)
		out = append(out, o)
	}
	return out, rows.Err()
}

// Schema returns the store's tables, views, triggers and indexes (the
// sqlite_master rows, SQLite's statistics tables left out), ordered by
// type and name.
func (s *Store) Schema(ctx context.Context) ([]SchemaObject, error) { return readSchema(ctx, s.db) }

var (
	refOnce   sync.Once
	refSchema []SchemaObject
	refErr    error
)

// ReferenceSchema returns what the embedded migrations create: it builds
// a fresh in-memory database exactly as Open builds a new store
// (schema_migrations, then every migration in order) and reads its
// sqlite_master. The result is computed once per process.
func ReferenceSchema(ctx context.Context) ([]SchemaObject, error) {
	refOnce.Do(func() {
		db, err := sql.Open("sqlite", "file:uar-reference-schema?mode=memory")
		if err != nil {
			refErr = err
			return
		}
		defer db.Close()
		db.SetMaxOpenConns(1) // one connection: one in-memory database
		if _, err := db.ExecContext(ctx, schemaMigrationsDDL); err != nil {
			refErr = fmt.Errorf("store: reference schema: %w", err)
			return
		}
		for _, m := range Migrations() {
			if _, err := db.ExecContext(ctx, m.SQL); err != nil {
				refErr = fmt.Errorf("store: reference schema: migration %s: %w", m.Name, err)
				return
			}
		}
		refSchema, refErr = readSchema(ctx, db)
	})
	return slices.Clone(refSchema), refErr
}

// SchemaDiff compares the store's schema with ReferenceSchema and returns
// every difference, ordered by type and name: a missing object (a dropped
// append-only trigger), an unexpected one (an extra trigger or index), or
// a changed definition (a redefined view, an altered index). Nothing is
// returned for a store that matches.
func (s *Store) SchemaDiff(ctx context.Context) ([]SchemaDifference, error) {
	want, err := ReferenceSchema(ctx)
	if err != nil {
		return nil, err
	}
	got, err := s.Schema(ctx)
	if err != nil {
		return nil, err
	}
	key := func(o SchemaObject) string { return o.Type + "\x00" + o.Name }
	have := map[string]SchemaObject{}
	for _, o := range got {
		have[key(o)] = o
	}
	var out []SchemaDifference
	for _, w := range want {
		g, ok := have[key(w)]
		delete(have, key(w))
		switch {
		case !ok:
			out = append(out, SchemaDifference{Type: w.Type, Name: w.Name, What: "missing (the migrations create it)"})
		case g.TblName != w.TblName:
			out = append(out, SchemaDifference{Type: w.Type, Name: w.Name, What: fmt.Sprintf("belongs to %s, the migrations put it on %s", g.TblName, w.TblName)})
		case g.SQL != w.SQL:
			out = append(out, SchemaDifference{Type: w.Type, Name: w.Name, What: "definition differs from the migrations: " + clipSQL(g.SQL)})
		}
	}
	for _, g := range got {
		if _, extra := have[key(g)]; extra {
			what := "unexpected (no migration creates it)"
			if g.SQL != "" {
				what += ": " + clipSQL(g.SQL)
			}
			out = append(out, SchemaDifference{Type: g.Type, Name: g.Name, What: what})
		}
	}
	slices.SortFunc(out, func(a, b SchemaDifference) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

func clipSQL(s string) string {
	if len(s) > 160 {
		return s[:160] + "..."
	}
	return s
}
