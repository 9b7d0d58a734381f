-- diff-granted: accesses the later review has and the earlier one did not (keyed on the Okta group and user ids), with the user's attributes and the decision in the later review
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
new AS MATERIALIZED (
    SELECT group_id, user_id FROM later EXCEPT SELECT group_id, user_id FROM earlier
),
t AS MATERIALIZED (
    SELECT * FROM b.v_access WHERE review = :to AND group_id IN (SELECT group_id FROM new)
)
SELECT 'granted' AS change, t.system, t.group_name, t.user_login,
       t.membership_source AS item, '' AS from_value, t.decision AS to_value,
       'department=' || t.department || '; title=' || t.title || '; user_type=' || t.user_type
           || '; status=' || t.user_status AS detail,
       '' AS from_evidence_id, t.evidence_id AS to_evidence_id
FROM new n
JOIN t ON t.group_id = n.group_id AND t.user_id = n.user_id
ORDER BY t.system, t.group_name, t.user_login, t.group_id, t.user_id;
