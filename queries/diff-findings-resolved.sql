-- diff-findings-resolved: open (not suppressed) findings of the earlier review's current scoring that the later one no longer has for the same user, rule and system
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
-- Set-wise, as diff-findings-new: keys materialized once and subtracted.
WITH later AS MATERIALIZED (SELECT max(id) AS id FROM b.scorings WHERE review = :to),
     earlier AS MATERIALIZED (SELECT max(id) AS id FROM a.scorings WHERE review = :from),
     resolved AS MATERIALIZED (
         SELECT f.user_id, k.rule_id, f.system
         FROM a.scoring_findings f
         JOIN a.finding_kinds k ON k.scoring_id = f.scoring_id AND k.no = f.kind
         WHERE f.scoring_id = (SELECT id FROM earlier) AND f.suppressed = 0
         EXCEPT
         SELECT f.user_id, k.rule_id, f.system
         FROM b.scoring_findings f
         JOIN b.finding_kinds k ON k.scoring_id = f.scoring_id AND k.no = f.kind
         WHERE f.scoring_id = (SELECT id FROM later) AND f.suppressed = 0)
SELECT 'finding_resolved' AS change, f.system,
       (SELECT group_concat(value, ', ') FROM json_each(f.groups)) AS group_name, f.user_login,
       f.rule_id AS item, f.risk AS from_value, '' AS to_value, f.title AS detail,
       f.evidence_id AS from_evidence_id, '' AS to_evidence_id
FROM a.findings f
WHERE f.scoring_id = (SELECT id FROM earlier) AND f.suppressed = 0
  AND (f.user_id, f.rule_id, f.system) IN (SELECT user_id, rule_id, system FROM resolved)
ORDER BY f.system, f.user_login, f.rule_id, f.ordinal;
