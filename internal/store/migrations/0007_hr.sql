-- 0007_hr: the HR listing of a review (uar snapshot --import FILE --kind hr):
-- who HR says works here, who left and when, and where each person sits.
-- The file itself is a blob named by file_evidence_id; these rows are
-- derived from it and sealed by a "snapshot.hr" derive row (evidence_id).
-- A review has one current listing: its latest.
-- Forward-only: never edit once shipped.

CREATE TABLE hr_listings (
    id               INTEGER PRIMARY KEY,
    review           TEXT NOT NULL,
    run_id           TEXT NOT NULL,
    taken_at         TEXT NOT NULL,          -- UTC RFC 3339, when it was imported
    file_name        TEXT NOT NULL,
    file_evidence_id TEXT NOT NULL,          -- the ledger row that keeps the file
    evidence_id      TEXT NOT NULL
);
CREATE INDEX hr_listings_review ON hr_listings(review, id);

CREATE TABLE hr_records (
    listing_id       INTEGER NOT NULL REFERENCES hr_listings(id),
    ordinal          INTEGER NOT NULL,       -- 1-based, in file order
    line             INTEGER NOT NULL,       -- the row's line in the file
    email            TEXT NOT NULL,          -- lower case; '' when only employee_id was given
    employee_id      TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active','terminated','leave')),
    termination_date TEXT NOT NULL,          -- YYYY-MM-DD, '' when none
    department       TEXT NOT NULL,
    title            TEXT NOT NULL,
    manager_email    TEXT NOT NULL,
    evidence_id      TEXT NOT NULL,
    PRIMARY KEY (listing_id, ordinal)
);

-- The current HR listing of each review.
CREATE VIEW v_current_hr_listings AS
SELECT l.* FROM hr_listings l
WHERE l.id = (SELECT max(x.id) FROM hr_listings x WHERE x.review = l.review);

-- v_hr: each review's current HR listing, one row per person (order by line).
CREATE VIEW v_hr AS
SELECT l.review, r.email, r.employee_id, r.status, r.termination_date, r.department, r.title,
       r.manager_email, l.file_name, r.line, r.evidence_id
FROM v_current_hr_listings l
JOIN hr_records r ON r.listing_id = l.id;
