package okta

import (
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

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
)

// SnapshotOptions selects what a snapshot captures.
type SnapshotOptions struct {
	Prefix  string         // okta.group_prefix, e.g. "SOX-"; matched case-sensitively
	Systems []model.System // maps groups to systems (model.MapSystem)
	TakenAt time.Time      // copied to Snapshot.TakenAt (the run's clock)
	// EmployeeIDAttribute is the profile attribute read into
	// model.User.EmployeeNumber (okta.employee_id_attribute); "" means
	// DefaultEmployeeIDAttribute.
	EmployeeIDAttribute string
	// Progress, if set, is called (serially) as listing advances.
	Progress func(Progress)

	// noStats reads the groups without expand=stats and checks nothing:
	// the snapshot as it was before completeness, for the benchmark that
	// measures what the check costs (BenchmarkSnapshotStats). Tests only.
	noStats bool
}

func (o SnapshotOptions) employeeAttr() string {
	if o.EmployeeIDAttribute == "" {
		return DefaultEmployeeIDAttribute
	}
	return o.EmployeeIDAttribute
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
	StatsCalls      int   // GET /api/v1/groups/{id}?expand=stats of a group whose counts disagreed
	MinRequests     int   // pages strictly needed at the configured page sizes
	Responses429    int64 // 429 answers (each retried by the SDK)
	Retries5xx      int64 // 5xx GETs retried
	Waits           int64 // client-side pauses (rate cap or low X-Rate-Limit-Remaining)
	RepeatedCursors int   // next links that repeated a cursor (loop guard fired)
	GroupsMatched   int   // groups kept by the strict prefix check
	GroupsDropped   int   // returned by Okta's case-insensitive search but not the prefix
	Rereads         int   // groups read again because Okta's count disagreed with the pages
	Gaps            int   // groups whose count still disagreed after the re-read
	Users           int
	Memberships     int
}

// Listing statuses (the completeness record, snapshot_listings.status).
const (
	ListingComplete  = "complete"  // the paged rows equal the independent count
	ListingGap       = "gap"       // they still differ after a re-read (or Okta gave no count)
	ListingUnchecked = "unchecked" // Okta offers no independent count (rules, the group search)
)

// Listing is the completeness record of one listing a snapshot read: the
// group rules, the group search, and the members of each matched group,
// whose distinct count is compared with Okta's own usersCount (the group
// listing asks for expand=stats, so that costs no extra call when the two
// agree; a disagreement re-reads the group once: its stats, then its
// members). Evidence ids are empty when no recorder saw the pages.
type Listing struct {
	Kind          string // "rules", "groups", "members"
	GroupID       string // members only
	GroupName     string
	Query         string // method, path and query of the first page: "GET /api/v1/groups/00g1/users?limit=200"
	Pages         int
	Rows          int // distinct rows (members: users) the pages held
	OktaCount     int // Okta's usersCount; -1 when there is none
	Reread        bool
	CountEvidence string   // the ledger row that carried OktaCount
	PageEvidence  []string // the ledger rows of the pages (of the re-read, if any), in order
	Status        string   // Listing*
}

// Page is one recorded raw response page, as the evidence recorder keeps
// it. URL may be absolute or a path with query. Status 0 means 200; non-2xx
// pages are ignored (they are the retried attempts). EvidenceID names its
// ledger row ("" when unknown).
type Page struct {
	Method     string
	URL        string
	Status     int
	Body       []byte
	EvidenceID string
}

// Rebuilder re-derives a snapshot from recorded pages with exactly the
// code the live [Client.Read] uses, one page at a time, so that no more
// than one page is held: group-list pages (GET /api/v1/groups), group
// pages (GET /api/v1/groups/{id}, the stats of a re-read), member pages
// (GET /api/v1/groups/{id}/users) and group-rule pages
// (GET /api/v1/groups/rules); other pages are ignored. Pages MUST be added
// in the order they were recorded (ledger order): a group's re-read is
// recognised by its stats page coming before its second read.
type Rebuilder struct {
	b *builder
}

// NewRebuilder starts a re-derivation with the options the snapshot was
// taken with.
func NewRebuilder(o SnapshotOptions) *Rebuilder { return &Rebuilder{b: newBuilder(o, nil)} }

// Add feeds one recorded page.
func (r *Rebuilder) Add(p Page) error {
	if (p.Method != "" && p.Method != "GET") || (p.Status != 0 && (p.Status < 200 || p.Status > 299)) {
		return nil
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		return fmt.Errorf("page %s: url: %w", p.EvidenceID, err)
	}
	kind, gid := classify(u.Path)
	if kind == pageOther {
		return nil
	}
	d, err := decodePage(kind, p.Body, r.b.emp)
	if err == nil {
		err = r.b.apply(kind, gid, d, p.EvidenceID, u.RequestURI())
	}
	d.release()
	if err != nil {
		return fmt.Errorf("page %s (%s): %w", p.EvidenceID, pathOnly(u.Path), err)
	}
	return nil
}

// Result returns the re-derived snapshot and its listings. It fails if a
// matched group has no recorded member page.
func (r *Rebuilder) Result() (*model.Snapshot, []Listing, error) {
	res, _, err := r.b.finish(true)
	if err != nil {
		return nil, nil, err
	}
	return res.Snapshot, res.Listings, nil
}

// BuildSnapshot rebuilds a snapshot from recorded pages in ledger order
// (see [Rebuilder]).
func BuildSnapshot(pages []Page, o SnapshotOptions) (*model.Snapshot, error) {
	r := NewRebuilder(o)
	for _, p := range pages {
		if err := r.Add(p); err != nil {
			return nil, err
		}
	}
	snap, _, err := r.Result()
	return snap, err
}

type pageKind int

const (
	pageOther pageKind = iota
	pageGroups
	pageGroup
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
	if rest, ok := strings.CutPrefix(path, "/api/v1/groups/"); ok && rest != "" {
		if !strings.Contains(rest, "/") {
			return pageGroup, rest
		}
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
	// With expand=stats (okta-api.md §1.1). Only usersCount is read: the
	// spelling of hasAdminPrivilege is unverified and does not matter here.
	Embedded *struct {
		Stats *struct {
			UsersCount *int `json:"usersCount"`
		} `json:"stats"`
	} `json:"_embedded"`
}

// usersCount is Okta's member count of g, or -1 when the answer has none.
func (g *wireGroup) usersCount() int {
	if g.Embedded == nil || g.Embedded.Stats == nil || g.Embedded.Stats.UsersCount == nil || *g.Embedded.Stats.UsersCount < 0 {
		return -1
	}
	return *g.Embedded.Stats.UsersCount
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

func decodeArray[T any](body []byte) ([]T, error) {
	var out []T // fresh per page: never reuse a decode target (okta-api.md §7.3)
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return out, nil
}

// decoded is one page parsed (by the recorder's body hook, or by the
// transport when no recorder is present), waiting to be applied.
type decoded struct {
	groups []wireGroup
	group  wireGroup
	rules  []wireRule
	users  []userRec
	recs   *[]userRec // users' pooled backing array
}

func (d *decoded) rows() int64 {
	return int64(len(d.groups) + len(d.rules) + len(d.users))
}

func decodePage(kind pageKind, body []byte, emp string) (*decoded, error) {
	d := &decoded{}
	var err error
	switch kind {
	case pageGroups:
		d.groups, err = decodeArray[wireGroup](body)
	case pageRules:
		d.rules, err = decodeArray[wireRule](body)
	case pageGroup:
		if err = json.Unmarshal(body, &d.group); err != nil {
			err = fmt.Errorf("decode: %w", err)
		}
	case pageMembers:
		d.recs = recsPool.Get().(*[]userRec)
		d.users, err = decodeUserPage(body, emp, *d.recs)
	}
	return d, err
}

// recsPool recycles the decoded records of member pages (a thousand
// records of a few hundred bytes each per page).
var recsPool = sync.Pool{New: func() any { return new([]userRec) }}

// release returns d's records to the pool once the page was applied (the
// records point into the page's bytes; nothing keeps them).
func (d *decoded) release() {
	if d == nil || d.recs == nil {
		return
	}
	clear(d.users) // drop the references into the page
	*d.recs = d.users[:0]
	recsPool.Put(d.recs)
	d.recs, d.users = nil, nil
}

// ----- the shared builder -----

// Sink receives a snapshot while it is read: [Client.Read] calls it as
// the pages arrive, one call at a time, so the caller can store rows
// instead of holding them.
type Sink interface {
	// Groups is called once, after the group listing and before any
	// member page, with every matched group sorted by id.
	Groups(groups []model.Group) error
	// Members is called for each member page, in the order each group's
	// pages were read.
	Members(p MemberPage) error
}

// MemberPage is what one member page adds to a snapshot.
type MemberPage struct {
	GroupID string
	// Reset: this page starts a second read of the group (its counts
	// disagreed): forget every membership earlier pages gave it.
	Reset bool
	// New are users met for the first time in this snapshot.
	New []model.User
	// Replaced are users whose record this page now supplies: a user met
	// in several groups keeps the record of the group with the smallest
	// id (and of its latest read), whatever order pages arrive in.
	Replaced []model.User
	// Members are the users (ids) of this page that are new to the
	// group's current read (a user listed twice counts once).
	Members []string
	// EvidenceID is the page's ledger row ("" when unrecorded).
	EvidenceID string
}

// SourceOf is the membership source of every member of g (DESIGN §6.4):
// app for an APP_GROUP, rule for a group an ACTIVE rule targets, else
// direct.
func SourceOf(g model.Group) string {
	switch {
	case g.Type == model.GroupTypeApp:
		return model.SourceApp
	case g.RuleManaged:
		return model.SourceRule
	}
	return model.SourceDirect
}

type groupState struct {
	g            wireGroup
	count        int    // Okta's usersCount, -1 unknown
	countEv      string // the row that carried it
	reads        int
	resetPending bool // a stats page came: the next member page starts a new read
	pages        int
	pageEv       []string
	members      []int32  // user indexes of the current read, in order
	seen         []uint64 // bitset over user indexes
	query        string
}

func (g *groupState) has(u int32) bool {
	w := int(u >> 6)
	return w < len(g.seen) && g.seen[w]&(1<<(u&63)) != 0
}

func (g *groupState) add(u int32) {
	w := int(u >> 6)
	if w >= len(g.seen) {
		g.seen = append(g.seen, make([]uint64, w+1-len(g.seen))...)
	}
	g.seen[w] |= 1 << (u & 63)
}

// builder accumulates decoded pages; the live snapshot and the Rebuilder
// both feed it, so they cannot disagree. It keeps one record per user and
// one number per membership. Safe for concurrent use; sink calls are made
// under its lock, so they are serialised.
type builder struct {
	o    SnapshotOptions
	emp  string
	sink Sink

	mu      sync.Mutex
	groups  map[string]*groupState // strict-prefix matches
	dropped map[string]bool        // ids returned by search but failing the prefix
	rules   map[string]wireRule
	users   []model.User
	userIdx map[string]int32
	userSrc []string // gid whose page supplied users[i]
	// listings of the rules and the group search
	rulePages, groupPages int
	ruleEv, groupEv       []string
	ruleRows              map[string]bool
	ruleQuery, groupQuery string
}

func newBuilder(o SnapshotOptions, sink Sink) *builder {
	return &builder{o: o, emp: o.employeeAttr(), sink: sink, groups: map[string]*groupState{}, dropped: map[string]bool{},
		rules: map[string]wireRule{}, userIdx: map[string]int32{}, ruleRows: map[string]bool{}}
}

// apply records one decoded page; uri is its request's path and query.
func (b *builder) apply(kind pageKind, gid string, d *decoded, ev, uri string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch kind {
	case pageRules:
		if b.rulePages == 0 {
			b.ruleQuery = "GET " + uri
		}
		b.rulePages++
		b.ruleEv = append(b.ruleEv, ev)
		for _, r := range d.rules {
			b.rules[r.ID] = r
			b.ruleRows[r.ID] = true
		}
	case pageGroups:
		if b.groupPages == 0 {
			b.groupQuery = "GET " + uri
		}
		b.groupPages++
		b.groupEv = append(b.groupEv, ev)
		for _, g := range d.groups {
			if g.ID == "" {
				return errors.New("group without id")
			}
			// Okta's search is case-insensitive: "sox-x" matches sw "SOX-".
			if !strings.HasPrefix(g.Profile.Name, b.o.Prefix) {
				b.dropped[g.ID] = true
				continue
			}
			gs := b.groups[g.ID]
			if gs == nil {
				gs = &groupState{}
				b.groups[g.ID] = gs
			}
			gs.g, gs.count, gs.countEv = g, g.usersCount(), ev
		}
	case pageGroup:
		gs := b.groups[gid]
		if gs == nil || d.group.ID != gid {
			return nil // not a group of this snapshot's listing
		}
		gs.count, gs.countEv = d.group.usersCount(), ev
		if gs.reads > 0 {
			gs.resetPending = true
		}
	case pageMembers:
		return b.addMembers(gid, d.users, ev, uri)
	}
	return nil
}

func (b *builder) addMembers(gid string, recs []userRec, ev, uri string) error {
	gs := b.groups[gid]
	if gs == nil {
		return nil // a group outside the listing (never read by a snapshot)
	}
	page := MemberPage{GroupID: gid, EvidenceID: ev}
	if gs.reads == 0 || gs.resetPending {
		if gs.reads > 0 {
			page.Reset = true
			gs.members, gs.seen, gs.pages, gs.pageEv = nil, nil, 0, nil
		}
		gs.query = "GET " + uri
		gs.reads++
		gs.resetPending = false
	}
	for i := range recs {
		r := &recs[i]
		if len(r.id) == 0 {
			return errors.New("member without id")
		}
		ui, known := b.userIdx[string(r.id)]
		switch {
		case !known:
			u := r.toModel()
			ui = int32(len(b.users))
			b.users = append(b.users, u)
			b.userIdx[u.ID] = ui
			b.userSrc = append(b.userSrc, gid)
			page.New = append(page.New, u)
		case gid <= b.userSrc[ui]:
			b.userSrc[ui] = gid
			if !r.sameAs(&b.users[ui]) {
				u := r.toModel()
				b.users[ui] = u
				page.Replaced = append(page.Replaced, u)
			}
		}
		if !gs.has(ui) {
			gs.add(ui)
			gs.members = append(gs.members, ui)
			page.Members = append(page.Members, b.users[ui].ID)
		}
	}
	gs.pages++
	gs.pageEv = append(gs.pageEv, ev)
	if b.sink != nil {
		return b.sink.Members(page)
	}
	return nil
}

func (r *userRec) toModel() model.User {
	u := model.User{
		ID: string(r.id), Status: string(r.status), Origin: model.OriginOkta,
		Login: string(r.prof[pLogin]), Email: string(r.prof[pEmail]), FirstName: string(r.prof[pFirstName]),
		LastName: string(r.prof[pLastName]), Department: string(r.prof[pDepartment]), Title: string(r.prof[pTitle]),
		UserType: string(r.prof[pUserType]), EmployeeNumber: string(r.prof[pEmployee]), Manager: string(r.prof[pManager]),
	}
	if r.hasCreated {
		u.Created = r.created.UTC()
	}
	if r.hasLL {
		u.LastLogin = r.lastLogin.UTC()
	}
	return u
}

// sameAs reports whether r decodes to u, without allocating.
func (r *userRec) sameAs(u *model.User) bool {
	eqT := func(has bool, t time.Time, v time.Time) bool {
		if !has {
			return v.IsZero()
		}
		return t.Equal(v) && !v.IsZero()
	}
	return string(r.id) == u.ID && string(r.status) == u.Status &&
		string(r.prof[pLogin]) == u.Login && string(r.prof[pEmail]) == u.Email &&
		string(r.prof[pFirstName]) == u.FirstName && string(r.prof[pLastName]) == u.LastName &&
		string(r.prof[pDepartment]) == u.Department && string(r.prof[pTitle]) == u.Title &&
		string(r.prof[pUserType]) == u.UserType && string(r.prof[pEmployee]) == u.EmployeeNumber &&
		string(r.prof[pManager]) == u.Manager &&
		eqT(r.hasCreated, r.created, u.Created) && eqT(r.hasLL, r.lastLogin, u.LastLogin)
}

// modelGroup maps a matched group to the model.
func (b *builder) modelGroup(g *wireGroup, ruleTargets map[string]bool) model.Group {
	mg := model.Group{ID: g.ID, Name: g.Profile.Name, Type: g.Type, RuleManaged: ruleTargets[g.ID]}
	if g.Profile.Description != nil {
		mg.Description = *g.Profile.Description
	}
	mg.System, mg.Role, _ = model.MapSystem(g.Profile.Name, b.o.Systems, b.o.Prefix)
	return mg
}

func (b *builder) ruleTargets() map[string]bool {
	t := map[string]bool{}
	for _, r := range b.rules {
		if r.Status == "ACTIVE" {
			for _, gid := range r.Actions.AssignUserToGroups.GroupIDs {
				t[gid] = true
			}
		}
	}
	return t
}

// matched returns the matched groups' states sorted by name then id.
func (b *builder) matched() []*groupState {
	gs := make([]*groupState, 0, len(b.groups))
	for _, g := range b.groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(x, y *groupState) int {
		return cmp.Or(strings.Compare(x.g.Profile.Name, y.g.Profile.Name), strings.Compare(x.g.ID, y.g.ID))
	})
	return gs
}

// emitGroups hands the matched groups to the sink, sorted by id.
func (b *builder) emitGroups() ([]model.Group, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	targets := b.ruleTargets()
	out := make([]model.Group, 0, len(b.groups))
	for _, gs := range b.matched() {
		out = append(out, b.modelGroup(&gs.g, targets))
	}
	byID := slices.Clone(out)
	slices.SortFunc(byID, func(x, y model.Group) int { return strings.Compare(x.ID, y.ID) })
	if b.sink != nil {
		if err := b.sink.Groups(byID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// groupDisagrees reports whether a group's distinct paged members differ
// from Okta's count (or Okta gave none), and whether it was read twice.
func (b *builder) groupDisagrees(gid string) (differ bool, reads int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	gs := b.groups[gid]
	return gs.count < 0 || gs.count != len(gs.members), gs.reads
}

// Result is what a snapshot read.
type Result struct {
	// Groups are the matched groups sorted by name then id, and Members
	// the user indexes of each (aligned with Groups; indexes count users
	// in the order they were met).
	Groups  []model.Group
	Members [][]int32
	// Users is how many distinct users hold a membership.
	Users       int
	Memberships int
	// Listings is the completeness record: the rules, the group search,
	// then each group's members (in Groups order).
	Listings []Listing
	// Orphans are users (ids) that a re-read left without a membership: a
	// Sink that stored them MUST remove them.
	Orphans []string
	// Snapshot is the whole sorted population; only without a Sink.
	Snapshot *model.Snapshot
}

// finish assembles the result; with full it also builds the sorted
// model.Snapshot (memberships included).
func (b *builder) finish(full bool) (*Result, Stats, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	targets := b.ruleTargets()
	res := &Result{}
	var st Stats
	used := make([]bool, len(b.users))
	type mrow struct {
		name, login string
		m           model.Membership
	}
	var rows []mrow
	res.Listings = append(res.Listings,
		Listing{Kind: "rules", Query: b.ruleQuery, Pages: b.rulePages, Rows: len(b.ruleRows), OktaCount: -1, PageEvidence: nonNilStrings(b.ruleEv), Status: ListingUnchecked},
		Listing{Kind: "groups", Query: b.groupQuery, Pages: b.groupPages, Rows: len(b.groups) + len(b.dropped), OktaCount: -1, PageEvidence: nonNilStrings(b.groupEv), Status: ListingUnchecked})
	for _, gs := range b.matched() {
		if gs.reads == 0 {
			return nil, Stats{}, fmt.Errorf("group %s (%s): no member page", gs.g.Profile.Name, gs.g.ID)
		}
		mg := b.modelGroup(&gs.g, targets)
		res.Groups = append(res.Groups, mg)
		res.Members = append(res.Members, slices.Clone(gs.members))
		res.Memberships += len(gs.members)
		l := Listing{Kind: "members", GroupID: gs.g.ID, GroupName: gs.g.Profile.Name, Query: gs.query, Pages: gs.pages, Rows: len(gs.members),
			OktaCount: gs.count, Reread: gs.reads > 1, CountEvidence: gs.countEv, PageEvidence: nonNilStrings(slices.Clone(gs.pageEv)), Status: ListingComplete}
		if gs.count < 0 || gs.count != len(gs.members) {
			l.Status = ListingGap
			st.Gaps++
		}
		if gs.reads > 1 {
			st.Rereads++
		}
		res.Listings = append(res.Listings, l)
		source := SourceOf(mg)
		for _, ui := range gs.members {
			used[ui] = true
			if full {
				rows = append(rows, mrow{mg.Name, b.users[ui].Login, model.Membership{GroupID: mg.ID, UserID: b.users[ui].ID, Source: source}})
			}
		}
	}
	for i, u := range used {
		if u {
			res.Users++
		} else {
			res.Orphans = append(res.Orphans, b.users[i].ID)
		}
	}
	st.GroupsMatched, st.GroupsDropped, st.Users, st.Memberships = len(res.Groups), len(b.dropped), res.Users, res.Memberships
	if !full {
		return res, st, nil
	}
	slices.SortFunc(rows, func(x, y mrow) int {
		return cmp.Or(strings.Compare(x.name, y.name), strings.Compare(x.m.GroupID, y.m.GroupID),
			strings.Compare(x.login, y.login), strings.Compare(x.m.UserID, y.m.UserID))
	})
	snap := &model.Snapshot{TakenAt: b.o.TakenAt, Groups: slices.Clone(res.Groups), Users: make([]model.User, 0, res.Users), Memberships: make([]model.Membership, len(rows))}
	if snap.Groups == nil {
		snap.Groups = []model.Group{}
	}
	for i, r := range rows {
		snap.Memberships[i] = r.m
	}
	for i, u := range used {
		if u {
			snap.Users = append(snap.Users, b.users[i])
		}
	}
	slices.SortFunc(snap.Users, func(x, y model.User) int {
		return cmp.Or(strings.Compare(x.Login, y.Login), strings.Compare(x.ID, y.ID))
	})
	res.Snapshot = snap
	return res, st, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ----- live snapshot -----

// Snapshot lists the group rules, every group whose name starts with
// o.Prefix (Okta search `profile.name sw`, then a strict case-sensitive
// check), and all members of each (okta.concurrency groups at a time), and
// returns the whole sorted snapshot. See [Client.Read] for the errors.
func (c *Client) Snapshot(ctx context.Context, o SnapshotOptions) (*model.Snapshot, Stats, error) {
	res, st, err := c.Read(ctx, o, nil)
	if err != nil {
		return nil, st, err
	}
	return res.Snapshot, st, nil
}

// Read lists the group rules, every group whose name starts with o.Prefix
// (Okta search `profile.name sw` with expand=stats, then a strict
// case-sensitive check), and all members of each (okta.concurrency groups
// at a time), parsing each page once from the bytes the evidence recorder
// holds (the SDK still sends, authenticates, paces and retries, but never
// decodes a list page). With a sink, the population is handed over page
// by page and Result.Snapshot is nil; without one it is returned whole.
//
// A group whose distinct paged members differ from Okta's usersCount is
// read again once (GET /api/v1/groups/{id}?expand=stats, then its
// members); if they still differ it is a gap: its Listing says so and
// Stats.Gaps counts it, and Read still succeeds (the caller decides).
//
// Errors: a *httpx.StatusError for HTTP failures (IsAuth for 401/403;
// Status 429 when the SDK's retries ran out), the context's error on
// cancellation, a sink's error, and an error naming the endpoint when a
// listing exceeds the page cap or a page does not parse.
func (c *Client) Read(ctx context.Context, o SnapshotOptions, sink Sink) (*Result, Stats, error) {
	if o.Prefix == "" {
		return nil, Stats{}, errors.New("okta.group_prefix: is empty; a snapshot needs a group name prefix")
	}
	if strings.ContainsAny(o.Prefix, "\"\\") {
		return nil, Stats{}, fmt.Errorf("okta.group_prefix: %q: quotes and backslashes are not allowed", o.Prefix)
	}
	if o.EmployeeIDAttribute == "" {
		o.EmployeeIDAttribute = c.cfg.EmployeeIDAttribute
	}
	req0, r429, r5xx, w0 := c.tr.requests.Load(), c.tr.status429.Load(), c.tr.retries5xx.Load(), c.tr.waits.Load()
	b := newBuilder(o, sink)
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
	finishStats := func() {
		st.Requests = c.tr.requests.Load() - req0
		st.Responses429 = c.tr.status429.Load() - r429
		st.Retries5xx = c.tr.retries5xx.Load() - r5xx
		st.Waits = c.tr.waits.Load() - w0
	}

	progress(Progress{Phase: "rules"})
	pages, rows, rep, err := c.list(ctx, b, pageRules, "", "/api/v1/groups/rules?limit="+strconv.Itoa(listPS))
	st.RulePages, st.RepeatedCursors = pages, st.RepeatedCursors+rep
	if err != nil {
		finishStats()
		return nil, st, err
	}
	st.MinRequests += minPages(rows, listPS)

	progress(Progress{Phase: "groups"})
	q := url.Values{"search": {`profile.name sw "` + o.Prefix + `"`}, "limit": {strconv.Itoa(listPS)}, "expand": {"stats"}}
	if o.noStats {
		q.Del("expand")
	}
	pages, rows, rep, err = c.list(ctx, b, pageGroups, "", "/api/v1/groups?"+q.Encode())
	st.GroupPages, st.RepeatedCursors = pages, st.RepeatedCursors+rep
	if err != nil {
		finishStats()
		return nil, st, err
	}
	st.MinRequests += minPages(rows, listPS)

	groups, err := b.emitGroups()
	if err != nil {
		finishStats()
		return nil, st, err
	}
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
			path := "/api/v1/groups/" + url.PathEscape(g.ID) + "/users?limit=" + strconv.Itoa(c.cfg.PageSize)
			pages, n, rep, err := c.list(ctx, b, pageMembers, g.ID, path)
			var extraPages, extraCalls int
			if err == nil && !o.noStats {
				if differ, _ := b.groupDisagrees(g.ID); differ {
					// Read the group once more: Okta's count, then its members.
					extraCalls = 1
					_, _, _, err = c.list(ctx, b, pageGroup, g.ID, "/api/v1/groups/"+url.PathEscape(g.ID)+"?expand=stats")
					if err == nil {
						var rep2 int
						extraPages, n, rep2, err = c.list(ctx, b, pageMembers, g.ID, path)
						rep += rep2
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			st.MemberPages += pages + extraPages
			st.StatsCalls += extraCalls
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
	finishStats()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, st, firstErr
	}
	res, fst, err := b.finish(sink == nil)
	if err != nil {
		return nil, st, err
	}
	st.GroupsMatched, st.GroupsDropped, st.Users, st.Memberships = fst.GroupsMatched, fst.GroupsDropped, fst.Users, fst.Memberships
	st.Rereads, st.Gaps = fst.Rereads, fst.Gaps
	return res, st, nil
}

// pageSlot carries one page from the transport to listPages: the
// recorder's body hook (or the transport itself, without a recorder)
// parses the bytes with parse, and the transport adds the page's ledger
// row and hands the SDK an empty body.
type pageSlot struct {
	parse  func(body []byte) (int64, error)
	parsed bool
	rows   int64
	err    error
	ev     string // the page's ledger row
	uri    string // the request's path and query
}

type pageSlotKey struct{}

// decode is the recorder's body hook.
func (s *pageSlot) decode(body []byte) (int64, error) {
	s.parsed = true
	s.rows, s.err = s.parse(body)
	return s.rows, s.err
}

// list reads one listing into b (see listPages).
func (c *Client) list(ctx context.Context, b *builder, kind pageKind, gid, first string) (pages, rows, repeated int, err error) {
	var cur *decoded
	return c.listPages(ctx, first, func(body []byte) (int64, error) {
		d, err := decodePage(kind, body, b.emp)
		cur = d
		if err != nil {
			return 0, err
		}
		return d.rows(), nil
	}, func(ev, uri string) error {
		defer cur.release()
		return b.apply(kind, gid, cur, ev, uri)
	})
}

// listPages GETs first and follows next links. Each page's bytes go to
// parse once (from the evidence recorder's stored copy when there is a
// recorder), then take is called with the page's ledger id, in order. It
// stops quietly when a next link repeats a cursor it already followed
// (Okta's endless next bug) and fails past cfg.MaxPages pages. It returns
// the page count, the rows parse counted, and how many repeated cursors
// it met.
func (c *Client) listPages(ctx context.Context, first string, parse func([]byte) (int64, error), take func(ev, uri string) error) (pages, rows, repeated int, err error) {
	re := c.sdk.CloneRequestExecutor() // per goroutine: NewRequest mutates the executor
	fetch := func(do func(context.Context) (*sdkResponse, error)) (*sdkResponse, error) {
		slot := &pageSlot{parse: parse}
		resp, err := do(withPageSlot(ctx, slot))
		if err != nil {
			return resp, err
		}
		if !slot.parsed {
			slot.err = errors.New("the page body did not reach the parser")
		}
		if slot.err == nil {
			rows += int(slot.rows)
			slot.err = take(slot.ev, slot.uri)
		}
		if slot.err != nil {
			return resp, &pageError{endpoint: c.origin + pathOnly(first), err: slot.err}
		}
		return resp, nil
	}
	req, err := re.NewRequest("GET", first, nil)
	if err != nil {
		return 0, 0, 0, c.tokenError(err)
	}
	resp, err := fetch(func(ctx context.Context) (*sdkResponse, error) { return re.Do(ctx, req, nil) })
	if err != nil {
		return 0, 0, 0, c.listError("GET", first, resp, err)
	}
	seen := map[string]bool{}
	for {
		pages++
		if !resp.HasNextPage() {
			return pages, rows, repeated, nil
		}
		next := resp.NextPage
		if seen[next] {
			return pages, rows, repeated + 1, nil
		}
		if pages >= c.cfg.MaxPages {
			return pages, rows, repeated, fmt.Errorf("okta: GET %s: more than %d pages; stopping (endless next links?)", c.origin+pathOnly(first), c.cfg.MaxPages)
		}
		if err := ctx.Err(); err != nil {
			return pages, rows, repeated, err
		}
		seen[next] = true
		cur := resp
		nresp, err := fetch(func(ctx context.Context) (*sdkResponse, error) { return cur.Next(ctx, nil) })
		if err != nil {
			return pages, rows, repeated, c.listError("GET", next, nresp, err)
		}
		resp = nresp
	}
}

// pageError is a page that was fetched but not taken: it did not parse,
// or the sink refused it.
type pageError struct {
	endpoint string
	err      error
}

func (e *pageError) Error() string { return "okta: GET " + e.endpoint + ": " + e.err.Error() }
func (e *pageError) Unwrap() error { return e.err }

// listError is callError, except for a page error (already naming the
// endpoint).
func (c *Client) listError(method, pathAndQuery string, resp *sdkResponse, err error) error {
	var pe *pageError
	if errors.As(err, &pe) {
		return err
	}
	return c.callError(method, pathAndQuery, resp, err)
}

// withPageSlot makes slot receive the page requested with ctx: the
// evidence recorder's body hook decodes it, and the transport takes it
// away from the SDK (see transport.takePage).
func withPageSlot(ctx context.Context, slot *pageSlot) context.Context {
	return httpx.WithBodyHook(context.WithValue(ctx, pageSlotKey{}, slot), slot.decode)
}
