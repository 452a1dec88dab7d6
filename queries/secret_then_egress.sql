-- name: secret_then_egress
-- kind: detection
-- severity: critical
-- description: A secret or credential that entered the agent reached an egress: a data_flow path of up to three hops (read -> result -> tool-call arguments -> the call's egress), or the same secret digest in the egress payload.
-- params: since, session, agent
-- references: MITRE ATT&CK T1552.001, T1041, T1567; OWASP LLM02:2025
WITH origins AS (
    SELECT seq FROM events
    WHERE sensitivity IN ('secret', 'credential')
      AND kind IN ('file.read', 'memory.read', 'tool.result', 'input.message', 'net.fetch', 'skill.load')
),
flow AS MATERIALIZED (
    SELECT src, dst, kind FROM edges WHERE kind IN ('data_flow', 'effect')
),
h1 AS (SELECT DISTINCT o.seq AS origin, f.dst AS node FROM origins o JOIN flow f ON f.src = o.seq WHERE f.kind = 'data_flow'),
h2 AS (SELECT DISTINCT h.origin, f.dst AS node FROM h1 h JOIN flow f ON f.src = h.node),
h3 AS (SELECT DISTINCT h.origin, f.dst AS node FROM h2 h JOIN flow f ON f.src = h.node),
by_digest AS (
    -- The same secret (type + digest of the value, never the value) in an output and later in a payload.
    SELECT o.seq AS origin, i.seq AS node
    FROM secrets i JOIN secrets o ON o.digest = i.digest AND o.type = i.type AND o.role = 'out'
    WHERE i.role = 'in'
),
hits AS (
    SELECT origin, node FROM h1 UNION SELECT origin, node FROM h2 UNION SELECT origin, node FROM h3
    UNION SELECT origin, node FROM by_digest
)
SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id,
       'egress to ' || coalesce(k.artifact, '?') || ' carried ' || array_to_string(list_sort(list_distinct(list(coalesce(o.artifact, o.kind)))), ', ') AS summary,
       list_sort(list_distinct(list(o.event_id))) AS related
FROM hits h
JOIN events k ON k.seq = h.node
JOIN events o ON o.seq = h.origin
WHERE k.kind = 'net.egress' AND o.ts <= k.ts
  AND ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
  AND ($session IS NULL OR k.session_id = $session)
  AND ($agent IS NULL OR k.agent_id = $agent)
GROUP BY k.event_id, k.kind, k.ts, k.session_id, k.agent_id, k.artifact
