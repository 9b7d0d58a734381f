package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Decision sources.
const (
	DecisionFromJira = "jira"
	DecisionFromCSV  = "csv"
)

// Decision is one row of the decisions table: one decision line resolved
// to one access (or, rejected, as written).
type Decision struct {
	ID             int64  `json:"id,omitempty"`
	Review         string `json:"review"`
	PassID         string `json:"pass_id"`
	System         string `json:"system"`
	Action         string `json:"action"` // CERTIFY, REVOKE, or "" when malformed
	Target         string `json:"target"`
	GroupName      string `json:"group_name"`
	UserID         string `json:"user_id"`
	GroupID        string `json:"group_id"`
	DecidedBy      string `json:"decided_by"` // the author's Jira accountId (or email for CSV rows)
	DecidedByName  string `json:"decided_by_name"`
	DecidedByEmail string `json:"decided_by_email"`
	DecidedAt      string `json:"decided_at"` // Jira's created, UTC RFC 3339
	Status         string `json:"status"`     // accepted, rejected, superseded
	Reason         string `json:"reason"`     // why rejected or superseded
	Justification  string `json:"justification"`
	JiraKey        string `json:"jira_key"`
	CommentID      string `json:"comment_id"`
	CommentUpdated string `json:"comment_updated"`
	Edited         bool   `json:"edited"`
	Line           string `json:"line"`
	LineNo         int    `json:"line_no"`
	Source         string `json:"source"` // jira or csv
	CertifyAll     bool   `json:"certify_all"`
	ReviewerRole   string `json:"reviewer_role"`
	ReviewerAdmin  bool   `json:"reviewer_admin"`
	EvidenceID     string `json:"evidence_id,omitempty"`
}

// DecisionPass is one complete read of one system's decisions.
type DecisionPass struct {
	ID         int64  `json:"id,omitempty"`
	Review     string `json:"review"`
	PassID     string `json:"pass_id"`
	RunID      string `json:"run_id"`
	System     string `json:"system"`
	Source     string `json:"source"`
	JiraKey    string `json:"jira_key"`
	Comments   int    `json:"comments"`
	Lines      int    `json:"lines"`
	EvidenceID string `json:"evidence_id,omitempty"`
}

const decisionCols = `id, review, pass_id, system, action, target, group_name, user_id, group_id, decided_by, decided_by_name, decided_by_email,
	decided_at, status, reason, justification, jira_key, comment_id, comment_updated, edited, line, line_no, source, certify_all, reviewer_role,
	reviewer_admin, evidence_id`

// InsertDecisionPass writes one system's pass and its decision rows, all
// pointing to evidenceID (the derive row sealed next; scope: the pass id).
func (tx *Tx) InsertDecisionPass(ctx context.Context, p DecisionPass, rows []Decision, evidenceID string) error {
	if _, err := tx.exec(ctx, `INSERT INTO decision_passes (review, pass_id, run_id, system, source, jira_key, comments, lines, evidence_id) VALUES (?,?,?,?,?,?,?,?,?)`,
		p.Review, p.PassID, p.RunID, p.System, p.Source, p.JiraKey, p.Comments, p.Lines, evidenceID); err != nil {
		return fmt.Errorf("store: insert decision pass %s %s: %w", p.PassID, p.System, err)
	}
	for _, d := range rows {
		source := d.Source
		if source == "" {
			source = p.Source
		}
		if _, err := tx.exec(ctx, `INSERT INTO decisions (review, pass_id, system, action, target, group_name, user_id, group_id, decided_by,
			decided_by_name, decided_by_email, decided_at, status, reason, justification, jira_key, comment_id, comment_updated, edited, line, line_no,
			source, certify_all, reviewer_role, reviewer_admin, evidence_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			p.Review, p.PassID, p.System, d.Action, d.Target, d.GroupName, d.UserID, d.GroupID, d.DecidedBy, d.DecidedByName, d.DecidedByEmail,
			d.DecidedAt, d.Status, d.Reason, d.Justification, d.JiraKey, d.CommentID, d.CommentUpdated, boolInt(d.Edited), d.Line, d.LineNo, source,
			boolInt(d.CertifyAll), d.ReviewerRole, boolInt(d.ReviewerAdmin), evidenceID); err != nil {
			return fmt.Errorf("store: insert decision %s %s %s: %w", d.System, d.Action, d.Target, err)
		}
	}
	return nil
}

// CurrentDecisions returns the rows of each system's latest pass of
// review, ordered by system and id.
func (s *Store) CurrentDecisions(ctx context.Context, review string) ([]Decision, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+decisionCols+` FROM v_current_decisions WHERE review = ? ORDER BY system, id`, review)
	if err != nil {
		return nil, fmt.Errorf("store: current decisions: %w", err)
	}
	defer rows.Close()
	var out []Decision
	for rows.Next() {
		var d Decision
		var edited, all, admin int
		if err := rows.Scan(&d.ID, &d.Review, &d.PassID, &d.System, &d.Action, &d.Target, &d.GroupName, &d.UserID, &d.GroupID, &d.DecidedBy,
			&d.DecidedByName, &d.DecidedByEmail, &d.DecidedAt, &d.Status, &d.Reason, &d.Justification, &d.JiraKey, &d.CommentID, &d.CommentUpdated,
			&edited, &d.Line, &d.LineNo, &d.Source, &all, &d.ReviewerRole, &admin, &d.EvidenceID); err != nil {
			return nil, fmt.Errorf("store: current decisions: %w", err)
		}
		d.Edited, d.CertifyAll, d.ReviewerAdmin = edited != 0, all != 0, admin != 0
		out = append(out, d)
	}
	return out, rows.Err()
}

// LatestDecisionPass returns the latest pass of review for system;
// ErrNotFound if none.
func (s *Store) LatestDecisionPass(ctx context.Context, review, system string) (DecisionPass, error) {
	var p DecisionPass
	err := s.db.QueryRowContext(ctx, `SELECT id, review, pass_id, run_id, system, source, jira_key, comments, lines, evidence_id
		FROM decision_passes WHERE review = ? AND system = ? ORDER BY id DESC LIMIT 1`, review, system).
		Scan(&p.ID, &p.Review, &p.PassID, &p.RunID, &p.System, &p.Source, &p.JiraKey, &p.Comments, &p.Lines, &p.EvidenceID)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("store: decision pass %s %s: %w", review, system, ErrNotFound)
	}
	return p, err
}

// Revocation is one row of the revocations table: what revoke did for one
// membership and its proof.
type Revocation struct {
	ID               int64  `json:"id,omitempty"`
	Review           string `json:"review"`
	RunID            string `json:"run_id"`
	System           string `json:"system"`
	UserID           string `json:"user_id"`
	UserLogin        string `json:"user_login"`
	GroupID          string `json:"group_id"`
	GroupName        string `json:"group_name"`
	Status           string `json:"status"` // planned, done, already_absent, failed, skipped
	Reason           string `json:"reason"`
	RequestedBy      string `json:"requested_by"`
	ExecutedAt       string `json:"executed_at"`
	VerifiedAt       string `json:"verified_at"`
	OktaRequestID    string `json:"okta_request_id"`
	DecisionID       int64  `json:"decision_id"`
	DecidedAt        string `json:"decided_at"`
	JiraKey          string `json:"jira_key"`
	CommentID        string `json:"comment_id"`
	MembershipSource string `json:"membership_source"`
	LogEventID       string `json:"log_event_id"`
	LogEventTime     string `json:"log_event_time"`
	LatencySeconds   int64  `json:"latency_seconds"`
	EvidenceID       string `json:"evidence_id,omitempty"`
}

const revocationCols = `id, review, run_id, system, user_id, user_login, group_id, group_name, status, reason, requested_by, executed_at,
	verified_at, okta_request_id, decision_id, decided_at, jira_key, comment_id, membership_source, log_event_id, log_event_time, latency_seconds, evidence_id`

// InsertRevocation writes r pointing to evidenceID (the derive row sealed
// next; scope: the returned id).
func (tx *Tx) InsertRevocation(ctx context.Context, r Revocation, evidenceID string) (int64, error) {
	res, err := tx.exec(ctx, `INSERT INTO revocations (review, run_id, system, user_id, user_login, group_id, group_name, status, reason,
		requested_by, executed_at, verified_at, okta_request_id, decision_id, decided_at, jira_key, comment_id, membership_source, log_event_id,
		log_event_time, latency_seconds, evidence_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.Review, r.RunID, r.System, r.UserID, r.UserLogin, r.GroupID, r.GroupName, r.Status, r.Reason, r.RequestedBy, r.ExecutedAt,
		r.VerifiedAt, r.OktaRequestID, r.DecisionID, r.DecidedAt, r.JiraKey, r.CommentID, r.MembershipSource, r.LogEventID, r.LogEventTime,
		r.LatencySeconds, evidenceID)
	if err != nil {
		return 0, fmt.Errorf("store: insert revocation %s/%s: %w", r.GroupName, r.UserLogin, err)
	}
	return res.LastInsertId()
}

// LatestRevocations returns, for review, the latest revocation row of each
// membership, ordered by system, group, user.
func (s *Store) LatestRevocations(ctx context.Context, review string) ([]Revocation, error) {
	return s.queryRevocations(ctx, `SELECT `+revocationCols+` FROM v_latest_revocations WHERE review = ? ORDER BY system, group_name, user_login, id`, review)
}

// Revocations returns every revocation row of review (each run's record of
// each membership, planned rows included) in id order.
func (s *Store) Revocations(ctx context.Context, review string) ([]Revocation, error) {
	return s.queryRevocations(ctx, `SELECT `+revocationCols+` FROM revocations WHERE review = ? ORDER BY id`, review)
}

func (s *Store) queryRevocations(ctx context.Context, q string, args ...any) ([]Revocation, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: revocations: %w", err)
	}
	defer rows.Close()
	var out []Revocation
	for rows.Next() {
		var r Revocation
		if err := rows.Scan(&r.ID, &r.Review, &r.RunID, &r.System, &r.UserID, &r.UserLogin, &r.GroupID, &r.GroupName, &r.Status, &r.Reason,
			&r.RequestedBy, &r.ExecutedAt, &r.VerifiedAt, &r.OktaRequestID, &r.DecisionID, &r.DecidedAt, &r.JiraKey, &r.CommentID,
			&r.MembershipSource, &r.LogEventID, &r.LogEventTime, &r.LatencySeconds, &r.EvidenceID); err != nil {
			return nil, fmt.Errorf("store: revocations: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Progress is how far one system's review has come (from v_access).
type Progress struct {
	System  string `json:"system"`
	Total   int    `json:"total"`   // accesses in the current population
	Pending int    `json:"pending"` // accesses without an accepted decision
	Revoked int    `json:"revoked"`
	// Unfinished are revoked accesses whose removal is not proven (done
	// or already absent) yet.
	Unfinished int `json:"unfinished"`
}

// ReviewProgress returns each system's progress in review, by system.
func (s *Store) ReviewProgress(ctx context.Context, review string) ([]Progress, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT system, count(*),
		coalesce(sum(decision = 'pending'), 0),
		coalesce(sum(decision = 'revoked'), 0),
		coalesce(sum(decision = 'revoked' AND revocation_status NOT IN ('done', 'already_absent')), 0)
		FROM v_access WHERE review = ? GROUP BY system ORDER BY system`, review)
	if err != nil {
		return nil, fmt.Errorf("store: review progress: %w", err)
	}
	defer rows.Close()
	var out []Progress
	for rows.Next() {
		var p Progress
		if err := rows.Scan(&p.System, &p.Total, &p.Pending, &p.Revoked, &p.Unfinished); err != nil {
			return nil, fmt.Errorf("store: review progress: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
