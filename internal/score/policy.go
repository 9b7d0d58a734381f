// Package score is the deterministic rules engine of uar: it loads a
// policy.yaml (DESIGN §7, documented in docs/policy.md) and evaluates it over
// a snapshot, yielding findings that read as sentences an auditor
// understands.
//
// The package is pure: no I/O, no clock (the caller passes asOf), no
// network. The optional LLM pass lives in the score/ai subpackage.
//
// # Policy errors
//
// [ParsePolicy] reports every problem it finds in one *[PolicyError], each
// naming file:line:column and the field path, for example
//
//	policy.yaml:14:11: sod_rules[0].risk: "SEVERE" is not HIGH, MEDIUM or LOW
//
// An unknown key is always an error: a typo must not silently disable a
// control.
package score

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/uar-dev/uar/internal/model"
	"github.com/uar-dev/uar/internal/yamlx"
)

// Built-in check names. They double as the rule_id of the findings the
// checks produce and as the `rule` of an exception that silences them.
const (
	CheckContractor       = "contractor"
	CheckDormant          = "dormant"
	CheckInactiveStatus   = "inactive_status"
	CheckMultiSystemAdmin = "multi_system_admin"
	CheckOrphaned         = "orphaned"

	// The HR checks run only when the review has an HR listing.
	CheckTerminatedWithAccess  = "terminated_with_access"
	CheckLoginAfterTermination = "login_after_termination"
	CheckNoHRRecord            = "no_hr_record"
	CheckMoverKeptAccess       = "mover_kept_access"
)

// CheckNames lists the built-in checks in the order they are documented.
var CheckNames = []string{CheckContractor, CheckDormant, CheckInactiveStatus, CheckMultiSystemAdmin, CheckOrphaned,
	CheckTerminatedWithAccess, CheckLoginAfterTermination, CheckNoHRRecord, CheckMoverKeptAccess}

// HRCheckNames are the checks that need an HR listing.
var HRCheckNames = []string{CheckTerminatedWithAccess, CheckLoginAfterTermination, CheckNoHRRecord, CheckMoverKeptAccess}

// WhenAttributes are the user attributes a SoD rule's `when` may test.
var WhenAttributes = []string{"department", "title", "user_type", "status"}

// DateLayout is the format of exception expiry dates (YYYY-MM-DD).
const DateLayout = "2006-01-02"

// Policy is a parsed policy.yaml. Omitted checks hold their defaults (see
// [DefaultChecks]); Raw and SHA256 identify the exact file evaluated, so the
// caller can store it as evidence and re-score later with the same bytes.
type Policy struct {
	File       string      `json:"file"`
	Version    int         `json:"version"`
	Checks     Checks      `json:"checks"`
	SoDRules   []SoDRule   `json:"sod_rules"`
	Roles      []Role      `json:"roles"`
	Exceptions []Exception `json:"exceptions"`
	Raw        []byte      `json:"-"`
	SHA256     string      `json:"sha256"` // hex sha256 of Raw
}

// Checks holds the configuration of every built-in check.
type Checks struct {
	Contractor       ContractorCheck       `json:"contractor"`
	Dormant          DormantCheck          `json:"dormant"`
	InactiveStatus   InactiveStatusCheck   `json:"inactive_status"`
	MultiSystemAdmin MultiSystemAdminCheck `json:"multi_system_admin"`
	Orphaned         OrphanedCheck         `json:"orphaned"`

	TerminatedWithAccess  HRCheck         `json:"terminated_with_access"`
	LoginAfterTermination HRCheck         `json:"login_after_termination"`
	NoHRRecord            NoHRRecordCheck `json:"no_hr_record"`
	MoverKeptAccess       HRCheck         `json:"mover_kept_access"`
}

// ContractorCheck flags users whose user_type is one of UserTypes and who
// hold any access in the snapshot (every snapshot group is SOX access).
type ContractorCheck struct {
	Enabled   bool       `json:"enabled"`
	Risk      model.Risk `json:"risk"`
	UserTypes []string   `json:"user_types"`
}

// DormantCheck flags users with no login for more than DormantDays before
// asOf, or who never logged in and were created more than DormantDays
// before asOf.
type DormantCheck struct {
	Enabled     bool       `json:"enabled"`
	Risk        model.Risk `json:"risk"`
	DormantDays int        `json:"dormant_days"`
}

// InactiveStatusCheck flags users whose status is one of Statuses and who
// are still members of a group.
type InactiveStatusCheck struct {
	Enabled  bool       `json:"enabled"`
	Risk     model.Risk `json:"risk"`
	Statuses []string   `json:"statuses"`
}

// MultiSystemAdminCheck flags users who are members of groups matching
// AdminGroups in more than one system.
type MultiSystemAdminCheck struct {
	Enabled     bool       `json:"enabled"`
	Risk        model.Risk `json:"risk"`
	AdminGroups []string   `json:"admin_groups"`
}

// OrphanedCheck flags accounts from an app-native import whose email
// matches no Okta user's email or login.
type OrphanedCheck struct {
	Enabled bool       `json:"enabled"`
	Risk    model.Risk `json:"risk"`
}

// DefaultChecks returns the configuration used for a check that the policy
// omits (DESIGN §7): every check enabled, with these risks and parameters.
func DefaultChecks() Checks {
	return Checks{
		Contractor:       ContractorCheck{Enabled: true, Risk: model.RiskMedium, UserTypes: []string{"Contractor"}},
		Dormant:          DormantCheck{Enabled: true, Risk: model.RiskMedium, DormantDays: 90},
		InactiveStatus:   InactiveStatusCheck{Enabled: true, Risk: model.RiskMedium, Statuses: []string{"SUSPENDED", "DEPROVISIONED", "LOCKED_OUT"}},
		MultiSystemAdmin: MultiSystemAdminCheck{Enabled: true, Risk: model.RiskHigh, AdminGroups: []string{"*-Admins", "*-Admin"}},
		Orphaned:         OrphanedCheck{Enabled: true, Risk: model.RiskHigh},

		TerminatedWithAccess:  HRCheck{Enabled: true, Risk: model.RiskHigh},
		LoginAfterTermination: HRCheck{Enabled: true, Risk: model.RiskHigh},
		NoHRRecord:            NoHRRecordCheck{Enabled: true, Risk: model.RiskMedium, ExceptUserTypes: []string{"Service"}},
		MoverKeptAccess:       HRCheck{Enabled: true, Risk: model.RiskMedium},
	}
}

// SoDRule is one segregation-of-duties rule. A user violates it when every
// attribute in When matches one of its values (case-insensitive), the user
// is a member of at least one group matching Any (if Any is set) and, for
// every pattern in All, of at least one group matching it (if All is set).
type SoDRule struct {
	ID             string              `json:"id"`
	Title          string              `json:"title"`
	Risk           model.Risk          `json:"risk"`
	When           map[string][]string `json:"when"` // attribute (lower case) -> accepted values
	Any            []string            `json:"any"`
	All            []string            `json:"all"`
	Recommendation string              `json:"recommendation"`
}

// Exception is an accepted risk: it suppresses the findings of Rule (a
// sod_rules id or a check name) for User (email or login) while the
// evaluation date is on or before Expires.
type Exception struct {
	Rule       string    `json:"rule"`
	User       string    `json:"user"`
	ApprovedBy string    `json:"approved_by"`
	Ticket     string    `json:"ticket"`
	Expires    time.Time `json:"expires"` // midnight UTC of the last day the exception applies
	Reason     string    `json:"reason"`
}

// ExpiresDate is Expires as YYYY-MM-DD.
func (e Exception) ExpiresDate() string { return e.Expires.Format(DateLayout) }

// Problem is one defect in a policy file.
type Problem struct {
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Field  string `json:"field"` // e.g. sod_rules[0].risk
	Msg    string `json:"msg"`
}

// PolicyError lists every problem found in a policy file. Callers treat it
// as a usage/config error (exit 2).
type PolicyError struct {
	File     string    `json:"file"`
	Problems []Problem `json:"problems"`
}

// Error renders one line per problem: file:line:col: field: msg (without
// the column when it is unknown).
func (e *PolicyError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if p.Column > 0 {
			fmt.Fprintf(&b, "%s:%d:%d: ", e.File, p.Line, p.Column)
		} else { // YAML syntax errors carry a line only
			fmt.Fprintf(&b, "%s:%d: ", e.File, p.Line)
		}
		if p.Field != "" {
			b.WriteString(p.Field)
			b.WriteString(": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// ParsePolicy parses and validates a policy.yaml. filename is used only in
// error messages. It returns a *PolicyError listing every problem (unknown
// key, bad glob, bad risk, duplicate id, bad date, wrong version, missing
// field, exception naming an unknown rule, unknown `when` attribute).
func ParsePolicy(filename string, data []byte) (*Policy, error) {
	sum := sha256.Sum256(data)
	p := &Policy{
		File:       filename,
		Checks:     DefaultChecks(),
		SoDRules:   []SoDRule{},
		Roles:      []Role{},
		Exceptions: []Exception{},
		Raw:        slices.Clone(data),
		SHA256:     hex.EncodeToString(sum[:]),
	}
	pp := &policyParser{}
	// One document, bounded size, depth and alias expansion: a policy of
	// nested or fanned-out aliases is refused before anything walks it.
	root, err := yamlx.Decode(filename, data, yamlx.Limits{})
	if err != nil {
		var ye *yamlx.Error
		if errors.As(err, &ye) {
			return nil, &PolicyError{File: filename, Problems: []Problem{{Line: ye.Line, Column: ye.Column, Msg: ye.Msg}}}
		}
		return nil, err
	}
	if root == nil {
		return nil, &PolicyError{File: filename, Problems: []Problem{{Line: 1, Column: 1, Msg: "empty policy: want at least `version: 1`"}}}
	}
	pp.parseTop(p, deref(root))
	if len(pp.problems) > 0 {
		slices.SortStableFunc(pp.problems, func(a, b Problem) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Column - b.Column
		})
		return nil, &PolicyError{File: filename, Problems: pp.problems}
	}
	return p, nil
}

type policyParser struct {
	problems []Problem
}

func (pp *policyParser) add(n *yaml.Node, field, format string, args ...any) {
	pp.problems = append(pp.problems, Problem{Line: n.Line, Column: n.Column, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "unsupported YAML"
}

type field struct {
	key *yaml.Node
	val *yaml.Node
}

// fields walks a mapping node, reporting unknown and duplicate keys, and
// returns the values of the allowed keys. A null node is an empty mapping.
func (pp *policyParser) fields(n *yaml.Node, path string, allowed ...string) (map[string]field, bool) {
	out := map[string]field{}
	if isNull(n) {
		return out, true
	}
	if n.Kind != yaml.MappingNode {
		pp.add(n, path, "want a mapping, got %s", kindName(n))
		return out, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		fp := joinPath(path, k.Value)
		if !slices.Contains(allowed, k.Value) {
			pp.add(k, fp, "unknown key %q (allowed: %s)", k.Value, strings.Join(allowed, ", "))
			continue
		}
		if prev, dup := out[k.Value]; dup {
			pp.add(k, fp, "duplicate key (first at line %d)", prev.key.Line)
			continue
		}
		out[k.Value] = field{key: k, val: v}
	}
	return out, true
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func (pp *policyParser) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		pp.add(n, path, "want a string, got %s", kindName(n))
		return "", false
	}
	return strings.TrimSpace(n.Value), true
}

func (pp *policyParser) requiredStr(fs map[string]field, key, parent string, parentNode *yaml.Node) string {
	f, ok := fs[key]
	if !ok {
		pp.add(parentNode, joinPath(parent, key), "required")
		return ""
	}
	s, ok := pp.str(f.val, joinPath(parent, key))
	if ok && s == "" {
		pp.add(f.val, joinPath(parent, key), "must not be empty")
	}
	return s
}

func (pp *policyParser) optionalStr(fs map[string]field, key, parent string) string {
	f, ok := fs[key]
	if !ok || isNull(f.val) {
		return ""
	}
	s, _ := pp.str(f.val, joinPath(parent, key))
	return s
}

func (pp *policyParser) boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	pp.add(n, path, "want true or false, got %s", kindName(n))
	return false, false
}

func (pp *policyParser) integer(n *yaml.Node, path string) (int, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		var v int
		if err := n.Decode(&v); err == nil {
			return v, true
		}
	}
	pp.add(n, path, "want an integer, got %s", kindName(n))
	return 0, false
}

func (pp *policyParser) risk(n *yaml.Node, path string) (model.Risk, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		pp.add(n, path, "want HIGH, MEDIUM or LOW, got %s", kindName(n))
		return "", false
	}
	r, err := model.ParseRisk(n.Value)
	if err != nil {
		pp.add(n, path, "%q is not HIGH, MEDIUM or LOW", n.Value)
		return "", false
	}
	return r, true
}

// strList accepts a list of non-empty strings, or a single string as a
// one-element list.
func (pp *policyParser) strList(n *yaml.Node, path string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		s := strings.TrimSpace(n.Value)
		if s == "" {
			pp.add(n, path, "must not be empty")
			return nil, false
		}
		return []string{s}, true
	}
	if isNull(n) {
		return []string{}, true
	}
	if n.Kind != yaml.SequenceNode {
		pp.add(n, path, "want a list of strings, got %s", kindName(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, c := range n.Content {
		c = deref(c)
		ip := fmt.Sprintf("%s[%d]", path, i)
		s, good := pp.str(c, ip)
		if !good {
			ok = false
			continue
		}
		if s == "" {
			pp.add(c, ip, "must not be empty")
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// globList is strList plus path.Match syntax validation of every entry.
func (pp *policyParser) globList(n *yaml.Node, path string) ([]string, bool) {
	list, ok := pp.strList(n, path)
	if !ok {
		return list, false
	}
	for i, g := range list {
		if err := checkGlob(g); err != nil {
			at := n
			ip := path
			if n.Kind == yaml.SequenceNode {
				at = deref(n.Content[i])
				ip = fmt.Sprintf("%s[%d]", path, i)
			}
			pp.add(at, ip, "bad glob %q: %v", g, err)
			ok = false
		}
	}
	return list, ok
}

func checkGlob(g string) error {
	_, err := path.Match(g, "")
	return err
}

func (pp *policyParser) parseTop(p *Policy, n *yaml.Node) {
	fs, ok := pp.fields(n, "", "version", "checks", "sod_rules", "roles", "exceptions")
	if !ok {
		return
	}
	if f, ok := fs["version"]; !ok {
		pp.add(n, "version", "required (want 1)")
	} else if v, ok := pp.integer(f.val, "version"); ok {
		if v != 1 {
			pp.add(f.val, "version", "unsupported version %d (want 1)", v)
		}
		p.Version = v
	}
	if f, ok := fs["checks"]; ok {
		pp.parseChecks(&p.Checks, f.val)
	}
	if f, ok := fs["sod_rules"]; ok {
		p.SoDRules = pp.parseRules(f.val)
	}
	if f, ok := fs["roles"]; ok {
		p.Roles = pp.parseRoles(f.val)
	}
	if f, ok := fs["exceptions"]; ok {
		p.Exceptions = pp.parseExceptions(f.val, p.SoDRules)
	}
}

// checkCommon parses the enabled and risk keys shared by every check.
func (pp *policyParser) checkCommon(fs map[string]field, path string, enabled *bool, risk *model.Risk) {
	if f, ok := fs["enabled"]; ok {
		if b, ok := pp.boolean(f.val, path+".enabled"); ok {
			*enabled = b
		}
	}
	if f, ok := fs["risk"]; ok {
		if r, ok := pp.risk(f.val, path+".risk"); ok {
			*risk = r
		}
	}
}

func (pp *policyParser) parseChecks(c *Checks, n *yaml.Node) {
	fs, ok := pp.fields(n, "checks", CheckNames...)
	if !ok {
		return
	}
	if f, ok := fs[CheckContractor]; ok {
		const p = "checks.contractor"
		if cf, ok := pp.fields(f.val, p, "enabled", "risk", "user_types"); ok {
			pp.checkCommon(cf, p, &c.Contractor.Enabled, &c.Contractor.Risk)
			if lf, ok := cf["user_types"]; ok {
				if l, ok := pp.strList(lf.val, p+".user_types"); ok {
					c.Contractor.UserTypes = l
				}
			}
		}
	}
	if f, ok := fs[CheckDormant]; ok {
		const p = "checks.dormant"
		if cf, ok := pp.fields(f.val, p, "enabled", "risk", "dormant_days"); ok {
			pp.checkCommon(cf, p, &c.Dormant.Enabled, &c.Dormant.Risk)
			if df, ok := cf["dormant_days"]; ok {
				if d, ok := pp.integer(df.val, p+".dormant_days"); ok {
					if d < 1 {
						pp.add(df.val, p+".dormant_days", "must be at least 1, got %d", d)
					} else {
						c.Dormant.DormantDays = d
					}
				}
			}
		}
	}
	if f, ok := fs[CheckInactiveStatus]; ok {
		const p = "checks.inactive_status"
		if cf, ok := pp.fields(f.val, p, "enabled", "risk", "statuses"); ok {
			pp.checkCommon(cf, p, &c.InactiveStatus.Enabled, &c.InactiveStatus.Risk)
			if lf, ok := cf["statuses"]; ok {
				if l, ok := pp.strList(lf.val, p+".statuses"); ok {
					c.InactiveStatus.Statuses = l
				}
			}
		}
	}
	if f, ok := fs[CheckMultiSystemAdmin]; ok {
		const p = "checks.multi_system_admin"
		if cf, ok := pp.fields(f.val, p, "enabled", "risk", "admin_groups"); ok {
			pp.checkCommon(cf, p, &c.MultiSystemAdmin.Enabled, &c.MultiSystemAdmin.Risk)
			if lf, ok := cf["admin_groups"]; ok {
				if l, ok := pp.globList(lf.val, p+".admin_groups"); ok {
					c.MultiSystemAdmin.AdminGroups = l
				}
			}
		}
	}
	if f, ok := fs[CheckOrphaned]; ok {
		const p = "checks.orphaned"
		if cf, ok := pp.fields(f.val, p, "enabled", "risk"); ok {
			pp.checkCommon(cf, p, &c.Orphaned.Enabled, &c.Orphaned.Risk)
		}
	}
	pp.parseHRChecks(c, fs)
}

func (pp *policyParser) parseRules(n *yaml.Node) []SoDRule {
	rules := []SoDRule{}
	if isNull(n) {
		return rules
	}
	if n.Kind != yaml.SequenceNode {
		pp.add(n, "sod_rules", "want a list of rules, got %s", kindName(n))
		return rules
	}
	seen := map[string]int{} // lower(id) -> line
	for i, rn := range n.Content {
		rn = deref(rn)
		p := fmt.Sprintf("sod_rules[%d]", i)
		fs, ok := pp.fields(rn, p, "id", "title", "risk", "when", "groups", "recommendation")
		if !ok {
			continue
		}
		if isNull(rn) {
			pp.add(rn, p, "empty rule: want id, title, risk and groups")
			continue
		}
		r := SoDRule{When: map[string][]string{}, Any: []string{}, All: []string{}}
		r.ID = pp.requiredStr(fs, "id", p, rn)
		if r.ID != "" {
			key := strings.ToLower(r.ID)
			idNode := fs["id"].val
			switch {
			case slices.Contains(CheckNames, key):
				pp.add(idNode, p+".id", "%q is the name of a built-in check; choose another id", r.ID)
			case seen[key] != 0:
				pp.add(idNode, p+".id", "duplicate rule id %q (first at line %d)", r.ID, seen[key])
			default:
				seen[key] = idNode.Line
			}
		}
		r.Title = pp.requiredStr(fs, "title", p, rn)
		if f, ok := fs["risk"]; !ok {
			pp.add(rn, p+".risk", "required (HIGH, MEDIUM or LOW)")
		} else if rk, ok := pp.risk(f.val, p+".risk"); ok {
			r.Risk = rk
		}
		r.Recommendation = pp.optionalStr(fs, "recommendation", p)
		if f, ok := fs["when"]; ok {
			wp := p + ".when"
			if wf, ok := pp.fields(f.val, wp, WhenAttributes...); ok {
				for _, attr := range WhenAttributes {
					af, ok := wf[attr]
					if !ok {
						continue
					}
					vals, ok := pp.strList(af.val, wp+"."+attr)
					if ok && len(vals) == 0 {
						pp.add(af.val, wp+"."+attr, "needs at least one value")
						continue
					}
					if ok {
						r.When[attr] = vals
					}
				}
			}
		}
		if f, ok := fs["groups"]; !ok {
			pp.add(rn, p+".groups", "required: give groups.any, groups.all or both")
		} else {
			gp := p + ".groups"
			if gf, ok := pp.fields(f.val, gp, "any", "all"); ok {
				if af, ok := gf["any"]; ok {
					if l, ok := pp.globList(af.val, gp+".any"); ok {
						r.Any = l
					}
				}
				if af, ok := gf["all"]; ok {
					if l, ok := pp.globList(af.val, gp+".all"); ok {
						r.All = l
					}
				}
				// Complain only when nothing was given, not when a given
				// list was already rejected above.
				anyGiven := gf["any"].val != nil && !pp.listEmpty(gf["any"].val)
				allGiven := gf["all"].val != nil && !pp.listEmpty(gf["all"].val)
				if !anyGiven && !allGiven {
					pp.add(f.val, gp, "needs at least one pattern in any or all")
				}
			}
		}
		rules = append(rules, r)
	}
	return rules
}

func (pp *policyParser) listEmpty(n *yaml.Node) bool {
	return isNull(n) || (n.Kind == yaml.SequenceNode && len(n.Content) == 0)
}

func (pp *policyParser) parseExceptions(n *yaml.Node, rules []SoDRule) []Exception {
	out := []Exception{}
	if isNull(n) {
		return out
	}
	if n.Kind != yaml.SequenceNode {
		pp.add(n, "exceptions", "want a list of exceptions, got %s", kindName(n))
		return out
	}
	known := map[string]bool{}
	for _, c := range CheckNames {
		known[c] = true
	}
	for _, r := range rules {
		known[strings.ToLower(r.ID)] = true
	}
	seen := map[string]int{}
	for i, en := range n.Content {
		en = deref(en)
		p := fmt.Sprintf("exceptions[%d]", i)
		fs, ok := pp.fields(en, p, "rule", "user", "approved_by", "ticket", "expires", "reason")
		if !ok {
			continue
		}
		if isNull(en) {
			pp.add(en, p, "empty exception: want rule, user, approved_by and expires")
			continue
		}
		var e Exception
		e.Rule = pp.requiredStr(fs, "rule", p, en)
		if e.Rule != "" && !known[strings.ToLower(e.Rule)] {
			pp.add(fs["rule"].val, p+".rule", "%q is neither a sod_rules id nor a check name (%s)", e.Rule, strings.Join(CheckNames, ", "))
		}
		e.User = pp.requiredStr(fs, "user", p, en)
		e.ApprovedBy = pp.requiredStr(fs, "approved_by", p, en)
		e.Ticket = pp.optionalStr(fs, "ticket", p)
		e.Reason = pp.optionalStr(fs, "reason", p)
		if f, ok := fs["expires"]; !ok {
			pp.add(en, p+".expires", "required (YYYY-MM-DD): an accepted risk must lapse")
		} else if s, ok := pp.str(f.val, p+".expires"); ok {
			d, err := time.Parse(DateLayout, s)
			if err != nil {
				pp.add(f.val, p+".expires", "%q is not a date in YYYY-MM-DD form", s)
			} else {
				e.Expires = d
			}
		}
		if e.Rule != "" && e.User != "" {
			key := strings.ToLower(e.Rule) + "\x00" + strings.ToLower(e.User)
			if first := seen[key]; first != 0 {
				pp.add(en, p, "duplicate exception for rule %q and user %q (first at line %d)", e.Rule, e.User, first)
			} else {
				seen[key] = en.Line
			}
		}
		out = append(out, e)
	}
	return out
}
