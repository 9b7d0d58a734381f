package jira_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/uar-dev/uar/internal/publish/jira"
)

func TestBuilderShapes(t *testing.T) {
	doc := jira.Doc(
		jira.Heading(9, jira.Text("Risk")),
		jira.Paragraph(jira.Text("See "), jira.Link("UAR page", "https://x.example/p?a=1&b=2"), jira.Text("")),
		jira.BulletList(jira.Text("one"), jira.ListItem(jira.Paragraph(jira.Code("two")))),
		jira.Panel("warning", jira.Strong("careful")),
		jira.Table(jira.TextRow(true, "User", "Risk"), jira.TextRow(false, "a@x.com", "")),
	)
	got := string(doc.Raw())
	want := `{"type":"doc","version":1,"content":[` +
		`{"type":"heading","attrs":{"level":6},"content":[{"type":"text","text":"Risk"}]},` +
		`{"type":"paragraph","content":[{"type":"text","text":"See "},{"type":"text","text":"UAR page","marks":[{"type":"link","attrs":{"href":"https://x.example/p?a=1\u0026b=2"}}]}]},` +
		`{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"one"}]}]},` +
		`{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"two","marks":[{"type":"code"}]}]}]}]},` +
		`{"type":"panel","attrs":{"panelType":"warning"},"content":[{"type":"paragraph","content":[{"type":"text","text":"careful","marks":[{"type":"strong"}]}]}]},` +
		`{"type":"table","attrs":{"isNumberColumnEnabled":false,"layout":"default"},"content":[` +
		`{"type":"tableRow","content":[{"type":"tableHeader","content":[{"type":"paragraph","content":[{"type":"text","text":"User"}]}]},{"type":"tableHeader","content":[{"type":"paragraph","content":[{"type":"text","text":"Risk"}]}]}]},` +
		`{"type":"tableRow","content":[{"type":"tableCell","content":[{"type":"paragraph","content":[{"type":"text","text":"a@x.com"}]}]},{"type":"tableCell","content":[{"type":"paragraph"}]}]}]}]}`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	txt, err := jira.ADFText(doc.Raw())
	if err != nil {
		t.Fatal(err)
	}
	if want := "Risk\nSee UAR page\none\ntwo\ncareful\nUser\nRisk\na@x.com"; txt != want {
		t.Fatalf("flattened %q, want %q", txt, want)
	}
}

func TestHostileTextEscapedByConstruction(t *testing.T) {
	hostile := `"}]},{"type":"mention","attrs":{"id":"x"}}<script>]]>&`
	raw := jira.Doc(jira.Paragraph(jira.Text(hostile))).Raw()
	var v struct {
		Content []struct {
			Content []struct{ Type, Text string }
		}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Content) != 1 || len(v.Content[0].Content) != 1 || v.Content[0].Content[0].Text != hostile || v.Content[0].Content[0].Type != "text" {
		t.Fatalf("structure changed: %s", raw)
	}
	if strings.Contains(string(raw), "<script>") {
		t.Fatalf("< and > should be \\u-escaped in the JSON: %s", raw)
	}
}

func TestADFText(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"empty":              {``, ""},
		"null":               {`null`, ""},
		"wiki string":        {`"REVOKE: [a@b.com|mailto:a@b.com]"`, "REVOKE: [a@b.com|mailto:a@b.com]"},
		"hardBreak":          {`{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"REVOKE: a@b.com"},{"type":"hardBreak"},{"type":"text","text":"CERTIFY: all"}]}]}`, "REVOKE: a@b.com\nCERTIFY: all"},
		"inlineCard":         {`{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"see "},{"type":"inlineCard","attrs":{"url":"https://x/y"}}]}]}`, "see https://x/y"},
		"mention no @":       {`{"type":"paragraph","content":[{"type":"mention","attrs":{"id":"1","text":"Nina"}}]}`, "@Nina"},
		"emoji text only":    {`{"type":"paragraph","content":[{"type":"emoji","attrs":{"text":"👍"}}]}`, "👍"},
		"date":               {`{"type":"paragraph","content":[{"type":"text","text":"by "},{"type":"date","attrs":{"timestamp":"1767225600000"}}]}`, "by 2026-01-01"},
		"unknown nodes":      {`{"type":"doc","content":[{"type":"fancyWidget","text":"widget text","content":[{"type":"paragraph","content":[{"type":"text","text":"inner"}]}]},{"type":"mystery"},{"type":"paragraph","content":"not-a-list"}]}`, "widget text\ninner"},
		"codeBlock newlines": {`{"type":"doc","content":[{"type":"codeBlock","content":[{"type":"text","text":"REVOKE: a@b.com\n\nREVOKE: c@d.com"}]}]}`, "REVOKE: a@b.com\nREVOKE: c@d.com"},
		"nested lists":       {`{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"a"}]},{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"b"}]}]}]}]}]}`, "a\nb"},
		"bare array":         {`[{"type":"paragraph","content":[{"type":"text","text":"x"}]},{"type":"rule"},{"type":"paragraph","content":[{"type":"text","text":"y"}]}]`, "x\ny"},
		"scalar":             {`42`, ""},
	} {
		got, err := jira.ADFText(json.RawMessage(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("%s: ADFText = %q, %v; want %q", name, got, err, tc.want)
		}
	}
	if _, err := jira.ADFText(json.RawMessage(`{"type":`)); err == nil {
		t.Error("invalid JSON must be an error")
	}
}

func TestADFLines(t *testing.T) {
	type line = jira.ADFLine
	for name, tc := range map[string]struct {
		in   string
		want []line
	}{
		"plain and hardBreak": {`{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"REVOKE: a@b.com"},{"type":"hardBreak"},{"type":"text","text":"x"}]}]}`,
			[]line{{Text: "REVOKE: a@b.com"}, {Text: "x"}}},
		"blockquote": {`{"type":"doc","content":[{"type":"blockquote","content":[{"type":"paragraph","content":[{"type":"text","text":"REVOKE: a@b.com"}]}]},{"type":"paragraph","content":[{"type":"text","text":"after"}]}]}`,
			[]line{{Text: "REVOKE: a@b.com", Inside: "blockquote"}, {Text: "after"}}},
		"outermost wins": {`{"type":"doc","content":[{"type":"panel","content":[{"type":"blockquote","content":[{"type":"paragraph","content":[{"type":"text","text":"q"}]}]}]}]}`,
			[]line{{Text: "q", Inside: "panel"}}},
		"codeBlock lines": {`{"type":"doc","content":[{"type":"codeBlock","content":[{"type":"text","text":"a\n\nb"}]}]}`,
			[]line{{Text: "a", Inside: "codeBlock"}, {Text: "b", Inside: "codeBlock"}}},
		"nested expand in list": {`{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"nestedExpand","content":[{"type":"paragraph","content":[{"type":"text","text":"in"}]}]},{"type":"paragraph","content":[{"type":"text","text":"out"}]}]}]}`,
			[]line{{Text: "in", Inside: "nestedExpand"}, {Text: "out"}}},
		"inline code spans": {`{"type":"paragraph","content":[{"type":"text","text":"use "},{"type":"text","text":"REVOKE: x","marks":[{"type":"strong"},{"type":"code"}]},{"type":"text","text":" or "},{"type":"text","text":"y","marks":[{"type":"code"}]}]}`,
			[]line{{Text: "use REVOKE: x or y", Code: [][2]int{{4, 13}, {17, 18}}}}},
		"code span split by newline": {`{"type":"paragraph","content":[{"type":"text","text":"a "},{"type":"text","text":"bc\nde","marks":[{"type":"code"}]},{"type":"text","text":" f"}]}`,
			[]line{{Text: "a bc", Code: [][2]int{{2, 4}}}, {Text: "de f", Code: [][2]int{{0, 2}}}}},
		"wiki string": {`"REVOKE: [a|mailto:a]\n\n{quote}x{quote}"`,
			[]line{{Text: "REVOKE: [a|mailto:a]"}, {Text: "{quote}x{quote}"}}},
		"null": {`null`, nil},
	} {
		got, err := jira.ADFLines(json.RawMessage(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: ADFLines = %#v, %v; want %#v", name, got, err, tc.want)
		}
	}
	if _, err := jira.ADFLines(json.RawMessage(`{"type":`)); err == nil {
		t.Error("invalid JSON must be an error")
	}
}

func TestTextDoc(t *testing.T) {
	raw := jira.TextDoc("REVOKE: a@b.com\r\n\r\n<b>&</b>\n").Raw()
	got, err := jira.ADFText(raw)
	if err != nil || got != "REVOKE: a@b.com\n<b>&</b>" {
		t.Fatalf("%q %v", got, err)
	}
	if s := string(jira.TextDoc("").Raw()); s != `{"type":"doc","version":1}` {
		t.Fatalf("empty doc = %s", s)
	}
}

func FuzzADFText(f *testing.F) {
	f.Add(`{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"REVOKE: a@b.com"},{"type":"hardBreak"}]}]}`)
	f.Add(`{"type":"mention","attrs":{"text":5}}`)
	f.Add(`{"type":"date","attrs":{"timestamp":"99999999999999999999"}}`)
	f.Add(`[[[[{"content":[{"content":{}}]}]]]]`)
	f.Add(`"x"`)
	f.Add(`{"type":"blockquote","content":[{"type":"paragraph","content":[{"type":"text","text":"a\nb","marks":[{"type":"code"}]}]}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		out, err := jira.ADFText(json.RawMessage(s))
		if err != nil {
			if json.Valid([]byte(s)) {
				t.Fatalf("valid JSON %q gave error %v", s, err)
			}
			return
		}
		if s2 := strings.TrimSpace(s); !strings.HasPrefix(s2, `"`) {
			lines, err := jira.ADFLines(json.RawMessage(s))
			if err != nil {
				t.Fatalf("ADFLines failed where ADFText did not: %v", err)
			}
			texts := make([]string, len(lines))
			for i, l := range lines {
				texts[i] = l.Text
				end := 0
				for _, c := range l.Code {
					if c[0] < end || c[0] >= c[1] || c[1] > len(l.Text) {
						t.Fatalf("line %q: bad code range %v", l.Text, l.Code)
					}
					end = c[1]
				}
				if l.Inside != "" && !jira.SetApart(l.Inside) {
					t.Fatalf("line %q: Inside %q", l.Text, l.Inside)
				}
			}
			if j := strings.Join(texts, "\n"); j != out {
				t.Fatalf("ADFLines joined = %q, ADFText = %q", j, out)
			}
			for _, line := range strings.Split(out, "\n") {
				if out != "" && strings.TrimSpace(line) == "" {
					t.Fatalf("empty line in %q", out)
				}
			}
		}
		// Round trip: text built by the builder reads back unchanged (JSON
		// turns invalid UTF-8 into U+FFFD, so only valid text is compared).
		if line := strings.TrimSpace(strings.ReplaceAll(s, "\n", " ")); line != "" && utf8.ValidString(line) && !strings.ContainsAny(line, "\r\v\f\u0085\u2028\u2029") {
			back, err := jira.ADFText(jira.Doc(jira.Paragraph(jira.Text(line))).Raw())
			if err != nil || back != strings.TrimRight(line, " \t") {
				t.Fatalf("round trip of %q = %q, %v", line, back, err)
			}
		}
	})
}
