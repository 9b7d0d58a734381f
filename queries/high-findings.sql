-- high-findings: every open (not suppressed) HIGH finding of the review's current scoring and what became of it: addressed (an access it names was revoked), certified (every access it names was certified: see the justification), open (still pending), or gone (none of its accesses is in the population any more)
-- param: review the review label, e.g. 2026-Q4
WITH high AS (
    SELECT s.review, f.scoring_id, f.ordinal, f.rule_id, f.system, f.user_id, f.user_login, f.groups,
           f.title, f.evidence_id
    FROM v_current_scorings s
    JOIN findings f ON f.scoring_id = s.id
    WHERE s.review = :review AND f.risk = 'HIGH' AND f.suppressed = 0
),
named AS (
    -- each access a finding names, once
    SELECT DISTINCT h.system, h.user_id, j.value AS group_name FROM high h JOIN json_each(h.groups) j
),
decided AS (
    -- the decision that stands for each named access (v_access, one pass
    -- over the population; the IN test skips an access no finding names
    -- before its decision is looked up)
    SELECT a.system, a.user_id, a.group_name, a.decision, a.decided_by, a.decided_at, a.decision_id
    FROM v_access a
    WHERE a.review = :review
      AND (a.system, a.user_id, a.group_name) IN (SELECT system, user_id, group_name FROM named)
)
SELECT h.review, h.system, h.user_login, h.rule_id,
       (SELECT group_concat(value, ', ') FROM json_each(h.groups)) AS group_name, h.title,
       CASE
           WHEN count(x.user_id) = 0 THEN 'gone'
           WHEN sum(x.decision = 'revoked') > 0 THEN 'addressed'
           WHEN sum(x.decision = 'certified') = count(x.user_id) THEN 'certified'
           ELSE 'open'
       END AS outcome,
       COALESCE(group_concat(DISTINCT NULLIF(x.decided_by, '')), '') AS decided_by,
       COALESCE(max(NULLIF(x.decided_at, '')), '') AS decided_at,
       COALESCE(group_concat(DISTINCT CASE WHEN x.decision = 'certified' THEN NULLIF(d.justification, '') END), '') AS justification,
       h.evidence_id
FROM high h
LEFT JOIN decided x ON x.system = h.system AND x.user_id = h.user_id
     AND x.group_name IN (SELECT value FROM json_each(h.groups))
LEFT JOIN decisions d ON d.id = x.decision_id
GROUP BY h.scoring_id, h.ordinal
ORDER BY h.system, h.user_login, h.rule_id, h.ordinal;
