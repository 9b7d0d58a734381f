package decisions

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/jira"
)

// Reply is a comment uar should post on a system's ticket: one per
// decision line of a Jira comment that was rejected or malformed (telling
// its author why), and one per system whose CERTIFY: all left accesses
// pending because of an open HIGH finding (telling the owner which).
//
// Body is the ADF to post. All of it sits in a panel, which the parser
// ignores, so uar never reads its own replies as decisions. Text is the
// same content as plain text for logs and --dry-run; every line after the
// first is quoted with "> " for the same reason.
type Reply struct {
	// Key identifies the reply across runs. Post a reply only if no
	// reply with the same key was posted before. A line reply's key is
	// its comment id and a hash of the line's text (plus its occurrence,
	// if the same text is repeated in the comment), so an edit elsewhere
	// in the comment does not repeat it while a changed line gets its own
	// answer. A system reply's key hashes the list of pending accesses,
	// so it is posted again only when the list changes.
	Key       string          `json:"key"`
	System    string          `json:"system"`
	JiraKey   string          `json:"jira_key"`
	CommentID string          `json:"comment_id"` // the comment answered (system reply: the latest CERTIFY: all held back)
	LineIndex int             `json:"line_index"` // -1 for a system reply
	Mentions  []string        `json:"mentions"`   // accountIds mentioned in Body
	Text      string          `json:"text"`
	Body      json.RawMessage `json:"body"`
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// replies builds system si's replies, sorted by key.
func (r *resolver) replies(si int, o lineOutcomes) []Reply {
	s := r.systems[si]
	var out []Reply
	for k, recs := range o.rejected {
		c := k.comment
		if c.Source != "" && c.Source != model.DecisionSourceJira || c.ID == "" || s.JiraKey == "" {
			continue
		}
		out = append(out, lineReply(s, c, k.index, recs, o.applied[k]))
	}
	if rep, ok := r.pendingHighReply(si, o.guarded); ok {
		out = append(out, rep)
	}
	slices.SortFunc(out, func(a, b Reply) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func lineReply(s *sysState, c *Comment, index int, recs []*record, inPart bool) Reply {
	raw, occ := "", 0
	for _, l := range c.Lines {
		if l.Index == index {
			raw = l.Raw
			break
		}
	}
	for _, l := range c.Lines {
		if l.Index < index && l.Raw == raw {
			occ++
		}
	}
	key := "decision-line/" + c.ID + "/" + shortHash(raw)
	if occ > 0 {
		key += fmt.Sprintf("/%d", occ)
	}
	var reasons []string
	for _, rec := range recs {
		why := rec.Reason
		if rec.access >= 0 {
			why = fmt.Sprintf("%s in %s: %s", rec.Target, rec.GroupName, rec.Reason)
		}
		if !slices.Contains(reasons, why) {
			reasons = append(reasons, why)
		}
	}
	rep := Reply{Key: key, System: s.Name, JiraKey: s.JiraKey, CommentID: c.ID, LineIndex: index, Mentions: []string{}}
	var b strings.Builder
	what := "did not act on"
	if inPart {
		what = "applied only in part"
	}
	fmt.Fprintf(&b, "uar %s a line of comment %s on %s:\n> %s", what, c.ID, s.JiraKey, raw)
	for _, why := range reasons {
		b.WriteString("\n> - " + why)
	}
	rep.Text = b.String()

	intro := []*jira.Node{}
	if c.Author.AccountID != "" {
		rep.Mentions = append(rep.Mentions, c.Author.AccountID)
		intro = append(intro, jira.Mention(c.Author.AccountID, "@"+displayName(c.Author)), jira.Text(" "))
	}
	intro = append(intro, jira.Text("uar "+what+" this line of your comment:"))
	items := make([]*jira.Node, len(reasons))
	for i, why := range reasons {
		items[i] = jira.Text(why)
	}
	rep.Body = jira.Doc(jira.Panel("warning",
		jira.Paragraph(intro...),
		jira.Paragraph(jira.Code(raw)),
		jira.BulletList(items...),
		jira.Paragraph(jira.Text("Decision lines look like "), jira.Code("REVOKE: user@example.com"), jira.Text(", "),
			jira.Code("REVOKE: user@example.com from GROUP"), jira.Text(", "), jira.Code("CERTIFY: all"), jira.Text(" or "),
			jira.Code("CERTIFY: user@example.com -- reason"), jira.Text(", one per line.")),
	)).Raw()
	return rep
}

func displayName(a Author) string {
	if a.DisplayName != "" {
		return a.DisplayName
	}
	return a.AccountID
}

// pendingHighReply tells the owner (and the authors of the CERTIFY: all
// lines held back) which accesses still need an explicit line.
func (r *resolver) pendingHighReply(si int, guarded []*record) (Reply, bool) {
	s := r.systems[si]
	if s.JiraKey == "" {
		return Reply{}, false
	}
	var latest *record
	mentions := []string{}
	if s.Owner.AccountID != "" {
		mentions = append(mentions, s.Owner.AccountID)
	}
	held := map[int]bool{}
	for _, rec := range guarded {
		if rec.Source != model.DecisionSourceJira {
			continue
		}
		held[rec.access] = true
		if latest == nil || cmpOrder(rec.DecidedAt, rec.CommentID, rec.LineIndex, latest.DecidedAt, latest.CommentID, latest.LineIndex) > 0 {
			latest = rec
		}
		if id := rec.comment.Author.AccountID; id != "" && !slices.Contains(mentions, id) {
			mentions = append(mentions, id)
		}
	}
	if latest == nil {
		return Reply{}, false
	}
	var lines []string
	for ai, a := range s.Access { // access order: sorted in prepare
		if !held[ai] {
			continue
		}
		var why []string
		for _, rule := range r.openHigh(si, ai) {
			why = append(why, rule+r.findingTitle(rule, a))
		}
		if len(why) == 0 { // a revocation elsewhere addressed it after all
			continue
		}
		lines = append(lines, fmt.Sprintf("%s in %s: %s", target(a), a.Group, strings.Join(why, "; ")))
	}
	if len(lines) == 0 {
		return Reply{}, false
	}
	rep := Reply{Key: "pending-high/" + s.JiraKey + "/" + shortHash(strings.Join(lines, "\n")), System: s.Name, JiraKey: s.JiraKey,
		CommentID: latest.CommentID, LineIndex: -1, Mentions: mentions}
	const intro = "a blanket certification (all) left these accesses pending, because each has an open HIGH finding. Each needs its own decision line with a justification, or a revocation:"
	rep.Text = "uar on " + s.JiraKey + ": " + intro + "\n> - " + strings.Join(lines, "\n> - ")
	head := []*jira.Node{}
	for _, id := range mentions {
		head = append(head, jira.Mention(id, "@"+id), jira.Text(" "))
	}
	head = append(head, jira.Text(intro))
	items := make([]*jira.Node, len(lines))
	for i, l := range lines {
		items[i] = jira.Text(l)
	}
	rep.Body = jira.Doc(jira.Panel("warning",
		jira.Paragraph(head...),
		jira.BulletList(items...),
		jira.Paragraph(jira.Text("For example: "), jira.Code("CERTIFY: user@example.com -- why the access is still needed"),
			jira.Text(" or "), jira.Code("REVOKE: user@example.com")),
	)).Raw()
	return rep, true
}

// findingTitle returns " (title)" of the first open HIGH finding with the
// rule that names access a, or "".
func (r *resolver) findingTitle(rule string, a Access) string {
	for _, fi := range r.findingsOf(a) {
		if f := r.findings[fi]; f.RuleID == rule && f.Title != "" {
			return " (" + f.Title + ")"
		}
	}
	return ""
}
