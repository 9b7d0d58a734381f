package review

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/publish/jira"
	"github.com/uar-dev/uar/internal/store"
)

// UserFinder resolves an email to its Jira account; *jira.Client is one.
type UserFinder interface {
	FindUser(ctx context.Context, email string) (jira.User, error)
}

// ReviewersParams are the params of a "reviewers" derive row.
type ReviewersParams struct {
	Review  string `json:"review"`
	RunID   string `json:"run_id"`
	Systems int    `json:"systems"`
	Lookups int    `json:"lookups"` // Jira user searches made (the rest came from the store or the config)
}

// wanted is one (system, role, email) whose account is needed.
type wanted struct {
	system, role, email, accountID string
}

func reviewerKey(system, role, email string) string {
	return system + "\x00" + role + "\x00" + strings.ToLower(email)
}

// ResolveReviewers makes sure every owner, delegate and backup reviewer of
// the given systems has a Jira account id on record: an owner_account_id
// from the config is taken as is; an email already resolved for this review
// is reused; any other email is looked up once with Jira's user search.
// When the set differs from the one on record, it is written as a new
// resolution pass ("reviewers" derive row, scope: the run id). It returns
// the current set, sorted by system, role, email.
//
// An owner whose email matches no Jira account is a *SettingError naming
// the system; an unresolved delegate or backup reviewer is a warning (that
// person's comments will be rejected).
func ResolveReviewers(ctx context.Context, s *Step, users UserFinder, systems []model.System) ([]store.Reviewer, error) {
	prev, err := s.Store.CurrentReviewers(ctx, s.Review)
	if err != nil {
		return nil, err
	}
	if users == nil {
		// No Jira: the accounts on record, and nothing new resolved.
		return prev, nil
	}
	known := map[string]store.Reviewer{}
	for _, r := range prev {
		known[reviewerKey(r.System, r.Role, r.Email)] = r
	}
	var want []wanted
	for _, sys := range systems {
		if sys.OwnerAccountID != "" || strings.TrimSpace(sys.Owner) != "" {
			want = append(want, wanted{sys.Name, store.RoleOwner, strings.TrimSpace(sys.Owner), sys.OwnerAccountID})
		}
		for _, d := range sys.Delegates {
			if strings.TrimSpace(d) != "" {
				want = append(want, wanted{sys.Name, store.RoleDelegate, strings.TrimSpace(d), ""})
			}
		}
		if b := strings.TrimSpace(sys.BackupReviewer); b != "" {
			want = append(want, wanted{sys.Name, store.RoleBackup, b, ""})
		}
	}
	var out []store.Reviewer
	var missingOwners []string
	lookups := 0
	cache := map[string]jira.User{}
	for _, w := range want {
		r := store.Reviewer{Review: s.Review, RunID: s.Run.ID, System: w.system, Role: w.role, Email: w.email}
		switch k, ok := known[reviewerKey(w.system, w.role, w.email)]; {
		case w.accountID != "":
			r.AccountID, r.Source = w.accountID, store.ReviewerFromConfig
		case ok && k.Source == store.ReviewerFromJira:
			r.AccountID, r.DisplayName, r.Source = k.AccountID, k.DisplayName, k.Source
		default:
			u, hit := cache[strings.ToLower(w.email)]
			if !hit {
				lookups++
				var err error
				u, err = users.FindUser(ctx, w.email)
				if errors.Is(err, jira.ErrUserNotFound) {
					if w.role == store.RoleOwner {
						missingOwners = append(missingOwners, fmt.Sprintf("%s (%s)", w.system, w.email))
					} else {
						s.Out.Warnf("system %s: %s %s has no Jira account: their decisions will be rejected", w.system, w.role, w.email)
					}
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("reviewers: resolve %s of %s: %w", w.role, w.system, err)
				}
				cache[strings.ToLower(w.email)] = u
			}
			r.AccountID, r.DisplayName, r.Source = u.AccountID, u.DisplayName, store.ReviewerFromJira
		}
		out = append(out, r)
	}
	if len(missingOwners) > 0 {
		return nil, &SettingError{Key: "systems[].owner", Err: fmt.Errorf("no Jira account matches the owner of %s", strings.Join(missingOwners, ", ")),
			Hint: "set the owner to the email of their Jira account, or give owner_account_id"}
	}
	slices.SortFunc(out, func(a, b store.Reviewer) int {
		return strings.Compare(reviewerKey(a.System, a.Role, a.Email), reviewerKey(b.System, b.Role, b.Email))
	})
	if sameReviewers(prev, out) {
		return prev, nil
	}
	err = s.Store.WithTx(ctx, func(tx *store.Tx) error {
		_, err := s.Ledger.Derive(ctx, tx, "reviewers", func(evID string) (evidence.Derived, error) {
			err := tx.InsertReviewers(ctx, out, evID)
			return evidence.Derived{Scopes: []evidence.Scope{{Table: "reviewers", Scope: s.Run.ID}},
				Params: ReviewersParams{Review: s.Review, RunID: s.Run.ID, Systems: len(systems), Lookups: lookups}}, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Store.CurrentReviewers(ctx, s.Review)
}

// sameReviewers reports whether two sets name the same people with the
// same accounts (ids, runs and evidence aside).
func sameReviewers(a, b []store.Reviewer) bool {
	key := func(r store.Reviewer) string {
		return reviewerKey(r.System, r.Role, r.Email) + "\x00" + r.AccountID + "\x00" + r.Source
	}
	if len(a) != len(b) {
		return false
	}
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i], kb[i] = key(a[i]), key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

// resolveReviewers resolves the reviewers of the systems being published
// and remembers them for the tickets' assignees.
func (p *publisher) resolveReviewers(ctx context.Context) error {
	systems := make([]model.System, len(p.view.Systems))
	for i, s := range p.view.Systems {
		systems[i] = s.System
	}
	rs, err := ResolveReviewers(ctx, p.step, p.t.Tickets, systems)
	if err != nil {
		return err
	}
	p.reviewers = rs
	return nil
}

// ownerAccount is the Jira account of sys's owner: owner_account_id, else
// the resolved one, else "" (unassigned).
func (p *publisher) ownerAccount(sys model.System) string {
	if sys.OwnerAccountID != "" {
		return sys.OwnerAccountID
	}
	for _, r := range p.reviewers {
		if r.System == sys.Name && r.Role == store.RoleOwner {
			return r.AccountID
		}
	}
	return ""
}
