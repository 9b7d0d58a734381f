-- anchors: every ledger head uar wrote outside the store (the review page by publish and revoke, reminder comments by remind), newest first, with the page version or comment and the service's own time: an external witness of the ledger at that time (check one with uar verify --anchor SEQ:HASH)
-- param: review the review label, e.g. 2026-Q4
SELECT p.review, json_extract(e.query_params, '$.ledger_head') AS ledger_head, p.service, p.kind,
       p.external_key, p.url, p.version, p.service_time, p.run_id, e.seq, p.evidence_id
FROM evidence e
JOIN publications p ON p.evidence_id = e.id
WHERE e.kind = 'derive' AND e.query_name = 'publish' AND p.review = :review
  AND COALESCE(json_extract(e.query_params, '$.ledger_head'), '') <> ''
ORDER BY e.seq DESC, p.id DESC;
