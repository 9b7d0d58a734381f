package review

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/store"
)

// Completeness (DESIGN §4 snapshot): every listing a snapshot was built
// from carries its own record (store.Listing). A group whose paged members
// disagree with Okta's count after a re-read is a gap, an import exported
// longer ago than snapshot.max_import_age is stale; score and publish
// refuse a population with either unless the gap is accepted explicitly
// (--accept-gap "reason"), which is recorded with the actor and sealed.

// GapAcceptanceParams are the params of a "snapshot.accept_gap" derive row.
type GapAcceptanceParams struct {
	AcceptanceID int64  `json:"acceptance_id"`
	SnapshotID   int64  `json:"snapshot_id"`
	Command      string `json:"command"`
	Actor        string `json:"actor"`
	Reason       string `json:"reason"`
}

// acceptedListing is what an acceptance records of each listing.
type acceptedListing struct {
	No               int    `json:"no"`
	Kind             string `json:"kind"`
	GroupID          string `json:"group_id,omitempty"`
	GroupName        string `json:"group_name,omitempty"`
	Query            string `json:"query"`
	Status           string `json:"status"`
	PagedCount       int    `json:"paged_count"`
	IndependentCount int    `json:"independent_count"`
	ExportedAt       string `json:"exported_at,omitempty"`
}

// acceptGaps records that the gaps of snapshot sid are accepted for
// reason, by the run's actor, sealed by a "snapshot.accept_gap" row.
func acceptGaps(ctx context.Context, s *Step, tx *store.Tx, command string, sid int64, gaps []store.Listing, reason string) error {
	ls := make([]acceptedListing, len(gaps))
	for i, g := range gaps {
		ls[i] = acceptedListing{No: g.No, Kind: g.Kind, GroupID: g.GroupID, GroupName: g.GroupName, Query: g.QueryText, Status: g.Status,
			PagedCount: g.PagedCount, IndependentCount: g.IndependentCount, ExportedAt: g.ExportedAt}
	}
	lj, err := json.Marshal(ls)
	if err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	_, err = s.Ledger.Derive(ctx, tx, "snapshot.accept_gap", func(evID string) (evidence.Derived, error) {
		id, err := tx.InsertGapAcceptance(ctx, store.GapAcceptance{SnapshotID: sid, RunID: s.Run.ID, Command: command, Actor: s.Ledger.Actor,
			Reason: reason, Listings: string(lj)}, evID)
		return evidence.Derived{Scopes: []evidence.Scope{{Table: "gap_acceptances", Scope: id}},
			Params: GapAcceptanceParams{AcceptanceID: id, SnapshotID: sid, Command: command, Actor: s.Ledger.Actor, Reason: reason}}, err
	})
	return err
}

// unacceptedGaps returns, per snapshot of ids, its gap and stale listings
// when no acceptance was recorded for it.
func unacceptedGaps(ctx context.Context, st *store.Store, ids []int64) (map[int64][]store.Listing, error) {
	out := map[int64][]store.Listing{}
	for _, id := range ids {
		ls, err := st.Listings(ctx, id)
		if err != nil {
			return nil, err
		}
		gaps := gapListings(ls)
		if len(gaps) == 0 {
			continue
		}
		acc, err := st.GapAcceptances(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(acc) == 0 {
			out[id] = gaps
		}
	}
	return out, nil
}

// CheckGaps refuses (a *HintedError) a population whose snapshots have an
// unaccepted gap, unless accept gives the reason: the acceptance is then
// recorded for each such snapshot (nothing is recorded when record is
// false, as for a dry run). command names the step in the record.
func CheckGaps(ctx context.Context, s *Step, command string, ids []int64, accept string, record bool) error {
	gaps, err := unacceptedGaps(ctx, s.Store, ids)
	if err != nil {
		return err
	}
	if len(gaps) == 0 {
		if strings.TrimSpace(accept) != "" {
			s.Out.Warnf("--accept-gap: the review's snapshots have no unaccepted gap: nothing to accept")
		}
		return nil
	}
	var all []string
	n := 0
	for _, id := range ids {
		if g, ok := gaps[id]; ok {
			all = append(all, fmt.Sprintf("snapshot %d: %s", id, describeGaps(g)))
			n += len(g)
		}
	}
	if strings.TrimSpace(accept) == "" {
		return &HintedError{
			Err: fmt.Errorf("%s: review %s: the population is not proven complete (%s): refused",
				command, s.Review, strings.Join(all, "; ")),
			Hint: fmt.Sprintf("run 'uar snapshot' again, or accept the %s: uar %s --accept-gap \"reason\" (recorded with who ran it)", plural(n, "gap", "gaps"), command),
		}
	}
	if !record {
		s.Out.Warnf("%s: would accept %s (%s)", command, plural(n, "gap", "gaps"), strings.Join(all, "; "))
		return nil
	}
	err = s.Store.WithTx(ctx, func(tx *store.Tx) error {
		for _, id := range ids {
			if g, ok := gaps[id]; ok {
				if err := acceptGaps(ctx, s, tx, command, id, g, accept); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.Out.Warnf("%s: accepted %s (%s): %q, recorded as accepted by %s", command, plural(n, "gap", "gaps"), strings.Join(all, "; "), strings.TrimSpace(accept), s.Ledger.Actor)
	return nil
}
