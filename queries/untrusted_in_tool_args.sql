-- name: untrusted_in_tool_args
-- kind: detection
-- severity: high
-- description: Content fingerprinted from an untrusted input (a fetched page, a non-owner message) reappears inside a later action's input (tool-call arguments, a command line, a write, an egress body), directly or through the tool result that returned it (data_flow edges).
-- params: since, session, agent, min_bytes
-- references: OWASP LLM01:2025, LLM05:2025; MITRE ATLAS AML.T0051
WITH untrusted AS (
    SELECT seq FROM events WHERE trust = 'untrusted'
),
h1 AS (
    SELECT f.src AS origin, f.dst AS node, f.evidence FROM edges f JOIN untrusted u ON f.src = u.seq WHERE f.kind = 'data_flow'
),
h2 AS (
    SELECT h.origin, f.dst AS node, f.evidence
    FROM edges f JOIN (SELECT DISTINCT origin, node FROM h1) h ON f.src = h.node
    WHERE f.kind = 'data_flow'
),
hits AS (
    SELECT origin, node, evidence FROM h1 UNION ALL SELECT origin, node, evidence FROM h2
)
SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id,
       k.kind || ' ' || coalesce(k.tool_name, k.artifact, '') || ' carries '
           || max(coalesce(TRY_CAST(json_extract_string(h.evidence, '$.matched_bytes') AS BIGINT), 0)) || ' B of untrusted '
           || array_to_string(list_sort(list_distinct(list(coalesce(o.artifact, o.kind)))), ', ')
           || coalesce(' (' || NULLIF(array_to_string(list_sort(list_distinct(list(NULLIF(json_extract_string(h.evidence, '$.encoding'), 'raw')))), ', '), '') || ')', '') AS summary,
       list_sort(list_distinct(list(o.event_id))) AS related
FROM hits h
JOIN events k ON k.seq = h.node
JOIN events o ON o.seq = h.origin
WHERE k.kind IN ('tool.call', 'process.exec', 'net.egress', 'file.write', 'memory.write', 'skill.install')
  AND o.ts <= k.ts AND k.trust <> 'untrusted'
  AND coalesce(TRY_CAST(json_extract_string(h.evidence, '$.matched_bytes') AS BIGINT), 1 << 30) >= coalesce(TRY_CAST($min_bytes AS BIGINT), 0)
  AND ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
  AND ($session IS NULL OR k.session_id = $session)
  AND ($agent IS NULL OR k.agent_id = $agent)
GROUP BY k.event_id, k.kind, k.ts, k.session_id, k.agent_id, k.tool_name, k.artifact
