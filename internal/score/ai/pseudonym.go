package ai

// This file owns identities: who a system's members are, the tokens that
// replace them on the wire, the scrubbing of free text before sending and
// the mapping back when the answer is read.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/uar-dev/uar/internal/model"
)

// accessRow is one membership of a system.
type accessRow struct {
	user   model.User
	group  model.Group
	source string
}

// index holds the snapshot's users and their tokens.
type index struct {
	snap   *model.Snapshot
	pseudo bool
	users  map[string]model.User
	token  map[string]string // user id -> token
	byTok  map[string]string // token -> user id
	groups map[string]model.Group
	ids    []string          // user ids, sorted
	login  map[string]string // lower-case login or e-mail -> user id (first id wins)

	scrubber *matcher // identities -> tokens (pseudonymised only)
	leaks    *matcher // e-mails and e-mail-like logins -> token (pseudonymised only)
}

func newIndex(snap *model.Snapshot, pseudo bool) *index {
	ix := &index{
		snap: snap, pseudo: pseudo,
		users: map[string]model.User{}, token: map[string]string{}, byTok: map[string]string{},
		groups: map[string]model.Group{},
	}
	ids := make([]string, 0, len(snap.Users))
	for _, u := range snap.Users {
		if _, dup := ix.users[u.ID]; !dup {
			ids = append(ids, u.ID)
		}
		ix.users[u.ID] = u
	}
	slices.Sort(ids)
	ix.ids = ids
	ix.login = map[string]string{}
	for _, id := range ids {
		u := ix.users[id]
		for _, k := range []string{u.Login, u.Email} {
			if k = asciiLower(strings.TrimSpace(k)); k != "" {
				if _, dup := ix.login[k]; !dup {
					ix.login[k] = id
				}
			}
		}
	}
	for i, id := range ids {
		t := fmt.Sprintf("user-%04d", i+1)
		ix.token[id] = t
		ix.byTok[t] = id
	}
	for _, g := range snap.Groups {
		ix.groups[g.ID] = g
	}
	if pseudo {
		ix.buildScrubber()
	}
	return ix
}

// ref is how a user is named to the model.
func (ix *index) ref(u model.User) string {
	if ix.pseudo {
		return ix.token[u.ID]
	}
	return u.Login
}

// systems lists the systems that have at least one member, sorted.
func (ix *index) systems() []string {
	seen := map[string]bool{}
	for _, m := range ix.snap.Memberships {
		g, ok := ix.groups[m.GroupID]
		if _, uok := ix.users[m.UserID]; ok && uok && g.System != "" {
			seen[g.System] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// rows returns the system's memberships sorted by group name then user
// reference, without duplicates.
func (ix *index) rows(sys string) []accessRow {
	var out []accessRow
	for _, m := range ix.snap.Memberships {
		g, ok := ix.groups[m.GroupID]
		u, uok := ix.users[m.UserID]
		if !ok || !uok || g.System != sys {
			continue
		}
		out = append(out, accessRow{user: u, group: g, source: m.Source})
	}
	slices.SortFunc(out, func(a, b accessRow) int {
		if c := strings.Compare(a.group.Name, b.group.Name); c != 0 {
			return c
		}
		if c := strings.Compare(ix.ref(a.user), ix.ref(b.user)); c != 0 {
			return c
		}
		return strings.Compare(a.source, b.source)
	})
	return slices.CompactFunc(out, func(a, b accessRow) bool {
		return a.group.ID == b.group.ID && a.user.ID == b.user.ID
	})
}

// scope is the identity view of one system's request: who may be named,
// how free text is scrubbed before sending, and how tokens are mapped back.
type scope struct {
	ix      *index
	members map[string]model.User // user id -> user, members of the system
	byRef   map[string]model.User // lower-case reference (token, or login/e-mail) -> member
}

var tokenRe = regexp.MustCompile(`\buser-[0-9]{4,}\b`)

func (ix *index) scope(sys string, rows []accessRow) *scope {
	sc := &scope{ix: ix, members: map[string]model.User{}, byRef: map[string]model.User{}}
	for _, r := range rows {
		sc.members[r.user.ID] = r.user
	}
	ids := make([]string, 0, len(sc.members))
	for id := range sc.members {
		ids = append(ids, id)
	}
	slices.Sort(ids) // first identity wins on collisions: make that deterministic
	for _, id := range ids {
		u := sc.members[id]
		if ix.pseudo {
			sc.byRef[ix.token[id]] = u
			continue
		}
		for _, k := range []string{u.Login, u.Email} {
			if k = strings.ToLower(k); k != "" {
				if _, dup := sc.byRef[k]; !dup {
					sc.byRef[k] = u
				}
			}
		}
	}
	return sc
}

// buildScrubber registers the identities of every user in the snapshot
// (not only a system's members: a title or a rule finding may name anyone,
// "Assistant to Bob Martin"). An identity shared by two users (two
// Alices) is replaced by "[person]" rather than by one of their tokens.
func (ix *index) buildScrubber() {
	ix.scrubber = newMatcher()
	ix.leaks = newMatcher()
	for _, id := range ix.ids {
		u := ix.users[id]
		tok := ix.token[id]
		ix.scrubber.add(u.Email, tok, 1)
		ix.scrubber.add(u.Login, tok, 1)
		ix.scrubber.add(u.ID, tok, 1)
		ix.scrubber.add(u.FirstName+" "+u.LastName, tok, 3)
		ix.scrubber.add(u.LastName+", "+u.FirstName, tok, 4)
		ix.scrubber.add(u.FirstName, tok, 2)
		ix.scrubber.add(u.LastName, tok, 2)
		ix.scrubber.add(u.EmployeeNumber, tok, 3)
		if m := strings.TrimSpace(u.Manager); m != "" {
			// A manager quoted by login or e-mail gets their own token when
			// they are in the snapshot.
			mt := "[manager]"
			if mid, ok := ix.login[asciiLower(m)]; ok {
				mt = ix.token[mid]
			}
			ix.scrubber.add(m, mt, 2)
		}
		for _, k := range []string{u.Email, u.Login} {
			if strings.Contains(k, "@") {
				ix.leaks.add(k, tok, 1)
			}
		}
	}
}

// scrub replaces identities in free text with tokens (pseudonymised only).
func (sc *scope) scrub(s string) string {
	if sc.ix.scrubber == nil {
		return s
	}
	return sc.ix.scrubber.replace(s)
}

// unscrub maps tokens in the model's text back to logins.
func (sc *scope) unscrub(s string) string {
	if !sc.ix.pseudo {
		return s
	}
	return tokenRe.ReplaceAllStringFunc(s, func(t string) string {
		if id, ok := sc.ix.byTok[t]; ok {
			return sc.ix.users[id].Login
		}
		return t
	})
}

// resolve maps a reference in the answer to a member of the system.
func (sc *scope) resolve(ref string) (model.User, bool) {
	u, ok := sc.byRef[strings.ToLower(strings.TrimSpace(ref))]
	if sc.ix.pseudo && ok && ref != sc.ix.token[u.ID] {
		return model.User{}, false // tokens must be quoted exactly
	}
	return u, ok
}

// leak returns the token of a user whose e-mail (or e-mail-like login) is
// still in body, or "".
func (sc *scope) leak(body []byte) string {
	if sc.ix.leaks == nil {
		return ""
	}
	_, tok, ok := sc.ix.leaks.find(string(body), 0)
	if !ok {
		return ""
	}
	return tok
}

// matcher finds identities in text, case-insensitively (ASCII) and only
// at word boundaries, so that "Ann" does not match inside "Annual". At
// each word start it only tries the identities that begin with that word,
// longest first, which keeps scrubbing linear in the text for systems with
// thousands of members (one big regexp alternation was not).
type matcher struct {
	byFirst map[string][]matcherEntry // first word (lower-case) -> entries, longest first
	sorted  bool
}

type matcherEntry struct {
	key string // lower-case identity
	to  string // replacement
}

func newMatcher() *matcher { return &matcher{byFirst: map[string][]matcherEntry{}} }

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
}

// asciiLower lower-cases ASCII letters only, so byte offsets are kept.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// add registers identity s (ignored when shorter than minLen runes or not
// starting with a word character) to be replaced by to. An identity
// registered twice with different replacements becomes "[person]".
func (m *matcher) add(s, to string, minLen int) {
	s = strings.TrimSpace(s)
	if len([]rune(s)) < minLen || !isWordByte(s[0]) {
		return
	}
	k := asciiLower(s)
	end := 0
	for end < len(k) && isWordByte(k[end]) {
		end++
	}
	first := k[:end]
	for i, e := range m.byFirst[first] {
		if e.key == k {
			if e.to != to {
				m.byFirst[first][i].to = "[person]"
			}
			return
		}
	}
	m.byFirst[first] = append(m.byFirst[first], matcherEntry{key: k, to: to})
	m.sorted = false
}

func (m *matcher) sort() {
	if m.sorted {
		return
	}
	for _, es := range m.byFirst {
		slices.SortStableFunc(es, func(a, b matcherEntry) int { return len(b.key) - len(a.key) })
	}
	m.sorted = true
}

// find returns the first identity in s at or after from: its byte range
// start, its replacement and whether one was found. A match must start at
// a word start and, if the identity ends with a word character, end at a
// word end.
func (m *matcher) find(s string, from int) (int, string, bool) {
	i, _, to, ok := m.findSpan(asciiLower(s), from)
	return i, to, ok
}

func (m *matcher) findSpan(lower string, from int) (start, end int, to string, ok bool) {
	m.sort()
	for i := from; i < len(lower); {
		if !isWordByte(lower[i]) || (i > 0 && isWordByte(lower[i-1])) {
			i++
			continue
		}
		j := i
		for j < len(lower) && isWordByte(lower[j]) {
			j++
		}
		for _, e := range m.byFirst[lower[i:j]] {
			if !strings.HasPrefix(lower[i:], e.key) {
				continue
			}
			k := i + len(e.key)
			if isWordByte(e.key[len(e.key)-1]) && k < len(lower) && isWordByte(lower[k]) {
				continue
			}
			return i, k, e.to, true
		}
		i = j
	}
	return 0, 0, "", false
}

// replace substitutes every identity in s.
func (m *matcher) replace(s string) string {
	lower := asciiLower(s)
	var b strings.Builder
	last := 0
	for from := 0; ; {
		i, k, to, ok := m.findSpan(lower, from)
		if !ok {
			break
		}
		b.WriteString(s[last:i])
		b.WriteString(to)
		last, from = k, k
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
