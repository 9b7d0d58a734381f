-- system-risk: each system's overall risk and finding counts in the review's current scoring
-- param: review the review label, e.g. 2026-Q4
SELECT s.review, r.system, r.risk, r.high, r.medium, r.low, r.evidence_id
FROM v_current_scorings s
JOIN system_risks r ON r.scoring_id = s.id
WHERE s.review = :review
ORDER BY CASE r.risk WHEN 'HIGH' THEN 0 WHEN 'MEDIUM' THEN 1 WHEN 'LOW' THEN 2 ELSE 3 END, r.system;
