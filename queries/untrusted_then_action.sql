-- name: untrusted_then_action
-- kind: detection
-- severity: medium
-- description: Untrusted content (a fetched page, a non-owner message, or a tool result carrying one) was in the model's context for the turn that then ran a command, wrote a file or memory, or sent data out (edges consumed -> emitted -> effect).
-- params: since, session, agent
-- references: OWASP LLM01:2025, LLM06:2025; MITRE ATLAS AML.T0051
WITH untrusted AS (
    SELECT seq FROM events WHERE trust = 'untrusted'
),
carriers AS (
    -- The untrusted event itself, and outputs its content flowed into (the tool result of a fetch).
    SELECT seq AS node, seq AS origin FROM untrusted
    UNION
    SELECT f.dst, f.src FROM edges f JOIN untrusted u ON f.src = u.seq WHERE f.kind = 'data_flow'
),
turns AS (
    SELECT DISTINCT f.dst AS turn, c.origin FROM edges f JOIN carriers c ON f.src = c.node WHERE f.kind = 'consumed'
),
calls AS (
    SELECT DISTINCT f.dst AS call, t.origin FROM edges f JOIN turns t ON f.src = t.turn WHERE f.kind = 'emitted'
),
actions AS (
    SELECT DISTINCT f.dst AS action, c.call, c.origin FROM edges f JOIN calls c ON f.src = c.call WHERE f.kind = 'effect'
)
SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id,
       k.kind || ' ' || coalesce(k.artifact, k.tool_name, '') || ' after untrusted ' || array_to_string(list_sort(list_distinct(list(coalesce(o.artifact, o.kind)))), ', ') AS summary,
       list_sort(list_distinct(list(o.event_id))) || list_sort(list_distinct(list(c.event_id))) AS related
FROM actions a
JOIN events k ON k.seq = a.action
JOIN events o ON o.seq = a.origin
JOIN events c ON c.seq = a.call
WHERE k.kind IN ('process.exec', 'file.write', 'file.delete', 'memory.write', 'net.egress') AND o.ts <= k.ts
  AND ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
  AND ($session IS NULL OR k.session_id = $session)
  AND ($agent IS NULL OR k.agent_id = $agent)
GROUP BY k.event_id, k.kind, k.ts, k.session_id, k.agent_id, k.artifact, k.tool_name
