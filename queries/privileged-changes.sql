-- privileged-changes: privileged accesses (a group whose name or role contains "admin") granted or removed between consecutive snapshots taken in a period, across reviews: each snapshot taken in the period is compared with the one before it from the same source (the first snapshot of a source has nothing to compare with)
-- param: since the period's first day, e.g. 2026-10-01 (inclusive; empty: from the start)
-- param: until the day after the period, e.g. 2027-01-01 (exclusive; empty: up to now)
WITH pairs AS (
    SELECT s.id AS snapshot_id, s.review, s.taken_at, s.evidence_id,
           (SELECT max(p.id) FROM snapshots p
            WHERE p.id < s.id AND p.source = s.source AND p.system = s.system) AS previous_id
    FROM snapshots s
    WHERE (:since = '' OR s.taken_at >= :since) AND (:until = '' OR s.taken_at < :until)
),
changes AS (
    SELECT 'granted' AS change, pr.review, pr.taken_at, m.snapshot_id, m.group_id, m.user_id, pr.evidence_id
    FROM pairs pr
    JOIN snapshot_memberships m ON m.snapshot_id = pr.snapshot_id
    JOIN snapshot_groups g ON g.snapshot_id = m.snapshot_id AND g.group_id = m.group_id
    WHERE pr.previous_id IS NOT NULL AND (g.name LIKE '%admin%' OR g.role LIKE '%admin%')
      AND NOT EXISTS (SELECT 1 FROM snapshot_memberships o
                      WHERE o.snapshot_id = pr.previous_id AND o.group_id = m.group_id AND o.user_id = m.user_id)
    UNION ALL
    SELECT 'removed', pr.review, pr.taken_at, o.snapshot_id, o.group_id, o.user_id, pr.evidence_id
    FROM pairs pr
    JOIN snapshot_memberships o ON o.snapshot_id = pr.previous_id
    JOIN snapshot_groups g ON g.snapshot_id = o.snapshot_id AND g.group_id = o.group_id
    WHERE (g.name LIKE '%admin%' OR g.role LIKE '%admin%')
      AND NOT EXISTS (SELECT 1 FROM snapshot_memberships m
                      WHERE m.snapshot_id = pr.snapshot_id AND m.group_id = o.group_id AND m.user_id = o.user_id)
)
SELECT c.taken_at, c.review, c.change, g.system, g.name AS group_name, u.login AS user_login,
       u.department, u.title, u.user_type, u.status AS user_status, c.evidence_id
FROM changes c
JOIN snapshot_groups g ON g.snapshot_id = c.snapshot_id AND g.group_id = c.group_id
JOIN snapshot_users u ON u.snapshot_id = c.snapshot_id AND u.user_id = c.user_id
ORDER BY c.taken_at, c.review, g.system, g.name, u.login, c.change, c.group_id, c.user_id;
