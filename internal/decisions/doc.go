// Package decisions reads reviewers' decisions and resolves them into one
// outcome per access (DESIGN §8). It is pure: no I/O, no clock, no store.
// The command layer fetches comments (or a CSV file), turns them into
// [Comment] values with [FromJira] (or [ParseADF] / [ParseText]) or
// [ParseCSV] and [Input.AddCSV], calls [Resolve] once per review, and
// stores and posts what Resolve returns (see Use, below).
//
// # Grammar
//
// A comment is read line by line. In a Jira (ADF) body a line is a
// paragraph, heading, list item, table cell, or a part of one between hard
// breaks; in plain text (wiki markup, a v2 body) a line ends at a newline.
// A decision is one line:
//
//	decision   = keyword ws* ":" ws* subject [ws+ "from" ws+ group] [separator justification]
//	keyword    = "REVOKE" | "CERTIFY"                  (any case)
//	subject    = "all" | address *(("," | ";") address)
//	address    = email | login
//	email      = local "@" domain                      (domain has a dot; at most 254 bytes)
//	login      = letter-or-digit *(letter | digit | "." | "_" | "-" | "+")
//	group      = the rest of the line up to the separator: a group name, matched case-insensitively
//	separator  = " -- " | "—" | " – "                  (two hyphens, an em dash, or a spaced en dash)
//
// Examples:
//
//	REVOKE: ivan.petrov@acme.com
//	REVOKE: dave.kim@acme.com from SOX-NetSuite-Admins
//	CERTIFY: all
//	CERTIFY: all from SOX-NetSuite-Users
//	CERTIFY: alice.chen@acme.com, bob.martin@acme.com
//	CERTIFY: carol.wong@acme.com -- covering the Q4 close, approved by the CFO
//
// The text after the separator is the reviewer's justification, recorded
// as written. "from" applies to every address on the line; without it a
// REVOKE covers every membership of the user in the ticket's system.
// "CERTIFY: all" covers every access of the system (of the group with
// "from") that its author may decide. "REVOKE: all" is refused: name each
// user to revoke.
//
// # What is tolerated
//
//   - Decoration before the keyword: whitespace, bullets (- * + • · ‣ ◦ #),
//     numbering ("1." "2)" "a)"), wiki headings ("h3."), and emphasis
//     around the keyword or the whole line (*REVOKE:*, **REVOKE**:, _x_).
//   - Auto-linked mail: in ADF the visible text of a link is read (the
//     Jira editor links a typed address to mailto: with the same text);
//     in wiki markup [text|mailto:addr] and [mailto:addr], in Markdown
//     [text](mailto:addr) and <mailto:addr>, read as addr; a bare
//     "mailto:" prefix is dropped.
//   - Around an address: quotes, brackets, backticks, emphasis and a
//     trailing . ; , ! ? or :; around the group name: quotes, emphasis
//     and a trailing . ; , or !
//   - A full-width colon (：) for the colon; spaces before the colon.
//   - Duplicate addresses on one line are read once.
//
// # What is ignored
//
// Text that is quoted or shown rather than said is never read as a
// decision, so quoting an earlier comment cannot repeat it:
//
//   - ADF: every line inside a blockquote, codeBlock, panel, expand,
//     nestedExpand or extension node, at any depth;
//   - wiki/plain text: lines between {quote}, {code}, {noformat}, {panel}
//     or {expand} markers, or between ``` fences, and lines starting with
//     "bq." or ">";
//   - inline code: a keyword written as inline code (an ADF code mark,
//     wiki {{...}} or Markdown `...`) is how people show the syntax, so
//     such a line is not a decision. Inline code elsewhere on a decision
//     line is read as text.
//
// # Malformed lines
//
// A line that looks like an instruction but does not parse is a malformed
// decision, recorded as rejected with a reason and answered with a reply.
// A line looks like an instruction when, after the decoration above:
//
//   - it starts with REVOKE or CERTIFY (any case) and a colon, whatever
//     follows ("REVOKE:" with no target, "CERTIFY: everyone",
//     "REVOKE: bob from", an address that is neither e-mail nor login);
//   - it starts with REVOKE or CERTIFY without the colon, written in
//     capitals or followed by an address (an @) or "all"
//     ("REVOKE ivan@x.com", "Certify all"); "Revoke access when..." is prose;
//   - it starts with a near miss of a keyword (one letter off:
//     "REVOKD:") or another decision word (APPROVE, APPROVED, ACCEPT,
//     CONFIRM, CERTIFIED, DENY, DENIED, REJECT, REMOVE, DELETE, DISABLE,
//     SUSPEND, REVOKED, KEEP, RETAIN, GRANT), with a colon, or in capitals,
//     or followed by an @;
//   - it carries "REVOKE:" or "CERTIFY:" in capitals after other text
//     ("Please REVOKE: bob@x.com"): a decision must start its line.
//
// # Limits
//
// Hostile input stays bounded: a decision line longer than [MaxLineLen]
// bytes and a line with more than [MaxTargets] addresses are malformed;
// after [MaxLines] decision lines in one comment, one more malformed line
// says the rest were not read, and reading stops. Recorded lines are cut
// to MaxLineLen; invalid UTF-8 becomes U+FFFD and control characters
// spaces. Reading is linear in the size of the comment.
//
// # Resolution
//
// [Resolve] applies DESIGN §8 to explicit inputs: per system its reviewers
// (owner, delegates, backup), accesses (one per membership), comments with
// their parsed lines; the review's findings; and the
// review.certify_all_covers_high switch. Its rules:
//
//   - Authorisation: a Jira comment's author is matched to a reviewer by
//     accountId (by e-mail only when the reviewer has no accountId and
//     Jira shows the author's e-mail); a CSV row's decided_by_email by
//     e-mail. The owner and delegates decide every access except their own
//     and the owner's; the backup reviewer decides only the owner's own
//     access (the owner's accesses are those matching the owner's
//     configured e-mail, so give it). Anyone else's line is rejected: not
//     an authorised reviewer.
//   - Self-review: nobody decides their own access (rejected). "CERTIFY:
//     all" from an owner who is a member certifies everyone else and
//     records a rejected self-review for each of the owner's accesses,
//     which the backup reviewer decides. Accesses outside an author's
//     scope are silently left out of their "all".
//   - An address not in the system's snapshot is rejected; "from" naming
//     a group the user is not in (or, for all, a group not in the system)
//     is rejected, listing the user's groups.
//   - Precedence per access: a specific decision beats CERTIFY: all,
//     whatever their order; among specific decisions the latest wins (by
//     Jira's created time, then comment id, then line order) and the
//     earlier ones become superseded; among CERTIFY: all lines the latest
//     wins likewise.
//   - Rubber-stamp guard: unless certify_all_covers_high, an access with
//     an open (unsuppressed) HIGH finding is not certified by CERTIFY: all
//     (the record is rejected, the access stays pending and the owner gets
//     a reply listing such accesses), nor by an explicit CERTIFY without a
//     justification (rejected). A finding is addressed, and stops
//     guarding, once any membership it names is revoked by an accepted
//     REVOKE in any system. For an explicit CERTIFY this is judged on the
//     revocations that stand whatever the guard decides, which keeps the
//     rule free of cycles.
//   - An edited comment (updated ≠ created) is recorded with both times
//     and flagged; a reviewer who is a member of an admin group of the
//     system is flagged. Neither is refused.
//
// Output is sorted with full tie-breaks and depends on nothing but the
// input.
//
// # Use
//
// Resolve is a pure function of everything said so far: run it over every
// comment of the review on each pass, and replace what it derived before.
// Leave out the comments written by uar's own Jira account (GET
// /myself): replies are built never to read as decisions, but other
// comments uar posts (revocation summaries, reminders) are not.
// A pass that refetches only some tickets (uar watch) must still give it
// every system's comments, e.g. from the store: a revocation in one system
// can address a finding that holds back an access in another.
// Store every record of [Result.Decisions] (they are model.Decision
// values, one per line per access, with the comment id, Jira's created
// and updated times, the raw line, status, reason and justification);
// derive v_access.decision from [Result.Access]. Post each [Reply] whose
// Key has not been posted before and record the key with the comment it
// became; never post Reply.Text, which is for logs. Print
// [Result.Summaries]. Revocations to plan are the accepted REVOKE records
// (UserID and GroupID name the membership).
//
// # CSV decisions
//
// [ParseCSV] reads decisions gathered outside Jira. The first row is a
// header; column names are case-insensitive, in any order:
//
//	system            required  the system's name as configured (case-insensitive)
//	action            required  CERTIFY or REVOKE (any case)
//	target            required  one e-mail address or login, or "all" (CERTIFY only)
//	group             optional  the group, as with "from"
//	decided_by_email  required  the reviewer's e-mail: owner, delegate or backup of the system
//	decided_at        required  RFC 3339 with an offset, e.g. 2026-12-01T09:30:00Z
//	justification     optional  the reviewer's reason
//
// A semicolon-separated file (some spreadsheet locales) and a UTF-8 byte
// order mark are accepted. Every problem is reported with its line and
// field (the first [MaxCSVProblems], then a count) and a file with any
// problem yields no decisions at all. Fields are capped at
// [MaxCSVField] bytes and files at [MaxCSVRows] rows.
package decisions
