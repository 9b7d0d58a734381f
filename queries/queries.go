// Package queries embeds uar's named, versioned SQL: the read queries that
// `uar query NAME` runs and that reports are built from. Each file starts
// with a header comment: the first line is "-- <name>: <one-line
// description>", and "-- param: <name> <description>" lines list its
// named parameters (bound as :name, never spliced into the text). A
// "-- compare: ..." line marks a query that compares two reviews: it reads
// schema a (the earlier review's store) and schema b (the later one's),
// which `uar diff` attaches (see store.Comparison).
// Auditors can read these files to see exactly what a report selected.
package queries

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.sql
var FS embed.FS

// Query is one named query.
type Query struct {
	Name        string
	Description string
	Params      []Param
	// Compare is set for a comparison query: it reads schemas a and b,
	// attached by store.Comparison, not the store's own tables.
	Compare bool
	SQL     string
}

// Param is one named parameter a query takes.
type Param struct {
	Name        string
	Description string
}

var all = load()

func load() map[string]Query {
	ents, err := fs.Glob(FS, "*.sql")
	if err != nil {
		panic(err)
	}
	out := map[string]Query{}
	for _, e := range ents {
		b, err := FS.ReadFile(e)
		if err != nil {
			panic(err)
		}
		q, err := parse(strings.TrimSuffix(e, ".sql"), string(b))
		if err != nil {
			panic(err) // caught by the package test before release
		}
		out[q.Name] = q
	}
	return out
}

func parse(name, text string) (Query, error) {
	q := Query{Name: name, SQL: text}
	for i, line := range strings.Split(text, "\n") {
		l, ok := strings.CutPrefix(strings.TrimSpace(line), "--")
		if !ok {
			break
		}
		l = strings.TrimSpace(l)
		if i == 0 {
			n, d, found := strings.Cut(l, ":")
			if !found || strings.TrimSpace(n) != name {
				return q, fmt.Errorf("queries: %s.sql: first line must be \"-- %s: description\"", name, name)
			}
			q.Description = strings.TrimSpace(d)
			continue
		}
		if _, ok := strings.CutPrefix(l, "compare:"); ok {
			q.Compare = true
			continue
		}
		if p, ok := strings.CutPrefix(l, "param:"); ok {
			pn, pd, _ := strings.Cut(strings.TrimSpace(p), " ")
			q.Params = append(q.Params, Param{Name: pn, Description: strings.TrimSpace(pd)})
		}
	}
	if q.Description == "" {
		return q, fmt.Errorf("queries: %s.sql: missing description", name)
	}
	return q, nil
}

// Get returns the named query; it panics if there is none (names are
// compile-time constants in the code; the test checks every one exists).
func Get(name string) Query {
	q, ok := all[name]
	if !ok {
		panic("queries: unknown query " + name)
	}
	return q
}

// Lookup returns the named query and whether it exists (for user input).
func Lookup(name string) (Query, bool) {
	q, ok := all[name]
	return q, ok
}

// List returns every query sorted by name.
func List() []Query {
	out := make([]Query, 0, len(all))
	for _, q := range all {
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
