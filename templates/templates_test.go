package templates

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/uar-dev/uar/internal/model"
)

func TestConfluencePageGolden(t *testing.T) {
	v := fixtureView()
	got, err := ConfluencePage(v)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "confluence_page.golden", []byte(got))
	for _, want := range []string{
		`<ac:structured-macro ac:name="info"`,
		`<strong>Run id:</strong> run-0001`,
		`2026-12-01T09:00:00Z`,
		`<code>` + v.LedgerHead + `</code>`,
		`<ac:parameter ac:name="colour">Red</ac:parameter><ac:parameter ac:name="title">HIGH</ac:parameter>`,
		`<td>never</td>`,
		`Coupa: no members in the snapshot, nothing to review.`,
		`<a href="https://acme.atlassian.net/browse/UAR-1">UAR-1</a>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestConfluencePageChildLink(t *testing.T) {
	v := fixtureView()
	v.Systems[0].PageURL = "https://acme.atlassian.net/wiki/spaces/SOX/pages/98766"
	got, err := ConfluencePage(v)
	if err != nil {
		t.Fatal(err)
	}
	ns := got[strings.Index(got, "<h2>NetSuite</h2>"):strings.Index(got, "<h2>Salesforce</h2>")]
	if strings.Contains(ns, "<th>User</th>") || strings.Contains(ns, "dave.kim@company.com</td>") {
		t.Errorf("NetSuite section still has its table:\n%s", ns)
	}
	// The groups table (small) stays on the main page.
	if !strings.Contains(ns, "<tr><td>SOX-NetSuite-Admins</td><td>privileged</td><td>2</td>") {
		t.Errorf("NetSuite section lost its groups:\n%s", ns)
	}
	if !strings.Contains(ns, `<a href="https://acme.atlassian.net/wiki/spaces/SOX/pages/98766">NetSuite access</a>`) {
		t.Errorf("NetSuite section lacks the child link:\n%s", ns)
	}
	// The findings go with the access (a system split for its size has too
	// many for the review page); the review page keeps their counts.
	if strings.Contains(ns, "SOD-IT-ERP-ADMIN") {
		t.Errorf("a split system's findings are still on the review page:\n%s", ns)
	}
	if !strings.Contains(ns, "3 finding(s) (2 HIGH, 1 MEDIUM) are listed with the access") {
		t.Errorf("NetSuite section lacks its finding counts:\n%s", ns)
	}

	child, err := ConfluenceAccessPage(v, ChildParts(v.Systems[0])[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(child, "<h3>Findings</h3>") || !strings.Contains(child, "SOD-IT-ERP-ADMIN") {
		t.Errorf("the child page lacks the system's findings")
	}
	golden(t, "confluence_access.golden", []byte(child))
}

func TestJiraDescriptionGolden(t *testing.T) {
	v := fixtureView()
	for _, s := range v.Systems {
		raw, err := JiraDescription(v, s)
		if err != nil {
			t.Fatal(err)
		}
		checkADF(t, raw)
		golden(t, "jira_"+strings.ToLower(s.System.Name)+".golden", indentJSON(t, raw))
	}
	raw, _ := JiraDescription(v, v.Systems[0])
	text := adfPlain(t, raw)
	for _, want := range []string{
		"5 access(es) to review in NetSuite", "Highest risk: HIGH", "HIGH: 2 finding(s)", "MEDIUM: 1 finding(s)",
		"REVOKE: user@company.com\nREVOKE: user@company.com from SOX-NetSuite-Admins\nCERTIFY: all\nCERTIFY: a@company.com, b@company.com",
		"the owner nina.patel@company.com", "backup reviewer cfo@company.com", "Decide by 2026-12-31 (UTC).",
		"IT Manager in SOX-NetSuite-Admins",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("ADF text lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(string(raw), `"href":"https://acme.atlassian.net/wiki/spaces/SOX/pages/98765/UAR+2026-Q4"`) {
		t.Errorf("no page link in %s", raw)
	}
}

// A system whose access table moved to a child page links both pages: the
// child for the table, the review page for the ledger head and the
// revocation records.
func TestJiraDescriptionLinksReviewAndChildPage(t *testing.T) {
	v := fixtureView()
	v.Systems[0].PageURL = "https://acme.atlassian.net/wiki/spaces/SOX/pages/98766"
	b, err := JiraDescription(v, v.Systems[0])
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{`"href":"https://acme.atlassian.net/wiki/spaces/SOX/pages/98766"`, `"href":"` + v.PageURL + `"`} {
		if !strings.Contains(got, want) {
			t.Errorf("description lacks the link %s:\n%s", want, got)
		}
	}
	// Without a child page, only the review page is linked.
	b, err = JiraDescription(v, v.Systems[1])
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"type":"link"`); n != 1 || !strings.Contains(string(b), v.PageURL) {
		t.Errorf("%d links, want the review page only:\n%s", n, b)
	}
}

func TestSlackSummaryGolden(t *testing.T) {
	v := fixtureView()
	blocks, fallback, err := SlackSummary(v)
	if err != nil {
		t.Fatal(err)
	}
	checkSlackBlocks(t, blocks)
	golden(t, "slack_blocks.golden", indentJSON(t, blocks))
	golden(t, "slack_fallback.golden", []byte(fallback+"\n"))

	s := string(blocks)
	ns, wd, sf := strings.Index(s, "<https://acme.atlassian.net/browse/UAR-1|UAR-1>"), strings.Index(s, "|UAR-2>"), strings.Index(s, "|UAR-3>")
	if ns < 0 || wd < 0 || sf < 0 || !(ns < wd && wd < sf) {
		t.Errorf("want HIGH systems (NetSuite, Workday) linked before Salesforce: %d %d %d\n%s", ns, wd, sf, s)
	}
	if !strings.Contains(s, ":red_circle: *<https://acme.atlassian.net/browse/UAR-1|UAR-1>* NetSuite") {
		t.Errorf("NetSuite not marked red:\n%s", s)
	}
	if !strings.Contains(s, "ledger head "+v.LedgerHead) {
		t.Errorf("no ledger head in context")
	}
	if !strings.Contains(fallback, "2 with HIGH findings (NetSuite, Workday)") {
		t.Errorf("fallback: %q", fallback)
	}
}

// TestSlackSummaryLargeReview: 400 systems stay within Block Kit limits,
// list every HIGH system, and summarise what does not fit.
func TestSlackSummaryLargeReview(t *testing.T) {
	v := fixtureView()
	base := v.Systems[1]
	v.Systems = nil
	for i := range 400 {
		s := base
		s.System.Name = fmt.Sprintf("System-%03d-with-a-rather-long-descriptive-name-for-the-ledger", i)
		s.JiraKey = fmt.Sprintf("UAR-%d", 100+i)
		s.JiraURL = "https://acme.atlassian.net/browse/" + s.JiraKey
		if i%50 == 7 {
			s.Risk = model.RiskHigh
			s.Findings = []model.Finding{{Risk: model.RiskHigh, UserLogin: "x@company.com", Detail: "d"}}
		}
		v.Systems = append(v.Systems, s)
	}
	blocks, fallback, err := SlackSummary(v)
	if err != nil {
		t.Fatal(err)
	}
	n := checkSlackBlocks(t, blocks)
	if n > SlackMaxBlocks {
		t.Errorf("%d blocks", n)
	}
	s := string(blocks)
	for i := 7; i < 400; i += 50 {
		if !strings.Contains(s, fmt.Sprintf("|UAR-%d>", 100+i)) {
			t.Errorf("HIGH system %d not listed", i)
		}
	}
	if !strings.Contains(s, "more system(s)") {
		t.Errorf("no summarising line for the systems that did not fit")
	}
	if !strings.Contains(fallback, "8 with HIGH findings") {
		t.Errorf("fallback %q", fallback)
	}
}

func TestSplitSystemsAndParts(t *testing.T) {
	v := fixtureView()
	big := make([]model.AccessRow, MaxInlineAccessRows+1)
	v.Systems[2].Access = big
	if got := SplitSystems(v); len(got) != 1 || got[0] != "Workday" {
		t.Errorf("SplitSystems = %v, want [Workday]", got)
	}
	v.Systems[2].Access = big[:3]
	if got := SplitSystems(v); len(got) != 0 {
		t.Errorf("SplitSystems = %v, want none", got)
	}
	// Many findings send a system to child pages even with few accesses.
	v.Systems[1].Findings = make([]model.Finding, MaxInlineFindings+1)
	if got := SplitSystems(v); len(got) != 1 || got[0] != v.Systems[1].System.Name {
		t.Errorf("SplitSystems with %d findings = %v, want [%s]", MaxInlineFindings+1, got, v.Systems[1].System.Name)
	}
	// The review page's inline findings are bounded over all systems.
	many := model.ReviewView{}
	for i := range 2 * MaxInlineFindingsTotal / MaxInlineFindings {
		many.Systems = append(many.Systems, model.SystemReview{System: model.System{Name: fmt.Sprintf("S%03d", i)},
			Access: make([]model.AccessRow, 1), Findings: make([]model.Finding, MaxInlineFindings)})
	}
	if got := len(SplitSystems(many)); got != len(many.Systems)-MaxInlineFindingsTotal/MaxInlineFindings {
		t.Errorf("%d of %d systems split, want all past %d inline findings", got, len(many.Systems), MaxInlineFindingsTotal)
	}

	s := model.SystemReview{Access: make([]model.AccessRow, 2*MaxAccessRowsPerPage+1), Findings: make([]model.Finding, 7*MaxFindingsPerPage)}
	parts := ChildParts(s)
	if len(parts) != 7 || len(parts[0].Access) != MaxAccessRowsPerPage || len(parts[2].Access) != 1 || len(parts[3].Access) != 0 {
		t.Fatalf("ChildParts: %d parts", len(parts))
	}
	rows, findings := 0, 0
	for _, p := range parts {
		rows += len(p.Access)
		findings += len(p.Findings)
		if len(p.Findings) != MaxFindingsPerPage {
			t.Errorf("a part lists %d findings, want %d", len(p.Findings), MaxFindingsPerPage)
		}
	}
	if rows != len(s.Access) || findings != len(s.Findings) {
		t.Errorf("parts hold %d rows and %d findings, want %d and %d", rows, findings, len(s.Access), len(s.Findings))
	}
	if got := ChildParts(model.SystemReview{}); len(got) != 1 {
		t.Errorf("an empty system gives %d parts, want 1", len(got))
	}
	if got := AccessPageTitle("2026-Q4", "NetSuite", 2, 3); got != "UAR 2026-Q4 – NetSuite access (2 of 3)" {
		t.Errorf("title %q", got)
	}
}

// TestAccessRowBytes measures the storage bytes per access row that the
// split thresholds rely on, and fails if the documented figure is stale.
func TestAccessRowBytes(t *testing.T) {
	v := fixtureView()
	s := v.Systems[0]
	small, err := ConfluenceAccessPage(v, model.SystemReview{System: s.System})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for len(s.Access) < n {
		s.Access = append(s.Access, s.Access...)
	}
	s.Access = s.Access[:n]
	large, err := ConfluenceAccessPage(v, s)
	if err != nil {
		t.Fatal(err)
	}
	per := (len(large) - len(small)) / n
	t.Logf("one access row renders to %d bytes of storage XHTML", per)
	if per > AccessRowBytes*3/2 || per < AccessRowBytes/2 {
		t.Errorf("measured %d bytes per row; update AccessRowBytes (%d) and the thresholds", per, AccessRowBytes)
	}
	if worst := MaxAccessRowsPerPage * per * 4; worst > 5<<20 {
		t.Errorf("a child page at 4x the measured row size would be %d bytes, over 5 MB", worst)
	}
}

// TestFindingBytes measures the storage bytes per finding that the split
// thresholds rely on, and fails if the documented figure is stale.
func TestFindingBytes(t *testing.T) {
	v := fixtureView()
	var all []model.Finding
	for _, s := range v.Systems {
		all = append(all, s.Findings...)
	}
	if len(all) == 0 {
		t.Fatal("fixture has no findings")
	}
	small, err := ConfluenceAccessPage(v, model.SystemReview{System: v.Systems[0].System})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	fs := make([]model.Finding, 0, n)
	for len(fs) < n {
		fs = append(fs, all[len(fs)%len(all)])
	}
	large, err := ConfluenceAccessPage(v, model.SystemReview{System: v.Systems[0].System, Findings: fs})
	if err != nil {
		t.Fatal(err)
	}
	per := (len(large) - len(small)) / n
	t.Logf("one finding renders to %d bytes of storage XHTML", per)
	if per > FindingBytes*3/2 || per < FindingBytes/2 {
		t.Errorf("measured %d bytes per finding; update FindingBytes (%d) and the thresholds", per, FindingBytes)
	}
	worst := 4 * (MaxAccessRowsPerPage*AccessRowBytes + MaxFindingsPerPage*per)
	if worst > 5<<20 {
		t.Errorf("a child page at 4x the measured sizes would be %d bytes, over 5 MB", worst)
	}
	if inline := 4 * (MaxInlineAccessRowsTotal*AccessRowBytes + MaxInlineFindingsTotal*per); inline > 5<<20 {
		t.Errorf("the review page's inline tables at 4x would be %d bytes, over 5 MB", inline)
	}
}

// hostile strings as an attacker would put them in Okta profile fields.
var hostile = []string{
	`<script>alert(1)</script>`,
	`]]><![CDATA[x`,
	`&amp; & &lt;`,
	`"quotes' and ` + "`ticks`",
	`emoji 🔥👩‍💼`,
	`{"type":"doc","version":1,"content":[{"type":"text","text":""}]}`,
	"ctl\x00\x01\x0b\x1b\ufffe end",
	"bad utf8 \xff\xfe",
	`<https://evil.example|click> *bold* <!channel>`,
}

func hostileView() model.ReviewView {
	h := strings.Join(hostile, " | ")
	v := fixtureView()
	v.Review = "2026-Q4 " + hostile[0]
	v.RunID = "run " + hostile[1]
	v.ToolVersion = hostile[3]
	v.LedgerHead = "1:" + hostile[2]
	v.Empty = append(v.Empty, h)
	for i := range v.Systems {
		s := &v.Systems[i]
		s.System.Name = s.System.Name + " " + h
		s.System.Owner = h
		s.System.BackupReviewer = h
		s.System.Delegates = []string{h, ""}
		s.JiraKey = hostile[5]
		s.JiraURL = "javascript:alert(1)"
		for j := range s.Access {
			a := &s.Access[j]
			a.GroupName, a.UserEmail, a.UserName, a.Department, a.Title = h, h, h, h, h
			a.UserType, a.UserStatus, a.MembershipSource = h, h, h
		}
		for j := range s.Findings {
			f := &s.Findings[j]
			f.RuleID, f.UserLogin, f.Detail, f.Groups = h, h, h, []string{h}
		}
		for j := range s.Roles {
			s.Roles[j].GroupName, s.Roles[j].Allows = h, h
		}
	}
	v.Systems[0].PageURL = `https://x.example/"><script>alert(1)</script>`
	return v
}

// cleanHostile is what the hostile text must read as after escaping is
// undone: the same characters, with XML-forbidden ones replaced.
func cleanHostile() string { return XMLText(strings.Join(hostile, " | ")) }

func TestHostileConfluence(t *testing.T) {
	v := hostileView()
	page, err := ConfluencePage(v)
	if err != nil {
		t.Fatal(err)
	}
	v.Systems[1].Access = append(v.Systems[1].Access, v.Systems[0].Access...)
	child, err := ConfluenceAccessPage(v, v.Systems[1])
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"page": page, "child": child} {
		if err := CheckStorage(body); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, bad := range []string{"<script", "<![CDATA[", "javascript:", "\x00", "\x1b", "\xff", "#ZgotmplZ"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
		text := xmlCharData(t, body)
		if !strings.Contains(text, cleanHostile()) {
			t.Errorf("%s: hostile text not rendered verbatim as text", name)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("script tag not escaped")
	}
	// An unusable child-page URL still keeps the table off the main page.
	first := page[:strings.Index(page, "<h2>Salesforce")]
	if strings.Contains(first, "<th>User</th>") || !strings.Contains(first, "are on a separate page") {
		t.Errorf("NetSuite section with an unsafe PageURL:\n%s", first)
	}
}

func TestHostileJira(t *testing.T) {
	v := hostileView()
	for _, s := range v.Systems {
		raw, err := JiraDescription(v, s)
		if err != nil {
			t.Fatal(err)
		}
		checkADF(t, raw)
		if !strings.Contains(adfPlain(t, raw), cleanHostile()) {
			t.Errorf("%s: hostile text not kept as text", s.JiraKey)
		}
		if strings.Contains(string(raw), "javascript:") || strings.Contains(string(raw), `"href":"https://x.example`) {
			t.Errorf("unsafe link emitted: %s", raw)
		}
	}
}

func TestHostileSlack(t *testing.T) {
	v := hostileView()
	v.PageURL = "https://acme.example/p?a=1&b=<2>"
	blocks, fallback, err := SlackSummary(v)
	if err != nil {
		t.Fatal(err)
	}
	checkSlackBlocks(t, blocks)
	var bs []map[string]any
	if err := json.Unmarshal(blocks, &bs); err != nil {
		t.Fatal(err)
	}
	for _, text := range append(slackTexts(bs), fallback) {
		if strings.Contains(text, "<script") || strings.Contains(text, "<!channel>") || strings.Contains(text, "<https://evil") ||
			strings.Contains(text, "javascript:") || strings.ContainsAny(text, "\x00\x1b") {
			t.Errorf("unescaped hostile text in %q", text)
		}
		for i := strings.IndexByte(text, '&'); i >= 0; i = nextAmp(text, i) {
			rest := text[i:]
			if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
				t.Errorf("bare & in %q", text)
				break
			}
		}
	}
	if !strings.Contains(string(blocks), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("script not escaped for mrkdwn")
	}
}

func TestSlackHeaderTruncation(t *testing.T) {
	v := fixtureView()
	v.Review = strings.Repeat("<&>", 200)
	blocks, _, err := SlackSummary(v)
	if err != nil {
		t.Fatal(err)
	}
	checkSlackBlocks(t, blocks)
	var bs []map[string]any
	_ = json.Unmarshal(blocks, &bs)
	h := bs[0]["text"].(map[string]any)["text"].(string)
	if !strings.HasSuffix(h, "&gt;…") && !strings.HasSuffix(h, "&lt;…") && !strings.HasSuffix(h, "&amp;…") {
		t.Errorf("header cut inside an entity: %q", h)
	}
	if got := truncEscaped("ab&amp;cd", 5); got != "ab…" {
		t.Errorf("truncEscaped = %q", got)
	}
}

func TestXMLText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":          "plain",
		"a\x00b":         "a\ufffdb",
		"tab\tnl\ncr\r":  "tab\tnl\ncr\r",
		"\xff":           "\ufffd",
		"\ufffe\uffff":   "\ufffd\ufffd",
		"emoji 🔥":        "emoji 🔥",
		"\u0085\u2028ok": "\u0085\u2028ok",
	} {
		if got := XMLText(in); got != want {
			t.Errorf("XMLText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckStorageRejectsMalformed(t *testing.T) {
	for _, bad := range []string{"<p>unclosed", "<p>a &nbsp; b</p>", "<x:y>", "<p>a</b>", "a & b"} {
		if CheckStorage(bad) == nil {
			t.Errorf("CheckStorage(%q) = nil", bad)
		}
	}
}

// ---- helpers ----

func nextAmp(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '&')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// xmlCharData parses a storage body and returns all its decoded text.
func xmlCharData(t *testing.T, body string) string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(`<root xmlns:ac="a" xmlns:ri="r">` + body + `</root>`))
	var b strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return b.String()
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			b.Write(cd)
		}
	}
}

var adfTypes = map[string]bool{"doc": true, "paragraph": true, "heading": true, "bulletList": true, "listItem": true, "codeBlock": true, "text": true}
var adfMarks = map[string]bool{"strong": true, "em": true, "code": true, "link": true}

// checkADF validates the subset of ADF the renderer emits: known node
// types, non-empty text nodes without children, a doc of version 1, links
// to http(s) only.
func checkADF(t *testing.T, raw json.RawMessage) {
	t.Helper()
	if !json.Valid(raw) {
		t.Fatalf("invalid JSON: %s", raw)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["type"] != "doc" || doc["version"] != float64(1) {
		t.Fatalf("not an ADF doc: %v %v", doc["type"], doc["version"])
	}
	var walk func(n map[string]any, path string)
	walk = func(n map[string]any, path string) {
		typ, _ := n["type"].(string)
		if !adfTypes[typ] {
			t.Errorf("%s: unexpected node type %q", path, typ)
		}
		for k := range n {
			switch k {
			case "type", "content", "attrs", "text", "marks", "version":
			default:
				t.Errorf("%s: unexpected key %q", path, k)
			}
		}
		if typ == "text" {
			if s, _ := n["text"].(string); s == "" {
				t.Errorf("%s: empty text node", path)
			}
			if n["content"] != nil {
				t.Errorf("%s: text node with content", path)
			}
		} else {
			if _, ok := n["text"]; ok {
				t.Errorf("%s: text on a %s node", path, typ)
			}
			c, _ := n["content"].([]any)
			if len(c) == 0 {
				t.Errorf("%s: %s without content", path, typ)
			}
		}
		marks, _ := n["marks"].([]any)
		for _, m := range marks {
			mm := m.(map[string]any)
			if !adfMarks[mm["type"].(string)] {
				t.Errorf("%s: unexpected mark %v", path, mm["type"])
			}
			if mm["type"] == "link" {
				href := mm["attrs"].(map[string]any)["href"].(string)
				if !strings.HasPrefix(href, "https://") && !strings.HasPrefix(href, "http://") {
					t.Errorf("%s: link to %q", path, href)
				}
			}
		}
		c, _ := n["content"].([]any)
		for i, ch := range c {
			walk(ch.(map[string]any), fmt.Sprintf("%s/%s[%d]", path, typ, i))
		}
	}
	walk(doc, "")
}

// adfPlain flattens an ADF doc to text: text nodes joined, block ends as
// newlines (as the decision parser will read comments).
func adfPlain(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		if s, ok := n["text"].(string); ok {
			b.WriteString(s)
		}
		c, _ := n["content"].([]any)
		for _, ch := range c {
			walk(ch.(map[string]any))
		}
		if n["type"] == "paragraph" || n["type"] == "heading" || n["type"] == "codeBlock" {
			b.WriteString("\n")
		}
	}
	walk(doc)
	return b.String()
}

// checkSlackBlocks checks the blocks against Block Kit limits and that
// slack-go (the client that will send them) decodes every block.
func checkSlackBlocks(t *testing.T, raw json.RawMessage) int {
	t.Helper()
	var sb slack.Blocks
	if err := json.Unmarshal(raw, &sb); err != nil {
		t.Fatalf("slack-go cannot decode the blocks: %v", err)
	}
	if len(sb.BlockSet) == 0 || len(sb.BlockSet) > SlackMaxBlocks {
		t.Fatalf("%d blocks", len(sb.BlockSet))
	}
	for i, b := range sb.BlockSet {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			if n := len([]rune(b.Text.Text)); n > SlackMaxHeaderText || n == 0 {
				t.Errorf("block %d: header of %d chars", i, n)
			}
		case *slack.SectionBlock:
			if n := len([]rune(b.Text.Text)); n > SlackMaxSectionText || n == 0 {
				t.Errorf("block %d: section of %d chars", i, n)
			}
		case *slack.ContextBlock, *slack.DividerBlock:
		default:
			t.Errorf("block %d: unexpected %T", i, b)
		}
	}
	return len(sb.BlockSet)
}

func slackTexts(bs []map[string]any) []string {
	var out []string
	for _, b := range bs {
		if tx, ok := b["text"].(map[string]any); ok {
			out = append(out, tx["text"].(string))
		}
		els, _ := b["elements"].([]any)
		for _, e := range els {
			out = append(out, e.(map[string]any)["text"].(string))
		}
	}
	return out
}

var _ = time.Second

// TestJiraDescriptionBounded: a system with many findings stays far below
// Jira's 32,767-character description limit.
func TestJiraDescriptionBounded(t *testing.T) {
	v := fixtureView()
	s := v.Systems[0]
	for i := range 2000 {
		s.Findings = append(s.Findings, model.Finding{Risk: model.RiskMedium, UserLogin: fmt.Sprintf("u%d@company.com", i),
			Detail: strings.Repeat("long detail ", 100)})
	}
	raw, err := JiraDescription(v, s)
	if err != nil {
		t.Fatal(err)
	}
	checkADF(t, raw)
	if len(raw) > 32767 {
		t.Errorf("description is %d bytes", len(raw))
	}
	plain := adfPlain(t, raw)
	shown := regexp.MustCompile(`(?m)^MEDIUM u\d+@company.com: `).FindAllString(plain, -1)
	if len(shown) == 0 || len(shown) > JiraMaxFindings {
		t.Errorf("%d findings shown", len(shown))
	}
	// The 3 fixture findings come first (HIGH, HIGH, MEDIUM), then the added ones.
	if !strings.Contains(plain, fmt.Sprintf("…and %d more finding(s)", 2003-3-len(shown))) {
		t.Errorf("no 'more findings' line for %d shown", len(shown))
	}
	if !strings.Contains(plain, "Access to review") || !strings.Contains(plain, "carol.wong@company.com in SOX-NetSuite-Admins (privileged): last sign-in 2026-11-28") {
		t.Errorf("the access list lost its first rows:\n%s", plain)
	}
}

// TestJiraAccessListBounded: every access carries its context, privileged
// first; a system with many accesses lists what fits under Jira's limit
// and says how many more are on the Confluence page.
func TestJiraAccessListBounded(t *testing.T) {
	v := fixtureView()
	s := v.Systems[0]
	raw, err := JiraDescription(v, s)
	if err != nil {
		t.Fatal(err)
	}
	plain := adfPlain(t, raw)
	for _, want := range []string{
		"carol.wong@company.com in SOX-NetSuite-Admins (privileged): last sign-in 2026-11-28 · 1 of 4 in Finance · 2026-Q3: certified · source direct\n",
		"ivan.petrov@company.com in SOX-NetSuite-Users: last sign-in never · 3 of 4 in Finance · 2026-Q3: new · source direct\n",
		"SOX-NetSuite-Admins (privileged, 2 member(s)): Full administration of NetSuite",
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("description lacks %q:\n%s", want, plain)
		}
	}
	if strings.Contains(plain, "more access(es)") {
		t.Error("a 'more' line for a small system")
	}
	long := strings.Repeat("x", 200)
	for i := range 500 { // a system of many groups, each described at length
		s.Roles = append(s.Roles, model.GroupRole{GroupName: fmt.Sprintf("SOX-NetSuite-%d-%s", i, long), Members: 1, Allows: strings.Repeat("allows ", 100)})
	}
	for i := range 5000 {
		s.Access = append(s.Access, model.AccessRow{GroupName: "SOX-NetSuite-" + long, UserEmail: fmt.Sprintf("u%d.%s@company.com", i, long),
			Department: long, DeptPeers: 1, DeptSize: 9, MembershipSource: "direct", PrevDecision: "certified"})
	}
	raw, err = JiraDescription(v, s)
	if err != nil {
		t.Fatal(err)
	}
	checkADF(t, raw)
	if len(raw) > JiraMaxDescriptionBytes || len(raw) < JiraMaxDescriptionBytes*9/10 {
		t.Errorf("description is %d bytes, budget %d", len(raw), JiraMaxDescriptionBytes)
	}
	plain = adfPlain(t, raw)
	n := strings.Count(plain, "· source direct\n") + strings.Count(plain, "· source rule\n")
	if !strings.Contains(plain, fmt.Sprintf("…and %d more access(es): see the Confluence page.", 5005-n)) {
		t.Errorf("%d accesses listed; no matching 'more' line", n)
	}
	if !strings.HasPrefix(plain[strings.Index(plain, "Access to review\n"):], "Access to review\ncarol.wong@company.com in SOX-NetSuite-Admins (privileged)") {
		t.Error("privileged accesses are not listed first")
	}
	groups := strings.Count(plain, " member(s))")
	if groups < 2 || !strings.Contains(plain, fmt.Sprintf("…and %d more group(s): see the Confluence page.", 502-groups)) {
		t.Errorf("%d groups listed; no matching 'more' line", groups)
	}
}
