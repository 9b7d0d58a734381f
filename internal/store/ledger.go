package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// EvidenceRow is one ledger row exactly as stored. The evidence package
// computes the hashes; the store only persists and reads rows.
type EvidenceRow struct {
	Seq            int64  `json:"seq"`
	ID             string `json:"id"`
	RunID          string `json:"run_id"`
	Review         string `json:"review"`
	Kind           string `json:"kind"` // call, derive, file
	SourceSystem   string `json:"source_system"`
	QueryName      string `json:"query_name"`
	QueryText      string `json:"query_text"`
	QueryParams    string `json:"query_params"` // canonical JSON
	ExecutedAt     string `json:"executed_at"`
	SourceTime     string `json:"source_time"`
	ExecutedBy     string `json:"executed_by"`
	ResultRowCount int64  `json:"result_row_count"`
	ResultHash     string `json:"result_hash"`
	BlobHash       string `json:"blob_hash"`
	PrevHash       string `json:"prev_hash"`
	EntryHash      string `json:"-"`
}

const evidenceCols = `seq, id, run_id, review, kind, source_system, query_name, query_text, query_params,
	executed_at, source_time, executed_by, result_row_count, result_hash, blob_hash, prev_hash, entry_hash`

func scanEvidence(sc interface{ Scan(...any) error }) (EvidenceRow, error) {
	var r EvidenceRow
	err := sc.Scan(&r.Seq, &r.ID, &r.RunID, &r.Review, &r.Kind, &r.SourceSystem, &r.QueryName, &r.QueryText,
		&r.QueryParams, &r.ExecutedAt, &r.SourceTime, &r.ExecutedBy, &r.ResultRowCount, &r.ResultHash,
		&r.BlobHash, &r.PrevHash, &r.EntryHash)
	return r, err
}

// Head is the last ledger row's position: Seq 0 and an empty Hash for an
// empty ledger.
type Head struct {
	Seq  int64
	Hash string
}

func (h Head) String() string { return fmt.Sprintf("%d:%s", h.Seq, h.Hash) }

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func head(ctx context.Context, q querier) (Head, error) {
	var h Head
	err := q.QueryRowContext(ctx, `SELECT seq, entry_hash FROM evidence ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Head{}, nil
	}
	if err != nil {
		return Head{}, fmt.Errorf("store: ledger head: %w", err)
	}
	return h, nil
}

// Head returns the ledger head inside the transaction (stable: the
// transaction holds the write lock).
func (tx *Tx) Head(ctx context.Context) (Head, error) { return head(ctx, tx.tx) }

// Head returns the current ledger head.
func (s *Store) Head(ctx context.Context) (Head, error) { return head(ctx, s.db) }

// InsertEvidence appends one ledger row. The triggers refuse any later
// UPDATE or DELETE; the UNIQUE prev_hash refuses a fork.
func (tx *Tx) InsertEvidence(ctx context.Context, r EvidenceRow) error {
	_, err := tx.exec(ctx, `INSERT INTO evidence (`+evidenceCols+`) VALUES (`+placeholders(17)+`)`,
		r.Seq, r.ID, r.RunID, r.Review, r.Kind, r.SourceSystem, r.QueryName, r.QueryText, r.QueryParams,
		r.ExecutedAt, r.SourceTime, r.ExecutedBy, r.ResultRowCount, r.ResultHash, r.BlobHash, r.PrevHash, r.EntryHash)
	if err != nil {
		return fmt.Errorf("store: append evidence seq %d: %w", r.Seq, err)
	}
	return nil
}

// PutBlob stores compressed data under the hash of its uncompressed bytes;
// a blob already present is left as it is (content addressing).
func (tx *Tx) PutBlob(ctx context.Context, hash string, size int64, compressed []byte) error {
	_, err := tx.exec(ctx, `INSERT INTO blobs (hash, size, data) VALUES (?,?,?) ON CONFLICT(hash) DO NOTHING`,
		hash, size, compressed)
	if err != nil {
		return fmt.Errorf("store: put blob %s: %w", hash, err)
	}
	return nil
}

// EachEvidence calls fn for every ledger row in seq order.
func (s *Store) EachEvidence(ctx context.Context, fn func(EvidenceRow) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+evidenceCols+` FROM evidence ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("store: read evidence: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanEvidence(rows)
		if err != nil {
			return fmt.Errorf("store: read evidence: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EvidenceWhere returns ledger rows matching a simple filter, in seq order.
type EvidenceFilter struct {
	RunID     string
	Review    string
	Kind      string
	QueryName string
	Source    string
}

// FindEvidence returns the ledger rows matching f in seq order.
func (s *Store) FindEvidence(ctx context.Context, f EvidenceFilter) ([]EvidenceRow, error) {
	var where []string
	var args []any
	add := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	add("run_id", f.RunID)
	add("review", f.Review)
	add("kind", f.Kind)
	add("query_name", f.QueryName)
	add("source_system", f.Source)
	q := `SELECT ` + evidenceCols + ` FROM evidence`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: find evidence: %w", err)
	}
	defer rows.Close()
	var out []EvidenceRow
	for rows.Next() {
		r, err := scanEvidence(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// EachBlob calls fn for every blob, ordered by hash, with its compressed data.
func (s *Store) EachBlob(ctx context.Context, fn func(hash string, size int64, compressed []byte) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT hash, size, data FROM blobs ORDER BY hash`)
	if err != nil {
		return fmt.Errorf("store: read blobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		var n int64
		var d []byte
		if err := rows.Scan(&h, &n, &d); err != nil {
			return fmt.Errorf("store: read blobs: %w", err)
		}
		if err := fn(h, n, d); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Blob returns one blob's compressed data; ErrNotFound if absent.
func (s *Store) Blob(ctx context.Context, hash string) (size int64, compressed []byte, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT size, data FROM blobs WHERE hash = ?`, hash).Scan(&size, &compressed)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, fmt.Errorf("store: blob %s: %w", hash, ErrNotFound)
	}
	return size, compressed, err
}

// BlobHashes returns the set of stored blob hashes.
func (s *Store) BlobHashes(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT hash FROM blobs`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out[h] = true
	}
	return out, rows.Err()
}

// DerivedTable describes a table whose rows a derivation pass writes and
// hashes. Scope is the column that groups one pass's rows; Key orders them
// uniquely. Columns are hashed in the order listed; the list is recorded in
// the pass's ledger row so a later migration that adds columns does not
// change old digests.
//
// A digest covers the rows as an auditor reads them, not how they are
// stored: since 0005 snapshot_memberships and findings are views over
// lighter physical tables (see migrations/0005_snapshot.sql) that read as
// the tables did, so digests of the same rows are the same before and
// after the change of storage.
type DerivedTable struct {
	Name    string
	Scope   string
	Key     []string
	Columns []string
	// Parts are the physical tables whose rows Name reads; every scope
	// value found in them must be covered by a seal. Empty: Name itself.
	Parts []string
	// Fast: the digest of the full column list is computed from the
	// physical rows by digestMembers (the same bytes as through the view,
	// which it falls back to when it cannot vouch for the order).
	Fast bool
	// SortInGo: the rows are read in storage order and sorted here by
	// their one, unique, text key (not through an index, one lookup per
	// row); the same order as ORDER BY Key, which is used when a key is
	// not text or not unique.
	SortInGo bool
	// Staged is true for the snapshot tables, whose rows may belong to a
	// snapshot still being written (a snapshot_stages id): such rows are
	// not a seal's and not tampering either.
	Staged bool
}

// DerivedTables lists every derived table (DESIGN §6.2), in the order
// verify checks them.
var DerivedTables = []DerivedTable{
	{Name: "snapshots", Scope: "id", Key: []string{"id"}, Columns: []string{"id", "review", "source", "system", "run_id", "taken_at", "file_name", "evidence_id"}},
	{Name: "snapshot_groups", Scope: "snapshot_id", Key: []string{"group_id"}, Columns: []string{"snapshot_id", "group_id", "name", "description", "type", "system", "role", "rule_managed", "evidence_id"}, Staged: true},
	{Name: "snapshot_users", Scope: "snapshot_id", Key: []string{"user_id"}, Columns: []string{"snapshot_id", "user_id", "login", "email", "first_name", "last_name", "department", "title", "user_type", "employee_number", "manager", "status", "created", "last_login", "origin", "evidence_id"}, Staged: true, SortInGo: true},
	{Name: "snapshot_memberships", Scope: "snapshot_id", Key: []string{"group_id", "user_id"}, Columns: []string{"snapshot_id", "group_id", "user_id", "source", "evidence_id"},
		Parts: []string{"snapshot_members"}, Staged: true, Fast: true},
	{Name: "snapshot_listings", Scope: "snapshot_id", Key: []string{"no"}, Columns: []string{"snapshot_id", "no", "kind", "group_id", "group_name", "query_text", "query_params", "pages", "paged_count", "independent_count", "status", "reread", "count_evidence_id", "page_evidence_ids", "file_sha256", "file_header", "exported_at", "exported_at_from"},
		Staged: true},
	{Name: "scorings", Scope: "id", Key: []string{"id"}, Columns: []string{"id", "review", "run_id", "snapshot_ids", "policy_hash", "as_of", "ai", "evidence_id"}},
	{Name: "findings", Scope: "scoring_id", Key: []string{"ordinal"}, Columns: []string{"scoring_id", "ordinal", "rule_id", "risk", "system", "user_id", "user_login", "groups", "title", "detail", "recommendation", "source", "suppressed", "exception_by", "exception_ticket", "exception_expires", "exception_reason", "evidence_id"},
		Parts: []string{"scoring_findings", "finding_kinds", "finding_texts"}},
	{Name: "system_risks", Scope: "scoring_id", Key: []string{"system"}, Columns: []string{"scoring_id", "system", "risk", "high", "medium", "low", "evidence_id"}},
	{Name: "publications", Scope: "id", Key: []string{"id"}, Columns: []string{"id", "review", "run_id", "service", "kind", "system", "action", "external_id", "external_key", "url", "version", "service_time", "evidence_id"}},
	{Name: "decisions", Scope: "pass_id", Key: []string{"id"}, Columns: []string{"id", "review", "pass_id", "system", "action", "target", "group_name", "decided_by", "decided_at", "status", "reason", "jira_key", "comment_id", "comment_updated", "edited", "line", "evidence_id",
		"user_id", "group_id", "decided_by_name", "decided_by_email", "justification", "source", "certify_all", "reviewer_role", "reviewer_admin", "line_no"}},
	{Name: "decision_passes", Scope: "pass_id", Key: []string{"id"}, Columns: []string{"id", "review", "pass_id", "run_id", "system", "source", "jira_key", "comments", "lines", "evidence_id"}},
	{Name: "revocations", Scope: "id", Key: []string{"id"}, Columns: []string{"id", "review", "run_id", "system", "user_id", "user_login", "group_id", "group_name", "status", "reason", "requested_by", "executed_at", "verified_at", "okta_request_id", "evidence_id",
		"decision_id", "decided_at", "jira_key", "comment_id", "membership_source", "log_event_id", "log_event_time", "latency_seconds"}},
	{Name: "reviewers", Scope: "run_id", Key: []string{"id"}, Columns: []string{"id", "review", "run_id", "system", "role", "email", "account_id", "display_name", "source", "evidence_id"}},
	{Name: "gap_acceptances", Scope: "id", Key: []string{"id"}, Columns: []string{"id", "snapshot_id", "run_id", "command", "actor", "reason", "accepted_at", "listings", "evidence_id"}},
	{Name: "hr_listings", Scope: "id", Key: []string{"id"}, Columns: []string{"id", "review", "run_id", "taken_at", "file_name", "file_evidence_id", "evidence_id"}},
	{Name: "hr_records", Scope: "listing_id", Key: []string{"ordinal"}, Columns: []string{"listing_id", "ordinal", "line", "email", "employee_id", "status", "termination_date", "department", "title", "manager_email", "evidence_id"}},
}

// LookupDerivedTable returns the registry entry for name.
func LookupDerivedTable(name string) (DerivedTable, bool) {
	for _, t := range DerivedTables {
		if t.Name == name {
			return t, true
		}
	}
	return DerivedTable{}, false
}

// Digest is the row count and sha256 of one derived table's rows in one scope.
type Digest struct {
	Table   string   `json:"table"`
	Scope   any      `json:"scope"`
	Columns []string `json:"columns"`
	Rows    int64    `json:"rows"`
	Hash    string   `json:"hash"`
}

// digest hashes the rows of t in scope: each row is the JSON array of its
// column values (text and integers as SQLite holds them), one per line,
// ordered by t.Key. Columns must all belong to the registry entry.
func digest(ctx context.Context, q querier, t DerivedTable, columns []string, scope any) (Digest, error) {
	allowed := map[string]bool{}
	for _, c := range t.Columns {
		allowed[c] = true
	}
	for _, c := range columns {
		if !allowed[c] {
			return Digest{}, fmt.Errorf("store: digest %s: unknown column %q", t.Name, c)
		}
	}
	if t.Fast && t.Name == "snapshot_memberships" && slices.Equal(columns, membershipColumns) {
		d, ok, err := digestMembers(ctx, q, scope)
		if err != nil {
			return Digest{}, fmt.Errorf("store: digest %s: %w", t.Name, err)
		}
		if ok {
			return d, nil
		}
	}
	if t.SortInGo && len(t.Key) == 1 {
		if k := slices.Index(columns, t.Key[0]); k >= 0 {
			d, ok, err := digestSorted(ctx, q, t, columns, k, scope)
			if err != nil || ok {
				return d, err
			}
		}
	}
	// Identifiers come from the fixed registry above, never from input.
	sqlText := `SELECT ` + strings.Join(columns, ", ") + ` FROM ` + t.Name + ` WHERE ` + t.Scope + ` = ? ORDER BY ` + strings.Join(t.Key, ", ")
	rows, err := q.QueryContext(ctx, sqlText, scope)
	if err != nil {
		return Digest{}, fmt.Errorf("store: digest %s: %w", t.Name, err)
	}
	defer rows.Close()
	h := sha256.New()
	vals := make([]any, len(columns))
	ptrs := make([]any, len(columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	var line []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return Digest{}, err
		}
		if line, err = appendDigestLine(line[:0], vals); err != nil {
			return Digest{}, err
		}
		h.Write(line)
		n++
	}
	if err := rows.Err(); err != nil {
		return Digest{}, err
	}
	return Digest{Table: t.Name, Scope: scope, Columns: columns, Rows: n, Hash: hex.EncodeToString(h.Sum(nil))}, nil
}

// digestSorted is digest for a table whose rows sort by one unique text
// key (column k of columns): rows are read in storage order, their lines
// sorted by key here. ok is false when a key is not text or repeats; the
// caller then lets SQLite order the rows.
func digestSorted(ctx context.Context, q querier, t DerivedTable, columns []string, k int, scope any) (Digest, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+strings.Join(columns, ", ")+` FROM `+t.Name+` WHERE `+t.Scope+` = ?`, scope)
	if err != nil {
		return Digest{}, false, fmt.Errorf("store: digest %s: %w", t.Name, err)
	}
	defer rows.Close()
	type keyed struct {
		key  string
		line []byte
	}
	var all []keyed
	vals := make([]any, len(columns))
	ptrs := make([]any, len(columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return Digest{}, false, err
		}
		var key string
		switch x := vals[k].(type) {
		case string:
			key = x
		case []byte:
			key = string(x)
		default:
			return Digest{}, false, nil
		}
		line, err := appendDigestLine(nil, vals)
		if err != nil {
			return Digest{}, false, err
		}
		all = append(all, keyed{key, line})
	}
	if err := rows.Err(); err != nil {
		return Digest{}, false, err
	}
	slices.SortFunc(all, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	h := sha256.New()
	for i, r := range all {
		if i > 0 && all[i-1].key == r.key {
			return Digest{}, false, nil // not unique: SQLite's order of ties decides
		}
		h.Write(r.line)
	}
	return Digest{Table: t.Name, Scope: scope, Columns: columns, Rows: int64(len(all)), Hash: hex.EncodeToString(h.Sum(nil))}, true, nil
}

// appendDigestLine appends the digest line of one row: json.Marshal of
// its values (SQLite's text as strings) and a newline. Plain values are
// written directly; anything else goes through json.Marshal, so the
// bytes are exactly json.Marshal's (TestDigestLineMatchesMarshal).
func appendDigestLine(b []byte, vals []any) ([]byte, error) {
	b = append(b, '[')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		switch x := v.(type) {
		case nil:
			b = append(b, "null"...)
		case int64:
			b = strconv.AppendInt(b, x, 10)
		case string:
			b = appendJSONString(b, x)
		case []byte:
			b = appendJSONString(b, string(x))
		default:
			j, err := json.Marshal(x)
			if err != nil {
				return nil, err
			}
			b = append(b, j...)
		}
	}
	return append(b, ']', '\n'), nil
}

// appendJSONString appends s as json.Marshal writes it: plain printable
// ASCII without the characters it escapes directly, else through it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s)
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Digest hashes one derived table scope inside the transaction, after the
// pass has written its rows.
func (tx *Tx) Digest(ctx context.Context, table string, scope any) (Digest, error) {
	t, ok := LookupDerivedTable(table)
	if !ok {
		return Digest{}, fmt.Errorf("store: %s is not a derived table", table)
	}
	return digest(ctx, tx.tx, t, t.Columns, scope)
}

// Digest recomputes a recorded digest (same table, scope and columns) from
// the rows as they are now.
func (s *Store) Digest(ctx context.Context, table string, columns []string, scope any) (Digest, error) {
	t, ok := LookupDerivedTable(table)
	if !ok {
		return Digest{}, fmt.Errorf("store: %s is not a derived table", table)
	}
	return digest(ctx, s.db, t, columns, scope)
}

// Scopes returns every distinct scope value present in a derived table
// (in each of its physical parts), so verify can find rows that no
// derivation pass covers.
func (s *Store) Scopes(ctx context.Context, table string) ([]any, error) {
	t, ok := LookupDerivedTable(table)
	if !ok {
		return nil, fmt.Errorf("store: %s is not a derived table", table)
	}
	parts := t.Parts
	if len(parts) == 0 {
		parts = []string{t.Name}
	}
	var sel []string
	for _, p := range parts {
		sel = append(sel, `SELECT `+t.Scope+` FROM `+p)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT * FROM (`+strings.Join(sel, " UNION ")+`) ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []any
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// EvidenceByID returns the ledger row with that id; ErrNotFound if none.
func (s *Store) EvidenceByID(ctx context.Context, id string) (EvidenceRow, error) {
	r, err := scanEvidence(s.db.QueryRowContext(ctx, `SELECT `+evidenceCols+` FROM evidence WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return EvidenceRow{}, fmt.Errorf("store: evidence %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return EvidenceRow{}, fmt.Errorf("store: evidence %s: %w", id, err)
	}
	return r, nil
}

func evidenceAt(ctx context.Context, q querier, seq int64) (EvidenceRow, error) {
	r, err := scanEvidence(q.QueryRowContext(ctx, `SELECT `+evidenceCols+` FROM evidence WHERE seq = ?`, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return EvidenceRow{}, fmt.Errorf("store: evidence seq %d: %w", seq, ErrNotFound)
	}
	return r, err
}

// EvidenceAt returns the ledger row at seq; ErrNotFound if there is none.
func (s *Store) EvidenceAt(ctx context.Context, seq int64) (EvidenceRow, error) {
	return evidenceAt(ctx, s.db, seq)
}

// EvidenceAt returns the ledger row at seq inside the transaction.
func (tx *Tx) EvidenceAt(ctx context.Context, seq int64) (EvidenceRow, error) {
	return evidenceAt(ctx, tx.tx, seq)
}
