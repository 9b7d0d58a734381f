-- revocations: what revoke did for each revoked access of the review (its latest attempt), with the proof: Okta's request id, the time the removal was verified, the System Log event (the v_revocations view)
-- param: review the review label, e.g. 2026-Q4
SELECT review, system, user_login, group_name, status, requested_by, executed_at, verified_at,
       okta_request_id, evidence_id,
       reason, decided_at, latency_seconds, jira_key, comment_id, membership_source, log_event_id,
       log_event_time
FROM v_revocations
WHERE review = :review
ORDER BY system, group_name, user_login, executed_at, evidence_id, status;
