package decisions

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/uar-dev/uar/internal/publish/jira"
)

// want describes the expected reading of one line: a decision (Action set)
// or a malformed line (Bad holds a substring of the reason).
type want struct {
	Action  string
	All     bool
	Targets []string
	Group   string
	Just    string
	Bad     string
}

func (w want) check(t *testing.T, name string, got []Line) {
	t.Helper()
	if len(got) != 1 {
		t.Errorf("%s: %d lines, want 1: %+v", name, len(got), got)
		return
	}
	l := got[0]
	if w.Bad != "" {
		if l.Malformed == "" || !strings.Contains(l.Malformed, w.Bad) || l.Action != "" || l.Targets != nil || l.All {
			t.Errorf("%s: got %+v, want malformed containing %q", name, l, w.Bad)
		}
		return
	}
	if l.Malformed != "" || l.Action != w.Action || l.All != w.All || !reflect.DeepEqual(l.Targets, w.Targets) ||
		l.Group != w.Group || l.Justification != w.Just {
		t.Errorf("%s: got %+v\nwant %+v", name, l, w)
	}
}

func rev(targets ...string) want  { return want{Action: "REVOKE", Targets: targets} }
func cert(targets ...string) want { return want{Action: "CERTIFY", Targets: targets} }
func bad(reason string) want      { return want{Bad: reason} }

func (w want) from(g string) want { w.Group = g; return w }
func (w want) just(j string) want { w.Just = j; return w }

var certAll = want{Action: "CERTIFY", All: true}

func TestParseLineGrammar(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want want
	}{
		// The examples of DESIGN §8.
		{"REVOKE: ivan.petrov@acme.com", rev("ivan.petrov@acme.com")},
		{"REVOKE: dave.kim@acme.com from SOX-NetSuite-Admins", rev("dave.kim@acme.com").from("SOX-NetSuite-Admins")},
		{"CERTIFY: all", certAll},
		{"CERTIFY: alice.chen@acme.com, bob.martin@acme.com", cert("alice.chen@acme.com", "bob.martin@acme.com")},
		{"CERTIFY: carol.wong@acme.com -- covering the Q4 close, approved by the CFO", cert("carol.wong@acme.com").just("covering the Q4 close, approved by the CFO")},

		// Case, spacing and separators.
		{"revoke: a@x.com", rev("a@x.com")},
		{"Certify : a@x.com", cert("a@x.com")},
		{"CERTIFY：a@x.com", cert("a@x.com")},
		{"  REVOKE:a@x.com;b@x.com ;c@x.com  ", rev("a@x.com", "b@x.com", "c@x.com")},
		{"CERTIFY: a@x.com,b@x.com,", cert("a@x.com", "b@x.com")},
		{"CERTIFY: a@x.com, A@X.COM", cert("a@x.com")},
		{"CERTIFY: ALL", certAll},
		{"CERTIFY: all.", certAll},
		{"CERTIFY: all -- reviewed with HR", certAll.just("reviewed with HR")},
		{"CERTIFY: all from SOX-NetSuite-Users", certAll.from("SOX-NetSuite-Users")},
		{"CERTIFY: a@x.com — covering", cert("a@x.com").just("covering")},
		{"CERTIFY: a@x.com—covering", cert("a@x.com").just("covering")},
		{"CERTIFY: a@x.com – covering", cert("a@x.com").just("covering")},
		{"CERTIFY: a@x.com --- covering -- really", cert("a@x.com").just("covering -- really")},
		{"CERTIFY: a@x.com --", cert("a@x.com")},
		{"REVOKE: a--b@xn--bcher-kva.example", rev("a--b@xn--bcher-kva.example")},
		{"REVOKE: a@x.com from SOX NetSuite  Admins -- moved", rev("a@x.com").from("SOX NetSuite  Admins").just("moved")},
		{"REVOKE: a@x.com FROM \"SOX-A\".", rev("a@x.com").from("SOX-A")},
		{"REVOKE: jdoe", rev("jdoe")},
		{"REVOKE: j.doe-2, j_doe+svc", rev("j.doe-2", "j_doe+svc")},

		// Decoration.
		{"- REVOKE: a@x.com", rev("a@x.com")},
		{"* REVOKE: a@x.com", rev("a@x.com")},
		{"• CERTIFY: a@x.com", cert("a@x.com")},
		{"1. REVOKE: a@x.com", rev("a@x.com")},
		{"12) REVOKE: a@x.com", rev("a@x.com")},
		{"a) REVOKE: a@x.com", rev("a@x.com")},
		{"# REVOKE: a@x.com", rev("a@x.com")},
		{"h3. REVOKE: a@x.com", rev("a@x.com")},
		{"*REVOKE:* a@x.com", rev("a@x.com")},
		{"**REVOKE**: a@x.com", rev("a@x.com")},
		{"*REVOKE: a@x.com*", rev("a@x.com")},
		{"*CERTIFY: a@x.com -- fine*", cert("a@x.com").just("fine")},
		{"_REVOKE:_ _a@x.com_", rev("a@x.com")},
		{"REVOKE: *a@x.com*.", rev("a@x.com")},
		{"REVOKE: a@x.com.", rev("a@x.com")},
		{"REVOKE: a@x.com;", rev("a@x.com")},
		{"REVOKE: <a@x.com>", rev("a@x.com")},
		{"REVOKE: (a@x.com)", rev("a@x.com")},
		{"REVOKE: \"a@x.com\"", rev("a@x.com")},
		{"\"REVOKE: a@x.com\"", rev("a@x.com")},
		{"(REVOKE: a@x.com)", rev("a@x.com")},
		{"[CERTIFY: a@x.com]", cert("a@x.com")},
		{"REVOKE: `a@x.com`", rev("a@x.com")},

		// Auto-linked mail.
		{"REVOKE: [a@x.com|mailto:a@x.com]", rev("a@x.com")},
		{"REVOKE: [Alice Chen|mailto:a@x.com], [mailto:b@x.com]", rev("a@x.com", "b@x.com")},
		{"REVOKE: [a@x.com](mailto:a@x.com)", rev("a@x.com")},
		{"REVOKE: <mailto:a@x.com>", rev("a@x.com")},
		{"REVOKE: mailto:a@x.com", rev("a@x.com")},
		{"REVOKE: [a@x.com|mailto:a@x.com] from SOX-A -- left", rev("a@x.com").from("SOX-A").just("left")},

		// Malformed.
		{"REVOKE ivan@x.com", bad("missing colon")},
		{"REVOKE", bad("missing colon")},
		{"Certify all", bad("missing colon")},
		{"Revoke ivan@x.com please", bad("missing colon")},
		{"REVOKE - ivan@x.com", bad("missing colon")},
		{"REVOKE:", bad("no target")},
		{"REVOKE:   -- because", bad("no target")},
		{"REVOKE: from SOX-A", bad("no target")},
		{"CERTIFY: everyone", bad("not an address")},
		{"CERTIFY: Nobody.", bad("not an address")},
		{"REVOKE: bob from", bad(`"from" needs a group`)},
		{"REVOKE: bob from -- x", bad(`"from" needs a group`)},
		{"REVOKE: bob from A from B", bad("appears twice")},
		{"REVOKE: ivan@x", bad("not an e-mail address or login")},
		{"REVOKE: ivan@@x.com", bad("not an e-mail address or login")},
		{"REVOKE: a@x.com/b", bad("not an e-mail address or login")},
		{"REVOKE: @Bob Martin", bad("is a mention")},
		{"CERTIFY: alice@x.com is fine", bad("unexpected “is fine”")},
		{"CERTIFY: alice@x.com bob@x.com", bad("separate addresses with commas")},
		{"CERTIFY: all except bob@x.com", bad("unexpected")},
		{"CERTIFY: all, bob@x.com", bad("cannot be combined")},
		{"REVOKE: all", bad("REVOKE: all is not accepted")},
		{"APPROVE: a@x.com", bad(`unknown keyword "APPROVE"`)},
		{"Approved: all good", bad("unknown keyword")},
		{"DENY a@x.com", bad("unknown keyword")},
		{"REVOKD: a@x.com", bad("unknown keyword")},
		{"CERTIFIY: a@x.com", bad("unknown keyword")},
		{"Please REVOKE: bob@x.com", bad("must start its own line")},
		{"ok then, CERTIFY: all", bad("must start its own line")},
	} {
		tc.want.check(t, fmt.Sprintf("%q", tc.in), ParseText(tc.in))
	}
}

func TestParseTextIgnores(t *testing.T) {
	for _, in := range []string{
		"",
		"Thanks, looks good to me.",
		"Revoke access when they leave, as usual.",
		"Certify that the list is complete?",
		"We should keep the admins.",
		"The remote team is fine.",
		"Note: see the page",
		"> REVOKE: a@x.com",
		">> CERTIFY: all",
		"bq. REVOKE: a@x.com",
		"{quote}REVOKE: a@x.com{quote}",
		"{quote}\nREVOKE: a@x.com\n{quote}",
		"{QUOTE}\nquoted\n\nREVOKE: a@x.com\n{quote}",
		"{code}\nREVOKE: a@x.com\n{code}",
		"{code:title=Example|borderStyle=solid}\nREVOKE: a@x.com\n{code}",
		"{noformat}REVOKE: a@x.com\nCERTIFY: all{noformat}",
		"{panel:title=Decisions}\nCERTIFY: all\n{panel}",
		"{expand}\nCERTIFY: all\n{expand}",
		"```\nREVOKE: a@x.com\n```",
		"~~~\nREVOKE: a@x.com\n~~~",
		"Write {{REVOKE: user@acme.com}} to revoke.",
		"{{REVOKE: a@x.com}}",
		"`CERTIFY: all`",
		"use `REVOKE:` then the address",
	} {
		if got := ParseText(in); len(got) != 0 {
			t.Errorf("ParseText(%q) = %+v, want no lines", in, got)
		}
	}
}

func TestParseTextBlocksAndIndexes(t *testing.T) {
	in := "Hi team,\r\n{quote}REVOKE: old@x.com{quote} REVOKE: a@x.com\n" +
		"{code}\nCERTIFY: all\n{code}\n" +
		"```go\nREVOKE: fenced@x.com\n```\n" +
		"* CERTIFY: b@x.com -- ok\n" +
		"REVOKE c@x.com\n" +
		"thanks\rCERTIFY: d@x.com"
	got := ParseText(in)
	var summary []string
	for _, l := range got {
		summary = append(summary, fmt.Sprintf("%d %s %v %v", l.Index, l.Action, l.Targets, l.Malformed != ""))
	}
	want := []string{
		`0 REVOKE [a@x.com] false`,
		`1 CERTIFY [b@x.com] false`,
		`2  [] true`,
		`3 CERTIFY [d@x.com] false`,
	}
	if !reflect.DeepEqual(summary, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}
	if got[0].Raw != "REVOKE: a@x.com" || got[1].Raw != "* CERTIFY: b@x.com -- ok" {
		t.Fatalf("raw lines %q, %q", got[0].Raw, got[1].Raw)
	}
}

func TestParseADF(t *testing.T) {
	p := jira.Paragraph
	txt := jira.Text
	doc := jira.Doc(
		p(txt("Hello "), jira.Mention("acc-1", "@Nina")),
		// The Jira editor auto-links a typed address: same text, mailto href.
		p(txt("REVOKE: "), jira.Link("ivan@acme.com", "mailto:ivan@acme.com"), jira.HardBreak(),
			jira.Strong("CERTIFY:"), txt(" all "), jira.HardBreak(), txt("   ")),
		jira.BulletList(txt("REVOKE: dave@acme.com from SOX-NetSuite-Admins -- moved to IT")),
		jira.Panel("info", txt("CERTIFY: panel@acme.com")),
		&jira.Node{Type: "blockquote", Content: []*jira.Node{p(txt("REVOKE: quoted@acme.com")),
			{Type: "blockquote", Content: []*jira.Node{p(txt("REVOKE: nested@acme.com"))}}}},
		jira.CodeBlock("REVOKE: code@acme.com\nCERTIFY: all"),
		&jira.Node{Type: "expand", Attrs: map[string]any{"title": "old"}, Content: []*jira.Node{p(txt("REVOKE: expand@acme.com"))}},
		&jira.Node{Type: "bodiedExtension", Content: []*jira.Node{p(txt("REVOKE: macro@acme.com"))}},
		p(txt("To revoke write "), jira.Code("REVOKE: user@acme.com"), txt(".")),
		p(jira.Code("CERTIFY: all")),
		p(txt("REVOKE: "), jira.Code("eve@acme.com")),
		p(txt("REVOKE "), jira.Link("frank@acme.com", "mailto:frank@acme.com")),
		jira.Heading(3, txt("CERTIFY: grace@acme.com")),
		jira.Table(jira.TextRow(false, "REVOKE: heidi@acme.com", "note")),
	)
	got, err := ParseADF(doc.Raw())
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, l := range got {
		summary = append(summary, fmt.Sprintf("%d %s %v all=%v from=%q just=%q bad=%v", l.Index, l.Action, l.Targets, l.All, l.Group, l.Justification, l.Malformed != ""))
	}
	want := []string{
		`0 REVOKE [ivan@acme.com] all=false from="" just="" bad=false`,
		`1 CERTIFY [] all=true from="" just="" bad=false`,
		`2 REVOKE [dave@acme.com] all=false from="SOX-NetSuite-Admins" just="moved to IT" bad=false`,
		`3 REVOKE [eve@acme.com] all=false from="" just="" bad=false`,
		`4  [] all=false from="" just="" bad=true`,
		`5 CERTIFY [grace@acme.com] all=false from="" just="" bad=false`,
		`6 REVOKE [heidi@acme.com] all=false from="" just="" bad=false`,
	}
	if !reflect.DeepEqual(summary, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}

	// A v2 body is a JSON string of wiki markup.
	v2, _ := json.Marshal("REVOKE: [a@x.com|mailto:a@x.com]\n{quote}CERTIFY: all{quote}")
	got, err = ParseADF(v2)
	if err != nil || len(got) != 1 || got[0].Targets[0] != "a@x.com" {
		t.Fatalf("v2 body: %+v, %v", got, err)
	}
	if _, err := ParseADF(json.RawMessage(`{"type":`)); err == nil {
		t.Fatal("invalid JSON must be an error")
	}
	if got, err := ParseADF(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty body: %+v, %v", got, err)
	}
}

func TestParseBounds(t *testing.T) {
	// Too many lines: MaxLines are read, then one line says the rest were not.
	var b strings.Builder
	for i := range MaxLines + 50 {
		fmt.Fprintf(&b, "REVOKE: u%d@x.com\n", i)
	}
	got := ParseText(b.String())
	if len(got) != MaxLines+1 {
		t.Fatalf("%d lines, want %d", len(got), MaxLines+1)
	}
	last := got[MaxLines]
	if last.Index != MaxLines || !strings.Contains(last.Malformed, "were not read") || last.Raw != fmt.Sprintf("REVOKE: u%d@x.com", MaxLines) {
		t.Fatalf("last line %+v", last)
	}
	if got[MaxLines-1].Malformed != "" || got[MaxLines-1].Index != MaxLines-1 {
		t.Fatalf("line %d: %+v", MaxLines-1, got[MaxLines-1])
	}

	// Too many targets.
	addrs := make([]string, MaxTargets+1)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("u%d@x.com", i)
	}
	bad("more than 100 addresses").check(t, "targets", ParseText("REVOKE: "+strings.Join(addrs, ", ")))
	rev(addrs[:MaxTargets]...).check(t, "max targets", ParseText("REVOKE: "+strings.Join(addrs[:MaxTargets], ", ")))

	// A long line: malformed, and recorded cut to MaxLineLen.
	long := "REVOKE: a@x.com -- " + strings.Repeat("é", MaxLineLen)
	got = ParseText(long)
	if len(got) != 1 || !strings.Contains(got[0].Malformed, "longer than") || len(got[0].Raw) > MaxLineLen {
		t.Fatalf("long line: %d lines, malformed %q, raw %d bytes", len(got), got[0].Malformed, len(got[0].Raw))
	}
	// A long line of prose is no instruction at all.
	if got := ParseText(strings.Repeat("word ", MaxLineLen)); len(got) != 0 {
		t.Fatalf("long prose: %+v", got)
	}
}

// TestHostileInputStaysLinear feeds 1 MB of shapes that once made the
// parser quadratic (minutes); linear code reads each in milliseconds, so
// the bound is generous enough for -race on a busy machine.
func TestHostileInputStaysLinear(t *testing.T) {
	const mb = 1 << 20
	var nodes []string
	for range 50000 {
		nodes = append(nodes, `{"type":"text","text":"a\n","marks":[{"type":"code"}]}`)
	}
	adf := `{"type":"doc","content":[{"type":"paragraph","content":[` + strings.Join(nodes, ",") + `]}]}`
	for name, in := range map[string]string{
		"quote markers":   strings.Repeat("{quote}", mb/7),
		"unclosed braces": strings.Repeat("{{", mb/2),
		"macro params":    strings.Repeat("{code:", mb/6) + "}",
		"unclosed ticks":  "a" + strings.Repeat("`x", mb/2),
		"keywords":        strings.Repeat("x REVOKE ", mb/9),
		"emphasis":        strings.Repeat("*", mb) + "REVOKE: a@x.com",
		"decision lines":  strings.Repeat("REVOKE: a@x.com\n", mb/16),
		"adf code ranges": adf,
		"mailto prefixes": "REVOKE: " + strings.Repeat("mailto:", MaxLineLen/7),
		"brackets":        "REVOKE: " + strings.Repeat("(", MaxLineLen/2) + "a@x.com",
	} {
		start := time.Now()
		if strings.HasPrefix(in, "{") && strings.Contains(in, `"type"`) {
			if _, err := ParseADF(json.RawMessage(in)); err != nil {
				t.Fatal(err)
			}
		} else {
			ParseText(in)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("%s: %v for %d bytes", name, d, len(in))
		}
	}
}

func TestFromJira(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.FixedZone("x", 3600))
	c, err := FromJira(jira.Comment{ID: "10001", Author: jira.User{AccountID: "acc", DisplayName: "Nina", EmailAddress: "n@x.com"},
		Body: jira.Doc(jira.Paragraph(jira.Text("REVOKE: a@x.com"))).Raw(), Created: at, Updated: at.Add(time.Minute)})
	if err != nil || c.ID != "10001" || c.Author != (Author{AccountID: "acc", DisplayName: "Nina", Email: "n@x.com"}) ||
		c.Created.Location() != time.UTC || !c.Edited() || len(c.Lines) != 1 || c.Lines[0].Targets[0] != "a@x.com" || c.Source != "jira" {
		t.Fatalf("%+v, %v", c, err)
	}
	if _, err := FromJira(jira.Comment{ID: "7", Body: json.RawMessage(`{"type":`)}); err == nil || !strings.Contains(err.Error(), "comment 7") {
		t.Fatalf("bad body: %v", err)
	}
}
