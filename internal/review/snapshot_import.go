package review

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/importer"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/okta"
	"github.com/uar-dev/uar/internal/store"
)

// Where an import's export time came from (snapshot_listings.exported_at_from).
const (
	ExportedAtFlag  = "flag"  // --exported-at
	ExportedAtMtime = "mtime" // the file's modification time
)

// ImportFile is an app-native export already parsed (a bad file is
// refused before any step starts, so nothing is stored from it).
type ImportFile struct {
	Name   string // base name, as recorded
	Data   []byte
	System string
	Parsed *importer.Import
	// ExportedAt is when the source system produced the file: the
	// --exported-at flag, else the file's modification time
	// (ExportedAtFrom says which; the latter is warned about).
	ExportedAt     time.Time
	ExportedAtFrom string
	// MaxAge is snapshot.max_import_age: an export older than this at
	// snapshot time is refused unless AcceptGap gives the reason (0: no
	// limit).
	MaxAge time.Duration
	// AcceptGap is --accept-gap: the reason a stale export is accepted,
	// recorded with the actor.
	AcceptGap string
}

// SnapshotImport keeps the file as a blob and writes its population as
// the system's newest import snapshot, with its completeness record (the
// file's sha256, data rows, header and export time), sealed by a
// "snapshot.import" row. An export older than f.MaxAge is refused (a
// *HintedError, nothing recorded) unless f.AcceptGap says why it is
// accepted, which is then recorded with the actor.
func SnapshotImport(ctx context.Context, s *Step, f ImportFile) (*SnapshotResult, error) {
	if f.Parsed == nil {
		return nil, errors.New("snapshot: import not parsed")
	}
	rows, header := importFacts(f.Name, f.Data)
	status := okta.ListingComplete
	if !f.ExportedAt.IsZero() && f.MaxAge > 0 && s.Now.Sub(f.ExportedAt) > f.MaxAge {
		if strings.TrimSpace(f.AcceptGap) == "" {
			return nil, &HintedError{
				Err: fmt.Errorf("snapshot: --import %s: exported %s, %s before this snapshot, more than snapshot.max_import_age (%s): refused, nothing recorded",
					f.Name, store.FormatTime(f.ExportedAt), roundAge(s.Now.Sub(f.ExportedAt)), f.MaxAge),
				Hint: "export the file again, or record why this export is accepted: --accept-gap \"reason\"",
			}
		}
		status = store.ListingStale
	}
	if f.ExportedAtFrom == ExportedAtMtime {
		s.Out.Warnf("--import %s: no --exported-at given: recording the file's modification time %s as its export time", f.Name, store.FormatTime(f.ExportedAt))
	}
	snap := &model.Snapshot{Groups: f.Parsed.Groups, Users: f.Parsed.Users, Memberships: f.Parsed.Memberships}
	listing := store.Listing{Kind: "import", QueryText: "read " + f.Name, Pages: 1, PagedCount: rows, IndependentCount: -1, Status: status,
		FileSHA256: evidence.Sum(f.Data), FileHeader: header, ExportedAt: store.FormatTime(f.ExportedAt), ExportedAtFrom: f.ExportedAtFrom}
	if p, err := evidence.Canonical(map[string]string{"system": f.System, "file": f.Name}); err == nil {
		listing.QueryParams = string(p)
	}
	var sid int64
	err := s.Store.WithTx(ctx, func(tx *store.Tx) error {
		file, err := s.Ledger.RecordFile(ctx, tx, "snapshot.import.file", f.Name, f.Data, int64(len(snap.Memberships)))
		if err != nil {
			return err
		}
		listing.PageEvidenceIDs = []string{file.ID}
		_, err = s.Ledger.Derive(ctx, tx, "snapshot.import", func(evID string) (evidence.Derived, error) {
			var err error
			sid, err = tx.InsertSnapshot(ctx, store.SnapshotHeader{Review: s.Review, Source: store.SnapshotImport, System: f.System, RunID: s.Run.ID, FileName: f.Name}, snap, evID)
			if err == nil {
				err = tx.InsertListings(ctx, sid, []store.Listing{listing})
			}
			return evidence.Derived{Scopes: snapshotScopes(sid), Params: SnapshotImportParams{SnapshotID: sid, System: f.System,
				File: f.Name, FileEvidenceID: file.ID, FileBlob: file.BlobHash}}, err
		})
		if err != nil || status != store.ListingStale {
			return err
		}
		return acceptGaps(ctx, s, tx, "snapshot", sid, []store.Listing{listing}, f.AcceptGap)
	})
	if err != nil {
		return nil, err
	}
	s.Out.Infof("snapshot %d of %s: imported %s for %s: %d entitlements, %d accounts, %d memberships",
		sid, s.Review, f.Name, f.System, len(snap.Groups), len(snap.Users), len(snap.Memberships))
	if status == store.ListingStale {
		s.Out.Warnf("--import %s: exported %s, older than snapshot.max_import_age: accepted (%s), recorded with the actor", f.Name, listing.ExportedAt, f.AcceptGap)
	}
	return &SnapshotResult{ID: sid, Systems: SystemCounts(snap), Groups: len(snap.Groups), Users: len(snap.Users),
		Memberships: len(snap.Memberships), Listings: []store.Listing{listing}}, nil
}

func roundAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String()
}

// importFacts returns an export's data rows and its header as an auditor
// ties it out: the CSV header line, or the sorted keys of a JSON file's
// rows. The file already parsed (importer.Parse), so this cannot fail on
// it; a file it cannot read gives 0 and "".
func importFacts(name string, data []byte) (rows int, header string) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	t := bytes.TrimSpace(data)
	if strings.HasSuffix(strings.ToLower(name), ".json") || len(t) > 0 && (t[0] == '[' || t[0] == '{') {
		var arr []map[string]json.RawMessage
		if err := json.Unmarshal(t, &arr); err != nil {
			var obj struct {
				Rows []map[string]json.RawMessage `json:"rows"`
			}
			if json.Unmarshal(t, &obj) != nil {
				return 0, ""
			}
			arr = obj.Rows
		}
		keys := map[string]bool{}
		for _, r := range arr {
			for k := range r {
				keys[k] = true
			}
		}
		var ks []string
		for k := range keys {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return len(arr), strings.Join(ks, ",")
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	header = strings.TrimRight(string(first), "\r")
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	if strings.Count(header, ";") > strings.Count(header, ",") {
		r.Comma = ';'
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rows, header
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		rows++
	}
	return max(rows-1, 0), header
}
