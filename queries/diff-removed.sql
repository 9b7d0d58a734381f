-- diff-removed: accesses the earlier review had and the later one does not, with the earlier review's decision and revocation: removed after an accepted REVOKE, or removed outside the review
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
WITH gone AS (
    -- memberships of the earlier review's population the later one lacks
    -- (index-only: the population's primary key on both sides)
    SELECT m.group_id, m.user_id
    FROM a.v_current_snapshots c
    JOIN a.snapshot_memberships m ON m.snapshot_id = c.snapshot_id
    WHERE c.review = :from
      AND NOT EXISTS (
          SELECT 1
          FROM b.v_current_snapshots c2
          JOIN b.snapshot_memberships m2 ON m2.snapshot_id = c2.snapshot_id
          WHERE c2.review = :to AND m2.group_id = m.group_id AND m2.user_id = m.user_id)
)
SELECT 'removed' AS change, f.system, f.group_name, f.user_login,
       f.membership_source AS item, f.decision AS from_value, '' AS to_value,
       CASE WHEN f.decision = 'revoked'
            THEN 'revoked by ' || f.decided_by || ' at ' || f.decided_at || '; revocation '
                 || COALESCE(NULLIF(f.revocation_status, ''), 'not executed')
            ELSE 'removed outside the review (no revoke decision)'
       END AS detail,
       f.evidence_id AS from_evidence_id, '' AS to_evidence_id
FROM gone x
CROSS JOIN a.v_access f -- CROSS JOIN: look each removed membership up, never scan the view
WHERE f.review = :from AND f.group_id = x.group_id AND f.user_id = x.user_id
ORDER BY f.system, f.group_name, f.user_login, f.group_id, f.user_id;
