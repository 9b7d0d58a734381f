package review

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/store"
)

// OktaSource reads the access population from Okta; *okta.Client is one.
type OktaSource interface {
	Read(ctx context.Context, o okta.SnapshotOptions, sink okta.Sink) (*okta.Result, okta.Stats, error)
}

// OktaSnapshotOptions selects what SnapshotOkta captures.
type OktaSnapshotOptions struct {
	Prefix  string         // okta.group_prefix
	Systems []model.System // systems: of uar.yaml
	OrgURL  string         // recorded with the snapshot
	// EmployeeIDAttribute is okta.employee_id_attribute ("" means
	// okta.DefaultEmployeeIDAttribute).
	EmployeeIDAttribute string
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
	// EmployeeIDAttribute is the profile attribute read as the employee
	// number; absent (snapshots before it existed) means employeeNumber.
	EmployeeIDAttribute string        `json:"employee_id_attribute,omitempty"`
	Stats               SnapshotStats `json:"stats"`
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
	// Completeness: groups read again because Okta's count disagreed, the
	// stats calls that took, and the gaps left after the re-read.
	Rereads    int `json:"rereads,omitempty"`
	StatsCalls int `json:"stats_calls,omitempty"`
	Gaps       int `json:"gaps,omitempty"`
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
	ID      int64
	Systems []SystemCount
	// Totals of the snapshot.
	Groups, Users, Memberships int
	Stats                      okta.Stats // Okta snapshots only
	Listings                   []store.Listing
}

// HintedError is a failure (exit 1) that comes with what to do about it.
type HintedError struct {
	Err  error
	Hint string
}

func (e *HintedError) Error() string { return e.Err.Error() }
func (e *HintedError) Unwrap() error { return e.Err }

// errNoGroups stops a listing that matched no group (see AllowEmpty).
var errNoGroups = errors.New("no group matched")

// SnapshotOkta reads the population from src and writes it as the review's
// newest snapshot while the pages arrive: each page's groups, users and
// memberships are staged under the snapshot's id (invisible to every
// view), and the final transaction records the completeness listings,
// inserts the snapshots row and seals everything with a "snapshot.okta"
// derive row. A failure leaves the recorded pages (evidence is never
// deleted) and no snapshot; rows staged by a run that did not finish are
// removed by the next snapshot. A listing that matched no group is
// refused unless o.AllowEmpty; a configured system that matched no group
// is a warning.
//
// A group whose paged members still disagree with Okta's own count after
// one re-read is a gap: the snapshot is recorded with it, and a
// *HintedError says so (score and publish refuse the snapshot until the
// gap is accepted); the result is returned alongside.
func SnapshotOkta(ctx context.Context, s *Step, src OktaSource, o OktaSnapshotOptions) (*SnapshotResult, error) {
	sid, err := beginStage(ctx, s, store.SnapshotHeader{Review: s.Review, Source: store.SnapshotOkta, RunID: s.Run.ID})
	if err != nil {
		return nil, err
	}
	w := newStageWriter(ctx, s.Store, sid, o.AllowEmpty)
	opts := okta.SnapshotOptions{
		Prefix: o.Prefix, Systems: o.Systems, TakenAt: s.Now, EmployeeIDAttribute: o.EmployeeIDAttribute,
		Progress: func(p okta.Progress) {
			s.Out.Progress("snapshot: %s: %d/%d groups, %d memberships", p.Phase, p.GroupsDone, p.GroupsTotal, p.Memberships)
		},
	}
	res, stats, err := src.Read(ctx, opts, w)
	s.Out.ProgressDone()
	if werr := w.close(); err == nil {
		err = werr
	}
	if err != nil {
		discardFailedStage(ctx, s, sid)
		if errors.Is(err, errNoGroups) {
			return nil, &HintedError{
				Err:  fmt.Errorf("snapshot: no Okta group name starts with okta.group_prefix %q: nothing to review, nothing recorded", o.Prefix),
				Hint: "check okta.group_prefix (case-sensitive) and that the token's admin can see the groups; pass --allow-empty to record an empty population on purpose",
			}
		}
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	for _, name := range unmatchedSystems(o.Systems, res.Groups) {
		s.Out.Warnf("system %s: no group of the snapshot matches its groups: patterns", name)
	}
	listings := oktaListings(o.OrgURL, res.Listings)
	params := SnapshotOktaParams{Prefix: o.Prefix, Systems: nonNilSystems(o.Systems), OrgURL: o.OrgURL, AllowEmpty: o.AllowEmpty,
		EmployeeIDAttribute: o.EmployeeIDAttribute,
		Stats: SnapshotStats{Requests: stats.Requests, MinRequests: stats.MinRequests, GroupPages: stats.GroupPages,
			MemberPages: stats.MemberPages, RulePages: stats.RulePages, Responses429: stats.Responses429, GroupsDropped: stats.GroupsDropped,
			Rereads: stats.Rereads, StatsCalls: stats.StatsCalls, Gaps: stats.Gaps}}
	if params.EmployeeIDAttribute == okta.DefaultEmployeeIDAttribute {
		params.EmployeeIDAttribute = "" // the default: recorded by its absence, as before it was a setting
	}
	err = s.Store.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteStagedUsers(ctx, sid, w.numbersOf(res.Orphans)); err != nil {
			return err
		}
		if err := tx.InsertListings(ctx, sid, listings); err != nil {
			return err
		}
		_, err := s.Ledger.Derive(ctx, tx, "snapshot.okta", func(evID string) (evidence.Derived, error) {
			params.SnapshotID = sid
			return evidence.Derived{Scopes: snapshotScopes(sid), Params: params}, tx.CompleteStage(ctx, sid, evID)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &SnapshotResult{ID: sid, Systems: countSystems(res.Groups, res.Members), Groups: len(res.Groups), Users: res.Users,
		Memberships: res.Memberships, Stats: stats, Listings: listings}
	s.Out.Infof("snapshot %d of %s: %d groups, %d users, %d memberships (%d API calls; minimum %d)",
		sid, s.Review, out.Groups, out.Users, out.Memberships, stats.Requests, stats.MinRequests)
	if stats.GroupsDropped > 0 {
		s.Out.Infof("snapshot: %d groups matched Okta's case-insensitive search but not the prefix %q: dropped", stats.GroupsDropped, o.Prefix)
	}
	if stats.Rereads > 0 {
		s.Out.Infof("snapshot: %d groups were read again because their members disagreed with Okta's own count", stats.Rereads)
	}
	if gaps := gapListings(listings); len(gaps) > 0 {
		return out, &HintedError{
			Err: fmt.Errorf("snapshot %d of %s is incomplete: %s; recorded as %s (score and publish refuse it until accepted)",
				sid, s.Review, describeGaps(gaps), plural(len(gaps), "gap", "gaps")),
			Hint: "run 'uar snapshot' again (Okta's counts can lag a membership change), or accept the gap: uar score --accept-gap \"reason\"",
		}
	}
	return out, nil
}

// beginStage removes what an unfinished snapshot left and reserves the new
// snapshot's id.
func beginStage(ctx context.Context, s *Step, h store.SnapshotHeader) (int64, error) {
	var sid int64
	err := s.Store.WithTx(ctx, func(tx *store.Tx) error {
		left, err := tx.DiscardAbandonedStages(ctx)
		if err != nil {
			return err
		}
		for _, st := range left {
			s.Out.Infof("snapshot: removed the staged rows of snapshot %d (run %s, started %s, did not finish): %d groups, %d users, %d memberships",
				st.ID, st.RunID, st.StartedAt, st.Groups, st.Users, st.Memberships)
		}
		sid, err = tx.BeginStage(ctx, h)
		return err
	})
	return sid, err
}

// discardFailedStage removes the rows of a snapshot that failed (not of
// one interrupted: a prompt exit matters more, and the next snapshot
// removes them).
func discardFailedStage(ctx context.Context, s *Step, sid int64) {
	if ctx.Err() != nil {
		return
	}
	_ = s.Store.WithTx(ctx, func(tx *store.Tx) error { return tx.DiscardStage(ctx, sid) })
}

// oktaListings turns the client's listings into rows, naming each query
// on the org.
func oktaListings(orgURL string, ls []okta.Listing) []store.Listing {
	out := make([]store.Listing, len(ls))
	for i, l := range ls {
		method, target, _ := strings.Cut(l.Query, " ")
		params := "{}"
		if u, err := url.Parse(target); err == nil {
			if c, err := evidence.Canonical(u.Query()); err == nil {
				params = string(c)
			}
		}
		out[i] = store.Listing{Kind: l.Kind, GroupID: l.GroupID, GroupName: l.GroupName, QueryText: method + " " + strings.TrimRight(orgURL, "/") + target,
			QueryParams: params, Pages: l.Pages, PagedCount: l.Rows, IndependentCount: l.OktaCount, Status: l.Status, Reread: l.Reread,
			CountEvidenceID: l.CountEvidence, PageEvidenceIDs: l.PageEvidence}
	}
	return out
}

func gapListings(ls []store.Listing) []store.Listing {
	var out []store.Listing
	for _, l := range ls {
		if l.Status == store.ListingGap || l.Status == store.ListingStale {
			out = append(out, l)
		}
	}
	return out
}

// describeGaps names up to five gaps: "SOX-A-Users: 9 members paged, Okta
// counts 10".
func describeGaps(gaps []store.Listing) string {
	var parts []string
	for i, g := range gaps {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(gaps)-5))
			break
		}
		switch {
		case g.Kind == "import":
			parts = append(parts, fmt.Sprintf("%s: exported %s", g.QueryText, g.ExportedAt))
		case g.IndependentCount < 0:
			parts = append(parts, fmt.Sprintf("%s: %d members paged, Okta gave no count", g.GroupName, g.PagedCount))
		default:
			parts = append(parts, fmt.Sprintf("%s: %d members paged, Okta counts %d", g.GroupName, g.PagedCount, g.IndependentCount))
		}
	}
	return strings.Join(parts, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func nonNilSystems(s []model.System) []model.System {
	if s == nil {
		return []model.System{}
	}
	return s
}

// unmatchedSystems are the configured systems whose group patterns match
// no group, sorted.
func unmatchedSystems(systems []model.System, groups []model.Group) []string {
	var out []string
	for _, sys := range systems {
		matched := false
		for _, g := range groups {
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
		{Table: "snapshot_users", Scope: sid}, {Table: "snapshot_memberships", Scope: sid}, {Table: "snapshot_listings", Scope: sid}}
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
	idx := map[string]int32{}
	for i, u := range snap.Users {
		idx[u.ID] = int32(i)
	}
	gi := map[string]int{}
	members := make([][]int32, len(snap.Groups))
	for i, g := range snap.Groups {
		gi[g.ID] = i
	}
	for _, m := range snap.Memberships {
		g, okG := gi[m.GroupID]
		u, okU := idx[m.UserID]
		if okG && okU {
			members[g] = append(members[g], u)
		}
	}
	return countSystems(snap.Groups, members)
}

// countSystems counts per system from groups and their members (user
// indexes), sorted by system.
func countSystems(groups []model.Group, members [][]int32) []SystemCount {
	counts := map[string]*SystemCount{}
	users := map[string]map[int32]bool{}
	for i, g := range groups {
		c := counts[g.System]
		if c == nil {
			c = &SystemCount{System: g.System}
			counts[g.System] = c
			users[g.System] = map[int32]bool{}
		}
		c.Groups++
		if i < len(members) {
			c.Memberships += len(members[i])
			for _, u := range members[i] {
				users[g.System][u] = true
			}
		}
	}
	out := make([]SystemCount, 0, len(counts))
	for sys, c := range counts {
		c.Users = len(users[sys])
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b SystemCount) int { return strings.Compare(a.System, b.System) })
	return out
}
