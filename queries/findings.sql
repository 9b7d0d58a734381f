-- findings: the review's current findings by risk (the v_findings view)
-- param: review the review label, e.g. 2026-Q4
SELECT review, rule_id, risk, system, user_login, group_name, title, detail, source, evidence_id
FROM v_findings
WHERE review = :review
ORDER BY CASE risk WHEN 'HIGH' THEN 0 WHEN 'MEDIUM' THEN 1 ELSE 2 END, system, user_login, rule_id;
