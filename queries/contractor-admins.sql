-- contractor-admins: contractors (user_type Contractor) with privileged access (a group whose name contains "admin"), with the decision and the revocation
-- param: review the review label, e.g. 2026-Q4
SELECT a.review, a.system, a.group_name, a.user_login, a.user_type, a.department, a.title,
       a.user_status, a.decision, a.decided_by, a.decided_at, a.revocation_status, a.evidence_id
FROM v_access a
WHERE a.review = :review AND lower(a.user_type) = 'contractor' AND a.group_name LIKE '%admin%'
ORDER BY a.system, a.group_name, a.user_login, a.group_id, a.user_id;
