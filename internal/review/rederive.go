package review

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/importer"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/store"
)

// Rederivers are every re-derivation `uar verify --rederive` runs, in
// order. Each needs nothing but the store: every input it uses (raw pages,
// imported files, the policy) is recorded there.
func Rederivers() []evidence.Rederiver {
	return []evidence.Rederiver{
		{Name: "snapshots", Run: rederiveSnapshots},
		{Name: "hr listings", Run: rederiveHR},
		{Name: "scorings", Run: rederiveScorings},
	}
}

// sealOf returns the derive row with the given id.
func sealOf(ctx context.Context, s *store.Store, id string) (store.EvidenceRow, error) {
	r, err := s.EvidenceByID(ctx, id)
	if err != nil {
		return store.EvidenceRow{}, err
	}
	if r.Kind != evidence.KindDerive {
		return store.EvidenceRow{}, fmt.Errorf("evidence %s is a %s row, not a derive row", id, r.Kind)
	}
	return r, nil
}

// rederiveSnapshots re-parses every snapshot's raw evidence (recorded Okta
// pages, or the imported file) with the recorded options and compares the
// result with the stored rows.
func rederiveSnapshots(ctx context.Context, s *store.Store) ([]evidence.Problem, error) {
	snaps, err := s.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	var problems []evidence.Problem
	for _, sn := range snaps {
		seal, err := sealOf(ctx, s, sn.EvidenceID)
		if err != nil {
			problems = append(problems, evidence.Problem{Table: "snapshots", What: fmt.Sprintf("snapshot %d: its seal %s cannot be read: %v", sn.ID, sn.EvidenceID, err)})
			continue
		}
		var rebuilt *model.Snapshot
		var listings []store.Listing // nil: not re-derived (imports keep facts of the file, not of pages)
		switch sn.Source {
		case store.SnapshotOkta:
			rebuilt, listings, err = rebuildOkta(ctx, s, sn, seal)
		case store.SnapshotImport:
			rebuilt, err = rebuildImport(ctx, s, sn, seal)
		default:
			err = fmt.Errorf("unknown source %q", sn.Source)
		}
		if err != nil {
			problems = append(problems, evidence.Problem{Seq: seal.Seq, Table: "snapshots", What: fmt.Sprintf("snapshot %d cannot be re-derived: %v", sn.ID, err)})
			continue
		}
		stored, err := s.LoadSnapshot(ctx, []int64{sn.ID})
		if err != nil {
			return nil, err
		}
		for _, d := range diffSnapshots(stored, rebuilt) {
			problems = append(problems, evidence.Problem{Seq: seal.Seq, Table: d.table, What: fmt.Sprintf("snapshot %d: %s", sn.ID, d.what)})
		}
		if listings != nil {
			storedL, err := s.Listings(ctx, sn.ID)
			if err != nil {
				return nil, err
			}
			// A snapshot taken before completeness was recorded has none.
			if len(storedL) > 0 {
				for _, what := range diffListings(storedL, listings) {
					problems = append(problems, evidence.Problem{Seq: seal.Seq, Table: "snapshot_listings", What: fmt.Sprintf("snapshot %d: %s", sn.ID, what)})
				}
			}
		}
	}
	return problems, nil
}

// diffListings compares stored completeness rows with re-derived ones.
func diffListings(stored, rebuilt []store.Listing) []string {
	if len(stored) != len(rebuilt) {
		return []string{fmt.Sprintf("%d listings stored, %d re-derived from the raw evidence", len(stored), len(rebuilt))}
	}
	var out []string
	for i := range stored {
		a, b := stored[i], rebuilt[i]
		a.No, b.No = 0, 0
		if !reflect.DeepEqual(a, b) {
			name := a.GroupName
			if name == "" {
				name = a.Kind
			}
			out = append(out, fmt.Sprintf("listing %d (%s) differs from the raw evidence", i+1, name))
		}
	}
	return out
}

// rebuildOkta re-parses the run's recorded Okta pages in ledger order, one
// page in memory at a time (a large org's pages decompress to hundreds of
// megabytes), and returns the snapshot and completeness listings they give.
func rebuildOkta(ctx context.Context, s *store.Store, sn store.SnapshotInfo, seal store.EvidenceRow) (*model.Snapshot, []store.Listing, error) {
	var params SnapshotOktaParams
	if err := evidence.DeriveParams(seal, &params); err != nil {
		return nil, nil, err
	}
	rows, err := s.FindEvidence(ctx, store.EvidenceFilter{RunID: sn.RunID, Source: "okta", Kind: evidence.KindCall})
	if err != nil {
		return nil, nil, err
	}
	rb := okta.NewRebuilder(okta.SnapshotOptions{Prefix: params.Prefix, Systems: params.Systems, EmployeeIDAttribute: params.EmployeeIDAttribute})
	for _, r := range rows {
		if r.Seq > seal.Seq {
			break // calls after the seal (none in a snapshot run) are not its pages
		}
		c, err := evidence.DecodeCall(r)
		if err != nil {
			return nil, nil, err
		}
		if c.Status < 200 || c.Status > 299 || c.Method != "GET" { // failed or retried attempts
			continue
		}
		body, err := blobBytes(ctx, s, c.BlobHash)
		if err != nil {
			return nil, nil, err
		}
		if err := rb.Add(okta.Page{Method: c.Method, URL: c.URL, Status: c.Status, Body: body, EvidenceID: r.ID}); err != nil {
			return nil, nil, err
		}
	}
	snap, ls, err := rb.Result()
	if err != nil {
		return nil, nil, err
	}
	return snap, oktaListings(params.OrgURL, ls), nil
}

func rebuildImport(ctx context.Context, s *store.Store, sn store.SnapshotInfo, seal store.EvidenceRow) (*model.Snapshot, error) {
	var params SnapshotImportParams
	if err := evidence.DeriveParams(seal, &params); err != nil {
		return nil, err
	}
	data, err := blobBytes(ctx, s, params.FileBlob)
	if err != nil {
		return nil, err
	}
	imp, err := importer.Parse(sn.FileName, data, sn.System)
	if err != nil {
		return nil, err
	}
	return &model.Snapshot{Groups: imp.Groups, Users: imp.Users, Memberships: imp.Memberships}, nil
}

func blobBytes(ctx context.Context, s *store.Store, hash string) ([]byte, error) {
	_, c, err := s.Blob(ctx, hash)
	if err != nil {
		return nil, err
	}
	return evidence.Decompress(c)
}

type snapDiff struct{ table, what string }

// diffSnapshots compares two snapshots row by row (times to the second,
// as the store keeps them) and describes up to a few differences per table.
func diffSnapshots(stored, rebuilt *model.Snapshot) []snapDiff {
	var out []snapDiff
	norm := func(s *model.Snapshot) {
		slices.SortFunc(s.Groups, func(a, b model.Group) int { return strings.Compare(a.ID, b.ID) })
		slices.SortFunc(s.Users, func(a, b model.User) int { return strings.Compare(a.ID, b.ID) })
		slices.SortFunc(s.Memberships, func(a, b model.Membership) int {
			if c := strings.Compare(a.GroupID, b.GroupID); c != 0 {
				return c
			}
			return strings.Compare(a.UserID, b.UserID)
		})
		for i := range s.Users {
			s.Users[i].Created = s.Users[i].Created.Truncate(time.Second).UTC()
			s.Users[i].LastLogin = s.Users[i].LastLogin.Truncate(time.Second).UTC()
		}
	}
	norm(stored)
	norm(rebuilt)
	cmpRows(&out, "snapshot_groups", len(stored.Groups), len(rebuilt.Groups), func(i int) (string, bool) {
		return stored.Groups[i].Name, stored.Groups[i] == rebuilt.Groups[i]
	})
	cmpRows(&out, "snapshot_users", len(stored.Users), len(rebuilt.Users), func(i int) (string, bool) {
		return stored.Users[i].Login, stored.Users[i] == rebuilt.Users[i]
	})
	cmpRows(&out, "snapshot_memberships", len(stored.Memberships), len(rebuilt.Memberships), func(i int) (string, bool) {
		m := stored.Memberships[i]
		return m.GroupID + "/" + m.UserID, m == rebuilt.Memberships[i]
	})
	return out
}

func cmpRows(out *[]snapDiff, table string, nStored, nRebuilt int, same func(i int) (string, bool)) {
	if nStored != nRebuilt {
		*out = append(*out, snapDiff{table, fmt.Sprintf("%d rows stored, %d re-derived from the raw evidence", nStored, nRebuilt)})
		return
	}
	shown := 0
	for i := range nStored {
		if name, ok := same(i); !ok {
			if shown < 5 {
				*out = append(*out, snapDiff{table, fmt.Sprintf("row %q differs from the raw evidence", name)})
			}
			shown++
		}
	}
	if shown > 5 {
		*out = append(*out, snapDiff{table, fmt.Sprintf("and %d more rows differ", shown-5)})
	}
}

// rederiveScorings re-runs every rule scoring pass with its recorded
// policy over its recorded snapshots and compares the findings.
func rederiveScorings(ctx context.Context, s *store.Store) ([]evidence.Problem, error) {
	ids, err := s.Scorings(ctx)
	if err != nil {
		return nil, err
	}
	var problems []evidence.Problem
	for _, id := range ids {
		sc, err := s.ScoringByID(ctx, id)
		if err != nil {
			return nil, err
		}
		var seq int64
		bad := func(what string) {
			problems = append(problems, evidence.Problem{Seq: seq, Table: "findings", What: fmt.Sprintf("scoring %d: %s", id, what)})
		}
		seal, err := sealOf(ctx, s, sc.EvidenceID)
		if err != nil {
			bad("its seal cannot be read: " + err.Error())
			continue
		}
		seq = seal.Seq
		var params ScoreParams
		if err := evidence.DeriveParams(seal, &params); err != nil {
			bad(err.Error())
			continue
		}
		raw, err := blobBytes(ctx, s, params.PolicyBlob)
		if err != nil {
			bad("recorded policy unreadable: " + err.Error())
			continue
		}
		pol, err := score.ParsePolicy(params.PolicyFile, raw)
		if err != nil {
			bad("recorded policy does not parse: " + err.Error())
			continue
		}
		asOf, err := time.Parse(time.RFC3339, sc.AsOf)
		if err != nil {
			bad("as_of: " + err.Error())
			continue
		}
		snap, err := s.LoadSnapshot(ctx, sc.SnapshotIDs)
		if errors.Is(err, store.ErrNotFound) {
			bad("its snapshots are missing")
			continue
		} else if err != nil {
			return nil, err
		}
		hr, err := recordedHR(ctx, s, params.HR, snap)
		if errors.Is(err, store.ErrNotFound) {
			bad("its HR evidence is missing: " + err.Error())
			continue
		} else if err != nil {
			return nil, err
		}
		res := score.EvaluateHR(pol, snap, asOf, hr)
		want := append(append([]model.Finding{}, res.Findings...), res.Suppressed...)
		var got []model.Finding
		for _, f := range sc.Findings {
			if f.Source == model.FindingSourceRule {
				got = append(got, f)
			}
		}
		if len(got) != len(want) {
			bad(fmt.Sprintf("%d rule findings stored, %d re-derived", len(got), len(want)))
			continue
		}
		for i := range got {
			if !sameFinding(got[i], want[i]) {
				bad(fmt.Sprintf("finding %d (%s, %s) differs from the re-derived one", i+1, got[i].RuleID, got[i].UserLogin))
			}
		}
	}
	return problems, nil
}

func sameFinding(a, b model.Finding) bool {
	if len(a.Groups) == 0 && len(b.Groups) == 0 {
		a.Groups, b.Groups = nil, nil
	}
	return reflect.DeepEqual(a, b)
}
