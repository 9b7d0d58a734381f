-- review-evidence: the ledger rows of a review (and rows of no review), in chain order, without the rows that record reports themselves; each row's raw bytes are printed by `uar evidence show SEQ --raw`
-- param: review the review label, e.g. 2026-Q4
SELECT seq, id, run_id, source_system, query_name, query_text, executed_at, source_time,
       result_row_count, result_hash, entry_hash,
       kind, review, blob_hash, prev_hash
FROM evidence
WHERE (review = :review OR review = '') AND run_id <> 'report'
ORDER BY seq;
