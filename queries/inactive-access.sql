-- inactive-access: accesses of users Okta has deprovisioned or suspended, or whom the HR listing marks terminated (a terminated_with_access or login_after_termination finding), with the decision and the revocation
-- param: review the review label, e.g. 2026-Q4
SELECT a.review, a.system, a.group_name, a.user_login, a.user_status, a.user_type,
       CASE WHEN upper(a.user_status) IN ('DEPROVISIONED', 'SUSPENDED') THEN 'okta status ' || a.user_status
            ELSE 'terminated (HR listing)' END AS why,
       a.last_login, a.decision, a.decided_by, a.decided_at, a.revocation_status, a.evidence_id
FROM v_access a
WHERE a.review = :review
  AND (upper(a.user_status) IN ('DEPROVISIONED', 'SUSPENDED')
       OR EXISTS (SELECT 1 FROM v_current_scorings s
                  JOIN findings f ON f.scoring_id = s.id
                  WHERE s.review = a.review AND f.user_id = a.user_id
                    AND f.rule_id IN ('terminated_with_access', 'login_after_termination')))
ORDER BY a.system, a.group_name, a.user_login, a.group_id, a.user_id;
