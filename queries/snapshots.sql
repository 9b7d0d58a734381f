-- snapshots: every complete snapshot with its size and the ledger row that sealed it
SELECT s.id, s.review, s.source, s.system, s.run_id, s.taken_at, s.evidence_id,
       (SELECT count(*) FROM snapshot_users u WHERE u.snapshot_id = s.id) AS users,
       (SELECT count(*) FROM snapshot_groups g WHERE g.snapshot_id = s.id) AS groups,
       (SELECT count(*) FROM snapshot_memberships m WHERE m.snapshot_id = s.id) AS memberships
FROM snapshots s
ORDER BY s.id;
