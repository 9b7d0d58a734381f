package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"

	"slices"
	"strings"
)

// membershipColumns are the columns every seal of snapshot_memberships
// records (the view's, in order).
var membershipColumns = []string{"snapshot_id", "group_id", "user_id", "source", "evidence_id"}

// digestMembers is the digest of snapshot_memberships for one snapshot,
// computed from the physical rows without SQLite unpacking each list and
// joining three tables per membership: the group and user ids are read
// once into maps, each group's lists are read in turn and its rows sorted
// by user id here. Groups are numbered in group_id order
// (StageGroups, 0005), so that is the view's order (group_id, user_id);
// if a store's numbering says otherwise (an edited store) it returns
// ok=false and the caller uses the view. Dangling references read as the
// view's NULL ids.
func digestMembers(ctx context.Context, q querier, scope any) (d Digest, ok bool, err error) {
	sid, isInt := scope.(int64)
	if !isInt {
		return Digest{}, false, nil
	}
	groups := map[int64]string{}
	var lastGroup string
	rows, err := q.QueryContext(ctx, `SELECT no, group_id FROM snapshot_groups WHERE snapshot_id = ? ORDER BY no`, sid)
	if err != nil {
		return Digest{}, false, err
	}
	first := true
	for rows.Next() {
		var no int64
		var id string
		if err := rows.Scan(&no, &id); err != nil {
			rows.Close()
			return Digest{}, false, err
		}
		if !first && id <= lastGroup {
			rows.Close()
			return Digest{}, false, nil // not numbered in id order
		}
		first, lastGroup = false, id
		groups[no] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Digest{}, false, err
	}
	users := map[int64]string{}
	rows, err = q.QueryContext(ctx, `SELECT no, user_id FROM snapshot_users WHERE snapshot_id = ?`, sid)
	if err != nil {
		return Digest{}, false, err
	}
	for rows.Next() {
		var no int64
		var id string
		if err := rows.Scan(&no, &id); err != nil {
			rows.Close()
			return Digest{}, false, err
		}
		users[no] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Digest{}, false, err
	}
	var snapEv sql.NullString
	if err := q.QueryRowContext(ctx, `SELECT evidence_id FROM snapshots WHERE id = ?`, sid).Scan(&snapEv); err != nil && err != sql.ErrNoRows {
		return Digest{}, false, err
	}

	type row struct {
		user   string
		hasU   bool
		source int64
		ev     sql.NullString
	}
	h := sha256.New()
	var n int64
	var line []byte
	var run []row
	var curGroup int64
	flush := func() error {
		slices.SortFunc(run, func(a, b row) int {
			// NULL (a dangling user) first, as SQLite orders it.
			if a.hasU != b.hasU {
				if !a.hasU {
					return -1
				}
				return 1
			}
			return strings.Compare(a.user, b.user)
		})
		gid, hasG := groups[curGroup]
		for _, r := range run {
			vals := []any{sid, nil, nil, SourceName(int(r.source)), ""}
			if hasG {
				vals[1] = gid
			}
			if r.hasU {
				vals[2] = r.user
			}
			switch {
			case r.ev.Valid:
				vals[4] = r.ev.String
			case snapEv.Valid:
				vals[4] = snapEv.String
			}
			var err error
			if line, err = appendDigestLine(line[:0], vals); err != nil {
				return err
			}
			h.Write(line)
			n++
		}
		return nil
	}
	// Each group's parts in turn (groups stream in number order, which is
	// group_id order); each group's rows are sorted, hashed and dropped.
	rows, err = q.QueryContext(ctx, `SELECT group_no, source, users, evidence_id FROM snapshot_members WHERE snapshot_id = ? ORDER BY group_no, part`, sid)
	if err != nil {
		return Digest{}, false, err
	}
	defer rows.Close()
	var nums []int64
	started := false
	for rows.Next() {
		var g, src int64
		var list string
		var ev sql.NullString
		if err := rows.Scan(&g, &src, &list, &ev); err != nil {
			return Digest{}, false, err
		}
		if _, known := groups[g]; !known {
			return Digest{}, false, nil // a dangling group: the view decides
		}
		if nums, err = parseUserList(list, nums[:0]); err != nil {
			return Digest{}, false, nil // not our lists (an edited store): the view decides
		}
		if !started || g != curGroup {
			if started {
				if err := flush(); err != nil {
					return Digest{}, false, err
				}
			}
			started, curGroup, run = true, g, run[:0]
		}
		for _, u := range nums {
			id, hasU := users[u]
			run = append(run, row{user: id, hasU: hasU, source: src, ev: ev})
		}
	}
	if err := rows.Err(); err != nil {
		return Digest{}, false, err
	}
	if started {
		if err := flush(); err != nil {
			return Digest{}, false, err
		}
	}
	return Digest{Table: "snapshot_memberships", Scope: scope, Columns: slices.Clone(membershipColumns), Rows: n, Hash: hex.EncodeToString(h.Sum(nil))}, true, nil
}
