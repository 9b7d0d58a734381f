package store

import (
	"context"
	"fmt"
)

// Reviewer roles and how an account id was obtained.
const (
	RoleOwner    = "owner"
	RoleDelegate = "delegate"
	RoleBackup   = "backup"

	ReviewerFromConfig = "config" // owner_account_id given in uar.yaml
	ReviewerFromJira   = "jira"   // an email resolved with Jira's user search
)

// Reviewer is one person who may decide for a system, with the Jira
// account decisions are authorised by.
type Reviewer struct {
	ID          int64  `json:"id,omitempty"`
	Review      string `json:"review"`
	RunID       string `json:"run_id"`
	System      string `json:"system"`
	Role        string `json:"role"`
	Email       string `json:"email"`
	AccountID   string `json:"account_id"`
	DisplayName string `json:"display_name"`
	Source      string `json:"source"`
	EvidenceID  string `json:"evidence_id,omitempty"`
}

// InsertReviewers writes one resolution pass (scope: the run id) pointing
// to evidenceID, the derive row sealed next in the same transaction.
func (tx *Tx) InsertReviewers(ctx context.Context, rs []Reviewer, evidenceID string) error {
	for _, r := range rs {
		if _, err := tx.exec(ctx, `INSERT INTO reviewers (review, run_id, system, role, email, account_id, display_name, source, evidence_id) VALUES (?,?,?,?,?,?,?,?,?)`,
			r.Review, r.RunID, r.System, r.Role, r.Email, r.AccountID, r.DisplayName, r.Source, evidenceID); err != nil {
			return fmt.Errorf("store: insert reviewer %s %s %s: %w", r.System, r.Role, r.Email, err)
		}
	}
	return nil
}

// CurrentReviewers returns the review's reviewers as last resolved: the
// rows of the latest resolution pass, ordered by system, role, email.
func (s *Store) CurrentReviewers(ctx context.Context, review string) ([]Reviewer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, review, run_id, system, role, email, account_id, display_name, source, evidence_id
		FROM reviewers WHERE review = ? AND run_id = (SELECT run_id FROM reviewers WHERE review = ? ORDER BY id DESC LIMIT 1)
		ORDER BY system, role, email, id`, review, review)
	if err != nil {
		return nil, fmt.Errorf("store: reviewers: %w", err)
	}
	defer rows.Close()
	var out []Reviewer
	for rows.Next() {
		var r Reviewer
		if err := rows.Scan(&r.ID, &r.Review, &r.RunID, &r.System, &r.Role, &r.Email, &r.AccountID, &r.DisplayName, &r.Source, &r.EvidenceID); err != nil {
			return nil, fmt.Errorf("store: reviewers: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
