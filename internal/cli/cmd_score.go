package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/review"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/score/ai"
)

type scoreOptions struct {
	review    string
	policy    string
	failOn    string
	ai        bool
	acceptGap string
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

A snapshot recorded with a completeness gap (see 'uar snapshot') is refused
unless --accept-gap "reason" is given; the acceptance is recorded with the
actor.

Output: findings by risk and system (a table, TSV when piped, or --json).

Examples:
  uar score
  uar score --review 2026-Q4 --fail-on high
  uar score --ai --json

EXIT STATUS
  0  ok
  1  failure; or the AI pass failed when --ai was given explicitly; or the
     population has a completeness gap not accepted
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
	cmd.Flags().StringVar(&o.acceptGap, "accept-gap", "", "score a population with completeness gaps, for this reason (recorded with the actor)")
	return cmd
}

func runScore(ctx context.Context, env *Env, g *globalOptions, o *scoreOptions) error {
	rev, err := resolveReview(env, o.review)
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
	spec := runSpec{command: "score", args: g.args, review: rev}
	var gateErr error
	err = withRun(ctx, env, g, spec, func(ctx context.Context, rc *runCtx) error {
		res, err := review.Score(ctx, rc.step, review.ScoreInput{Policy: pol, PolicyFile: filepath.Base(policyPath), AI: aiPass(rc, o.ai), AcceptGap: o.acceptGap})
		if err != nil {
			return err
		}
		if err := printFindings(rc, res); err != nil {
			return err
		}
		if failOn != "" {
			if n := res.GateCount(failOn); n > 0 {
				gateErr = &PolicyGateError{Msg: fmt.Sprintf("score: %d findings at or above %s (--fail-on)", n, failOn)}
			}
		}
		return res.AIErr
	})
	if err != nil {
		return err
	}
	return gateErr
}

// aiPass binds the optional LLM pass to its settings, key and recorded
// client. It is an error (exit 1, or 4 for a refused key) only when --ai
// was asked for explicitly.
func aiPass(rc *runCtx, explicit bool) review.AIPass {
	cfg := rc.cfg.AI.Config(secret(rc.env, EnvAnthropicKey, "ANTHROPIC_API_KEY"))
	p := review.AIPass{Wanted: explicit || rc.cfg.AI.Enabled, Explicit: explicit, Model: cfg.Model, Pseudo: cfg.Pseudonymize}
	if ok, why := cfg.Ready(); !ok {
		p.Skip = why
		return p
	}
	p.Review = func(ctx context.Context, snap *model.Snapshot, rules []model.Finding) (*ai.Result, error) {
		return ai.Review(ctx, cfg, rc.httpClient("anthropic", 0), snap, rules)
	}
	return p
}

func printFindings(rc *runCtx, res *review.ScoreResult) error {
	r := res.Rules
	if rc.g.json {
		doc := map[string]any{"review": rc.step.Review, "scoring_id": res.ScoringID, "findings": r.Findings, "suppressed": r.Suppressed,
			"systems": r.Systems, "notes": r.Notes, "ai_findings": res.AIFindings}
		if res.AI != nil {
			doc["ai_disagreements"] = res.AI.Disagreements
		}
		if res.AINote != "" {
			doc["ai_note"] = res.AINote
		}
		return writeJSON(rc.env.Stdout, doc)
	}
	var rows [][]string
	for _, list := range [][]model.Finding{r.Findings, res.AIFindings} {
		for _, f := range list {
			rows = append(rows, []string{string(f.Risk), f.System, f.UserLogin, f.RuleID, strings.Join(f.Groups, ","), f.Source, f.Detail})
		}
	}
	return writeTable(rc.env.Stdout, rc.env.StdoutTTY, []string{"RISK", "SYSTEM", "USER", "RULE", "GROUPS", "SOURCE", "DETAIL"}, rows)
}
