package evidence

import (
	"context"
	"fmt"

	"github.com/uar-dev/uar/internal/store"
)

// Query names of the ledger rows that seal runs and anchors. They are
// derive rows (the ledger's kinds are call, derive and file) with no
// digests: their content is in query_params, which entry_hash covers, and
// result_hash is the hash of the empty digest list, so any verifier that
// checks derive rows accepts them as passes over no table.
const (
	QueryRunStart = "run.start" // params.run: id, command, args, review, tool_version, actor, host, pid, started_at
	QueryRunEnd   = "run.end"   // params.run: id, status, finished_at, error (and marked_by for an abandoned run)
	QueryAnchor   = "anchor"    // params.anchor: head, service, url, page_id, version
)

// emptyDigests is the digest list of a row that seals no derived table.
var emptyDigests = []store.Digest{}

// emptyDigestsHash is result_hash of such a row: Sum(canonical([])).
var emptyDigestsHash = Sum([]byte("[]"))

// RunStart is what the ledger keeps of a run's start.
type RunStart struct {
	ID          string `json:"id"`
	Command     string `json:"command"`
	Args        string `json:"args"`
	Review      string `json:"review"`
	ToolVersion string `json:"tool_version"`
	Actor       string `json:"actor"`
	Host        string `json:"host"`
	PID         int    `json:"pid"`
	StartedAt   string `json:"started_at"`
}

// RunEnd is what the ledger keeps of a run's end.
type RunEnd struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	FinishedAt string `json:"finished_at"`
	Error      string `json:"error"`
	MarkedBy   string `json:"marked_by,omitempty"` // who marked an abandoned run interrupted
}

func runStartOf(r store.Run) RunStart {
	return RunStart{ID: r.ID, Command: r.Command, Args: r.Args, Review: r.Review, ToolVersion: r.ToolVersion,
		Actor: r.Actor, Host: r.Host, PID: r.PID, StartedAt: r.StartedAt}
}

func runEndOf(r store.Run) RunEnd {
	return RunEnd{ID: r.ID, Status: r.Status, FinishedAt: r.FinishedAt, Error: r.Error}
}

func sealRow(name, text string, key string, rec any) Entry {
	return Entry{Kind: KindDerive, SourceSystem: "uar", QueryName: name, QueryText: text,
		Params: map[string]any{"digests": emptyDigests, key: rec}, ResultHash: emptyDigestsHash}
}

// StartRun records r as a running run and seals its start in the ledger
// (a run.start row) in the same transaction, so an edited or deleted runs
// row is found by Verify. It fills the run's id, start time and status
// and returns it; the run's ledger rows carry its id, review and actor.
//
// Before recording, it refuses to start while another run on r.Host is
// still marked running and alive(pid) says its process lives: the error
// is a *store.BusyError naming that run's id, command, pid, host and start
// (cli maps it to exit 1 with that message, before the command does any
// work). Runs on other hosts cannot be checked and do not block; a nil
// alive skips the check. The check and the insert are one write
// transaction, so two processes cannot both pass it. Callers SHOULD call
// MarkAbandonedRuns first, so that a crashed run does not block.
func StartRun(ctx context.Context, st *store.Store, r store.Run, alive func(pid int) bool) (store.Run, error) {
	var out store.Run
	err := st.WithTx(ctx, func(tx *store.Tx) error {
		if alive != nil {
			live, err := tx.RunningRuns(ctx, r.Host)
			if err != nil {
				return err
			}
			for _, x := range live {
				if x.PID != r.PID && alive(x.PID) { // our own pid is a stale row, not another process
					return st.Busy(x)
				}
			}
		}
		run, err := tx.InsertRun(ctx, r)
		if err != nil {
			return err
		}
		l := &Ledger{Store: st, RunID: run.ID, Review: run.Review, Actor: run.Actor}
		if _, err := l.Append(ctx, tx, sealRow(QueryRunStart, "run "+run.Command, "run", runStartOf(run))); err != nil {
			return err
		}
		out = run
		return nil
	})
	if err != nil {
		return store.Run{}, fmt.Errorf("evidence: start run: %w", err)
	}
	return out, nil
}

// FinishRun sets run's final status (store.RunOK, RunFailed,
// RunInterrupted) and error text, and seals them in a run.end row in the
// same transaction. errText MUST already be scrubbed of secrets (see
// SecretForms). It returns the run as recorded.
func FinishRun(ctx context.Context, st *store.Store, run store.Run, status, errText string) (store.Run, error) {
	var out store.Run
	err := st.WithTx(ctx, func(tx *store.Tx) error {
		ended, err := tx.EndRun(ctx, run.ID, status, errText)
		if err != nil {
			return err
		}
		l := &Ledger{Store: st, RunID: ended.ID, Review: ended.Review, Actor: ended.Actor}
		if _, err := l.Append(ctx, tx, sealRow(QueryRunEnd, "run "+ended.Command+" "+ended.Status, "run", runEndOf(ended))); err != nil {
			return err
		}
		out = ended
		return nil
	})
	if err != nil {
		return store.Run{}, fmt.Errorf("evidence: finish run %s: %w", run.ID, err)
	}
	return out, nil
}

// MarkAbandonedRuns marks as interrupted every run still "running" on host
// whose process is gone (alive(pid) is false): a crash or SIGKILL never
// got to finish it. Each is sealed with a run.end row written by actor
// (the process that noticed), in one transaction. It returns the runs it
// marked.
func MarkAbandonedRuns(ctx context.Context, st *store.Store, host, actor string, alive func(pid int) bool) ([]store.Run, error) {
	var marked []store.Run
	err := st.WithTx(ctx, func(tx *store.Tx) error {
		cands, err := tx.RunningRuns(ctx, host)
		if err != nil {
			return err
		}
		for _, r := range cands {
			if alive(r.PID) {
				continue
			}
			ended, err := tx.EndRun(ctx, r.ID, store.RunInterrupted, store.AbandonedMessage)
			if err != nil {
				return err
			}
			rec := runEndOf(ended)
			rec.MarkedBy = actor
			l := &Ledger{Store: st, RunID: ended.ID, Review: ended.Review, Actor: actor}
			if _, err := l.Append(ctx, tx, sealRow(QueryRunEnd, "run "+ended.Command+" "+ended.Status, "run", rec)); err != nil {
				return err
			}
			marked = append(marked, ended)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("evidence: mark abandoned runs: %w", err)
	}
	return marked, nil
}

// Anchor is a ledger head written somewhere outside the store (the
// Confluence review page), where that service's history timestamps it: a
// store rewritten later no longer matches it.
type Anchor struct {
	Head    string `json:"head"`    // "SEQ:HASH" as written outside
	Service string `json:"service"` // "confluence"
	URL     string `json:"url"`     // the page's URL
	PageID  string `json:"page_id"` // the service's id of the page
	Version int    `json:"version"` // the page version that carries the head
}

// RecordAnchor appends an anchor row recording that a.Head was written
// outside (publish after writing the page; later revoke and remind). Verify
// then reports the newest anchored head and how many rows came after it,
// and checks that the head is a row of the ledger. RecordAnchor refuses a
// head that is not a row of the ledger (wrong seq or hash). Call it in the
// transaction that records the publication, after the page was written.
func (l *Ledger) RecordAnchor(ctx context.Context, tx *store.Tx, a Anchor) (store.EvidenceRow, error) {
	seq, hash, err := ParseAnchor(a.Head)
	if err != nil {
		return store.EvidenceRow{}, fmt.Errorf("evidence: record anchor: %w", err)
	}
	row, err := tx.EvidenceAt(ctx, seq)
	if err != nil {
		return store.EvidenceRow{}, fmt.Errorf("evidence: record anchor %s: %w", a.Head, err)
	}
	if row.EntryHash != hash {
		return store.EvidenceRow{}, fmt.Errorf("evidence: record anchor: head %d:%s is not the ledger's row %d (%s)", seq, short(hash), seq, short(row.EntryHash))
	}
	a.Head = fmt.Sprintf("%d:%s", seq, hash)
	return l.Append(ctx, tx, sealRow(QueryAnchor, "anchor "+a.Head+" in "+a.Service+" "+a.PageID, "anchor", a))
}

// RecordAnchorTx is RecordAnchor in a transaction of its own.
func (l *Ledger) RecordAnchorTx(ctx context.Context, a Anchor) (store.EvidenceRow, error) {
	var r store.EvidenceRow
	err := l.Store.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		r, err = l.RecordAnchor(ctx, tx, a)
		return err
	})
	return r, err
}
