package templates

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/uar-dev/uar/internal/model"
)

// Slack Block Kit limits the summary stays within (reference §3.1): at most
// 50 blocks per message, 3000 characters of section text, 150 characters
// of header text. A review can have hundreds of systems, so the summary
// lists one line per system in at most SlackMaxSystemSections sections
// (HIGH systems first, then by risk and name); the systems that do not fit
// are summarised in one line (count, accesses, how many have HIGH
// findings) with the link to the Confluence page, which always has them
// all. With ~100-character lines that is about 500 systems listed before
// the summarising line appears.
const (
	SlackMaxBlocks         = 50
	SlackMaxSectionText    = 3000
	SlackMaxHeaderText     = 150
	SlackMaxSystemSections = 20
	// slackMaxName bounds each user-provided name in a line, so that one
	// absurd name cannot blow a section.
	slackMaxName = 120
)

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

// SlackEscape escapes the three characters Slack mrkdwn treats as control
// characters (& < >) and replaces characters that are not valid text.
func SlackEscape(s string) string {
	s = XMLText(s)
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackLink is <url|label> with an escaped label, or the escaped label
// alone when url is not a safe http(s) URL.
func slackLink(rawURL, label string) string {
	label = SlackEscape(label)
	u := webURL(rawURL)
	if u == "" || len(u) > 1000 {
		return label
	}
	return "<" + strings.ReplaceAll(u, "&", "&amp;") + "|" + label + ">"
}

// truncRunes cuts s to at most n runes, marking the cut with "…".
func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// truncEscaped cuts already-escaped mrkdwn to at most n runes without
// leaving half an entity (&amp; &lt; &gt;) at the end.
func truncEscaped(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	if i := strings.LastIndexByte(string(r), '&'); i >= 0 && !strings.Contains(string(r)[i:], ";") {
		return string(r)[:i] + "…"
	}
	return string(r) + "…"
}

func slackMarker(r model.Risk) string {
	switch r {
	case model.RiskHigh:
		return ":red_circle:"
	case model.RiskMedium:
		return ":large_yellow_circle:"
	case model.RiskLow:
		return ":white_circle:"
	}
	return ":large_green_circle:"
}

func slackSystemLine(s model.SystemReview) string {
	name := truncRunes(s.System.Name, slackMaxName)
	var b strings.Builder
	b.WriteString(slackMarker(highestRisk(s)))
	b.WriteString(" ")
	if s.JiraKey != "" {
		b.WriteString("*" + slackLink(s.JiraURL, truncRunes(s.JiraKey, 40)) + "* ")
	}
	b.WriteString(SlackEscape(name))
	fmt.Fprintf(&b, " · %d access(es)", len(s.Access))
	c := countRisks(s.Findings)
	var parts []string
	if c.High > 0 {
		parts = append(parts, fmt.Sprintf("%d HIGH", c.High))
	}
	if c.Medium > 0 {
		parts = append(parts, fmt.Sprintf("%d MEDIUM", c.Medium))
	}
	if c.Low > 0 {
		parts = append(parts, fmt.Sprintf("%d LOW", c.Low))
	}
	if len(parts) == 0 {
		b.WriteString(" · no findings")
	} else {
		b.WriteString(" · findings: " + strings.Join(parts, ", "))
	}
	return b.String()
}

func mrkdwnSection(text string) slackBlock {
	return slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: text}}
}

// SlackSummary renders the review's Slack summary as a Block Kit blocks
// array (JSON) and the fallback text Slack shows in notifications: a
// header, a summary section with counts, the deadline and the Confluence
// link, one line per system with a link to its ticket (HIGH systems first,
// marked :red_circle:), the empty systems, and a context block with the
// run id and ledger head. See the Slack* constants for how it stays within
// Block Kit limits.
func SlackSummary(v model.ReviewView) (blocks json.RawMessage, fallback string, err error) {
	systems := slices.Clone(v.Systems)
	slices.SortStableFunc(systems, func(a, b model.SystemReview) int {
		return highestRisk(b).Rank() - highestRisk(a).Rank()
	})
	access, highs := 0, []string(nil)
	for _, s := range systems {
		access += len(s.Access)
		if highestRisk(s) == model.RiskHigh {
			highs = append(highs, s.System.Name)
		}
	}

	var out []slackBlock
	out = append(out, slackBlock{Type: "header", Text: &slackText{Type: "plain_text",
		Text: truncEscaped(SlackEscape("UAR "+truncRunes(v.Review, slackMaxName)+" access review"), SlackMaxHeaderText), Emoji: true}})

	var sum strings.Builder
	fmt.Fprintf(&sum, "*%d* system(s) to review, *%d* access(es), *%d* with HIGH findings.", len(systems), access, len(highs))
	if !v.Deadline.IsZero() {
		fmt.Fprintf(&sum, "\nOwners decide in each system's Jira ticket by *%s* (UTC).", utcDate(v.Deadline))
	} else {
		sum.WriteString("\nOwners decide in each system's Jira ticket.")
	}
	if webURL(v.PageURL) != "" {
		sum.WriteString("\nReview page: " + slackLink(v.PageURL, "UAR "+truncRunes(v.Review, slackMaxName)+" on Confluence"))
	}
	out = append(out, mrkdwnSection(sum.String()), slackBlock{Type: "divider"})

	// Pack one line per system into sections of at most
	// SlackMaxSectionText characters, HIGH systems under their own title.
	var sections []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			sections = append(sections, cur.String())
			cur.Reset()
		}
	}
	listed := 0
	add := func(line string) bool {
		if utf8.RuneCountInString(cur.String())+1+utf8.RuneCountInString(line) > SlackMaxSectionText {
			flush()
		}
		if len(sections) >= SlackMaxSystemSections {
			return false
		}
		if cur.Len() > 0 {
			cur.WriteString("\n")
		}
		cur.WriteString(line)
		return true
	}
	titled := false
	for i, s := range systems {
		if !titled && highestRisk(s) != model.RiskHigh {
			titled = true
			flush()
			if i > 0 && !add("*Other systems*") {
				break
			}
		}
		if i == 0 && highestRisk(s) == model.RiskHigh && !add("*Needs attention: HIGH findings*") {
			break
		}
		if !add(slackSystemLine(s)) {
			break
		}
		listed++
	}
	flush()
	if len(sections) > SlackMaxSystemSections {
		sections = sections[:SlackMaxSystemSections]
	}
	for _, t := range sections {
		out = append(out, mrkdwnSection(t))
	}
	if rest := systems[listed:]; len(rest) > 0 {
		restAccess, restHigh := 0, 0
		for _, s := range rest {
			restAccess += len(s.Access)
			if highestRisk(s) == model.RiskHigh {
				restHigh++
			}
		}
		line := fmt.Sprintf("…and %d more system(s) (%d access(es), %d with HIGH findings)", len(rest), restAccess, restHigh)
		if webURL(v.PageURL) != "" {
			line += ": see the " + slackLink(v.PageURL, "Confluence page")
		}
		out = append(out, mrkdwnSection(line+"."))
	}

	if len(v.Empty) > 0 {
		var names []string
		for _, e := range v.Empty {
			names = append(names, SlackEscape(truncRunes(e, slackMaxName)))
		}
		text := "No members in the snapshot, nothing to review: " + strings.Join(names, ", ")
		out = append(out, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: truncEscaped(text, 2000)}}})
	}
	ctx := fmt.Sprintf("Run %s · ledger head %s · uar %s · %s",
		SlackEscape(truncRunes(v.RunID, slackMaxName)), SlackEscape(truncRunes(v.LedgerHead, 200)),
		SlackEscape(truncRunes(v.ToolVersion, 60)), utcTime(v.RunAt))
	out = append(out, slackBlock{Type: "divider"}, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: ctx}}})

	if len(out) > SlackMaxBlocks {
		return nil, "", fmt.Errorf("templates: slack summary: %d blocks, limit %d", len(out), SlackMaxBlocks)
	}
	b, err := marshalJSON(out)
	if err != nil {
		return nil, "", fmt.Errorf("templates: slack summary: %w", err)
	}
	return json.RawMessage(b), slackFallback(v, len(systems), highs), nil
}

// slackFallback is the notification text: plain, escaped, short.
func slackFallback(v model.ReviewView, systems int, highs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "UAR %s access review: %d system(s) to review", truncRunes(v.Review, slackMaxName), systems)
	if len(highs) > 0 {
		shown := highs
		if len(shown) > 10 {
			shown = shown[:10]
		}
		names := make([]string, len(shown))
		for i, h := range shown {
			names[i] = truncRunes(h, slackMaxName)
		}
		list := strings.Join(names, ", ")
		if len(highs) > len(shown) {
			list += fmt.Sprintf(" and %d more", len(highs)-len(shown))
		}
		fmt.Fprintf(&b, ", %d with HIGH findings (%s)", len(highs), list)
	}
	b.WriteString(".")
	if !v.Deadline.IsZero() {
		fmt.Fprintf(&b, " Decide in Jira by %s.", utcDate(v.Deadline))
	}
	if u := webURL(v.PageURL); u != "" {
		b.WriteString(" Review page: " + u)
	}
	return SlackEscape(b.String())
}
