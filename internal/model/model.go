// Package model holds the plain types shared by every layer of uar: the
// access population of a snapshot, findings, decisions and revocations.
// It imports only the standard library and carries no behaviour beyond
// small, pure helpers (parsing a risk, mapping a group to its system).
package model

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Group types as Okta reports them, plus the type given to entitlements that
// come from an app-native export (uar snapshot --import).
const (
	GroupTypeOkta    = "OKTA_GROUP"
	GroupTypeApp     = "APP_GROUP"
	GroupTypeBuiltIn = "BUILT_IN"
	GroupTypeImport  = "IMPORT"
)

// Membership sources (DESIGN §6.4 membership_source). Okta cannot say, per
// member, whether a rule or an admin added a user: a membership of a group
// that an ACTIVE group rule targets is reported as "rule".
const (
	SourceDirect = "direct"
	SourceRule   = "rule"
	SourceApp    = "app"
)

// User origins: a user either comes from the identity provider or from an
// app-native import (which can yield orphaned accounts).
const (
	OriginOkta   = "okta"
	OriginImport = "import"
)

// User is one identity as captured in a snapshot. Times are UTC; a zero
// time means the source did not say (LastLogin zero = never logged in).
type User struct {
	ID             string    `json:"id"`
	Login          string    `json:"login"`
	Email          string    `json:"email"`
	FirstName      string    `json:"first_name"`
	LastName       string    `json:"last_name"`
	Department     string    `json:"department"`
	Title          string    `json:"title"`
	UserType       string    `json:"user_type"`
	EmployeeNumber string    `json:"employee_number"`
	Manager        string    `json:"manager"`
	Status         string    `json:"status"`
	Created        time.Time `json:"created"`
	LastLogin      time.Time `json:"last_login"`
	Origin         string    `json:"origin"` // OriginOkta or OriginImport
}

// DisplayName is "First Last", or the login when names are absent.
func (u User) DisplayName() string {
	n := strings.TrimSpace(u.FirstName + " " + u.LastName)
	if n == "" {
		return u.Login
	}
	return n
}

// Group is one access group (or imported entitlement) with the SOX system
// and role it maps to.
type Group struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Type        string `json:"type"` // GroupType*
	System      string `json:"system"`
	Role        string `json:"role"`
	RuleManaged bool   `json:"rule_managed"` // an ACTIVE group rule targets this group
}

// Membership links a user to a group.
type Membership struct {
	GroupID string `json:"group_id"`
	UserID  string `json:"user_id"`
	Source  string `json:"source"` // Source*
}

// Snapshot is the frozen access population of one review.
type Snapshot struct {
	ID          int64        `json:"id"`
	Review      string       `json:"review"`
	TakenAt     time.Time    `json:"taken_at"`
	Groups      []Group      `json:"groups"`
	Users       []User       `json:"users"`
	Memberships []Membership `json:"memberships"`
}

// Risk is a finding's severity.
type Risk string

// The three risk levels (DESIGN §6.4).
const (
	RiskHigh   Risk = "HIGH"
	RiskMedium Risk = "MEDIUM"
	RiskLow    Risk = "LOW"
)

// ParseRisk accepts HIGH, MEDIUM or LOW in any case.
func ParseRisk(s string) (Risk, error) {
	switch r := Risk(strings.ToUpper(strings.TrimSpace(s))); r {
	case RiskHigh, RiskMedium, RiskLow:
		return r, nil
	}
	return "", fmt.Errorf("risk %q: want HIGH, MEDIUM or LOW", s)
}

// Rank orders risks: HIGH 3, MEDIUM 2, LOW 1, anything else 0.
func (r Risk) Rank() int {
	switch r {
	case RiskHigh:
		return 3
	case RiskMedium:
		return 2
	case RiskLow:
		return 1
	}
	return 0
}

// Finding sources.
const (
	FindingSourceRule = "rule"
	FindingSourceAI   = "ai"
)

// Finding is one risk about one user under one rule, listing every group
// involved. Detail reads as a sentence an auditor understands.
type Finding struct {
	RuleID         string       `json:"rule_id"`
	Risk           Risk         `json:"risk"`
	System         string       `json:"system"`
	UserID         string       `json:"user_id"`
	UserLogin      string       `json:"user_login"`
	Groups         []string     `json:"groups"`
	Title          string       `json:"title"`
	Detail         string       `json:"detail"`
	Recommendation string       `json:"recommendation"`
	Source         string       `json:"source"` // FindingSource*
	Suppressed     *Suppression `json:"suppressed,omitempty"`
}

// Suppression records the policy exception that silenced a finding.
type Suppression struct {
	ApprovedBy string `json:"approved_by"`
	Ticket     string `json:"ticket"`
	Expires    string `json:"expires"` // YYYY-MM-DD
	Reason     string `json:"reason"`
}

// System is one SOX system from the configuration: which groups belong to
// it and who reviews them.
//
// The mapstructure and yaml tags make it the element type of uar.yaml's
// systems: list (DESIGN §5); the json tags are how snapshots record it.
type System struct {
	Name           string   `json:"name" mapstructure:"name" yaml:"name"`
	Groups         []string `json:"groups" mapstructure:"groups" yaml:"groups"` // globs over group names (path.Match syntax)
	Owner          string   `json:"owner" mapstructure:"owner" yaml:"owner"`
	OwnerAccountID string   `json:"owner_account_id" mapstructure:"owner_account_id" yaml:"owner_account_id,omitempty"`
	BackupReviewer string   `json:"backup_reviewer" mapstructure:"backup_reviewer" yaml:"backup_reviewer,omitempty"`
	Delegates      []string `json:"delegates" mapstructure:"delegates" yaml:"delegates,omitempty"`
}

// MapSystem returns the system and role of a group: the first configured
// system with a glob matching the name wins (role: what follows the
// system's name, else the whole name); otherwise the SOX-<System>-<Role>
// naming convention after prefix applies. ok is false when neither does.
func MapSystem(groupName string, systems []System, prefix string) (system, role string, ok bool) {
	for _, s := range systems {
		for _, g := range s.Groups {
			if m, err := path.Match(g, groupName); err == nil && m {
				return s.Name, roleAfter(groupName, prefix, s.Name), true
			}
		}
	}
	rest, found := strings.CutPrefix(groupName, prefix)
	if !found || rest == "" {
		return "", "", false
	}
	sys, r, _ := strings.Cut(rest, "-")
	if sys == "" {
		return "", "", false
	}
	return sys, r, true
}

func roleAfter(groupName, prefix, system string) string {
	rest := strings.TrimPrefix(groupName, prefix)
	if r, ok := strings.CutPrefix(rest, system+"-"); ok && r != "" {
		return r
	}
	return groupName
}

// Decision actions and statuses (DESIGN §6.4, §8).
const (
	ActionCertify = "CERTIFY"
	ActionRevoke  = "REVOKE"

	DecisionAccepted   = "accepted"
	DecisionRejected   = "rejected"
	DecisionSuperseded = "superseded"
)

// Where a decision came from: a Jira comment, or a CSV file of decisions
// gathered outside Jira (uar parse-decisions --from-csv).
const (
	DecisionSourceJira = "jira"
	DecisionSourceCSV  = "csv"
)

// The reviewer roles a decision can be taken under (DESIGN §8).
const (
	ReviewerOwner    = "owner"
	ReviewerDelegate = "delegate"
	ReviewerBackup   = "backup"
)

// Per-access outcome of a review (v_access.decision).
const (
	AccessCertified = "certified"
	AccessRevoked   = "revoked"
	AccessPending   = "pending"
)

// Decision is one instruction line from a reviewer, with its outcome. A
// line that covers several accesses (CERTIFY: all, REVOKE: user without
// from) gives one Decision per access, each naming its group; a rejected
// line that names no access gives one Decision with the target as written.
type Decision struct {
	System    string    `json:"system"`
	Action    string    `json:"action"` // ActionCertify, ActionRevoke, or "" for a malformed line
	Target    string    `json:"target"` // user email (login if none) as in the snapshot, else as written, or "all"
	GroupName string    `json:"group_name"`
	DecidedBy string    `json:"decided_by"` // author's Jira accountId; the e-mail for a CSV row
	DecidedAt time.Time `json:"decided_at"` // Jira's created time of the comment; the CSV's decided_at
	Status    string    `json:"status"`     // Decision*
	Reason    string    `json:"reason"`     // why rejected or superseded; "" when accepted
	JiraKey   string    `json:"jira_key"`
	CommentID string    `json:"comment_id"`
	Edited    bool      `json:"edited"` // the comment was changed after it was posted
	Line      string    `json:"line"`   // the line as written (a CSV row re-encoded)

	UserID          string    `json:"user_id"`  // snapshot user of the access; "" when none matched
	GroupID         string    `json:"group_id"` // snapshot group of the access; "" when none matched
	AuthorName      string    `json:"author_name"`
	AuthorEmail     string    `json:"author_email"` // "" when Jira hides it
	Updated         time.Time `json:"updated"`      // Jira's updated time of the comment
	Justification   string    `json:"justification"`
	LineIndex       int       `json:"line_index"` // decision line within the comment (0-based); CSV: file line
	FromAll         bool      `json:"from_all"`   // expanded from CERTIFY: all
	Source          string    `json:"source"`     // DecisionSource*
	ReviewerRole    string    `json:"reviewer_role"`
	ReviewerIsAdmin bool      `json:"reviewer_is_admin"` // the author is a member of an admin group of the system
}

// Revocation statuses (DESIGN §6.4).
const (
	RevocationPlanned       = "planned"
	RevocationDone          = "done"
	RevocationAlreadyAbsent = "already_absent"
	RevocationFailed        = "failed"
	RevocationSkipped       = "skipped"
)

// Revocation is the removal of one membership and its proof.
type Revocation struct {
	System        string    `json:"system"`
	UserID        string    `json:"user_id"`
	UserLogin     string    `json:"user_login"`
	GroupID       string    `json:"group_id"`
	GroupName     string    `json:"group_name"`
	Status        string    `json:"status"`
	Reason        string    `json:"reason"`
	RequestedBy   string    `json:"requested_by"`
	ExecutedAt    time.Time `json:"executed_at"`
	VerifiedAt    time.Time `json:"verified_at"`
	OktaRequestID string    `json:"okta_request_id"`
}

// ReviewView is everything the publishers render for one review: the
// Confluence page, the Jira ticket descriptions and the Slack summary all
// read from it, so they cannot disagree.
type ReviewView struct {
	Review      string         `json:"review"`
	RunID       string         `json:"run_id"`
	RunAt       time.Time      `json:"run_at"`
	ToolVersion string         `json:"tool_version"`
	LedgerHead  string         `json:"ledger_head"` // "seq:hash"
	PageURL     string         `json:"page_url"`
	Deadline    time.Time      `json:"deadline"` // review.window_days after publish
	Systems     []SystemReview `json:"systems"`  // sorted by name; only systems with members
	Empty       []string       `json:"empty"`    // configured systems with no members in the snapshot
	// PreviousReview is the review whose decisions AccessRow.PrevDecision
	// reports ("" when there is none).
	PreviousReview string `json:"previous_review"`
	// Revocations are the red panels of every revoke run so far, oldest
	// first: the page keeps them whenever it is rewritten.
	Revocations []RevocationRun `json:"revocations"`
}

// RevocationRun is what one revoke run did, as the review page records it
// (a red panel).
type RevocationRun struct {
	RunID      string           `json:"run_id"`
	At         time.Time        `json:"at"`          // when the run recorded its outcomes
	LedgerHead string           `json:"ledger_head"` // the head written with the panel
	Items      []RevocationItem `json:"items"`
}

// RevocationItem is one membership in a revocation panel.
type RevocationItem struct {
	System        string    `json:"system"`
	UserLogin     string    `json:"user_login"`
	GroupName     string    `json:"group_name"`
	Status        string    `json:"status"`
	Reason        string    `json:"reason"`
	RequestedBy   string    `json:"requested_by"` // the decision's author
	DecidedAt     time.Time `json:"decided_at"`
	JiraKey       string    `json:"jira_key"`
	CommentURL    string    `json:"comment_url"`
	OktaRequestID string    `json:"okta_request_id"`
	VerifiedAt    time.Time `json:"verified_at"`
	LogEventID    string    `json:"log_event_id"`
}

// SystemReview is one system's part of a review.
type SystemReview struct {
	System   System      `json:"system"`
	Risk     Risk        `json:"risk"`     // highest unsuppressed finding risk, "" if none
	Access   []AccessRow `json:"access"`   // privileged groups first, then by group and user
	Roles    []GroupRole `json:"roles"`    // the system's groups with members, in the order of Access
	Findings []Finding   `json:"findings"` // unsuppressed, sorted by risk then user
	JiraKey  string      `json:"jira_key"`
	JiraURL  string      `json:"jira_url"`
	PageURL  string      `json:"page_url"` // child page holding the access table when it was split out
}

// AccessRow is one membership as shown to a reviewer.
type AccessRow struct {
	GroupName        string    `json:"group_name"`
	Role             string    `json:"role"`
	UserLogin        string    `json:"user_login"`
	UserEmail        string    `json:"user_email"`
	UserName         string    `json:"user_name"`
	Department       string    `json:"department"`
	Title            string    `json:"title"`
	UserType         string    `json:"user_type"`
	UserStatus       string    `json:"user_status"`
	LastLogin        time.Time `json:"last_login"`
	MembershipSource string    `json:"membership_source"`
	Risk             Risk      `json:"risk"` // highest finding risk for this user in this system

	// Context for the reviewer, computed from the store only.
	Tier      string `json:"tier"`       // the group's tier from the policy's roles: (Tier*), "" when none matches
	DeptPeers int    `json:"dept_peers"` // people of the user's department who are members of this group
	DeptSize  int    `json:"dept_size"`  // people of the review's population in the user's department (0: no department)
	// PrevDecision is the previous review's outcome for the same access
	// (same system, group name and user email): AccessCertified,
	// AccessRevoked, AccessPending, or AccessNew when the previous review
	// did not have it; "" when there is no previous review.
	PrevDecision string `json:"prev_decision"`
}

// Group tiers of the policy's roles: section, and the outcome of an access
// the previous review did not have.
const (
	TierPrivileged = "privileged"
	TierStandard   = "standard"
	AccessNew      = "new"
)

// GroupRole describes one group of a system for the reviewer: its tier and
// what it allows (the policy's roles:), and how many members it has.
type GroupRole struct {
	GroupName string `json:"group_name"`
	Tier      string `json:"tier"`   // Tier*, "" when no roles: entry matches
	Allows    string `json:"allows"` // "" when not described
	Members   int    `json:"members"`
}

// HR statuses (uar snapshot --import FILE --kind hr).
const (
	HRActive     = "active"
	HRTerminated = "terminated"
	HRLeave      = "leave"
)

// HRRecord is one person of an HR listing. Email is lower case; a zero
// TerminationDate means none was given (else midnight UTC of that date).
type HRRecord struct {
	Line            int       `json:"line"` // line of the row in the file
	Email           string    `json:"email"`
	EmployeeID      string    `json:"employee_id"`
	Status          string    `json:"status"` // HR*
	TerminationDate time.Time `json:"termination_date"`
	Department      string    `json:"department"`
	Title           string    `json:"title"`
	ManagerEmail    string    `json:"manager_email"`
}

// HRListing is the HR system's list of people as kept for one review; the
// latest listing of a review replaces the earlier ones.
type HRListing struct {
	ID       int64      `json:"id"`
	Review   string     `json:"review"`
	FileName string     `json:"file_name"`
	TakenAt  time.Time  `json:"taken_at"`
	Records  []HRRecord `json:"records"` // in file order
}
