-- 0003_reviewers: who may decide for each system, as resolved to Jira
-- accounts. Decisions are authorised by accountId (DESIGN §8): an owner
-- configured by email is resolved once (Jira user search) and recorded
-- here with the evidence of the lookup, so the authorisation an auditor
-- reads is the one uar applied. Forward-only: never edit once shipped.

CREATE TABLE reviewers (
    id           INTEGER PRIMARY KEY,
    review       TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    system       TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner','delegate','backup')),
    email        TEXT NOT NULL DEFAULT '',
    account_id   TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL CHECK (source IN ('config','jira')),
    evidence_id  TEXT NOT NULL
);
CREATE INDEX reviewers_review ON reviewers(review, system, role, id);
