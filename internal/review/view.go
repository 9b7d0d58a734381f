package review

import (
	"context"
	"slices"
	"strings"

	"github.com/uar-dev/uar/internal/model"
)

// ViewOptions are the settings a review view needs beyond the store.
type ViewOptions struct {
	Systems     []model.System // systems: of uar.yaml
	WindowDays  int            // review.window_days: the deadline is the first publish + WindowDays
	ToolVersion string
	JiraBaseURL string // links the revocation panels to their Jira comments
}

// LoadView builds what the publishers render from the review's current
// population and scoring (see [LoadScored] for what it refuses), with the
// reviewer context of [LoadViewContext], stamped with the step's run,
// clock and ledger head.
func LoadView(ctx context.Context, s *Step, o ViewOptions) (*model.ReviewView, error) {
	sc, err := LoadScored(ctx, s.Store, s.Review)
	if err != nil {
		return nil, err
	}
	head, err := s.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	vc, err := LoadViewContext(ctx, s.Store, s.Review, sc.Scoring)
	if err != nil {
		return nil, err
	}
	v := BuildViewContext(o.Systems, sc.Snap, sc.Scoring.Findings, s.Review, vc)
	v.RunID = s.Run.ID
	v.RunAt = s.Now
	v.ToolVersion = o.ToolVersion
	v.LedgerHead = head.String()
	// The window opens with the first publish and never moves: re-running
	// publish must not extend the owners' deadline.
	start := s.Now
	if first, err := firstPublished(ctx, s.Store, s.Review); err == nil {
		start = first
	}
	v.Deadline = start.AddDate(0, 0, o.WindowDays)
	if v.Revocations, err = LoadRevocationRuns(ctx, s.Store, s.Review, o.JiraBaseURL); err != nil {
		return nil, err
	}
	return v, nil
}

// BuildViewContext is [BuildView] with the reviewer context of every
// access row: the group's tier from c.Roles, how many people of the user's
// department are in the group and how many the department has in the
// population, and the previous review's outcome for the same access. Each
// system lists its groups (SystemReview.Roles); access rows and groups
// are ordered privileged first, then standard, then undescribed groups,
// then by group and user.
func BuildViewContext(systems []model.System, snap *model.Snapshot, findings []model.Finding, review string, c ViewContext) *model.ReviewView {
	v := BuildView(systems, snap, findings, review)
	addContext(v, snap, c)
	return v
}

// BuildView groups the snapshot's memberships by system (the system each
// group was mapped to when the snapshot was taken), with each system's
// unsuppressed findings and highest risk. Systems with members are sorted
// by name; configured systems without members, and systems whose groups are
// all empty, are listed in Empty.
func BuildView(systems []model.System, snap *model.Snapshot, findings []model.Finding, review string) *model.ReviewView {
	users := make(map[string]*model.User, len(snap.Users))
	for i := range snap.Users {
		users[snap.Users[i].ID] = &snap.Users[i]
	}
	groups := make(map[string]*model.Group, len(snap.Groups))
	hasGroups := map[string]bool{}
	for i := range snap.Groups {
		g := &snap.Groups[i]
		groups[g.ID] = g
		if g.System != "" {
			hasGroups[g.System] = true
		}
	}
	conf := map[string]model.System{}
	for _, s := range systems {
		conf[s.Name] = s
	}
	userRisk := map[[2]string]model.Risk{}
	sysFindings := map[string][]model.Finding{}
	for _, f := range findings {
		if f.Suppressed != nil || f.System == "" {
			continue
		}
		sysFindings[f.System] = append(sysFindings[f.System], f)
		k := [2]string{f.System, f.UserID}
		if f.Risk.Rank() > userRisk[k].Rank() {
			userRisk[k] = f.Risk
		}
	}
	access := map[string][]model.AccessRow{}
	for _, m := range snap.Memberships {
		g := groups[m.GroupID]
		if g == nil || g.System == "" {
			continue
		}
		row := model.AccessRow{GroupName: g.Name, Role: g.Role, MembershipSource: m.Source}
		if u := users[m.UserID]; u != nil {
			row.UserLogin, row.UserEmail, row.UserName = u.Login, u.Email, u.DisplayName()
			row.Department, row.Title, row.UserType, row.UserStatus, row.LastLogin = u.Department, u.Title, u.UserType, u.Status, u.LastLogin
		} else {
			row.UserLogin = m.UserID
		}
		row.Risk = userRisk[[2]string{g.System, m.UserID}]
		access[g.System] = append(access[g.System], row)
	}
	v := &model.ReviewView{Review: review, Systems: []model.SystemReview{}, Empty: []string{}}
	names := make([]string, 0, len(hasGroups))
	for n := range hasGroups {
		names = append(names, n)
	}
	for _, s := range systems {
		if !hasGroups[s.Name] {
			names = append(names, s.Name)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, n := range names {
		rows := access[n]
		if len(rows) == 0 {
			v.Empty = append(v.Empty, n)
			continue
		}
		slices.SortFunc(rows, func(a, b model.AccessRow) int {
			if c := strings.Compare(a.GroupName, b.GroupName); c != 0 {
				return c
			}
			return strings.Compare(a.UserLogin, b.UserLogin)
		})
		fs := sysFindings[n]
		slices.SortStableFunc(fs, func(a, b model.Finding) int {
			if ra, rb := a.Risk.Rank(), b.Risk.Rank(); ra != rb {
				return rb - ra
			}
			return strings.Compare(a.UserLogin, b.UserLogin)
		})
		var risk model.Risk
		for _, f := range fs {
			if f.Risk.Rank() > risk.Rank() {
				risk = f.Risk
			}
		}
		sys, ok := conf[n]
		if !ok {
			sys = model.System{Name: n}
		}
		if fs == nil {
			fs = []model.Finding{}
		}
		v.Systems = append(v.Systems, model.SystemReview{System: sys, Risk: risk, Access: rows, Roles: []model.GroupRole{}, Findings: fs})
	}
	return v
}

// CheckOwners refuses (a *SettingError on "systems") to publish a system
// nobody can review.
func CheckOwners(v *model.ReviewView) error {
	var missing []string
	for _, s := range v.Systems {
		if strings.TrimSpace(s.System.Owner) == "" && strings.TrimSpace(s.System.OwnerAccountID) == "" {
			missing = append(missing, s.System.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &SettingError{Key: "systems", Err: errorf("system %s has no owner", strings.Join(missing, ", ")),
		Hint: "add a systems: entry with name, groups and owner (or owner_account_id) for each, then re-run publish"}
}
