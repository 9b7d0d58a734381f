package templates

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/uar-dev/uar/internal/model"
)

// adfNode is one node of an Atlassian Document Format document. Built from
// structs and encoding/json so that user text can only ever become the
// escaped "text" of a text node.
type adfNode struct {
	Type    string         `json:"type"`
	Version int            `json:"version,omitempty"`
	Attrs   map[string]any `json:"attrs,omitempty"`
	Content []adfNode      `json:"content,omitempty"`
	Text    string         `json:"text,omitempty"`
	Marks   []adfMark      `json:"marks,omitempty"`
}

type adfMark struct {
	Type  string         `json:"type"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// adfText returns a text node, or nothing for an empty string: ADF rejects
// empty text nodes.
func adfText(s string, marks ...adfMark) []adfNode {
	s = XMLText(s)
	if s == "" {
		return nil
	}
	return []adfNode{{Type: "text", Text: s, Marks: marks}}
}

func adfStrong(s string) []adfNode { return adfText(s, adfMark{Type: "strong"}) }

// adfLink is a linked text node, or plain text when href is not a safe
// http(s) URL.
func adfLink(label, href string) []adfNode {
	if u := webURL(href); u != "" {
		return adfText(label, adfMark{Type: "link", Attrs: map[string]any{"href": u}})
	}
	return adfText(label)
}

// adfPara joins inline nodes into a paragraph; a paragraph with no
// content is dropped by the caller through adfBlocks.
func adfPara(inline ...[]adfNode) adfNode {
	var c []adfNode
	for _, in := range inline {
		c = append(c, in...)
	}
	return adfNode{Type: "paragraph", Content: c}
}

func adfHeading(level int, s string) adfNode {
	return adfNode{Type: "heading", Attrs: map[string]any{"level": level}, Content: adfText(s)}
}

func adfBullets(items []adfNode) adfNode {
	list := adfNode{Type: "bulletList"}
	for _, p := range items {
		list.Content = append(list.Content, adfNode{Type: "listItem", Content: []adfNode{p}})
	}
	return list
}

// adfBlocks drops block nodes that ended up without content (a paragraph
// whose only text was empty), keeping the document valid.
func adfBlocks(nodes ...adfNode) []adfNode {
	out := nodes[:0:0]
	for _, n := range nodes {
		if len(n.Content) == 0 {
			continue
		}
		out = append(out, n)
	}
	return out
}

// JiraMaxFindings bounds the findings listed in a description: Jira
// refuses a description over 32,767 characters, so a system with more
// findings lists the first ones (highest risk first, as the view sorts
// them) and points to the Confluence page for the rest. Each detail is cut
// at jiraMaxDetail characters for the same reason.
const (
	JiraMaxFindings = 50
	jiraMaxDetail   = 400
)

// JiraMaxDescriptionBytes is the budget of a rendered description (compact
// ADF JSON, whose length in bytes bounds its length in characters): Jira
// refuses more than 32,767 characters. The access list is cut to fit
// (privileged groups come first) and ends with how many accesses are only
// on the Confluence page; a group's description is cut at jiraMaxAllows
// characters.
// The findings list gets at most jiraFindingsBytes of it and the groups
// list jiraGroupsBytes (privileged groups first), so that the access list
// always has room.
const (
	JiraMaxDescriptionBytes = 30000
	jiraFindingsBytes       = 18000
	jiraGroupsBytes         = 4000
	jiraMaxAllows           = 300
)

// DecisionExamples returns the instruction lines shown to reviewers, one
// per line, as the decision parser accepts them (DESIGN §8). group is a
// group of the ticket's system, so the "from" example is one the owner can
// adapt; "" uses SOX-NetSuite-Admins.
func DecisionExamples(group string) []string {
	if group == "" {
		group = "SOX-NetSuite-Admins"
	}
	return []string{
		"REVOKE: user@company.com",
		"REVOKE: user@company.com from " + group,
		"CERTIFY: all",
		"CERTIFY: a@company.com, b@company.com",
	}
}

// firstGroup is the alphabetically first group with members in s.
func firstGroup(s model.SystemReview) string {
	g := ""
	for _, a := range s.Access {
		if a.GroupName != "" && (g == "" || a.GroupName < g) {
			g = a.GroupName
		}
	}
	return g
}

// JiraDescription renders the description of system s's ticket as an ADF
// document: the risk summary first (access count, findings by risk, the
// highest risk), the findings as bullet sentences, the decision syntax
// with examples and who may decide, the deadline (UTC date) and the links
// to the Confluence review page (v.PageURL: audit metadata, ledger head,
// revocation records) and, when the access table is on a child page, to
// that page too (s.PageURL). The result is compact JSON of the form
// {"type":"doc","version":1,"content":[...]}.
func JiraDescription(v model.ReviewView, s model.SystemReview) (json.RawMessage, error) {
	name := s.System.Name
	c := countRisks(s.Findings)
	high := highestRisk(s)
	highest := "none"
	if high != "" {
		highest = string(high)
	}

	var blocks []adfNode
	blocks = append(blocks,
		adfHeading(2, "Risk summary"),
		adfPara(adfText(fmt.Sprintf("UAR %s: %d access(es) to review in ", v.Review, len(s.Access))), adfStrong(name), adfText(". Highest risk: "), adfStrong(highest), adfText(".")),
		adfBullets([]adfNode{
			adfPara(adfStrong("HIGH"), adfText(fmt.Sprintf(": %d finding(s)", c.High))),
			adfPara(adfStrong("MEDIUM"), adfText(fmt.Sprintf(": %d finding(s)", c.Medium))),
			adfPara(adfStrong("LOW"), adfText(fmt.Sprintf(": %d finding(s)", c.Low))),
		}),
		adfHeading(2, "Findings"),
	)
	if len(s.Findings) == 0 {
		blocks = append(blocks, adfPara(adfText("No findings.")))
	} else {
		var items []adfNode
		used := 0
		for _, f := range s.Findings[:min(len(s.Findings), JiraMaxFindings)] {
			item := adfPara(adfStrong(string(f.Risk)), adfText(" "+truncRunes(f.UserLogin, slackMaxName)+": "), adfText(truncRunes(f.Detail, jiraMaxDetail)))
			if f.Source == model.FindingSourceAI {
				item.Content = append(item.Content, adfText(" (AI, advisory)", adfMark{Type: "em"})...)
			}
			b, err := marshalJSON(adfNode{Type: "listItem", Content: []adfNode{item}})
			if err != nil {
				return nil, fmt.Errorf("templates: jira description %s: %w", name, err)
			}
			if used += len(b) + 1; used > jiraFindingsBytes {
				break
			}
			items = append(items, item)
		}
		blocks = append(blocks, adfBullets(items))
		if more := len(s.Findings) - len(items); more > 0 {
			blocks = append(blocks, adfPara(adfText(fmt.Sprintf("…and %d more finding(s): see the Confluence page.", more))))
		}
	}

	blocks = append(blocks, jiraGroups(s)...)
	accessAt := len(blocks) // the access list goes here once its budget is known
	blocks = append(blocks,
		adfHeading(2, "How to decide"),
		adfPara(adfText("Reply in a comment on this ticket, one instruction per line. Examples:")),
		adfNode{Type: "codeBlock", Attrs: map[string]any{"language": "text"}, Content: adfText(strings.Join(DecisionExamples(truncRunes(firstGroup(s), slackMaxName)), "\n"))},
		adfBullets([]adfNode{
			adfPara(adfText("REVOKE without "), adfText("from <group>", adfMark{Type: "code"}), adfText(" removes every membership of that user in "+name+".")),
			adfPara(adfText("A specific decision beats CERTIFY: all; among specific decisions for the same access the latest wins.")),
			adfPara(adfText("Nobody certifies their own access.")),
		}),
		adfPara(adfText("Only these people decide: the owner "), adfStrong(orNone(s.System.Owner)),
			delegatesText(s.System.Delegates),
			adfText(", and, for the owner's own access, the backup reviewer "), adfStrong(orNone(s.System.BackupReviewer)),
			adfText(". Lines from anyone else are recorded as rejected.")),
	)

	if !v.Deadline.IsZero() {
		blocks = append(blocks, adfHeading(2, "Deadline"),
			adfPara(adfText("Decide by "), adfStrong(utcDate(v.Deadline)), adfText(" (UTC).")))
	}

	// The review page carries the audit metadata, the ledger head and the
	// revocation records; a large access table has its own child page.
	mainLabel := "UAR " + v.Review + " review page"
	switch main, child := webURL(v.PageURL) != "", webURL(s.PageURL) != ""; {
	case main && child:
		blocks = append(blocks, adfPara(adfText("The full access list is on the Confluence page "), adfLink("UAR "+v.Review+" – "+name+" access", s.PageURL),
			adfText("; the audit metadata, the ledger head and the revocation records are on the "), adfLink(mainLabel, v.PageURL), adfText(".")))
	case main:
		blocks = append(blocks, adfPara(adfText("The full access list and the audit metadata are on the Confluence page: "), adfLink(mainLabel, v.PageURL), adfText(".")))
	case child:
		blocks = append(blocks, adfPara(adfText("The full access list is on the Confluence page: "), adfLink("UAR "+v.Review+" – "+name+" access", s.PageURL), adfText(".")))
	}
	blocks = append(blocks, adfPara(adfText(fmt.Sprintf("Run %s · ledger head %s · uar %s", v.RunID, v.LedgerHead, v.ToolVersion))))

	b, err := jiraWithAccess(v, s, blocks, accessAt)
	if err != nil {
		return nil, fmt.Errorf("templates: jira description %s: %w", name, err)
	}
	return json.RawMessage(b), nil
}

// jiraGroups lists the system's groups with their tier, member count and
// what they allow (the policy's roles:), privileged first.
func jiraGroups(s model.SystemReview) []adfNode {
	if len(s.Roles) == 0 {
		return nil
	}
	var items []adfNode
	used := 0
	for _, r := range s.Roles {
		about := fmt.Sprintf(" (%d member(s))", r.Members)
		if r.Tier != "" {
			about = fmt.Sprintf(" (%s, %d member(s))", r.Tier, r.Members)
		}
		item := adfPara(adfStrong(truncRunes(r.GroupName, slackMaxName)), adfText(about))
		if a := strings.TrimSpace(r.Allows); a != "" {
			item.Content = append(item.Content, adfText(": "+truncRunes(a, jiraMaxAllows))...)
		}
		b, err := marshalJSON(item)
		if err != nil { // text nodes of strings always encode
			break
		}
		if used += len(b) + len(`{"type":"listItem","content":[]},`); used > jiraGroupsBytes {
			break
		}
		items = append(items, item)
	}
	out := []adfNode{adfHeading(2, "Groups"), adfBullets(items)}
	if more := len(s.Roles) - len(items); more > 0 {
		out = append(out, adfPara(adfText(fmt.Sprintf("…and %d more group(s): see the Confluence page.", more))))
	}
	return out
}

// jiraAccessItem is one access of the ticket's list with its context:
// the user, the group (and its tier), the last sign-in, how common the
// group is in the user's department, the previous review's outcome and
// the membership source.
func jiraAccessItem(r model.AccessRow, prev string) adfNode {
	group := truncRunes(r.GroupName, slackMaxName)
	if r.Tier == model.TierPrivileged {
		group += " (privileged)"
	}
	last := "never"
	if !r.LastLogin.IsZero() {
		last = utcDate(r.LastLogin)
	}
	parts := []string{"last sign-in " + last}
	if p := PeersText(r); p != "" {
		parts = append(parts, truncRunes(p, slackMaxName))
	}
	if prev != "" && r.PrevDecision != "" {
		parts = append(parts, prev+": "+r.PrevDecision)
	}
	parts = append(parts, "source "+truncRunes(r.MembershipSource, slackMaxName))
	return adfPara(adfStrong(truncRunes(userOf(r), slackMaxName)), adfText(" in "+group+": "+strings.Join(parts, " · ")))
}

// jiraWithAccess inserts the access list at index at of blocks, with as
// many accesses as JiraMaxDescriptionBytes leaves room for, and returns
// the compact document.
func jiraWithAccess(v model.ReviewView, s model.SystemReview, blocks []adfNode, at int) ([]byte, error) {
	build := func(items []adfNode, more int) ([]byte, error) {
		section := []adfNode{adfHeading(2, "Access to review")}
		if len(items) > 0 {
			section = append(section, adfBullets(items))
		}
		if more > 0 {
			section = append(section, adfPara(adfText(fmt.Sprintf("…and %d more access(es): see the Confluence page.", more))))
		}
		all := append(append(append([]adfNode{}, blocks[:at]...), section...), blocks[at:]...)
		return marshalJSON(adfNode{Type: "doc", Version: 1, Content: adfBlocks(all...)})
	}
	// The document without any access, but with the longest "more" line,
	// is the fixed cost; each item then costs its own encoding and a comma.
	base, err := build(nil, len(s.Access))
	if err != nil {
		return nil, err
	}
	const listOverhead = len(`,{"type":"bulletList","content":[]}`)
	used := len(base) + listOverhead
	var items []adfNode
	for _, r := range s.Access {
		item := adfNode{Type: "listItem", Content: []adfNode{jiraAccessItem(r, v.PreviousReview)}}
		b, err := marshalJSON(item)
		if err != nil {
			return nil, err
		}
		if used+len(b)+1 > JiraMaxDescriptionBytes {
			break
		}
		used += len(b) + 1
		items = append(items, item.Content[0])
	}
	return build(items, len(s.Access)-len(items))
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(none configured)"
	}
	return s
}

func delegatesText(ds []string) []adfNode {
	var keep []string
	for _, d := range ds {
		if strings.TrimSpace(d) != "" {
			keep = append(keep, d)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	label := ", the delegate "
	if len(keep) > 1 {
		label = ", the delegates "
	}
	return append(adfText(label), adfStrong(strings.Join(keep, ", "))...)
}
