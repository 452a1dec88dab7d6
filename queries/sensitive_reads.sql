-- name: sensitive_reads
-- description: Every read of a secret or credential, with the session and what it was.
-- params: session
SELECT event_id, ts, session_id, kind, artifact, sensitivity, summary
FROM events
WHERE sensitivity IN ('secret', 'credential') AND kind IN ('file.read', 'memory.read', 'tool.result')
  AND ($session IS NULL OR session_id = $session)
ORDER BY ts
