package decisions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/jira"
)

// Bounds on what one comment can make uar read (see the package doc).
const (
	MaxLineLen = 4096 // bytes of one line
	MaxTargets = 100  // addresses on one line
	MaxLines   = 200  // decision lines in one comment
)

// Line is one decision line of a comment: parsed, or malformed with the
// reason. Lines that are not instructions are not returned at all.
type Line struct {
	// Index is the line's position among the decision lines of its
	// comment, from 0 (for a CSV row: the row's line in the file).
	Index int `json:"index"`
	// Raw is the line as written, trimmed and cut to MaxLineLen bytes.
	Raw string `json:"raw"`
	// Action is model.ActionCertify or model.ActionRevoke; "" when the
	// line is malformed.
	Action string `json:"action"`
	// All is true for "all"; Targets is then nil.
	All bool `json:"all"`
	// Targets are the addresses in order of appearance, cleaned of
	// links and punctuation, each once (compared case-insensitively).
	Targets []string `json:"targets"`
	// Subject is what the line names, as written ("all", "a@x, b@x"); on
	// a malformed line whatever could be read of it.
	Subject string `json:"subject"`
	// Group is the group after "from", "" if none.
	Group string `json:"group"`
	// Justification is the text after the separator, "" if none.
	Justification string `json:"justification"`
	// Malformed says why the line does not parse; "" when it does.
	Malformed string `json:"malformed"`
}

// ParseADF reads the decision lines of a Jira comment body: an ADF
// document (REST v3), or a JSON string holding wiki markup (REST v2),
// which is read as by ParseText. Lines inside blockquote, codeBlock,
// panel, expand and extension nodes are skipped. It returns an error only
// when body is not JSON.
func ParseADF(body json.RawMessage) ([]Line, error) {
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, fmt.Errorf("decisions: comment body: %w", err)
		}
		return ParseText(s), nil
	}
	lines, err := jira.ADFLines(body)
	if err != nil {
		return nil, fmt.Errorf("decisions: comment body: %w", err)
	}
	var p parser
	for _, l := range lines {
		if l.Inside != "" {
			continue
		}
		if !p.add(l.Text, l.Code) {
			break
		}
	}
	return p.lines, nil
}

// FromJira turns a comment read with jira.Client.ListComments into the
// Comment Resolve reads, parsing its body with ParseADF. The error names
// the comment; a caller should record it and go on with the others.
func FromJira(c jira.Comment) (Comment, error) {
	lines, err := ParseADF(c.Body)
	if err != nil {
		return Comment{}, fmt.Errorf("decisions: comment %s: %w", c.ID, err)
	}
	return Comment{
		ID:      c.ID,
		Source:  model.DecisionSourceJira,
		Author:  Author{AccountID: c.Author.AccountID, DisplayName: c.Author.DisplayName, Email: c.Author.EmailAddress},
		Created: c.Created.UTC(),
		Updated: c.Updated.UTC(),
		Lines:   lines,
	}, nil
}

// ParseText reads the decision lines of plain text: wiki markup (a REST
// v2 body), Markdown or text typed anywhere else. Quoted, code and panel
// blocks are skipped as described in the package doc.
func ParseText(s string) []Line {
	s = strings.ToValidUTF8(s, "\uFFFD") // records are hashed as JSON, which would do it silently
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var p parser
	block := ""
	for _, raw := range strings.Split(s, "\n") {
		var visible string
		visible, block = maskBlocks(raw, block)
		if strings.TrimSpace(visible) == "" {
			continue
		}
		if !p.add(visible, inlineCode(visible)) {
			break
		}
	}
	return p.lines
}

// parser collects the decision lines of one comment, up to MaxLines.
type parser struct {
	lines []Line
	done  bool
}

// add reads one line; it returns false once the comment has more decision
// lines than MaxLines (the last line then says the rest were not read).
func (p *parser) add(text string, code [][2]int) bool {
	if p.done {
		return false
	}
	l, ok := parseLine(text, code)
	if !ok {
		return true
	}
	if len(p.lines) == MaxLines {
		p.lines = append(p.lines, Line{Index: MaxLines, Raw: l.Raw, Subject: l.Subject,
			Malformed: fmt.Sprintf("more than %d decision lines in one comment: this line and the ones after it were not read; split them over several comments", MaxLines)})
		p.done = true
		return false
	}
	l.Index = len(p.lines)
	p.lines = append(p.lines, l)
	return true
}

// Words that read as a decision keyword but are not one: their lines are
// malformed rather than ignored, so the author learns the line did nothing.
var otherKeywords = map[string]bool{
	"APPROVE": true, "APPROVED": true, "ACCEPT": true, "CONFIRM": true, "CERTIFIED": true,
	"DENY": true, "DENIED": true, "REJECT": true, "REMOVE": true, "DELETE": true,
	"DISABLE": true, "SUSPEND": true, "REVOKED": true, "KEEP": true, "RETAIN": true, "GRANT": true,
}

// Words that cannot be an address although they look like a login.
var notAddresses = map[string]bool{
	"everyone": true, "everybody": true, "anyone": true, "anybody": true, "none": true,
	"nobody": true, "noone": true, "nothing": true, "others": true, "rest": true, "remaining": true,
	"users": true, "members": true, "people": true, "me": true, "myself": true, "yes": true,
	"no": true, "ok": true, "okay": true,
}

// parseLine reads one line. ok is false when the line is not an
// instruction at all (prose, quoted text, a keyword in inline code).
func parseLine(text string, code [][2]int) (l Line, ok bool) {
	text = strings.Map(noControl, text)
	head := cutBytes(text, MaxLineLen)
	l.Raw = strings.TrimSpace(head)
	start, quoted, emph := skipDecoration(head)
	if quoted {
		return l, false
	}
	word, end := readWord(head, start)
	colon, rest := colonAfter(head, end)
	restText := head[rest:]
	if !colon {
		restText = head[end:]
	}
	upper := isUpper(word)
	kw := strings.ToUpper(word)
	exact := kw == model.ActionRevoke || kw == model.ActionCertify
	other := !exact && (otherKeywords[kw] || nearMiss(kw))
	switch {
	case (exact || other) && inSpans(code, start):
		return l, false // the syntax shown as inline code
	case exact && colon:
		// A decision: parsed below.
	case exact && (upper || addressed(restText)):
		l.Subject = subjectOf(restText)
		l.Malformed = fmt.Sprintf("missing colon after %s (write %s, a colon, then the addresses or all)", word, kw)
		return l, true
	case other && (colon || upper && len(kw) > 2 || strings.Contains(restText, "@")):
		l.Subject = subjectOf(restText)
		l.Malformed = fmt.Sprintf("unknown keyword %q: uar reads only CERTIFY: and REVOKE:", word)
		return l, true
	default:
		if i := midLineKeyword(head, start, code); i >= 0 {
			l.Malformed = "a decision must start its own line: nothing may come before the keyword"
			return l, true
		}
		return l, false
	}
	if len(text) > MaxLineLen {
		l.Malformed = fmt.Sprintf("line longer than %d bytes: not read", MaxLineLen)
		return l, true
	}
	l.parseBody(kw, restText, emph)
	if l.Malformed != "" {
		l.Action, l.All, l.Targets = "", false, nil
	}
	return l, true
}

// parseBody reads what follows "KEYWORD:".
func (l *Line) parseBody(action, s, emph string) {
	head, just, _ := splitJustification(s)
	l.Justification = trimEmphasis(strings.TrimSpace(just), emph)
	head = normaliseLinks(head)
	subject, group, fromFound, err := splitFrom(head)
	l.Subject = cutBytes(strings.TrimSpace(trimEmphasis(subject, emph)), 256)
	if err != "" {
		l.Malformed = err
		return
	}
	if fromFound {
		group = cleanGroup(group, emph)
		switch {
		case group == "":
			l.Malformed = `"from" needs a group name after it`
			return
		case len(group) > 256:
			l.Malformed = "group name longer than 256 bytes"
			return
		}
		l.Group = group
	}
	items := strings.FieldsFunc(subject, func(r rune) bool { return r == ',' || r == ';' })
	if len(items) > MaxTargets {
		l.Malformed = fmt.Sprintf("more than %d addresses on one line: split them over several lines", MaxTargets)
		return
	}
	seen := map[string]bool{}
	for _, it := range items {
		words := strings.Fields(it)
		var toks []string
		for _, w := range words {
			if t := cleanAddress(w, emph); t != "" {
				toks = append(toks, t)
			}
		}
		if len(toks) == 0 {
			continue
		}
		if strings.HasPrefix(toks[0], "@") {
			l.Malformed = fmt.Sprintf("%s is a mention: write the user's e-mail address", quote(strings.Join(words, " ")))
			return
		}
		if len(toks) > 1 {
			l.Malformed = fmt.Sprintf("unexpected %s after %s: separate addresses with commas, and put a justification after \" -- \"",
				quote(cutBytes(strings.Join(toks[1:], " "), 80)), quote(toks[0]))
			return
		}
		t := toks[0]
		switch low := strings.ToLower(t); {
		case low == "all":
			l.All = true
		case notAddresses[low]:
			l.Malformed = fmt.Sprintf("%s is not an address: write all, or list the addresses", quote(t))
			return
		case !isEmail(t) && !isLogin(t):
			l.Malformed = fmt.Sprintf("%s is not an e-mail address or login", quote(cutBytes(t, 80)))
			return
		case !seen[low]:
			seen[low] = true
			l.Targets = append(l.Targets, t)
		}
	}
	switch {
	case l.All && len(l.Targets) > 0:
		l.Malformed = "all cannot be combined with addresses"
	case l.All && action == model.ActionRevoke:
		l.Malformed = "REVOKE: all is not accepted: name each user to revoke"
	case !l.All && len(l.Targets) == 0:
		l.Malformed = fmt.Sprintf("no target: write an e-mail address, a login or all after %s:", action)
	default:
		l.Action = action
	}
}

// splitFrom splits "targets from group" at the first word "from".
func splitFrom(s string) (subject, group string, found bool, malformed string) {
	idx := fieldsIndex(s)
	for i, f := range idx {
		if !strings.EqualFold(trimEmphasis(s[f[0]:f[1]], "*_"), "from") {
			continue
		}
		group = s[f[1]:]
		for _, g := range idx[i+1:] {
			if strings.EqualFold(s[g[0]:g[1]], "from") {
				return s[:f[0]], "", true, `"from" appears twice: name one group per line`
			}
		}
		return s[:f[0]], group, true, ""
	}
	return s, "", false, ""
}

// fieldsIndex returns the byte ranges of the whitespace-separated fields
// of s.
func fieldsIndex(s string) [][2]int {
	var out [][2]int
	start := -1
	for i, r := range s {
		if unicode.IsSpace(r) {
			if start >= 0 {
				out = append(out, [2]int{start, i})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, len(s)})
	}
	return out
}

// splitJustification cuts s at the first separator: "--" (more hyphens
// allowed) at the start or after whitespace, an em dash anywhere, or an
// en dash between whitespace. Hyphens inside an address (a--b@x,
// xn--domain) are not separators.
func splitJustification(s string) (head, just string, found bool) {
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		afterSpace := i == 0 || isSpaceBefore(s, i)
		switch {
		case r == '—':
			return s[:i], s[i+w:], true
		case r == '-' && strings.HasPrefix(s[i:], "--") && afterSpace:
			j := i
			for j < len(s) && s[j] == '-' {
				j++
			}
			return s[:i], s[j:], true
		case r == '–' && afterSpace && (i+w == len(s) || isSpaceAt(s, i+w)):
			return s[:i], s[i+w:], true
		}
		i += w
	}
	return s, "", false
}

func isSpaceBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return unicode.IsSpace(r)
}

func isSpaceAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsSpace(r)
}

// skipDecoration returns where the text of a line starts after bullets,
// numbering, emphasis and headings; quoted is true for a quoted line
// ("> ..." or wiki "bq. ..."). emph holds the emphasis characters seen.
func skipDecoration(s string) (start int, quoted bool, emph string) {
	i := 0
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += w
		case r == '>':
			return i, true, emph
		case strings.ContainsRune("*_~^+", r):
			if !strings.ContainsRune(emph, r) {
				emph += string(r)
			}
			i += w
		case strings.ContainsRune("-•·‣◦▪●○■□➢➤→#\"“‘'([", r):
			i += w
		case r >= '0' && r <= '9':
			j := i
			for j < len(s) && j-i < 4 && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j < len(s) && (s[j] == '.' || s[j] == ')') {
				i = j + 1
				continue
			}
			return i, false, emph
		case hasPrefixFold(s[i:], "bq.") && (len(s) == i+3 || isSpaceAt(s, i+3)):
			return i, true, emph
		case len(s) > i+3 && (r == 'h' || r == 'H') && s[i+1] >= '1' && s[i+1] <= '6' && s[i+2] == '.' && isSpaceAt(s, i+3):
			i += 3
		case unicode.IsLetter(r) && len(s) > i+w && s[i+w] == ')' && (len(s) == i+w+1 || isSpaceAt(s, i+w+1)):
			i += w + 1 // "a) "
		default:
			return i, false, emph
		}
	}
	return i, false, emph
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// readWord returns the run of letters at i and where it ends.
func readWord(s string, i int) (string, int) {
	j := i
	for j < len(s) {
		r, w := utf8.DecodeRuneInString(s[j:])
		if !unicode.IsLetter(r) {
			break
		}
		j += w
	}
	return s[i:j], j
}

// colonAfter skips spaces and emphasis after a keyword and reports
// whether a colon follows, and where the text after it (and after more
// emphasis) starts.
func colonAfter(s string, i int) (bool, int) {
	j := skipSpaceEmph(s, i)
	r, w := utf8.DecodeRuneInString(s[j:])
	if j < len(s) && (r == ':' || r == '：') {
		return true, skipSpaceEmph(s, j+w)
	}
	return false, i
}

func skipSpaceEmph(s string, i int) int {
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) && !strings.ContainsRune("*_~^+", r) {
			break
		}
		i += w
	}
	return i
}

// isUpper reports whether word has at least two letters and no lower-case
// one.
func isUpper(word string) bool {
	n := 0
	for _, r := range word {
		if unicode.IsLower(r) {
			return false
		}
		n++
	}
	return n >= 2
}

// addressed reports whether the text after a keyword without a colon
// reads like its object: it has an address or starts with "all".
func addressed(rest string) bool {
	if strings.Contains(rest, "@") {
		return true
	}
	f := strings.Fields(rest)
	return len(f) > 0 && strings.EqualFold(strings.TrimRight(trimEmphasis(f[0], "*_"), ".,;!"), "all")
}

// nearMiss reports whether kw is one edit (insertion, deletion,
// substitution or transposition) away from a keyword.
func nearMiss(kw string) bool {
	if len(kw) < 5 {
		return false
	}
	return editOne(kw, model.ActionRevoke) || editOne(kw, model.ActionCertify)
}

func editOne(a, b string) bool {
	if a == b {
		return false
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	switch len(b) - len(a) {
	case 0:
		diff := []int{}
		for i := range len(a) {
			if a[i] != b[i] {
				diff = append(diff, i)
				if len(diff) > 2 {
					return false
				}
			}
		}
		return len(diff) == 1 || len(diff) == 2 && diff[1] == diff[0]+1 && a[diff[0]] == b[diff[1]] && a[diff[1]] == b[diff[0]]
	case 1:
		i := 0
		for i < len(a) && a[i] == b[i] {
			i++
		}
		return a[i:] == b[i+1:]
	}
	return false
}

// midLineKeyword finds "REVOKE:" or "CERTIFY:" in capitals after other text
// on the line, outside inline code; -1 if none.
func midLineKeyword(s string, start int, code [][2]int) int {
	for _, kw := range []string{"REVOKE", "CERTIFY"} {
		for off := start; off < len(s); {
			i := strings.Index(s[off:], kw)
			if i < 0 {
				break
			}
			i += off
			off = i + len(kw)
			if r, _ := utf8.DecodeLastRuneInString(s[:i]); i > 0 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				continue
			}
			if ok, _ := colonAfter(s, i+len(kw)); ok && !inSpans(code, i) {
				return i
			}
		}
	}
	return -1
}

func inSpans(spans [][2]int, i int) bool {
	for _, sp := range spans {
		if i >= sp[0] && i < sp[1] {
			return true
		}
	}
	return false
}

// subjectOf returns a short form of what a malformed line names.
func subjectOf(rest string) string {
	head, _, _ := splitJustification(rest)
	return cutBytes(strings.TrimSpace(strings.TrimLeft(head, ":;=-–—*_ \t")), 256)
}

// cleanAddress strips what surrounds an address in running text: quotes,
// brackets, emphasis, a "mailto:" prefix and trailing punctuation. emph
// holds the emphasis characters that decorate the line, trimmed as well.
func cleanAddress(t, emph string) string {
	for {
		before := t
		t = strings.Trim(t, "*\"'“”‘’<>()[]{}`"+emph)
		t = strings.TrimRight(t, ".;,!?:")
		if len(t) >= 2 && t[0] == '_' && t[len(t)-1] == '_' {
			t = t[1 : len(t)-1]
		}
		if hasPrefixFold(t, "mailto:") {
			t = t[len("mailto:"):]
		}
		if t == before {
			return t
		}
	}
}

// cleanGroup trims a group name of spaces, quotes, emphasis and trailing
// punctuation.
func cleanGroup(g, emph string) string {
	for {
		before := g
		g = strings.TrimSpace(g)
		g = strings.TrimRight(g, ".;,!")
		g = strings.Trim(g, "\"'“”‘’")
		g = trimEmphasis(g, emph+"*")
		if g == before {
			return g
		}
	}
}

// trimEmphasis removes a trailing run of the emphasis characters in emph
// (and the same on the left when the text starts with them).
func trimEmphasis(s, emph string) string {
	if emph == "" {
		return s
	}
	return strings.Trim(s, emph)
}

// isEmail reports whether s has the shape local@domain.tld.
func isEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || len(local) > 64 || strings.Contains(domain, "@") {
		return false
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for _, r := range local {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("!#$%&'*+/=?^_`{|}~.-", r) {
			return false
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, lb := range labels {
		if lb == "" || len(lb) > 63 || lb[0] == '-' || lb[len(lb)-1] == '-' {
			return false
		}
		for _, r := range lb {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' {
				return false
			}
		}
	}
	return true
}

// isLogin reports whether s has the shape of a plain login (jdoe,
// j.doe-2, j_doe+svc).
func isLogin(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			continue
		}
		if i == 0 || !strings.ContainsRune("._-+", r) {
			return false
		}
	}
	return true
}

func quote(s string) string { return "“" + s + "”" }

// noControl turns ASCII control characters (NUL, tab, ESC...) into spaces:
// one byte for one, so inline code ranges stay put.
func noControl(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return ' '
	}
	return r
}

// cutBytes cuts s to at most n bytes on a rune boundary.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
