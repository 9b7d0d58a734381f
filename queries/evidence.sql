-- evidence: every ledger row in chain order (the v_evidence view)
-- param: run only rows of this run id ('' for all)
SELECT seq, id, run_id, source_system, query_name, query_text, executed_at, source_time,
       result_row_count, result_hash, entry_hash
FROM v_evidence
WHERE (:run = '' OR run_id = :run)
ORDER BY seq;
