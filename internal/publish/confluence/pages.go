package confluence

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/httpx"
)

// Version is one saved version of a page. CreatedAt is Confluence's own
// clock (UTC), the external timestamp of what uar wrote.
type Version struct {
	Number    int
	Message   string
	AuthorID  string
	MinorEdit bool
	CreatedAt time.Time
}

// Page is a Confluence page. Body (storage XHTML) is filled only by
// GetPage; Confluence rewrites storage on save, so never compare it byte
// for byte with what was sent.
type Page struct {
	ID        string
	Title     string
	SpaceID   string
	ParentID  string
	Status    string
	AuthorID  string
	CreatedAt time.Time
	Version   Version
	WebURL    string // _links.base + _links.webui
	Body      string
}

// ErrPageExists is returned (wrapped in a *PageExistsError) when a page
// with the same title already exists in the space.
var ErrPageExists = errors.New("a page with this title already exists in the space")

// PageExistsError carries the existing page, so the caller can update it
// instead of creating a duplicate.
type PageExistsError struct {
	Page Page
	Err  error // the 400 Confluence answered
}

func (e *PageExistsError) Error() string {
	return fmt.Sprintf("confluence: create page %q: %v (page %s)", e.Page.Title, ErrPageExists, e.Page.ID)
}

// Is makes errors.Is(err, ErrPageExists) true.
func (e *PageExistsError) Is(target error) bool { return target == ErrPageExists }

// Unwrap returns the underlying HTTP error.
func (e *PageExistsError) Unwrap() error { return e.Err }

type wireVersion struct {
	Number    int    `json:"number"`
	Message   string `json:"message"`
	MinorEdit bool   `json:"minorEdit"`
	AuthorID  string `json:"authorId"`
	CreatedAt string `json:"createdAt"`
}

func (w wireVersion) version() (Version, error) {
	v := Version{Number: w.Number, Message: w.Message, MinorEdit: w.MinorEdit, AuthorID: w.AuthorID}
	if w.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, w.CreatedAt)
		if err != nil {
			return v, fmt.Errorf("version %d: createdAt: %w", w.Number, err)
		}
		v.CreatedAt = t.UTC()
	}
	return v, nil
}

type wireLinks struct {
	Base  string `json:"base"`
	WebUI string `json:"webui"`
	Next  string `json:"next"`
}

type wirePage struct {
	ID        string       `json:"id"`
	Status    string       `json:"status"`
	Title     string       `json:"title"`
	SpaceID   string       `json:"spaceId"`
	ParentID  string       `json:"parentId"`
	AuthorID  string       `json:"authorId"`
	CreatedAt string       `json:"createdAt"`
	Version   *wireVersion `json:"version"`
	Body      struct {
		Storage struct {
			Value string `json:"value"`
		} `json:"storage"`
	} `json:"body"`
	Links wireLinks `json:"_links"`
}

func (w wirePage) page(base string) (Page, error) {
	p := Page{ID: w.ID, Title: w.Title, SpaceID: w.SpaceID, ParentID: w.ParentID, Status: w.Status, AuthorID: w.AuthorID, Body: w.Body.Storage.Value}
	if w.Links.Base != "" {
		base = w.Links.Base
	}
	if w.Links.WebUI != "" {
		p.WebURL = strings.TrimRight(base, "/") + w.Links.WebUI
	}
	if w.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, w.CreatedAt)
		if err != nil {
			return p, fmt.Errorf("page %s: createdAt: %w", w.ID, err)
		}
		p.CreatedAt = t.UTC()
	}
	if w.Version != nil {
		v, err := w.Version.version()
		if err != nil {
			return p, fmt.Errorf("page %s: %w", w.ID, err)
		}
		p.Version = v
	}
	return p, nil
}

// ErrUnknownSpace is wrapped by SpaceID when the space key is unknown (or
// hidden from the account).
var ErrUnknownSpace = errors.New("no such space")

// SpaceID resolves a space key (confluence.space) to the numeric id v2
// uses. An unknown key, or one the account cannot see, is an error naming
// confluence.space.
func (c *Client) SpaceID(ctx context.Context, key string) (string, error) {
	var resp struct {
		Results []struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		} `json:"results"`
	}
	err := c.do(ctx, call{op: "find space " + key, method: http.MethodGet, path: "/wiki/api/v2/spaces",
		query: url.Values{"keys": {key}}, idempotent: true, ok: []int{200}}, &resp)
	if err != nil {
		return "", err
	}
	for _, s := range resp.Results {
		if strings.EqualFold(s.Key, key) {
			return s.ID, nil
		}
	}
	return "", fmt.Errorf("confluence: confluence.space %q: %w, or %s cannot see it", key, ErrUnknownSpace, c.cfg.Email)
}

// FindPage returns the current page titled exactly title in the space, or
// nil if there is none. The body is not included (use GetPage).
func (c *Client) FindPage(ctx context.Context, spaceID, title string) (*Page, error) {
	var resp struct {
		Results []wirePage `json:"results"`
		Links   wireLinks  `json:"_links"`
	}
	err := c.do(ctx, call{op: fmt.Sprintf("find page %q", title), method: http.MethodGet, path: "/wiki/api/v2/pages",
		query: url.Values{"space-id": {spaceID}, "title": {title}, "status": {"current"}}, idempotent: true, ok: []int{200}}, &resp)
	if err != nil {
		return nil, err
	}
	for _, w := range resp.Results {
		if w.Title == title {
			p, err := w.page(resp.Links.Base)
			if err != nil {
				return nil, fmt.Errorf("confluence: %w", err)
			}
			return &p, nil
		}
	}
	return nil, nil
}

// CreatePage creates a page (version 1) in the space under parentID (empty:
// at the space root) with a storage-format XHTML body. It is not retried
// after a 5xx or timeout; look the page up with FindPage first. If the
// title already exists in the space, Confluence answers 400 and CreatePage
// returns a *PageExistsError (errors.Is(err, ErrPageExists)) carrying the
// existing page.
func (c *Client) CreatePage(ctx context.Context, spaceID, parentID, title, storage string) (Page, error) {
	if strings.TrimSpace(title) == "" {
		return Page{}, errors.New("confluence: create page: title is empty")
	}
	body := map[string]any{
		"spaceId": spaceID, "status": "current", "title": title,
		"body": map[string]string{"representation": "storage", "value": storage},
	}
	if parentID != "" {
		body["parentId"] = parentID
	}
	var w wirePage
	err := c.do(ctx, call{op: fmt.Sprintf("create page %q", title), method: http.MethodPost, path: "/wiki/api/v2/pages",
		body: body, ok: []int{200, 201}}, &w)
	if err != nil {
		if isStatus(err, http.StatusBadRequest) {
			if p, ferr := c.FindPage(ctx, spaceID, title); ferr == nil && p != nil {
				return Page{}, &PageExistsError{Page: *p, Err: err}
			}
		}
		if isStatus(err, http.StatusNotFound) {
			return Page{}, fmt.Errorf("%w (check confluence.space and confluence.parent_page_id %q)", err, parentID)
		}
		return Page{}, err
	}
	p, err := w.page(c.cfg.BaseURL + "/wiki")
	if err != nil {
		return p, fmt.Errorf("confluence: %w", err)
	}
	return p, nil
}

// GetPage reads a page with its storage body and current version.
func (c *Client) GetPage(ctx context.Context, id string) (Page, error) {
	var w wirePage
	err := c.do(ctx, call{op: "get page " + id, method: http.MethodGet, path: "/wiki/api/v2/pages/" + url.PathEscape(id),
		query: url.Values{"body-format": {"storage"}}, idempotent: true, ok: []int{200}}, &w)
	if err != nil {
		return Page{}, err
	}
	p, err := w.page(c.cfg.BaseURL + "/wiki")
	if err != nil {
		return p, fmt.Errorf("confluence: %w", err)
	}
	return p, nil
}

// UpdatePage rewrites page id by read-modify-write: it reads the current
// page, calls render(current) for the new storage body, and writes it as
// version current+1 with message (shown in the page history). If someone
// else saved in between, Confluence answers 409 and UpdatePage reads and
// renders again, at most 5 times (WithMaxUpdateAttempts). title "" keeps
// the current title. render MUST be idempotent in effect (e.g. "append the
// panel unless the body already has it"), because a write whose answer was
// lost is seen as a conflict and rendered again on top of itself.
func (c *Client) UpdatePage(ctx context.Context, id, title, message string, render func(current Page) (string, error)) (Page, error) {
	var last error
	for attempt := 1; attempt <= c.maxUpdate; attempt++ {
		cur, err := c.GetPage(ctx, id)
		if err != nil {
			return Page{}, err
		}
		body, err := render(cur)
		if err != nil {
			return Page{}, fmt.Errorf("confluence: update page %s: render: %w", id, err)
		}
		t := title
		if t == "" {
			t = cur.Title
		}
		req := map[string]any{
			"id": id, "status": "current", "title": t,
			"body":    map[string]string{"representation": "storage", "value": body},
			"version": map[string]any{"number": cur.Version.Number + 1, "message": message},
		}
		var w wirePage
		err = c.do(ctx, call{op: fmt.Sprintf("update page %s to version %d", id, cur.Version.Number+1), method: http.MethodPut,
			path: "/wiki/api/v2/pages/" + url.PathEscape(id), body: req, idempotent: true, ok: []int{200}}, &w)
		if err == nil {
			p, err := w.page(c.cfg.BaseURL + "/wiki")
			if err != nil {
				return p, fmt.Errorf("confluence: %w", err)
			}
			if p.Body == "" {
				p.Body = body
			}
			return p, nil
		}
		if !isStatus(err, http.StatusConflict) {
			return Page{}, err
		}
		last = err
	}
	return Page{}, fmt.Errorf("confluence: update page %s: still conflicting after %d attempts (someone keeps editing it): %w", id, c.maxUpdate, last)
}

// Versions lists every version of page id, oldest first, following the
// cursor in _links.next.
func (c *Client) Versions(ctx context.Context, id string) ([]Version, error) {
	var out []Version
	path, query := "/wiki/api/v2/pages/"+url.PathEscape(id)+"/versions", url.Values{"limit": {"250"}}
	seen := map[string]bool{}
	for page := 1; ; page++ {
		var resp struct {
			Results []wireVersion `json:"results"`
			Links   wireLinks     `json:"_links"`
		}
		err := c.do(ctx, call{op: fmt.Sprintf("versions of page %s (page %d)", id, page), method: http.MethodGet,
			path: path, query: query, idempotent: true, ok: []int{200}}, &resp)
		if err != nil {
			return nil, err
		}
		for _, w := range resp.Results {
			v, err := w.version()
			if err != nil {
				return nil, fmt.Errorf("confluence: page %s: %w", id, err)
			}
			out = append(out, v)
		}
		next := resp.Links.Next
		if next == "" {
			break
		}
		if seen[next] {
			return nil, fmt.Errorf("confluence: versions of page %s: next link repeats; stopping", id)
		}
		seen[next] = true
		nu, err := url.Parse(next)
		if err != nil || !strings.HasPrefix(nu.Path, "/wiki/") || nu.Host != "" {
			// Only follow same-site relative links: the credentials must
			// not be sent anywhere else.
			return nil, fmt.Errorf("confluence: versions of page %s: unexpected next link %q", id, httpx.RedactURL(nu))
		}
		path, query = nu.EscapedPath(), nu.Query()
	}
	slices.SortFunc(out, func(a, b Version) int { return a.Number - b.Number })
	return out, nil
}
