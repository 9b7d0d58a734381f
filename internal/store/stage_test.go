package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/uar-dev/uar/internal/model"
)

// The next snapshot removes the stages of runs that ended without
// completing them, and leaves a stage whose run is still running alone;
// a stage's rows go with it, and a stage naming a complete snapshot is
// refused rather than deleting the snapshot's rows.
func TestDiscardAbandonedStages(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "uar.db"), Options{Create: true})
	defer s.Close()
	var dead, live int64
	var runs []string
	err := s.WithTx(ctx, func(tx *Tx) error {
		for range 2 {
			r, err := tx.InsertRun(ctx, Run{Command: "snapshot", Args: "[]", ToolVersion: "t", Actor: "a", Host: "h"})
			if err != nil {
				return err
			}
			runs = append(runs, r.ID)
		}
		var err error
		for i, id := range []*int64{&dead, &live} {
			if *id, err = tx.BeginStage(ctx, SnapshotHeader{Review: "R", Source: SnapshotOkta, RunID: runs[i]}); err != nil {
				return err
			}
			if _, err := tx.StageGroups(ctx, *id, []model.Group{{ID: "g", Name: "SOX-A"}}); err != nil {
				return err
			}
			if err := tx.StageMembers(ctx, *id, []MemberPart{{GroupNo: 1, Part: 1, Users: []int32{1, 2}}}); err != nil {
				return err
			}
		}
		// The interrupted run's status is what its runs row says.
		_, err = tx.EndRun(ctx, runs[0], RunInterrupted, "killed")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if live != dead+1 {
		t.Errorf("stage ids %d, %d: want consecutive", dead, live)
	}
	var gone []StageInfo
	if err := s.WithTx(ctx, func(tx *Tx) error { var err error; gone, err = tx.DiscardAbandonedStages(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	if len(gone) != 1 || gone[0].ID != dead || gone[0].Memberships != 2 || gone[0].Groups != 1 {
		t.Errorf("discarded %+v", gone)
	}
	left, err := s.Stages(ctx)
	if err != nil || len(left) != 1 || left[0].ID != live {
		t.Errorf("left %+v %v", left, err)
	}
	res, err := s.Query(ctx, `SELECT count(*) FROM snapshot_members WHERE snapshot_id = ?`, dead)
	if err != nil || res.Rows[0][0].(int64) != 0 {
		t.Errorf("rows of the discarded stage: %v %v", res, err)
	}
	// A stage row that names a complete snapshot is refused.
	err = s.WithTx(ctx, func(tx *Tx) error {
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO snapshots (id, review, source, run_id, taken_at, evidence_id) VALUES (?, 'R', 'okta', ?, '', 'E1')`, live, runs[1]); err != nil {
			return err
		}
		return tx.DiscardStage(ctx, live)
	})
	if err == nil {
		t.Error("a stage naming a complete snapshot was discarded")
	}
}
