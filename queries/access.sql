-- access: the review's current access population with decisions (the v_access view)
-- param: review the review label, e.g. 2026-Q4
SELECT review, system, group_name, user_login, user_email, department, title, user_type,
       user_status, last_login, membership_source, decision, decided_by, decided_at,
       revocation_status, evidence_id
FROM v_access
WHERE review = :review
ORDER BY system, group_name, user_login, group_id, user_id;
