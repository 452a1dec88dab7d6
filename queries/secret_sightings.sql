-- name: secret_sightings
-- description: Where each secret (by placeholder digest, never the value) was seen: read, passed, sent.
-- params: digest
SELECT s.type, s.digest, e.event_id, e.ts, e.session_id, e.kind, s.role, e.artifact
FROM secrets s JOIN events e USING (seq)
WHERE $digest IS NULL OR s.digest = $digest
ORDER BY s.digest, e.ts
