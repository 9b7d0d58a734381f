-- publications: every page, ticket and message publish created or updated, with the services' own timestamps
-- param: review the review label, e.g. 2026-Q4
SELECT review, service, kind, system, action, external_key, external_id, url, version, service_time, run_id, evidence_id
FROM publications
WHERE review = :review
ORDER BY id;
