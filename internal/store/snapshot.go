package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
// memberships) in one go, sealed by evidenceID, the derive row the caller
// appends next in the same transaction, and returns its id. It is the
// stage API in one call (imports, tests); the Okta snapshot stages its
// rows while the pages arrive instead.
func (tx *Tx) InsertSnapshot(ctx context.Context, h SnapshotHeader, snap *model.Snapshot, evidenceID string) (int64, error) {
	id, err := tx.BeginStage(ctx, h)
	if err != nil {
		return 0, err
	}
	gno, err := tx.StageGroups(ctx, id, snap.Groups)
	if err != nil {
		return 0, err
	}
	users := make([]StagedUser, len(snap.Users))
	uno := make(map[string]int32, len(snap.Users))
	for i, u := range snap.Users {
		users[i] = StagedUser{No: int32(i + 1), User: u}
		uno[u.ID] = int32(i + 1)
	}
	if err := tx.StageUsers(ctx, id, users); err != nil {
		return 0, err
	}
	// One part per group and source.
	type key struct {
		g   int32
		src int8
	}
	parts := map[key]*MemberPart{}
	var order []key
	for _, m := range snap.Memberships {
		g, okG := gno[m.GroupID]
		u, okU := uno[m.UserID]
		if !okG || !okU {
			return 0, fmt.Errorf("store: membership %s/%s: its group or user is not in the snapshot", m.GroupID, m.UserID)
		}
		src, err := SourceCode(m.Source)
		if err != nil {
			return 0, err
		}
		k := key{g, src}
		p := parts[k]
		if p == nil {
			p = &MemberPart{GroupNo: g, Source: src}
			parts[k] = p
			order = append(order, k)
		}
		p.Users = append(p.Users, u)
	}
	slices.SortFunc(order, func(a, b key) int { return cmp.Or(cmp.Compare(a.g, b.g), cmp.Compare(a.src, b.src)) })
	list := make([]MemberPart, len(order))
	for i, k := range order {
		list[i] = *parts[k]
		list[i].Part = 1
		if i > 0 && order[i-1].g == k.g {
			list[i].Part = list[i-1].Part + 1
		}
	}
	if err := tx.StageMembers(ctx, id, list); err != nil {
		return 0, err
	}
	if err := tx.CompleteStage(ctx, id, evidenceID); err != nil {
		return 0, err
	}
	return id, nil
}

// parseUserList reads a membership part's JSON array of user numbers
// (written by StageMembers: digits and commas) into dst.
func parseUserList(list string, dst []int64) ([]int64, error) {
	t := strings.TrimSpace(list)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return nil, fmt.Errorf("not a JSON array of numbers")
	}
	t = strings.TrimSpace(t[1 : len(t)-1])
	if t == "" {
		return dst, nil
	}
	for f := range strings.SplitSeq(t, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not a JSON array of integers: %w", err)
		}
		dst = append(dst, n)
	}
	return dst, nil
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
	var gsid, usid []int64
	var gno, uno []int32
	rows, err := s.db.QueryContext(ctx, `SELECT snapshot_id, no, group_id, name, description, type, system, role, rule_managed FROM snapshot_groups WHERE snapshot_id IN `+in+` ORDER BY group_id, snapshot_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: load groups: %w", err)
	}
	for rows.Next() {
		var g model.Group
		var rm int
		var sid int64
		var no int32
		if err := rows.Scan(&sid, &no, &g.ID, &g.Name, &g.Description, &g.Type, &g.System, &g.Role, &rm); err != nil {
			rows.Close()
			return nil, err
		}
		g.RuleManaged = rm != 0
		snap.Groups = append(snap.Groups, g)
		gsid, gno = append(gsid, sid), append(gno, no)
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT snapshot_id, no, user_id, login, email, first_name, last_name, department, title, user_type, employee_number, manager, status, created, last_login, origin FROM snapshot_users WHERE snapshot_id IN `+in+` ORDER BY user_id, snapshot_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: load users: %w", err)
	}
	for rows.Next() {
		var u model.User
		var created, last string
		var sid int64
		var no int32
		if err := rows.Scan(&sid, &no, &u.ID, &u.Login, &u.Email, &u.FirstName, &u.LastName, &u.Department, &u.Title, &u.UserType, &u.EmployeeNumber, &u.Manager, &u.Status, &created, &last, &u.Origin); err != nil {
			rows.Close()
			return nil, err
		}
		usid, uno = append(usid, sid), append(uno, no)
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
	// Memberships are the bulk of a snapshot (500,000 rows in a large
	// org) and are stored as numbers: map them to the id strings already
	// loaded instead of allocating two new ones per row.
	type ref struct {
		sid int64
		no  int32
	}
	groupOf := make(map[ref]string, len(snap.Groups))
	for i, g := range snap.Groups {
		groupOf[ref{gsid[i], gno[i]}] = g.ID
	}
	userOf := make(map[ref]string, len(snap.Users))
	for i, u := range snap.Users {
		userOf[ref{usid[i], uno[i]}] = u.ID
	}
	rows, err = s.db.QueryContext(ctx, `SELECT snapshot_id, group_no, source, users FROM snapshot_members WHERE snapshot_id IN `+in+` ORDER BY snapshot_id, group_no, part`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: load memberships: %w", err)
	}
	defer rows.Close()
	var users []int64
	for rows.Next() {
		var sid int64
		var g int32
		var src int
		var list string
		if err := rows.Scan(&sid, &g, &src, &list); err != nil {
			return nil, err
		}
		gid, okG := groupOf[ref{sid, g}]
		if users, err = parseUserList(list, users[:0]); err != nil || !okG {
			return nil, fmt.Errorf("store: snapshot %d: membership list of group %d does not resolve (%v)", sid, g, err)
		}
		source := SourceName(src)
		for _, u := range users {
			uid, okU := userOf[ref{sid, int32(u)}]
			if !okU {
				return nil, fmt.Errorf("store: snapshot %d: group %d names user %d, who is not in it", sid, g, u)
			}
			snap.Memberships = append(snap.Memberships, model.Membership{GroupID: gid, UserID: uid, Source: source})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(snap.Memberships, func(a, b model.Membership) int {
		return cmp.Or(strings.Compare(a.GroupID, b.GroupID), strings.Compare(a.UserID, b.UserID))
	})
	return snap, nil
}
