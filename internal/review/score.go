package review

import (
	"context"
	"fmt"
	"strings"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/score/ai"
	"github.com/uar-dev/uar/internal/store"
)

// AIPass configures the optional, advisory LLM pass of a scoring.
type AIPass struct {
	Wanted   bool   // ai.enabled or --ai
	Explicit bool   // --ai was given: a failure fails the command
	Skip     string // why the pass cannot run (no API key); "" when ready
	Model    string
	Pseudo   bool
	// Review runs the pass (ai.Review bound to its config and client).
	Review func(ctx context.Context, snap *model.Snapshot, rules []model.Finding) (*ai.Result, error)
}

// ScoreInput is what a scoring pass runs.
type ScoreInput struct {
	Policy     *score.Policy
	PolicyFile string // base name, as recorded
	AI         AIPass
	// AcceptGap is --accept-gap: why a population with completeness gaps
	// is scored anyway (recorded with the actor); "" refuses it.
	AcceptGap string
}

// ScoreParams are the params of a "score" derive row.
type ScoreParams struct {
	ScoringID        int64      `json:"scoring_id"`
	PolicyFile       string     `json:"policy_file"`
	PolicyBlob       string     `json:"policy_blob"`
	PolicyEvidenceID string     `json:"policy_evidence_id"`
	AsOf             string     `json:"as_of"`
	SnapshotIDs      []int64    `json:"snapshot_ids"`
	Notes            []string   `json:"notes"`
	AI               AIEvidence `json:"ai"`
	// HR is the HR evidence the HR checks used; Skipped the checks that
	// could not run, and why.
	HR      HREvidence `json:"hr,omitzero"`
	Skipped []string   `json:"skipped,omitempty"`
}

// AIEvidence records what the AI pass did.
type AIEvidence struct {
	Ran           bool              `json:"ran"`
	Skipped       string            `json:"skipped,omitempty"`
	Model         string            `json:"model,omitempty"`
	Pseudonymized bool              `json:"pseudonymized,omitempty"`
	Calls         []ai.Call         `json:"calls,omitempty"`
	Disagreements []ai.Disagreement `json:"disagreements,omitempty"`
	Pseudonyms    []ai.Pseudonym    `json:"pseudonyms,omitempty"`
	Error         string            `json:"error,omitempty"`
}

// ScoreResult is a scoring pass as written.
type ScoreResult struct {
	ScoringID  int64
	Rules      score.Result
	AIFindings []model.Finding
	AI         *ai.Result // nil when the pass did not run
	AINote     string     // why the pass was skipped
	// AIErr is the AI pass's failure when --ai was explicit (the rule
	// findings were recorded anyway).
	AIErr error
}

// Score runs the policy over the review's current population, with the
// optional AI pass, and writes the findings sealed by a "score" derive row
// (with the policy file kept as a blob). An AI failure never loses the rule
// findings; it is returned in AIErr only when the pass was explicit.
func Score(ctx context.Context, s *Step, in ScoreInput) (*ScoreResult, error) {
	pop, err := LoadPopulation(ctx, s.Store, s.Review)
	if err != nil {
		return nil, err
	}
	if err := CheckGaps(ctx, s, "score", pop.IDs, in.AcceptGap, true); err != nil {
		return nil, err
	}
	hr, hrEv, err := loadHR(ctx, s.Store, s.Review, pop.Snap)
	if err != nil {
		return nil, err
	}
	res := score.EvaluateHR(in.Policy, pop.Snap, s.Now, hr)
	for _, n := range res.Notes {
		s.Out.Warnf("policy: %s", n)
	}
	for _, n := range res.Skipped {
		s.Out.Infof("note: %s", n)
	}
	if m := res.HR; m.Members > 0 {
		s.Out.Infof("HR listing %d: an HR record matched %d of the %d users holding access", hrEv.ListingID, m.Matched, m.Members)
		if m.Matched*2 < m.Members {
			s.Out.Warnf("the HR listing matches fewer than half of the users holding access: check that it is the whole company's listing and that emails or employee ids agree with Okta")
		}
	}
	out := &ScoreResult{Rules: res, AIFindings: []model.Finding{}}
	aiEv := runAIPass(ctx, s, in.AI, pop.Snap, res.Findings, out)

	all := append(append(append([]model.Finding{}, res.Findings...), res.Suppressed...), out.AIFindings...)
	systems := make([]store.SystemRisk, len(res.Systems))
	for i, r := range res.Systems {
		systems[i] = store.SystemRisk{System: r.System, Risk: r.Risk, High: r.High, Medium: r.Medium, Low: r.Low}
	}
	notes := res.Notes
	if notes == nil {
		notes = []string{}
	}
	asOf := store.FormatTime(s.Now)
	err = s.Store.WithTx(ctx, func(tx *store.Tx) error {
		file, err := s.Ledger.RecordFile(ctx, tx, "score.policy", in.PolicyFile, in.Policy.Raw, int64(len(in.Policy.SoDRules)))
		if err != nil {
			return err
		}
		_, err = s.Ledger.Derive(ctx, tx, "score", func(evID string) (evidence.Derived, error) {
			id, err := tx.InsertScoring(ctx, store.ScoringHeader{Review: s.Review, RunID: s.Run.ID, SnapshotIDs: pop.IDs,
				PolicyHash: in.Policy.SHA256, AsOf: asOf, AI: aiEv.Ran}, all, systems, evID)
			out.ScoringID = id
			return evidence.Derived{
				Scopes: []evidence.Scope{{Table: "scorings", Scope: id}, {Table: "findings", Scope: id}, {Table: "system_risks", Scope: id}},
				Params: ScoreParams{ScoringID: id, PolicyFile: in.PolicyFile, PolicyBlob: file.BlobHash, PolicyEvidenceID: file.ID,
					AsOf: asOf, SnapshotIDs: pop.IDs, Notes: notes, AI: aiEv, HR: hrEv, Skipped: res.Skipped},
			}, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	summary := ""
	if out.AI != nil {
		summary = fmt.Sprintf("; AI: %d advisory findings, %d disagreements with the rules", len(out.AI.Findings), len(out.AI.Disagreements))
	}
	s.Out.Infof("score %d of %s: %d findings (%d suppressed by exceptions)%s", out.ScoringID, s.Review, len(res.Findings), len(res.Suppressed), summary)
	return out, nil
}

// runAIPass runs the optional LLM pass and fills out's AI fields.
func runAIPass(ctx context.Context, s *Step, p AIPass, snap *model.Snapshot, rules []model.Finding, out *ScoreResult) AIEvidence {
	if !p.Wanted {
		return AIEvidence{}
	}
	if p.Skip != "" {
		out.AINote = p.Skip
		s.Out.Warnf("%s", p.Skip)
		return AIEvidence{Skipped: p.Skip}
	}
	res, err := p.Review(ctx, snap, rules)
	ev := AIEvidence{Ran: true}
	if res != nil {
		out.AI = res
		out.AIFindings = res.Findings
		ev = AIEvidence{Ran: true, Model: p.Model, Pseudonymized: p.Pseudo, Calls: res.Calls, Disagreements: res.Disagreements, Pseudonyms: res.Pseudonyms}
		for _, c := range res.Failed() {
			s.Out.Warnf("AI review of %s failed: %s", c.System, c.Err)
		}
		for _, d := range res.Disagreements {
			s.Out.Infof("AI %s: %s %s: %s", strings.ReplaceAll(d.Kind, "_", " "), d.System, d.UserLogin, d.Rationale)
		}
		if err == nil && len(res.Failed()) > 0 {
			err = fmt.Errorf("ai: %d of %d systems could not be reviewed", len(res.Failed()), len(res.Calls))
		}
	}
	if err != nil {
		ev.Error = s.scrub(err.Error())
		if !p.Explicit {
			s.Out.Warnf("AI pass failed (rule findings are kept): %s", s.scrub(err.Error()))
		} else {
			out.AIErr = fmt.Errorf("AI pass failed (rule findings were recorded): %w", err)
		}
	}
	if out.AIFindings == nil {
		out.AIFindings = []model.Finding{}
	}
	return ev
}

// GateCount is how many active rule findings are at or above risk.
func (r *ScoreResult) GateCount(risk model.Risk) int {
	n := 0
	for _, f := range r.Rules.Findings {
		if f.Risk.Rank() >= risk.Rank() {
			n++
		}
	}
	return n
}
