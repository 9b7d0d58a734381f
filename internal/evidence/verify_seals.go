package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/uar-dev/uar/internal/store"
)

// verifySchema compares the store's schema with the migrations'.
func verifySchema(ctx context.Context, s *store.Store, sum *Summary, add func(Problem)) error {
	objs, err := s.Schema(ctx)
	if err != nil {
		return err
	}
	sum.SchemaObjects = len(objs)
	diff, err := s.SchemaDiff(ctx)
	if err != nil {
		return err
	}
	for _, d := range diff {
		add(Problem{Table: "schema", What: d.String()})
	}
	return nil
}

type sealed[T any] struct {
	rec T
	seq int64
}

type anchorRow struct {
	Anchor
	seq int64
}

// sealedRows collects the run and anchor rows met while walking the chain.
type sealedRows struct {
	starts  map[string]sealed[RunStart]
	ends    map[string]sealed[RunEnd] // the last end row of each run
	anchors []anchorRow
}

// take claims r if it is a run or anchor row (reporting a malformed one)
// and returns whether it did; other derive rows are derivation passes.
func (sr *sealedRows) take(r store.EvidenceRow, add func(Problem)) bool {
	var key string
	switch r.QueryName {
	case QueryRunStart, QueryRunEnd:
		key = "run"
	case QueryAnchor:
		key = "anchor"
	default:
		return false
	}
	bad := func(what string) { add(Problem{Seq: r.Seq, Table: "evidence", What: r.QueryName + " row " + what}) }
	if r.ResultHash != emptyDigestsHash {
		bad("result_hash is not the hash of an empty digest list")
	}
	var p struct {
		Digests []json.RawMessage `json:"digests"`
		Run     json.RawMessage   `json:"run"`
		Anchor  json.RawMessage   `json:"anchor"`
	}
	if err := json.Unmarshal([]byte(r.QueryParams), &p); err != nil {
		bad("params unreadable: " + err.Error())
		return true
	}
	if len(p.Digests) > 0 {
		bad("seals derived rows, which it must not")
	}
	raw := p.Run
	if key == "anchor" {
		raw = p.Anchor
	}
	dec := func(v any) bool {
		d := json.NewDecoder(strings.NewReader(string(raw)))
		d.DisallowUnknownFields()
		if len(raw) == 0 || d.Decode(v) != nil {
			bad("params." + key + " unreadable")
			return false
		}
		return true
	}
	switch r.QueryName {
	case QueryRunStart:
		var rs RunStart
		if !dec(&rs) {
			return true
		}
		if rs.ID != r.RunID {
			bad(fmt.Sprintf("names run %s but belongs to run %s", rs.ID, r.RunID))
		}
		if prev, dup := sr.starts[rs.ID]; dup {
			add(Problem{Seq: r.Seq, Table: "runs", What: fmt.Sprintf("run %s started twice (seq %d and %d)", rs.ID, prev.seq, r.Seq)})
		}
		sr.starts[rs.ID] = sealed[RunStart]{rs, r.Seq}
	case QueryRunEnd:
		var re RunEnd
		if !dec(&re) {
			return true
		}
		if re.ID != r.RunID {
			bad(fmt.Sprintf("names run %s but belongs to run %s", re.ID, r.RunID))
		}
		sr.ends[re.ID] = sealed[RunEnd]{re, r.Seq}
	case QueryAnchor:
		var a Anchor
		if !dec(&a) {
			return true
		}
		sr.anchors = append(sr.anchors, anchorRow{a, r.Seq})
	}
	return true
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// verifyRuns holds every runs row to its sealed start and end.
func verifyRuns(ctx context.Context, s *store.Store, sr *sealedRows, sum *Summary, add func(Problem)) error {
	runs, err := s.Runs(ctx)
	if err != nil {
		return fmt.Errorf("read runs: %w", err)
	}
	seen := map[string]bool{}
	for _, run := range runs {
		sum.Runs++
		seen[run.ID] = true
		st, ok := sr.starts[run.ID]
		if !ok {
			add(Problem{Table: "runs", What: fmt.Sprintf("run %s (%s by %s, started %s) has no run.start row in the ledger: added or rewritten outside uar", run.ID, run.Command, clip(run.Actor, 60), run.StartedAt)})
			continue
		}
		if diffs := fieldDiffs(runStartOf(run), st.rec); len(diffs) > 0 {
			add(Problem{Seq: st.seq, Table: "runs", What: fmt.Sprintf("run %s was edited since it started: %s", run.ID, strings.Join(diffs, "; "))})
		}
		end, ended := sr.ends[run.ID]
		switch {
		case run.Status == store.RunRunning && ended:
			add(Problem{Seq: end.seq, Table: "runs", What: fmt.Sprintf("run %s is marked running, but the ledger ended it as %s at %s", run.ID, end.rec.Status, end.rec.FinishedAt)})
		case run.Status != store.RunRunning && !ended:
			add(Problem{Seq: st.seq, Table: "runs", What: fmt.Sprintf("run %s is marked %s, but the ledger has no run.end row for it: edited outside uar", run.ID, run.Status)})
		case ended:
			rec := end.rec
			rec.MarkedBy = ""
			if diffs := fieldDiffs(runEndOf(run), rec); len(diffs) > 0 {
				add(Problem{Seq: end.seq, Table: "runs", What: fmt.Sprintf("run %s was edited since it ended: %s", run.ID, strings.Join(diffs, "; "))})
			}
		}
	}
	var gone []string
	for id := range sr.starts {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return sr.starts[gone[i]].seq < sr.starts[gone[j]].seq })
	for _, id := range gone {
		st := sr.starts[id]
		add(Problem{Seq: st.seq, Table: "runs", What: fmt.Sprintf("run %s (%s by %s, started %s) is in the ledger but its runs row was deleted", id, st.rec.Command, clip(st.rec.Actor, 60), st.rec.StartedAt)})
	}
	return nil
}

// fieldDiffs lists the JSON fields where got differs from want, as
// `actor is "x", the ledger says "y"`.
func fieldDiffs[T any](got, want T) []string {
	var g, w map[string]any
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	_ = json.Unmarshal(gb, &g)
	_ = json.Unmarshal(wb, &w)
	var keys []string
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		gv, wv := fmt.Sprint(g[k]), fmt.Sprint(w[k])
		if gv != wv {
			out = append(out, fmt.Sprintf("%s is %s, the ledger says %s", k, strconv.Quote(clip(gv, 80)), strconv.Quote(clip(wv, 80))))
		}
	}
	return out
}

// verifyAnchors checks each recorded anchor against the chain and reports
// the newest anchored head.
func verifyAnchors(ctx context.Context, s *store.Store, anchors []anchorRow, last int64, sum *Summary, add func(Problem)) error {
	sum.UnanchoredRows = last
	var best *anchorRow
	for i := range anchors {
		a := &anchors[i]
		seq, hash, err := ParseAnchor(a.Head)
		if err != nil {
			add(Problem{Seq: a.seq, Table: "evidence", What: "anchor row: " + err.Error()})
			continue
		}
		if seq >= a.seq {
			add(Problem{Seq: a.seq, Table: "evidence", What: fmt.Sprintf("anchor row records head %d, which is not before it", seq)})
			continue
		}
		row, err := s.EvidenceAt(ctx, seq)
		switch {
		case errors.Is(err, store.ErrNotFound):
			add(Problem{Seq: a.seq, Table: "evidence", What: fmt.Sprintf("anchor row records head %s, but row %d is missing", a.Head, seq)})
			continue
		case err != nil:
			return err
		case row.EntryHash != hash:
			add(Problem{Seq: a.seq, Table: "evidence", What: fmt.Sprintf("anchor row records head %d:%s written to %s, but row %d hashes to %s: the ledger was rewritten after it was anchored",
				seq, short(hash), a.Service, seq, short(row.EntryHash))})
			continue
		}
		if best == nil || seq > mustSeq(best.Head) || seq == mustSeq(best.Head) && a.seq > best.seq {
			best = a
		}
	}
	if best != nil {
		sum.AnchoredHead = best.Head
		where := best.Service
		if best.PageID != "" {
			where += " page " + best.PageID
		}
		if best.Version > 0 {
			where += fmt.Sprintf(" version %d", best.Version)
		}
		if best.URL != "" {
			where += " (" + best.URL + ")"
		}
		sum.AnchoredIn = fmt.Sprintf("%s, recorded at seq %d", where, best.seq)
		sum.UnanchoredRows = last - mustSeq(best.Head)
	}
	return nil
}

func mustSeq(head string) int64 {
	seq, _, _ := ParseAnchor(head)
	return seq
}
