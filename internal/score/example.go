package score

// ExamplePolicy is the commented policy.yaml that `uar init` writes. It is a
// working policy (a test parses and evaluates it): on the reference org it
// raises the three headline HIGH findings (an IT manager administering the
// ERP, a contractor in the ERP, a controller administering two systems).
// The format is documented in docs/policy.md.
const ExamplePolicy = `# uar scoring policy (format: docs/policy.md). Keep it in version control:
# every scoring pass records this file's exact bytes and sha256 as evidence.
# An unknown key is an error, so a typo cannot silently switch a control off.
version: 1

# Built-in checks. An omitted check runs with the defaults shown here
# (except contractor, raised to HIGH below); set enabled: false to switch
# one off. risk is HIGH, MEDIUM or LOW.
checks:
  # Contractors (user_type, case-insensitive) holding any SOX access.
  # The default risk is MEDIUM; this policy treats persistent contractor
  # access as HIGH.
  contractor:         {enabled: true, risk: HIGH, user_types: [Contractor]}
  # No login for dormant_days, or never logged in and created more than
  # dormant_days ago. Users with neither a last login nor a creation date
  # (some app exports) are not judged.
  dormant:            {enabled: true, risk: MEDIUM, dormant_days: 90}
  # Accounts in one of these statuses that are still members of a group.
  inactive_status:    {enabled: true, risk: MEDIUM, statuses: [SUSPENDED, DEPROVISIONED, LOCKED_OUT]}
  # Member of admin groups (globs over group names) in more than one system.
  multi_system_admin: {enabled: true, risk: HIGH, admin_groups: ["*-Admins", "*-Admin"]}
  # Accounts from an app export (uar snapshot --import) whose email matches
  # no Okta user's email or login.
  orphaned:           {enabled: true, risk: HIGH}

  # The HR checks need the review's HR listing (uar snapshot --import hr.csv
  # --kind hr); without one they are skipped with a note. A person is matched
  # to an HR row by email (case-insensitive), then by employee id.
  # HR says terminated and the account still holds SOX access.
  terminated_with_access:  {enabled: true, risk: HIGH}
  # Okta's last sign-in falls on a day after the HR termination date.
  login_after_termination: {enabled: true, risk: HIGH}
  # A SOX member that no HR row matches; non-human user_types are exempt.
  no_hr_record:            {enabled: true, risk: MEDIUM, except_user_types: [Service]}
  # Department or title changed since the previous review's HR listing, yet
  # every SOX membership held at that review is still held.
  mover_kept_access:       {enabled: true, risk: MEDIUM}

# Segregation-of-duties rules. A user violates a rule when every attribute
# under "when" matches one of its values (department, title, user_type,
# status; case-insensitive) AND the user is in at least one group matching
# groups.any AND, for each pattern in groups.all, in a group matching it.
# Patterns are globs over group names (* ? [a-z]) across all systems.
sod_rules:
  - id: SOD-IT-ERP-ADMIN
    title: IT staff must not administer the ERP used by Finance
    risk: HIGH
    when:
      department: [IT]
    groups:
      any: ["SOX-NetSuite-Admins"]
    recommendation: Recommend revoking SOX-NetSuite-Admins.

  # A toxic combination: creating vendors and approving their payments.
  - id: SOD-AP-VENDOR-PAY
    title: One person can both create vendors and approve payments
    risk: HIGH
    groups:
      all: ["SOX-NetSuite-Vendor*", "SOX-NetSuite-AP-Approv*"]
    recommendation: Recommend revoking one of the two roles.

  # Finance should not run payroll administration in the HR system.
  - id: SOD-FIN-PAYROLL-ADMIN
    title: Finance staff administering payroll
    risk: MEDIUM
    when:
      department: [Finance]
      user_type: [Employee]
    groups:
      any: ["SOX-Workday-Payroll-Admin*"]
    recommendation: Recommend moving payroll administration to HR.

# What groups allow, shown to reviewers beside each access (review page and
# Jira ticket); privileged groups are listed first. The first entry whose
# globs match a group wins. tier: privileged or standard.
roles:
  - groups: ["*-Admins", "*-Admin"]
    tier: privileged
    allows: Administration of the system, including users, roles and configuration.
  - groups: ["SOX-NetSuite-Users"]
    tier: standard
    allows: Day-to-day accounting in NetSuite; journal entries up to the approval limits.

# Accepted risks. An exception silences the findings of one rule (a
# sod_rules id or a check name) for one user (email or login) up to and
# including its expires date (YYYY-MM-DD, compared with the UTC date of the
# scoring run); after that the findings come back. Suppressed findings are
# still listed in the report, with who approved them.
exceptions: []
#  - rule: SOD-IT-ERP-ADMIN
#    user: dave.kim@company.com
#    approved_by: cfo@company.com
#    ticket: UAR-12
#    expires: 2027-03-31
#    reason: covering the ERP upgrade until Q1 close
`
