-- name: skill_then_access
-- kind: detection
-- severity: high
-- description: A skill that is not pinned as trusted was loaded or installed, and later in the same session the agent reached the network or read a secret or credential. A skill stays in the context for the rest of its session, so this follows the session's time order, not only edges.
-- params: since, session, agent
-- references: OWASP LLM03:2025, LLM06:2025; MITRE ATLAS AML.T0053; MITRE ATT&CK T1195.002
WITH skills AS (
    SELECT seq, event_id, ts, session_id, artifact, summary
    FROM events
    WHERE kind IN ('skill.load', 'skill.install') AND trust <> 'trusted' AND session_id IS NOT NULL
),
access AS (
    -- one equality filter per branch: DuckDB pushes those into the scan, an IN list it does not
    SELECT seq, event_id, kind, ts, session_id, agent_id, artifact, sensitivity FROM events WHERE kind = 'net.egress'
    UNION ALL
    SELECT seq, event_id, kind, ts, session_id, agent_id, artifact, sensitivity FROM events WHERE kind = 'net.fetch'
    UNION ALL
    SELECT seq, event_id, kind, ts, session_id, agent_id, artifact, sensitivity FROM events
    WHERE sensitivity = 'credential' AND kind IN ('file.read', 'memory.read')
    UNION ALL
    SELECT seq, event_id, kind, ts, session_id, agent_id, artifact, sensitivity FROM events
    WHERE sensitivity = 'secret' AND kind IN ('file.read', 'memory.read')
)
SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id,
       CASE WHEN k.kind LIKE 'net.%' THEN 'network ' ELSE k.sensitivity || ' read ' END
           || coalesce(k.artifact, '?') || ' after skill ' || array_to_string(list_sort(list_distinct(list(coalesce(s.artifact, s.summary)))), ', ') AS summary,
       list_sort(list_distinct(list(s.event_id))) AS related
FROM access k JOIN skills s ON s.session_id = k.session_id AND s.ts <= k.ts AND s.seq <> k.seq
WHERE ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
  AND ($session IS NULL OR k.session_id = $session)
  AND ($agent IS NULL OR k.agent_id = $agent)
GROUP BY k.event_id, k.kind, k.ts, k.session_id, k.agent_id, k.artifact, k.sensitivity
