package okta

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

// SnapshotOptions selects what a snapshot captures.
type SnapshotOptions struct {
	Prefix  string         // okta.group_prefix, e.g. "SOX-"; matched case-sensitively
	Systems []model.System // maps groups to systems (model.MapSystem)
	TakenAt time.Time      // copied to Snapshot.TakenAt (the run's clock)
	// Progress, if set, is called (serially) as listing advances.
	Progress func(Progress)
}

// Progress reports how far a snapshot got.
type Progress struct {
	Phase       string // "rules", "groups", "members"
	GroupsDone  int
	GroupsTotal int
	Memberships int
}

// Stats counts the work of one snapshot, for the benchmark's "API calls vs
// minimum" comparison and for the run log.
type Stats struct {
	Requests        int64 // HTTP attempts sent, retries included
	RulePages       int
	GroupPages      int
	MemberPages     int
	MinRequests     int   // pages strictly needed at the configured page sizes
	Responses429    int64 // 429 answers (each retried by the SDK)
	Retries5xx      int64 // 5xx GETs retried
	Waits           int64 // client-side pauses (rate cap or low X-Rate-Limit-Remaining)
	RepeatedCursors int   // next links that repeated a cursor (loop guard fired)
	GroupsMatched   int   // groups kept by the strict prefix check
	GroupsDropped   int   // returned by Okta's case-insensitive search but not the prefix
	Users           int
	Memberships     int
}

// Page is one recorded raw response page, as the evidence recorder keeps
// it. URL may be absolute or a path with query. Status 0 means 200; non-2xx
// pages are ignored (they are the retried attempts).
type Page struct {
	Method string
	URL    string
	Status int
	Body   []byte
}

// BuildSnapshot rebuilds a snapshot from recorded pages with exactly the
// code the live [Client.Snapshot] uses: group-list pages
// (GET /api/v1/groups), member pages (GET /api/v1/groups/{id}/users) and
// group-rule pages (GET /api/v1/groups/rules); other pages are ignored.
// Order does not matter. It returns an error if a page does not parse or
// a matched group has no recorded member page.
func BuildSnapshot(pages []Page, o SnapshotOptions) (*model.Snapshot, error) {
	b := newBuilder(o)
	for i, p := range pages {
		if (p.Method != "" && p.Method != "GET") || (p.Status != 0 && (p.Status < 200 || p.Status > 299)) {
			continue
		}
		u, err := url.Parse(p.URL)
		if err != nil {
			return nil, fmt.Errorf("page %d: url: %w", i, err)
		}
		switch kind, gid := classify(u.Path); kind {
		case pageGroups:
			_, err = b.addGroups(p.Body)
		case pageRules:
			_, err = b.addRules(p.Body)
		case pageMembers:
			_, err = b.addMembers(gid, p.Body)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("page %d (%s): %w", i, pathOnly(u.Path), err)
		}
	}
	snap, _, err := b.finish()
	return snap, err
}

type pageKind int

const (
	pageOther pageKind = iota
	pageGroups
	pageRules
	pageMembers
)

func classify(path string) (pageKind, string) {
	switch {
	case path == "/api/v1/groups":
		return pageGroups, ""
	case path == "/api/v1/groups/rules":
		return pageRules, ""
	}
	if rest, ok := strings.CutPrefix(path, "/api/v1/groups/"); ok {
		if gid, ok := strings.CutSuffix(rest, "/users"); ok && gid != "" && !strings.Contains(gid, "/") {
			return pageMembers, gid
		}
	}
	return pageOther, ""
}

// ----- wire shapes (only what a snapshot needs; unknown keys ignored) -----

type wireGroup struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Profile struct {
		Name        string  `json:"name"`
		Description *string `json:"description"`
	} `json:"profile"`
}

type wireRule struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Actions struct {
		AssignUserToGroups struct {
			GroupIDs []string `json:"groupIds"`
		} `json:"assignUserToGroups"`
	} `json:"actions"`
}

// flexString accepts a JSON string, number, bool or null: Okta profiles
// are schemaless maps and custom attributes may hold any of them.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case b[0] == '{' || b[0] == '[':
		*f = "" // structured custom attribute: not a field we map
	default:
		*f = flexString(b) // number or bool, verbatim
	}
	return nil
}

type wireUser struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	Created   *time.Time `json:"created"`
	LastLogin *time.Time `json:"lastLogin"`
	Profile   struct {
		Login          flexString `json:"login"`
		Email          flexString `json:"email"`
		FirstName      flexString `json:"firstName"`
		LastName       flexString `json:"lastName"`
		Department     flexString `json:"department"`
		Title          flexString `json:"title"`
		UserType       flexString `json:"userType"`
		EmployeeNumber flexString `json:"employeeNumber"`
		Manager        flexString `json:"manager"`
	} `json:"profile"`
}

func (w *wireUser) toModel() model.User {
	p := w.Profile
	u := model.User{
		ID: w.ID, Login: string(p.Login), Email: string(p.Email),
		FirstName: string(p.FirstName), LastName: string(p.LastName),
		Department: string(p.Department), Title: string(p.Title), UserType: string(p.UserType),
		EmployeeNumber: string(p.EmployeeNumber), Manager: string(p.Manager),
		Status: w.Status, Origin: model.OriginOkta,
	}
	if w.Created != nil {
		u.Created = w.Created.UTC()
	}
	if w.LastLogin != nil {
		u.LastLogin = w.LastLogin.UTC()
	}
	return u
}

// ----- the shared builder -----

// builder accumulates decoded pages; both the live snapshot and
// BuildSnapshot feed it, so they cannot disagree. Safe for concurrent use.
type builder struct {
	o SnapshotOptions

	mu      sync.Mutex
	groups  map[string]wireGroup // strict-prefix matches
	dropped map[string]bool      // ids returned by search but failing the prefix
	rules   map[string]wireRule
	users   map[string]model.User
	userSrc map[string]string              // gid whose page supplied users[id]
	members map[string]map[string]struct{} // gid -> uids
}

func newBuilder(o SnapshotOptions) *builder {
	return &builder{o: o, groups: map[string]wireGroup{}, dropped: map[string]bool{}, rules: map[string]wireRule{},
		users: map[string]model.User{}, userSrc: map[string]string{}, members: map[string]map[string]struct{}{}}
}

func decodeArray[T any](body []byte) ([]T, error) {
	var out []T // fresh per page: never reuse a decode target (okta-api.md §7.3)
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return out, nil
}

// addGroups records a group-list page and returns how many groups it held.
func (b *builder) addGroups(body []byte) (int, error) {
	gs, err := decodeArray[wireGroup](body)
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, g := range gs {
		if g.ID == "" {
			return 0, errors.New("group without id")
		}
		// Okta's search is case-insensitive: "sox-x" matches sw "SOX-".
		if strings.HasPrefix(g.Profile.Name, b.o.Prefix) {
			b.groups[g.ID] = g
		} else {
			b.dropped[g.ID] = true
		}
	}
	return len(gs), nil
}

func (b *builder) addRules(body []byte) (int, error) {
	rs, err := decodeArray[wireRule](body)
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range rs {
		b.rules[r.ID] = r
	}
	return len(rs), nil
}

// addMembers records a member page of group gid and returns its size.
func (b *builder) addMembers(gid string, body []byte) (int, error) {
	us, err := decodeArray[wireUser](body)
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	set := b.members[gid]
	if set == nil {
		set = make(map[string]struct{}, len(us))
		b.members[gid] = set
	}
	for i := range us {
		w := &us[i]
		if w.ID == "" {
			return 0, errors.New("member without id")
		}
		set[w.ID] = struct{}{}
		// A user met in several groups keeps the record from the group
		// with the smallest id, whatever order pages arrived in.
		if src, ok := b.userSrc[w.ID]; !ok || gid < src {
			b.users[w.ID] = w.toModel()
			b.userSrc[w.ID] = gid
		}
	}
	return len(us), nil
}

// matchedGroups returns the strict-prefix groups sorted by name then id.
func (b *builder) matchedGroups() []wireGroup {
	b.mu.Lock()
	defer b.mu.Unlock()
	gs := make([]wireGroup, 0, len(b.groups))
	for _, g := range b.groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(x, y wireGroup) int {
		return cmp.Or(strings.Compare(x.Profile.Name, y.Profile.Name), strings.Compare(x.ID, y.ID))
	})
	return gs
}

// finish assembles the sorted snapshot.
func (b *builder) finish() (*model.Snapshot, Stats, error) {
	gs := b.matchedGroups()
	b.mu.Lock()
	defer b.mu.Unlock()
	ruleTargets := map[string]bool{}
	for _, r := range b.rules {
		if r.Status == "ACTIVE" {
			for _, gid := range r.Actions.AssignUserToGroups.GroupIDs {
				ruleTargets[gid] = true
			}
		}
	}
	snap := &model.Snapshot{TakenAt: b.o.TakenAt, Groups: []model.Group{}, Users: []model.User{}, Memberships: []model.Membership{}}
	used := map[string]bool{}
	type mrow struct {
		name, login string
		m           model.Membership
	}
	var rows []mrow
	for _, g := range gs {
		set, ok := b.members[g.ID]
		if !ok {
			return nil, Stats{}, fmt.Errorf("group %s (%s): no member page", g.Profile.Name, g.ID)
		}
		mg := model.Group{ID: g.ID, Name: g.Profile.Name, Type: g.Type, RuleManaged: ruleTargets[g.ID]}
		if g.Profile.Description != nil {
			mg.Description = *g.Profile.Description
		}
		mg.System, mg.Role, _ = model.MapSystem(g.Profile.Name, b.o.Systems, b.o.Prefix)
		source := model.SourceDirect
		switch {
		case g.Type == model.GroupTypeApp:
			source = model.SourceApp
		case mg.RuleManaged:
			source = model.SourceRule
		}
		snap.Groups = append(snap.Groups, mg)
		for uid := range set {
			used[uid] = true
			rows = append(rows, mrow{g.Profile.Name, b.users[uid].Login, model.Membership{GroupID: g.ID, UserID: uid, Source: source}})
		}
	}
	slices.SortFunc(rows, func(x, y mrow) int {
		return cmp.Or(strings.Compare(x.name, y.name), strings.Compare(x.m.GroupID, y.m.GroupID),
			strings.Compare(x.login, y.login), strings.Compare(x.m.UserID, y.m.UserID))
	})
	snap.Memberships = make([]model.Membership, len(rows))
	for i, r := range rows {
		snap.Memberships[i] = r.m
	}
	for uid := range used {
		snap.Users = append(snap.Users, b.users[uid])
	}
	slices.SortFunc(snap.Users, func(x, y model.User) int {
		return cmp.Or(strings.Compare(x.Login, y.Login), strings.Compare(x.ID, y.ID))
	})
	st := Stats{GroupsMatched: len(gs), GroupsDropped: len(b.dropped), Users: len(snap.Users), Memberships: len(snap.Memberships)}
	return snap, st, nil
}

// ----- live snapshot -----

// Snapshot lists the group rules, every group whose name starts with
// o.Prefix (Okta search `profile.name sw`, then a strict case-sensitive
// check), and all members of each (okta.concurrency groups at a time). It
// returns the sorted snapshot and request statistics. Errors: a
// *httpx.StatusError for HTTP failures (IsAuth for 401/403; Status 429 when
// the SDK's retries ran out), the context's error on cancellation, and an
// error naming the endpoint when a listing exceeds the page cap.
func (c *Client) Snapshot(ctx context.Context, o SnapshotOptions) (*model.Snapshot, Stats, error) {
	if o.Prefix == "" {
		return nil, Stats{}, errors.New("okta.group_prefix: is empty; a snapshot needs a group name prefix")
	}
	if strings.ContainsAny(o.Prefix, "\"\\") {
		return nil, Stats{}, fmt.Errorf("okta.group_prefix: %q: quotes and backslashes are not allowed", o.Prefix)
	}
	req0, r429, r5xx, w0 := c.tr.requests.Load(), c.tr.status429.Load(), c.tr.retries5xx.Load(), c.tr.waits.Load()
	b := newBuilder(o)
	var st Stats
	var progMu sync.Mutex
	progress := func(p Progress) {
		if o.Progress != nil {
			progMu.Lock()
			o.Progress(p)
			progMu.Unlock()
		}
	}
	listPS := min(c.cfg.PageSize, 200)
	minPages := func(n, ps int) int { return max(1, (n+ps-1)/ps) }

	progress(Progress{Phase: "rules"})
	nRules := 0
	pages, rep, err := c.list(ctx, "/api/v1/groups/rules?limit="+strconv.Itoa(listPS), func(body []byte) error {
		n, err := b.addRules(body)
		nRules += n
		return err
	})
	st.RulePages, st.RepeatedCursors = pages, st.RepeatedCursors+rep
	if err != nil {
		return nil, st, err
	}
	st.MinRequests += minPages(nRules, listPS)

	progress(Progress{Phase: "groups"})
	q := url.Values{"search": {`profile.name sw "` + o.Prefix + `"`}, "limit": {strconv.Itoa(listPS)}}
	nGroups := 0
	pages, rep, err = c.list(ctx, "/api/v1/groups?"+q.Encode(), func(body []byte) error {
		n, err := b.addGroups(body)
		nGroups += n
		return err
	})
	st.GroupPages, st.RepeatedCursors = pages, st.RepeatedCursors+rep
	if err != nil {
		return nil, st, err
	}
	st.MinRequests += minPages(nGroups, listPS)

	groups := b.matchedGroups()
	progress(Progress{Phase: "members", GroupsTotal: len(groups)})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		done     int
		members  int
	)
	sem := make(chan struct{}, c.cfg.Concurrency)
	for _, g := range groups {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			n := 0
			path := "/api/v1/groups/" + url.PathEscape(g.ID) + "/users?limit=" + strconv.Itoa(c.cfg.PageSize)
			pages, rep, err := c.list(ctx, path, func(body []byte) error {
				k, err := b.addMembers(g.ID, body)
				n += k
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			st.MemberPages += pages
			st.RepeatedCursors += rep
			st.MinRequests += minPages(n, c.cfg.PageSize)
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			done++
			members += n
			progress(Progress{Phase: "members", GroupsDone: done, GroupsTotal: len(groups), Memberships: members})
		}()
	}
	wg.Wait()
	st.Requests = c.tr.requests.Load() - req0
	st.Responses429 = c.tr.status429.Load() - r429
	st.Retries5xx = c.tr.retries5xx.Load() - r5xx
	st.Waits = c.tr.waits.Load() - w0
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, st, firstErr
	}
	snap, fst, err := b.finish()
	if err != nil {
		return nil, st, err
	}
	st.GroupsMatched, st.GroupsDropped, st.Users, st.Memberships = fst.GroupsMatched, fst.GroupsDropped, fst.Users, fst.Memberships
	return snap, st, nil
}

// list GETs first and follows next links, handing each raw page body to
// page. It decodes into a fresh json.RawMessage per page, stops quietly
// when a next link repeats a cursor it already followed (Okta's endless
// next bug) and fails past cfg.MaxPages pages. It returns the page count
// and how many repeated cursors it met.
func (c *Client) list(ctx context.Context, first string, page func([]byte) error) (pages, repeated int, err error) {
	re := c.sdk.CloneRequestExecutor() // per goroutine: NewRequest mutates the executor
	req, err := re.NewRequest("GET", first, nil)
	if err != nil {
		return 0, 0, c.tokenError(err)
	}
	var raw json.RawMessage
	resp, err := re.Do(ctx, req, &raw)
	if err != nil {
		return 0, 0, c.callError("GET", first, resp, err)
	}
	seen := map[string]bool{}
	for {
		pages++
		if err := page(raw); err != nil {
			return pages, repeated, fmt.Errorf("okta: GET %s: %w", c.origin+pathOnly(first), err)
		}
		if !resp.HasNextPage() {
			return pages, repeated, nil
		}
		next := resp.NextPage
		if seen[next] {
			return pages, repeated + 1, nil
		}
		if pages >= c.cfg.MaxPages {
			return pages, repeated, fmt.Errorf("okta: GET %s: more than %d pages; stopping (endless next links?)", c.origin+pathOnly(first), c.cfg.MaxPages)
		}
		if err := ctx.Err(); err != nil {
			return pages, repeated, err
		}
		seen[next] = true
		var nextRaw json.RawMessage // fresh: never decode a page into the previous one
		nresp, err := resp.Next(ctx, &nextRaw)
		if err != nil {
			return pages, repeated, c.callError("GET", next, nresp, err)
		}
		raw, resp = nextRaw, nresp
	}
}
