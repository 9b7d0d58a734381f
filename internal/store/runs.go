package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Run statuses.
const (
	RunRunning     = "running"
	RunOK          = "ok"
	RunFailed      = "failed"
	RunInterrupted = "interrupted"
)

// Run is one command invocation recorded in the store.
type Run struct {
	ID          string `json:"id"`
	Command     string `json:"command"`
	Args        string `json:"args"` // JSON array, secrets redacted
	Review      string `json:"review"`
	ToolVersion string `json:"tool_version"`
	Actor       string `json:"actor"`
	Host        string `json:"host"`
	PID         int    `json:"pid"`
	StartedAt   string `json:"started_at"`
	FinishedAt  string `json:"finished_at"`
	Status      string `json:"status"`
	Error       string `json:"error"`
}

const runCols = `id, command, args, review, tool_version, actor, host, pid, started_at, finished_at, status, error`

func scanRun(sc interface{ Scan(...any) error }) (Run, error) {
	var r Run
	err := sc.Scan(&r.ID, &r.Command, &r.Args, &r.Review, &r.ToolVersion, &r.Actor, &r.Host, &r.PID, &r.StartedAt, &r.FinishedAt, &r.Status, &r.Error)
	return r, err
}

// InsertRun records r as a new running run in the transaction and returns
// it with its id, start time and status. The id is deterministic: the
// start time (UTC, compact) and the run's ordinal. evidence.StartRun calls
// it and seals the start in the ledger in the same transaction.
func (tx *Tx) InsertRun(ctx context.Context, r Run) (Run, error) {
	var n int64
	if err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM runs`).Scan(&n); err != nil {
		return Run{}, fmt.Errorf("store: start run: %w", err)
	}
	r.ID = fmt.Sprintf("%s-%04d", tx.Now.Format("20060102T150405Z"), n+1)
	r.StartedAt = FormatTime(tx.Now)
	r.Status = RunRunning
	r.FinishedAt, r.Error = "", ""
	_, err := tx.exec(ctx, `INSERT INTO runs (id, command, args, review, tool_version, actor, host, pid, started_at, status)
		VALUES (?,?,?,?,?,?,?,?,?,?)`, r.ID, r.Command, r.Args, r.Review, r.ToolVersion, r.Actor, r.Host, r.PID, r.StartedAt, r.Status)
	if err != nil {
		return Run{}, fmt.Errorf("store: start run: %w", err)
	}
	return r, nil
}

// EndRun sets a run's final status, error text and finish time (the
// transaction's clock) and returns the run as it now stands. ErrNotFound
// if no run has that id.
func (tx *Tx) EndRun(ctx context.Context, id, status, errText string) (Run, error) {
	res, err := tx.exec(ctx, `UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?`,
		status, errText, FormatTime(tx.Now), id)
	if err != nil {
		return Run{}, fmt.Errorf("store: finish run %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Run{}, fmt.Errorf("store: finish run %s: %w", id, ErrNotFound)
	}
	return tx.GetRun(ctx, id)
}

// GetRun returns one run as the transaction sees it; ErrNotFound if none
// has that id.
func (tx *Tx) GetRun(ctx context.Context, id string) (Run, error) {
	r, err := scanRun(tx.tx.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("store: run %s: %w", id, ErrNotFound)
	}
	return r, err
}

// RunningRuns returns the runs still marked running, on host (every host
// when host is ""), in id order. In a write transaction the answer cannot
// change before it commits.
func (tx *Tx) RunningRuns(ctx context.Context, host string) ([]Run, error) {
	q := `SELECT ` + runCols + ` FROM runs WHERE status = 'running'`
	var args []any
	if host != "" {
		q += ` AND host = ?`
		args = append(args, host)
	}
	rows, err := tx.tx.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: running runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AbandonedMessage is the error text of a run marked interrupted because
// its process was gone.
const AbandonedMessage = "the process ended before the run finished (crash or kill)"

// Busy returns a *BusyError naming r, for a writer refused at run start
// because r is still running.
func (s *Store) Busy(r Run) *BusyError {
	return &BusyError{Path: s.path, RunID: r.ID, Command: r.Command, PID: r.PID, Host: r.Host, StartedAt: r.StartedAt}
}

// StartRun records a new running run and returns it.
//
// Deprecated: it leaves no ledger row, so verify reports the run as not
// in the ledger. Use evidence.StartRun, which also refuses to start while
// another live run writes the store.
func (s *Store) StartRun(ctx context.Context, r Run) (Run, error) {
	err := s.WithTx(ctx, func(tx *Tx) error {
		var err error
		r, err = tx.InsertRun(ctx, r)
		return err
	})
	if err != nil {
		return Run{}, err
	}
	return r, nil
}

// FinishRun sets a run's final status and error text.
//
// Deprecated: use evidence.FinishRun, which seals the end in the ledger.
func (s *Store) FinishRun(ctx context.Context, id, status, errText string) error {
	return s.WithTx(ctx, func(tx *Tx) error {
		_, err := tx.EndRun(ctx, id, status, errText)
		return err
	})
}

// MarkAbandonedRuns marks as interrupted every run still "running" on host
// whose process is gone (alive reports whether a pid still runs).
//
// Deprecated: use evidence.MarkAbandonedRuns, which seals each end in the
// ledger.
func (s *Store) MarkAbandonedRuns(ctx context.Context, host string, alive func(pid int) bool) ([]Run, error) {
	var marked []Run
	err := s.WithTx(ctx, func(tx *Tx) error {
		cands, err := tx.RunningRuns(ctx, host)
		if err != nil {
			return err
		}
		for _, r := range cands {
			if alive(r.PID) {
				continue
			}
			ended, err := tx.EndRun(ctx, r.ID, RunInterrupted, AbandonedMessage)
			if err != nil {
				return err
			}
			marked = append(marked, ended)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: mark abandoned runs: %w", err)
	}
	return marked, nil
}

// GetRun returns one run; ErrNotFound if none has that id.
func (s *Store) GetRun(ctx context.Context, id string) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("store: run %s: %w", id, ErrNotFound)
	}
	return r, err
}

// Runs returns every run in id order.
func (s *Store) Runs(ctx context.Context) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs ORDER BY started_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
