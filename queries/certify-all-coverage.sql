-- certify-all-coverage: per system, how the review's accesses were decided: certified by a CERTIFY: all line, decided one by one, or still pending; and how many accesses named by an open HIGH finding CERTIFY: all certified
-- param: review the review label, e.g. 2026-Q4
WITH high AS (
    SELECT DISTINCT f.system, f.user_id, j.value AS group_name
    FROM v_current_scorings s
    JOIN findings f ON f.scoring_id = s.id
    JOIN json_each(f.groups) j
    WHERE s.review = :review AND f.risk = 'HIGH' AND f.suppressed = 0
)
SELECT a.review, a.system, count(*) AS accesses,
       sum(a.decision = 'certified' AND d.certify_all = 1) AS certified_by_certify_all,
       sum(a.decision <> 'pending' AND COALESCE(d.certify_all, 0) = 0) AS decided_one_by_one,
       sum(a.decision = 'pending') AS pending,
       round(1.0 * sum(a.decision = 'certified' AND d.certify_all = 1) / count(*), 3) AS share_certify_all,
       sum(a.decision = 'certified' AND d.certify_all = 1 AND h.user_id IS NOT NULL) AS high_certified_by_certify_all
FROM v_access a
LEFT JOIN decisions d ON d.id = a.decision_id
LEFT JOIN high h ON h.system = a.system AND h.user_id = a.user_id AND h.group_name = a.group_name
WHERE a.review = :review
GROUP BY a.review, a.system
ORDER BY a.system;
