-- 0001_init: the evidence ledger, blobs, runs, and the derived tables of a review.
-- Forward-only: never edit this file once shipped; add a new migration instead.

CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    command      TEXT NOT NULL,
    args         TEXT NOT NULL,          -- JSON array, secrets redacted
    review       TEXT NOT NULL DEFAULT '',
    tool_version TEXT NOT NULL,
    actor        TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   TEXT NOT NULL,          -- UTC RFC 3339
    finished_at  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('running','ok','failed','interrupted')),
    error        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_status ON runs(status);

-- The ledger: append-only, hash-chained (DESIGN §6.1).
CREATE TABLE evidence (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    run_id           TEXT NOT NULL,
    review           TEXT NOT NULL DEFAULT '',
    kind             TEXT NOT NULL CHECK (kind IN ('call','derive','file')),
    source_system    TEXT NOT NULL,
    query_name       TEXT NOT NULL,
    query_text       TEXT NOT NULL,
    query_params     TEXT NOT NULL,      -- canonical JSON
    executed_at      TEXT NOT NULL,
    source_time      TEXT NOT NULL DEFAULT '',
    executed_by      TEXT NOT NULL,
    result_row_count INTEGER NOT NULL,
    result_hash      TEXT NOT NULL,
    blob_hash        TEXT NOT NULL DEFAULT '',
    prev_hash        TEXT NOT NULL UNIQUE,  -- a second child of one row would fork the chain
    entry_hash       TEXT NOT NULL UNIQUE
);
CREATE INDEX evidence_run ON evidence(run_id);
CREATE INDEX evidence_review_name ON evidence(review, query_name);

CREATE TRIGGER evidence_no_update BEFORE UPDATE ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END;
CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END;

-- Raw bytes, content-addressed by the sha256 of the uncompressed data.
CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    data BLOB NOT NULL                   -- zstd
);
CREATE TRIGGER blobs_no_update BEFORE UPDATE ON blobs
BEGIN SELECT RAISE(ABORT, 'blobs are append-only'); END;
CREATE TRIGGER blobs_no_delete BEFORE DELETE ON blobs
BEGIN SELECT RAISE(ABORT, 'blobs are append-only'); END;

-- A snapshot row exists only once the snapshot is complete; the pages it
-- was parsed from are ledger rows of the same run either way.
CREATE TABLE snapshots (
    id           INTEGER PRIMARY KEY,
    review       TEXT NOT NULL,
    source       TEXT NOT NULL,          -- 'okta' or 'import'
    system       TEXT NOT NULL DEFAULT '', -- for imports
    run_id       TEXT NOT NULL,
    taken_at     TEXT NOT NULL,
    file_name    TEXT NOT NULL DEFAULT '',
    evidence_id  TEXT NOT NULL
);
CREATE INDEX snapshots_review ON snapshots(review, source, system, id);

CREATE TABLE snapshot_groups (
    snapshot_id  INTEGER NOT NULL REFERENCES snapshots(id),
    group_id     TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    type         TEXT NOT NULL,
    system       TEXT NOT NULL,
    role         TEXT NOT NULL,
    rule_managed INTEGER NOT NULL,
    evidence_id  TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, group_id)
);

CREATE TABLE snapshot_users (
    snapshot_id     INTEGER NOT NULL REFERENCES snapshots(id),
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
    evidence_id     TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, user_id)
);

CREATE TABLE snapshot_memberships (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
    group_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('direct','rule','app')),
    evidence_id TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, group_id, user_id)
);
CREATE INDEX snapshot_memberships_user ON snapshot_memberships(snapshot_id, user_id);

-- One scoring pass over a review's current snapshot(s).
CREATE TABLE scorings (
    id           INTEGER PRIMARY KEY,
    review       TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    snapshot_ids TEXT NOT NULL,          -- JSON array
    policy_hash  TEXT NOT NULL,
    as_of        TEXT NOT NULL,
    ai           INTEGER NOT NULL DEFAULT 0,
    evidence_id  TEXT NOT NULL
);

CREATE TABLE findings (
    scoring_id        INTEGER NOT NULL REFERENCES scorings(id),
    ordinal           INTEGER NOT NULL,
    rule_id           TEXT NOT NULL,
    risk              TEXT NOT NULL CHECK (risk IN ('HIGH','MEDIUM','LOW')),
    system            TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    user_login        TEXT NOT NULL,
    groups            TEXT NOT NULL,     -- JSON array of group names
    title             TEXT NOT NULL,
    detail            TEXT NOT NULL,
    recommendation    TEXT NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('rule','ai')),
    suppressed        INTEGER NOT NULL DEFAULT 0,
    exception_by      TEXT NOT NULL DEFAULT '',
    exception_ticket  TEXT NOT NULL DEFAULT '',
    exception_expires TEXT NOT NULL DEFAULT '',
    exception_reason  TEXT NOT NULL DEFAULT '',
    evidence_id       TEXT NOT NULL,
    PRIMARY KEY (scoring_id, ordinal)
);

CREATE TABLE system_risks (
    scoring_id  INTEGER NOT NULL REFERENCES scorings(id),
    system      TEXT NOT NULL,
    risk        TEXT NOT NULL,
    high        INTEGER NOT NULL,
    medium      INTEGER NOT NULL,
    low         INTEGER NOT NULL,
    evidence_id TEXT NOT NULL,
    PRIMARY KEY (scoring_id, system)
);

-- What publish created or updated; append-only, the latest row per
-- (review, service, kind, system) is current.
CREATE TABLE publications (
    id           INTEGER PRIMARY KEY,
    review       TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    service      TEXT NOT NULL CHECK (service IN ('confluence','jira','slack')),
    kind         TEXT NOT NULL,          -- page, child_page, ticket, message
    system       TEXT NOT NULL DEFAULT '',
    action       TEXT NOT NULL,          -- created, updated
    external_id  TEXT NOT NULL,
    external_key TEXT NOT NULL DEFAULT '',
    url          TEXT NOT NULL DEFAULT '',
    version      INTEGER NOT NULL DEFAULT 0,
    service_time TEXT NOT NULL DEFAULT '', -- the service's own timestamp
    evidence_id  TEXT NOT NULL
);
CREATE INDEX publications_current ON publications(review, service, kind, system, id);

CREATE TABLE decisions (
    id              INTEGER PRIMARY KEY,
    review          TEXT NOT NULL,
    pass_id         TEXT NOT NULL,
    system          TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('CERTIFY','REVOKE','')),
    target          TEXT NOT NULL,
    group_name      TEXT NOT NULL DEFAULT '',
    decided_by      TEXT NOT NULL,
    decided_at      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('accepted','rejected','superseded')),
    reason          TEXT NOT NULL DEFAULT '',
    jira_key        TEXT NOT NULL DEFAULT '',
    comment_id      TEXT NOT NULL DEFAULT '',
    comment_updated TEXT NOT NULL DEFAULT '',
    edited          INTEGER NOT NULL DEFAULT 0,
    line            TEXT NOT NULL DEFAULT '',
    evidence_id     TEXT NOT NULL
);
CREATE INDEX decisions_review ON decisions(review, pass_id);
CREATE INDEX decisions_review_id ON decisions(review, id);
CREATE INDEX decisions_lookup ON decisions(review, system, lower(target), status);

CREATE TABLE revocations (
    id              INTEGER PRIMARY KEY,
    review          TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    system          TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    user_login      TEXT NOT NULL,
    group_id        TEXT NOT NULL,
    group_name      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('planned','done','already_absent','failed','skipped')),
    reason          TEXT NOT NULL DEFAULT '',
    requested_by    TEXT NOT NULL DEFAULT '',
    executed_at     TEXT NOT NULL DEFAULT '',
    verified_at     TEXT NOT NULL DEFAULT '',
    okta_request_id TEXT NOT NULL DEFAULT '',
    evidence_id     TEXT NOT NULL
);
CREATE INDEX revocations_membership ON revocations(review, group_id, user_id, id);

-- Auditor views (DESIGN §6.4): a stable contract.
CREATE VIEW v_evidence AS
SELECT seq, id, run_id, source_system, query_name, query_text, executed_at, source_time,
       result_row_count, result_hash, entry_hash
FROM evidence;

-- The current population of a review: its latest complete Okta snapshot
-- plus, per imported system, its latest complete import.
CREATE VIEW v_current_snapshots AS
SELECT s.id AS snapshot_id, s.review, s.source, s.system
FROM snapshots s
WHERE s.id = (SELECT max(s2.id) FROM snapshots s2
              WHERE s2.review = s.review AND s2.source = s.source AND s2.system = s.system);

-- The latest decisions pass of each review.
CREATE VIEW v_current_decisions AS
SELECT d.* FROM decisions d
WHERE d.pass_id = (SELECT x.pass_id FROM decisions x WHERE x.review = d.review ORDER BY x.id DESC LIMIT 1);

-- The latest revocation row of each membership.
CREATE VIEW v_latest_revocations AS
SELECT r.* FROM revocations r
WHERE r.id = (SELECT max(x.id) FROM revocations x
              WHERE x.review = r.review AND x.group_id = r.group_id AND x.user_id = r.user_id);

-- The decision that stands for a membership: an accepted decision of the
-- review's latest pass about that user in that system; one naming the group
-- beats one about all of the user's access in the system (DESIGN §8), then
-- the latest by decided_at and id. A decision's target is matched
-- case-insensitively with the user's email (the decisions pass records the
-- snapshot's email for an address given as a login). Written as indexed
-- lookups per membership so the view stays fast at 500,000 rows.
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
      AND x.pass_id = (SELECT p.pass_id FROM decisions p WHERE p.review = c.review ORDER BY p.id DESC LIMIT 1)
    ORDER BY x.group_name = '', x.decided_at DESC, x.id DESC LIMIT 1)
LEFT JOIN revocations r ON r.id = (
    SELECT max(x.id) FROM revocations x
    WHERE x.review = c.review AND x.group_id = m.group_id AND x.user_id = m.user_id);

CREATE VIEW v_current_scorings AS
SELECT s.* FROM scorings s
WHERE s.id = (SELECT max(s2.id) FROM scorings s2 WHERE s2.review = s.review);

CREATE VIEW v_findings AS
SELECT s.review, f.rule_id, f.risk, f.system, f.user_login,
       (SELECT group_concat(value, ', ') FROM json_each(f.groups)) AS group_name,
       f.title, f.detail, f.source, f.evidence_id
FROM v_current_scorings s
JOIN findings f ON f.scoring_id = s.id
WHERE f.suppressed = 0;

CREATE VIEW v_decisions AS
SELECT review, system, action, target, group_name, decided_by, decided_at, status, reason,
       jira_key, comment_id, evidence_id
FROM v_current_decisions;

CREATE VIEW v_revocations AS
SELECT review, system, user_login, group_name, status, requested_by, executed_at, verified_at,
       okta_request_id, evidence_id
FROM v_latest_revocations;
