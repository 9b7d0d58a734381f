package review

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/importer"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/store"
)

// OktaSource reads the access population from Okta; *okta.Client is one.
type OktaSource interface {
	Snapshot(ctx context.Context, o okta.SnapshotOptions) (*model.Snapshot, okta.Stats, error)
}

// OktaSnapshotOptions selects what SnapshotOkta captures.
type OktaSnapshotOptions struct {
	Prefix  string         // okta.group_prefix
	Systems []model.System // systems: of uar.yaml
	OrgURL  string         // recorded with the snapshot
	// AllowEmpty records a snapshot that matched no group (a deliberate
	// empty population); without it such a snapshot is a failure.
	AllowEmpty bool
}

// SnapshotOktaParams are the params of a "snapshot.okta" derive row.
type SnapshotOktaParams struct {
	SnapshotID int64          `json:"snapshot_id"`
	Prefix     string         `json:"prefix"`
	Systems    []model.System `json:"systems"`
	OrgURL     string         `json:"org_url"`
	AllowEmpty bool           `json:"allow_empty,omitempty"`
	Stats      SnapshotStats  `json:"stats"`
}

// SnapshotStats are the request figures recorded with an Okta snapshot.
type SnapshotStats struct {
	Requests      int64 `json:"requests"`
	MinRequests   int   `json:"min_requests"`
	GroupPages    int   `json:"group_pages"`
	MemberPages   int   `json:"member_pages"`
	RulePages     int   `json:"rule_pages"`
	Responses429  int64 `json:"responses_429"`
	GroupsDropped int   `json:"groups_dropped"`
}

// SnapshotImportParams are the params of a "snapshot.import" derive row.
type SnapshotImportParams struct {
	SnapshotID     int64  `json:"snapshot_id"`
	System         string `json:"system"`
	File           string `json:"file"`
	FileEvidenceID string `json:"file_evidence_id"`
	FileBlob       string `json:"file_blob"`
}

// SnapshotResult is a snapshot as written.
type SnapshotResult struct {
	ID    int64
	Snap  *model.Snapshot
	Stats okta.Stats // Okta snapshots only
}

// HintedError is a failure (exit 1) that comes with what to do about it.
type HintedError struct {
	Err  error
	Hint string
}

func (e *HintedError) Error() string { return e.Err.Error() }
func (e *HintedError) Unwrap() error { return e.Err }

// SnapshotOkta reads the population from src and writes it as the review's
// newest snapshot, sealed by a "snapshot.okta" derive row. Nothing is
// written unless the whole listing succeeded (the pages stay recorded as
// calls either way). A listing that matched no group is refused unless
// o.AllowEmpty; a configured system that matched no group is a warning.
func SnapshotOkta(ctx context.Context, s *Step, src OktaSource, o OktaSnapshotOptions) (*SnapshotResult, error) {
	opts := okta.SnapshotOptions{
		Prefix: o.Prefix, Systems: o.Systems, TakenAt: s.Now,
		Progress: func(p okta.Progress) {
			s.Out.Progress("snapshot: %s: %d/%d groups, %d memberships", p.Phase, p.GroupsDone, p.GroupsTotal, p.Memberships)
		},
	}
	snap, stats, err := src.Snapshot(ctx, opts)
	s.Out.ProgressDone()
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if len(snap.Groups) == 0 && !o.AllowEmpty {
		return nil, &HintedError{
			Err:  fmt.Errorf("snapshot: no Okta group name starts with okta.group_prefix %q: nothing to review, nothing recorded", o.Prefix),
			Hint: "check okta.group_prefix (case-sensitive) and that the token's admin can see the groups; pass --allow-empty to record an empty population on purpose",
		}
	}
	for _, name := range unmatchedSystems(o.Systems, snap) {
		s.Out.Warnf("system %s: no group of the snapshot matches its groups: patterns", name)
	}
	params := SnapshotOktaParams{Prefix: o.Prefix, Systems: nonNilSystems(o.Systems), OrgURL: o.OrgURL, AllowEmpty: o.AllowEmpty,
		Stats: SnapshotStats{Requests: stats.Requests, MinRequests: stats.MinRequests, GroupPages: stats.GroupPages,
			MemberPages: stats.MemberPages, RulePages: stats.RulePages, Responses429: stats.Responses429, GroupsDropped: stats.GroupsDropped}}
	var sid int64
	err = s.Store.WithTx(ctx, func(tx *store.Tx) error {
		_, err := s.Ledger.Derive(ctx, tx, "snapshot.okta", func(evID string) (evidence.Derived, error) {
			var err error
			sid, err = tx.InsertSnapshot(ctx, store.SnapshotHeader{Review: s.Review, Source: store.SnapshotOkta, RunID: s.Run.ID}, snap, evID)
			params.SnapshotID = sid
			return evidence.Derived{Scopes: snapshotScopes(sid), Params: params}, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.Out.Infof("snapshot %d of %s: %d groups, %d users, %d memberships (%d API calls; minimum %d)",
		sid, s.Review, len(snap.Groups), len(snap.Users), len(snap.Memberships), stats.Requests, stats.MinRequests)
	if stats.GroupsDropped > 0 {
		s.Out.Infof("snapshot: %d groups matched Okta's case-insensitive search but not the prefix %q: dropped", stats.GroupsDropped, o.Prefix)
	}
	return &SnapshotResult{ID: sid, Snap: snap, Stats: stats}, nil
}

func nonNilSystems(s []model.System) []model.System {
	if s == nil {
		return []model.System{}
	}
	return s
}

// unmatchedSystems are the configured systems whose group patterns match
// no group of snap, sorted.
func unmatchedSystems(systems []model.System, snap *model.Snapshot) []string {
	var out []string
	for _, sys := range systems {
		matched := false
		for _, g := range snap.Groups {
			if g.System == sys.Name {
				matched = true
				break
			}
			for _, pat := range sys.Groups {
				if ok, _ := path.Match(pat, g.Name); ok {
					matched = true
					break
				}
			}
		}
		if !matched {
			out = append(out, sys.Name)
		}
	}
	slices.Sort(out)
	return out
}

func snapshotScopes(sid int64) []evidence.Scope {
	return []evidence.Scope{{Table: "snapshots", Scope: sid}, {Table: "snapshot_groups", Scope: sid},
		{Table: "snapshot_users", Scope: sid}, {Table: "snapshot_memberships", Scope: sid}}
}

// ImportFile is an app-native export already parsed (a bad file is
// refused before any step starts, so nothing is stored from it).
type ImportFile struct {
	Name   string // base name, as recorded
	Data   []byte
	System string
	Parsed *importer.Import
}

// SnapshotImport keeps the file as a blob and writes its population as
// the system's newest import snapshot, sealed by a "snapshot.import" row.
func SnapshotImport(ctx context.Context, s *Step, f ImportFile) (*SnapshotResult, error) {
	if f.Parsed == nil {
		return nil, errors.New("snapshot: import not parsed")
	}
	snap := &model.Snapshot{Groups: f.Parsed.Groups, Users: f.Parsed.Users, Memberships: f.Parsed.Memberships}
	var sid int64
	err := s.Store.WithTx(ctx, func(tx *store.Tx) error {
		file, err := s.Ledger.RecordFile(ctx, tx, "snapshot.import.file", f.Name, f.Data, int64(len(snap.Memberships)))
		if err != nil {
			return err
		}
		_, err = s.Ledger.Derive(ctx, tx, "snapshot.import", func(evID string) (evidence.Derived, error) {
			var err error
			sid, err = tx.InsertSnapshot(ctx, store.SnapshotHeader{Review: s.Review, Source: store.SnapshotImport, System: f.System, RunID: s.Run.ID, FileName: f.Name}, snap, evID)
			return evidence.Derived{Scopes: snapshotScopes(sid), Params: SnapshotImportParams{SnapshotID: sid, System: f.System,
				File: f.Name, FileEvidenceID: file.ID, FileBlob: file.BlobHash}}, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.Out.Infof("snapshot %d of %s: imported %s for %s: %d entitlements, %d accounts, %d memberships",
		sid, s.Review, f.Name, f.System, len(snap.Groups), len(snap.Users), len(snap.Memberships))
	return &SnapshotResult{ID: sid, Snap: snap}, nil
}

// SystemCount is one system's share of a snapshot.
type SystemCount struct {
	System      string `json:"system"`
	Groups      int    `json:"groups"`
	Users       int    `json:"users"`
	Memberships int    `json:"memberships"`
}

// SystemCounts counts groups, distinct users and memberships per system,
// sorted by system.
func SystemCounts(snap *model.Snapshot) []SystemCount {
	sysOf := map[string]string{}
	counts := map[string]*SystemCount{}
	users := map[string]map[string]bool{}
	for _, g := range snap.Groups {
		sysOf[g.ID] = g.System
		c := counts[g.System]
		if c == nil {
			c = &SystemCount{System: g.System}
			counts[g.System] = c
			users[g.System] = map[string]bool{}
		}
		c.Groups++
	}
	for _, m := range snap.Memberships {
		sys, ok := sysOf[m.GroupID]
		if !ok {
			continue
		}
		counts[sys].Memberships++
		users[sys][m.UserID] = true
	}
	out := make([]SystemCount, 0, len(counts))
	for sys, c := range counts {
		c.Users = len(users[sys])
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b SystemCount) int {
		switch {
		case a.System < b.System:
			return -1
		case a.System > b.System:
			return 1
		}
		return 0
	})
	return out
}
