-- name: sessions_overview
-- description: Sessions with their agent, time span, event counts by kind and flags.
-- params: agent
SELECT s.session_id, s.agent_id, s.started, s.ended, s.events,
       count(*) FILTER (WHERE e.kind = 'tool.call') AS tool_calls,
       count(*) FILTER (WHERE e.kind = 'net.egress') AS egress,
       count(*) FILTER (WHERE e.sensitivity IN ('secret', 'credential')) AS sensitive,
       s.flags
FROM sessions s JOIN events e USING (session_id)
WHERE $agent IS NULL OR s.agent_id = $agent
GROUP BY ALL
ORDER BY s.started
