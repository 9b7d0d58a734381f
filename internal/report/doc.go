// Package report writes the auditor workbook: sheets of rows, streamed from
// the store, as XLSX, CSV, JSON or HTML. It knows nothing of the store or
// of what the sheets mean; the report command builds a [Workbook] from named
// queries and hands it to [Write] or [WriteFile].
//
// # Feeding it
//
// A [Sheet] is a name, its [Column]s and a [RowFunc] that pushes rows. From
// a *sql.Rows the function is a scan loop that reuses one slice:
//
//	Rows: func(yield func([]any) error) error {
//		rows, err := st.Query(ctx, "access", review) // one named query
//		if err != nil {
//			return err
//		}
//		defer rows.Close()
//		vals := make([]any, len(cols))
//		ptrs := make([]any, len(cols))
//		for i := range vals {
//			ptrs[i] = &vals[i]
//		}
//		for rows.Next() {
//			if err := rows.Scan(ptrs...); err != nil {
//				return err
//			}
//			if err := yield(vals); err != nil {
//				return err
//			}
//		}
//		return rows.Err()
//	},
//
// The writer copies nothing it does not need (only the first 200 rows, to
// size XLSX columns, and the rows an HTML sheet shows), so memory does not
// grow with the row count. Rows is called once per Write: writing two
// formats runs the query twice.
//
// Name columns after the view's columns (user_login, decided_at,
// evidence_id) so an auditor can match a sheet with `uar query`, and give
// each a [Kind]: Time for the store's RFC 3339 strings (real date cells),
// Risk for HIGH/MEDIUM/LOW, ID for hashes, ids and SQL, Integer for counts.
// A summary is [SummarySheet] with [Entry] values (section, item, value);
// the value's Go type picks its presentation, so pass a time.Time or an
// int, not a pre-formatted string, where a date or number is meant.
//
// # What each format does
//
//   - XLSX (excelize StreamWriter): bold frozen header, autofilter, widths
//     from the first rows, date cells shown as yyyy-mm-dd hh:mm:ss"Z", risk
//     fills, landscape fit-to-width printing with the header repeated. A
//     sheet longer than Options.MaxRowsPerSheet (default: Excel's 1,048,575
//     data rows) continues in "Access (2)", "Access (3)" ..., each with the
//     header; [SheetResult].Parts lists them.
//   - CSV: one file per sheet ("02-access.csv"), in a zip (Write, or
//     WriteFile to a .zip) or a folder (WriteFile to any other path).
//   - JSON: one streamed document, raw values; see writeJSON's comment.
//   - HTML: one self-contained page that prints to PDF; a sheet shows at
//     most Options.HTMLMaxRows rows and says so.
//
// # Guarantees
//
// Formula injection (CWE-1236): no XLSX cell is ever a formula (text is an
// inline string with quotePrefix), CSV text starting with = + - @ tab or CR
// gets a leading apostrophe, JSON carries raw values, HTML escapes
// everything.
//
// Determinism: the same Workbook gives byte-identical output. Nothing reads
// the clock: XLSX document times and every zip entry's time come from
// Workbook.Created, zip entries are sorted by name (excelize's own order
// is random), and nothing of the machine (paths, users, hosts) is written.
//
// Bounded memory: rows stream; excelize spills sheet XML to temporary files
// in Options.TmpDir beyond 16 MB per sheet, and the XLSX zip is spooled
// through a temporary file before it is written in sorted order.
package report
