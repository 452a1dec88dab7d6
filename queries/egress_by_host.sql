-- name: egress_by_host
-- description: Egress grouped by destination: count, bytes, sessions, first and last time.
-- params: since
SELECT artifact AS destination, count(*) AS requests,
       sum(coalesce(TRY_CAST(json_extract_string(attrs, '$."http.request.body.size"') AS BIGINT), content_size, 0)) AS bytes_out,
       count(DISTINCT session_id) AS sessions, min(ts) AS first_seen, max(ts) AS last_seen
FROM events
WHERE kind = 'net.egress' AND ($since IS NULL OR ts >= CAST($since AS TIMESTAMP))
GROUP BY artifact
ORDER BY bytes_out DESC
