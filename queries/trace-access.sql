-- trace-access: the ledger rows behind one access: the derive row that sealed its snapshot, and the raw responses of that run that list the group's members (Okta member pages) or the imported file; print one with uar evidence show SEQ --raw
-- param: review the review label, e.g. 2026-Q4
-- param: user the user's login or email
-- param: group the group's name
WITH acc AS (
    SELECT a.review, a.system, a.group_name, a.user_login, a.group_id, a.evidence_id
    FROM v_access a
    WHERE a.review = :review AND a.group_name = :group
      AND lower(:user) IN (lower(a.user_login), lower(a.user_email))
)
SELECT acc.review, acc.system, acc.group_name, acc.user_login, e.seq, e.id AS evidence_id, e.kind,
       e.query_name, e.query_text, e.executed_at, e.source_time, e.blob_hash
FROM acc
JOIN evidence d ON d.id = acc.evidence_id
JOIN evidence e ON e.run_id = d.run_id
WHERE e.id = d.id
   OR e.kind = 'file'
   OR (e.kind = 'call' AND instr(e.query_text, '/groups/' || acc.group_id || '/users') > 0)
ORDER BY acc.system, acc.group_name, e.seq;
