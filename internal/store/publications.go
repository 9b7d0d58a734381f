package store

import (
	"context"
	"fmt"
)

// Publication services, kinds and actions (the publications table).
const (
	ServiceConfluence = "confluence"
	ServiceJira       = "jira"
	ServiceSlack      = "slack"

	KindPage      = "page"
	KindChildPage = "child_page"
	KindTicket    = "ticket"
	KindMessage   = "message"

	ActionCreated = "created"
	ActionUpdated = "updated"
)

// Publication is one object uar created or updated on a service: a
// Confluence page or child page, a Jira ticket, a Slack message. Each row
// is written and sealed right after the service confirmed it, so a run that
// fails half-way leaves exactly what it published on record.
//
// ExternalID is the service's id (page id, issue id, message ts);
// ExternalKey the human key (page title, issue key, channel id);
// ServiceTime the service's own timestamp (Jira created/updated,
// Confluence version.createdAt, Slack ts) as UTC RFC 3339.
type Publication struct {
	ID          int64  `json:"id,omitempty"`
	Review      string `json:"review"`
	RunID       string `json:"run_id"`
	Service     string `json:"service"`
	Kind        string `json:"kind"`
	System      string `json:"system"`
	Action      string `json:"action"`
	ExternalID  string `json:"external_id"`
	ExternalKey string `json:"external_key"`
	URL         string `json:"url"`
	Version     int    `json:"version"`
	ServiceTime string `json:"service_time"`
	EvidenceID  string `json:"evidence_id,omitempty"`
}

// InsertPublication writes p pointing to evidenceID (the derive row the
// caller seals next in the same transaction, scope = the returned id).
func (tx *Tx) InsertPublication(ctx context.Context, p Publication, evidenceID string) (int64, error) {
	res, err := tx.exec(ctx, `INSERT INTO publications (review, run_id, service, kind, system, action, external_id, external_key, url, version, service_time, evidence_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		p.Review, p.RunID, p.Service, p.Kind, p.System, p.Action, p.ExternalID, p.ExternalKey, p.URL, p.Version, p.ServiceTime, evidenceID)
	if err != nil {
		return 0, fmt.Errorf("store: insert publication %s %s %s: %w", p.Service, p.Kind, p.System, err)
	}
	return res.LastInsertId()
}

const publicationCols = `id, review, run_id, service, kind, system, action, external_id, external_key, url, version, service_time, evidence_id`

// Publications returns every publication row of review in id order (the
// full history: each create and each update).
func (s *Store) Publications(ctx context.Context, review string) ([]Publication, error) {
	return s.queryPublications(ctx, `SELECT `+publicationCols+` FROM publications WHERE review = ? ORDER BY id`, review)
}

// CurrentPublications returns, for review, the latest row per (service,
// kind, system, external_key), in id order: the objects as last published.
// A ticket that was re-created under a new key yields two rows for its
// system; callers wanting one object per system take the one with the
// highest id.
func (s *Store) CurrentPublications(ctx context.Context, review string) ([]Publication, error) {
	return s.queryPublications(ctx, `SELECT `+publicationCols+` FROM publications WHERE id IN (
		SELECT max(id) FROM publications WHERE review = ? GROUP BY service, kind, system, external_key) ORDER BY id`, review)
}

func (s *Store) queryPublications(ctx context.Context, q string, args ...any) ([]Publication, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: publications: %w", err)
	}
	defer rows.Close()
	var out []Publication
	for rows.Next() {
		var p Publication
		if err := rows.Scan(&p.ID, &p.Review, &p.RunID, &p.Service, &p.Kind, &p.System, &p.Action, &p.ExternalID,
			&p.ExternalKey, &p.URL, &p.Version, &p.ServiceTime, &p.EvidenceID); err != nil {
			return nil, fmt.Errorf("store: publications: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
