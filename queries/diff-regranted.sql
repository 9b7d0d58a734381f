-- diff-regranted: accesses revoked in the earlier review (the decision that stands is REVOKE) and present again in the later one; the revocation status says whether the removal had been proven (done, already_absent) or never happened
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
--
-- Read from the earlier review's REVOKE decisions: only the accesses of
-- the users they name are read (one pass over each review, the decision
-- resolved for those rows alone), and the decision that stands for each is
-- v_access's, so a later CERTIFY of one group still wins over a REVOKE of
-- all the user's access.
WITH revoked_users AS MATERIALIZED (
    SELECT DISTINCT system, user_id
    FROM a.decisions
    WHERE review = :from AND action = 'REVOKE' AND status = 'accepted' AND user_id <> ''
),
f AS MATERIALIZED (
    SELECT * FROM a.v_access
    WHERE review = :from AND user_id IN (SELECT user_id FROM revoked_users)
),
revoked AS MATERIALIZED (
    SELECT f.* FROM f JOIN revoked_users r ON r.user_id = f.user_id AND r.system = f.system
    WHERE f.decision = 'revoked'
),
t AS MATERIALIZED (
    SELECT * FROM b.v_access
    WHERE review = :to AND user_id IN (SELECT user_id FROM revoked)
)
SELECT 'regranted' AS change, t.system, t.group_name, t.user_login,
       'access' AS item,
       'revoked' || CASE WHEN f.revocation_status <> '' THEN ' (' || f.revocation_status || ')' ELSE ' (not executed)' END AS from_value,
       'present (' || t.decision || ')' AS to_value,
       'revoked by ' || f.decided_by || ' at ' || f.decided_at || '; membership_source=' || t.membership_source AS detail,
       f.evidence_id AS from_evidence_id, t.evidence_id AS to_evidence_id
FROM revoked f
JOIN t ON t.group_id = f.group_id AND t.user_id = f.user_id
ORDER BY t.system, t.group_name, t.user_login, t.group_id, t.user_id;
