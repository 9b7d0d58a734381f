-- review-quality: per system and reviewer, how the review was done, from first-hand timestamps (Jira's own ticket and comment times): hours from publish to the first decision, to the reviewer's last one and to completion; share certified; accesses covered by CERTIFY: all vs decided one by one; HIGH-finding accesses certified, and with a justification; decision lines after the deadline; rejected lines
-- param: review the review label, e.g. 2026-Q4
-- param: window_days days from the review's first ticket to its deadline (review.window_days, 30 by default)
--
-- A system nobody decided anything for has one row with an empty reviewer.
-- reviewer is the author's Jira account id; reviewer_role what the review
-- allowed them (owner, delegate, backup; empty: not an authorised reviewer).
WITH
tickets AS (
    -- each system's ticket as first created, at Jira's own creation time
    SELECT p.system, p.service_time AS published_at, p.evidence_id
    FROM publications p
    WHERE p.review = :review AND p.service = 'jira' AND p.kind = 'ticket' AND p.service_time <> ''
      AND p.id = (SELECT min(x.id) FROM publications x
                  WHERE x.review = p.review AND x.service = 'jira' AND x.kind = 'ticket'
                    AND x.system = p.system AND x.service_time <> '')
),
deadline AS (
    -- the review's first ticket + window_days, as the tickets and uar remind state it
    SELECT strftime('%Y-%m-%dT%H:%M:%SZ', service_time, '+' || CAST(:window_days AS INTEGER) || ' days') AS at
    FROM publications
    WHERE review = :review AND service = 'jira' AND kind = 'ticket' AND service_time <> ''
    ORDER BY id
    LIMIT 1
),
high AS (
    -- the accesses an open HIGH finding of the current scoring names
    SELECT DISTINCT f.system, f.user_id, j.value AS group_name
    FROM v_current_scorings s
    JOIN findings f ON f.scoring_id = s.id
    JOIN json_each(f.groups) j
    WHERE s.review = :review AND f.risk = 'HIGH' AND f.suppressed = 0
),
standing AS (
    -- the accesses of each system by the author of the decision that stands
    -- for them (v_access); pending accesses under the author ''
    SELECT a.system, a.decided_by AS reviewer, count(*) AS accesses,
           sum(a.decision = 'certified') AS certified, sum(a.decision = 'revoked') AS revoked,
           sum(a.decision = 'pending') AS pending,
           sum(COALESCE(d.certify_all, 0) = 1) AS by_certify_all,
           sum(a.decision = 'certified' AND h.user_id IS NOT NULL) AS high_certified,
           sum(a.decision = 'certified' AND h.user_id IS NOT NULL AND COALESCE(d.justification, '') <> '') AS high_certified_justified,
           max(a.decided_at) AS last_standing_at
    FROM v_access a
    LEFT JOIN decisions d ON d.id = a.decision_id
    LEFT JOIN high h ON h.system = a.system AND h.user_id = a.user_id AND h.group_name = a.group_name
    WHERE a.review = :review
    GROUP BY a.system, a.decided_by
),
systems AS (
    SELECT system, sum(accesses) AS accesses, sum(pending) AS pending,
           CASE WHEN sum(pending) = 0 THEN max(last_standing_at) ELSE '' END AS completed_at
    FROM standing
    GROUP BY system
),
lines AS (
    -- every decision line of the current passes, by author
    SELECT system, decided_by AS reviewer, max(decided_by_name) AS reviewer_name,
           max(decided_by_email) AS reviewer_email, count(*) AS lines,
           min(CASE WHEN status <> 'rejected' THEN decided_at END) AS first_decision_at,
           max(CASE WHEN status <> 'rejected' THEN decided_at END) AS last_decision_at,
           sum(status = 'rejected') AS rejected_lines,
           sum(status <> 'rejected' AND decided_at > COALESCE((SELECT at FROM deadline), '9999')) AS after_deadline,
           max(evidence_id) AS evidence_id
    FROM v_current_decisions
    WHERE review = :review
    GROUP BY system, decided_by
),
roles AS (
    -- who the review allowed to decide, as last resolved
    SELECT system, account_id, group_concat(role, '+') AS role
    FROM (SELECT DISTINCT system, account_id, role FROM reviewers
          WHERE review = :review
            AND run_id = (SELECT run_id FROM reviewers WHERE review = :review ORDER BY id DESC LIMIT 1)
          ORDER BY system, account_id, role)
    GROUP BY system, account_id
),
keys AS (
    SELECT system, reviewer FROM standing WHERE reviewer <> ''
    UNION
    SELECT system, reviewer FROM lines
    UNION
    SELECT s.system, '' FROM systems s
    WHERE NOT EXISTS (SELECT 1 FROM standing x WHERE x.system = s.system AND x.reviewer <> '')
      AND NOT EXISTS (SELECT 1 FROM lines l WHERE l.system = s.system)
)
SELECT :review AS review, k.system, k.reviewer,
       COALESCE(l.reviewer_name, '') AS reviewer_name, COALESCE(l.reviewer_email, '') AS reviewer_email,
       COALESCE(r.role, '') AS reviewer_role,
       COALESCE(t.published_at, '') AS published_at,
       COALESCE((SELECT at FROM deadline), '') AS deadline,
       COALESCE(l.first_decision_at, '') AS first_decision_at,
       round((julianday(l.first_decision_at) - julianday(t.published_at)) * 24, 1) AS hours_to_first_decision,
       COALESCE(l.last_decision_at, '') AS last_decision_at,
       round((julianday(l.last_decision_at) - julianday(t.published_at)) * 24, 1) AS hours_to_last_decision,
       COALESCE(sy.completed_at, '') AS system_completed_at,
       round((julianday(NULLIF(sy.completed_at, '')) - julianday(t.published_at)) * 24, 1) AS hours_to_completion,
       COALESCE(sy.accesses, 0) AS system_accesses, COALESCE(sy.pending, 0) AS system_pending,
       COALESCE(st.accesses, 0) AS accesses_decided,
       COALESCE(st.certified, 0) AS certified, COALESCE(st.revoked, 0) AS revoked,
       round(1.0 * st.certified / NULLIF(st.accesses, 0), 3) AS share_certified,
       COALESCE(st.by_certify_all, 0) AS by_certify_all,
       COALESCE(st.accesses - st.by_certify_all, 0) AS one_by_one,
       COALESCE(st.high_certified, 0) AS high_certified,
       COALESCE(st.high_certified_justified, 0) AS high_certified_justified,
       COALESCE(l.lines, 0) AS lines, COALESCE(l.after_deadline, 0) AS after_deadline,
       COALESCE(l.rejected_lines, 0) AS rejected_lines,
       COALESCE(l.evidence_id, t.evidence_id, '') AS evidence_id
FROM keys k
LEFT JOIN systems sy ON sy.system = k.system
LEFT JOIN standing st ON st.system = k.system AND st.reviewer = k.reviewer AND k.reviewer <> ''
LEFT JOIN lines l ON l.system = k.system AND l.reviewer = k.reviewer
LEFT JOIN tickets t ON t.system = k.system
LEFT JOIN roles r ON r.system = k.system AND r.account_id = k.reviewer
ORDER BY k.system, k.reviewer;
