-- diff-removed: accesses the earlier review had and the later one does not, with the earlier review's decision and revocation: removed after an accepted REVOKE, or removed outside the review
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
--
-- Set-wise, for any number of changes: both populations' keys are read
-- once and compared (EXCEPT), then v_access is read only for the groups
-- that changed and joined on the keys. Probing the views row by row would
-- unpack a group's members lists for every row.
WITH later AS MATERIALIZED (
    SELECT m.group_id, m.user_id
    FROM b.v_current_snapshots c
    JOIN b.snapshot_memberships m ON m.snapshot_id = c.snapshot_id
    WHERE c.review = :to
),
earlier AS MATERIALIZED (
    SELECT m.group_id, m.user_id
    FROM a.v_current_snapshots c
    JOIN a.snapshot_memberships m ON m.snapshot_id = c.snapshot_id
    WHERE c.review = :from
),
gone AS MATERIALIZED (
    SELECT group_id, user_id FROM earlier EXCEPT SELECT group_id, user_id FROM later
),
f AS MATERIALIZED (
    SELECT * FROM a.v_access WHERE review = :from AND group_id IN (SELECT group_id FROM gone)
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
JOIN f ON f.group_id = x.group_id AND f.user_id = x.user_id
ORDER BY f.system, f.group_name, f.user_login, f.group_id, f.user_id;
