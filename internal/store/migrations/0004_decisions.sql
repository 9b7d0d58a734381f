-- 0004_decisions: the owners' decisions and the revocations they drive
-- (DESIGN §8, §9), as parse-decisions and revoke record them.
-- Forward-only: never edit once shipped.

-- One row per decision line per access it resolves to (an accepted or
-- superseded line about several memberships is expanded, so every access
-- has at most one accepted row); a rejected or malformed line is one row
-- with the target as written. The new columns carry the evidence an
-- auditor asks for: who the author was, when they wrote it, what they
-- wrote, and why it stands or not.
ALTER TABLE decisions ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN group_id TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN decided_by_name TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN decided_by_email TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN justification TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN source TEXT NOT NULL DEFAULT 'jira';
ALTER TABLE decisions ADD COLUMN certify_all INTEGER NOT NULL DEFAULT 0;
ALTER TABLE decisions ADD COLUMN reviewer_role TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN reviewer_admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE decisions ADD COLUMN line_no INTEGER NOT NULL DEFAULT 0;
CREATE INDEX decisions_user ON decisions(review, system, user_id, status);

-- A decisions pass reads one system's ticket (or CSV rows) completely; the
-- latest pass per review and system is current, even when it found no
-- decision at all (a deleted comment no longer counts).
CREATE TABLE decision_passes (
    id          INTEGER PRIMARY KEY,
    review      TEXT NOT NULL,
    pass_id     TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    system      TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('jira','csv')),
    jira_key    TEXT NOT NULL DEFAULT '',
    comments    INTEGER NOT NULL,
    lines       INTEGER NOT NULL,
    evidence_id TEXT NOT NULL,
    UNIQUE (pass_id, system)
);
CREATE INDEX decision_passes_current ON decision_passes(review, system, id);

-- What revoke did for one membership, with its proof.
ALTER TABLE revocations ADD COLUMN decision_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE revocations ADD COLUMN decided_at TEXT NOT NULL DEFAULT '';
ALTER TABLE revocations ADD COLUMN jira_key TEXT NOT NULL DEFAULT '';
ALTER TABLE revocations ADD COLUMN comment_id TEXT NOT NULL DEFAULT '';
ALTER TABLE revocations ADD COLUMN membership_source TEXT NOT NULL DEFAULT '';
ALTER TABLE revocations ADD COLUMN log_event_id TEXT NOT NULL DEFAULT '';
ALTER TABLE revocations ADD COLUMN log_event_time TEXT NOT NULL DEFAULT '';
ALTER TABLE revocations ADD COLUMN latency_seconds INTEGER NOT NULL DEFAULT 0;

-- The current decisions: the latest pass of each review and system (or,
-- for rows written before passes were recorded, the review's latest pass).
DROP VIEW v_decisions;
DROP VIEW v_current_decisions;
CREATE VIEW v_current_decisions AS
SELECT d.* FROM decisions d
WHERE d.pass_id = COALESCE(
    (SELECT p.pass_id FROM decision_passes p WHERE p.review = d.review AND p.system = d.system ORDER BY p.id DESC LIMIT 1),
    (SELECT x.pass_id FROM decisions x WHERE x.review = d.review ORDER BY x.id DESC LIMIT 1));

-- v_decisions keeps DESIGN §6.4's columns first, in order; what follows
-- was added with the decisions loop.
CREATE VIEW v_decisions AS
SELECT review, system, action, target, group_name, decided_by, decided_at, status, reason,
       jira_key, comment_id, evidence_id,
       decided_by_name, decided_by_email, justification, source, certify_all, reviewer_role, reviewer_admin,
       edited, comment_updated, line
FROM v_current_decisions;

DROP VIEW v_access;
CREATE VIEW v_access AS
SELECT c.review, g.system, g.name AS group_name, u.login AS user_login, u.email AS user_email,
       u.department, u.title, u.user_type, u.status AS user_status, u.last_login,
       m.source AS membership_source,
       CASE d.action WHEN 'REVOKE' THEN 'revoked' WHEN 'CERTIFY' THEN 'certified' ELSE 'pending' END AS decision,
       COALESCE(d.decided_by, '') AS decided_by,
       COALESCE(d.decided_at, '') AS decided_at,
       COALESCE(r.status, '') AS revocation_status,
       m.evidence_id
FROM v_current_snapshots c
JOIN snapshot_memberships m ON m.snapshot_id = c.snapshot_id
JOIN snapshot_groups g ON g.snapshot_id = m.snapshot_id AND g.group_id = m.group_id
JOIN snapshot_users u ON u.snapshot_id = m.snapshot_id AND u.user_id = m.user_id
LEFT JOIN decisions d ON d.id = (
    SELECT x.id FROM decisions x
    WHERE x.review = c.review AND x.system = g.system AND lower(x.target) = lower(u.email)
      AND x.status = 'accepted' AND x.group_name IN (g.name, '')
      AND x.pass_id = COALESCE(
          (SELECT p.pass_id FROM decision_passes p WHERE p.review = c.review AND p.system = g.system ORDER BY p.id DESC LIMIT 1),
          (SELECT p.pass_id FROM decisions p WHERE p.review = c.review ORDER BY p.id DESC LIMIT 1))
    ORDER BY x.group_name = '', x.decided_at DESC, x.id DESC LIMIT 1)
LEFT JOIN revocations r ON r.id = (
    SELECT max(x.id) FROM revocations x
    WHERE x.review = c.review AND x.group_id = m.group_id AND x.user_id = m.user_id);

-- v_revocations keeps DESIGN §6.4's columns first, in order.
DROP VIEW v_revocations;
CREATE VIEW v_revocations AS
SELECT review, system, user_login, group_name, status, requested_by, executed_at, verified_at,
       okta_request_id, evidence_id,
       reason, decided_at, latency_seconds, jira_key, comment_id, membership_source, log_event_id, log_event_time
FROM v_latest_revocations;
