-- diff-flipped: accesses decided in both reviews where the decision flipped (certified then revoked, or revoked then certified)
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
--
-- Read from the later review's accepted decisions: only the accesses of
-- the users they name are read on both sides (one pass over each review),
-- then joined on the Okta group and user ids.
WITH decided_users AS MATERIALIZED (
    SELECT DISTINCT system, user_id
    FROM b.decisions
    WHERE review = :to AND status = 'accepted' AND user_id <> ''
),
t AS MATERIALIZED (
    SELECT x.* FROM b.v_access x JOIN decided_users r ON r.user_id = x.user_id AND r.system = x.system
    WHERE x.review = :to AND x.user_id IN (SELECT user_id FROM decided_users) AND x.decision <> 'pending'
),
f AS MATERIALIZED (
    SELECT * FROM a.v_access
    WHERE review = :from AND user_id IN (SELECT user_id FROM t) AND decision <> 'pending'
)
SELECT 'flipped' AS change, t.system, t.group_name, t.user_login,
       'decision' AS item, f.decision AS from_value, t.decision AS to_value,
       f.decided_by || ' at ' || f.decided_at || ' -> ' || t.decided_by || ' at ' || t.decided_at AS detail,
       f.evidence_id AS from_evidence_id, t.evidence_id AS to_evidence_id
FROM t
JOIN f ON f.group_id = t.group_id AND f.user_id = t.user_id
WHERE t.decision <> f.decision
ORDER BY t.system, t.group_name, t.user_login, t.group_id, t.user_id;
