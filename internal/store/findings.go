package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/uar-dev/uar/internal/model"
)

// ScoringHeader describes one scoring pass being written.
type ScoringHeader struct {
	Review      string
	RunID       string
	SnapshotIDs []int64
	PolicyHash  string
	AsOf        string // UTC RFC 3339
	AI          bool
}

// SystemRisk is one system's overall risk in a scoring pass.
type SystemRisk struct {
	System string     `json:"system"`
	Risk   model.Risk `json:"risk"` // "" when no finding
	High   int        `json:"high"`
	Medium int        `json:"medium"`
	Low    int        `json:"low"`
}

// Scoring is a stored scoring pass with its findings.
type Scoring struct {
	ID          int64
	Review      string
	RunID       string
	SnapshotIDs []int64
	PolicyHash  string
	AsOf        string
	AI          bool
	EvidenceID  string
	Findings    []model.Finding // in stored order; suppressed ones have Suppressed set
	Systems     []SystemRisk
}

// InsertScoring writes a scoring pass: its header, findings (active and
// suppressed, in the given order) and per-system risks, all pointing to
// evidenceID (the derive row appended next in the same transaction).
func (tx *Tx) InsertScoring(ctx context.Context, h ScoringHeader, findings []model.Finding, systems []SystemRisk, evidenceID string) (int64, error) {
	ids, _ := json.Marshal(h.SnapshotIDs)
	res, err := tx.exec(ctx, `INSERT INTO scorings (review, run_id, snapshot_ids, policy_hash, as_of, ai, evidence_id) VALUES (?,?,?,?,?,?,?)`,
		h.Review, h.RunID, string(ids), h.PolicyHash, h.AsOf, boolInt(h.AI), evidenceID)
	if err != nil {
		return 0, fmt.Errorf("store: insert scoring: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	for i, f := range findings {
		groups, _ := json.Marshal(nonNil(f.Groups))
		var by, ticket, expires, reason string
		if f.Suppressed != nil {
			by, ticket, expires, reason = f.Suppressed.ApprovedBy, f.Suppressed.Ticket, f.Suppressed.Expires, f.Suppressed.Reason
		}
		if _, err := tx.exec(ctx, `INSERT INTO findings (scoring_id, ordinal, rule_id, risk, system, user_id, user_login, groups, title, detail, recommendation, source, suppressed, exception_by, exception_ticket, exception_expires, exception_reason, evidence_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			id, i+1, f.RuleID, string(f.Risk), f.System, f.UserID, f.UserLogin, string(groups), f.Title, f.Detail, f.Recommendation, f.Source,
			boolInt(f.Suppressed != nil), by, ticket, expires, reason, evidenceID); err != nil {
			return 0, fmt.Errorf("store: insert finding %s/%s: %w", f.RuleID, f.UserLogin, err)
		}
	}
	for _, s := range systems {
		if _, err := tx.exec(ctx, `INSERT INTO system_risks (scoring_id, system, risk, high, medium, low, evidence_id) VALUES (?,?,?,?,?,?,?)`,
			id, s.System, string(s.Risk), s.High, s.Medium, s.Low, evidenceID); err != nil {
			return 0, fmt.Errorf("store: insert system risk %s: %w", s.System, err)
		}
	}
	return id, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// CurrentScoring returns the review's latest scoring pass with its
// findings; ErrNotFound if the review was never scored.
func (s *Store) CurrentScoring(ctx context.Context, review string) (*Scoring, error) {
	var sc Scoring
	var ids string
	var ai int
	err := s.db.QueryRowContext(ctx, `SELECT id, review, run_id, snapshot_ids, policy_hash, as_of, ai, evidence_id FROM scorings WHERE review = ? ORDER BY id DESC LIMIT 1`, review).
		Scan(&sc.ID, &sc.Review, &sc.RunID, &ids, &sc.PolicyHash, &sc.AsOf, &ai, &sc.EvidenceID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: review %s has no scoring: %w", review, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: current scoring: %w", err)
	}
	sc.AI = ai != 0
	if err := json.Unmarshal([]byte(ids), &sc.SnapshotIDs); err != nil {
		return nil, fmt.Errorf("store: scoring %d snapshot_ids: %w", sc.ID, err)
	}
	return s.fillScoring(ctx, &sc)
}

// ScoringByID returns one scoring pass with its findings.
func (s *Store) ScoringByID(ctx context.Context, id int64) (*Scoring, error) {
	var sc Scoring
	var ids string
	var ai int
	err := s.db.QueryRowContext(ctx, `SELECT id, review, run_id, snapshot_ids, policy_hash, as_of, ai, evidence_id FROM scorings WHERE id = ?`, id).
		Scan(&sc.ID, &sc.Review, &sc.RunID, &ids, &sc.PolicyHash, &sc.AsOf, &ai, &sc.EvidenceID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: scoring %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	sc.AI = ai != 0
	if err := json.Unmarshal([]byte(ids), &sc.SnapshotIDs); err != nil {
		return nil, err
	}
	return s.fillScoring(ctx, &sc)
}

// Scorings returns the ids of every scoring pass, in order.
func (s *Store) Scorings(ctx context.Context) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM scorings ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (s *Store) fillScoring(ctx context.Context, sc *Scoring) (*Scoring, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rule_id, risk, system, user_id, user_login, groups, title, detail, recommendation, source, suppressed, exception_by, exception_ticket, exception_expires, exception_reason FROM findings WHERE scoring_id = ? ORDER BY ordinal`, sc.ID)
	if err != nil {
		return nil, fmt.Errorf("store: findings: %w", err)
	}
	for rows.Next() {
		var f model.Finding
		var risk, groups string
		var sup int
		var x model.Suppression
		if err := rows.Scan(&f.RuleID, &risk, &f.System, &f.UserID, &f.UserLogin, &groups, &f.Title, &f.Detail, &f.Recommendation, &f.Source, &sup, &x.ApprovedBy, &x.Ticket, &x.Expires, &x.Reason); err != nil {
			rows.Close()
			return nil, err
		}
		f.Risk = model.Risk(risk)
		if err := json.Unmarshal([]byte(groups), &f.Groups); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: finding groups: %w", err)
		}
		if sup != 0 {
			f.Suppressed = &x
		}
		sc.Findings = append(sc.Findings, f)
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT system, risk, high, medium, low FROM system_risks WHERE scoring_id = ? ORDER BY system`, sc.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r SystemRisk
		var risk string
		if err := rows.Scan(&r.System, &risk, &r.High, &r.Medium, &r.Low); err != nil {
			return nil, err
		}
		r.Risk = model.Risk(risk)
		sc.Systems = append(sc.Systems, r)
	}
	return sc, rows.Err()
}
