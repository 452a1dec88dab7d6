-- name: untrusted_then_action
-- kind: detection
-- severity: medium
-- description: Untrusted content (a fetched page, a non-owner message, or a tool result carrying one) was in the model's context for a turn that then ran a command, wrote a file or memory, or sent data out (edges consumed -> emitted -> effect). One finding per session, keyed on its first such action.
-- params: since, session, agent
-- references: OWASP LLM01:2025, LLM06:2025; MITRE ATLAS AML.T0051
WITH RECURSIVE untrusted AS (
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
turns AS (
    SELECT DISTINCT f.dst AS turn, c.origin FROM edges f JOIN carriers c ON f.src = c.node WHERE f.kind = 'consumed'
),
calls AS (
    SELECT DISTINCT f.dst AS call, t.origin FROM edges f JOIN turns t ON f.src = t.turn WHERE f.kind = 'emitted'
),
actions AS (
    SELECT DISTINCT f.dst AS action, c.call, c.origin FROM edges f JOIN calls c ON f.src = c.call WHERE f.kind = 'effect'
),
hits AS (
    SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id, a.origin, c.event_id AS call_id
    FROM actions a
    JOIN events k ON k.seq = a.action
    JOIN events c ON c.seq = a.call
    WHERE k.kind IN ('process.exec', 'file.write', 'file.delete', 'memory.write', 'net.egress')
      AND ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
      AND ($session IS NULL OR k.session_id = $session)
      AND ($agent IS NULL OR k.agent_id = $agent)
)
-- One finding per session (its first such action is the key event; the other actions, their
-- calls and the untrusted sources are related): an agent that read a page and then ran five
-- commands is one lead, not five.
SELECT arg_min(h.event_id, h.ts) AS event_id, arg_min(h.kind, h.ts) AS kind, min(h.ts) AS ts, h.session_id,
       any_value(h.agent_id) AS agent_id,
       count(DISTINCT h.event_id) || ' action(s) (' || array_to_string(list_sort(list_distinct(list(h.kind))), ', ')
           || ') after untrusted ' || array_to_string(list_sort(list_distinct(list(coalesce(o.artifact, o.kind)))), ', ')
           AS summary,
       list_sort(list_distinct(list(o.event_id))) || list_sort(list_distinct(list(h.event_id)))
           || list_sort(list_distinct(list(h.call_id))) AS related
FROM hits h
JOIN events o ON o.seq = h.origin
WHERE o.ts <= h.ts
GROUP BY h.session_id
