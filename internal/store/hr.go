package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

// HRListingHeader describes an HR listing being written.
type HRListingHeader struct {
	Review         string
	RunID          string
	FileName       string
	FileEvidenceID string // the ledger row that keeps the file
}

// HRListingInfo is one row of hr_listings.
type HRListingInfo struct {
	ID             int64
	Review         string
	RunID          string
	TakenAt        string
	FileName       string
	FileEvidenceID string
	EvidenceID     string
}

const hrListingCols = `id, review, run_id, taken_at, file_name, file_evidence_id, evidence_id`

func scanHRListing(sc interface{ Scan(...any) error }) (HRListingInfo, error) {
	var i HRListingInfo
	err := sc.Scan(&i.ID, &i.Review, &i.RunID, &i.TakenAt, &i.FileName, &i.FileEvidenceID, &i.EvidenceID)
	return i, err
}

// InsertHRListing writes an HR listing (header and every record, in the
// given order) with every row pointing to evidenceID, the derive row the
// caller appends next in the same transaction. It returns the listing id;
// the listing becomes the review's current one.
func (tx *Tx) InsertHRListing(ctx context.Context, h HRListingHeader, recs []model.HRRecord, evidenceID string) (int64, error) {
	res, err := tx.exec(ctx, `INSERT INTO hr_listings (review, run_id, taken_at, file_name, file_evidence_id, evidence_id) VALUES (?,?,?,?,?,?)`,
		h.Review, h.RunID, FormatTime(tx.Now), h.FileName, h.FileEvidenceID, evidenceID)
	if err != nil {
		return 0, fmt.Errorf("store: insert hr listing: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	for i, r := range recs {
		if _, err := tx.exec(ctx, `INSERT INTO hr_records (listing_id, ordinal, line, email, employee_id, status, termination_date, department, title, manager_email, evidence_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
			id, i+1, r.Line, r.Email, r.EmployeeID, r.Status, formatDate(r.TerminationDate), r.Department, r.Title, r.ManagerEmail, evidenceID); err != nil {
			return 0, fmt.Errorf("store: insert hr record (line %d): %w", r.Line, err)
		}
	}
	return id, nil
}

// formatDate renders a calendar date as YYYY-MM-DD, or "" for the zero time.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// CurrentHRListing returns the review's latest HR listing (header only);
// ErrNotFound when the review has none.
func (s *Store) CurrentHRListing(ctx context.Context, review string) (HRListingInfo, error) {
	i, err := scanHRListing(s.db.QueryRowContext(ctx, `SELECT `+hrListingCols+` FROM hr_listings WHERE review = ? ORDER BY id DESC LIMIT 1`, review))
	if errors.Is(err, sql.ErrNoRows) {
		return HRListingInfo{}, fmt.Errorf("store: review %s has no HR listing: %w", review, ErrNotFound)
	}
	if err != nil {
		return HRListingInfo{}, fmt.Errorf("store: current hr listing: %w", err)
	}
	return i, nil
}

// HRListings returns every HR listing's header in id order.
func (s *Store) HRListings(ctx context.Context) ([]HRListingInfo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+hrListingCols+` FROM hr_listings ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: hr listings: %w", err)
	}
	defer rows.Close()
	var out []HRListingInfo
	for rows.Next() {
		i, err := scanHRListing(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// LoadHRListing reads one HR listing with its records in file order;
// ErrNotFound when there is no listing with that id.
func (s *Store) LoadHRListing(ctx context.Context, id int64) (*model.HRListing, error) {
	info, err := scanHRListing(s.db.QueryRowContext(ctx, `SELECT `+hrListingCols+` FROM hr_listings WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: hr listing %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: hr listing %d: %w", id, err)
	}
	l := &model.HRListing{ID: info.ID, Review: info.Review, FileName: info.FileName, Records: []model.HRRecord{}}
	if l.TakenAt, err = ParseTime(info.TakenAt); err != nil {
		return nil, fmt.Errorf("store: hr listing %d taken_at: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT line, email, employee_id, status, termination_date, department, title, manager_email
		FROM hr_records WHERE listing_id = ? ORDER BY ordinal`, id)
	if err != nil {
		return nil, fmt.Errorf("store: hr records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r model.HRRecord
		var term string
		if err := rows.Scan(&r.Line, &r.Email, &r.EmployeeID, &r.Status, &term, &r.Department, &r.Title, &r.ManagerEmail); err != nil {
			return nil, err
		}
		if term != "" {
			if r.TerminationDate, err = time.Parse(time.DateOnly, term); err != nil {
				return nil, fmt.Errorf("store: hr listing %d line %d termination_date: %w", id, r.Line, err)
			}
		}
		l.Records = append(l.Records, r)
	}
	return l, rows.Err()
}

// ReviewTime is when a review's current population was taken: the newest
// taken_at among its current snapshots.
type ReviewTime struct {
	Review  string
	TakenAt string // UTC RFC 3339
}

// ReviewTimes returns every review that has a snapshot with the time of
// its current population, ordered by review.
func (s *Store) ReviewTimes(ctx context.Context) ([]ReviewTime, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.review, max(s.taken_at) FROM v_current_snapshots c
		JOIN snapshots s ON s.id = c.snapshot_id GROUP BY c.review ORDER BY c.review`)
	if err != nil {
		return nil, fmt.Errorf("store: review times: %w", err)
	}
	defer rows.Close()
	var out []ReviewTime
	for rows.Next() {
		var r ReviewTime
		if err := rows.Scan(&r.Review, &r.TakenAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AccessOutcome is one access of a review's current population with the
// outcome v_access gives it.
type AccessOutcome struct {
	System    string
	GroupName string
	UserEmail string
	UserLogin string
	Decision  string // model.Access*: certified, revoked, pending
}

// AccessOutcomes returns every access of the review's current population
// with its decision (v_access), ordered by system, group, email and login.
func (s *Store) AccessOutcomes(ctx context.Context, review string) ([]AccessOutcome, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT system, group_name, user_email, user_login, decision FROM v_access
		WHERE review = ? ORDER BY system, group_name, user_email, user_login`, review)
	if err != nil {
		return nil, fmt.Errorf("store: access outcomes of %s: %w", review, err)
	}
	defer rows.Close()
	var out []AccessOutcome
	for rows.Next() {
		var a AccessOutcome
		if err := rows.Scan(&a.System, &a.GroupName, &a.UserEmail, &a.UserLogin, &a.Decision); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// LoadMembershipsOf reads part of the given snapshots: every group, and
// the memberships of the given users only (no user rows), sorted like
// LoadSnapshot's. It is what a comparison with an earlier population needs
// for a few users without loading the whole population.
func (s *Store) LoadMembershipsOf(ctx context.Context, snapshotIDs []int64, userIDs []string) (*model.Snapshot, error) {
	snap := &model.Snapshot{Groups: []model.Group{}, Memberships: []model.Membership{}}
	if len(snapshotIDs) == 0 {
		return snap, nil
	}
	ids := make([]any, len(snapshotIDs))
	for i, id := range snapshotIDs {
		ids[i] = id
	}
	in := "(" + placeholders(len(ids)) + ")"
	rows, err := s.db.QueryContext(ctx, `SELECT group_id, name, description, type, system, role, rule_managed FROM snapshot_groups
		WHERE snapshot_id IN `+in+` ORDER BY group_id`, ids...)
	if err != nil {
		return nil, fmt.Errorf("store: load groups: %w", err)
	}
	for rows.Next() {
		var g model.Group
		var rm int
		if err := rows.Scan(&g.ID, &g.Name, &g.Description, &g.Type, &g.System, &g.Role, &rm); err != nil {
			rows.Close()
			return nil, err
		}
		g.RuleManaged = rm != 0
		snap.Groups = append(snap.Groups, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The wanted users are bound as one JSON array and turned into their
	// numbers in each snapshot first; the member lists are then unpacked
	// once. (Filtering the snapshot_memberships view by user_id unpacks
	// every list per query: with a few thousand movers at 500,000
	// memberships that took seconds.) The source codes are the view's.
	want, err := json.Marshal(userIDs)
	if err != nil {
		return nil, err
	}
	args := append(append([]any{string(want)}, ids...), ids...)
	// CROSS JOIN fixes the order: each wanted id is looked up once, and
	// each unpacked list entry probes the wanted set (left to itself the
	// planner scanned the array per user and the lists per wanted user).
	rows, err = s.db.QueryContext(ctx, `WITH wanted AS MATERIALIZED (
			SELECT u.snapshot_id, u.no, u.user_id FROM json_each(?) w
			CROSS JOIN snapshot_users u ON u.snapshot_id IN `+in+` AND u.user_id = w.value)
		SELECT g.group_id, w.user_id, CASE m.source WHEN 0 THEN 'direct' WHEN 1 THEN 'rule' ELSE 'app' END
		FROM snapshot_members m
		CROSS JOIN json_each(m.users) j
		CROSS JOIN wanted w ON w.snapshot_id = m.snapshot_id AND w.no = j.value
		JOIN snapshot_groups g ON g.snapshot_id = m.snapshot_id AND g.no = m.group_no
		WHERE m.snapshot_id IN `+in, args...)
	if err != nil {
		return nil, fmt.Errorf("store: load memberships: %w", err)
	}
	for rows.Next() {
		var m model.Membership
		if err := rows.Scan(&m.GroupID, &m.UserID, &m.Source); err != nil {
			rows.Close()
			return nil, err
		}
		snap.Memberships = append(snap.Memberships, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(snap.Memberships, func(a, b model.Membership) int {
		return cmp.Or(cmp.Compare(a.GroupID, b.GroupID), cmp.Compare(a.UserID, b.UserID))
	})
	return snap, nil
}
