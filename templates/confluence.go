package templates

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/uar-dev/uar/internal/model"
)

// Page-size guidance for the Confluence publisher. Confluence Cloud
// rejects a body over 5 MB (413). Measured with the golden fixture's rows
// (realistic names, titles and group names), one access-table row renders
// to about [AccessRowBytes] bytes of storage XHTML and one finding to about
// [FindingBytes]; hostile rows full of escaped characters can be several
// times that, and Confluence itself grows the body on save (ac:macro-id,
// local-id, <p> in cells).
//
// The split: a system with more than [MaxInlineAccessRows] accesses or
// [MaxInlineFindings] findings, or one that would take the review page past
// [MaxInlineAccessRowsTotal] inline rows or [MaxInlineFindingsTotal] inline
// findings, gets its findings and access table on child pages (the review
// page keeps its counts and a link); [SplitSystems] applies these rules for
// a view and [ChildParts] cuts a system into pages of at most
// [MaxAccessRowsPerPage] rows and [MaxFindingsPerPage] findings. At the
// measured sizes the review page stays under ~1.3 MB (4,000 rows and 1,000
// findings inline; each system's groups table adds a row per group, not per
// access) and every child page under ~0.9 MB, below 5 MB even if rows and
// findings are 4 times larger than measured.
const (
	// AccessRowBytes is the measured size of one rendered access row,
	// with its reviewer context (peers in the department, the previous
	// decision); TestAccessRowBytes keeps it honest.
	AccessRowBytes = 250
	// FindingBytes is the measured size of one rendered finding;
	// TestFindingBytes keeps it honest.
	FindingBytes = 250
	// MaxInlineAccessRows is the largest access table kept on the review
	// page itself.
	MaxInlineAccessRows = 500
	// MaxAccessRowsPerPage is the largest access table on one child page.
	MaxAccessRowsPerPage = 3000
	// MaxInlineAccessRowsTotal bounds the inline rows over all systems of
	// one review page; once reached, further systems go to child pages.
	MaxInlineAccessRowsTotal = 4000
	// MaxInlineFindings is the most findings a system lists on the review
	// page itself.
	MaxInlineFindings = 100
	// MaxInlineFindingsTotal bounds the findings listed on the review page
	// over all systems; once reached, further systems go to child pages.
	MaxInlineFindingsTotal = 1000
	// MaxFindingsPerPage is the most findings one child page lists.
	MaxFindingsPerPage = 500
)

// SplitSystems returns the names of the systems of v whose findings and
// access table go to child pages, in v.Systems order: every system with
// more than MaxInlineAccessRows accesses or MaxInlineFindings findings, and,
// once the review page's inline rows or findings would pass
// MaxInlineAccessRowsTotal or MaxInlineFindingsTotal, every further system
// with accesses. Cut each into pages with [ChildParts].
func SplitSystems(v model.ReviewView) []string {
	var out []string
	rows, findings := 0, 0
	for _, s := range v.Systems {
		n, f := len(s.Access), len(s.Findings)
		if n > MaxInlineAccessRows || f > MaxInlineFindings ||
			(n > 0 && (rows+n > MaxInlineAccessRowsTotal || findings+f > MaxInlineFindingsTotal)) {
			out = append(out, s.System.Name)
			continue
		}
		rows += n
		findings += f
	}
	return out
}

// ChildParts cuts system s into the parts its child pages show: part k
// holds the k-th run of at most MaxAccessRowsPerPage accesses and the k-th
// run of at most MaxFindingsPerPage findings (either may be empty), so
// there are as many parts as the longer of the two needs, and at least
// one.
func ChildParts(s model.SystemReview) []model.SystemReview {
	n := max(1, ceilDiv(len(s.Access), MaxAccessRowsPerPage), ceilDiv(len(s.Findings), MaxFindingsPerPage))
	parts := make([]model.SystemReview, n)
	for k := range parts {
		part := s
		part.Access = window(s.Access, k*MaxAccessRowsPerPage, MaxAccessRowsPerPage)
		part.Findings = window(s.Findings, k*MaxFindingsPerPage, MaxFindingsPerPage)
		parts[k] = part
	}
	return parts
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// window is xs[from:from+n] clipped to xs, with its capacity cut so an
// append to a part cannot write into the next.
func window[T any](xs []T, from, n int) []T {
	if from >= len(xs) {
		return nil
	}
	to := min(len(xs), from+n)
	return xs[from:to:to]
}

// PageTitle is the title of a review's Confluence page (DESIGN §10).
func PageTitle(review string) string { return "UAR " + review }

// AccessPageTitle is the title of the child page that holds a system's
// access table; part counts from 1 and is shown only when parts > 1.
// Titles are unique within a space, so the review and system are in it.
func AccessPageTitle(review, system string, part, parts int) string {
	t := "UAR " + review + " – " + system + " access"
	if parts > 1 {
		t += fmt.Sprintf(" (%d of %d)", part, parts)
	}
	return t
}

// Risk lozenge colours of the status macro (Grey/Red/Yellow/Green/Blue).
func riskLozenge(r model.Risk) (colour, title string) {
	switch r {
	case model.RiskHigh:
		return "Red", "HIGH"
	case model.RiskMedium:
		return "Yellow", "MEDIUM"
	case model.RiskLow:
		return "Grey", "LOW"
	}
	return "Green", "NO FINDINGS"
}

type cfRow struct {
	Group, User, Name, Department, Title, Type, Status, LastLogin, Source, Risk string
	Privileged                                                                  bool
	Peers, PrevDecision                                                         string
}

type cfRole struct {
	Group, Tier, Allows string
	Members             int
}

type cfFinding struct {
	Risk, RuleID, User, Groups, Detail string
	AI                                 bool
}

type cfSystem struct {
	Name, Owner, RiskColour, RiskTitle string
	JiraKey, JiraURL, ChildURL         string
	Child                              bool // access table on a child page
	AccessCount                        int
	Findings                           []cfFinding
	FindingCount                       int
	FindingsByRisk                     string // "2 HIGH, 5 MEDIUM" when the findings are on the child page
	Roles                              []cfRole
	Rows                               []cfRow
	Prev                               string // the previous review, heading its decision column
}

type cfPage struct {
	Review, RunID, RunAt, ToolVersion, LedgerHead, Deadline string
	SystemCount, AccessCount, HighCount                     int
	Systems                                                 []cfSystem
	Empty                                                   []string
	Revocations                                             []cfRevocationRun
}

type cfRevocationRun struct {
	RunID, At, LedgerHead string
	Items                 []cfRevocationItem
}

type cfRevocationItem struct {
	System, User, Group, Status, RequestedBy, DecidedAt, JiraKey, CommentURL, RequestID, VerifiedAt, LogEventID, Reason string
}

func cfRevocationRunOf(r model.RevocationRun) cfRevocationRun {
	out := cfRevocationRun{RunID: XMLText(r.RunID), At: utcTime(r.At), LedgerHead: XMLText(r.LedgerHead)}
	for _, it := range r.Items {
		out.Items = append(out.Items, cfRevocationItem{
			System: XMLText(it.System), User: XMLText(it.UserLogin), Group: XMLText(it.GroupName), Status: XMLText(it.Status),
			RequestedBy: XMLText(it.RequestedBy), DecidedAt: utcTime(it.DecidedAt), JiraKey: XMLText(it.JiraKey),
			CommentURL: webURL(it.CommentURL), RequestID: XMLText(it.OktaRequestID), VerifiedAt: utcTime(it.VerifiedAt),
			LogEventID: XMLText(it.LogEventID), Reason: XMLText(it.Reason),
		})
	}
	return out
}

// RevocationPanel renders one revoke run as the red panel the review page
// carries (the same markup ConfluencePage renders for v.Revocations), for
// revoke to append to the current page.
func RevocationPanel(r model.RevocationRun) (string, error) {
	return cfRender("revocation_panel", cfRevocationRunOf(r))
}

type cfAccessPage struct {
	Name, Review, RunID, RunAt, LedgerHead, PageURL string
	AccessCount                                     int
	Findings                                        []cfFinding
	Rows                                            []cfRow
	Prev                                            string
}

func cfRows(rows []model.AccessRow) []cfRow {
	out := make([]cfRow, len(rows))
	for i, r := range rows {
		last := "never"
		if !r.LastLogin.IsZero() {
			last = utcDate(r.LastLogin)
		}
		out[i] = cfRow{
			Privileged:   r.Tier == model.TierPrivileged,
			Peers:        XMLText(PeersText(r)),
			PrevDecision: XMLText(r.PrevDecision),
			Group:        XMLText(r.GroupName),
			User:         XMLText(userOf(r)),
			Name:         XMLText(r.UserName),
			Department:   XMLText(r.Department),
			Title:        XMLText(r.Title),
			Type:         XMLText(r.UserType),
			Status:       XMLText(r.UserStatus),
			LastLogin:    last,
			Source:       XMLText(r.MembershipSource),
			Risk:         XMLText(string(r.Risk)),
		}
	}
	return out
}

// PeersText says how common the row's group is in the user's department
// ("3 of 41 in Finance"), or "" when the user has no department.
func PeersText(r model.AccessRow) string {
	if r.DeptSize == 0 || strings.TrimSpace(r.Department) == "" {
		return ""
	}
	return fmt.Sprintf("%d of %d in %s", r.DeptPeers, r.DeptSize, strings.TrimSpace(r.Department))
}

// TierText names a group's tier for reviewers ("–" when no role says).
func TierText(tier string) string {
	if tier == "" {
		return "–"
	}
	return tier
}

func cfRoles(rs []model.GroupRole) []cfRole {
	out := make([]cfRole, len(rs))
	for i, r := range rs {
		out[i] = cfRole{Group: XMLText(r.GroupName), Tier: XMLText(TierText(r.Tier)), Allows: XMLText(r.Allows), Members: r.Members}
	}
	return out
}

func cfSystemOf(s model.SystemReview, prev string) cfSystem {
	colour, title := riskLozenge(highestRisk(s))
	cs := cfSystem{
		Name:        XMLText(s.System.Name),
		Owner:       XMLText(s.System.Owner),
		RiskColour:  colour,
		RiskTitle:   title,
		JiraKey:     XMLText(s.JiraKey),
		JiraURL:     webURL(s.JiraURL),
		ChildURL:    webURL(s.PageURL),
		Child:       strings.TrimSpace(s.PageURL) != "",
		AccessCount: len(s.Access),
		Roles:       cfRoles(s.Roles),
		Prev:        XMLText(prev),
	}
	if cs.Owner == "" {
		cs.Owner = "(no owner configured)"
	}
	cs.FindingCount = len(s.Findings)
	if cs.Child {
		cs.FindingsByRisk = findingsByRisk(s.Findings)
	} else {
		cs.Findings = cfFindings(s.Findings)
		cs.Rows = cfRows(s.Access)
	}
	return cs
}

func cfFindings(fs []model.Finding) []cfFinding {
	out := make([]cfFinding, len(fs))
	for i, f := range fs {
		out[i] = cfFinding{
			Risk:   XMLText(string(f.Risk)),
			RuleID: XMLText(f.RuleID),
			User:   XMLText(f.UserLogin),
			Groups: XMLText(strings.Join(f.Groups, ", ")),
			Detail: XMLText(f.Detail),
			AI:     f.Source == model.FindingSourceAI,
		}
	}
	return out
}

// findingsByRisk counts findings per risk, highest first ("2 HIGH, 5 LOW").
func findingsByRisk(fs []model.Finding) string {
	var parts []string
	for _, r := range []model.Risk{model.RiskHigh, model.RiskMedium, model.RiskLow} {
		n := 0
		for _, f := range fs {
			if f.Risk == r {
				n++
			}
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
	}
	return strings.Join(parts, ", ")
}

// ConfluencePage renders the review page body in Confluence storage
// format: the blue info panel with the audit metadata (review, run id, UTC
// time, tool version, ledger head), a section per system (owner, risk
// lozenge, ticket link, findings, access table or a link to the child page
// when SystemReview.PageURL is set), a line for each system in v.Empty and
// the red panel of every revoke run in v.Revocations, so rewriting the page
// never drops a revocation record. The result is checked to be well-formed
// XML; an error means a bug in the template, never bad input.
func ConfluencePage(v model.ReviewView) (string, error) {
	p := cfPage{
		Review:      XMLText(v.Review),
		RunID:       XMLText(v.RunID),
		RunAt:       utcTime(v.RunAt),
		ToolVersion: XMLText(v.ToolVersion),
		LedgerHead:  XMLText(v.LedgerHead),
		Deadline:    utcDate(v.Deadline),
		SystemCount: len(v.Systems),
	}
	for _, s := range v.Systems {
		p.AccessCount += len(s.Access)
		if highestRisk(s) == model.RiskHigh {
			p.HighCount++
		}
		p.Systems = append(p.Systems, cfSystemOf(s, v.PreviousReview))
	}
	for _, e := range v.Empty {
		p.Empty = append(p.Empty, XMLText(e))
	}
	for _, r := range v.Revocations {
		p.Revocations = append(p.Revocations, cfRevocationRunOf(r))
	}
	return cfRender("confluence_page", p)
}

// ConfluenceAccessPage renders the body of a child page holding the
// findings and access table of system s (or one part of them: pass a part
// from [ChildParts]), with a header naming the review, run and ledger head
// and a link back to v.PageURL.
func ConfluenceAccessPage(v model.ReviewView, s model.SystemReview) (string, error) {
	p := cfAccessPage{
		Name:        XMLText(s.System.Name),
		Review:      XMLText(v.Review),
		RunID:       XMLText(v.RunID),
		RunAt:       utcTime(v.RunAt),
		LedgerHead:  XMLText(v.LedgerHead),
		PageURL:     webURL(v.PageURL),
		AccessCount: len(s.Access),
		Findings:    cfFindings(s.Findings),
		Rows:        cfRows(s.Access),
		Prev:        XMLText(v.PreviousReview),
	}
	return cfRender("confluence_access", p)
}

func cfRender(name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := parsed.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("templates: %s: %w", name, err)
	}
	if err := CheckStorage(buf.String()); err != nil {
		return "", fmt.Errorf("templates: %s: %w", name, err)
	}
	return buf.String(), nil
}

// CheckStorage reports whether body is well-formed Confluence storage
// format, by parsing it with encoding/xml inside a root element that
// declares the ac: and ri: namespaces (as the reference suggests; real
// Confluence answers 400 to malformed storage).
func CheckStorage(body string) error {
	const open = `<root xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource/identifier">`
	d := xml.NewDecoder(io.MultiReader(strings.NewReader(open), strings.NewReader(body), strings.NewReader("</root>")))
	d.Strict = true
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("storage format is not well-formed XML: %w", err)
		}
	}
}
