-- diff-attributes: users in both reviews whose department, title, status or user type changed (keyed on the Okta user id; one row per attribute)
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
WITH attributes(item) AS (VALUES ('department'), ('title'), ('status'), ('user_type')),
later AS (
    SELECT u.* FROM b.v_current_snapshots c JOIN b.snapshot_users u ON u.snapshot_id = c.snapshot_id
    WHERE c.review = :to
),
pairs AS (
    SELECT t.user_id, t.login, k.item,
           CASE k.item WHEN 'department' THEN e.department WHEN 'title' THEN e.title
                       WHEN 'status' THEN e.status ELSE e.user_type END AS from_value,
           CASE k.item WHEN 'department' THEN t.department WHEN 'title' THEN t.title
                       WHEN 'status' THEN t.status ELSE t.user_type END AS to_value,
           e.evidence_id AS from_evidence_id, t.evidence_id AS to_evidence_id
    FROM later t
    JOIN a.v_current_snapshots c ON c.review = :from
    JOIN a.snapshot_users e ON e.snapshot_id = c.snapshot_id AND e.user_id = t.user_id
    CROSS JOIN attributes k
)
SELECT 'attribute' AS change, '' AS system, '' AS group_name, login AS user_login,
       item, from_value, to_value, '' AS detail, from_evidence_id, to_evidence_id
FROM pairs
WHERE from_value IS NOT to_value
ORDER BY login, user_id, item, from_evidence_id, to_evidence_id;
