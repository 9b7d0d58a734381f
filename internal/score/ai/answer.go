package ai

// This file reads what comes back: the forced tool's input, validated
// strictly against the system's access list before anything is kept.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/uar-dev/uar/internal/model"
)

type answer struct {
	Findings  *[]json.RawMessage `json:"findings"`
	Dismissed *[]json.RawMessage `json:"dismissed"`
}

type answerFinding struct {
	User           *string   `json:"user"`
	Groups         *[]string `json:"groups"`
	Risk           *string   `json:"risk"`
	Title          *string   `json:"title"`
	Rationale      *string   `json:"rationale"`
	Recommendation *string   `json:"recommendation"`
}

type answerDismissed struct {
	User      *string `json:"user"`
	RuleID    *string `json:"rule_id"`
	Rationale *string `json:"rationale"`
}

// strictDecode decodes exactly one JSON value with no unknown fields.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// parseAnswer checks the stop reason and extracts the forced tool's input.
func parseAnswer(msg *anthropic.Message) (*answer, error) {
	switch msg.StopReason {
	case anthropic.StopReasonToolUse:
	case anthropic.StopReasonRefusal:
		return nil, errors.New("the model refused to answer (stop_reason refusal); no AI findings for this system")
	case anthropic.StopReasonMaxTokens:
		return nil, errors.New("the answer was cut off at max_tokens (raise ai max_tokens); no AI findings for this system")
	default:
		return nil, fmt.Errorf("the model did not call the %s tool (stop_reason %q)", ToolName, msg.StopReason)
	}
	var input json.RawMessage
	n := 0
	for _, b := range msg.Content {
		if b.Type == "tool_use" && b.Name == ToolName {
			input = b.Input
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("want exactly one %s tool call in the answer, got %d", ToolName, n)
	}
	if !json.Valid(input) {
		return nil, errors.New("the tool input is not valid JSON")
	}
	if t := bytes.TrimSpace(input); len(t) == 0 || t[0] != '{' {
		// The API hands back tool input the model could not form into an
		// object as a JSON string, e.g. truncated or malformed JSON.
		return nil, errors.New("the tool input is not a JSON object (the model produced malformed JSON)")
	}
	var ans answer
	if err := strictDecode(input, &ans); err != nil {
		return nil, fmt.Errorf("the tool input does not match the schema: %v", err)
	}
	if ans.Findings == nil || ans.Dismissed == nil {
		return nil, errors.New(`the tool input does not match the schema: "findings" and "dismissed" are required`)
	}
	return &ans, nil
}

// interpret validates the answer against the system's access list and maps
// tokens back to users. Any violation rejects the whole answer: a partly
// wrong answer is not trusted.
func interpret(ans *answer, ix *index, sc *scope, sys string, rows []accessRow, rules []sentRule) ([]model.Finding, []Disagreement, error) {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	userGroups := map[string]map[string]bool{} // user id -> groups held in this system
	groupExists := map[string]bool{}
	for _, r := range rows {
		if userGroups[r.user.ID] == nil {
			userGroups[r.user.ID] = map[string]bool{}
		}
		userGroups[r.user.ID][r.group.Name] = true
		groupExists[r.group.Name] = true
	}
	ruleFlagged := map[string][]string{} // user id -> rule ids sent
	for _, r := range rules {
		ruleFlagged[r.userID] = append(ruleFlagged[r.userID], r.ruleID)
	}

	type aiFinding struct {
		user model.User
		f    model.Finding
	}
	var found []aiFinding
	for i, raw := range *ans.Findings {
		var af answerFinding
		if err := strictDecode(raw, &af); err != nil {
			bad("findings[%d]: %v", i, err)
			continue
		}
		if af.User == nil || af.Groups == nil || af.Risk == nil || af.Title == nil || af.Rationale == nil || af.Recommendation == nil {
			bad("findings[%d]: user, groups, risk, title, rationale and recommendation are required", i)
			continue
		}
		u, ok := sc.resolve(*af.User)
		if !ok {
			bad("findings[%d]: user %q is not in the %s access list", i, clip(*af.User), sys)
			continue
		}
		risk := model.Risk(*af.Risk)
		if risk != model.RiskHigh && risk != model.RiskMedium && risk != model.RiskLow {
			bad("findings[%d]: risk %q: want HIGH, MEDIUM or LOW", i, clip(*af.Risk))
		}
		if strings.TrimSpace(*af.Rationale) == "" {
			bad("findings[%d]: rationale is empty", i)
		}
		if len(*af.Groups) == 0 {
			bad("findings[%d]: groups is empty", i)
		}
		groups := slices.Clone(*af.Groups)
		slices.Sort(groups)
		groups = slices.Compact(groups)
		for _, g := range groups {
			switch {
			case !groupExists[g]:
				bad("findings[%d]: group %q is not a group of %s", i, clip(g), sys)
			case !userGroups[u.ID][g]:
				bad("findings[%d]: %s is not a member of %s", i, *af.User, g)
			}
		}
		title := strings.TrimSpace(sc.unscrub(*af.Title))
		if title == "" {
			title = "AI review"
		}
		found = append(found, aiFinding{user: u, f: model.Finding{
			Risk:           risk,
			System:         sys,
			UserID:         u.ID,
			UserLogin:      u.Login,
			Groups:         groups,
			Title:          title,
			Detail:         strings.TrimSpace(sc.unscrub(*af.Rationale)),
			Recommendation: strings.TrimSpace(sc.unscrub(*af.Recommendation)),
			Source:         model.FindingSourceAI,
		}})
	}
	type dismissal struct {
		user      model.User
		ruleID    string
		rationale string
	}
	var dismissed []dismissal
	for i, raw := range *ans.Dismissed {
		var ad answerDismissed
		if err := strictDecode(raw, &ad); err != nil {
			bad("dismissed[%d]: %v", i, err)
			continue
		}
		if ad.User == nil || ad.RuleID == nil || ad.Rationale == nil {
			bad("dismissed[%d]: user, rule_id and rationale are required", i)
			continue
		}
		u, ok := sc.resolve(*ad.User)
		if !ok {
			bad("dismissed[%d]: user %q is not in the %s access list", i, clip(*ad.User), sys)
			continue
		}
		if !slices.Contains(ruleFlagged[u.ID], *ad.RuleID) {
			bad("dismissed[%d]: no rule finding %q for %s", i, clip(*ad.RuleID), *ad.User)
		}
		if strings.TrimSpace(*ad.Rationale) == "" {
			bad("dismissed[%d]: rationale is empty", i)
		}
		dismissed = append(dismissed, dismissal{user: u, ruleID: *ad.RuleID, rationale: strings.TrimSpace(sc.unscrub(*ad.Rationale))})
	}
	if len(problems) > 0 {
		const maxShown = 5
		more := ""
		if len(problems) > maxShown {
			more = fmt.Sprintf("; and %d more", len(problems)-maxShown)
			problems = problems[:maxShown]
		}
		return nil, nil, fmt.Errorf("the answer does not match the %s access list: %s%s", sys, strings.Join(problems, "; "), more)
	}

	slices.SortStableFunc(found, func(a, b aiFinding) int {
		if c := b.f.Risk.Rank() - a.f.Risk.Rank(); c != 0 {
			return c
		}
		if c := strings.Compare(a.f.UserLogin, b.f.UserLogin); c != 0 {
			return c
		}
		return slices.Compare(a.f.Groups, b.f.Groups)
	})
	prefix := "AI-" + strings.Join(strings.Fields(sys), "-") + "-"
	var findings []model.Finding
	var dis []Disagreement
	for i, a := range found {
		a.f.RuleID = prefix + strconv.Itoa(i+1)
		findings = append(findings, a.f)
		if len(ruleFlagged[a.user.ID]) == 0 {
			dis = append(dis, Disagreement{
				System: sys, UserID: a.user.ID, UserLogin: a.user.Login, Kind: AIOnly,
				RuleIDs: []string{}, AIRisk: a.f.Risk, Rationale: a.f.Detail,
			})
		}
	}
	// One rule_only disagreement per user, listing every disputed rule.
	byUser := map[string]*Disagreement{}
	var order []string
	for _, d := range dismissed {
		x := byUser[d.user.ID]
		if x == nil {
			x = &Disagreement{System: sys, UserID: d.user.ID, UserLogin: d.user.Login, Kind: RuleOnly, RuleIDs: []string{}}
			byUser[d.user.ID] = x
			order = append(order, d.user.ID)
		}
		if !slices.Contains(x.RuleIDs, d.ruleID) {
			x.RuleIDs = append(x.RuleIDs, d.ruleID)
		}
		if x.Rationale == "" {
			x.Rationale = d.rationale
		} else if !strings.Contains(x.Rationale, d.rationale) {
			x.Rationale += " " + d.rationale
		}
	}
	for _, id := range order {
		slices.Sort(byUser[id].RuleIDs)
		dis = append(dis, *byUser[id])
	}
	return findings, dis, nil
}

// clip shortens model-provided text echoed in an error.
func clip(s string) string {
	const n = 80
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
