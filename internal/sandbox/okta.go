package sandbox

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

// OktaOptions configures the fake Okta. The zero value is usable: any
// non-empty SSWS/Bearer credential is accepted and time comes from the
// real clock.
type OktaOptions struct {
	// Token is the API token accepted as "SSWS <token>" or "Bearer <token>".
	// Empty accepts any non-empty credential.
	Token string
	// Clock drives created/published times, the Date and X-Rate-Limit-Reset
	// headers and the rate-limit window. The fake sets Date itself from this
	// clock so that the SDK's 429 backoff (Reset - Date + 1) is consistent.
	Clock Clock
	// BaseURL is the absolute prefix of Link and _links URLs; empty derives
	// it from the request (http://<Host>).
	BaseURL string
	// PageLimitMax clamps limit on /groups, /users and /groups/rules (200).
	PageLimitMax int
	// MemberLimitMax clamps limit on /groups/{id}/users (1000, also the default).
	MemberLimitMax int
	// NonMemberDelete404 makes DELETE of an existing user who is not a
	// member answer 404 E0000007 instead of 204 (the real answer is unverified).
	NonMemberDelete404 bool
	// RateLimitPerMinute enforces an org-wide quota: past it, 429 E0000047
	// until the window (60 s of Clock) resets. 0 enforces nothing and
	// advertises a full bucket (X-Rate-Limit-Remaining stays high).
	RateLimitPerMinute int
	// OAuthClientID enables POST /oauth2/v1/token (private_key_jwt client
	// credentials); the access tokens it issues are accepted as Bearer.
	OAuthClientID string
	// OAuthPublicKey, when set, verifies the RS256 client assertion.
	OAuthPublicKey *rsa.PublicKey
	// Actor is the admin login that System Log events name (default
	// "svc-uar@company.com").
	Actor string
}

// OktaFault is an injected failure: the next Count requests whose path
// starts with PathPrefix (empty = any) get Status (429, 500, 503...). For
// 429, X-Rate-Limit-Reset is now+ResetIn seconds, so the SDK sleeps about
// ResetIn+1 s; ResetIn -1 makes it retry at once.
type OktaFault struct {
	Status     int
	Count      int
	PathPrefix string
	ResetIn    int
}

// OktaEvent is one System Log event the fake recorded.
type OktaEvent struct {
	UUID        string
	Published   time.Time
	EventType   string
	Message     string
	ActorID     string
	ActorType   string
	ActorLogin  string
	UserID      string
	UserLogin   string
	GroupID     string
	GroupName   string
	RuleID      string
	RequestID   string
	RequestPath string
}

// Okta is a fake Okta Management API over an [Org] (reference okta-api.md
// §6): groups search and listing, members, users, group rules, membership
// add/remove with rule exclusions, the System Log, pagination with separate
// Link headers, X-Rate-Limit-* headers, Okta error bodies, SSWS/Bearer auth
// and runtime fault injection. It is safe for concurrent use.
type Okta struct {
	opts OktaOptions
	mux  *http.ServeMux
	log  RequestLog

	mu         sync.RWMutex
	users      []OrgUser // sorted by id
	userIdx    map[string]int
	loginIdx   map[string]int
	groups     []oktaGroup // sorted by id
	groupIdx   map[string]int
	rules      []OrgRule // sorted by id
	events     []OktaEvent
	reqSeq     int
	faults     []OktaFault
	latency    time.Duration
	endless    bool
	rawNext    string
	ruleReadd  bool
	statsSkew  map[string]int // group id -> added to its usersCount
	winStart   time.Time
	winCount   int
	tokens     map[string]bool
	tokenSeq   int
	orgCreated time.Time
}

type oktaGroup struct {
	OrgGroup
	lastMembershipUpdated time.Time
}

// NewOkta builds the fake over a copy of org (the org itself is never
// modified; membership changes live in the fake).
func NewOkta(org *Org, opts OktaOptions) *Okta {
	if opts.PageLimitMax <= 0 {
		opts.PageLimitMax = 200
	}
	if opts.MemberLimitMax <= 0 {
		opts.MemberLimitMax = 1000
	}
	if opts.Actor == "" {
		opts.Actor = "svc-uar@company.com"
	}
	o := &Okta{opts: opts, tokens: map[string]bool{}}
	o.users = slices.Clone(org.Users)
	slices.SortFunc(o.users, func(a, b OrgUser) int { return strings.Compare(a.ID, b.ID) })
	o.userIdx = make(map[string]int, len(o.users))
	o.loginIdx = make(map[string]int, len(o.users))
	for i, u := range o.users {
		o.userIdx[u.ID] = i
		o.loginIdx[strings.ToLower(u.Login)] = i
	}
	o.groups = make([]oktaGroup, len(org.Groups))
	for i, g := range org.Groups {
		g.Members = oktaSortedCopy(g.Members)
		o.groups[i] = oktaGroup{OrgGroup: g, lastMembershipUpdated: g.Created}
	}
	slices.SortFunc(o.groups, func(a, b oktaGroup) int { return strings.Compare(a.ID, b.ID) })
	o.groupIdx = make(map[string]int, len(o.groups))
	for i, g := range o.groups {
		o.groupIdx[g.ID] = i
	}
	for _, r := range org.Rules {
		r.GroupIDs = slices.Clone(r.GroupIDs)
		r.Exclude = slices.Clone(r.Exclude)
		o.rules = append(o.rules, r)
	}
	slices.SortFunc(o.rules, func(a, b OrgRule) int { return strings.Compare(a.ID, b.ID) })

	m := http.NewServeMux()
	m.HandleFunc("GET /api/v1/groups", o.oktaListGroups)
	m.HandleFunc("GET /api/v1/groups/rules", o.oktaListRules)
	// /groups/rules/{id} would conflict with /groups/{gid}/users in ServeMux.
	m.HandleFunc("GET /api/v1/groups/{gid}/{sub}", o.oktaGetRule)
	m.HandleFunc("GET /api/v1/groups/{gid}", o.oktaGetGroup)
	m.HandleFunc("GET /api/v1/groups/{gid}/users", o.oktaListMembers)
	m.HandleFunc("PUT /api/v1/groups/{gid}/users/{uid}", o.oktaAddMember)
	m.HandleFunc("DELETE /api/v1/groups/{gid}/users/{uid}", o.oktaRemoveMember)
	m.HandleFunc("GET /api/v1/users", o.oktaListUsers)
	m.HandleFunc("GET /api/v1/users/{id}", o.oktaGetUser)
	m.HandleFunc("GET /api/v1/logs", o.oktaListLogs)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		oktaError(w, http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method", nil)
	})
	o.mux = m
	return o
}

// Requests returns the log of requests the fake received (with statuses).
func (o *Okta) Requests() *RequestLog { return &o.log }

// Inject queues a fault (see [OktaFault]); faults are consumed in order.
func (o *Okta) Inject(f OktaFault) {
	o.mu.Lock()
	o.faults = append(o.faults, f)
	o.mu.Unlock()
}

// Fail429 makes the next n requests under pathPrefix answer 429 with
// X-Rate-Limit-Reset = now+resetIn seconds.
func (o *Okta) Fail429(n int, pathPrefix string, resetIn int) {
	o.Inject(OktaFault{Status: http.StatusTooManyRequests, Count: n, PathPrefix: pathPrefix, ResetIn: resetIn})
}

// Fail500 makes the next n requests under pathPrefix answer 500 E0000009.
func (o *Okta) Fail500(n int, pathPrefix string) {
	o.Inject(OktaFault{Status: http.StatusInternalServerError, Count: n, PathPrefix: pathPrefix})
}

// SetLatency delays every request by d (a wall-clock sleep, cut short if
// the client goes away).
func (o *Okta) SetLatency(d time.Duration) {
	o.mu.Lock()
	o.latency = d
	o.mu.Unlock()
}

// SetRateLimit changes the per-minute quota (0 = none) and restarts the window.
func (o *Okta) SetRateLimit(perMinute int) {
	o.mu.Lock()
	o.opts.RateLimitPerMinute = perMinute
	o.winStart, o.winCount = time.Time{}, 0
	o.mu.Unlock()
}

// SetNonMemberDelete404 switches the answer to DELETE of a non-member.
func (o *Okta) SetNonMemberDelete404(v bool) {
	o.mu.Lock()
	o.opts.NonMemberDelete404 = v
	o.mu.Unlock()
}

// SetEndlessNext emulates Okta bug OKTA-633507: list endpoints keep
// sending a next link on their last page (repeating the last cursor).
func (o *Okta) SetEndlessNext(v bool) {
	o.mu.Lock()
	o.endless = v
	o.mu.Unlock()
}

// SetRawNextLink makes every listing answer carry v, verbatim, as its
// next Link header value (also on a last page), in place of the real one:
// a hostile or broken org for tests of the client's Link handling, e.g.
// `<@evil.example/api/v1/groups?after=x>; rel="next"` or a malformed
// `</api/v1/gr%zzoups>; rel="next"`. Empty restores real next links.
func (o *Okta) SetRawNextLink(v string) {
	o.mu.Lock()
	o.rawNext = v
	o.mu.Unlock()
}

// SetRuleReadds emulates a naive rule engine: removing a rule-managed
// membership is undone at once (no exclusion), so a verifier must notice.
func (o *Okta) SetRuleReadds(v bool) {
	o.mu.Lock()
	o.ruleReadd = v
	o.mu.Unlock()
}

// SetStatsSkew makes the usersCount of group gid (expand=stats on the
// group listing and on GET /api/v1/groups/{gid}) differ from its real
// member count by delta: -1 under-reports it by one, as an eventually
// consistent count can. 0 restores the true count.
func (o *Okta) SetStatsSkew(gid string, delta int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.statsSkew == nil {
		o.statsSkew = map[string]int{}
	}
	if delta == 0 {
		delete(o.statsSkew, gid)
		return
	}
	o.statsSkew[gid] = delta
}

// IsMember reports whether user uid is currently a member of group gid.
func (o *Okta) IsMember(gid, uid string) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	i, ok := o.groupIdx[gid]
	if !ok {
		return false
	}
	_, found := slices.BinarySearch(o.groups[i].Members, uid)
	return found
}

// Rule returns the current state of a group rule (its exclusions grow
// when rule-managed memberships are removed).
func (o *Okta) Rule(id string) (OrgRule, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, r := range o.rules {
		if r.ID == id {
			r.GroupIDs, r.Exclude = slices.Clone(r.GroupIDs), slices.Clone(r.Exclude)
			return r, true
		}
	}
	return OrgRule{}, false
}

// Events returns the System Log events recorded so far.
func (o *Okta) Events() []OktaEvent {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return slices.Clone(o.events)
}

type oktaStatusWriter struct {
	http.ResponseWriter
	status int
}

func (w *oktaStatusWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *oktaStatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

type oktaReqIDKey struct{}

// ServeHTTP applies headers, auth, the rate limit and injected faults, then
// routes the request.
func (o *Okta) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &oktaStatusWriter{ResponseWriter: w}
	body := readBody(r)
	defer func() {
		o.log.Add(Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body), Status: sw.status})
	}()

	now := o.opts.Clock.now()
	o.mu.Lock()
	o.reqSeq++
	reqID := fmt.Sprintf("req-%06d", o.reqSeq)
	latency := o.latency
	// Rate-limit window on the injected clock.
	if o.winStart.IsZero() || !now.Before(o.winStart.Add(time.Minute)) {
		o.winStart, o.winCount = now, 0
	}
	o.winCount++
	limit, remaining := 600, 599
	over := false
	if o.opts.RateLimitPerMinute > 0 {
		limit = o.opts.RateLimitPerMinute
		remaining = max(0, limit-o.winCount)
		over = o.winCount > limit
	}
	reset := o.winStart.Add(time.Minute).Unix()
	var fault *OktaFault
	for i := range o.faults {
		f := &o.faults[i]
		if f.Count > 0 && strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			f.Count--
			c := *f
			fault = &c
			break
		}
	}
	o.mu.Unlock()

	h := sw.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Date", now.Format(http.TimeFormat))
	h.Set("X-Okta-Request-Id", reqID)
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(limit))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(reset, 10))

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if r.Method == http.MethodPost && r.URL.Path == "/oauth2/v1/token" {
		o.oktaToken(sw, r)
		return
	}
	if !o.oktaAuthorized(r) {
		oktaError(sw, http.StatusUnauthorized, "E0000011", "Invalid token provided", nil)
		return
	}
	if over {
		h.Set("X-Rate-Limit-Remaining", "0")
		oktaError(sw, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.", nil)
		return
	}
	if fault != nil {
		switch fault.Status {
		case http.StatusTooManyRequests:
			h.Set("X-Rate-Limit-Remaining", "0")
			h.Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Unix()+int64(fault.ResetIn), 10))
			oktaError(sw, fault.Status, "E0000047", "API call exceeded rate limit due to too many requests.", nil)
		default:
			oktaError(sw, fault.Status, "E0000009", "Internal Server Error", nil)
		}
		return
	}
	o.mux.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), oktaReqIDKey{}, reqID)))
}

func (o *Okta) oktaAuthorized(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(a, " ")
	if !ok || cred == "" || (scheme != "SSWS" && scheme != "Bearer") {
		return false
	}
	if scheme == "Bearer" {
		o.mu.RLock()
		issued := o.tokens[cred]
		o.mu.RUnlock()
		if issued {
			return true
		}
	}
	return o.opts.Token == "" || cred == o.opts.Token
}

// oktaToken implements the client-credentials grant with a private_key_jwt
// assertion, parameters in the query string as the SDK sends them.
func (o *Okta) oktaToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bad := func(msg string) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": msg})
	}
	if o.opts.OAuthClientID == "" {
		bad("client credentials are not enabled in this sandbox")
		return
	}
	if q.Get("grant_type") != "client_credentials" || q.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "grant_type or client_assertion_type"})
		return
	}
	parts := strings.Split(q.Get("client_assertion"), ".")
	if len(parts) != 3 {
		bad("The client_assertion is not a JWT.")
		return
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss, Sub, Aud string
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		bad("The client_assertion payload is malformed.")
		return
	}
	if claims.Iss != o.opts.OAuthClientID || claims.Sub != o.opts.OAuthClientID {
		bad("The client_assertion iss/sub does not match a client.")
		return
	}
	if claims.Aud != o.oktaBase(r)+"/oauth2/v1/token" {
		bad("The audience claim for client_assertion must be the endpoint invoked for the request.")
		return
	}
	// exp is not checked: the SDK stamps it from the real clock while the
	// fake usually runs on a pinned one.
	if k := o.opts.OAuthPublicKey; k != nil {
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err != nil || rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) != nil {
			bad("The client_assertion signature is invalid.")
			return
		}
	}
	o.mu.Lock()
	o.tokenSeq++
	tok := fmt.Sprintf("sandbox-access-token-%d", o.tokenSeq)
	o.tokens[tok] = true
	o.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": tok, "scope": q.Get("scope")})
}

// oktaError writes an Okta error body.
func oktaError(w http.ResponseWriter, status int, code, summary string, causes []string) {
	type cause struct {
		ErrorSummary string `json:"errorSummary"`
	}
	cs := []cause{}
	for _, c := range causes {
		cs = append(cs, cause{c})
	}
	id := w.Header().Get("X-Okta-Request-Id")
	writeJSON(w, status, map[string]any{
		"errorCode": code, "errorSummary": summary, "errorLink": code,
		"errorId": "oae" + strings.TrimPrefix(id, "req-"), "errorCauses": cs,
	})
}

func (o *Okta) oktaBase(r *http.Request) string {
	if o.opts.BaseURL != "" {
		return strings.TrimRight(o.opts.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// oktaTime formats like Okta: UTC with milliseconds.
func oktaTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func oktaNullTime(t *time.Time) json.RawMessage {
	if t == nil {
		return json.RawMessage("null")
	}
	return json.RawMessage(`"` + oktaTime(*t) + `"`)
}

// oktaLimit parses and clamps limit.
func oktaLimit(r *http.Request, def, maxV int) (int, bool) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	if n == 0 {
		n = def
	}
	return min(n, maxV), true
}

// oktaLinks writes the separate self and next Link headers (never comma
// joined: the SDK would then follow self forever). next repeats every
// original parameter with after replaced.
func (o *Okta) oktaLinks(w http.ResponseWriter, r *http.Request, next string, hasNext bool) {
	base := o.oktaBase(r) + r.URL.Path
	q := r.URL.Query()
	self := base
	if enc := q.Encode(); enc != "" {
		self += "?" + enc
	}
	w.Header().Add("Link", "<"+self+`>; rel="self"`)
	o.mu.RLock()
	raw := o.rawNext
	o.mu.RUnlock()
	if raw != "" {
		w.Header().Add("Link", raw)
		return
	}
	if hasNext {
		q.Set("after", next)
		w.Header().Add("Link", "<"+base+"?"+q.Encode()+`>; rel="next"`)
	}
}

// oktaPage picks the page of sorted ids after the cursor: it returns the
// start index and end index into ids that match keep.
func oktaPage(n int, idAt func(int) string, after string, limit int, keep func(int) bool) (idx []int, more bool) {
	start := 0
	if after != "" {
		start = sort.Search(n, func(i int) bool { return idAt(i) > after })
	}
	for i := start; i < n; i++ {
		if !keep(i) {
			continue
		}
		if len(idx) == limit {
			return idx, true
		}
		idx = append(idx, i)
	}
	return idx, false
}

// ----- search / filter expressions -----

type oktaTerm struct{ attr, op, val string }

// oktaParseExpr parses `a op "v" [and|or a op "v"]...` (no parentheses;
// and binds tighter than or). Operators and values compare
// case-insensitively, as Okta's search does.
func oktaParseExpr(s string) ([][]oktaTerm, error) {
	var ors [][]oktaTerm
	var cur []oktaTerm
	rest := strings.TrimSpace(s)
	for rest != "" {
		attr, r1, ok := strings.Cut(rest, " ")
		if !ok {
			return nil, fmt.Errorf("incomplete expression near %q", rest)
		}
		r1 = strings.TrimLeft(r1, " ")
		op, r2, ok := strings.Cut(r1, " ")
		if !ok {
			return nil, fmt.Errorf("incomplete expression near %q", rest)
		}
		r2 = strings.TrimLeft(r2, " ")
		if !strings.HasPrefix(r2, `"`) {
			return nil, fmt.Errorf("value must be quoted near %q", r2)
		}
		end := -1
		for i := 1; i < len(r2); i++ {
			if r2[i] == '\\' {
				i++
				continue
			}
			if r2[i] == '"' {
				end = i
				break
			}
		}
		if end < 0 {
			return nil, fmt.Errorf("unterminated string")
		}
		val := strings.ReplaceAll(strings.ReplaceAll(r2[1:end], `\"`, `"`), `\\`, `\`)
		op = strings.ToLower(op)
		if op != "eq" && op != "sw" && op != "co" {
			return nil, fmt.Errorf("unsupported operator %q", op)
		}
		cur = append(cur, oktaTerm{attr, op, val})
		rest = strings.TrimSpace(r2[end+1:])
		if rest == "" {
			break
		}
		conj, r3, _ := strings.Cut(rest, " ")
		switch strings.ToLower(conj) {
		case "and":
		case "or":
			ors, cur = append(ors, cur), nil
		default:
			return nil, fmt.Errorf("expected and/or near %q", rest)
		}
		rest = strings.TrimSpace(r3)
	}
	if len(cur) > 0 {
		ors = append(ors, cur)
	}
	return ors, nil
}

func oktaMatch(ors [][]oktaTerm, get func(attr string) (string, bool)) bool {
	if len(ors) == 0 {
		return true
	}
	for _, ands := range ors {
		all := true
		for _, t := range ands {
			v, ok := get(t.attr)
			if !ok {
				all = false
				break
			}
			v, want := strings.ToLower(v), strings.ToLower(t.val)
			switch t.op {
			case "eq":
				all = v == want
			case "sw":
				all = strings.HasPrefix(v, want)
			case "co":
				all = strings.Contains(v, want)
			}
			if !all {
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (g *oktaGroup) oktaAttr(attr string) (string, bool) {
	switch attr {
	case "profile.name":
		return g.Name, true
	case "profile.description":
		return g.Description, true
	case "type":
		return g.Type, true
	case "id":
		return g.ID, true
	case "source.id":
		return g.SourceID, true
	}
	return "", false
}

func (u *OrgUser) oktaAttr(attr string) (string, bool) {
	switch attr {
	case "id":
		return u.ID, true
	case "status":
		return u.Status, true
	case "profile.login":
		return u.Login, true
	case "profile.email":
		return u.Email, true
	case "profile.firstName":
		return u.FirstName, true
	case "profile.lastName":
		return u.LastName, true
	case "profile.department":
		return u.Department, true
	case "profile.title":
		return u.Title, true
	case "profile.userType":
		return u.UserType, true
	case "profile.employeeNumber":
		return u.EmployeeNumber, true
	}
	return "", false
}

func oktaBadRequest(w http.ResponseWriter, param string, err error) {
	oktaError(w, http.StatusBadRequest, "E0000001", "Api validation failed: "+param, []string{fmt.Sprintf("%s: %v", param, err)})
}

// ----- JSON shapes -----

type oktaGroupJSON struct {
	ID                    string         `json:"id"`
	Created               string         `json:"created"`
	LastUpdated           string         `json:"lastUpdated"`
	LastMembershipUpdated string         `json:"lastMembershipUpdated"`
	ObjectClass           []string       `json:"objectClass"`
	Type                  string         `json:"type"`
	Source                *oktaIDJSON    `json:"source,omitempty"`
	Profile               oktaGroupProf  `json:"profile"`
	Embedded              *oktaEmbedded  `json:"_embedded,omitempty"`
	Links                 map[string]any `json:"_links"`
}

type oktaIDJSON struct {
	ID string `json:"id"`
}

type oktaHref struct {
	Href string `json:"href"`
}

type oktaGroupProf struct {
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

type oktaEmbedded struct {
	Stats oktaStats `json:"stats"`
}

type oktaStats struct {
	UsersCount             int  `json:"usersCount"`
	AppsCount              int  `json:"appsCount"`
	GroupPushMappingsCount int  `json:"groupPushMappingsCount"`
	HasAdminPrivilege      bool `json:"hasAdminPrivilege"`
}

func (o *Okta) oktaGroupJSON(base string, g *oktaGroup, stats bool) oktaGroupJSON {
	j := oktaGroupJSON{
		ID: g.ID, Created: oktaTime(g.Created), LastUpdated: oktaTime(g.Created),
		LastMembershipUpdated: oktaTime(g.lastMembershipUpdated),
		ObjectClass:           []string{"okta:user_group"}, Type: g.Type,
		Profile: oktaGroupProf{Name: g.Name},
		Links: map[string]any{
			"logo": []map[string]string{
				{"name": "medium", "href": base + "/assets/img/logos/groups/okta-medium.png", "type": "image/png"},
				{"name": "large", "href": base + "/assets/img/logos/groups/okta-large.png", "type": "image/png"},
			},
			"users": oktaHref{base + "/api/v1/groups/" + g.ID + "/users"},
			"apps":  oktaHref{base + "/api/v1/groups/" + g.ID + "/apps"},
		},
	}
	if g.Description != "" {
		d := g.Description
		j.Profile.Description = &d
	}
	if g.Type == model.GroupTypeApp {
		j.ObjectClass = []string{"okta:windows_security_principal"}
		if g.SourceID != "" {
			j.Source = &oktaIDJSON{g.SourceID}
			j.Links["source"] = oktaHref{base + "/api/v1/apps/" + g.SourceID}
		}
	}
	if stats {
		// usersCount counts every member, whatever the user's status
		// (deactivated users stay members, okta-api.md §1.2), as the
		// member listing returns them.
		j.Embedded = &oktaEmbedded{Stats: oktaStats{UsersCount: max(0, len(g.Members)+o.statsSkew[g.ID])}}
	}
	return j
}

type oktaUserJSON struct {
	ID              string          `json:"id"`
	Status          string          `json:"status"`
	Created         string          `json:"created"`
	Activated       json.RawMessage `json:"activated,omitempty"`
	StatusChanged   json.RawMessage `json:"statusChanged,omitempty"`
	LastLogin       json.RawMessage `json:"lastLogin,omitempty"`
	LastUpdated     string          `json:"lastUpdated"`
	PasswordChanged json.RawMessage `json:"passwordChanged,omitempty"`
	Type            oktaIDJSON      `json:"type"`
	Profile         oktaProfileJSON `json:"profile"`
	Credentials     json.RawMessage `json:"credentials"`
	Links           map[string]any  `json:"_links"`
}

type oktaProfileJSON struct {
	FirstName      string  `json:"firstName,omitempty"`
	LastName       string  `json:"lastName,omitempty"`
	MobilePhone    *string `json:"mobilePhone"`
	SecondEmail    *string `json:"secondEmail"`
	Login          string  `json:"login"`
	Email          string  `json:"email"`
	Title          string  `json:"title,omitempty"`
	Department     string  `json:"department,omitempty"`
	UserType       string  `json:"userType,omitempty"`
	EmployeeNumber string  `json:"employeeNumber,omitempty"`
	Manager        string  `json:"manager,omitempty"`
	ManagerID      string  `json:"managerId,omitempty"`
}

var oktaCredentials = json.RawMessage(`{"password":{},"provider":{"type":"OKTA","name":"OKTA"}}`)

func oktaUserToJSON(base string, u *OrgUser) oktaUserJSON {
	created := u.Created
	j := oktaUserJSON{
		ID: u.ID, Status: u.Status, Created: oktaTime(created),
		Activated:       oktaNullTime(&created),
		StatusChanged:   oktaNullTime(&created),
		LastLogin:       oktaNullTime(u.LastLogin),
		LastUpdated:     oktaTime(created),
		PasswordChanged: oktaNullTime(u.PasswordChanged),
		Type:            oktaIDJSON{"oty1defaultusertype0"},
		Profile: oktaProfileJSON{
			FirstName: u.FirstName, LastName: u.LastName, Login: u.Login, Email: u.Email,
			Title: u.Title, Department: u.Department, UserType: u.UserType,
			EmployeeNumber: u.EmployeeNumber, Manager: u.Manager, ManagerID: u.ManagerID,
		},
		Credentials: oktaCredentials,
		Links:       map[string]any{"self": oktaHref{base + "/api/v1/users/" + u.ID}},
	}
	if u.LastLogin != nil && u.LastLogin.After(created) {
		j.LastUpdated = oktaTime(*u.LastLogin)
	}
	for _, k := range u.Omit {
		switch k {
		case "lastLogin":
			j.LastLogin = nil
		case "passwordChanged":
			j.PasswordChanged = nil
		case "activated":
			j.Activated = nil
		case "statusChanged":
			j.StatusChanged = nil
		}
	}
	return j
}

// ----- handlers -----

func (o *Okta) oktaListGroups(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var expr [][]oktaTerm
	var err error
	switch {
	case q.Get("search") != "":
		if expr, err = oktaParseExpr(q.Get("search")); err != nil {
			oktaBadRequest(w, "search", err)
			return
		}
	case q.Get("filter") != "":
		if expr, err = oktaParseExpr(q.Get("filter")); err != nil {
			oktaBadRequest(w, "filter", err)
			return
		}
		for _, ands := range expr {
			for _, t := range ands {
				if t.attr != "type" && t.attr != "id" {
					oktaBadRequest(w, "filter", fmt.Errorf("%s is not filterable", t.attr))
					return
				}
			}
		}
	}
	qname := q.Get("q")
	def := 10000
	if qname != "" {
		def = 300
	}
	limit, ok := oktaLimit(r, def, o.opts.PageLimitMax)
	if !ok {
		oktaBadRequest(w, "limit", fmt.Errorf("not a number"))
		return
	}
	stats := strings.Contains(q.Get("expand"), "stats")
	base := o.oktaBase(r)
	o.mu.RLock()
	idx, more := oktaPage(len(o.groups), func(i int) string { return o.groups[i].ID }, q.Get("after"), limit, func(i int) bool {
		g := &o.groups[i]
		if qname != "" && !strings.HasPrefix(strings.ToLower(g.Name), strings.ToLower(qname)) {
			return false
		}
		return oktaMatch(expr, g.oktaAttr)
	})
	out := make([]oktaGroupJSON, 0, len(idx))
	for _, i := range idx {
		out = append(out, o.oktaGroupJSON(base, &o.groups[i], stats))
	}
	next := q.Get("after")
	if len(idx) > 0 {
		next = o.groups[idx[len(idx)-1]].ID
	}
	endless := o.endless
	o.mu.RUnlock()
	if qname != "" {
		more = false // q is not paged
	}
	o.oktaLinks(w, r, next, more || (endless && next != ""))
	writeJSON(w, http.StatusOK, out)
}

func (o *Okta) oktaGetGroup(w http.ResponseWriter, r *http.Request) {
	gid := r.PathValue("gid")
	o.mu.RLock()
	defer o.mu.RUnlock()
	i, ok := o.groupIdx[gid]
	if !ok {
		oktaError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+gid+" (UserGroup)", nil)
		return
	}
	writeJSON(w, http.StatusOK, o.oktaGroupJSON(o.oktaBase(r), &o.groups[i], strings.Contains(r.URL.Query().Get("expand"), "stats")))
}

func (o *Okta) oktaListMembers(w http.ResponseWriter, r *http.Request) {
	gid := r.PathValue("gid")
	limit, ok := oktaLimit(r, 1000, o.opts.MemberLimitMax)
	if !ok {
		oktaBadRequest(w, "limit", fmt.Errorf("not a number"))
		return
	}
	after := r.URL.Query().Get("after")
	base := o.oktaBase(r)
	o.mu.RLock()
	gi, found := o.groupIdx[gid]
	if !found {
		o.mu.RUnlock()
		oktaError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+gid+" (UserGroup)", nil)
		return
	}
	members := o.groups[gi].Members
	idx, more := oktaPage(len(members), func(i int) string { return members[i] }, after, limit, func(int) bool { return true })
	out := make([]oktaUserJSON, 0, len(idx))
	for _, i := range idx {
		out = append(out, oktaUserToJSON(base, &o.users[o.userIdx[members[i]]]))
	}
	next := after
	if len(idx) > 0 {
		next = members[idx[len(idx)-1]]
	}
	endless := o.endless
	o.mu.RUnlock()
	o.oktaLinks(w, r, next, more || (endless && next != ""))
	writeJSON(w, http.StatusOK, out)
}

func (o *Okta) oktaListUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var expr [][]oktaTerm
	var err error
	param := ""
	for _, p := range []string{"search", "filter"} {
		if s := q.Get(p); s != "" {
			if expr, err = oktaParseExpr(s); err != nil {
				oktaBadRequest(w, p, err)
				return
			}
			param = p
			break
		}
	}
	qs := strings.ToLower(q.Get("q"))
	def := 200
	if qs != "" {
		def = 10
	}
	limit, ok := oktaLimit(r, def, o.opts.PageLimitMax)
	if !ok {
		oktaBadRequest(w, "limit", fmt.Errorf("not a number"))
		return
	}
	base := o.oktaBase(r)
	o.mu.RLock()
	idx, more := oktaPage(len(o.users), func(i int) string { return o.users[i].ID }, q.Get("after"), limit, func(i int) bool {
		u := &o.users[i]
		// With no search or filter Okta leaves DEPROVISIONED users out.
		if param == "" && u.Status == "DEPROVISIONED" {
			return false
		}
		if qs != "" {
			l := strings.ToLower
			if !strings.HasPrefix(l(u.Login), qs) && !strings.HasPrefix(l(u.Email), qs) && !strings.HasPrefix(l(u.FirstName), qs) && !strings.HasPrefix(l(u.LastName), qs) {
				return false
			}
		}
		return oktaMatch(expr, u.oktaAttr)
	})
	out := make([]oktaUserJSON, 0, len(idx))
	for _, i := range idx {
		out = append(out, oktaUserToJSON(base, &o.users[i]))
	}
	next := q.Get("after")
	if len(idx) > 0 {
		next = o.users[idx[len(idx)-1]].ID
	}
	endless := o.endless
	o.mu.RUnlock()
	o.oktaLinks(w, r, next, more || (endless && next != ""))
	writeJSON(w, http.StatusOK, out)
}

func (o *Okta) oktaGetUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	o.mu.RLock()
	defer o.mu.RUnlock()
	i, ok := o.userIdx[id]
	if !ok {
		i, ok = o.loginIdx[strings.ToLower(id)]
	}
	if !ok {
		oktaError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (User)", nil)
		return
	}
	writeJSON(w, http.StatusOK, oktaUserToJSON(o.oktaBase(r), &o.users[i]))
}

type oktaRuleJSON struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	Status      string `json:"status"`
	Name        string `json:"name"`
	Created     string `json:"created"`
	LastUpdated string `json:"lastUpdated"`
	Conditions  any    `json:"conditions"`
	Actions     any    `json:"actions"`
}

func oktaRuleToJSON(r *OrgRule) oktaRuleJSON {
	ex := r.Exclude
	if ex == nil {
		ex = []string{}
	}
	gids := r.GroupIDs
	if gids == nil {
		gids = []string{}
	}
	return oktaRuleJSON{
		Type: "group_rule", ID: r.ID, Status: r.Status, Name: r.Name,
		Created: oktaTime(r.Created), LastUpdated: oktaTime(r.Created),
		Conditions: map[string]any{
			"people":     map[string]any{"users": map[string]any{"exclude": ex}, "groups": map[string]any{"exclude": []string{}}},
			"expression": map[string]any{"type": "urn:okta:expression:1.0", "value": r.Expression},
		},
		Actions: map[string]any{"assignUserToGroups": map[string]any{"groupIds": gids}},
	}
}

func (o *Okta) oktaListRules(w http.ResponseWriter, r *http.Request) {
	limit, ok := oktaLimit(r, 50, o.opts.PageLimitMax)
	if !ok {
		oktaBadRequest(w, "limit", fmt.Errorf("not a number"))
		return
	}
	kw := strings.ToLower(r.URL.Query().Get("search"))
	after := r.URL.Query().Get("after")
	o.mu.RLock()
	idx, more := oktaPage(len(o.rules), func(i int) string { return o.rules[i].ID }, after, limit, func(i int) bool {
		return kw == "" || strings.Contains(strings.ToLower(o.rules[i].Name), kw)
	})
	out := make([]oktaRuleJSON, 0, len(idx))
	for _, i := range idx {
		out = append(out, oktaRuleToJSON(&o.rules[i]))
	}
	next := after
	if len(idx) > 0 {
		next = o.rules[idx[len(idx)-1]].ID
	}
	endless := o.endless
	o.mu.RUnlock()
	o.oktaLinks(w, r, next, more || (endless && next != ""))
	writeJSON(w, http.StatusOK, out)
}

func (o *Okta) oktaGetRule(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("gid") != "rules" {
		oktaError(w, http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method", nil)
		return
	}
	id := r.PathValue("sub")
	o.mu.RLock()
	defer o.mu.RUnlock()
	for i := range o.rules {
		if o.rules[i].ID == id {
			writeJSON(w, http.StatusOK, oktaRuleToJSON(&o.rules[i]))
			return
		}
	}
	oktaError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (GroupRule)", nil)
}

// oktaLookupMembership resolves the group and user of a membership request
// and writes the Okta error when one is unknown or the group is read-only.
func (o *Okta) oktaLookupMembership(w http.ResponseWriter, r *http.Request) (gi, ui int, ok bool) {
	gid, uid := r.PathValue("gid"), r.PathValue("uid")
	gi, found := o.groupIdx[gid]
	if !found {
		oktaError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+gid+" (UserGroup)", nil)
		return 0, 0, false
	}
	ui, found = o.userIdx[uid]
	if !found {
		oktaError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+uid+" (User)", nil)
		return 0, 0, false
	}
	if t := o.groups[gi].Type; t == model.GroupTypeApp || t == model.GroupTypeBuiltIn {
		oktaError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action", nil)
		return 0, 0, false
	}
	return gi, ui, true
}

func (o *Okta) oktaAddMember(w http.ResponseWriter, r *http.Request) {
	now := o.opts.Clock.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	gi, ui, ok := o.oktaLookupMembership(w, r)
	if !ok {
		return
	}
	g, u := &o.groups[gi], &o.users[ui]
	if pos, found := slices.BinarySearch(g.Members, u.ID); !found {
		g.Members = slices.Insert(g.Members, pos, u.ID)
		g.lastMembershipUpdated = now
		o.oktaEvent(r, now, "group.user_membership.add", "Add user to group membership", "", g, u)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (o *Okta) oktaRemoveMember(w http.ResponseWriter, r *http.Request) {
	now := o.opts.Clock.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	gi, ui, ok := o.oktaLookupMembership(w, r)
	if !ok {
		return
	}
	g, u := &o.groups[gi], &o.users[ui]
	pos, found := slices.BinarySearch(g.Members, u.ID)
	if !found {
		if o.opts.NonMemberDelete404 {
			oktaError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+u.ID+" (GroupMembership)", nil)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	g.Members = slices.Delete(g.Members, pos, pos+1)
	g.lastMembershipUpdated = now
	o.oktaEvent(r, now, "group.user_membership.remove", "Remove user from group membership", "", g, u)
	for i := range o.rules {
		rule := &o.rules[i]
		if rule.Status != "ACTIVE" || !slices.Contains(rule.GroupIDs, g.ID) {
			continue
		}
		if o.ruleReadd {
			g.Members = slices.Insert(g.Members, pos, u.ID)
			o.oktaEvent(r, now, "group.user_membership.add", "Add user to group membership", rule.ID, g, u)
			break
		}
		if !slices.Contains(rule.Exclude, u.ID) {
			rule.Exclude = append(rule.Exclude, u.ID)
		}
		o.oktaEvent(r, now, "group.user_membership.rule.add_exclusion", "Add user to group rule exclusion list", rule.ID, g, u)
	}
	w.WriteHeader(http.StatusNoContent)
}

// oktaEvent appends a System Log event; rule-driven events are performed
// by SystemPrincipal, as Okta logs them. Callers hold o.mu.
func (o *Okta) oktaEvent(r *http.Request, now time.Time, typ, msg, ruleID string, g *oktaGroup, u *OrgUser) {
	reqID, _ := r.Context().Value(oktaReqIDKey{}).(string)
	e := OktaEvent{
		UUID:      fmt.Sprintf("00000000-0000-4000-8000-%012d", len(o.events)+1),
		Published: now, EventType: typ, Message: msg,
		ActorID: "00u0000000000000admin", ActorType: "User", ActorLogin: o.opts.Actor,
		UserID: u.ID, UserLogin: u.Login, GroupID: g.ID, GroupName: g.Name, RuleID: ruleID,
		RequestID: reqID, RequestPath: r.URL.Path,
	}
	if ruleID != "" {
		e.ActorID, e.ActorType, e.ActorLogin = "0oa0000000000system", "SystemPrincipal", "system@okta.com"
	}
	o.events = append(o.events, e)
}

func oktaEventJSON(e *OktaEvent) map[string]any {
	display := func(login string) string { return login }
	return map[string]any{
		"uuid": e.UUID, "published": oktaTime(e.Published), "eventType": e.EventType,
		"legacyEventType": map[string]string{
			"group.user_membership.remove":             "core.user_group_member.user_remove",
			"group.user_membership.add":                "core.user_group_member.user_add",
			"group.user_membership.rule.add_exclusion": "core.user_group_member.rule_exclusion",
		}[e.EventType],
		"displayMessage": e.Message, "severity": "INFO", "version": "0",
		"outcome": map[string]any{"result": "SUCCESS", "reason": nil},
		"actor":   map[string]any{"id": e.ActorID, "type": e.ActorType, "alternateId": e.ActorLogin, "displayName": display(e.ActorLogin), "detailEntry": nil},
		"target": []map[string]any{
			{"id": e.UserID, "type": "User", "alternateId": e.UserLogin, "displayName": e.UserLogin, "detailEntry": nil},
			{"id": e.GroupID, "type": "UserGroup", "alternateId": "unknown", "displayName": e.GroupName, "detailEntry": nil},
		},
		"transaction": map[string]any{"type": "WEB", "id": e.RequestID, "detail": map[string]any{}},
		"debugContext": map[string]any{"debugData": map[string]any{
			"requestId": e.RequestID, "requestUri": e.RequestPath, "url": e.RequestPath + "?",
		}},
	}
}

func (o *Okta) oktaListLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := o.opts.Clock.now()
	until := now
	bounded := false
	if s := q.Get("until"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			oktaBadRequest(w, "until", err)
			return
		}
		until, bounded = t, true
	}
	since := until.Add(-7 * 24 * time.Hour)
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			oktaBadRequest(w, "since", err)
			return
		}
		since = t
	}
	expr, err := oktaParseExpr(q.Get("filter"))
	if err != nil {
		oktaBadRequest(w, "filter", err)
		return
	}
	limit, ok := oktaLimit(r, 100, 1000)
	if !ok {
		oktaBadRequest(w, "limit", fmt.Errorf("not a number"))
		return
	}
	desc := strings.EqualFold(q.Get("sortOrder"), "DESCENDING")
	after := -1
	if s := q.Get("after"); s != "" {
		n, _, _ := strings.Cut(s, "_")
		v, err := strconv.Atoi(n)
		if err != nil {
			oktaBadRequest(w, "after", err)
			return
		}
		after = v
	}
	o.mu.RLock()
	order := make([]int, 0, len(o.events))
	for i := range o.events {
		e := &o.events[i]
		if e.Published.Before(since) || e.Published.After(until) {
			continue
		}
		if !oktaMatchTarget(expr, e) {
			continue
		}
		order = append(order, i)
	}
	if desc {
		slices.Reverse(order)
	}
	start := 0
	if after >= 0 {
		start = len(order)
		for k, i := range order {
			if i == after {
				start = k + 1
				break
			}
		}
	}
	end := min(len(order), start+limit)
	out := make([]map[string]any, 0, end-start)
	for _, i := range order[start:end] {
		out = append(out, oktaEventJSON(&o.events[i]))
	}
	next := q.Get("after")
	if end > start {
		next = fmt.Sprintf("%d_1", order[end-1])
	}
	o.mu.RUnlock()
	// A polling query (ascending, no until) always has a next link.
	hasNext := end < len(order) || (!bounded && !desc && next != "")
	o.oktaLinks(w, r, next, hasNext)
	writeJSON(w, http.StatusOK, out)
}

// oktaMatchTarget evaluates target.id terms against every target of e
// (user and group), combined with the other terms.
func oktaMatchTarget(ors [][]oktaTerm, e *OktaEvent) bool {
	for _, target := range []string{e.UserID, e.GroupID} {
		if oktaMatch(ors, func(attr string) (string, bool) {
			switch attr {
			case "eventType":
				return e.EventType, true
			case "target.id":
				return target, true
			case "actor.id":
				return e.ActorID, true
			}
			return "", false
		}) {
			return true
		}
	}
	return false
}
