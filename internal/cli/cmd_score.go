package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/score/ai"
	"github.com/uar-dev/uar/internal/store"
)

func init() {
	extraCommands = append(extraCommands, newScoreCmd)
	rederivers = append(rederivers, rederiveScorings)
}

type scoreOptions struct {
	review string
	policy string
	failOn string
	ai     bool
}

const scoreLong = `Run the policy rules over the review's current snapshot: segregation-of-duties
rules, contractors, dormant and inactive accounts, administrators in more than
one system, orphaned app accounts. Exceptions in the policy suppress matching
findings until they expire; suppressed findings are kept and listed with who
approved them.

The policy file (policy: in uar.yaml, or --policy) is stored as evidence with
the findings, so 'uar verify --rederive' can re-run scoring offline and
compare. Same snapshot and same policy give identical findings.

With --ai (or ai.enabled), each system's access list and rule findings also
go to an LLM for an advisory second opinion (identities pseudonymised unless
ai.pseudonymize is false). AI findings are tagged source=ai and never drive a
revocation. Without an API key the pass is skipped with a note.

Output: findings by risk and system (a table, TSV when piped, or --json).

Examples:
  uar score
  uar score --review 2026-Q4 --fail-on high
  uar score --ai --json

EXIT STATUS
  0  ok
  1  failure; or the AI pass failed when --ai was given explicitly
  2  usage, config or policy error (nothing is written)
  4  the AI service refused the API key (--ai)
  5  --fail-on found findings at or above that risk`

func newScoreCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &scoreOptions{}
	cmd := &cobra.Command{
		Use:   "score",
		Short: "Score the snapshot against the policy: SoD, contractors, dormant, inactive, admins",
		Long:  scoreLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runScore(c.Context(), env, g, o)
		},
	}
	cmd.Flags().StringVar(&o.review, "review", "", "review label (default: the current quarter in UTC)")
	cmd.Flags().StringVar(&o.policy, "policy", "", "policy file (default: policy: in uar.yaml)")
	cmd.Flags().StringVar(&o.failOn, "fail-on", "", "exit 5 if findings at or above this risk exist: high, medium or low")
	cmd.Flags().BoolVar(&o.ai, "ai", false, "also ask the LLM for an advisory review (needs UAR_ANTHROPIC_API_KEY)")
	return cmd
}

func runScore(ctx context.Context, env *Env, g *globalOptions, o *scoreOptions) error {
	review, err := resolveReview(env, o.review)
	if err != nil {
		return err
	}
	var failOn model.Risk
	if o.failOn != "" {
		if failOn, err = model.ParseRisk(o.failOn); err != nil {
			return usageErrorf("--fail-on: %v", err)
		}
	}
	cfg, err := loadConfig(env, g, false)
	if err != nil {
		return err
	}
	policyPath := cfg.Policy
	if o.policy != "" {
		policyPath = o.policy
	}
	// The policy is checked before anything is opened or written.
	data, err := os.ReadFile(policyPath)
	if err != nil {
		return WithHint(usageErrorf("policy: %v", err), "run 'uar init' to write an example policy.yaml, or pass --policy")
	}
	pol, err := score.ParsePolicy(filepath.Base(policyPath), data)
	if err != nil {
		return &UsageError{Err: err}
	}
	spec := runSpec{command: "score", args: g.args, review: review}
	var gateErr error
	err = withRun(ctx, env, g, spec, func(ctx context.Context, rc *runCtx) error {
		snaps, err := rc.store.CurrentSnapshots(ctx, review)
		if err != nil {
			return err
		}
		if len(snaps) == 0 {
			return WithHint(usageErrorf("review %s has no snapshot", review), "run 'uar snapshot --review "+review+"' first")
		}
		ids := make([]int64, len(snaps))
		for i, s := range snaps {
			ids[i] = s.ID
		}
		snap, err := rc.store.LoadSnapshot(ctx, ids)
		if err != nil {
			return err
		}
		res := score.Evaluate(pol, snap, rc.runAt)
		for _, n := range res.Notes {
			rc.ui.Warnf("policy: %s", n)
		}
		aiOut, aiErr := runAIPass(ctx, rc, o.ai, snap, res.Findings)

		all := append(append(append([]model.Finding{}, res.Findings...), res.Suppressed...), aiOut.findings...)
		systems := make([]store.SystemRisk, len(res.Systems))
		for i, s := range res.Systems {
			systems[i] = store.SystemRisk{System: s.System, Risk: s.Risk, High: s.High, Medium: s.Medium, Low: s.Low}
		}
		var scoringID int64
		err = rc.store.WithTx(ctx, func(tx *store.Tx) error {
			file, err := rc.ledger.RecordFile(ctx, tx, "score.policy", filepath.Base(policyPath), pol.Raw, int64(len(pol.SoDRules)))
			if err != nil {
				return err
			}
			evID, err := evidence.NextID(ctx, tx)
			if err != nil {
				return err
			}
			scoringID, err = tx.InsertScoring(ctx, store.ScoringHeader{Review: review, RunID: rc.run.ID, SnapshotIDs: ids,
				PolicyHash: pol.SHA256, AsOf: store.FormatTime(rc.runAt), AI: aiOut.ran}, all, systems, evID)
			if err != nil {
				return err
			}
			_, err = rc.ledger.Seal(ctx, tx, "score", []evidence.Scope{{Table: "scorings", Scope: scoringID}, {Table: "findings", Scope: scoringID}, {Table: "system_risks", Scope: scoringID}},
				map[string]any{"scoring_id": scoringID, "policy_file": filepath.Base(policyPath), "policy_blob": file.BlobHash,
					"policy_evidence_id": file.ID, "as_of": store.FormatTime(rc.runAt), "snapshot_ids": ids, "notes": res.Notes, "ai": aiOut.evidence})
			return err
		})
		if err != nil {
			return err
		}
		rc.ui.Infof("score %d of %s: %d findings (%d suppressed by exceptions)%s", scoringID, review, len(res.Findings), len(res.Suppressed), aiOut.summary)
		if err := printFindings(rc, scoringID, res, aiOut); err != nil {
			return err
		}
		if failOn != "" {
			n := 0
			for _, f := range res.Findings {
				if f.Risk.Rank() >= failOn.Rank() {
					n++
				}
			}
			if n > 0 {
				gateErr = &PolicyGateError{Msg: fmt.Sprintf("score: %d findings at or above %s (--fail-on)", n, failOn)}
			}
		}
		return aiErr
	})
	if err != nil {
		return err
	}
	return gateErr
}

type aiOutcome struct {
	ran      bool
	findings []model.Finding
	result   *ai.Result
	evidence map[string]any
	summary  string
	note     string
}

// runAIPass runs the optional LLM pass. Its failure never loses the rule
// findings: they are written either way. It is an error (exit 1, or 4 for
// a refused key) only when --ai was asked for explicitly.
func runAIPass(ctx context.Context, rc *runCtx, explicit bool, snap *model.Snapshot, ruleFindings []model.Finding) (aiOutcome, error) {
	out := aiOutcome{findings: []model.Finding{}, evidence: map[string]any{"ran": false}}
	if !explicit && !rc.cfg.AI.Enabled {
		return out, nil
	}
	cfg := ai.Config{Model: rc.cfg.AI.Model, BaseURL: rc.cfg.AI.BaseURL, APIKey: secret(rc.env, EnvAnthropicKey, "ANTHROPIC_API_KEY"), Pseudonymize: rc.cfg.AI.Pseudonymize}
	if ok, why := cfg.Ready(); !ok {
		out.note = why
		out.evidence["skipped"] = why
		rc.ui.Warnf("%s", why)
		return out, nil
	}
	res, err := ai.Review(ctx, cfg, rc.httpClient("anthropic", 0), snap, ruleFindings)
	out.ran = true
	if res != nil {
		out.result = res
		out.findings = res.Findings
		out.evidence = map[string]any{"ran": true, "model": cfg.Model, "pseudonymized": cfg.Pseudonymize, "calls": res.Calls,
			"disagreements": res.Disagreements, "pseudonyms": res.Pseudonyms}
		out.summary = fmt.Sprintf("; AI: %d advisory findings, %d disagreements with the rules", len(res.Findings), len(res.Disagreements))
		for _, c := range res.Failed() {
			rc.ui.Warnf("AI review of %s failed: %s", c.System, c.Err)
		}
		for _, d := range res.Disagreements {
			rc.ui.Infof("AI %s: %s %s: %s", strings.ReplaceAll(d.Kind, "_", " "), d.System, d.UserLogin, d.Rationale)
		}
	}
	if err == nil && res != nil && len(res.Failed()) > 0 {
		err = fmt.Errorf("ai: %d of %d systems could not be reviewed", len(res.Failed()), len(res.Calls))
	}
	if err != nil {
		out.evidence["error"] = scrubSecrets(rc.env, err.Error())
		if !explicit {
			rc.ui.Warnf("AI pass failed (rule findings are kept): %v", err)
			return out, nil
		}
		return out, fmt.Errorf("AI pass failed (rule findings were recorded): %w", err)
	}
	return out, nil
}

func printFindings(rc *runCtx, scoringID int64, res score.Result, aiOut aiOutcome) error {
	if rc.g.json {
		doc := map[string]any{"review": rc.review, "scoring_id": scoringID, "findings": res.Findings, "suppressed": res.Suppressed,
			"systems": res.Systems, "notes": res.Notes, "ai_findings": aiOut.findings}
		if aiOut.result != nil {
			doc["ai_disagreements"] = aiOut.result.Disagreements
		}
		if aiOut.note != "" {
			doc["ai_note"] = aiOut.note
		}
		return writeJSON(rc.env.Stdout, doc)
	}
	var rows [][]string
	for _, list := range [][]model.Finding{res.Findings, aiOut.findings} {
		for _, f := range list {
			rows = append(rows, []string{string(f.Risk), f.System, f.UserLogin, f.RuleID, strings.Join(f.Groups, ","), f.Source, f.Detail})
		}
	}
	return writeTable(rc.env.Stdout, rc.env.StdoutTTY, []string{"RISK", "SYSTEM", "USER", "RULE", "GROUPS", "SOURCE", "DETAIL"}, rows)
}

// rederiveScorings re-runs every rule scoring pass with its recorded
// policy over its recorded snapshots and compares the findings.
func rederiveScorings(env *Env) evidence.Rederiver {
	return evidence.Rederiver{Name: "scorings", Run: func(ctx context.Context, s *store.Store) ([]evidence.Problem, error) {
		ids, err := s.Scorings(ctx)
		if err != nil {
			return nil, err
		}
		var problems []evidence.Problem
		for _, id := range ids {
			sc, err := s.ScoringByID(ctx, id)
			if err != nil {
				return nil, err
			}
			seal, params, err := sealOf(ctx, s, sc.EvidenceID)
			if err != nil {
				return nil, err
			}
			bad := func(what string) {
				problems = append(problems, evidence.Problem{Seq: seal.Seq, Table: "findings", What: fmt.Sprintf("scoring %d: %s", id, what)})
			}
			blob, _ := params["policy_blob"].(string)
			file, _ := params["policy_file"].(string)
			raw, err := blobBytes(ctx, s, blob)
			if err != nil {
				bad("recorded policy unreadable: " + err.Error())
				continue
			}
			pol, err := score.ParsePolicy(file, raw)
			if err != nil {
				bad("recorded policy does not parse: " + err.Error())
				continue
			}
			asOf, err := time.Parse(time.RFC3339, sc.AsOf)
			if err != nil {
				bad("as_of: " + err.Error())
				continue
			}
			snap, err := s.LoadSnapshot(ctx, sc.SnapshotIDs)
			if errors.Is(err, store.ErrNotFound) {
				bad("its snapshots are missing")
				continue
			} else if err != nil {
				return nil, err
			}
			res := score.Evaluate(pol, snap, asOf)
			want := append(append([]model.Finding{}, res.Findings...), res.Suppressed...)
			var got []model.Finding
			for _, f := range sc.Findings {
				if f.Source == model.FindingSourceRule {
					got = append(got, f)
				}
			}
			if len(got) != len(want) {
				bad(fmt.Sprintf("%d rule findings stored, %d re-derived", len(got), len(want)))
				continue
			}
			for i := range got {
				if !sameFinding(got[i], want[i]) {
					bad(fmt.Sprintf("finding %d (%s, %s) differs from the re-derived one", i+1, got[i].RuleID, got[i].UserLogin))
				}
			}
		}
		return problems, nil
	}}
}

func sameFinding(a, b model.Finding) bool {
	if len(a.Groups) == 0 && len(b.Groups) == 0 {
		a.Groups, b.Groups = nil, nil
	}
	return reflect.DeepEqual(a, b)
}
