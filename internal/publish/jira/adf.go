package jira

// This file owns the Atlassian Document Format (ADF) conventions of uar:
// rich text is built as a tree of Node values and serialised with
// encoding/json, never by string concatenation, so text that looks like
// markup or JSON (`<script>`, `"}]}`, `]]>`) stays text. Reading goes the
// other way through ADFText, which turns any ADF document into plain text
// with one line per block, and ADFLines, which also says which lines are
// quoted (blockquote, code block, panel...) and which parts are inline
// code, for the decision parser.
//
// Spec: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Node is one ADF node. Attrs is a map so that encoding/json writes its
// keys sorted: the same document always serialises to the same bytes.
type Node struct {
	Type    string         `json:"type"`
	Version int            `json:"version,omitempty"` // 1 on the doc node only
	Attrs   map[string]any `json:"attrs,omitempty"`
	Content []*Node        `json:"content,omitempty"`
	Text    string         `json:"text,omitempty"`
	Marks   []Mark         `json:"marks,omitempty"`
}

// Mark decorates a text node (strong, em, code, link...).
type Mark struct {
	Type  string         `json:"type"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// Raw returns the node as JSON, for IssueFields.Description and comment
// bodies. A nil node gives an empty document.
func (n *Node) Raw() json.RawMessage {
	if n == nil {
		n = Doc()
	}
	b, err := json.Marshal(n)
	if err != nil {
		// Only unsupported values in Attrs can fail, and the builders put
		// only strings and ints there.
		panic(fmt.Sprintf("jira: marshal ADF: %v", err))
	}
	return b
}

// compact drops nil nodes, so builders can be given optional parts
// (Text("") is nil because Jira rejects empty text nodes with a 400).
func compact(ns []*Node) []*Node {
	out := make([]*Node, 0, len(ns))
	for _, n := range ns {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// isInline reports whether an ADF node type lives inside a paragraph.
func isInline(t string) bool {
	switch t {
	case "text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status", "mediaInline", "placeholder", "inlineExtension":
		return true
	}
	return false
}

// Doc is the top-level document (type doc, version 1).
func Doc(blocks ...*Node) *Node {
	return &Node{Type: "doc", Version: 1, Content: blocks2(blocks)}
}

// blocks2 drops nils and wraps stray inline nodes in a paragraph, since a
// doc or a list item may only hold block nodes.
func blocks2(ns []*Node) []*Node {
	ns = compact(ns)
	out := make([]*Node, 0, len(ns))
	var run []*Node
	for _, n := range ns {
		if isInline(n.Type) {
			run = append(run, n)
			continue
		}
		if len(run) > 0 {
			out = append(out, Paragraph(run...))
			run = nil
		}
		out = append(out, n)
	}
	if len(run) > 0 {
		out = append(out, Paragraph(run...))
	}
	return out
}

// Paragraph is a paragraph of inline nodes.
func Paragraph(inline ...*Node) *Node {
	return &Node{Type: "paragraph", Content: compact(inline)}
}

// Text is a text node, or nil when s is empty (Jira refuses empty text).
func Text(s string, marks ...Mark) *Node {
	if s == "" {
		return nil
	}
	return &Node{Type: "text", Text: s, Marks: marks}
}

// Strong is bold text.
func Strong(s string) *Node { return Text(s, Mark{Type: "strong"}) }

// Em is italic text.
func Em(s string) *Node { return Text(s, Mark{Type: "em"}) }

// Code is inline monospace text.
func Code(s string) *Node { return Text(s, Mark{Type: "code"}) }

// Link is text linking to href. An empty text shows the href itself.
func Link(text, href string) *Node {
	if text == "" {
		text = href
	}
	return Text(text, Mark{Type: "link", Attrs: map[string]any{"href": href}})
}

// HardBreak is a line break inside a paragraph.
func HardBreak() *Node { return &Node{Type: "hardBreak"} }

// Mention mentions a user by account id; text is shown (e.g. "@Nina").
func Mention(accountID, text string) *Node {
	return &Node{Type: "mention", Attrs: map[string]any{"id": accountID, "text": text}}
}

// Heading is a heading of level 1–6 (clamped).
func Heading(level int, inline ...*Node) *Node {
	level = min(max(level, 1), 6)
	return &Node{Type: "heading", Attrs: map[string]any{"level": level}, Content: compact(inline)}
}

// ListItem is a list item of block nodes (inline nodes get a paragraph).
func ListItem(blocks ...*Node) *Node {
	return &Node{Type: "listItem", Content: blocks2(blocks)}
}

// BulletList is a bullet list. Items that are not listItem nodes are
// wrapped in one, so BulletList(Text("a"), Paragraph(...)) works.
func BulletList(items ...*Node) *Node { return list("bulletList", items) }

// OrderedList is a numbered list; items as for BulletList.
func OrderedList(items ...*Node) *Node { return list("orderedList", items) }

func list(typ string, items []*Node) *Node {
	items = compact(items)
	n := &Node{Type: typ, Content: make([]*Node, 0, len(items))}
	for _, it := range items {
		if it.Type != "listItem" {
			it = ListItem(it)
		}
		n.Content = append(n.Content, it)
	}
	return n
}

// Panel is a coloured panel: panelType is info, note, warning, success or
// error.
func Panel(panelType string, blocks ...*Node) *Node {
	return &Node{Type: "panel", Attrs: map[string]any{"panelType": panelType}, Content: blocks2(blocks)}
}

// CodeBlock is a block of preformatted text.
func CodeBlock(text string) *Node {
	return &Node{Type: "codeBlock", Content: compact([]*Node{Text(text)})}
}

// Rule is a horizontal rule.
func Rule() *Node { return &Node{Type: "rule"} }

// Table is a table of TableRow nodes.
func Table(rows ...*Node) *Node {
	return &Node{Type: "table", Attrs: map[string]any{"isNumberColumnEnabled": false, "layout": "default"}, Content: compact(rows)}
}

// TableRow is a row of TableHeader or TableCell nodes.
func TableRow(cells ...*Node) *Node { return &Node{Type: "tableRow", Content: compact(cells)} }

// TableHeader is a header cell; inline nodes get a paragraph.
func TableHeader(blocks ...*Node) *Node {
	return &Node{Type: "tableHeader", Content: cellContent(blocks)}
}

// TableCell is a body cell; inline nodes get a paragraph.
func TableCell(blocks ...*Node) *Node { return &Node{Type: "tableCell", Content: cellContent(blocks)} }

// cellContent keeps a cell valid: Jira requires at least one paragraph.
func cellContent(blocks []*Node) []*Node {
	c := blocks2(blocks)
	if len(c) == 0 {
		c = []*Node{Paragraph()}
	}
	return c
}

// TextRow is a convenience: a table row of plain-text cells (header cells
// when header is true).
func TextRow(header bool, cells ...string) *Node {
	row := &Node{Type: "tableRow"}
	for _, s := range cells {
		if header {
			row.Content = append(row.Content, TableHeader(Text(s)))
		} else {
			row.Content = append(row.Content, TableCell(Text(s)))
		}
	}
	return row
}

// TextDoc turns plain text into a document with one paragraph per line
// (blank lines dropped), e.g. for a reply comment.
func TextDoc(s string) *Node {
	var ps []*Node
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			ps = append(ps, Paragraph(Text(line)))
		}
	}
	return Doc(ps...)
}

// ADFText flattens an ADF document to plain text: one line per paragraph,
// heading, list item, table cell and hardBreak, lines joined with "\n",
// empty lines dropped. Inline nodes become their visible text: a mention
// its "@Name", an emoji its short name, an inlineCard its URL, a date its
// YYYY-MM-DD, a status lozenge its label; a linked text stays its text (so
// an auto-linked "a@b.com" reads back as "a@b.com"). Unknown node types are
// tolerated: their text and children are read as if they were blocks.
//
// raw may also be a JSON string (a v2 wiki-markup body), returned as is, or
// null/empty, giving "". It returns an error only if raw is not JSON.
func ADFText(raw json.RawMessage) (string, error) {
	v, err := decodeADF(raw)
	if err != nil {
		return "", err
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	lines := flatten(v)
	texts := make([]string, len(lines))
	for i, l := range lines {
		texts[i] = l.Text
	}
	return strings.Join(texts, "\n"), nil
}

// ADFLine is one line of an ADF document as ADFText flattens it, with
// where it sits: enough for a reader that must tell the author's own words
// from quoted or example text (the decision parser ignores both).
type ADFLine struct {
	Text string
	// Inside is the type of the outermost node around the line that sets
	// its content apart from the author's own words (see [SetApart]), or ""
	// when there is none.
	Inside string
	// Code holds the byte ranges [start, end) of Text written with an
	// inline code mark, in order.
	Code [][2]int
}

// SetApart reports whether text inside an ADF node of type typ is set
// apart from the comment author's own words: a quotation (blockquote),
// code or preformatted text (codeBlock), a panel or an expand (which uar
// itself and Jira's quoting use), or an extension (a macro).
func SetApart(typ string) bool {
	switch typ {
	case "blockquote", "codeBlock", "panel", "expand", "nestedExpand",
		"extension", "bodiedExtension", "multiBodiedExtension", "extensionFrame":
		return true
	}
	return false
}

// ADFLines flattens an ADF document exactly as ADFText does (the Text of
// the lines joined with "\n" is ADFText's result) and says, per line,
// whether it sits inside a [SetApart] node and which parts are inline code.
// A JSON string body (v2 wiki markup) gives one line per non-blank line of
// the string, with no Inside or Code: wiki markup is not interpreted here.
// It returns an error only if raw is not JSON.
func ADFLines(raw json.RawMessage) ([]ADFLine, error) {
	v, err := decodeADF(raw)
	if err != nil {
		return nil, err
	}
	if s, ok := v.(string); ok {
		var out []ADFLine
		for _, l := range strings.Split(s, "\n") {
			if strings.TrimSpace(l) != "" {
				out = append(out, ADFLine{Text: l})
			}
		}
		return out, nil
	}
	return flatten(v), nil
}

// decodeADF decodes a body: nil for null or empty input.
func decodeADF(raw json.RawMessage) (any, error) {
	var v any
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil, nil
	}
	// UseNumber: a huge number in some attribute must not fail the whole
	// comment (float64 overflows).
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("jira: ADF body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("jira: ADF body: trailing data after the document")
	}
	return v, nil
}

func flatten(v any) []ADFLine {
	f := &flattener{}
	switch v := v.(type) {
	case map[string]any:
		f.node(v)
	case []any: // a bare content array
		f.children(v)
	}
	f.flush()
	return f.lines
}

type flattener struct {
	lines []ADFLine
	cur   strings.Builder
	code  [][2]int // inline code ranges in cur
	apart string   // outermost SetApart node around cur, "" if none
}

func (f *flattener) flush() {
	if s := strings.TrimRight(f.cur.String(), " \t"); strings.TrimSpace(s) != "" {
		off, k := 0, 0
		for _, l := range strings.Split(s, "\n") {
			// Ranges are in order: skip those that ended before this line,
			// so a paragraph of many lines and ranges stays linear.
			for k < len(f.code) && f.code[k][1] <= off {
				k++
			}
			if strings.TrimSpace(l) != "" {
				f.lines = append(f.lines, ADFLine{Text: l, Inside: f.apart, Code: clip(f.code[k:], off, off+len(l))})
			}
			off += len(l) + 1
		}
	}
	f.cur.Reset()
	f.code = f.code[:0]
}

// clip returns the parts of the ordered ranges rs inside [lo, hi),
// shifted to start at lo; nil if none.
func clip(rs [][2]int, lo, hi int) [][2]int {
	var out [][2]int
	for _, r := range rs {
		if r[0] >= hi {
			break
		}
		a, b := max(r[0], lo), min(r[1], hi)
		if a < b {
			out = append(out, [2]int{a - lo, b - lo})
		}
	}
	return out
}

func (f *flattener) children(c []any) {
	for _, x := range c {
		if m, ok := x.(map[string]any); ok {
			f.node(m)
		}
	}
}

func str(m map[string]any, k string) string {
	if m == nil {
		return ""
	}
	switch v := m[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// hasMark reports whether a text node carries a mark of type typ.
func hasMark(n map[string]any, typ string) bool {
	marks, _ := n["marks"].([]any)
	for _, m := range marks {
		if mm, ok := m.(map[string]any); ok && mm["type"] == typ {
			return true
		}
	}
	return false
}

func (f *flattener) node(n map[string]any) {
	typ, _ := n["type"].(string)
	attrs, _ := n["attrs"].(map[string]any)
	content, _ := n["content"].([]any)
	switch typ {
	case "text":
		t := str(n, "text")
		if t != "" && hasMark(n, "code") {
			start := f.cur.Len()
			f.code = append(f.code, [2]int{start, start + len(t)})
		}
		f.cur.WriteString(t)
	case "hardBreak":
		f.flush()
	case "mention":
		t := str(attrs, "text")
		if t == "" {
			t = str(attrs, "displayName")
		}
		if t == "" {
			t = str(attrs, "id")
		}
		if !strings.HasPrefix(t, "@") {
			t = "@" + t
		}
		f.cur.WriteString(t)
	case "emoji":
		t := str(attrs, "shortName")
		if t == "" {
			t = str(attrs, "text")
		}
		f.cur.WriteString(t)
	case "inlineCard", "blockCard", "embedCard":
		if u := str(attrs, "url"); u != "" {
			if isInline(typ) {
				f.cur.WriteString(u)
			} else {
				f.flush()
				f.cur.WriteString(u)
				f.flush()
			}
		}
	case "date":
		ts := str(attrs, "timestamp")
		if ms, err := strconv.ParseInt(ts, 10, 64); err == nil {
			ts = time.UnixMilli(ms).UTC().Format("2006-01-02")
		}
		f.cur.WriteString(ts)
	case "status", "placeholder":
		f.cur.WriteString(str(attrs, "text"))
	default:
		// A block (paragraph, heading, listItem, codeBlock, tableCell...)
		// or an unknown node: its own text, then its children, on lines of
		// their own.
		f.flush()
		outer := f.apart
		if outer == "" && SetApart(typ) {
			f.apart = typ
		}
		if t := str(n, "text"); t != "" {
			f.cur.WriteString(t)
		}
		f.children(content)
		f.flush()
		f.apart = outer
	}
}
