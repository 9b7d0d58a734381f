-- diff-flipped: accesses decided in both reviews where the decision flipped (certified then revoked, or revoked then certified)
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
--
-- Read from the later review's accepted decisions: each decided user's
-- accesses are looked up by user id on both sides.
WITH decided_users AS (
    SELECT DISTINCT system, user_id
    FROM b.decisions
    WHERE review = :to AND status = 'accepted' AND user_id <> ''
)
SELECT 'flipped' AS change, t.system, t.group_name, t.user_login,
       'decision' AS item, f.decision AS from_value, t.decision AS to_value,
       f.decided_by || ' at ' || f.decided_at || ' -> ' || t.decided_by || ' at ' || t.decided_at AS detail,
       f.evidence_id AS from_evidence_id, t.evidence_id AS to_evidence_id
FROM decided_users r
CROSS JOIN b.v_access t
JOIN a.v_access f ON f.review = :from AND f.group_id = t.group_id AND f.user_id = t.user_id
WHERE t.review = :to AND t.user_id = r.user_id AND t.system = r.system
  AND t.decision <> 'pending' AND f.decision <> 'pending' AND t.decision <> f.decision
ORDER BY t.system, t.group_name, t.user_login, t.group_id, t.user_id;
