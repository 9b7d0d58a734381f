package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	all       bool
	acceptGap string
}

const scoreLong = `Run the policy rules over the review's current snapshot: segregation-of-duties
rules, contractors, dormant and inactive accounts, administrators in more than
one system, orphaned app accounts and, with the review's HR listing (snapshot
--import FILE --kind hr), leavers who still hold access or signed in after
leaving, members with no HR record, and movers who kept their access; without
a listing those checks are skipped with a note. Exceptions in the policy suppress matching
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

Output: on a terminal, a summary per system (findings by risk and the top
ones, cut to the width); every finding with --all, when piped (TSV) or with
--json.

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
	cmd.Flags().BoolVar(&o.all, "all", false, "list every finding on a terminal too (piped or --json output always has them all)")
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
	data, err := os.ReadFile(env.path(policyPath))
	if err != nil {
		if cfg.File == "" && o.policy == "" {
			return WithHint(usageErrorf("no uar.yaml in this folder (and no %s)", policyPath),
				"run 'uar init' to write both (or 'uar demo' to see a whole review offline), or pass --config and --policy")
		}
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
		if err := printFindings(rc, res, o.all); err != nil {
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

func printFindings(rc *runCtx, res *review.ScoreResult, all bool) error {
	r := res.Rules
	if rc.g.json {
		doc := map[string]any{"review": rc.step.Review, "scoring_id": res.ScoringID, "findings": r.Findings, "suppressed": r.Suppressed,
			"systems": r.Systems, "notes": r.Notes, "skipped": r.Skipped, "ai_findings": res.AIFindings}
		if r.HR.Members > 0 {
			doc["hr"] = r.HR
		}
		if res.AI != nil {
			doc["ai_disagreements"] = res.AI.Disagreements
		}
		if res.AINote != "" {
			doc["ai_note"] = res.AINote
		}
		return writeJSON(rc.env.Stdout, doc)
	}
	if rc.env.StdoutTTY && !all {
		return printFindingSummary(rc, res)
	}
	var rows [][]string
	for _, list := range [][]model.Finding{r.Findings, res.AIFindings} {
		for _, f := range list {
			rows = append(rows, []string{string(f.Risk), f.System, f.UserLogin, f.RuleID, strings.Join(f.Groups, ","), f.Source, f.Detail})
		}
	}
	return writeTable(rc.env.Stdout, rc.env.StdoutTTY, []string{"RISK", "SYSTEM", "USER", "RULE", "GROUPS", "SOURCE", "DETAIL"}, rows)
}

// printFindingSummary is score's terminal output: per system the findings
// by risk and the three highest, each cut to the terminal's width.
func printFindingSummary(rc *runCtx, res *review.ScoreResult) error {
	type sys struct {
		high, medium, low int
		top               []model.Finding
	}
	by := map[string]*sys{}
	var names []string
	for _, f := range append(append([]model.Finding{}, res.Rules.Findings...), res.AIFindings...) {
		s := by[f.System]
		if s == nil {
			s = &sys{}
			by[f.System] = s
			names = append(names, f.System)
		}
		switch f.Risk {
		case model.RiskHigh:
			s.high++
		case model.RiskMedium:
			s.medium++
		default:
			s.low++
		}
		s.top = append(s.top, f)
	}
	slices.Sort(names)
	width := 100
	if rc.env.Width != nil {
		if w := rc.env.Width(); w > 40 {
			width = w
		}
	}
	w := rc.env.Stdout
	if len(names) == 0 {
		_, err := fmt.Fprintln(w, "no findings")
		return err
	}
	for _, n := range names {
		s := by[n]
		fmt.Fprintf(w, "%-20s %3d HIGH  %3d MEDIUM  %3d LOW\n", safeText(n), s.high, s.medium, s.low)
		slices.SortStableFunc(s.top, func(a, b model.Finding) int { return b.Risk.Rank() - a.Risk.Rank() })
		for _, f := range s.top[:min(3, len(s.top))] {
			line := fmt.Sprintf("  %-6s %s: %s", f.Risk, f.UserLogin, f.Detail)
			fmt.Fprintln(w, truncRunes(safeText(line), width))
		}
		if len(s.top) > 3 {
			fmt.Fprintf(w, "  ... and %d more\n", len(s.top)-3)
		}
	}
	_, err := fmt.Fprintln(w, "\nevery finding: uar score --all")
	return err
}

// truncRunes cuts s to n runes, marking the cut with an ellipsis.
func truncRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:max(0, n-1)]) + "…"
}
