package review

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/importer"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/store"
)

// HRFile is an HR listing already parsed (a bad file is refused before any
// step starts, so nothing is stored from it).
type HRFile struct {
	Name    string // base name, as recorded
	Data    []byte
	Records []model.HRRecord // importer.ParseHR of Data
}

// SnapshotHRParams are the params of a "snapshot.hr" derive row.
type SnapshotHRParams struct {
	ListingID      int64  `json:"listing_id"`
	File           string `json:"file"`
	FileEvidenceID string `json:"file_evidence_id"`
	FileBlob       string `json:"file_blob"`
	Records        int    `json:"records"`
	Replaces       int64  `json:"replaces,omitempty"` // the listing it replaces as the review's current one
}

// HRResult is an HR listing as written.
type HRResult struct {
	ListingID  int64 `json:"hr_listing_id"`
	Replaces   int64 `json:"replaces"` // 0 when the review had no listing
	People     int   `json:"people"`
	Terminated int   `json:"terminated"`
	Leave      int   `json:"leave"`
}

// SnapshotHR keeps the file as a blob and writes its records as the
// review's HR listing, sealed by a "snapshot.hr" derive row. The listing
// replaces any earlier one of the review.
func SnapshotHR(ctx context.Context, s *Step, f HRFile) (*HRResult, error) {
	if len(f.Records) == 0 {
		return nil, errors.New("snapshot: HR listing not parsed")
	}
	res := &HRResult{People: len(f.Records)}
	for _, r := range f.Records {
		switch r.Status {
		case model.HRTerminated:
			res.Terminated++
		case model.HRLeave:
			res.Leave++
		}
	}
	prev, err := s.Store.CurrentHRListing(ctx, s.Review)
	switch {
	case err == nil:
		res.Replaces = prev.ID
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	err = s.Store.WithTx(ctx, func(tx *store.Tx) error {
		file, err := s.Ledger.RecordFile(ctx, tx, "snapshot.hr.file", f.Name, f.Data, int64(len(f.Records)))
		if err != nil {
			return err
		}
		_, err = s.Ledger.Derive(ctx, tx, "snapshot.hr", func(evID string) (evidence.Derived, error) {
			id, err := tx.InsertHRListing(ctx, store.HRListingHeader{Review: s.Review, RunID: s.Run.ID, FileName: f.Name, FileEvidenceID: file.ID}, f.Records, evID)
			res.ListingID = id
			return evidence.Derived{
				Scopes: []evidence.Scope{{Table: "hr_listings", Scope: id}, {Table: "hr_records", Scope: id}},
				Params: SnapshotHRParams{ListingID: id, File: f.Name, FileEvidenceID: file.ID, FileBlob: file.BlobHash, Records: len(f.Records), Replaces: res.Replaces},
			}, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	replaces := ""
	if res.Replaces != 0 {
		replaces = fmt.Sprintf("; replaces HR listing %d", res.Replaces)
	}
	s.Out.Infof("HR listing %d of %s: %s, %d people (%d terminated, %d on leave)%s; run 'uar score' to apply it",
		res.ListingID, s.Review, f.Name, res.People, res.Terminated, res.Leave, replaces)
	return res, nil
}

// PreviousReview returns the review before review: among the other
// reviews with a snapshot, the one whose current population was taken
// last before review's own (a population's time is the newest taken_at of
// its current snapshots; ties go to the greater label). It returns "" when
// there is none, or when review has no snapshot.
func PreviousReview(ctx context.Context, st *store.Store, review string) (string, error) {
	times, err := st.ReviewTimes(ctx)
	if err != nil {
		return "", err
	}
	own := ""
	for _, t := range times {
		if t.Review == review {
			own = t.TakenAt
		}
	}
	if own == "" {
		return "", nil
	}
	best := store.ReviewTime{}
	for _, t := range times { // times are sorted by review: a later equal time wins the tie
		if t.Review != review && t.TakenAt < own && t.TakenAt >= best.TakenAt {
			best = t
		}
	}
	return best.Review, nil
}

// HREvidence is the HR evidence a scoring pass used, as its derive row
// records it (ScoreParams).
type HREvidence struct {
	ListingID           int64   `json:"hr_listing_id,omitempty"`
	PreviousReview      string  `json:"previous_review,omitempty"`
	PreviousSnapshotIDs []int64 `json:"previous_snapshot_ids,omitempty"`
	PreviousListingID   int64   `json:"previous_hr_listing_id,omitempty"`
}

// loadHR gathers the HR evidence of a scoring of review over its current
// population snap: its current HR listing and, for the previous review,
// its listing and the earlier memberships of the users who moved.
func loadHR(ctx context.Context, st *store.Store, review string, snap *model.Snapshot) (score.HR, HREvidence, error) {
	var ev HREvidence
	cur, err := st.CurrentHRListing(ctx, review)
	if errors.Is(err, store.ErrNotFound) {
		return score.HR{}, ev, nil
	} else if err != nil {
		return score.HR{}, ev, err
	}
	ev.ListingID = cur.ID
	prev, err := PreviousReview(ctx, st, review)
	if err != nil {
		return score.HR{}, ev, err
	}
	if prev != "" {
		snaps, err := st.CurrentSnapshots(ctx, prev)
		if err != nil {
			return score.HR{}, ev, err
		}
		ev.PreviousReview = prev
		for _, s := range snaps {
			ev.PreviousSnapshotIDs = append(ev.PreviousSnapshotIDs, s.ID)
		}
		switch pl, err := st.CurrentHRListing(ctx, prev); {
		case err == nil:
			ev.PreviousListingID = pl.ID
		case !errors.Is(err, store.ErrNotFound):
			return score.HR{}, ev, err
		}
	}
	hr, err := recordedHR(ctx, st, ev, snap)
	return hr, ev, err
}

// recordedHR loads the HR evidence ev names, from the store only: the
// listings, and the previous review's memberships of the users of snap
// who moved (score.MoverCandidates).
func recordedHR(ctx context.Context, st *store.Store, ev HREvidence, snap *model.Snapshot) (score.HR, error) {
	var hr score.HR
	var err error
	if ev.ListingID == 0 {
		return hr, nil
	}
	if hr.Listing, err = st.LoadHRListing(ctx, ev.ListingID); err != nil {
		return hr, err
	}
	if ev.PreviousReview == "" {
		return hr, nil
	}
	hr.Previous = &score.PreviousReview{Review: ev.PreviousReview, Snap: &model.Snapshot{}}
	if ev.PreviousListingID == 0 {
		return hr, nil
	}
	if hr.Previous.Listing, err = st.LoadHRListing(ctx, ev.PreviousListingID); err != nil {
		return hr, err
	}
	movers := score.MoverCandidates(snap, hr.Listing, hr.Previous.Listing)
	hr.Previous.Snap, err = st.LoadMembershipsOf(ctx, ev.PreviousSnapshotIDs, movers)
	return hr, err
}

// rederiveHR re-parses every HR listing's recorded file and compares the
// records with the stored rows.
func rederiveHR(ctx context.Context, s *store.Store) ([]evidence.Problem, error) {
	listings, err := s.HRListings(ctx)
	if err != nil {
		return nil, err
	}
	var problems []evidence.Problem
	for _, l := range listings {
		var seq int64
		bad := func(table, what string) {
			problems = append(problems, evidence.Problem{Seq: seq, Table: table, What: fmt.Sprintf("HR listing %d: %s", l.ID, what)})
		}
		seal, err := sealOf(ctx, s, l.EvidenceID)
		if err != nil {
			bad("hr_listings", fmt.Sprintf("its seal %s cannot be read: %v", l.EvidenceID, err))
			continue
		}
		seq = seal.Seq
		var params SnapshotHRParams
		if err := evidence.DeriveParams(seal, &params); err != nil {
			bad("hr_listings", err.Error())
			continue
		}
		if params.ListingID != l.ID || params.FileEvidenceID != l.FileEvidenceID || params.File != l.FileName {
			bad("hr_listings", fmt.Sprintf("the row names listing %d, file %q (%s); its seal recorded listing %d, file %q (%s)",
				l.ID, l.FileName, l.FileEvidenceID, params.ListingID, params.File, params.FileEvidenceID))
			continue
		}
		data, err := blobBytes(ctx, s, params.FileBlob)
		if err != nil {
			bad("hr_listings", "recorded file unreadable: "+err.Error())
			continue
		}
		want, err := importer.ParseHR(params.File, data)
		if err != nil {
			bad("hr_listings", "recorded file does not parse: "+err.Error())
			continue
		}
		stored, err := s.LoadHRListing(ctx, l.ID)
		if err != nil {
			return nil, err
		}
		got := stored.Records
		if len(got) != len(want) {
			bad("hr_records", fmt.Sprintf("%d rows stored, %d re-derived from the recorded file", len(got), len(want)))
			continue
		}
		var lines []string
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				lines = append(lines, fmt.Sprint(want[i].Line))
			}
		}
		if len(lines) > 0 {
			more := ""
			if len(lines) > 5 {
				more = fmt.Sprintf(" and %d more", len(lines)-5)
				lines = lines[:5]
			}
			bad("hr_records", fmt.Sprintf("rows of file lines %s%s differ from the recorded file", strings.Join(lines, ", "), more))
		}
	}
	return problems, nil
}

// hrStale reports whether the review's current HR listing is not the one
// the scoring used (a listing imported after the scoring, or the first).
func hrStale(ctx context.Context, st *store.Store, review string, sc *store.Scoring) (bool, error) {
	cur, err := st.CurrentHRListing(ctx, review)
	var current int64
	switch {
	case err == nil:
		current = cur.ID
	case !errors.Is(err, store.ErrNotFound):
		return false, err
	}
	p, err := scoreParamsOf(ctx, st, sc)
	if err != nil {
		return false, err
	}
	return p.HR.ListingID != current, nil
}

// scoreParamsOf reads the params a scoring pass's derive row recorded.
func scoreParamsOf(ctx context.Context, st *store.Store, sc *store.Scoring) (ScoreParams, error) {
	var p ScoreParams
	seal, err := sealOf(ctx, st, sc.EvidenceID)
	if err != nil {
		return p, err
	}
	err = evidence.DeriveParams(seal, &p)
	return p, err
}

// scoringPolicy returns the policy recorded with a scoring pass, and the
// pass's params.
func scoringPolicy(ctx context.Context, st *store.Store, sc *store.Scoring) (*score.Policy, ScoreParams, error) {
	p, err := scoreParamsOf(ctx, st, sc)
	if err != nil {
		return nil, p, err
	}
	if p.PolicyBlob == "" { // a scoring recorded without its policy (seeded in tests)
		pol, err := score.ParsePolicy("policy.yaml", []byte("version: 1\n"))
		return pol, p, err
	}
	raw, err := blobBytes(ctx, st, p.PolicyBlob)
	if err != nil {
		return nil, p, fmt.Errorf("the scoring's policy: %w", err)
	}
	pol, err := score.ParsePolicy(p.PolicyFile, raw)
	if err != nil {
		return nil, p, fmt.Errorf("the scoring's policy: %w", err)
	}
	return pol, p, nil
}
