-- diff-findings-resolved: open (not suppressed) findings of the earlier review's current scoring that the later one no longer has for the same user, rule and system
-- param: from the earlier review's label (in store a)
-- param: to the later review's label (in store b)
-- compare: a is the earlier review's store, b the later one's (uar diff attaches them; both may be the same file)
SELECT 'finding_resolved' AS change, f.system,
       (SELECT group_concat(value, ', ') FROM json_each(f.groups)) AS group_name, f.user_login,
       f.rule_id AS item, f.risk AS from_value, '' AS to_value, f.title AS detail,
       f.evidence_id AS from_evidence_id, '' AS to_evidence_id
FROM a.v_current_scorings s
JOIN a.findings f ON f.scoring_id = s.id
WHERE s.review = :from AND f.suppressed = 0
  AND NOT EXISTS (
      SELECT 1 FROM b.v_current_scorings s2
      JOIN b.findings x ON x.scoring_id = s2.id
      WHERE s2.review = :to AND x.user_id = f.user_id AND x.rule_id = f.rule_id
        AND x.system = f.system AND x.suppressed = 0)
ORDER BY f.system, f.user_login, f.rule_id, f.ordinal;
