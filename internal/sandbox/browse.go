package sandbox

// Browser views: the URLs uar prints (a ticket's /browse/KEY, a page's
// webui path) open in a browser without credentials, as read-only HTML,
// so a newcomer can look at what a review published. They are a
// convenience of the fakes, not part of the services' APIs.

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
)

const browseHead = `<!doctype html><meta charset="utf-8"><title>%s</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}
.fake{background:#fffae6;border:1px solid #ffab00;padding:.5em 1em;margin-bottom:1.5em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;font-size:13px}
.comment{border-left:3px solid #0052cc;padding:.2em 1em;margin:1em 0;white-space:pre-wrap}
.meta{color:#555;font-size:13px}</style>
<div class="fake">uar sandbox: a FAKE %s on loopback. Nothing here is real.</div>
`

// adfPlain flattens an ADF document to text: one line per block.
func adfPlain(raw json.RawMessage) string {
	var n struct {
		Type    string            `json:"type"`
		Text    string            `json:"text"`
		Content []json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &n) != nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(n.Text)
	for _, c := range n.Content {
		b.WriteString(adfPlain(c))
	}
	switch n.Type {
	case "paragraph", "heading", "listItem", "codeBlock", "hardBreak":
		b.WriteString("\n")
	}
	return b.String()
}

// browseIssue serves GET /browse/{KEY}.
func (j *Jira) browseIssue(w http.ResponseWriter, key string) {
	j.mu.Lock()
	is := j.find(key)
	var c JiraIssue
	if is != nil {
		c = *is
	}
	j.mu.Unlock()
	if is == nil {
		http.Error(w, "no such issue in the sandbox Jira", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	fmt.Fprintf(&b, browseHead, html.EscapeString(c.Key), "Jira")
	fmt.Fprintf(&b, "<h1>%s: %s</h1><p class=meta>%s · priority %s · labels %s · assignee %s</p>",
		html.EscapeString(c.Key), html.EscapeString(c.Summary), html.EscapeString(c.Status), html.EscapeString(c.Priority),
		html.EscapeString(strings.Join(c.Labels, ", ")), html.EscapeString(c.Assignee))
	fmt.Fprintf(&b, "<div class=comment>%s</div><h2>Comments</h2>", html.EscapeString(adfPlain(c.Description)))
	for _, cm := range c.Comments {
		fmt.Fprintf(&b, "<p class=meta>%s · %s</p><div class=comment>%s</div>", html.EscapeString(cm.AuthorEmail),
			j.fmtTime(cm.Created), html.EscapeString(adfPlain(cm.Body)))
	}
	_, _ = w.Write([]byte(b.String()))
}

// browsePage serves GET /wiki/spaces/{space}/pages/{id}/... with the
// page's current storage body (a browser shows its tables and text; the
// macros it does not know show as plain text).
func (c *Confluence) browsePage(w http.ResponseWriter, id string) {
	c.mu.Lock()
	p := c.find(id)
	var title string
	var v ConfluenceVersion
	if p != nil {
		title, v = p.Title, p.Current()
	}
	c.mu.Unlock()
	if p == nil {
		http.Error(w, "no such page in the sandbox Confluence", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	var b strings.Builder
	fmt.Fprintf(&b, browseHead, html.EscapeString(title), "Confluence")
	fmt.Fprintf(&b, "<h1>%s</h1><p class=meta>version %d</p>%s", html.EscapeString(title), v.Number, v.Body)
	_, _ = w.Write([]byte(b.String()))
}
