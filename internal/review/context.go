package review

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/score"
	"github.com/uar-dev/uar/internal/store"
)

// ViewContext is what the reviewer context of a view is computed from.
// Everything in it comes from the store (see [LoadViewContext]), so a view
// rebuilt later from the same store carries the same context.
type ViewContext struct {
	// Roles describe groups (the policy's roles:); nil describes none.
	Roles *score.Policy
	// PreviousReview is the review before this one ("" when none), and
	// Previous its accesses with their outcome.
	PreviousReview string
	Previous       []store.AccessOutcome
}

// LoadViewContext reads the context of review's view from the store: the
// roles of the policy recorded with its current scoring, and the previous
// review (see [PreviousReview]) with the outcome of each of its accesses.
func LoadViewContext(ctx context.Context, st *store.Store, review string, sc *store.Scoring) (ViewContext, error) {
	var c ViewContext
	pol, _, err := scoringPolicy(ctx, st, sc)
	if err != nil {
		return c, err
	}
	c.Roles = pol
	if c.PreviousReview, err = PreviousReview(ctx, st, review); err != nil || c.PreviousReview == "" {
		return c, err
	}
	c.Previous, err = st.AccessOutcomes(ctx, c.PreviousReview)
	return c, err
}

// tierRank orders tiers: privileged first, then standard, then groups no
// role describes.
func tierRank(t string) int {
	switch t {
	case model.TierPrivileged:
		return 0
	case model.TierStandard:
		return 1
	}
	return 2
}

// personKey identifies a person across accounts: the lower-case email,
// else the user id.
func personKey(u *model.User) string {
	if u.Email != "" {
		return strings.ToLower(u.Email)
	}
	return "\x00" + u.ID
}

func deptKey(d string) string { return strings.ToLower(strings.TrimSpace(d)) }

// accessKey identifies one access across reviews: system, group name and
// the user's email (else login), case-insensitive for the user.
func accessKey(system, group, email, login string) string {
	who := email
	if who == "" {
		who = login
	}
	return system + "\x00" + group + "\x00" + strings.ToLower(who)
}

// addContext fills the context of every access row of v (tier, peers in
// the department, the previous review's outcome), lists each system's
// groups with their role, and orders access and roles privileged first.
func addContext(v *model.ReviewView, snap *model.Snapshot, c ViewContext) {
	users := make(map[string]*model.User, len(snap.Users))
	deptPeople := map[string]map[string]bool{} // dept -> people
	for i := range snap.Users {
		u := &snap.Users[i]
		users[u.ID] = u
		if d := deptKey(u.Department); d != "" {
			if deptPeople[d] == nil {
				deptPeople[d] = map[string]bool{}
			}
			deptPeople[d][personKey(u)] = true
		}
	}
	groupByName := map[string]*model.Group{} // system + name -> group
	for i := range snap.Groups {
		g := &snap.Groups[i]
		groupByName[g.System+"\x00"+g.Name] = g
	}
	// peers counts the members of each group per department.
	type gd struct{ group, dept string }
	peers := map[gd]int{}
	members := map[string]int{}
	for _, m := range snap.Memberships {
		members[m.GroupID]++
		if u := users[m.UserID]; u != nil {
			if d := deptKey(u.Department); d != "" {
				peers[gd{m.GroupID, d}]++
			}
		}
	}
	prev := make(map[string]string, len(c.Previous))
	for _, a := range c.Previous {
		prev[accessKey(a.System, a.GroupName, a.UserEmail, a.UserLogin)] = a.Decision
	}
	v.PreviousReview = c.PreviousReview
	for si := range v.Systems {
		s := &v.Systems[si]
		roles := map[string]model.GroupRole{}
		for i := range s.Access {
			r := &s.Access[i]
			g := groupByName[s.System.Name+"\x00"+r.GroupName]
			role, ok := roles[r.GroupName]
			if !ok {
				role = model.GroupRole{GroupName: r.GroupName}
				if c.Roles != nil {
					if pr, found := c.Roles.RoleOf(r.GroupName); found {
						role.Tier, role.Allows = pr.Tier, pr.Allows
					}
				}
				if g != nil {
					role.Members = members[g.ID]
				}
				roles[r.GroupName] = role
			}
			r.Tier = role.Tier
			if d := deptKey(r.Department); d != "" && g != nil {
				r.DeptPeers, r.DeptSize = peers[gd{g.ID, d}], len(deptPeople[d])
			}
			if c.PreviousReview != "" {
				r.PrevDecision = model.AccessNew
				if d, ok := prev[accessKey(s.System.Name, r.GroupName, r.UserEmail, r.UserLogin)]; ok {
					r.PrevDecision = d
				}
			}
		}
		slices.SortStableFunc(s.Access, func(a, b model.AccessRow) int {
			return cmp.Or(cmp.Compare(tierRank(a.Tier), tierRank(b.Tier)), cmp.Compare(a.GroupName, b.GroupName), cmp.Compare(a.UserLogin, b.UserLogin))
		})
		s.Roles = make([]model.GroupRole, 0, len(roles))
		for _, r := range roles {
			s.Roles = append(s.Roles, r)
		}
		slices.SortFunc(s.Roles, func(a, b model.GroupRole) int {
			return cmp.Or(cmp.Compare(tierRank(a.Tier), tierRank(b.Tier)), cmp.Compare(a.GroupName, b.GroupName))
		})
	}
}
