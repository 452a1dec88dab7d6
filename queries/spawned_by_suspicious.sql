-- name: spawned_by_suspicious
-- kind: detection
-- severity: high
-- description: A session spawned (subagent, fork) by a session that had taken in untrusted content at or before the spawn: the child may carry the injection on. Lineage from spawned edges, else the sessions' parent_session.
-- params: since, session, agent
-- references: OWASP LLM01:2025, LLM06:2025; MITRE ATLAS AML.T0051
WITH by_edge AS (
    SELECT c.session_id AS child, p.session_id AS parent, c.seq AS child_seq, p.seq AS spawn_seq, p.ts AS spawn_ts
    FROM edges f JOIN events c ON c.seq = f.dst JOIN events p ON p.seq = f.src
    WHERE f.kind = 'spawned' AND c.session_id IS DISTINCT FROM p.session_id
),
by_parent AS (
    -- children known only from the sessions table: the spawn point is the child's start
    SELECT s.session_id AS child, s.parent_session AS parent, NULL::BIGINT AS spawn_seq, s.started AS spawn_ts
    FROM sessions s
    WHERE s.parent_session IS NOT NULL AND s.session_id NOT IN (SELECT child FROM by_edge WHERE child IS NOT NULL)
),
first_of_child AS (
    SELECT b.child AS session_id, arg_min(e.seq, (e.ts, e.seq)) AS seq
    FROM by_parent b JOIN events e ON e.session_id = b.child
    GROUP BY b.child
),
lineage AS (
    SELECT child, parent, child_seq, spawn_seq, spawn_ts FROM by_edge
    UNION ALL
    SELECT b.child, b.parent, f.seq, b.spawn_seq, b.spawn_ts FROM by_parent b JOIN first_of_child f ON f.session_id = b.child
),
suspect AS (
    SELECT event_id, artifact, kind, session_id, ts FROM events WHERE trust = 'untrusted'
    UNION ALL
    SELECT event_id, artifact, kind, session_id, ts FROM events WHERE trust = 'unknown' AND kind IN ('skill.load', 'skill.install')
),
taint AS (
    SELECT l.child_seq, u.event_id, u.artifact, u.kind
    FROM lineage l
    JOIN suspect u ON u.session_id = l.parent AND u.ts <= l.spawn_ts
)
SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id,
       'session ' || k.session_id || ' spawned by ' || any_value(l.parent) || ' after untrusted '
           || array_to_string(list_sort(list_distinct(list(coalesce(t.artifact, t.kind)))), ', ') AS summary,
       list_sort(list_distinct(list(sp.event_id)))
           || list_sort(list_distinct(list(t.event_id)))[1:10] AS related
FROM lineage l
JOIN taint t ON t.child_seq = l.child_seq
JOIN events k ON k.seq = l.child_seq
LEFT JOIN events sp ON sp.seq = l.spawn_seq
WHERE ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
  AND ($session IS NULL OR k.session_id = $session)
  AND ($agent IS NULL OR k.agent_id = $agent)
GROUP BY k.event_id, k.kind, k.ts, k.session_id, k.agent_id
