-- population: the review's current population per system: groups with members, distinct users, accesses (memberships), and when the snapshot it comes from was taken
-- param: review the review label, e.g. 2026-Q4
SELECT c.review, g.system, count(DISTINCT m.group_id) AS groups, count(DISTINCT m.user_id) AS users,
       count(*) AS accesses, max(s.taken_at) AS taken_at, max(s.evidence_id) AS evidence_id
FROM v_current_snapshots c
JOIN snapshots s ON s.id = c.snapshot_id
JOIN snapshot_memberships m ON m.snapshot_id = c.snapshot_id
JOIN snapshot_groups g ON g.snapshot_id = m.snapshot_id AND g.group_id = m.group_id
WHERE c.review = :review
GROUP BY c.review, g.system
ORDER BY g.system;
