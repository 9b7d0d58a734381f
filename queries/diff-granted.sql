-- diff-granted: accesses the later review has and the earlier one did not (keyed on the Okta group and user ids), with the user's attributes and the decision in the later review
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
WITH new AS (
    -- memberships of the later review's population the earlier one lacks
    -- (index-only: the population's primary key on both sides)
    SELECT m.group_id, m.user_id
    FROM b.v_current_snapshots c
    JOIN b.snapshot_memberships m ON m.snapshot_id = c.snapshot_id
    WHERE c.review = :to
      AND NOT EXISTS (
          SELECT 1
          FROM a.v_current_snapshots c2
          JOIN a.snapshot_memberships m2 ON m2.snapshot_id = c2.snapshot_id
          WHERE c2.review = :from AND m2.group_id = m.group_id AND m2.user_id = m.user_id)
)
SELECT 'granted' AS change, t.system, t.group_name, t.user_login,
       t.membership_source AS item, '' AS from_value, t.decision AS to_value,
       'department=' || t.department || '; title=' || t.title || '; user_type=' || t.user_type
           || '; status=' || t.user_status AS detail,
       '' AS from_evidence_id, t.evidence_id AS to_evidence_id
FROM new n
CROSS JOIN b.v_access t -- CROSS JOIN: look each new membership up, never scan the view
WHERE t.review = :to AND t.group_id = n.group_id AND t.user_id = n.user_id
ORDER BY t.system, t.group_name, t.user_login, t.group_id, t.user_id;
