package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/uar-dev/uar/internal/model"
)

// Staged snapshots.
//
// A snapshot is written while it is read: BeginStage reserves its id,
// StageGroups, StageUsers and StageMembers insert its rows under that id
// (each in whatever transaction the caller likes, so rows go to disk as
// pages arrive), and CompleteStage, in the transaction that seals them,
// inserts the snapshots row. Until then no view shows the rows: every view
// starts from snapshots (v_current_snapshots). A stage whose run ended
// without completing it is removed by DiscardAbandonedStages, which the
// next snapshot calls; verify reports such rows as staged, not as
// tampering.

// Membership sources as stored in snapshot_members.source.
const (
	sourceDirect = 0
	sourceRule   = 1
	sourceApp    = 2
)

// SourceCode is the stored code of a membership source (model.Source*).
func SourceCode(source string) (int8, error) {
	switch source {
	case model.SourceDirect:
		return sourceDirect, nil
	case model.SourceRule:
		return sourceRule, nil
	case model.SourceApp:
		return sourceApp, nil
	}
	return 0, fmt.Errorf("store: membership source %q: want direct, rule or app", source)
}

// SourceName is the inverse of SourceCode.
func SourceName(code int) string {
	switch code {
	case sourceDirect:
		return model.SourceDirect
	case sourceRule:
		return model.SourceRule
	}
	return model.SourceApp
}

// StagedUser is a user row of a staged snapshot with its number, which
// memberships refer to. Numbers are 1, 2, ... and unique in the snapshot.
type StagedUser struct {
	No int32
	model.User
}

// MemberPart is one part of a group's membership list in a staged
// snapshot: the users (numbers) one page gave, with their source code
// (SourceCode). Parts are numbered 1, 2, ... per group and read.
type MemberPart struct {
	GroupNo int32
	Part    int32
	Source  int8
	Users   []int32
}

// BeginStage reserves the id of a new snapshot and records it as staged.
// The id is above every snapshot and stage id there is, so a completed
// stage keeps the id order of snapshots the order they were taken in.
func (tx *Tx) BeginStage(ctx context.Context, h SnapshotHeader) (int64, error) {
	var id int64
	err := tx.tx.QueryRowContext(ctx, `SELECT max(COALESCE((SELECT max(id) FROM snapshots), 0), COALESCE((SELECT max(id) FROM snapshot_stages), 0)) + 1`).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: begin snapshot: %w", err)
	}
	if _, err := tx.exec(ctx, `INSERT INTO snapshot_stages (id, review, source, system, run_id, file_name, started_at) VALUES (?,?,?,?,?,?,?)`,
		id, h.Review, h.Source, h.System, h.RunID, h.FileName, FormatTime(tx.Now)); err != nil {
		return 0, fmt.Errorf("store: begin snapshot: %w", err)
	}
	return id, nil
}

// StageGroups inserts every group of staged snapshot sid, numbered 1, 2,
// ... in id order (the memberships digest reads groups in that order), and
// returns the number of each group id. Callers MUST pass all the
// snapshot's groups in this one call.
func (tx *Tx) StageGroups(ctx context.Context, sid int64, groups []model.Group) (map[string]int32, error) {
	gs := slices.Clone(groups)
	slices.SortFunc(gs, func(a, b model.Group) int { return strings.Compare(a.ID, b.ID) })
	nos := make(map[string]int32, len(gs))
	err := insertRows(ctx, tx, `INSERT INTO snapshot_groups (snapshot_id, no, group_id, name, description, type, system, role, rule_managed) VALUES `,
		9, 64, len(gs), func(i int, args []any) []any {
			g := &gs[i]
			nos[g.ID] = int32(i + 1)
			return append(args, sid, i+1, g.ID, g.Name, g.Description, g.Type, g.System, g.Role, boolInt(g.RuleManaged))
		})
	if err != nil {
		return nil, fmt.Errorf("store: stage groups of snapshot %d: %w", sid, err)
	}
	return nos, nil
}

// StageUsers inserts user rows of staged snapshot sid.
func (tx *Tx) StageUsers(ctx context.Context, sid int64, users []StagedUser) error {
	err := insertRows(ctx, tx, `INSERT INTO snapshot_users (snapshot_id, no, user_id, login, email, first_name, last_name, department, title, user_type, employee_number, manager, status, created, last_login, origin) VALUES `,
		16, 64, len(users), func(i int, args []any) []any {
			u := &users[i]
			return append(args, sid, u.No, u.ID, u.Login, u.Email, u.FirstName, u.LastName, u.Department, u.Title, u.UserType,
				u.EmployeeNumber, u.Manager, u.Status, FormatTime(u.Created), FormatTime(u.LastLogin), u.Origin)
		})
	if err != nil {
		return fmt.Errorf("store: stage users of snapshot %d: %w", sid, err)
	}
	return nil
}

// ReplaceStagedUser rewrites the attributes of a staged user (found by id),
// when a later page supplies the record that wins.
func (tx *Tx) ReplaceStagedUser(ctx context.Context, sid int64, u model.User) error {
	res, err := tx.exec(ctx, `UPDATE snapshot_users SET login = ?, email = ?, first_name = ?, last_name = ?, department = ?, title = ?, user_type = ?,
		employee_number = ?, manager = ?, status = ?, created = ?, last_login = ?, origin = ? WHERE snapshot_id = ? AND user_id = ?`,
		u.Login, u.Email, u.FirstName, u.LastName, u.Department, u.Title, u.UserType, u.EmployeeNumber, u.Manager, u.Status,
		FormatTime(u.Created), FormatTime(u.LastLogin), u.Origin, sid, u.ID)
	if err != nil {
		return fmt.Errorf("store: replace user %s of snapshot %d: %w", u.ID, sid, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: replace user %s of snapshot %d: %w", u.ID, sid, ErrNotFound)
	}
	return nil
}

// DeleteStagedUsers removes users (by number) of a staged snapshot, those
// left without a membership after a group was read again.
func (tx *Tx) DeleteStagedUsers(ctx context.Context, sid int64, nos []int32) error {
	for _, no := range nos {
		if _, err := tx.exec(ctx, `DELETE FROM snapshot_users WHERE snapshot_id = ? AND no = ?`, sid, no); err != nil {
			return fmt.Errorf("store: delete user %d of snapshot %d: %w", no, sid, err)
		}
	}
	return nil
}

// StageMembers inserts membership parts of staged snapshot sid, one row
// each (the users sorted, as a JSON array). A user listed twice in a
// group's read is the caller's to prevent (the okta builder does).
func (tx *Tx) StageMembers(ctx context.Context, sid int64, parts []MemberPart) error {
	var arr []byte
	for _, p := range parts {
		us := slices.Clone(p.Users)
		slices.Sort(us)
		arr = append(arr[:0], '[')
		for i, u := range us {
			if i > 0 {
				arr = append(arr, ',')
			}
			arr = strconv.AppendInt(arr, int64(u), 10)
		}
		arr = append(arr, ']')
		if _, err := tx.exec(ctx, `INSERT INTO snapshot_members (snapshot_id, group_no, part, source, users) VALUES (?,?,?,?,?)`,
			sid, int64(p.GroupNo), int64(p.Part), int64(p.Source), string(arr)); err != nil {
			return fmt.Errorf("store: stage memberships of snapshot %d: %w", sid, err)
		}
	}
	return nil
}

// DeleteStagedMembers removes every membership part of one group of a
// staged snapshot (the group is being read again).
func (tx *Tx) DeleteStagedMembers(ctx context.Context, sid int64, groupNo int32) error {
	if _, err := tx.exec(ctx, `DELETE FROM snapshot_members WHERE snapshot_id = ? AND group_no = ?`, sid, groupNo); err != nil {
		return fmt.Errorf("store: delete memberships of group %d of snapshot %d: %w", groupNo, sid, err)
	}
	return nil
}

// CompleteStage makes staged snapshot sid a snapshot sealed by
// evidenceID (the derive row the caller appends next in the same
// transaction), taken at the transaction's time.
func (tx *Tx) CompleteStage(ctx context.Context, sid int64, evidenceID string) error {
	res, err := tx.exec(ctx, `INSERT INTO snapshots (id, review, source, system, run_id, taken_at, file_name, evidence_id)
		SELECT id, review, source, system, run_id, ?, file_name, ? FROM snapshot_stages WHERE id = ?`, FormatTime(tx.Now), evidenceID, sid)
	if err != nil {
		return fmt.Errorf("store: complete snapshot %d: %w", sid, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: complete snapshot %d: it is not staged: %w", sid, ErrNotFound)
	}
	// Rows were staged before the seal's id existed; they name it now.
	for _, t := range []string{"snapshot_groups", "snapshot_users"} {
		if _, err := tx.exec(ctx, `UPDATE `+t+` SET evidence_id = ? WHERE snapshot_id = ?`, evidenceID, sid); err != nil {
			return fmt.Errorf("store: complete snapshot %d: %w", sid, err)
		}
	}
	if _, err := tx.exec(ctx, `DELETE FROM snapshot_stages WHERE id = ?`, sid); err != nil {
		return fmt.Errorf("store: complete snapshot %d: %w", sid, err)
	}
	return nil
}

// StageInfo is a snapshot still staged, with how many rows it holds.
type StageInfo struct {
	ID          int64  `json:"id"`
	Review      string `json:"review"`
	Source      string `json:"source"`
	System      string `json:"system"`
	RunID       string `json:"run_id"`
	StartedAt   string `json:"started_at"`
	Groups      int64  `json:"groups"`
	Users       int64  `json:"users"`
	Memberships int64  `json:"memberships"`
	Listings    int64  `json:"listings"`
}

const stageInfoSQL = `SELECT id, review, source, system, run_id, started_at,
	(SELECT count(*) FROM snapshot_groups WHERE snapshot_id = st.id),
	(SELECT count(*) FROM snapshot_users WHERE snapshot_id = st.id),
	(SELECT COALESCE(sum(json_array_length(users)), 0) FROM snapshot_members WHERE snapshot_id = st.id),
	(SELECT count(*) FROM snapshot_listings WHERE snapshot_id = st.id)
	FROM snapshot_stages st ORDER BY id`

func stages(ctx context.Context, q querier) ([]StageInfo, error) {
	rows, err := q.QueryContext(ctx, stageInfoSQL)
	if err != nil {
		return nil, fmt.Errorf("store: staged snapshots: %w", err)
	}
	defer rows.Close()
	var out []StageInfo
	for rows.Next() {
		var i StageInfo
		if err := rows.Scan(&i.ID, &i.Review, &i.Source, &i.System, &i.RunID, &i.StartedAt, &i.Groups, &i.Users, &i.Memberships, &i.Listings); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// Stages returns the snapshots still staged (being written, or left by a
// run that did not finish), in id order.
func (s *Store) Stages(ctx context.Context) ([]StageInfo, error) { return stages(ctx, s.db) }

// DiscardAbandonedStages removes every staged snapshot whose run is not
// running (it failed, was interrupted, or was killed and then marked
// interrupted by evidence.MarkAbandonedRuns), with all its rows, and
// returns what it removed. A stage of a run still running (another
// process's snapshot in progress) is left alone.
func (tx *Tx) DiscardAbandonedStages(ctx context.Context) ([]StageInfo, error) {
	all, err := stages(ctx, tx.tx)
	if err != nil {
		return nil, err
	}
	var out []StageInfo
	for _, st := range all {
		var running int
		if err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE id = ? AND status = 'running'`, st.RunID).Scan(&running); err != nil {
			return nil, err
		}
		if running > 0 {
			continue
		}
		if err := discardStage(ctx, tx, st.ID); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// DiscardStage removes staged snapshot sid and all its rows (a snapshot
// that failed).
func (tx *Tx) DiscardStage(ctx context.Context, sid int64) error { return discardStage(ctx, tx, sid) }

func discardStage(ctx context.Context, tx *Tx, sid int64) error {
	// A stage id is never a snapshot's: refuse to delete a snapshot's rows
	// if the tables say otherwise.
	var n int
	if err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM snapshots WHERE id = ?`, sid).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("store: snapshot_stages names snapshot %d, which is complete: not discarding it", sid)
	}
	for _, t := range []string{"snapshot_members", "snapshot_users", "snapshot_groups", "snapshot_listings", "snapshot_stages"} {
		col := "snapshot_id"
		if t == "snapshot_stages" {
			col = "id"
		}
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE `+col+` = ?`, sid); err != nil {
			return fmt.Errorf("store: discard staged snapshot %d: %w", sid, err)
		}
	}
	return nil
}

// insertRows inserts n rows with multi-row INSERT statements of up to
// per rows each (prepared once per transaction and size): one statement
// per row costs most of the time of a bulk insert in SQLite.
func insertRows(ctx context.Context, tx *Tx, prefix string, cols, per, n int, row func(i int, args []any) []any) error {
	args := make([]any, 0, cols*per)
	for start := 0; start < n; start += per {
		k := min(per, n-start)
		args = args[:0]
		for i := start; i < start+k; i++ {
			args = row(i, args)
		}
		if _, err := tx.exec(ctx, prefix+valuesList(cols, k), args...); err != nil {
			return err
		}
	}
	return nil
}

// valuesList is "(?,?),(?,?)..." for k rows of cols columns.
func valuesList(cols, k int) string {
	one := "(" + placeholders(cols) + ")"
	var b strings.Builder
	b.Grow(k * (len(one) + 1))
	for i := range k {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
	}
	return b.String()
}
