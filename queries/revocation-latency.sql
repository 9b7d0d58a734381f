-- revocation-latency: for each revocation of the review whose removal was proven (done, already_absent), the time from the reviewer's decision (Jira's comment time) to the verified removal, longest first
-- param: review the review label, e.g. 2026-Q4
SELECT review, system, group_name, user_login, status, decided_at, executed_at, verified_at,
       CAST(round((julianday(verified_at) - julianday(decided_at)) * 86400) AS INTEGER) AS latency_seconds,
       round((julianday(verified_at) - julianday(decided_at)) * 24, 2) AS latency_hours,
       jira_key, comment_id, okta_request_id, evidence_id
FROM v_revocations
WHERE review = :review AND status IN ('done', 'already_absent') AND decided_at <> '' AND verified_at <> ''
ORDER BY latency_seconds DESC, system, group_name, user_login, evidence_id;
