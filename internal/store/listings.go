package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// Listing is one row of snapshot_listings: the completeness record of one
// listing a snapshot was built from (see migrations/0005_snapshot.sql).
type Listing struct {
	No               int      `json:"no"`
	Kind             string   `json:"kind"` // rules, groups, members, import
	GroupID          string   `json:"group_id"`
	GroupName        string   `json:"group_name"`
	QueryText        string   `json:"query_text"`
	QueryParams      string   `json:"query_params"` // canonical JSON
	Pages            int      `json:"pages"`
	PagedCount       int      `json:"paged_count"`
	IndependentCount int      `json:"independent_count"` // -1: none (stored as NULL)
	Status           string   `json:"status"`            // complete, gap, unchecked, stale
	Reread           bool     `json:"reread"`
	CountEvidenceID  string   `json:"count_evidence_id"`
	PageEvidenceIDs  []string `json:"page_evidence_ids"`
	FileSHA256       string   `json:"file_sha256"`
	FileHeader       string   `json:"file_header"`
	ExportedAt       string   `json:"exported_at"`
	ExportedAtFrom   string   `json:"exported_at_from"`
}

// Listing statuses that need an explicit acceptance before score or
// publish use the snapshot.
const (
	ListingGap   = "gap"
	ListingStale = "stale"
)

// InsertListings writes the completeness record of (staged or complete)
// snapshot sid, numbered 1, 2, ... in the order given.
func (tx *Tx) InsertListings(ctx context.Context, sid int64, ls []Listing) error {
	err := insertRows(ctx, tx, `INSERT INTO snapshot_listings (snapshot_id, no, kind, group_id, group_name, query_text, query_params, pages, paged_count, independent_count, status, reread, count_evidence_id, page_evidence_ids, file_sha256, file_header, exported_at, exported_at_from) VALUES `,
		18, 32, len(ls), func(i int, args []any) []any {
			l := &ls[i]
			var count any
			if l.IndependentCount >= 0 {
				count = l.IndependentCount
			}
			ids := l.PageEvidenceIDs
			if ids == nil {
				ids = []string{}
			}
			pj, _ := json.Marshal(ids)
			return append(args, sid, i+1, l.Kind, l.GroupID, l.GroupName, l.QueryText, l.QueryParams, l.Pages, l.PagedCount, count,
				l.Status, boolInt(l.Reread), l.CountEvidenceID, string(pj), l.FileSHA256, l.FileHeader, l.ExportedAt, l.ExportedAtFrom)
		})
	if err != nil {
		return fmt.Errorf("store: listings of snapshot %d: %w", sid, err)
	}
	return nil
}

// Listings returns the completeness record of snapshot sid, in order.
func (s *Store) Listings(ctx context.Context, sid int64) ([]Listing, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT no, kind, group_id, group_name, query_text, query_params, pages, paged_count, independent_count, status, reread,
		count_evidence_id, page_evidence_ids, file_sha256, file_header, exported_at, exported_at_from FROM snapshot_listings WHERE snapshot_id = ? ORDER BY no`, sid)
	if err != nil {
		return nil, fmt.Errorf("store: listings of snapshot %d: %w", sid, err)
	}
	defer rows.Close()
	var out []Listing
	for rows.Next() {
		var l Listing
		var count sql.NullInt64
		var reread int
		var ids string
		if err := rows.Scan(&l.No, &l.Kind, &l.GroupID, &l.GroupName, &l.QueryText, &l.QueryParams, &l.Pages, &l.PagedCount, &count, &l.Status, &reread,
			&l.CountEvidenceID, &ids, &l.FileSHA256, &l.FileHeader, &l.ExportedAt, &l.ExportedAtFrom); err != nil {
			return nil, err
		}
		l.IndependentCount = -1
		if count.Valid {
			l.IndependentCount = int(count.Int64)
		}
		l.Reread = reread != 0
		if err := json.Unmarshal([]byte(ids), &l.PageEvidenceIDs); err != nil {
			return nil, fmt.Errorf("store: listing %d of snapshot %d: page_evidence_ids: %w", l.No, sid, err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// GapAcceptance is one row of gap_acceptances.
type GapAcceptance struct {
	ID         int64  `json:"id"`
	SnapshotID int64  `json:"snapshot_id"`
	RunID      string `json:"run_id"`
	Command    string `json:"command"`
	Actor      string `json:"actor"`
	Reason     string `json:"reason"`
	AcceptedAt string `json:"accepted_at"`
	Listings   string `json:"listings"` // JSON
}

// InsertGapAcceptance records an accepted gap, sealed by evidenceID (the
// derive row appended next in the transaction), and returns its id.
func (tx *Tx) InsertGapAcceptance(ctx context.Context, a GapAcceptance, evidenceID string) (int64, error) {
	res, err := tx.exec(ctx, `INSERT INTO gap_acceptances (snapshot_id, run_id, command, actor, reason, accepted_at, listings, evidence_id) VALUES (?,?,?,?,?,?,?,?)`,
		a.SnapshotID, a.RunID, a.Command, a.Actor, a.Reason, FormatTime(tx.Now), a.Listings, evidenceID)
	if err != nil {
		return 0, fmt.Errorf("store: accept gap of snapshot %d: %w", a.SnapshotID, err)
	}
	return res.LastInsertId()
}

// GapAcceptances returns the acceptances recorded for snapshot sid, oldest
// first.
func (s *Store) GapAcceptances(ctx context.Context, sid int64) ([]GapAcceptance, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, snapshot_id, run_id, command, actor, reason, accepted_at, listings FROM gap_acceptances WHERE snapshot_id = ? ORDER BY id`, sid)
	if err != nil {
		return nil, fmt.Errorf("store: gap acceptances of snapshot %d: %w", sid, err)
	}
	defer rows.Close()
	var out []GapAcceptance
	for rows.Next() {
		var a GapAcceptance
		if err := rows.Scan(&a.ID, &a.SnapshotID, &a.RunID, &a.Command, &a.Actor, &a.Reason, &a.AcceptedAt, &a.Listings); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
