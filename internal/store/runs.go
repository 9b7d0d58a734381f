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

// StartRun records a new running run and returns its id, which is
// deterministic: the start time (UTC, compact) and the run's ordinal.
func (s *Store) StartRun(ctx context.Context, r Run) (Run, error) {
	err := s.WithTx(ctx, func(tx *Tx) error {
		var n int64
		if err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM runs`).Scan(&n); err != nil {
			return err
		}
		r.ID = fmt.Sprintf("%s-%04d", tx.Now.Format("20060102T150405Z"), n+1)
		r.StartedAt = FormatTime(tx.Now)
		r.Status = RunRunning
		_, err := tx.exec(ctx, `INSERT INTO runs (id, command, args, review, tool_version, actor, host, pid, started_at, status)
			VALUES (?,?,?,?,?,?,?,?,?,?)`, r.ID, r.Command, r.Args, r.Review, r.ToolVersion, r.Actor, r.Host, r.PID, r.StartedAt, r.Status)
		return err
	})
	if err != nil {
		return Run{}, fmt.Errorf("store: start run: %w", err)
	}
	return r, nil
}

// FinishRun sets a run's final status and error text.
func (s *Store) FinishRun(ctx context.Context, id, status, errText string) error {
	return s.WithTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?`,
			status, errText, FormatTime(tx.Now), id)
		if err != nil {
			return fmt.Errorf("store: finish run %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: finish run %s: %w", id, ErrNotFound)
		}
		return nil
	})
}

// MarkAbandonedRuns marks as interrupted every run still "running" on host
// whose process is gone (alive reports whether a pid still runs): a crash
// or SIGKILL never got to finish its run. It returns the runs it marked.
func (s *Store) MarkAbandonedRuns(ctx context.Context, host string, alive func(pid int) bool) ([]Run, error) {
	var marked []Run
	err := s.WithTx(ctx, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, `SELECT id, command, pid, started_at FROM runs WHERE status = 'running' AND host = ? ORDER BY id`, host)
		if err != nil {
			return err
		}
		var cands []Run
		for rows.Next() {
			var r Run
			if err := rows.Scan(&r.ID, &r.Command, &r.PID, &r.StartedAt); err != nil {
				rows.Close()
				return err
			}
			cands = append(cands, r)
		}
		rows.Close()
		for _, r := range cands {
			if alive(r.PID) {
				continue
			}
			if _, err := tx.exec(ctx, `UPDATE runs SET status = 'interrupted', error = ?, finished_at = ? WHERE id = ?`,
				"the process ended before the run finished (crash or kill)", FormatTime(tx.Now), r.ID); err != nil {
				return err
			}
			r.Status = RunInterrupted
			marked = append(marked, r)
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
	var r Run
	err := s.db.QueryRowContext(ctx, `SELECT id, command, args, review, tool_version, actor, host, pid, started_at, finished_at, status, error FROM runs WHERE id = ?`, id).
		Scan(&r.ID, &r.Command, &r.Args, &r.Review, &r.ToolVersion, &r.Actor, &r.Host, &r.PID, &r.StartedAt, &r.FinishedAt, &r.Status, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("store: run %s: %w", id, ErrNotFound)
	}
	return r, err
}

// Runs returns every run in id order.
func (s *Store) Runs(ctx context.Context) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, command, args, review, tool_version, actor, host, pid, started_at, finished_at, status, error FROM runs ORDER BY started_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		if err := rows.Scan(&r.ID, &r.Command, &r.Args, &r.Review, &r.ToolVersion, &r.Actor, &r.Host, &r.PID, &r.StartedAt, &r.FinishedAt, &r.Status, &r.Error); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
