-- report-head: the last ledger row that is not a report's own row: the state of the store a report describes (its seq:hash can be checked with uar verify --anchor)
SELECT seq, id, entry_hash, executed_at, seq || ':' || entry_hash AS anchor
FROM evidence
WHERE run_id <> 'report'
ORDER BY seq DESC
LIMIT 1;
