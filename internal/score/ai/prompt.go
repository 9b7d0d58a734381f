package ai

// This file builds what is sent: the auditor briefing, the forced tool's
// schema and the per-system access document.

import (
	"slices"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/uar-dev/uar/internal/model"
)

func systemPrompt(pseudo bool) string {
	var b strings.Builder
	b.WriteString(`You are assisting an external IT auditor with a SOX user access review (UAR).
The user message is a JSON document describing ONE SOX-relevant system: every access ("access": one row per user and group, with the user's department, title, user type, account status, last login, account creation date and how the membership was granted) and the findings of the company's deterministic policy rules ("rule_findings").

Your task: identify access that an auditor would question, for example
- segregation-of-duties conflicts (e.g. IT or engineering staff administering a finance system, one person holding both preparer and approver roles);
- privileged or administrative groups held by people whose title or department does not need them;
- contractors, temporary staff, suspended, deprovisioned or locked-out accounts holding access;
- dormant accounts (no login for a long time, or never logged in);
- anything else a SOX auditor would expect the system owner to justify.
Then say which rule findings you consider unwarranted, if any, and why.

Rules for your answer:
- Answer ONLY by calling the tool "` + ToolName + `" exactly once.
- Refer to users exactly as they appear in the "user" field and to groups exactly by their "group" names. Never invent users, groups or rule ids.
- Flag a user only for groups they hold in this system, and list those groups.
- risk is HIGH, MEDIUM or LOW. rationale is one or two sentences an auditor can read; recommendation says what the owner should do.
- Do not repeat a rule finding unless you assess its risk differently; "dismissed" lists rule findings you consider unwarranted, with the rule_id and user from "rule_findings".
- Your review is advisory: the system owner decides; nothing is revoked on your word.`)
	if pseudo {
		b.WriteString("\n- Users are pseudonymised (user-0001, ...): do not try to guess who they are.")
	}
	return b.String()
}

// toolSchema is the forced tool's input schema; it is strict
// (additionalProperties false, every property required) so the model
// cannot add or drop fields.
func toolSchema() anthropic.ToolInputSchemaParam {
	str := map[string]any{"type": "string"}
	finding := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"user":           str,
			"groups":         map[string]any{"type": "array", "items": str},
			"risk":           map[string]any{"type": "string", "enum": []string{"HIGH", "MEDIUM", "LOW"}},
			"title":          str,
			"rationale":      str,
			"recommendation": str,
		},
		"required":             []string{"user", "groups", "risk", "title", "rationale", "recommendation"},
		"additionalProperties": false,
	}
	dismissed := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"user":      str,
			"rule_id":   str,
			"rationale": str,
		},
		"required":             []string{"user", "rule_id", "rationale"},
		"additionalProperties": false,
	}
	return anthropic.ToolInputSchemaParam{
		Properties: map[string]any{
			"findings":  map[string]any{"type": "array", "items": finding},
			"dismissed": map[string]any{"type": "array", "items": dismissed},
		},
		Required:    []string{"findings", "dismissed"},
		ExtraFields: map[string]any{"additionalProperties": false},
	}
}

type promptDoc struct {
	System        string          `json:"system"`
	Review        string          `json:"review,omitempty"`
	AsOf          string          `json:"as_of,omitempty"`
	Pseudonymized bool            `json:"pseudonymized"`
	Access        []promptRow     `json:"access"`
	RuleFindings  []promptFinding `json:"rule_findings"`
}

type promptRow struct {
	User             string `json:"user"`
	Name             string `json:"name,omitempty"` // only without pseudonymisation
	Group            string `json:"group"`
	Role             string `json:"role,omitempty"`
	Department       string `json:"department"`
	Title            string `json:"title"`
	UserType         string `json:"user_type"`
	Status           string `json:"status"`
	LastLogin        string `json:"last_login"`
	AccountCreated   string `json:"account_created,omitempty"`
	MembershipSource string `json:"membership_source"`
}

type promptFinding struct {
	RuleID         string   `json:"rule_id"`
	Risk           string   `json:"risk"`
	User           string   `json:"user"`
	Groups         []string `json:"groups"`
	Title          string   `json:"title"`
	Detail         string   `json:"detail"`
	Recommendation string   `json:"recommendation,omitempty"`
}

// sentRule is a rule finding as sent, keyed for the answer's "dismissed".
type sentRule struct {
	ruleID string
	userID string
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

func buildPrompt(ix *index, sc *scope, sys string, rows []accessRow, ruleFindings []model.Finding) (promptDoc, []sentRule) {
	doc := promptDoc{
		System:        sys,
		Review:        ix.snap.Review,
		Pseudonymized: ix.pseudo,
		Access:        []promptRow{},
		RuleFindings:  []promptFinding{},
	}
	if !ix.snap.TakenAt.IsZero() {
		doc.AsOf = ix.snap.TakenAt.UTC().Format(time.RFC3339)
	}
	for _, r := range rows {
		pr := promptRow{
			User:  ix.ref(r.user),
			Group: r.group.Name,
			Role:  r.group.Role,
			// Titles and departments are free text too ("Assistant to
			// Dave Kim"): scrubbed like the rule findings.
			Department:       sc.scrub(r.user.Department),
			Title:            sc.scrub(r.user.Title),
			UserType:         r.user.UserType,
			Status:           r.user.Status,
			LastLogin:        day(r.user.LastLogin),
			AccountCreated:   day(r.user.Created),
			MembershipSource: r.source,
		}
		if pr.LastLogin == "" {
			pr.LastLogin = "never"
		}
		if !ix.pseudo {
			pr.Name = r.user.DisplayName()
		}
		doc.Access = append(doc.Access, pr)
	}
	var rules []sentRule
	for _, f := range ruleFindings {
		if f.System != sys || f.Suppressed != nil || f.Source == model.FindingSourceAI {
			continue
		}
		u, ok := sc.members[f.UserID]
		if !ok {
			continue
		}
		groups := append([]string{}, f.Groups...)
		slices.Sort(groups)
		doc.RuleFindings = append(doc.RuleFindings, promptFinding{
			RuleID:         f.RuleID,
			Risk:           string(f.Risk),
			User:           ix.ref(u),
			Groups:         groups,
			Title:          sc.scrub(f.Title),
			Detail:         sc.scrub(f.Detail),
			Recommendation: sc.scrub(f.Recommendation),
		})
		rules = append(rules, sentRule{ruleID: f.RuleID, userID: f.UserID})
	}
	slices.SortStableFunc(doc.RuleFindings, func(a, b promptFinding) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return strings.Compare(a.RuleID, b.RuleID)
	})
	return doc, rules
}
