package sandbox

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/uar-dev/uar/internal/model"
)

// Org is the content of a fake Okta org: its users, groups (with their
// member user ids) and group rules. It is what [NewOkta] serves and what
// [Generate] and [ReferenceOrg] build. The JSON form (see orgs/README.md)
// is the fixture format: load one with [LoadOrg] or [LoadOrgFile].
type Org struct {
	// Now is the instant the org describes (the reference org's "today");
	// optional. Times in the org are absolute, never relative to it.
	Now    time.Time  `json:"now,omitzero"`
	Users  []OrgUser  `json:"users"`
	Groups []OrgGroup `json:"groups"`
	Rules  []OrgRule  `json:"rules,omitempty"`
}

// OrgUser is one Okta user. Empty profile strings are left out of the
// served JSON entirely, as Okta does for unset attributes; LastLogin nil is
// served as "lastLogin": null unless "lastLogin" is listed in Omit, in
// which case the key is absent (both happen in real responses).
type OrgUser struct {
	ID              string     `json:"id"`
	Status          string     `json:"status"` // ACTIVE, SUSPENDED, DEPROVISIONED, LOCKED_OUT, STAGED...
	Created         time.Time  `json:"created"`
	LastLogin       *time.Time `json:"lastLogin"`
	PasswordChanged *time.Time `json:"passwordChanged,omitempty"`
	Login           string     `json:"login"`
	Email           string     `json:"email"`
	FirstName       string     `json:"firstName,omitempty"`
	LastName        string     `json:"lastName,omitempty"`
	Title           string     `json:"title,omitempty"`
	Department      string     `json:"department,omitempty"`
	UserType        string     `json:"userType,omitempty"`
	EmployeeNumber  string     `json:"employeeNumber,omitempty"`
	Manager         string     `json:"manager,omitempty"`
	ManagerID       string     `json:"managerId,omitempty"`
	// Omit lists top-level user attributes the fake leaves out of the JSON
	// instead of sending null ("lastLogin", "passwordChanged", "activated",
	// "statusChanged").
	Omit []string `json:"omit,omitempty"`
}

// OrgGroup is one Okta group. Members are user ids; the fake serves them
// sorted by id, which is also the order its "after" cursor walks.
type OrgGroup struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Type        string    `json:"type"`               // OKTA_GROUP, APP_GROUP, BUILT_IN
	SourceID    string    `json:"sourceId,omitempty"` // the importing app (0oa...) of an APP_GROUP
	Created     time.Time `json:"created"`
	Members     []string  `json:"members"`
}

// OrgRule is an Okta group rule: while ACTIVE it assigns users matching
// Expression to GroupIDs, except the users in Exclude. The fake does not
// evaluate Expression; it uses the rule to decide what a removal does.
type OrgRule struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Status     string    `json:"status"` // ACTIVE, INACTIVE, INVALID
	Expression string    `json:"expression"`
	GroupIDs   []string  `json:"groupIds"`
	Exclude    []string  `json:"exclude,omitempty"`
	Created    time.Time `json:"created"`
}

// LoadOrg decodes an org from its JSON form and checks it: unique ids and
// group names, known member ids, known rule targets. Unknown fields are an
// error so a typo in a fixture does not silently drop data.
func LoadOrg(r io.Reader) (*Org, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var o Org
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("decode org: %w", err)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &o, nil
}

// LoadOrgFile reads an org from a JSON file (see [LoadOrg]).
func LoadOrgFile(path string) (*Org, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read org: %w", err)
	}
	o, err := LoadOrg(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return o, nil
}

// Validate checks the org's internal consistency.
func (o *Org) Validate() error {
	users := make(map[string]bool, len(o.Users))
	logins := make(map[string]bool, len(o.Users))
	for i, u := range o.Users {
		if u.ID == "" || u.Login == "" {
			return fmt.Errorf("users[%d]: id and login are required", i)
		}
		if users[u.ID] {
			return fmt.Errorf("users[%d]: duplicate id %q", i, u.ID)
		}
		if logins[strings.ToLower(u.Login)] {
			return fmt.Errorf("users[%d]: duplicate login %q", i, u.Login)
		}
		users[u.ID], logins[strings.ToLower(u.Login)] = true, true
	}
	groups := make(map[string]bool, len(o.Groups))
	for i, g := range o.Groups {
		if g.ID == "" || g.Name == "" {
			return fmt.Errorf("groups[%d]: id and name are required", i)
		}
		if groups[g.ID] {
			return fmt.Errorf("groups[%d]: duplicate id %q", i, g.ID)
		}
		groups[g.ID] = true
		switch g.Type {
		case model.GroupTypeOkta, model.GroupTypeApp, model.GroupTypeBuiltIn:
		default:
			return fmt.Errorf("groups[%d] %s: type %q: want OKTA_GROUP, APP_GROUP or BUILT_IN", i, g.Name, g.Type)
		}
		for _, m := range g.Members {
			if !users[m] {
				return fmt.Errorf("groups[%d] %s: unknown member %q", i, g.Name, m)
			}
		}
	}
	for i, r := range o.Rules {
		for _, gid := range r.GroupIDs {
			if !groups[gid] {
				return fmt.Errorf("rules[%d] %s: unknown group %q", i, r.Name, gid)
			}
		}
	}
	return nil
}

// Membership counts every group membership of the org.
func (o *Org) Membership() int {
	n := 0
	for _, g := range o.Groups {
		n += len(g.Members)
	}
	return n
}

//go:embed orgs/reference.json
var oktaReferenceJSON []byte

// ReferenceNow is the reference org's "today": its dormancy findings are
// computed against this instant.
var ReferenceNow = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// ReferenceOrg returns a fresh copy of the embedded reference org
// (orgs/reference.json, described in orgs/README.md). It panics if the
// embedded file is invalid, which its test rules out.
func ReferenceOrg() *Org {
	o, err := LoadOrg(bytes.NewReader(oktaReferenceJSON))
	if err != nil {
		panic("sandbox: embedded reference org: " + err.Error())
	}
	return o
}

// ReferenceSystems returns the SOX systems configuration that goes with
// the reference org. NetSuite's owner nina.patel@company.com is herself a
// member of SOX-NetSuite-Users (the owner-reviews-own-access case), so her
// backup reviewer cfo@company.com must review that line.
func ReferenceSystems() []model.System {
	return []model.System{
		{Name: "NetSuite", Groups: []string{"SOX-NetSuite-*"}, Owner: "nina.patel@company.com", BackupReviewer: "cfo@company.com"},
		{Name: "Salesforce", Groups: []string{"SOX-Salesforce-*"}, Owner: "sam.rivera@company.com", BackupReviewer: "cfo@company.com"},
		{Name: "Workday", Groups: []string{"SOX-Workday-*"}, Owner: "erin.lopez@company.com", BackupReviewer: "cfo@company.com"},
	}
}

// oktaSortedCopy returns a sorted copy of ids without duplicates.
func oktaSortedCopy(ids []string) []string {
	c := slices.Clone(ids)
	slices.Sort(c)
	return slices.Compact(c)
}
