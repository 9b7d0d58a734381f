-- decisions: every decision line of the review's current decisions passes, accepted, rejected or superseded, with who wrote it, when (Jira's own time) and why it stands or not (the v_decisions view)
-- param: review the review label, e.g. 2026-Q4
SELECT review, system, action, target, group_name, decided_by, decided_at, status, reason,
       jira_key, comment_id, evidence_id,
       decided_by_name, decided_by_email, justification, source, certify_all, reviewer_admin,
       edited, comment_updated, line
FROM v_decisions
WHERE review = :review
-- every column: rows that tie on all of them are identical, so the order is
-- the same on every run
ORDER BY system, decided_at, jira_key, comment_id, line, target, group_name, action, status,
         reason, decided_by, justification, evidence_id, decided_by_name, decided_by_email, source,
         certify_all, reviewer_admin, edited, comment_updated, review;
