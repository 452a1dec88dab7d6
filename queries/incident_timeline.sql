-- name: incident_timeline
-- description: The notable events of some sessions (all when sessions is NULL) in time order: what came in, was read, called, written or sent; model turns and plain tool results only when untrusted or sensitive. Used by `clawtrace report`.
-- params: sessions, max_rows
SELECT event_id, ts, session_id, kind, tool_name, artifact, trust, sensitivity, summary,
       count(*) OVER () AS total
FROM events
WHERE ($sessions IS NULL OR list_contains($sessions::VARCHAR[], session_id))
  AND (kind NOT IN ('model.turn', 'tool.result') OR trust = 'untrusted' OR sensitivity IN ('secret', 'credential'))
ORDER BY ts, seq
LIMIT $max_rows
