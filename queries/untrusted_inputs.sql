-- name: untrusted_inputs
-- description: Untrusted content that entered an agent (fetched pages, non-owner messages, unknown skills).
-- params: session
SELECT event_id, ts, session_id, kind, artifact, summary
FROM events
WHERE (trust = 'untrusted' OR (kind IN ('skill.load', 'skill.install') AND trust <> 'trusted'))
  AND ($session IS NULL OR session_id = $session)
ORDER BY ts
