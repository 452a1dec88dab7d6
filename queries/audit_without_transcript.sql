-- name: audit_without_transcript
-- kind: detection
-- severity: high
-- description: OpenClaw's audit ledger recorded a tool call that no transcript holds (imported as a tool.call flagged openclaw.audit.orphan): the transcript lost or rewrote it, which is how tampering with the agent's own record shows.
-- params: since, session, agent
-- references: MITRE ATT&CK T1070, T1565.001
WITH orphans AS (
    SELECT seq, event_id, kind, ts, session_id, agent_id, tool_name, tool_call_id
    FROM events
    WHERE kind = 'tool.call' AND attrs IS NOT NULL
      AND json_extract_string(attrs, '$."openclaw.audit.orphan"') = 'true'
)
SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id,
       'audit ledger has tool call ' || coalesce(k.tool_name, '?') || ' (' || coalesce(k.tool_call_id, '?')
           || ') that no transcript holds' AS summary,
       list_sort(list_distinct(list(s.event_id))) AS related
FROM orphans k
LEFT JOIN edges f ON f.src = k.seq
LEFT JOIN events s ON s.seq = f.dst
WHERE ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
  AND ($session IS NULL OR k.session_id = $session)
  AND ($agent IS NULL OR k.agent_id = $agent)
GROUP BY k.event_id, k.kind, k.ts, k.session_id, k.agent_id, k.tool_name, k.tool_call_id
