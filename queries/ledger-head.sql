-- ledger-head: the last ledger row (seq:hash), the value to publish as an external anchor
SELECT seq, entry_hash, executed_at, seq || ':' || entry_hash AS anchor
FROM evidence
ORDER BY seq DESC
LIMIT 1;
