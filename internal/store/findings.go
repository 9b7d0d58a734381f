package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

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
	if err := insertFindings(ctx, tx, id, findings); err != nil {
		return 0, err
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

// findingKind is what findings of one rule share.
type findingKind struct {
	rule, risk, title, rec, source string
}

// insertFindings writes the findings of scoring id: each distinct kind
// (rule, risk, title, recommendation, source) and each distinct text
// (detail sentence, group list) once, and per finding a row of numbers
// (migrations/0005_snapshot.sql). The findings view reads them back as
// they were given.
func insertFindings(ctx context.Context, tx *Tx, id int64, findings []model.Finding) error {
	kinds := map[findingKind]int32{}
	var kindRows []findingKind
	texts := map[string]int32{}
	var textRows []string
	text := func(s string) int32 {
		if n, ok := texts[s]; ok {
			return n
		}
		textRows = append(textRows, s)
		texts[s] = int32(len(textRows))
		return int32(len(textRows))
	}
	type row struct {
		kind, groups, detail int32
	}
	rows := make([]row, len(findings))
	for i := range findings {
		f := &findings[i]
		k := findingKind{f.RuleID, string(f.Risk), f.Title, f.Recommendation, f.Source}
		n, ok := kinds[k]
		if !ok {
			kindRows = append(kindRows, k)
			n = int32(len(kindRows))
			kinds[k] = n
		}
		groups, _ := json.Marshal(nonNil(f.Groups))
		rows[i] = row{kind: n, groups: text(string(groups)), detail: text(f.Detail)}
	}
	err := insertRows(ctx, tx, `INSERT INTO finding_kinds (scoring_id, no, rule_id, risk, title, recommendation, source) VALUES `,
		7, 64, len(kindRows), func(i int, args []any) []any {
			k := &kindRows[i]
			return append(args, id, i+1, k.rule, k.risk, k.title, k.rec, k.source)
		})
	if err != nil {
		return fmt.Errorf("store: insert finding kinds: %w", err)
	}
	err = insertRows(ctx, tx, `INSERT INTO finding_texts (scoring_id, no, text) VALUES `,
		3, 128, len(textRows), func(i int, args []any) []any {
			return append(args, id, i+1, textRows[i])
		})
	if err != nil {
		return fmt.Errorf("store: insert finding texts: %w", err)
	}
	err = insertRows(ctx, tx, `INSERT INTO scoring_findings (scoring_id, ordinal, kind, system, user_id, user_login, groups_text, detail_text, suppressed, exception_by, exception_ticket, exception_expires, exception_reason) VALUES `,
		13, 64, len(findings), func(i int, args []any) []any {
			f := &findings[i]
			var by, ticket, expires, reason string
			if f.Suppressed != nil {
				by, ticket, expires, reason = f.Suppressed.ApprovedBy, f.Suppressed.Ticket, f.Suppressed.Expires, f.Suppressed.Reason
			}
			return append(args, id, i+1, rows[i].kind, f.System, f.UserID, f.UserLogin, rows[i].groups, rows[i].detail,
				boolInt(f.Suppressed != nil), by, ticket, expires, reason)
		})
	if err != nil {
		return fmt.Errorf("store: insert findings of scoring %d: %w", id, err)
	}
	return nil
}

// fillScoring reads the findings (through the dictionaries, sharing one
// string per distinct text) and system risks of sc.
func (s *Store) fillScoring(ctx context.Context, sc *Scoring) (*Scoring, error) {
	kinds := map[int32]findingKind{}
	rows, err := s.db.QueryContext(ctx, `SELECT no, rule_id, risk, title, recommendation, source FROM finding_kinds WHERE scoring_id = ?`, sc.ID)
	if err != nil {
		return nil, fmt.Errorf("store: findings: %w", err)
	}
	for rows.Next() {
		var no int32
		var k findingKind
		if err := rows.Scan(&no, &k.rule, &k.risk, &k.title, &k.rec, &k.source); err != nil {
			rows.Close()
			return nil, err
		}
		kinds[no] = k
	}
	rows.Close()
	texts := map[int32]string{}
	rows, err = s.db.QueryContext(ctx, `SELECT no, text FROM finding_texts WHERE scoring_id = ?`, sc.ID)
	if err != nil {
		return nil, fmt.Errorf("store: findings: %w", err)
	}
	for rows.Next() {
		var no int32
		var t string
		if err := rows.Scan(&no, &t); err != nil {
			rows.Close()
			return nil, err
		}
		texts[no] = t
	}
	rows.Close()
	groupLists := map[int32][]string{}
	rows, err = s.db.QueryContext(ctx, `SELECT kind, system, user_id, user_login, groups_text, detail_text, suppressed, exception_by, exception_ticket, exception_expires, exception_reason FROM scoring_findings WHERE scoring_id = ? ORDER BY ordinal`, sc.ID)
	if err != nil {
		return nil, fmt.Errorf("store: findings: %w", err)
	}
	for rows.Next() {
		var f model.Finding
		var kind, groups, detail int32
		var sup int
		var x model.Suppression
		if err := rows.Scan(&kind, &f.System, &f.UserID, &f.UserLogin, &groups, &detail, &sup, &x.ApprovedBy, &x.Ticket, &x.Expires, &x.Reason); err != nil {
			rows.Close()
			return nil, err
		}
		k, okK := kinds[kind]
		d, okD := texts[detail]
		g, okG := texts[groups]
		if !okK || !okD || !okG {
			rows.Close()
			return nil, fmt.Errorf("store: scoring %d: a finding names a kind or text that is missing", sc.ID)
		}
		f.RuleID, f.Risk, f.Title, f.Recommendation, f.Source, f.Detail = k.rule, model.Risk(k.risk), k.title, k.rec, k.source, d
		gl, ok := groupLists[groups]
		if !ok {
			if err := json.Unmarshal([]byte(g), &gl); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: finding groups: %w", err)
			}
			groupLists[groups] = gl
		}
		f.Groups = slices.Clone(gl)
		if sup != 0 {
			f.Suppressed = &x
		}
		sc.Findings = append(sc.Findings, f)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, err
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
