package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/store"
	"github.com/uar-dev/uar/queries"
)

type queryOptions struct {
	list   bool
	sql    string
	params []string
}

const queryLong = `Run a named, versioned query from the queries/ folder compiled into uar, or
read-only SQL of your own, against the evidence store.

Named queries are plain SQL files an auditor can read; their parameters are
bound (:name), never spliced into the text. --sql opens the store read-only:
any attempt to write is refused by SQLite itself.

Output: an aligned table on a terminal, tab-separated values when piped, one
JSON document with --json ({"columns":[...],"rows":[[...]]}).

Examples:
  uar query --list
  uar query access --param review=2026-Q4 --db uar.db
  uar query --sql "SELECT count(*) FROM v_access" --db uar.db --json

EXIT STATUS
  0  ok
  1  the query failed
  2  usage error: unknown query or parameter, missing store, a write attempt`

func newQueryCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &queryOptions{}
	cmd := &cobra.Command{
		Use:   "query [NAME]",
		Short: "Run a named query or read-only SQL against the store",
		Long:  queryLong,
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runQuery(c.Context(), env, g, o, args)
		},
	}
	cmd.Flags().BoolVar(&o.list, "list", false, "list the named queries")
	cmd.Flags().StringVar(&o.sql, "sql", "", "run this read-only SQL instead of a named query")
	cmd.Flags().StringArrayVar(&o.params, "param", nil, "a named query's parameter as k=v (repeatable)")
	return cmd
}

func runQuery(ctx context.Context, env *Env, g *globalOptions, o *queryOptions, args []string) error {
	if o.list {
		if len(args) > 0 || o.sql != "" {
			return usageErrorf("--list takes no query name and no --sql")
		}
		return listQueries(env, g)
	}
	var text string
	var bind []any
	compare := false
	switch {
	case o.sql != "" && len(args) > 0:
		return usageErrorf("give a query NAME or --sql, not both")
	case o.sql != "":
		if len(o.params) > 0 {
			return usageErrorf("--param applies to named queries only")
		}
		text = o.sql
	case len(args) == 1:
		q, ok := queries.Lookup(args[0])
		if !ok {
			return WithHint(usageErrorf("unknown query %q", args[0]), "run 'uar query --list' to see the named queries")
		}
		text, compare = q.SQL, q.Compare
		var err error
		if bind, err = bindParams(env, q, o.params); err != nil {
			return err
		}
	default:
		return usageErrorf("give a query NAME, --sql or --list")
	}
	st, err := openReadOnly(ctx, env, g)
	if err != nil {
		return err
	}
	defer st.Close()
	each := st.QueryEach
	if compare {
		// A comparison query reads schemas a and b: here both are this
		// store (two reviews of it); uar diff compares two stores.
		cmp, err := st.Compare(ctx, st, st)
		if err != nil {
			return err
		}
		defer cmp.Close()
		each = cmp.QueryEach
	}
	err = streamResult(ctx, env, g, each, text, bind)
	if err != nil {
		if errors.Is(err, store.ErrReadOnly) {
			return usageErrorf("query: the store is opened read-only; writes are refused (%v)", err)
		}
		return fmt.Errorf("query: %w", err)
	}
	return nil
}

func bindParams(env *Env, q queries.Query, kvs []string) ([]any, error) {
	given := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--param %q: want k=v", kv)
		}
		given[k] = v
	}
	declared := map[string]bool{}
	var bind []any
	for _, p := range q.Params {
		declared[p.Name] = true
		v, ok := given[p.Name]
		if !ok && p.Name == "review" {
			v = defaultReview(env.Now())
		}
		bind = append(bind, store.Named(p.Name, v))
	}
	for k := range given {
		if !declared[k] {
			return nil, usageErrorf("query %s has no parameter %q", q.Name, k)
		}
	}
	return bind, nil
}

func listQueries(env *Env, g *globalOptions) error {
	qs := queries.List()
	if g.json {
		type p struct {
			Name        string `json:"name"`
			Description string `json:"description"`
		}
		type q struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			Params      []p    `json:"params"`
		}
		out := []q{}
		for _, x := range qs {
			ps := []p{}
			for _, y := range x.Params {
				ps = append(ps, p{y.Name, y.Description})
			}
			out = append(out, q{x.Name, x.Description, ps})
		}
		return writeJSON(env.Stdout, map[string]any{"queries": out})
	}
	var rows [][]string
	for _, x := range qs {
		var ps []string
		for _, y := range x.Params {
			ps = append(ps, y.Name)
		}
		rows = append(rows, []string{x.Name, x.Description, strings.Join(ps, ",")})
	}
	return writeTable(env.Stdout, env.StdoutTTY, []string{"NAME", "DESCRIPTION", "PARAMS"}, rows)
}

// queryEachFunc is Store.QueryEach or Comparison.QueryEach.
type queryEachFunc func(ctx context.Context, text string, args []any, columns func([]string) error, row func([]any) error) error

// streamResult prints a query's rows as they come: TSV when piped, the
// JSON document written row by row, so a 500,000-row result never sits in
// memory. Only the aligned terminal table is buffered (to align it).
func streamResult(ctx context.Context, env *Env, g *globalOptions, each queryEachFunc, text string, bind []any) error {
	w := bufio.NewWriterSize(env.Stdout, 64<<10)
	var header []string
	var buffered [][]string
	n := 0
	err := each(ctx, text, bind, func(cols []string) error {
		header = cols
		if g.json {
			b, err := json.Marshal(cols)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "{\n  \"columns\": %s,\n  \"rows\": [", b)
		} else if !env.StdoutTTY {
			return writeTSVRow(w, cols)
		}
		return nil
	}, func(row []any) error {
		switch {
		case g.json:
			b, err := json.Marshal(row)
			if err != nil {
				return err
			}
			if n > 0 {
				w.WriteByte(',')
			}
			w.WriteString("\n    ")
			w.Write(b)
		case env.StdoutTTY:
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = cellString(v)
			}
			buffered = append(buffered, cells)
		default:
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = cellString(v)
			}
			if err := writeTSVRow(w, cells); err != nil {
				return err
			}
		}
		n++
		return nil
	})
	if err != nil {
		return err
	}
	switch {
	case g.json:
		if n > 0 {
			w.WriteString("\n  ")
		}
		w.WriteString("]\n}\n")
	case env.StdoutTTY:
		if err := writeTable(w, true, header, buffered); err != nil {
			return err
		}
	}
	return w.Flush()
}
