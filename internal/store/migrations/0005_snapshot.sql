-- 0005_snapshot: lighter snapshot and findings storage, staged snapshots,
-- and the completeness record of every listing. Forward-only: never edit
-- once shipped.
--
-- What changes shape on purpose (the rows an auditor reads do not):
--   * snapshot_memberships becomes a view over snapshot_members, a
--     WITHOUT ROWID table holding each group's members as they were read:
--     one row per page (group number, part, source code) with the users'
--     numbers as a JSON array. No group or user id text, no source text
--     and no evidence id is repeated per membership, and a page costs one
--     row to write instead of a thousand (the view unpacks it, json_each);
--   * snapshot_groups and snapshot_users gain "no", the number members
--     refer to, lose their foreign key to snapshots (their rows are
--     written while a snapshot is still staged; evidence_id is filled in
--     when it is sealed) and become WITHOUT ROWID;
--   * findings becomes a view over scoring_findings, whose repeated text
--     lives once per scoring in finding_kinds (rule, risk, title,
--     recommendation, source) and finding_texts (each distinct detail
--     sentence and group list: a finding spanning several systems shares
--     its sentence with its siblings).
-- The views keep the old names, columns and values, so every query, view
-- and seal digest reads the same rows as before. Rows written before this
-- migration keep their evidence_id where it differs from their snapshot's
-- or scoring's (it never should), so nothing that verify would have
-- reported is lost in the conversion.

-- A snapshot being written: its groups, users and members are inserted
-- under this id while the pages arrive; the snapshots row (and with it
-- every view) appears only when the listing is complete and sealed. The
-- rows of a stage whose run did not finish are removed by the next
-- snapshot; verify reports them as staged, not as tampering.
CREATE TABLE snapshot_stages (
    id         INTEGER PRIMARY KEY,
    review     TEXT NOT NULL,
    source     TEXT NOT NULL,
    system     TEXT NOT NULL DEFAULT '',
    run_id     TEXT NOT NULL,
    file_name  TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL
);

DROP VIEW v_access;

CREATE TABLE snapshot_groups_0005 (
    snapshot_id  INTEGER NOT NULL,
    group_id     TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    type         TEXT NOT NULL,
    system       TEXT NOT NULL,
    role         TEXT NOT NULL,
    rule_managed INTEGER NOT NULL,
    evidence_id  TEXT NOT NULL DEFAULT '',  -- '' while staged
    no           INTEGER NOT NULL,       -- 1, 2, ... in group_id order within the snapshot
    PRIMARY KEY (snapshot_id, no),
    UNIQUE (snapshot_id, group_id)
) WITHOUT ROWID;
INSERT INTO snapshot_groups_0005 (snapshot_id, group_id, name, description, type, system, role, rule_managed, evidence_id, no)
SELECT snapshot_id, group_id, name, description, type, system, role, rule_managed, evidence_id,
       row_number() OVER (PARTITION BY snapshot_id ORDER BY group_id)
FROM snapshot_groups;

CREATE TABLE snapshot_users_0005 (
    snapshot_id     INTEGER NOT NULL,
    user_id         TEXT NOT NULL,
    login           TEXT NOT NULL,
    email           TEXT NOT NULL,
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    department      TEXT NOT NULL,
    title           TEXT NOT NULL,
    user_type       TEXT NOT NULL,
    employee_number TEXT NOT NULL,
    manager         TEXT NOT NULL,
    status          TEXT NOT NULL,
    created         TEXT NOT NULL,
    last_login      TEXT NOT NULL,
    origin          TEXT NOT NULL,
    evidence_id     TEXT NOT NULL DEFAULT '',  -- '' while staged
    no              INTEGER NOT NULL,    -- 1, 2, ... within the snapshot (in the order users were first met)
    PRIMARY KEY (snapshot_id, no),
    UNIQUE (snapshot_id, user_id)
) WITHOUT ROWID;
INSERT INTO snapshot_users_0005 (snapshot_id, user_id, login, email, first_name, last_name, department, title, user_type,
       employee_number, manager, status, created, last_login, origin, evidence_id, no)
SELECT snapshot_id, user_id, login, email, first_name, last_name, department, title, user_type,
       employee_number, manager, status, created, last_login, origin, evidence_id,
       row_number() OVER (PARTITION BY snapshot_id ORDER BY user_id)
FROM snapshot_users;

-- A group's members, as read: one row per page (part 1, 2, ...; a group
-- read again starts over), users as a JSON array of snapshot_users.no.
-- source: 0 direct, 1 rule, 2 app. evidence_id is NULL (the snapshot's)
-- except on rows written before 0005 that named another one (they keep
-- it, in parts of their own).
CREATE TABLE snapshot_members (
    snapshot_id INTEGER NOT NULL,
    group_no    INTEGER NOT NULL,
    part        INTEGER NOT NULL,
    source      INTEGER NOT NULL CHECK (source IN (0, 1, 2)),
    users       TEXT NOT NULL CHECK (json_valid(users) AND json_type(users) = 'array'),
    evidence_id TEXT,
    PRIMARY KEY (snapshot_id, group_no, part)
) WITHOUT ROWID;
INSERT INTO snapshot_members (snapshot_id, group_no, part, source, users, evidence_id)
SELECT snapshot_id, group_no, row_number() OVER (PARTITION BY snapshot_id, group_no ORDER BY source, evidence_id), source, users, evidence_id
FROM (SELECT m.snapshot_id, g.no AS group_no, CASE m.source WHEN 'direct' THEN 0 WHEN 'rule' THEN 1 ELSE 2 END AS source,
             NULLIF(m.evidence_id, s.evidence_id) AS evidence_id, json_group_array(u.no ORDER BY u.no) AS users
      FROM snapshot_memberships m
      JOIN snapshot_groups_0005 g ON g.snapshot_id = m.snapshot_id AND g.group_id = m.group_id
      JOIN snapshot_users_0005 u ON u.snapshot_id = m.snapshot_id AND u.user_id = m.user_id
      LEFT JOIN snapshots s ON s.id = m.snapshot_id
      GROUP BY m.snapshot_id, g.no, 3, 4);

DROP TABLE snapshot_memberships;
DROP TABLE snapshot_groups;
DROP TABLE snapshot_users;
ALTER TABLE snapshot_groups_0005 RENAME TO snapshot_groups;
ALTER TABLE snapshot_users_0005 RENAME TO snapshot_users;

-- The memberships as they always read: one row per group and user.
-- Unresolvable references read as NULL ids (and so fail their seal).
-- CROSS JOIN keeps SQLite's planner from looking users up before it has
-- unpacked the list that names them (it would scan all users per list).
CREATE VIEW snapshot_memberships AS
SELECT m.snapshot_id, g.group_id, u.user_id,
       CASE m.source WHEN 0 THEN 'direct' WHEN 1 THEN 'rule' ELSE 'app' END AS source,
       COALESCE(m.evidence_id, s.evidence_id, '') AS evidence_id
FROM snapshot_members m
CROSS JOIN json_each(m.users) j
LEFT JOIN snapshot_groups g ON g.snapshot_id = m.snapshot_id AND g.no = m.group_no
LEFT JOIN snapshot_users u ON u.snapshot_id = m.snapshot_id AND u.no = j.value
LEFT JOIN snapshots s ON s.id = m.snapshot_id;

-- v_access as in 0004, reading each group's members from their lists
-- (CROSS JOIN fixes the order: list, then its users).
CREATE VIEW v_access AS
SELECT c.review, g.system, g.name AS group_name, u.login AS user_login, u.email AS user_email,
       u.department, u.title, u.user_type, u.status AS user_status, u.last_login,
       CASE m.source WHEN 0 THEN 'direct' WHEN 1 THEN 'rule' ELSE 'app' END AS membership_source,
       CASE d.action WHEN 'REVOKE' THEN 'revoked' WHEN 'CERTIFY' THEN 'certified' ELSE 'pending' END AS decision,
       COALESCE(d.decided_by, '') AS decided_by,
       COALESCE(d.decided_at, '') AS decided_at,
       COALESCE(r.status, '') AS revocation_status,
       COALESCE(m.evidence_id, s.evidence_id) AS evidence_id
FROM v_current_snapshots c
JOIN snapshots s ON s.id = c.snapshot_id
JOIN snapshot_members m ON m.snapshot_id = c.snapshot_id
CROSS JOIN json_each(m.users) j
CROSS JOIN snapshot_users u ON u.snapshot_id = m.snapshot_id AND u.no = j.value
JOIN snapshot_groups g ON g.snapshot_id = m.snapshot_id AND g.no = m.group_no
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
    WHERE x.review = c.review AND x.group_id = g.group_id AND x.user_id = u.user_id);

-- Findings: what repeats lives once per scoring.
CREATE TABLE finding_kinds (
    scoring_id     INTEGER NOT NULL REFERENCES scorings(id),
    no             INTEGER NOT NULL,
    rule_id        TEXT NOT NULL,
    risk           TEXT NOT NULL CHECK (risk IN ('HIGH','MEDIUM','LOW')),
    title          TEXT NOT NULL,
    recommendation TEXT NOT NULL,
    source         TEXT NOT NULL CHECK (source IN ('rule','ai')),
    PRIMARY KEY (scoring_id, no)
) WITHOUT ROWID;

CREATE TABLE finding_texts (
    scoring_id INTEGER NOT NULL REFERENCES scorings(id),
    no         INTEGER NOT NULL,
    text       TEXT NOT NULL,
    PRIMARY KEY (scoring_id, no)
);

CREATE TABLE scoring_findings (
    scoring_id        INTEGER NOT NULL REFERENCES scorings(id),
    ordinal           INTEGER NOT NULL,
    kind              INTEGER NOT NULL,  -- finding_kinds.no
    system            TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    user_login        TEXT NOT NULL,
    groups_text       INTEGER NOT NULL,  -- finding_texts.no: the JSON array of group names
    detail_text       INTEGER NOT NULL,  -- finding_texts.no: the sentence
    suppressed        INTEGER NOT NULL DEFAULT 0,
    exception_by      TEXT NOT NULL DEFAULT '',
    exception_ticket  TEXT NOT NULL DEFAULT '',
    exception_expires TEXT NOT NULL DEFAULT '',
    exception_reason  TEXT NOT NULL DEFAULT '',
    evidence_id       TEXT,              -- NULL: the scoring's (set only as snapshot_members.evidence_id is)
    PRIMARY KEY (scoring_id, ordinal)
) WITHOUT ROWID;

INSERT INTO finding_kinds (scoring_id, no, rule_id, risk, title, recommendation, source)
SELECT scoring_id, row_number() OVER (PARTITION BY scoring_id ORDER BY first), rule_id, risk, title, recommendation, source
FROM (SELECT scoring_id, rule_id, risk, title, recommendation, source, min(ordinal) AS first
      FROM findings GROUP BY scoring_id, rule_id, risk, title, recommendation, source);

INSERT INTO finding_texts (scoring_id, no, text)
SELECT scoring_id, row_number() OVER (PARTITION BY scoring_id ORDER BY first), text
FROM (SELECT scoring_id, text, min(o) AS first
      FROM (SELECT scoring_id, groups AS text, 2 * ordinal AS o FROM findings
            UNION ALL
            SELECT scoring_id, detail AS text, 2 * ordinal + 1 AS o FROM findings)
      GROUP BY scoring_id, text);

CREATE INDEX finding_texts_0005 ON finding_texts(scoring_id, text);
INSERT INTO scoring_findings (scoring_id, ordinal, kind, system, user_id, user_login, groups_text, detail_text, suppressed,
       exception_by, exception_ticket, exception_expires, exception_reason, evidence_id)
SELECT f.scoring_id, f.ordinal, k.no, f.system, f.user_id, f.user_login, g.no, d.no, f.suppressed,
       f.exception_by, f.exception_ticket, f.exception_expires, f.exception_reason, NULLIF(f.evidence_id, s.evidence_id)
FROM findings f
JOIN finding_kinds k ON k.scoring_id = f.scoring_id AND k.rule_id = f.rule_id AND k.risk = f.risk AND k.title = f.title
     AND k.recommendation = f.recommendation AND k.source = f.source
JOIN finding_texts g ON g.scoring_id = f.scoring_id AND g.text = f.groups
JOIN finding_texts d ON d.scoring_id = f.scoring_id AND d.text = f.detail
LEFT JOIN scorings s ON s.id = f.scoring_id;
DROP INDEX finding_texts_0005;

DROP TABLE findings;

-- The findings as they always read (v_findings and the named queries
-- select from this). Unresolvable references read as NULL.
CREATE VIEW findings AS
SELECT f.scoring_id, f.ordinal, k.rule_id, k.risk, f.system, f.user_id, f.user_login, g.text AS "groups",
       k.title, d.text AS detail, k.recommendation, k.source, f.suppressed,
       f.exception_by, f.exception_ticket, f.exception_expires, f.exception_reason,
       COALESCE(f.evidence_id, s.evidence_id, '') AS evidence_id
FROM scoring_findings f
LEFT JOIN finding_kinds k ON k.scoring_id = f.scoring_id AND k.no = f.kind
LEFT JOIN finding_texts g ON g.scoring_id = f.scoring_id AND g.no = f.groups_text
LEFT JOIN finding_texts d ON d.scoring_id = f.scoring_id AND d.no = f.detail_text
LEFT JOIN scorings s ON s.id = f.scoring_id;

-- Completeness (issue "A population auditors can trust"): one row per
-- listing a snapshot was built from. For an Okta group's members,
-- independent_count is Okta's own usersCount (GET /api/v1/groups with
-- expand=stats) and status compares it with the distinct members paged;
-- for an import, the file's facts. Sealed with the snapshot.
CREATE TABLE snapshot_listings (
    snapshot_id       INTEGER NOT NULL,
    no                INTEGER NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('rules','groups','members','import')),
    group_id          TEXT NOT NULL DEFAULT '',
    group_name        TEXT NOT NULL DEFAULT '',
    query_text        TEXT NOT NULL,          -- method and URL of the first page (or "read <file>")
    query_params      TEXT NOT NULL,          -- canonical JSON
    pages             INTEGER NOT NULL,
    paged_count       INTEGER NOT NULL,       -- distinct rows listed (import: data rows)
    independent_count INTEGER,                -- Okta's usersCount; NULL when there is none to compare
    status            TEXT NOT NULL CHECK (status IN ('complete','gap','unchecked','stale')),
    reread            INTEGER NOT NULL DEFAULT 0,
    count_evidence_id TEXT NOT NULL DEFAULT '',  -- the row carrying independent_count
    page_evidence_ids TEXT NOT NULL DEFAULT '[]', -- JSON array of the pages' ledger ids, in order
    file_sha256       TEXT NOT NULL DEFAULT '',
    file_header       TEXT NOT NULL DEFAULT '',
    exported_at       TEXT NOT NULL DEFAULT '',
    exported_at_from  TEXT NOT NULL DEFAULT '',  -- flag (--exported-at) or mtime (the file's modification time)
    PRIMARY KEY (snapshot_id, no)
);

-- A gap (or a stale import) accepted explicitly (--accept-gap "reason"),
-- with who accepted it; score and publish refuse a snapshot with a gap
-- that has none.
CREATE TABLE gap_acceptances (
    id          INTEGER PRIMARY KEY,
    snapshot_id INTEGER NOT NULL,
    run_id      TEXT NOT NULL,
    command     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    listings    TEXT NOT NULL,              -- JSON: the listings accepted (no, group, counts, status)
    evidence_id TEXT NOT NULL
);
CREATE INDEX gap_acceptances_snapshot ON gap_acceptances(snapshot_id, id);
