-- name: download_pipe_to_shell
-- kind: detection
-- severity: critical
-- description: A command that pipes a download straight into a shell or interpreter (curl ... | sh, bash -c "$(wget ...)", iwr ... | iex), flagged by the OpenClaw importer or matched in the recorded command line.
-- params: since, session, agent
-- references: MITRE ATT&CK T1105, T1059.004; OWASP LLM05:2025, LLM06:2025
WITH x AS (
    -- process.exec command lines; tool-call arguments too when the store keeps content
    SELECT seq, event_id, kind, ts, session_id, agent_id,
           coalesce(json_extract_string(attrs, '$."process.command_line"'), content, summary, '') AS cmd,
           json_extract_string(attrs, '$."openclaw.exec.pipe_to_shell"') AS flagged
    FROM events
    WHERE kind = 'process.exec'
    UNION ALL
    SELECT seq, event_id, kind, ts, session_id, agent_id, content, NULL
    FROM events
    WHERE kind = 'tool.call' AND content IS NOT NULL
),
hits AS (
    SELECT * FROM x
    WHERE flagged = 'true'
       OR regexp_matches(cmd, '(?i)\b(curl|wget|fetch)\b[^|;&]*\|\s*(sudo\s+(-\S+\s+)*)?(env\s+(\S+=\S*\s+)*)?((ba|z|da|k|fi)?sh|python[0-9.]*|perl|ruby|node|php)\b')
       OR regexp_matches(cmd, '(?i)\b(ba|z|da)?sh\s+(-c\s+)?["'']?(\$\(|<\(|`)\s*(curl|wget)\b')
       OR regexp_matches(cmd, '(?i)\b(iwr|irm|invoke-webrequest|invoke-restmethod)\b[^|;]*\|\s*(iex|invoke-expression)\b')
)
SELECT k.event_id, k.kind, k.ts, k.session_id, k.agent_id,
       'pipe to shell: ' || left(regexp_replace(k.cmd, '^exec: ', ''), 160) AS summary,
       list_sort(list_distinct(list(s.event_id))) AS related
FROM hits k
LEFT JOIN edges f ON f.dst = k.seq AND f.kind IN ('effect', 'data_flow')
LEFT JOIN events s ON s.seq = f.src
WHERE ($since IS NULL OR k.ts >= CAST($since AS TIMESTAMP))
  AND ($session IS NULL OR k.session_id = $session)
  AND ($agent IS NULL OR k.agent_id = $agent)
GROUP BY k.event_id, k.kind, k.ts, k.session_id, k.agent_id, k.cmd
