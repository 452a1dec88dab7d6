-- name: large_or_encoded_egress
-- kind: detection
-- severity: medium
-- description: An egress to a host outside loopback and private networks that sent at least min_bytes (default 1 MiB), or carried encoded data: content that matched an earlier output only after base64/hex/URL/gzip decoding, an encoded or high-entropy secret in the request, or a long base64 run in the URL.
-- params: since, session, agent, min_bytes
-- references: MITRE ATT&CK T1030, T1132.001, T1048, T1027; OWASP LLM02:2025
WITH egress AS (
    SELECT seq, event_id, kind, ts, session_id, agent_id, artifact,
           coalesce(TRY_CAST(json_extract_string(attrs, '$."clawtrace.net.bytes_out"') AS BIGINT),
                    TRY_CAST(json_extract_string(attrs, '$."http.request.body.size"') AS BIGINT), content_size, 0) AS bytes,
           coalesce(json_extract_string(attrs, '$."url.full"'), '') AS url,
           lower(regexp_extract(coalesce(artifact, ''), '^host:\[?(.*?)\]?:\d+$', 1)) AS host
    FROM events
    WHERE kind = 'net.egress'
),
external AS (
    SELECT * FROM egress
    WHERE host <> '' AND host <> 'localhost' AND host NOT LIKE '%.localhost' AND host <> '::1'
      AND NOT regexp_matches(host, '^(127\.|10\.|192\.168\.|169\.254\.|172\.(1[6-9]|2[0-9]|3[01])\.|f[cd][0-9a-f]{2}:|fe80:)')
),
encoded_flow AS (
    SELECT f.dst AS seq, array_to_string(list_sort(list_distinct(list(json_extract_string(f.evidence, '$.encoding')))), ', ') AS how
    FROM edges f JOIN external x ON f.dst = x.seq
    WHERE f.kind = 'data_flow' AND coalesce(json_extract_string(f.evidence, '$.encoding'), 'raw') <> 'raw'
    GROUP BY f.dst
),
encoded_secret AS (
    SELECT s.seq, array_to_string(list_sort(list_distinct(list(s.type))), ', ') AS how
    FROM secrets s JOIN external x ON s.seq = x.seq
    WHERE s.role = 'in' AND (s.type LIKE 'encoded_%' OR s.type = 'high_entropy')
    GROUP BY s.seq
),
flagged AS (
    SELECT x.*, ef.how AS flow_how, es.how AS secret_how,
           regexp_matches(x.url, '[A-Za-z0-9+/_-]{120,}={0,2}') AS url_blob
    FROM external x
    LEFT JOIN encoded_flow ef ON ef.seq = x.seq
    LEFT JOIN encoded_secret es ON es.seq = x.seq
)
SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id,
       'egress to ' || k.host || ': ' || concat_ws('; ',
           CASE WHEN k.bytes >= coalesce(TRY_CAST($min_bytes AS BIGINT), 1048576) THEN k.bytes || ' B out' END,
           CASE WHEN k.flow_how IS NOT NULL THEN k.flow_how || '-encoded content of an earlier output' END,
           CASE WHEN k.secret_how IS NOT NULL THEN 'encoded or high-entropy secret in the request (' || k.secret_how || ')' END,
           CASE WHEN k.url_blob THEN 'long encoded run in the URL' END) AS summary,
       list_sort(list_distinct(list(s.event_id))) AS related
FROM flagged k
LEFT JOIN edges f ON f.dst = k.seq AND f.kind = 'data_flow' AND k.flow_how IS NOT NULL
LEFT JOIN events s ON s.seq = f.src
WHERE (k.bytes >= coalesce(TRY_CAST($min_bytes AS BIGINT), 1048576) OR k.flow_how IS NOT NULL OR k.secret_how IS NOT NULL OR k.url_blob)
  AND ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
  AND ($session IS NULL OR k.session_id = $session)
  AND ($agent IS NULL OR k.agent_id = $agent)
GROUP BY ALL
