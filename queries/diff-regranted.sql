-- diff-regranted: accesses revoked in the earlier review (the decision that stands is REVOKE) and present again in the later one; the revocation status says whether the removal had been proven (done, already_absent) or never happened
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
--
-- Read from the earlier review's REVOKE decisions (few), not from every
-- access: each revoked user's accesses are looked up by user id, and the
-- decision that stands for each is v_access's, so a later CERTIFY of one
-- group still wins over a REVOKE of all the user's access.
WITH revoked_users AS (
    SELECT DISTINCT system, user_id
    FROM a.decisions
    WHERE review = :from AND action = 'REVOKE' AND status = 'accepted' AND user_id <> ''
)
SELECT 'regranted' AS change, t.system, t.group_name, t.user_login,
       'access' AS item,
       'revoked' || CASE WHEN f.revocation_status <> '' THEN ' (' || f.revocation_status || ')' ELSE ' (not executed)' END AS from_value,
       'present (' || t.decision || ')' AS to_value,
       'revoked by ' || f.decided_by || ' at ' || f.decided_at || '; membership_source=' || t.membership_source AS detail,
       f.evidence_id AS from_evidence_id, t.evidence_id AS to_evidence_id
FROM revoked_users r
CROSS JOIN a.v_access f
JOIN b.v_access t ON t.review = :to AND t.group_id = f.group_id AND t.user_id = f.user_id
WHERE f.review = :from AND f.user_id = r.user_id AND f.system = r.system AND f.decision = 'revoked'
ORDER BY t.system, t.group_name, t.user_login, t.group_id, t.user_id;
