-- review-runs: every command run recorded for a review, with who ran it (actor), where, which uar version, and how it ended
-- param: review the review label, e.g. 2026-Q4
SELECT id, command, review, actor, host, tool_version, started_at, finished_at, status, error
FROM runs
WHERE review = :review
ORDER BY started_at, id;
