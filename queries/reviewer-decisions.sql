-- reviewer-decisions: every decision line one reviewer wrote, in every review's current decisions passes: accepted, rejected (and why) or superseded, with the justification given
-- param: reviewer the reviewer's Jira account id, email or display name (case-insensitive)
SELECT review, system, action, target, group_name, status, reason, justification, certify_all,
       decided_at, decided_by, decided_by_name, decided_by_email, jira_key, comment_id, edited,
       line, evidence_id
FROM v_decisions
WHERE lower(:reviewer) IN (lower(decided_by), lower(decided_by_email), lower(decided_by_name))
ORDER BY decided_at, review, system, jira_key, comment_id, line, target, group_name, action, status,
         reason, justification, evidence_id;
