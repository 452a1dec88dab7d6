-- name: orphan_tool_call
-- kind: detection
-- severity: medium
-- description: A tool call the transcript records without its result (flagged openclaw.tool.orphan by the OpenClaw importer) and for which no other source supplied one: a crash, an abort, or a rewritten transcript hiding what the tool returned.
-- params: since, session, agent
-- references: MITRE ATT&CK T1070, T1565.001
WITH orphans AS (
    SELECT seq, event_id, kind, ts, session_id, agent_id, tool_name, tool_call_id
    FROM events
    WHERE kind = 'tool.call' AND attrs IS NOT NULL
      AND json_extract_string(attrs, '$."openclaw.tool.orphan"') = 'true'
      AND coalesce(json_extract_string(attrs, '$."openclaw.audit.orphan"'), 'false') <> 'true'
)
SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id,
       'tool call ' || coalesce(k.tool_name, '?') || ' (' || coalesce(k.tool_call_id, '?') || ') has no result' AS summary,
       list_sort(list_distinct(list(s.event_id))) AS related
FROM orphans k
LEFT JOIN edges f ON f.dst = k.seq AND f.kind = 'emitted'
LEFT JOIN events s ON s.seq = f.src
WHERE NOT EXISTS (SELECT 1 FROM edges r WHERE r.src = k.seq AND r.kind = 'returned')
  AND ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
  AND ($session IS NULL OR k.session_id = $session)
  AND ($agent IS NULL OR k.agent_id = $agent)
GROUP BY k.event_id, k.kind, k.ts, k.session_id, k.agent_id, k.tool_name, k.tool_call_id
