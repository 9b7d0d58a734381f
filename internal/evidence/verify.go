package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/uar-dev/uar/internal/store"
)

// Problem is one integrity failure, located by ledger seq and/or table.
type Problem struct {
	Seq   int64  `json:"seq,omitempty"`
	Table string `json:"table"`
	What  string `json:"what"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Table)
	if p.Seq > 0 {
		fmt.Fprintf(&b, ": seq %d", p.Seq)
	}
	b.WriteString(": ")
	b.WriteString(p.What)
	return b.String()
}

// Summary is what Verify checked and found.
type Summary struct {
	Rows          int64  `json:"rows"`
	Head          string `json:"head"` // seq:hash, "" for an empty ledger
	Blobs         int64  `json:"blobs"`
	BlobBytes     int64  `json:"blob_bytes"`
	Derivations   int64  `json:"derivations"` // derivation passes (run and anchor rows not counted)
	DerivedRows   int64  `json:"derived_rows"`
	SchemaObjects int    `json:"schema_objects"` // tables, views, triggers and indexes compared with the migrations
	Runs          int64  `json:"runs"`           // runs rows checked against their run.start/run.end rows
	// AnchoredHead is the newest ledger head the store recorded as written
	// outside (RecordAnchor), "" when none was; AnchoredIn says where.
	// UnanchoredRows counts the ledger rows after that head (all rows when
	// nothing was anchored): what an outside copy cannot yet vouch for.
	AnchoredHead   string `json:"anchored_head"`
	AnchoredIn     string `json:"anchored_in"`
	UnanchoredRows int64  `json:"unanchored_rows"`
	Anchor         string `json:"anchor,omitempty"`
	AnchorOK       bool   `json:"anchor_ok,omitempty"`
	// Staged are snapshots still being written, or left by a snapshot run
	// that did not finish: their rows are invisible to every view, are not
	// problems, and the next snapshot removes them.
	Staged       []store.StageInfo `json:"staged"`
	Rederived    []string          `json:"rederived"`
	Problems     []Problem         `json:"problems"`
	ProblemCount int               `json:"problem_count"`
}

// Rederiver re-derives some derived rows from raw evidence and reports any
// disagreement (uar verify --rederive); name says what it re-derived.
type Rederiver struct {
	Name string
	Run  func(ctx context.Context, s *store.Store) ([]Problem, error)
}

// Options tunes Verify.
type Options struct {
	// Anchor is an externally published head "SEQ:HASH"; the ledger must
	// contain exactly that row (this is what detects a truncated tail).
	Anchor string
	// Rederivers run after the integrity checks.
	Rederivers []Rederiver
	// Workers hash blobs in parallel; 0 means GOMAXPROCS.
	Workers int
}

// ParseAnchor splits "SEQ:HASH".
func ParseAnchor(s string) (int64, string, error) {
	seqText, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil || seq < 1 {
		return 0, "", fmt.Errorf("anchor %q: want SEQ:HASH, e.g. 42:9f86d0...", s)
	}
	hash = strings.ToLower(hash)
	if len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return 0, "", fmt.Errorf("anchor %q: hash must be 64 hex digits", s)
	}
	return seq, hash, nil
}

// Verify checks everything an auditor reads and collects every problem
// rather than stopping at the first:
//
//   - the schema: every table, view, trigger and index must be what the
//     embedded migrations create (a dropped append-only trigger or a
//     redefined view is a problem naming the object);
//   - the hash chain, every blob hash, and blobs no ledger row references
//     (a cheap sign of rows cut from the tail);
//   - every derived-pass digest, and derived rows no pass covers;
//   - runs: each runs row must match its run.start row and, once ended,
//     its run.end row; a runs row without a start row, or a start row
//     without a runs row, is a problem naming the run;
//   - anchors: each recorded anchor must name a row of the ledger; the
//     newest is reported with the count of rows after it.
//
// It returns the summary and ErrTampered if any problem was found; other
// errors mean the store could not be read at all. Callers MUST treat a
// non-nil error as a failed verification.
func Verify(ctx context.Context, s *store.Store, opts Options) (*Summary, error) {
	sum := &Summary{Problems: []Problem{}, Rederived: []string{}, Staged: []store.StageInfo{}}
	add := func(p Problem) { sum.Problems = append(sum.Problems, p) }

	if err := verifySchema(ctx, s, sum, add); err != nil {
		return nil, err
	}
	seals := &sealedRows{starts: map[string]sealed[RunStart]{}, ends: map[string]sealed[RunEnd]{}}

	var anchorSeq int64
	var anchorHash string
	if opts.Anchor != "" {
		var err error
		if anchorSeq, anchorHash, err = ParseAnchor(opts.Anchor); err != nil {
			return nil, err
		}
		sum.Anchor = opts.Anchor
	}
	anchorFound := false

	blobRefs := map[string][]int64{} // blob hash -> seqs naming it
	var derives []store.EvidenceRow
	expectSeq := int64(1)
	prev := GenesisHash
	err := s.EachEvidence(ctx, func(r store.EvidenceRow) error {
		sum.Rows++
		if r.Seq != expectSeq {
			if r.Seq > expectSeq {
				add(Problem{Seq: expectSeq, Table: "evidence", What: fmt.Sprintf("rows %d..%d are missing (deleted)", expectSeq, r.Seq-1)})
			} else {
				add(Problem{Seq: r.Seq, Table: "evidence", What: "seq out of order"})
			}
		}
		if r.PrevHash != prev {
			add(Problem{Seq: r.Seq, Table: "evidence", What: fmt.Sprintf("prev_hash %s does not match the entry_hash %s of the row before", short(r.PrevHash), short(prev))})
		}
		if want, err := EntryHash(r); err != nil {
			add(Problem{Seq: r.Seq, Table: "evidence", What: err.Error()})
		} else if want != r.EntryHash {
			add(Problem{Seq: r.Seq, Table: "evidence", What: fmt.Sprintf("entry_hash %s does not match its contents (recomputed %s): the row was edited", short(r.EntryHash), short(want))})
		}
		if r.ID != EvidenceID(r.Seq) {
			add(Problem{Seq: r.Seq, Table: "evidence", What: fmt.Sprintf("id %q does not match seq", r.ID)})
		}
		if r.BlobHash != "" {
			blobRefs[r.BlobHash] = append(blobRefs[r.BlobHash], r.Seq)
			if r.ResultHash != r.BlobHash {
				add(Problem{Seq: r.Seq, Table: "evidence", What: "result_hash differs from blob_hash"})
			}
		}
		var p struct {
			RequestBody string `json:"request_body"`
		}
		if json.Unmarshal([]byte(r.QueryParams), &p) == nil && p.RequestBody != "" {
			blobRefs[p.RequestBody] = append(blobRefs[p.RequestBody], r.Seq)
		}
		if r.Kind == KindDerive {
			if !seals.take(r, add) {
				derives = append(derives, r)
			}
		}
		if anchorSeq != 0 && r.Seq == anchorSeq {
			anchorFound = true
			if r.EntryHash != anchorHash {
				add(Problem{Seq: r.Seq, Table: "evidence", What: fmt.Sprintf("anchor mismatch: ledger has %s, anchor says %s", short(r.EntryHash), short(anchorHash))})
			} else {
				sum.AnchorOK = true
			}
		}
		prev = r.EntryHash
		expectSeq = r.Seq + 1
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sum.Rows > 0 {
		sum.Head = fmt.Sprintf("%d:%s", expectSeq-1, prev)
	}
	if anchorSeq != 0 && !anchorFound {
		add(Problem{Seq: anchorSeq, Table: "evidence", What: fmt.Sprintf("anchor row is not in the ledger (it ends at seq %d): rows were removed from the tail", expectSeq-1)})
	}

	if err := verifyBlobs(ctx, s, blobRefs, opts.Workers, sum, add); err != nil {
		return nil, err
	}
	if err := verifyDerived(ctx, s, derives, sum, add); err != nil {
		return nil, err
	}
	if err := verifyRuns(ctx, s, seals, sum, add); err != nil {
		return nil, err
	}
	if err := verifyAnchors(ctx, s, seals.anchors, expectSeq-1, sum, add); err != nil {
		return nil, err
	}
	for _, rd := range opts.Rederivers {
		ps, err := rd.Run(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("rederive %s: %w", rd.Name, err)
		}
		sum.Rederived = append(sum.Rederived, rd.Name)
		sum.Problems = append(sum.Problems, ps...)
	}
	sum.ProblemCount = len(sum.Problems)
	if len(sum.Problems) > 0 {
		return sum, ErrTampered
	}
	return sum, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

type blobJob struct {
	hash       string
	size       int64
	compressed []byte
}

func verifyBlobs(ctx context.Context, s *store.Store, refs map[string][]int64, workers int, sum *Summary, add func(Problem)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan blobJob, workers*2)
	var mu sync.Mutex
	var found = map[string]int64{} // hash -> recorded size
	var blobProblems []Problem
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				raw, err := Decompress(j.compressed)
				var what string
				switch {
				case err != nil:
					what = fmt.Sprintf("blob %s cannot be decompressed: %v", short(j.hash), err)
				case int64(len(raw)) != j.size:
					what = fmt.Sprintf("blob %s: size %d, recorded %d", short(j.hash), len(raw), j.size)
				case Sum(raw) != j.hash:
					what = fmt.Sprintf("blob %s: content hash is %s: the blob was altered", short(j.hash), short(Sum(raw)))
				}
				mu.Lock()
				sum.BlobBytes += int64(len(raw))
				if what != "" {
					seqs := refs[j.hash]
					if len(seqs) == 0 {
						blobProblems = append(blobProblems, Problem{Table: "blobs", What: what})
					}
					for _, sq := range seqs {
						blobProblems = append(blobProblems, Problem{Seq: sq, Table: "blobs", What: what})
					}
				}
				mu.Unlock()
			}
		}()
	}
	err := s.EachBlob(ctx, func(hash string, size int64, compressed []byte) error {
		sum.Blobs++
		found[hash] = size
		jobs <- blobJob{hash, size, bytes.Clone(compressed)}
		return nil
	})
	close(jobs)
	wg.Wait()
	if err != nil {
		return err
	}
	// Workers finish in any order; report in seq order for stable output.
	sort.Slice(blobProblems, func(i, j int) bool {
		if blobProblems[i].Seq != blobProblems[j].Seq {
			return blobProblems[i].Seq < blobProblems[j].Seq
		}
		return blobProblems[i].What < blobProblems[j].What
	})
	for _, p := range blobProblems {
		add(p)
	}
	var orphans []string
	for h := range found {
		if len(refs[h]) == 0 {
			orphans = append(orphans, h)
		}
	}
	sort.Strings(orphans)
	for _, h := range orphans {
		add(Problem{Table: "blobs", What: fmt.Sprintf("blob %s (%d bytes) is referenced by no ledger row: the rows that named it were removed (a cut tail?) or it was added outside uar", short(h), found[h])})
	}
	missing := make([]string, 0)
	for h := range refs {
		if _, ok := found[h]; !ok {
			missing = append(missing, h)
		}
	}
	sort.Strings(missing)
	for _, h := range missing {
		for _, sq := range refs[h] {
			add(Problem{Seq: sq, Table: "blobs", What: fmt.Sprintf("blob %s is missing", short(h))})
		}
	}
	return nil
}

// scopeKey normalises a scope value from JSON (json.Number) or SQLite
// (int64, string) so the two can be compared.
func scopeKey(v any) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return "s:" + x
	}
	return fmt.Sprint(v)
}

func scopeValue(v any) any {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i
		}
	}
	return v
}

func verifyDerived(ctx context.Context, s *store.Store, derives []store.EvidenceRow, sum *Summary, add func(Problem)) error {
	stages, err := s.Stages(ctx)
	if err != nil {
		return err
	}
	staged := map[string]bool{}
	for _, st := range stages {
		staged[scopeKey(st.ID)] = true
		sum.Staged = append(sum.Staged, st)
	}
	covered := map[string]map[string]bool{}
	for _, r := range derives {
		sum.Derivations++
		dec := json.NewDecoder(strings.NewReader(r.QueryParams))
		dec.UseNumber()
		var p struct {
			Digests []struct {
				Table   string   `json:"table"`
				Scope   any      `json:"scope"`
				Columns []string `json:"columns"`
				Rows    int64    `json:"rows"`
				Hash    string   `json:"hash"`
			} `json:"digests"`
		}
		if err := dec.Decode(&p); err != nil {
			add(Problem{Seq: r.Seq, Table: "evidence", What: "derive row params unreadable: " + err.Error()})
			continue
		}
		recorded, _ := Canonical(p.Digests)
		if Sum(recorded) != r.ResultHash {
			add(Problem{Seq: r.Seq, Table: "evidence", What: "derive row result_hash does not match its digests"})
		}
		for _, d := range p.Digests {
			if covered[d.Table] == nil {
				covered[d.Table] = map[string]bool{}
			}
			covered[d.Table][scopeKey(d.Scope)] = true
			got, err := s.Digest(ctx, d.Table, d.Columns, scopeValue(d.Scope))
			if err != nil {
				add(Problem{Seq: r.Seq, Table: d.Table, What: "cannot recompute digest: " + err.Error()})
				continue
			}
			sum.DerivedRows += got.Rows
			if got.Rows != d.Rows || got.Hash != d.Hash {
				add(Problem{Seq: r.Seq, Table: d.Table, What: fmt.Sprintf("rows of %s %v changed since %s sealed them: now %d rows hash %s, sealed %d rows hash %s",
					d.Table, scopeValue(d.Scope), r.QueryName, got.Rows, short(got.Hash), d.Rows, short(d.Hash))})
			}
		}
	}
	for _, t := range store.DerivedTables {
		scopes, err := s.Scopes(ctx, t.Name)
		if err != nil {
			return err
		}
		for _, sc := range scopes {
			k := scopeKey(sc)
			if t.Staged && staged[k] {
				if covered[t.Name][k] {
					add(Problem{Table: t.Name, What: fmt.Sprintf("rows with %s = %v are sealed, yet snapshot_stages lists %v as not complete", t.Scope, sc, sc)})
				}
				continue
			}
			if !covered[t.Name][k] {
				add(Problem{Table: t.Name, What: fmt.Sprintf("rows with %s = %v were not written by any sealed derivation", t.Scope, sc)})
			}
		}
	}
	return nil
}
