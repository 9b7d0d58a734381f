package sandbox

// The fake Confluence Cloud (REST v2) follows reference §2.8: Basic auth;
// spaces by key; pages found by title, created at version 1 (200, a
// duplicate title in the space is a 400), read with their storage body
// (any version), updated only with version.number == current+1 (else
// 409, v2 error shape), and versions listed with cursor paging through
// _links.next and a Link header. Storage bodies must be well-formed XML,
// as Confluence refuses malformed XHTML.

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// confluenceMaxBody is Confluence's request limit (413 above it).
const confluenceMaxBody = 5 << 20

// ConfluenceOptions configures a fake Confluence.
type ConfluenceOptions struct {
	Email, Token string
	Spaces       []string // space keys; ids are assigned 65537, 65538... in this order (default ["SOX"])
	Clock        Clock    // stamps createdAt / version.createdAt
	VersionsPage int      // max versions per /versions page (default 25)
}

// ConfluencePage is the fake's view of a page, for assertions.
type ConfluencePage struct {
	ID       string
	SpaceID  string
	SpaceKey string
	ParentID string
	Title    string
	Versions []ConfluenceVersion // oldest first; the last is current
}

// ConfluenceVersion is one saved version.
type ConfluenceVersion struct {
	Number    int
	Title     string
	Body      string
	Message   string
	AuthorID  string
	CreatedAt time.Time
}

// Current returns the latest version.
func (p ConfluencePage) Current() ConfluenceVersion { return p.Versions[len(p.Versions)-1] }

// Confluence is a fake Confluence Cloud site; it is an http.Handler.
type Confluence struct {
	opts ConfluenceOptions
	log  RequestLog

	mu        sync.Mutex
	pages     []*ConfluencePage
	nextID    int
	conflicts int
	faults    faults
}

// NewConfluence returns a fake Confluence with no pages.
func NewConfluence(o ConfluenceOptions) *Confluence {
	if len(o.Spaces) == 0 {
		o.Spaces = []string{"SOX"}
	}
	if o.VersionsPage <= 0 {
		o.VersionsPage = 25
	}
	return &Confluence{opts: o, nextID: 98765}
}

// Requests returns the requests received so far.
func (c *Confluence) Requests() []Request { return c.log.All() }

// Log is the request log (Count, Reset...).
func (c *Confluence) Log() *RequestLog { return &c.log }

// Pages returns a deep copy of every page, in creation order.
func (c *Confluence) Pages() []ConfluencePage {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ConfluencePage, 0, len(c.pages))
	for _, p := range c.pages {
		cp := *p
		cp.Versions = slices.Clone(p.Versions)
		out = append(out, cp)
	}
	return out
}

// EditPage saves a new version of page id as another user would in the
// editor, e.g. between a client's read and its write to provoke a 409.
func (c *Confluence) EditPage(id, body, message string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.find(id)
	if p == nil {
		return fmt.Errorf("sandbox confluence: no page %s", id)
	}
	cur := p.Current()
	p.Versions = append(p.Versions, ConfluenceVersion{Number: cur.Number + 1, Title: cur.Title, Body: body, Message: message,
		AuthorID: "557058:someone-else", CreatedAt: c.opts.Clock.now()})
	return nil
}

// AddPage creates a page directly (e.g. a parent page for `uar sandbox`)
// and returns its id. An unknown space key is an error.
func (c *Confluence) AddPage(spaceKey, title, body string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sid := c.spaceID(spaceKey)
	if sid == "" {
		return "", fmt.Errorf("sandbox confluence: no space %s", spaceKey)
	}
	if c.titleTaken(sid, title, "") {
		return "", fmt.Errorf("sandbox confluence: title %q taken in %s", title, spaceKey)
	}
	p := &ConfluencePage{ID: strconv.Itoa(c.nextID), SpaceID: sid, SpaceKey: spaceKey, Title: title}
	c.nextID++
	p.Versions = []ConfluenceVersion{{Number: 1, Title: title, Body: body, AuthorID: c.accountID(), CreatedAt: c.opts.Clock.now()}}
	c.pages = append(c.pages, p)
	return p.ID, nil
}

// InjectConflicts makes the next n page updates answer 409 without saving.
func (c *Confluence) InjectConflicts(n int) {
	c.mu.Lock()
	c.conflicts = n
	c.mu.Unlock()
}

// Inject429 makes the next n requests answer 429 with the given
// Retry-After (empty: no header).
func (c *Confluence) Inject429(n int, retryAfter string) { c.faults.inject429(n, retryAfter) }

// Inject5xx makes the next n requests answer status (503 if 0:
// "Confluence down") without doing anything.
func (c *Confluence) Inject5xx(n, status int) {
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	c.faults.inject5xx(n, status)
}

// SetLatency delays every response by d.
func (c *Confluence) SetLatency(d time.Duration) { c.faults.setLatency(d) }

func (c *Confluence) find(id string) *ConfluencePage {
	for _, p := range c.pages {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (c *Confluence) spaceID(key string) string {
	if i := slices.Index(c.opts.Spaces, key); i >= 0 {
		return strconv.Itoa(65537 + i)
	}
	return ""
}

func (c *Confluence) spaceKey(id string) string {
	for i, k := range c.opts.Spaces {
		if strconv.Itoa(65537+i) == id {
			return k
		}
	}
	return ""
}

// confluenceError writes the v2 error shape.
func confluenceError(w http.ResponseWriter, status int, code, title string) {
	writeJSON(w, status, map[string]any{"errors": []any{map[string]any{"status": status, "code": code, "title": title, "detail": nil}}})
}

func confluenceTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// confluenceAccountID is the fake account id of the API user.
func (c *Confluence) accountID() string { return JiraAccountID(c.opts.Email) }

// confluenceCheckStorage reports whether body is well-formed storage
// XHTML: it must parse as XML inside one root element that declares the
// ac: and ri: namespaces, and must not close that root early.
func confluenceCheckStorage(body string) error {
	const root = `<root xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource/identifier" xmlns:at="http://atlassian.com/template">`
	d := xml.NewDecoder(strings.NewReader(root + body + "</root>"))
	d.Strict = true
	d.Entity = xml.HTMLEntity // &nbsp; and friends are accepted by Confluence
	depth, closed := 0, false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if depth != 0 {
				return errors.New("unexpected end of document")
			}
			return nil
		}
		if err != nil {
			return err
		}
		if closed {
			// The body closed the wrapper itself ("</root><root>"): an
			// unmatched end tag in the body.
			if cd, ok := tok.(xml.CharData); !ok || strings.TrimSpace(string(cd)) != "" {
				return errors.New("unmatched end tag")
			}
			continue
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
			closed = depth == 0
		}
	}
}

// ServeHTTP implements http.Handler.
func (c *Confluence) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := readBody(r)
	rec := &jiraRecorder{ResponseWriter: w}
	defer func() {
		c.log.Add(Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body), Status: rec.status})
	}()
	c.faults.delay(r)
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/wiki/spaces/") {
		// /wiki/spaces/{space}/pages/{id}/{title}: the page in a browser.
		if parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/wiki/spaces/"), "/"); len(parts) >= 3 && parts[1] == "pages" {
			rec.status = http.StatusOK
			c.browsePage(rec, parts[2])
			return
		}
	}
	email, token, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(email), []byte(c.opts.Email)) != 1 ||
		subtle.ConstantTimeCompare([]byte(token), []byte(c.opts.Token)) != 1 {
		confluenceError(rec, http.StatusUnauthorized, "UNAUTHORIZED", "Unauthorized; scope does not match")
		return
	}
	switch st, ra := c.faults.next(); {
	case st == http.StatusTooManyRequests:
		if ra != "" {
			rec.Header().Set("Retry-After", ra)
		}
		confluenceError(rec, st, "TOO_MANY_REQUESTS", "Rate limit exceeded")
		return
	case st != 0:
		confluenceError(rec, st, "SERVICE_UNAVAILABLE", "Confluence is temporarily unavailable")
		return
	}

	if len(body) > confluenceMaxBody {
		confluenceError(rec, http.StatusRequestEntityTooLarge, "REQUEST_ENTITY_TOO_LARGE", "Request body exceeds the 5 MB limit")
		return
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	const api = "/wiki/api/v2"
	switch {
	case p == api+"/spaces" && r.Method == http.MethodGet:
		c.spaces(rec, r)
	case p == api+"/pages" && r.Method == http.MethodGet:
		c.listPages(rec, r)
	case p == api+"/pages" && r.Method == http.MethodPost:
		c.create(rec, r, body)
	case p == api+"/users-bulk" && r.Method == http.MethodPost:
		c.usersBulk(rec, body)
	case strings.HasPrefix(p, api+"/pages/"):
		rest := strings.Split(strings.TrimPrefix(p, api+"/pages/"), "/")
		switch {
		case len(rest) == 1 && r.Method == http.MethodGet:
			c.get(rec, r, rest[0])
		case len(rest) == 1 && r.Method == http.MethodPut:
			c.update(rec, r, rest[0], body)
		case len(rest) == 2 && rest[1] == "versions" && r.Method == http.MethodGet:
			c.versions(rec, r, rest[0])
		default:
			confluenceError(rec, http.StatusNotFound, "NOT_FOUND", "No route")
		}
	default:
		confluenceError(rec, http.StatusNotFound, "NOT_FOUND", "No route "+r.Method+" "+p)
	}
}

func (c *Confluence) base(r *http.Request) string { return "http://" + r.Host + "/wiki" }

func (c *Confluence) spaces(w http.ResponseWriter, r *http.Request) {
	var keys []string
	for _, k := range r.URL.Query()["keys"] {
		keys = append(keys, strings.Split(k, ",")...)
	}
	res := []any{}
	for i, k := range c.opts.Spaces {
		if len(keys) == 0 || slices.Contains(keys, k) {
			res = append(res, map[string]any{"id": strconv.Itoa(65537 + i), "key": k, "name": k + " space", "type": "global", "status": "current"})
		}
	}
	writeJSON(w, 200, map[string]any{"results": res, "_links": map[string]any{"base": c.base(r)}})
}

// pageJSON renders page p at version v (body included when withBody).
// Caller holds c.mu.
func (c *Confluence) pageJSON(p *ConfluencePage, v ConfluenceVersion, withBody bool) map[string]any {
	out := map[string]any{
		"id": p.ID, "status": "current", "title": v.Title, "spaceId": p.SpaceID, "authorId": p.Versions[0].AuthorID,
		"ownerId": p.Versions[0].AuthorID, "createdAt": confluenceTime(p.Versions[0].CreatedAt),
		"version": map[string]any{"number": v.Number, "message": v.Message, "minorEdit": false, "authorId": v.AuthorID, "createdAt": confluenceTime(v.CreatedAt)},
		"_links": map[string]any{
			"webui":  "/spaces/" + p.SpaceKey + "/pages/" + p.ID + "/" + url.PathEscape(strings.ReplaceAll(v.Title, " ", "+")),
			"editui": "/pages/resumedraft.action?draftId=" + p.ID,
			"tinyui": "/x/" + base64.RawURLEncoding.EncodeToString([]byte(p.ID)),
		},
	}
	if p.ParentID != "" {
		out["parentId"], out["parentType"] = p.ParentID, "page"
	}
	if withBody {
		out["body"] = map[string]any{"storage": map[string]any{"representation": "storage", "value": v.Body}}
	}
	return out
}

func (c *Confluence) listPages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c.mu.Lock()
	defer c.mu.Unlock()
	res := []any{}
	for _, p := range c.pages {
		cur := p.Current()
		if sid := q.Get("space-id"); sid != "" && p.SpaceID != sid {
			continue
		}
		if t := q.Get("title"); t != "" && cur.Title != t {
			continue
		}
		res = append(res, c.pageJSON(p, cur, q.Get("body-format") == "storage"))
	}
	writeJSON(w, 200, map[string]any{"results": res, "_links": map[string]any{"base": c.base(r)}})
}

type confluencePageIn struct {
	ID       string `json:"id"`
	SpaceID  string `json:"spaceId"`
	Status   string `json:"status"`
	Title    string `json:"title"`
	ParentID string `json:"parentId"`
	Body     *struct {
		Representation string `json:"representation"`
		Value          string `json:"value"`
	} `json:"body"`
	Version *struct {
		Number  int    `json:"number"`
		Message string `json:"message"`
	} `json:"version"`
}

// checkBody validates the body of a create or update; "" means fine.
func confluenceCheckBody(in confluencePageIn) string {
	if in.Body == nil {
		return "body is required"
	}
	if in.Body.Representation != "storage" {
		return "only the storage representation is supported by this fake"
	}
	if err := confluenceCheckStorage(in.Body.Value); err != nil {
		return "Error parsing xhtml: " + err.Error()
	}
	return ""
}

func (c *Confluence) titleTaken(spaceID, title, exceptID string) bool {
	for _, p := range c.pages {
		if p.SpaceID == spaceID && p.ID != exceptID && p.Current().Title == title {
			return true
		}
	}
	return false
}

func (c *Confluence) create(w http.ResponseWriter, r *http.Request, body []byte) {
	var in confluencePageIn
	if err := json.Unmarshal(body, &in); err != nil {
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", "Invalid JSON: "+err.Error())
		return
	}
	if strings.TrimSpace(in.Title) == "" {
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", "Title is required for a published page")
		return
	}
	if msg := confluenceCheckBody(in); msg != "" {
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", msg)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := c.spaceKey(in.SpaceID)
	if key == "" {
		confluenceError(w, 404, "NOT_FOUND", "Space not found or you do not have permission to view it")
		return
	}
	if in.ParentID != "" {
		if pp := c.find(in.ParentID); pp == nil || pp.SpaceID != in.SpaceID {
			confluenceError(w, 404, "NOT_FOUND", "Parent page not found")
			return
		}
	}
	if c.titleTaken(in.SpaceID, in.Title, "") {
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", "A page with this title already exists: A page already exists with the same TITLE in this space")
		return
	}
	p := &ConfluencePage{ID: strconv.Itoa(c.nextID), SpaceID: in.SpaceID, SpaceKey: key, ParentID: in.ParentID, Title: in.Title}
	c.nextID++
	p.Versions = []ConfluenceVersion{{Number: 1, Title: in.Title, Body: in.Body.Value, AuthorID: c.accountID(), CreatedAt: c.opts.Clock.now()}}
	c.pages = append(c.pages, p)
	out := c.pageJSON(p, p.Current(), false)
	out["_links"].(map[string]any)["base"] = c.base(r)
	writeJSON(w, 200, out)
}

func (c *Confluence) get(w http.ResponseWriter, r *http.Request, id string) {
	q := r.URL.Query()
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.find(id)
	if p == nil {
		confluenceError(w, 404, "NOT_FOUND", "Page not found")
		return
	}
	v := p.Current()
	if n := q.Get("version"); n != "" {
		k, err := strconv.Atoi(n)
		if err != nil || k < 1 || k > len(p.Versions) {
			confluenceError(w, 404, "NOT_FOUND", "Version not found")
			return
		}
		v = p.Versions[k-1]
	}
	out := c.pageJSON(p, v, q.Get("body-format") == "storage")
	out["_links"].(map[string]any)["base"] = c.base(r)
	writeJSON(w, 200, out)
}

func (c *Confluence) update(w http.ResponseWriter, r *http.Request, id string, body []byte) {
	var in confluencePageIn
	if err := json.Unmarshal(body, &in); err != nil {
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", "Invalid JSON: "+err.Error())
		return
	}
	switch {
	case in.ID != id:
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", "id in the body must match the path")
		return
	case in.Status != "current":
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", "status is required")
		return
	case strings.TrimSpace(in.Title) == "":
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", "title is required")
		return
	case in.Version == nil:
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", "version is required")
		return
	}
	if msg := confluenceCheckBody(in); msg != "" {
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", msg)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.find(id)
	if p == nil {
		confluenceError(w, 404, "NOT_FOUND", "Page not found")
		return
	}
	cur := p.Current()
	if c.conflicts > 0 || in.Version.Number != cur.Number+1 {
		if c.conflicts > 0 {
			c.conflicts--
		}
		confluenceError(w, 409, "CONFLICT", fmt.Sprintf("Version must be incremented on update. Current version is: %d", cur.Number))
		return
	}
	if c.titleTaken(p.SpaceID, in.Title, p.ID) {
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", "A page with this title already exists: A page already exists with the same TITLE in this space")
		return
	}
	p.Title = in.Title
	p.Versions = append(p.Versions, ConfluenceVersion{Number: in.Version.Number, Title: in.Title, Body: in.Body.Value,
		Message: in.Version.Message, AuthorID: c.accountID(), CreatedAt: c.opts.Clock.now()})
	out := c.pageJSON(p, p.Current(), false)
	out["_links"].(map[string]any)["base"] = c.base(r)
	writeJSON(w, 200, out)
}

func (c *Confluence) versions(w http.ResponseWriter, r *http.Request, id string) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 || limit > c.opts.VersionsPage {
		limit = c.opts.VersionsPage
	}
	start := 0
	if cur := q.Get("cursor"); cur != "" {
		b, err := base64.RawURLEncoding.DecodeString(cur)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", "Invalid cursor")
			return
		}
		start = n
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.find(id)
	if p == nil {
		confluenceError(w, 404, "NOT_FOUND", "Page not found")
		return
	}
	// Newest first, as sort=-modified-date gives.
	vs := slices.Clone(p.Versions)
	slices.Reverse(vs)
	start = min(start, len(vs))
	end := min(start+limit, len(vs))
	res := []any{}
	for _, v := range vs[start:end] {
		res = append(res, map[string]any{"number": v.Number, "authorId": v.AuthorID, "message": v.Message, "minorEdit": false,
			"createdAt": confluenceTime(v.CreatedAt), "page": map[string]any{"id": p.ID, "title": v.Title}})
	}
	links := map[string]any{"base": c.base(r)}
	if end < len(vs) {
		next := fmt.Sprintf("/wiki/api/v2/pages/%s/versions?limit=%d&cursor=%s", p.ID, limit, base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))))
		links["next"] = next
		w.Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	writeJSON(w, 200, map[string]any{"results": res, "_links": links})
}

func (c *Confluence) usersBulk(w http.ResponseWriter, body []byte) {
	var in struct {
		AccountIDs []string `json:"accountIds"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		confluenceError(w, 400, "INVALID_REQUEST_PARAMETER", "Invalid JSON: "+err.Error())
		return
	}
	res := []any{}
	for _, id := range in.AccountIDs {
		if id == c.accountID() {
			res = append(res, map[string]any{"accountId": id, "displayName": c.opts.Email, "email": c.opts.Email, "accountType": "atlassian"})
		}
	}
	writeJSON(w, 200, map[string]any{"results": res})
}
