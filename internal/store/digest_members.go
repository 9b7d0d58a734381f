package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"

	"slices"
	"strings"
)

// membershipColumns are the columns every seal of snapshot_memberships
// records (the view's, in order).
var membershipColumns = []string{"snapshot_id", "group_id", "user_id", "source", "evidence_id"}

// digestMembers is the digest of snapshot_memberships for one snapshot,
// computed from the physical rows without SQLite joining three tables per
// membership: the group and user ids are read once into maps, members are
// scanned in key order (group number, user number) and each group's rows
// are sorted by user id here. Groups are numbered in group_id order
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
	// Rows written before 0005 that kept their own evidence id come one by
	// one (there are normally none); every other group's members come as
	// one row: SQLite concatenates the group's user numbers and sources (in
	// the same row order), so one row per group crosses into Go instead of
	// one per membership. Groups stream in number order, which is
	// group_id order; each is sorted and hashed, then dropped.
	legacy := map[int64][]row{}
	rows, err = q.QueryContext(ctx, `SELECT group_no, user_no, source, evidence_id FROM snapshot_members WHERE snapshot_id = ? AND evidence_id IS NOT NULL`, sid)
	if err != nil {
		return Digest{}, false, err
	}
	for rows.Next() {
		var g, u, src int64
		var ev sql.NullString
		if err := rows.Scan(&g, &u, &src, &ev); err != nil {
			rows.Close()
			return Digest{}, false, err
		}
		if _, known := groups[g]; !known {
			rows.Close()
			return Digest{}, false, nil // a dangling group: the view decides
		}
		id, hasU := users[u]
		legacy[g] = append(legacy[g], row{user: id, hasU: hasU, source: src, ev: ev})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Digest{}, false, err
	}
	pending := make([]int64, 0, len(legacy))
	for g := range legacy {
		pending = append(pending, g)
	}
	slices.Sort(pending)
	// flushUpTo hashes the groups that have only legacy rows, below g.
	flushUpTo := func(g int64) error {
		for len(pending) > 0 && pending[0] < g {
			curGroup, run = pending[0], legacy[pending[0]]
			pending = pending[1:]
			if err := flush(); err != nil {
				return err
			}
		}
		return nil
	}
	rows, err = q.QueryContext(ctx, `SELECT group_no, group_concat(user_no), group_concat(source) FROM snapshot_members
		WHERE snapshot_id = ? AND evidence_id IS NULL GROUP BY group_no ORDER BY group_no`, sid)
	if err != nil {
		return Digest{}, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var g int64
		var us, ss string
		if err := rows.Scan(&g, &us, &ss); err != nil {
			return Digest{}, false, err
		}
		if _, known := groups[g]; !known {
			return Digest{}, false, nil
		}
		if err := flushUpTo(g); err != nil {
			return Digest{}, false, err
		}
		uNos, sNos := strings.Split(us, ","), strings.Split(ss, ",")
		if len(uNos) != len(sNos) {
			return Digest{}, false, fmt.Errorf("group %d: %d users, %d sources", g, len(uNos), len(sNos))
		}
		run = run[:0]
		for i := range uNos {
			u, err1 := strconv.ParseInt(uNos[i], 10, 64)
			src, err2 := strconv.ParseInt(sNos[i], 10, 64)
			if err1 != nil || err2 != nil {
				return Digest{}, false, nil // not integers (an edited store): the view decides
			}
			id, hasU := users[u]
			run = append(run, row{user: id, hasU: hasU, source: src})
		}
		if len(pending) > 0 && pending[0] == g {
			run = append(run, legacy[g]...)
			pending = pending[1:]
		}
		curGroup = g
		if err := flush(); err != nil {
			return Digest{}, false, err
		}
	}
	if err := rows.Err(); err != nil {
		return Digest{}, false, err
	}
	if err := flushUpTo(math.MaxInt64); err != nil {
		return Digest{}, false, err
	}
	return Digest{Table: "snapshot_memberships", Scope: scope, Columns: slices.Clone(membershipColumns), Rows: n, Hash: hex.EncodeToString(h.Sum(nil))}, true, nil
}
