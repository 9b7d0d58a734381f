package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"github.com/uar-dev/uar/internal/model"
)

// SnapshotHeader describes a complete snapshot being written.
type SnapshotHeader struct {
	Review   string
	Source   string // "okta" or "import"
	System   string // for imports
	RunID    string
	FileName string // for imports
}

// Snapshot sources.
const (
	SnapshotOkta   = "okta"
	SnapshotImport = "import"
)

// InsertSnapshot writes a complete snapshot (header, groups, users,
// memberships) with every row pointing to evidenceID, the derive row the
// caller appends next in the same transaction. It returns the snapshot id.
func (tx *Tx) InsertSnapshot(ctx context.Context, h SnapshotHeader, snap *model.Snapshot, evidenceID string) (int64, error) {
	res, err := tx.exec(ctx, `INSERT INTO snapshots (review, source, system, run_id, taken_at, file_name, evidence_id) VALUES (?,?,?,?,?,?,?)`,
		h.Review, h.Source, h.System, h.RunID, FormatTime(tx.Now), h.FileName, evidenceID)
	if err != nil {
		return 0, fmt.Errorf("store: insert snapshot: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	for _, g := range snap.Groups {
		if _, err := tx.exec(ctx, `INSERT INTO snapshot_groups (snapshot_id, group_id, name, description, type, system, role, rule_managed, evidence_id) VALUES (?,?,?,?,?,?,?,?,?)`,
			id, g.ID, g.Name, g.Description, g.Type, g.System, g.Role, boolInt(g.RuleManaged), evidenceID); err != nil {
			return 0, fmt.Errorf("store: insert group %s: %w", g.Name, err)
		}
	}
	for _, u := range snap.Users {
		if _, err := tx.exec(ctx, `INSERT INTO snapshot_users (snapshot_id, user_id, login, email, first_name, last_name, department, title, user_type, employee_number, manager, status, created, last_login, origin, evidence_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			id, u.ID, u.Login, u.Email, u.FirstName, u.LastName, u.Department, u.Title, u.UserType, u.EmployeeNumber, u.Manager, u.Status,
			FormatTime(u.Created), FormatTime(u.LastLogin), u.Origin, evidenceID); err != nil {
			return 0, fmt.Errorf("store: insert user %s: %w", u.Login, err)
		}
	}
	for _, m := range snap.Memberships {
		if _, err := tx.exec(ctx, `INSERT INTO snapshot_memberships (snapshot_id, group_id, user_id, source, evidence_id) VALUES (?,?,?,?,?)`,
			id, m.GroupID, m.UserID, m.Source, evidenceID); err != nil {
			return 0, fmt.Errorf("store: insert membership %s/%s: %w", m.GroupID, m.UserID, err)
		}
	}
	return id, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SnapshotInfo is one row of the snapshots table.
type SnapshotInfo struct {
	ID         int64
	Review     string
	Source     string
	System     string
	RunID      string
	TakenAt    string
	FileName   string
	EvidenceID string
}

// CurrentSnapshots returns the snapshots that make up a review's current
// population: the latest complete Okta snapshot and, per imported system,
// the latest import. Ordered by id.
func (s *Store) CurrentSnapshots(ctx context.Context, review string) ([]SnapshotInfo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.id, s.review, s.source, s.system, s.run_id, s.taken_at, s.file_name, s.evidence_id
		FROM v_current_snapshots c JOIN snapshots s ON s.id = c.snapshot_id WHERE c.review = ? ORDER BY s.id`, review)
	if err != nil {
		return nil, fmt.Errorf("store: current snapshots: %w", err)
	}
	defer rows.Close()
	var out []SnapshotInfo
	for rows.Next() {
		var i SnapshotInfo
		if err := rows.Scan(&i.ID, &i.Review, &i.Source, &i.System, &i.RunID, &i.TakenAt, &i.FileName, &i.EvidenceID); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// Snapshots returns every complete snapshot in id order.
func (s *Store) Snapshots(ctx context.Context) ([]SnapshotInfo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, review, source, system, run_id, taken_at, file_name, evidence_id FROM snapshots ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SnapshotInfo
	for rows.Next() {
		var i SnapshotInfo
		if err := rows.Scan(&i.ID, &i.Review, &i.Source, &i.System, &i.RunID, &i.TakenAt, &i.FileName, &i.EvidenceID); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// LoadSnapshot reads the given snapshots and merges them into one
// population (groups, users, memberships sorted by id). Returns
// ErrNotFound when ids is empty.
func (s *Store) LoadSnapshot(ctx context.Context, ids []int64) (*model.Snapshot, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("store: no snapshot: %w", ErrNotFound)
	}
	snap := &model.Snapshot{ID: ids[len(ids)-1]}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	in := "(" + placeholders(len(ids)) + ")"
	rows, err := s.db.QueryContext(ctx, `SELECT group_id, name, description, type, system, role, rule_managed FROM snapshot_groups WHERE snapshot_id IN `+in+` ORDER BY group_id`, args...)
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
	rows, err = s.db.QueryContext(ctx, `SELECT user_id, login, email, first_name, last_name, department, title, user_type, employee_number, manager, status, created, last_login, origin FROM snapshot_users WHERE snapshot_id IN `+in+` ORDER BY user_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: load users: %w", err)
	}
	for rows.Next() {
		var u model.User
		var created, last string
		if err := rows.Scan(&u.ID, &u.Login, &u.Email, &u.FirstName, &u.LastName, &u.Department, &u.Title, &u.UserType, &u.EmployeeNumber, &u.Manager, &u.Status, &created, &last, &u.Origin); err != nil {
			rows.Close()
			return nil, err
		}
		if u.Created, err = ParseTime(created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: user %s created: %w", u.ID, err)
		}
		if u.LastLogin, err = ParseTime(last); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: user %s last_login: %w", u.ID, err)
		}
		snap.Users = append(snap.Users, u)
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT group_id, user_id, source FROM snapshot_memberships WHERE snapshot_id IN `+in+` ORDER BY group_id, user_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: load memberships: %w", err)
	}
	defer rows.Close()
	// Memberships are the bulk of a snapshot (500,000 rows in a large
	// org): reuse the id strings already loaded instead of allocating two
	// new ones per row.
	known := make(map[string]string, len(snap.Groups)+len(snap.Users))
	for _, g := range snap.Groups {
		known[g.ID] = g.ID
	}
	for _, u := range snap.Users {
		known[u.ID] = u.ID
	}
	sources := map[string]string{model.SourceDirect: model.SourceDirect, model.SourceRule: model.SourceRule, model.SourceApp: model.SourceApp}
	intern := func(m map[string]string, b []byte) string {
		if s, ok := m[string(b)]; ok {
			return s
		}
		return string(b)
	}
	for rows.Next() {
		var g, u, src sql.RawBytes
		if err := rows.Scan(&g, &u, &src); err != nil {
			return nil, err
		}
		snap.Memberships = append(snap.Memberships, model.Membership{GroupID: intern(known, g), UserID: intern(known, u), Source: intern(sources, src)})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Merged snapshots are each sorted; the merge must be too.
	sort.SliceStable(snap.Groups, func(i, j int) bool { return snap.Groups[i].ID < snap.Groups[j].ID })
	sort.SliceStable(snap.Users, func(i, j int) bool { return snap.Users[i].ID < snap.Users[j].ID })
	return snap, nil
}
