package review

import (
	"context"
	"errors"
	"slices"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/store"
)

// Population is a review's current access population: its latest complete
// Okta snapshot plus, per imported system, its latest import, merged.
type Population struct {
	Snapshots []store.SnapshotInfo
	IDs       []int64
	Snap      *model.Snapshot
}

// LoadPopulation loads the review's current population. It returns a
// *PrerequisiteError when the review has no snapshot.
func LoadPopulation(ctx context.Context, st *store.Store, review string) (*Population, error) {
	snaps, err := st.CurrentSnapshots(ctx, review)
	if err != nil {
		return nil, err
	}
	if len(snaps) == 0 {
		return nil, prerequisite("run 'uar snapshot --review "+review+"' first", "review %s has no snapshot: run 'uar snapshot' first", review)
	}
	ids := make([]int64, len(snaps))
	for i, s := range snaps {
		ids[i] = s.ID
	}
	snap, err := st.LoadSnapshot(ctx, ids)
	if err != nil {
		return nil, err
	}
	return &Population{Snapshots: snaps, IDs: ids, Snap: snap}, nil
}

// Scored is a population with the review's current scoring of it.
type Scored struct {
	*Population
	Scoring *store.Scoring
}

// LoadScored loads the current population and its current scoring. It
// refuses (a *PrerequisiteError) when the review was never scored, or was
// snapshotted again or given a new HR listing after its last scoring:
// publishing or deciding on the findings of an older population would ask
// owners about the wrong thing.
func LoadScored(ctx context.Context, st *store.Store, review string) (*Scored, error) {
	pop, err := LoadPopulation(ctx, st, review)
	if err != nil {
		return nil, err
	}
	sc, err := st.CurrentScoring(ctx, review)
	if errors.Is(err, store.ErrNotFound) {
		return nil, prerequisite("run 'uar score --review "+review+"'", "review %s has no scoring: run 'uar score' first", review)
	}
	if err != nil {
		return nil, err
	}
	if !slices.Equal(sc.SnapshotIDs, pop.IDs) {
		return nil, prerequisite("run 'uar score --review "+review+"'", "review %s was snapshotted again after its last scoring: run 'uar score' first", review)
	}
	if stale, err := hrStale(ctx, st, review, sc); err != nil {
		return nil, err
	} else if stale {
		return nil, prerequisite("run 'uar score --review "+review+"'", "review %s has an HR listing imported after its last scoring: run 'uar score' first", review)
	}
	return &Scored{Population: pop, Scoring: sc}, nil
}
