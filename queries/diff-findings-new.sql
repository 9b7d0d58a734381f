-- diff-findings-new: open (not suppressed) findings of the later review's current scoring that the earlier one did not have for the same user, rule and system
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
-- Set-wise: the (user, rule, system) keys of each side's open findings are
-- materialized once and subtracted, so a 500k-membership quarter compares in
-- seconds instead of probing the other side's findings once per row.
WITH later AS MATERIALIZED (SELECT max(id) AS id FROM b.scorings WHERE review = :to),
     earlier AS MATERIALIZED (SELECT max(id) AS id FROM a.scorings WHERE review = :from),
     added AS MATERIALIZED (
         SELECT f.user_id, k.rule_id, f.system
         FROM b.scoring_findings f
         JOIN b.finding_kinds k ON k.scoring_id = f.scoring_id AND k.no = f.kind
         WHERE f.scoring_id = (SELECT id FROM later) AND f.suppressed = 0
         EXCEPT
         SELECT f.user_id, k.rule_id, f.system
         FROM a.scoring_findings f
         JOIN a.finding_kinds k ON k.scoring_id = f.scoring_id AND k.no = f.kind
         WHERE f.scoring_id = (SELECT id FROM earlier) AND f.suppressed = 0)
SELECT 'finding_new' AS change, f.system,
       (SELECT group_concat(value, ', ') FROM json_each(f.groups)) AS group_name, f.user_login,
       f.rule_id AS item, '' AS from_value, f.risk AS to_value, f.title AS detail,
       '' AS from_evidence_id, f.evidence_id AS to_evidence_id
FROM b.findings f
WHERE f.scoring_id = (SELECT id FROM later) AND f.suppressed = 0
  AND (f.user_id, f.rule_id, f.system) IN (SELECT user_id, rule_id, system FROM added)
ORDER BY f.system, f.user_login, f.rule_id, f.ordinal;
