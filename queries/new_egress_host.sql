-- name: new_egress_host
-- kind: detection
-- severity: medium
-- description: The first egress ever seen to a destination, once there is a baseline: at least min_prior_sessions sessions (default 3) started before it. With --since, everything before is the baseline and only first contacts inside the window are findings.
-- params: since, session, agent, min_prior_sessions
-- references: MITRE ATT&CK T1041, T1567, T1071; OWASP LLM02:2025
WITH egress AS (
    SELECT seq, event_id, kind, ts, session_id, agent_id, artifact,
           row_number() OVER (PARTITION BY artifact ORDER BY ts, seq) AS n
    FROM events
    WHERE kind = 'net.egress' AND artifact IS NOT NULL
),
firsts AS (
    SELECT * FROM egress WHERE n = 1
),
later AS (
    SELECT artifact, list(event_id ORDER BY ts, seq)[1:10] AS ids, count(*) AS times
    FROM egress WHERE n > 1 AND artifact IN (SELECT artifact FROM firsts)
    GROUP BY artifact
),
prior AS (
    SELECT f.seq, count(s.session_id) AS sessions
    FROM firsts f LEFT JOIN sessions s ON s.started < f.ts AND s.session_id IS DISTINCT FROM f.session_id
    GROUP BY f.seq
)
SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id,
       'first egress to ' || k.artifact || ' after ' || p.sessions || ' earlier sessions'
           || CASE WHEN l.times IS NOT NULL THEN ' (' || l.times || ' more since)' ELSE '' END AS summary,
       coalesce(l.ids, []::VARCHAR[]) AS related
FROM firsts k
JOIN prior p ON p.seq = k.seq
LEFT JOIN later l ON l.artifact = k.artifact
WHERE p.sessions >= coalesce(TRY_CAST($min_prior_sessions AS BIGINT), 3)
  AND ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
  AND ($session IS NULL OR k.session_id = $session)
  AND ($agent IS NULL OR k.agent_id = $agent)
