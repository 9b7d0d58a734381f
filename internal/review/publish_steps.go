package review

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/uar-dev/uar/internal/httpx"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/confluence"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/publish/slack"
	"github.com/uar-dev/uar/internal/store"
	"github.com/uar-dev/uar/templates"
)

func pagePub(kind, system, action string, pg confluence.Page) store.Publication {
	return store.Publication{Service: store.ServiceConfluence, Kind: kind, System: system, Action: action, ExternalID: pg.ID,
		ExternalKey: pg.Title, URL: pg.WebURL, Version: pg.Version.Number, ServiceTime: store.FormatTime(pg.Version.CreatedAt)}
}

func confErr(object string, err error) error {
	if err == nil {
		return nil
	}
	return &PublishError{Service: store.ServiceConfluence, Object: object, Err: err}
}

func (p *publisher) updateMessage() string {
	return fmt.Sprintf("uar publish %s, run %s", p.step.Review, p.step.Run.ID)
}

// ensurePage makes sure the review page exists, so child pages have a
// parent and tickets a link. A new page gets a short placeholder: the full
// body (with ticket keys) is written once the tickets exist.
func (p *publisher) ensurePage(ctx context.Context) error {
	if p.found != nil {
		p.view.PageURL = p.found.WebURL
		return nil
	}
	body := fmt.Sprintf(`<p>uar is publishing review %s (run %s). This page is completed when the run finishes; if it stays like this, run <code>uar publish</code> again.</p>`,
		templates.XMLText(p.step.Review), templates.XMLText(p.step.Run.ID))
	pg, err := p.t.Pages.CreatePage(ctx, p.spaceID, p.t.ParentPageID, templates.PageTitle(p.step.Review), body)
	var pe *confluence.PageExistsError
	if errors.As(err, &pe) {
		p.found = &pe.Page
		p.view.PageURL = pe.Page.WebURL
		return nil
	}
	if err != nil {
		return confErr("create review page", err)
	}
	p.found = &pg
	p.view.PageURL = pg.WebURL
	return confErr("record review page", p.record(ctx, pagePub(store.KindPage, "", store.ActionCreated, pg), ""))
}

// childPage is one child page to write.
type childPage struct {
	sys   int
	part  int
	title string
	body  string
}

// childPages writes the findings and access tables that are too large for
// the review page, and points their systems at them.
func (p *publisher) childPages(ctx context.Context) error {
	var jobs []childPage
	for _, name := range templates.SplitSystems(*p.view) {
		sys := p.system(name)
		idx := slices.IndexFunc(p.view.Systems, func(x model.SystemReview) bool { return x.System.Name == name })
		parts := templates.ChildParts(*sys)
		for k, part := range parts {
			body, err := templates.ConfluenceAccessPage(*p.view, part)
			if err != nil {
				return confErr("render "+name+" access page", err)
			}
			jobs = append(jobs, childPage{sys: idx, part: k, title: templates.AccessPageTitle(p.step.Review, name, k+1, len(parts)), body: body})
		}
	}
	urls := make([]string, len(jobs))
	err := p.parallel(ctx, len(jobs), func(ctx context.Context, i int) error {
		u, err := p.childPage(ctx, jobs[i])
		urls[i] = u
		return confErr(fmt.Sprintf("page %q", jobs[i].title), err)
	})
	for i, j := range jobs {
		if j.part == 0 && urls[i] != "" {
			p.view.Systems[j.sys].PageURL = urls[i]
		}
	}
	return err
}

func (p *publisher) childPage(ctx context.Context, j childPage) (string, error) {
	system := p.view.Systems[j.sys].System.Name
	update := func(id string) (string, error) {
		pg, err := p.t.Pages.UpdatePage(ctx, id, j.title, p.updateMessage(), func(confluence.Page) (string, error) { return j.body, nil })
		if err != nil {
			return "", err
		}
		return pg.WebURL, p.record(ctx, pagePub(store.KindChildPage, system, store.ActionUpdated, pg), "")
	}
	if prev, ok := p.ix.Children[j.title]; ok {
		u, err := update(prev.ExternalID)
		var se *httpx.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusNotFound {
			return u, err
		}
		// Deleted since: create it again below.
	}
	pg, err := p.t.Pages.CreatePage(ctx, p.spaceID, p.found.ID, j.title, j.body)
	var pe *confluence.PageExistsError
	if errors.As(err, &pe) {
		return update(pe.Page.ID)
	}
	if err != nil {
		return "", err
	}
	return pg.WebURL, p.record(ctx, pagePub(store.KindChildPage, system, store.ActionCreated, pg), "")
}

// finalPage writes the full review page, with every ticket and the ledger
// head at render time, which is recorded as anchored on the page.
func (p *publisher) finalPage(ctx context.Context) error {
	var head string
	pg, err := p.t.Pages.UpdatePage(ctx, p.found.ID, templates.PageTitle(p.step.Review), p.updateMessage(), func(confluence.Page) (string, error) {
		v := *p.view
		head = p.head(ctx)
		v.LedgerHead = head
		return templates.ConfluencePage(v)
	})
	if err != nil {
		return confErr("update review page", err)
	}
	p.view.PageURL = pg.WebURL
	return confErr("record review page", p.record(ctx, pagePub(store.KindPage, "", store.ActionUpdated, pg), head))
}

// ticketResult is one system's ticket as published.
type ticketResult struct{ key, url string }

// publishTickets creates or updates one ticket per system with members.
// Tickets to create are created one by one in system order, so the same
// starting state always gives the same keys; updates run in parallel.
func (p *publisher) publishTickets(ctx context.Context) error {
	v := *p.view
	v.LedgerHead = p.head(ctx)
	res := make([]ticketResult, len(v.Systems))
	var creates, updates []int
	for i, sys := range v.Systems {
		if p.existingKey(sys.System.Name) == "" {
			creates = append(creates, i)
		} else {
			updates = append(updates, i)
		}
	}
	var errs []error
	for _, i := range creates {
		r, err := p.ticket(ctx, v, v.Systems[i])
		res[i] = r
		if err != nil {
			errs = append(errs, err)
			if !transient(err) || ctx.Err() != nil {
				break
			}
		}
	}
	if len(errs) == 0 || transient(errs[len(errs)-1]) {
		if err := p.parallel(ctx, len(updates), func(ctx context.Context, k int) error {
			i := updates[k]
			r, err := p.ticket(ctx, v, v.Systems[i])
			res[i] = r
			return err
		}); err != nil {
			errs = append(errs, err)
		}
	}
	for i, r := range res {
		if r.key != "" {
			p.view.Systems[i].JiraKey, p.view.Systems[i].JiraURL = r.key, r.url
		}
	}
	return errors.Join(errs...)
}

// existingKey is the key of system's ticket found by label or in the
// store, "" if it has none yet.
func (p *publisher) existingKey(system string) string {
	if is, ok := p.labelled[p.systemLabel(system)]; ok {
		return is.Key
	}
	if t, ok := p.ix.Tickets[system]; ok {
		return t.ExternalKey
	}
	return ""
}

func (p *publisher) ticket(ctx context.Context, v model.ReviewView, s model.SystemReview) (ticketResult, error) {
	name := s.System.Name
	jerr := func(what string, err error) error {
		return &PublishError{Service: store.ServiceJira, Object: name + " ticket", Err: fmt.Errorf("%s: %w", what, err)}
	}
	desc, err := templates.JiraDescription(v, s)
	if err != nil {
		return ticketResult{}, jerr("render description", err)
	}
	label := p.systemLabel(name)
	f := jira.IssueFields{
		Summary:           fmt.Sprintf("UAR %s: %s access review", p.step.Review, name),
		Description:       desc,
		Labels:            []string{"uar", p.reviewLabel, label},
		AssigneeAccountID: p.ownerAccount(s.System),
	}
	key, current := "", ""
	if is, ok := p.labelled[label]; ok {
		key, current = is.Key, is.Priority
	} else if t, ok := p.ix.Tickets[name]; ok {
		key = t.ExternalKey
	}
	switch {
	case s.Risk == model.RiskHigh:
		f.Priority = "Highest"
	case current == "Highest":
		// The HIGH finding is gone (fixed or excepted): lower it again.
		f.Priority = "Medium"
	}
	if key != "" {
		r, err := p.updateTicket(ctx, key, name, f)
		var se *httpx.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusNotFound {
			return r, err
		}
		// Deleted or moved since: create it again below.
	}
	is, created, err := p.t.Tickets.CreateIssueOnce(ctx, f, label)
	if err != nil {
		return ticketResult{}, jerr("create", err)
	}
	if !created {
		return p.updateTicket(ctx, is.Key, name, f)
	}
	r := ticketResult{key: is.Key, url: p.browseURL(is.Key)}
	err = p.record(ctx, store.Publication{Service: store.ServiceJira, Kind: store.KindTicket, System: name, Action: store.ActionCreated,
		ExternalID: is.ID, ExternalKey: is.Key, URL: r.url, ServiceTime: store.FormatTime(is.Created)}, v.LedgerHead)
	if err != nil {
		return r, jerr("record", err)
	}
	return r, nil
}

func (p *publisher) browseURL(key string) string {
	return strings.TrimRight(p.t.JiraBaseURL, "/") + "/browse/" + key
}

func (p *publisher) updateTicket(ctx context.Context, key, name string, f jira.IssueFields) (ticketResult, error) {
	jerr := func(what string, err error) error {
		return &PublishError{Service: store.ServiceJira, Object: name + " ticket " + key, Err: fmt.Errorf("%s: %w", what, err)}
	}
	if err := p.t.Tickets.UpdateIssue(ctx, key, f); err != nil {
		return ticketResult{}, jerr("update", err)
	}
	// Read it back for Jira's own `updated` time (the update answers 204).
	is, err := p.t.Tickets.GetIssue(ctx, key)
	if err != nil {
		return ticketResult{}, jerr("read back", err)
	}
	r := ticketResult{key: is.Key, url: p.browseURL(is.Key)}
	err = p.record(ctx, store.Publication{Service: store.ServiceJira, Kind: store.KindTicket, System: name, Action: store.ActionUpdated,
		ExternalID: is.ID, ExternalKey: is.Key, URL: r.url, ServiceTime: store.FormatTime(is.Updated)}, "")
	if err != nil {
		return r, jerr("record", err)
	}
	return r, nil
}

// postSlack posts the summary, or updates the one posted before (posting
// anew if it was deleted).
func (p *publisher) postSlack(ctx context.Context) error {
	serr := func(err error) error {
		if err == nil {
			return nil
		}
		return &PublishError{Service: store.ServiceSlack, Object: "summary", Err: err}
	}
	v := *p.view
	v.LedgerHead = p.head(ctx)
	blocks, fallback, err := templates.SlackSummary(v)
	if err != nil {
		return serr(fmt.Errorf("render: %w", err))
	}
	action := store.ActionCreated
	var m slack.Message
	if p.ix.Message != nil {
		m, err = p.t.Chat.UpdateSummary(ctx, p.ix.Message.ExternalKey, p.ix.Message.ExternalID, blocks, fallback)
		action = store.ActionUpdated
		if slack.IsMessageGone(err) {
			p.step.Out.Warnf("slack: the earlier summary (ts %s) is gone: posting a new one", p.ix.Message.ExternalID)
			action = ""
		}
	}
	if p.ix.Message == nil || action == "" {
		action = store.ActionCreated
		m, err = p.t.Chat.PostSummary(ctx, blocks, fallback)
	}
	if m.TS != "" {
		// Posted (even if the permalink lookup failed): record it.
		if rerr := p.record(ctx, store.Publication{Service: store.ServiceSlack, Kind: store.KindMessage, Action: action,
			ExternalID: m.TS, ExternalKey: m.Channel, URL: m.Permalink, ServiceTime: store.FormatTime(m.Time())}, v.LedgerHead); rerr != nil {
			return serr(rerr)
		}
	}
	return serr(err) // the slack client's errors name the service and setting
}

// systemLabel is the Jira label unique to one system's ticket in this
// review. A name that does not survive slugging unchanged gets a short hash
// so two such names can never share a label.
func (p *publisher) systemLabel(system string) string { return SystemLabel(p.reviewLabel, system) }

// SystemLabel is the Jira label of system's ticket under reviewLabel.
func SystemLabel(reviewLabel, system string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(system) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	slug := strings.TrimSuffix(b.String(), "-")
	if slug != strings.ToLower(system) {
		sum := sha256.Sum256([]byte(system))
		slug = strings.TrimPrefix(slug+"-", "-") + hex.EncodeToString(sum[:3])
	}
	return reviewLabel + "-" + slug
}
