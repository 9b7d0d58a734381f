-- 0006_auditor: what the auditor's commands (report, diff) need to read a
-- review quickly and compare two reviews, possibly from two stores.
-- Forward-only: never edit once shipped.

-- v_access keeps DESIGN §6.4's columns first, in order, and 0004's
-- resolution rules: an accepted decision of the system's current pass
-- about the user (target = email, case-insensitive); one naming the group
-- beats one about all of the user's access in the system; among equals the
-- latest decided_at, then the highest id. It appends the membership's
-- Okta ids (stable across reviews and across stores of the same org, so
-- diff keys on them) and the id of the decision that stands (0 while
-- pending), so a report reads that decision's certify_all flag and
-- justification without resolving it a second way.
--
-- The lookup is written for speed at 500,000 accesses with a decision
-- each: the current pass is read once per access, then at most two seeks
-- in decisions_standing (the group's own decision, else the one about all
-- the user's access), each ordered by the index itself; 0004's form
-- filtered every candidate by pass and sorted per access.
CREATE INDEX decisions_standing ON decisions(review, system, pass_id, lower(target), status, group_name, decided_at, id);

DROP VIEW v_access;
CREATE VIEW v_access AS
SELECT c.review, g.system, g.name AS group_name, u.login AS user_login, u.email AS user_email,
       u.department, u.title, u.user_type, u.status AS user_status, u.last_login,
       CASE m.source WHEN 0 THEN 'direct' WHEN 1 THEN 'rule' ELSE 'app' END AS membership_source,
       CASE d.action WHEN 'REVOKE' THEN 'revoked' WHEN 'CERTIFY' THEN 'certified' ELSE 'pending' END AS decision,
       COALESCE(d.decided_by, '') AS decided_by,
       COALESCE(d.decided_at, '') AS decided_at,
       COALESCE(r.status, '') AS revocation_status,
       COALESCE(m.evidence_id, s.evidence_id) AS evidence_id,
       u.user_id, g.group_id, COALESCE(d.id, 0) AS decision_id
FROM v_current_snapshots c
JOIN snapshots s ON s.id = c.snapshot_id
JOIN snapshot_groups g ON g.snapshot_id = c.snapshot_id
-- CROSS JOIN fixes the order: a group, its members lists, their users. A
-- filter on the group (diff's changed groups) prunes before any list is
-- unpacked; 0005's order (lists first) could not.
CROSS JOIN snapshot_members m ON m.snapshot_id = g.snapshot_id AND m.group_no = g.no
CROSS JOIN json_each(m.users) j
CROSS JOIN snapshot_users u ON u.snapshot_id = m.snapshot_id AND u.no = j.value
LEFT JOIN decisions d ON d.id = (
    SELECT COALESCE(
        (SELECT x.id FROM decisions x
         WHERE x.review = c.review AND x.system = g.system AND x.pass_id = cp.pass_id
           AND lower(x.target) = lower(u.email) AND x.status = 'accepted' AND x.group_name = g.name
         ORDER BY x.decided_at DESC, x.id DESC LIMIT 1),
        (SELECT x.id FROM decisions x
         WHERE x.review = c.review AND x.system = g.system AND x.pass_id = cp.pass_id
           AND lower(x.target) = lower(u.email) AND x.status = 'accepted' AND x.group_name = ''
         ORDER BY x.decided_at DESC, x.id DESC LIMIT 1))
    FROM (SELECT COALESCE(
              (SELECT p.pass_id FROM decision_passes p WHERE p.review = c.review AND p.system = g.system ORDER BY p.id DESC LIMIT 1),
              (SELECT p.pass_id FROM decisions p WHERE p.review = c.review ORDER BY p.id DESC LIMIT 1)) AS pass_id) cp)
LEFT JOIN revocations r ON r.id = (
    SELECT max(x.id) FROM revocations x
    WHERE x.review = c.review AND x.group_id = g.group_id AND x.user_id = u.user_id);

-- Findings by user, for diff (new / resolved / persisting findings of one
-- user under one rule) and for the report's HIGH-finding figures; findings
-- is a view since 0005, so the index is on the table under it.
CREATE INDEX scoring_findings_user ON scoring_findings(scoring_id, user_id, kind, system, suppressed);

