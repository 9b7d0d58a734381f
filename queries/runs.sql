-- runs: every command run recorded in the store, with actor, host and outcome
SELECT id, command, review, actor, host, tool_version, started_at, finished_at, status, error
FROM runs
ORDER BY started_at, id;
