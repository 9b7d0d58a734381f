-- completeness: every listing the review's current snapshots were built from, proven complete or not: query, pages, paged and independent counts, status, evidence ids and hashes, acceptance
-- param: review the review label, e.g. 2026-Q4
-- One row per listing (the Okta group rules, the group search, each SOX
-- group's members; an imported file), in the order they were read. For a
-- group, independent_count is Okta's own usersCount (expand=stats) and
-- status is complete when it equals the distinct members paged, gap when
-- they still differed after one re-read (reread = 1); the rules and the
-- search have no independent count (unchecked). An import is stale when
-- it was exported longer ago than snapshot.max_import_age. A gap or a
-- stale import is accepted only with a reason, by the actor named here.
SELECT c.review, s.id AS snapshot_id, s.source, s.system, l.no, l.kind, l.group_name, l.group_id,
       l.query_text, l.query_params, l.pages, l.paged_count, l.independent_count, l.status, l.reread,
       l.count_evidence_id, COALESCE(ce.result_hash, '') AS count_result_hash,
       l.page_evidence_ids,
       (SELECT json_group_array(e.result_hash ORDER BY j.key) FROM json_each(l.page_evidence_ids) j
        LEFT JOIN evidence e ON e.id = j.value) AS page_result_hashes,
       l.file_sha256, l.file_header, l.exported_at, l.exported_at_from,
       CASE WHEN l.status IN ('gap', 'stale') THEN COALESCE(a.reason, '') ELSE '' END AS accepted_reason,
       CASE WHEN l.status IN ('gap', 'stale') THEN COALESCE(a.actor, '') ELSE '' END AS accepted_by,
       CASE WHEN l.status IN ('gap', 'stale') THEN COALESCE(a.accepted_at, '') ELSE '' END AS accepted_at,
       s.evidence_id AS snapshot_evidence_id
FROM v_current_snapshots c
JOIN snapshots s ON s.id = c.snapshot_id
JOIN snapshot_listings l ON l.snapshot_id = s.id
LEFT JOIN evidence ce ON ce.id = l.count_evidence_id
LEFT JOIN gap_acceptances a ON a.id = (SELECT max(x.id) FROM gap_acceptances x WHERE x.snapshot_id = s.id)
WHERE c.review = :review
ORDER BY s.id, l.no;
