-- suppressed: findings the policy's exceptions suppressed in the review's current scoring, and who approved them
-- param: review the review label, e.g. 2026-Q4
SELECT s.review, f.rule_id, f.risk, f.system, f.user_login, f.exception_by AS approved_by,
       f.exception_ticket AS ticket, f.exception_expires AS expires, f.exception_reason AS reason,
       f.detail, f.evidence_id
FROM v_current_scorings s
JOIN findings f ON f.scoring_id = s.id
WHERE s.review = :review AND f.suppressed = 1
ORDER BY f.system, f.user_login, f.rule_id;
