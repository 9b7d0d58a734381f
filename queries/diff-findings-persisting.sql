-- diff-findings-persisting: open (not suppressed) findings present in both reviews for the same user, rule and system, with the risk in each
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
SELECT 'finding_persisting' AS change, f.system,
       (SELECT group_concat(value, ', ') FROM json_each(f.groups)) AS group_name, f.user_login,
       f.rule_id AS item, x.risk AS from_value, f.risk AS to_value, f.title AS detail,
       x.evidence_id AS from_evidence_id, f.evidence_id AS to_evidence_id
FROM b.v_current_scorings s
JOIN b.findings f ON f.scoring_id = s.id
JOIN a.findings x ON x.scoring_id = (SELECT max(s2.id) FROM a.scorings s2 WHERE s2.review = :from)
     AND x.user_id = f.user_id AND x.rule_id = f.rule_id AND x.system = f.system AND x.suppressed = 0
WHERE s.review = :to AND f.suppressed = 0
ORDER BY f.system, f.user_login, f.rule_id, f.ordinal, x.ordinal;
