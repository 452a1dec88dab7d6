-- name: tainted_memory_read
-- kind: detection
-- severity: high
-- description: Memory written under untrusted influence (untrusted content in the writing turn's context, or inside the write or its call's arguments) was read by a later session: a persistent prompt injection.
-- params: since, session, agent
-- references: OWASP LLM01:2025, LLM04:2025; MITRE ATT&CK T1565.001; MITRE ATLAS AML.T0051
WITH RECURSIVE reads AS (
    SELECT f.src AS w, f.dst AS r FROM edges f WHERE f.kind = 'wrote_read'
),
writes AS (
    SELECT DISTINCT x.w, x.r
    FROM reads x
    JOIN events we ON we.seq = x.w
    JOIN events re ON re.seq = x.r
    WHERE we.kind = 'memory.write' AND re.kind = 'memory.read' AND re.session_id IS DISTINCT FROM we.session_id
),
untrusted AS (
    SELECT seq FROM events WHERE trust = 'untrusted'
),
carriers(node, origin) AS (
    -- The untrusted event itself, outputs its content flowed into (the tool result of a fetch),
    -- and messages written from a context that held it (the summary of a compaction), transitively.
    SELECT node, origin FROM (
        SELECT seq AS node, seq AS origin FROM untrusted
        UNION
        SELECT f.dst, f.src FROM edges f JOIN untrusted u ON f.src = u.seq WHERE f.kind = 'data_flow'
    )
    UNION
    SELECT f.dst, c.origin
    FROM carriers c JOIN edges f ON f.src = c.node AND f.kind = 'consumed' JOIN events m ON m.seq = f.dst
    WHERE m.kind = 'input.message'
),
calls AS (
    SELECT DISTINCT f.src AS call, w.w FROM edges f JOIN (SELECT DISTINCT w FROM writes) w ON f.dst = w.w WHERE f.kind = 'effect'
),
turns AS (
    SELECT DISTINCT f.src AS turn, c.w FROM edges f JOIN calls c ON f.dst = c.call WHERE f.kind = 'emitted'
),
taint AS (
    -- untrusted content in the model's context when it decided to write
    SELECT t.w, c.origin FROM edges f JOIN turns t ON f.dst = t.turn JOIN carriers c ON c.node = f.src WHERE f.kind = 'consumed'
    UNION
    -- untrusted content inside the write, or inside its call's arguments
    SELECT n.w, c.origin
    FROM (SELECT DISTINCT w, w AS node FROM writes UNION SELECT w, call FROM calls) n
    JOIN edges f ON f.dst = n.node AND f.kind = 'data_flow'
    JOIN carriers c ON c.node = f.src
)
SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id,
       'read ' || coalesce(k.artifact, '?') || ' written in session ' || coalesce(any_value(we.session_id), '?')
           || ' after untrusted ' || array_to_string(list_sort(list_distinct(list(coalesce(o.artifact, o.kind)))), ', ') AS summary,
       list_sort(list_distinct(list(we.event_id))) || list_sort(list_distinct(list(o.event_id))) AS related
FROM writes x
JOIN taint t ON t.w = x.w
JOIN events k ON k.seq = x.r
JOIN events we ON we.seq = x.w
JOIN events o ON o.seq = t.origin
WHERE o.ts <= we.ts
  AND ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
  AND ($session IS NULL OR k.session_id = $session)
  AND ($agent IS NULL OR k.agent_id = $agent)
GROUP BY k.event_id, k.kind, k.ts, k.session_id, k.agent_id, k.artifact
