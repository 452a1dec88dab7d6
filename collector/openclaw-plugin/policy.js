// clawtrace policy gate for OpenClaw: decides, in `before_tool_call`, whether a tool call may
// contact the network. Plain ESM, Node standard library only; off unless configured.
//
//   plugins.entries.clawtrace.config.policy = {
//     enabled: true,                        // default true once a policy object is present
//     allow: ["*.example.com", "127.0.0.1:8080", "channel:slack", "web-search"],
//     strict: false,                        // block any egress once the session read a credential
//     mode: "enforce",                      // or "monitor": decide and record, never block
//   }
//
// Rules, in order (the first that blocks wins; otherwise the call is allowed):
//   strict:sensitive-read  strict mode, and this session (or this very command) read a
//                          credential file (the path rules of clawtrace.model.classify_path)
//   allowlist              a destination matches no allow pattern (an unknown destination, such
//                          as `git push origin` whose remote cannot be read, matches only `*`)
// An allowed egress is recorded with rule `allowlist:<pattern>`. Calls that contact nothing
// get no decision.
//
// Patterns: `*` (anything), `host` (any port), `host:port`, `*.domain` (subdomains of domain,
// not domain itself), `[::1]:8080`, `channel:<name or *>` (the message tool; `channel:session`
// for sessions_send, which posts into another session and whatever channel it is on), `web-search`
// (the configured search provider). Hosts compare case-insensitively, as written: `localhost`
// and `127.0.0.1` are different hosts.
//
// Destinations come from the arguments: web_fetch/browser URLs, message channels, sessions_send,
// web_search, and exec/bash/process command lines read like clawtrace/ingest/openclaw/_shell.py
// reads them (curl, wget, nc/ncat/socat/telnet, ssh, scp/rsync/sftp, git push/clone/fetch/pull, pip/uv,
// npm/pnpm/yarn/npx/bun, `sh -c`, plus any http(s)/ftp/ws URL anywhere in the command).
// `tool_call` (the Tool Search bridge) is unwrapped to the tool it calls.
//
// Failure: `decide` never throws. If evaluating a call fails, strict mode blocks it (fails
// closed: rule `gate-error`); allowlist-only mode lets it through (fails open: rule
// `gate-error`, logged). Both are recorded as decisions.
//
// Monitor mode (`mode: "monitor"`) decides exactly as above but blocks nothing: a call the
// gate would block is let through and recorded with verdict `warn`, so an operator can try
// an allowlist on a live agent before enforcing it.

import fs from "node:fs";
import path from "node:path";

// ------------------------------------------------------------------------------ config

/** The gate's settings from the plugin config's `policy` value, or null when the gate is off. */
export function normalizePolicy(p) {
  if (p == null || p === false) return null;
  if (p === true) p = {};
  if (typeof p !== "object" || Array.isArray(p)) return null;
  if (p.enabled === false) return null;
  const allow = [];
  const bad = [];
  for (const a of Array.isArray(p.allow) ? p.allow : (typeof p.allow === "string" ? [p.allow] : [])) {
    const pat = parsePattern(a);
    if (pat) allow.push(pat); else bad.push(a);
  }
  return {
    allow, bad, strict: p.strict === true, monitor: p.mode === "monitor",
    statePath: typeof p.statePath === "string" ? p.statePath : "",
  };
}

/** A compiled allow pattern, or null when `text` is not one. */
export function parsePattern(text) {
  if (typeof text !== "string") return null;
  const raw = text.trim().toLowerCase();
  if (raw.endsWith("*.")) return null;
  const t = raw.replace(/\.$/, "");
  if (!t) return null;
  if (t === "*") return { text: t, any: true };
  if (t.startsWith("channel:")) {
    const name = t.slice(8);
    return name ? { text: t, channel: name } : null;
  }
  let host = t, port = null;
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d+|\*))?$/.exec(t);
  if (v6) { host = v6[1]; port = v6[2] ?? null; }
  else if (/^[^:]+:(\d+|\*)$/.test(t)) { [host, port] = t.split(":"); }
  else if (t.includes(":") && !/^[0-9a-f:]+$/.test(t)) return null;
  if (port === "*") port = null;
  let suffix = null;
  if (host.startsWith("*.")) { suffix = host.slice(1); host = null; }
  const label = host ?? suffix.slice(1);
  if (!label || !/^[a-z0-9_.:-]+$/.test(label) || label.includes("*")) return null;
  return { text: t, host, suffix, port: port == null ? null : Number(port) };
}

/** The first pattern that allows destination `d` ({host, port} or {channel}), or null. */
export function matchAllow(patterns, d) {
  for (const p of patterns) {
    if (p.any) return p;
    if (d.channel != null) {
      if (p.channel && (p.channel === "*" || p.channel === String(d.channel).toLowerCase())) return p;
      continue;
    }
    if (p.channel || !d.host) continue;
    const h = String(d.host).toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
    const hostOk = p.host != null ? h === p.host : h.endsWith(p.suffix) && h.length > p.suffix.length;
    if (!hostOk) continue;
    if (p.port != null && Number(d.port) !== p.port) continue;
    return p;
  }
  return null;
}

// ------------------------------------------------------------------------------ paths

// Mirrors clawtrace/model.py _SECRET_PATH (classify_path -> "credential").
const SECRET_PATH = new RegExp(
  "(/\\.aws/credentials$|/\\.ssh/id_[a-z0-9_]+$|\\.pem$|\\.key$|/\\.netrc$|/\\.pgpass$|" +
  "/\\.docker/config\\.json$|/\\.kube/config$|/\\.git-credentials$|/\\.npmrc$|/\\.pypirc$|" +
  "/credentials(\\.json)?$|/secrets?(\\.[a-z]+)?$|/\\.env(\\.[a-z0-9_.-]+)?$|/auth-profiles\\.json$|" +
  "/\\.config/gh/hosts\\.yml$|/token(s)?(\\.[a-z]+)?$)",
  "i",
);

/** True when a path names a credential file (by its name alone, like classify_path). */
export function isSensitivePath(p) {
  if (typeof p !== "string" || !p) return false;
  let s = p.replace(/^file:\/\//, "");
  if (!s.includes("/")) s = "/" + s; // a bare `.env` or `credentials` in the cwd
  return SECRET_PATH.test(s);
}

// ------------------------------------------------------------------------------ commands

const SEPARATORS = new Set(["|", "||", "&&", ";", "&", "(", ")", "|&", ";;", "\n"]);
const WRAPPERS = new Set(["sudo", "env", "time", "nohup", "exec", "command", "builtin", "nice", "timeout", "stdbuf", "xargs"]);
const READERS = new Set(["cat", "head", "tail", "less", "more", "base64", "xxd", "od", "strings", "wc", "sort", "uniq",
  "md5sum", "sha1sum", "sha256sum", "tac", "nl", "hexdump", "gzip", "bzip2", "xz", "zcat", "source", ".", "cp", "tar",
  "zip", "openssl", "gpg"]);
const PATTERN_READERS = new Set(["grep", "egrep", "fgrep", "rg", "awk", "sed", "jq"]);
const URL_RE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;
const HOSTLIKE = /^(?:[\w-]+@)?(?:[a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}(?::\d+)?(?:\/\S*)?$|^\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?:\/\S*)?$|^localhost(?::\d+)?(?:\/\S*)?$/;
const ANY_URL = /\b(?:https?|ftp|wss?):\/\/[^\s'"<>`]+/gi;
const DEFAULT_PORTS = { http: 80, https: 443, ftp: 21, ssh: 22, git: 9418, rsync: 873, ws: 80, wss: 443 };
const CURL_DATA = new Set(["-d", "--data", "--data-binary", "--data-raw", "--data-urlencode", "--data-ascii", "--json"]);
const CURL_VALUE = new Set([...CURL_DATA, "-F", "--form", "--form-string", "-T", "--upload-file", "-H", "--header", "-X",
  "--request", "-o", "--output", "-u", "--user", "-A", "--user-agent", "-e", "--referer", "-x", "--proxy", "-b", "--cookie",
  "-c", "--cookie-jar", "--url", "-K", "--config", "--connect-timeout", "-m", "--max-time", "--retry", "-w", "--write-out",
  "-E", "--cert", "--key", "--cacert", "-r", "--range", "-C", "--continue-at", "--resolve", "--interface", "-U",
  "--proxy-user", "--limit-rate", "-z", "--time-cond", "--max-filesize", "-Y", "-y", "--output-dir"]);

/** POSIX-shell-like tokens; `;&|<>()` runs are separate tokens (as Python's shlex punctuation_chars). */
export function shellTokens(cmd) {
  const out = [];
  let cur = "", has = false, i = 0;
  const push = () => { if (has) out.push(cur); cur = ""; has = false; };
  while (i < cmd.length) {
    const c = cmd[i];
    if (c === "'") { const j = cmd.indexOf("'", i + 1); const e = j < 0 ? cmd.length : j; cur += cmd.slice(i + 1, e); has = true; i = e + 1; continue; }
    if (c === '"') {
      i++; has = true;
      while (i < cmd.length && cmd[i] !== '"') { if (cmd[i] === "\\" && i + 1 < cmd.length && '"\\$`'.includes(cmd[i + 1])) i++; cur += cmd[i++]; }
      i++; continue;
    }
    if (c === "\\" && i + 1 < cmd.length) { if (cmd[i + 1] !== "\n") cur += cmd[i + 1]; has = true; i += 2; continue; }
    if (c === "\n") { push(); out.push("\n"); i++; continue; }
    if (/\s/.test(c)) { push(); i++; continue; }
    if (";&|<>()".includes(c)) {
      push();
      let j = i;
      while (j < cmd.length && ";&|<>()".includes(cmd[j])) j++;
      out.push(cmd.slice(i, j));
      i = j; continue;
    }
    cur += c; has = true; i++;
  }
  push();
  return out;
}

function hostPort(target, scheme = "http") {
  const url = URL_RE.test(target) ? target : `${scheme}://${target}`;
  try {
    const u = new URL(url);
    const s = u.protocol.replace(/:$/, "").toLowerCase();
    const host = u.hostname.replace(/^\[|\]$/g, "");
    if (!host) return null;
    return { host, port: u.port ? Number(u.port) : (DEFAULT_PORTS[s] ?? null), url };
  } catch {
    return null;
  }
}

function optValue(argv, i, opts) {
  const t = argv[i];
  if (t.startsWith("--") && t.includes("=")) {
    const k = t.indexOf("=");
    if (opts.has(t.slice(0, k))) return [t.slice(0, k), t.slice(k + 1), i + 1];
  }
  if (opts.has(t)) return [t, i + 1 < argv.length ? argv[i + 1] : null, i + 2];
  if (t.length > 2 && t[0] === "-" && t[1] !== "-" && opts.has(t.slice(0, 2))) return [t.slice(0, 2), t.slice(2), i + 1];
  return [null, null, i];
}

function remote(arg) {
  if (/^(rsync|sftp|scp|ssh):\/\//.test(arg)) { const hp = hostPort(arg); return hp ? { host: hp.host, port: hp.port } : null; }
  const m = /^(?:[^@/:\s]+@)?([^/:\s]+):(.*)$/.exec(arg);
  if (m && !arg.startsWith("/") && !arg.startsWith(".")) return { host: m[1], port: null };
  return null;
}

function gitRemoteUrl(name, cwd) {
  if (!cwd) return null;
  try {
    let dir = cwd;
    for (let n = 0; n < 20; n++) {
      const cfg = path.join(dir, ".git", "config");
      if (fs.existsSync(cfg)) {
        const text = fs.readFileSync(cfg, "utf8");
        const re = new RegExp(`\\[remote "${name.replace(/[^\w.-]/g, "")}"\\]([^\\[]*)`);
        const m = re.exec(text);
        const u = m && /^\s*url\s*=\s*(\S+)/m.exec(m[1]);
        return u ? u[1] : null;
      }
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  } catch { /* unknown */ }
  return null;
}

/**
 * What a command line shows: {reads: [path], contacts: [{tool, host, port, url}]}. `host` is
 * null when the destination cannot be known from the command (e.g. an unreadable git remote).
 */
export function parseCommand(cmd, { cwd, depth = 0 } = {}) {
  const view = { reads: [], contacts: [] };
  if (typeof cmd !== "string" || !cmd) return view;
  const toks = shellTokens(cmd);
  const segs = [];
  let cur = [];
  for (const t of toks) if (SEPARATORS.has(t)) { if (cur.length) segs.push(cur); cur = []; } else cur.push(t);
  if (cur.length) segs.push(cur);
  for (let argv of segs) {
    const plain = [];
    for (let i = 0; i < argv.length; i++) {
      const t = argv[i];
      if (/^\d*<$/.test(t) && i + 1 < argv.length) { view.reads.push(argv[++i]); continue; }
      if (/^(\d*>>?|&>>?|>\|)$/.test(t)) { i++; continue; }
      plain.push(t);
    }
    argv = plain;
    let k = 0;
    while (k < argv.length) {
      if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[k])) { k++; continue; }
      if (WRAPPERS.has(argv[k])) {
        const w = argv[k++];
        while (k < argv.length && argv[k].startsWith("-")) k++;
        if (w === "timeout" && k < argv.length && /^[+-]?\d+[smhd]?$/.test(argv[k])) k++;
        continue;
      }
      break;
    }
    argv = argv.slice(k);
    if (!argv.length) continue;
    const name = path.basename(argv[0]);
    if (["sh", "bash", "zsh", "dash", "ksh"].includes(name) && argv.includes("-c") && depth < 3) {
      const inner = parseCommand(argv[argv.indexOf("-c") + 1] ?? "", { cwd, depth: depth + 1 });
      view.reads.push(...inner.reads);
      view.contacts.push(...inner.contacts);
    } else if (name === "curl") curl(argv, view);
    else if (name === "wget") wget(argv, view);
    else if (["nc", "ncat", "netcat", "telnet", "socat"].includes(name)) nc(name, argv, view);
    else if (name === "ssh") ssh(argv, view);
    else if (["scp", "rsync", "sftp"].includes(name)) scp(name, argv, view);
    else if (name === "git") git(argv, view, cwd);
    else if (["pip", "pip3", "uv", "pipx"].includes(name) || (/^python/.test(name) && argv[1] === "-m" && argv[2] === "pip")) {
      if (argv.includes("install") || argv.includes("download")) {
        const i = argv.findIndex((a) => ["-i", "--index-url", "--extra-index-url"].includes(a));
        const eq = argv.find((a) => a.startsWith("--index-url="));
        const idx = eq ? eq.split("=")[1] : (i >= 0 ? argv[i + 1] : null);
        // the configured default index is not knowable from the command line: named as the importer names it
        const hp = idx ? hostPort(idx) : { host: "pip-default-index", port: 443, url: null };
        view.contacts.push({ tool: "pip", host: hp?.host ?? null, port: hp?.port ?? null, url: hp?.url ?? null });
      }
    } else if (["npm", "pnpm", "yarn", "npx", "bun"].includes(name)) {
      const verbs = ["install", "i", "add", "ci", "exec", "x", "dlx", "publish"];
      if (name === "npx" || argv.slice(1, 3).some((a) => verbs.includes(a))) {
        view.contacts.push({ tool: name, host: "npm-default-registry", port: 443, url: null });
      }
    } else if (READERS.has(name)) {
      view.reads.push(...argv.slice(1).filter((a) => !a.startsWith("-")));
    } else if (PATTERN_READERS.has(name)) {
      const ops = argv.slice(1).filter((a) => !a.startsWith("-"));
      view.reads.push(...(argv.some((a) => ["-e", "-f", "--regexp"].includes(a)) ? ops : ops.slice(1)));
    }
  }
  if (depth === 0) {
    // Any URL anywhere (python -c "...urlopen('http://...')", a script's arguments ...).
    const known = new Set(view.contacts.map((c) => `${c.host}:${c.port}`));
    for (const m of cmd.matchAll(ANY_URL)) {
      const hp = hostPort(m[0].replace(/[),;.]+$/, ""));
      if (hp && !known.has(`${hp.host}:${hp.port}`)) {
        known.add(`${hp.host}:${hp.port}`);
        view.contacts.push({ tool: "url", host: hp.host, port: hp.port, url: hp.url });
      }
    }
  }
  view.reads = [...new Set(view.reads.filter((p) => p && p !== "-" && !p.startsWith("/dev/") && !URL_RE.test(p)))];
  return view;
}

function curl(argv, view) {
  const urls = [];
  for (let i = 1; i < argv.length;) {
    const [o, v, j] = optValue(argv, i, CURL_VALUE);
    if (o === null) {
      if (!argv[i].startsWith("-") && (URL_RE.test(argv[i]) || HOSTLIKE.test(argv[i]))) urls.push(argv[i]);
      i++; continue;
    }
    i = j;
    if (v == null) continue;
    if (CURL_DATA.has(o)) { if (v.startsWith("@")) view.reads.push(v.slice(1)); else if (o === "--data-urlencode" && /^[^=]*@/.test(v)) view.reads.push(v.split("@")[1]); }
    else if (o === "-F" || o === "--form") { const m = /^[^=]*=[@<]([^;]+)/.exec(v); if (m) view.reads.push(m[1]); }
    else if (o === "-T" || o === "--upload-file") view.reads.push(v);
    else if (o === "--url") urls.push(v);
    else if (["-E", "--cert", "--key", "-K", "--config"].includes(o)) view.reads.push(v);
  }
  for (const u of urls) { const hp = hostPort(u); if (hp) view.contacts.push({ tool: "curl", ...hp }); }
}

function wget(argv, view) {
  const opts = new Set(["--post-file", "--post-data", "-O", "--output-document", "--body-file", "--body-data", "--method", "-o", "-U", "--header", "-P"]);
  for (let i = 1; i < argv.length;) {
    const [o, v, j] = optValue(argv, i, opts);
    if (o === null) {
      if (!argv[i].startsWith("-") && (URL_RE.test(argv[i]) || HOSTLIKE.test(argv[i]))) {
        const hp = hostPort(argv[i]);
        if (hp) view.contacts.push({ tool: "wget", ...hp });
      }
      i++; continue;
    }
    i = j;
    if (v != null && (o === "--post-file" || o === "--body-file")) view.reads.push(v);
  }
}

function nc(name, argv, view) {
  const ops = argv.slice(1).filter((a) => !a.startsWith("-"));
  if (name === "socat") {
    for (const a of ops) {
      const m = /^(?:tcp|tcp4|tcp6|udp|udp4|udp6|openssl)[^:]*:([^:,]+):(\d+)/i.exec(a);
      if (m) view.contacts.push({ tool: name, host: m[1], port: Number(m[2]), url: null });
    }
    return;
  }
  if (!ops.length || argv.includes("-l")) return;
  view.contacts.push({ tool: name, host: ops[0], port: /^\d+$/.test(ops[1] ?? "") ? Number(ops[1]) : null, url: null });
}

function ssh(argv, view) {
  const opts = new Set(["-p", "-i", "-o", "-l", "-F", "-J", "-L", "-R", "-D", "-b", "-c", "-E", "-m", "-S", "-W", "-w"]);
  let port = 22;
  for (let i = 1; i < argv.length;) {
    const [o, v, j] = optValue(argv, i, opts);
    if (o !== null) {
      if (o === "-p" && /^\d+$/.test(v ?? "")) port = Number(v);
      if (o === "-i" && v) view.reads.push(v);
      i = j; continue;
    }
    if (argv[i].startsWith("-")) { i++; continue; }
    const t = argv[i];
    const hp = t.startsWith("ssh://") ? hostPort(t) : null;
    view.contacts.push({ tool: "ssh", host: hp ? hp.host : t.split("@").pop(), port: hp?.port ?? port, url: null });
    return;
  }
}

function scp(name, argv, view) {
  const opts = new Set(["-P", "-i", "-o", "-F", "-l", "-S", "-e", "--rsh", "-c", "-J", "--port", "--exclude", "--include"]);
  let port = name === "rsync" ? 873 : 22;
  const ops = [];
  for (let i = 1; i < argv.length;) {
    const [o, v, j] = optValue(argv, i, opts);
    if (o !== null) {
      if ((o === "-P" || o === "--port") && /^\d+$/.test(v ?? "")) port = Number(v);
      if (o === "-i" && v) view.reads.push(v);
      if (o === "-e" || o === "--rsh") port = 22;
      i = j; continue;
    }
    if (!argv[i].startsWith("-")) ops.push(argv[i]);
    i++;
  }
  if (ops.length < 2) return;
  const dst = remote(ops[ops.length - 1]);
  if (dst) {
    view.reads.push(...ops.slice(0, -1).filter((s) => !remote(s)));
    view.contacts.push({ tool: name, host: dst.host, port: dst.port ?? port, url: null });
    return;
  }
  for (const s of ops.slice(0, -1)) {
    const r = remote(s);
    if (r) view.contacts.push({ tool: name, host: r.host, port: r.port ?? port, url: null });
  }
}

function git(argv, view, cwd) {
  const ops = argv.slice(1).filter((a) => !a.startsWith("-"));
  const sub = ops[0];
  if (!["push", "clone", "fetch", "pull", "ls-remote"].includes(sub)) return;
  let target = ops[1] ?? "origin";
  if (!URL_RE.test(target) && !remote(target)) target = gitRemoteUrl(target, cwd) ?? target;
  let hp = null;
  if (URL_RE.test(target)) hp = hostPort(target);
  else { const r = remote(target); if (r) hp = { host: r.host, port: 22, url: null }; }
  view.contacts.push({ tool: `git ${sub}`, host: hp?.host ?? null, port: hp?.port ?? null, url: hp?.url ?? null,
                       note: hp ? undefined : `remote ${target}` });
}

// ------------------------------------------------------------------------------ tools

const EXEC_TOOLS = new Set(["exec", "bash", "shell", "process"]);
const READ_TOOLS = new Set(["read", "grep", "find", "ls", "memory_get"]);

/** `tool_call{id, args}` (the Tool Search bridge) names the tool it really calls. */
export function unwrap(name, params) {
  if (name === "tool_call" && params && typeof params.id === "string") {
    return { name: params.id, params: (params.args && typeof params.args === "object") ? params.args : {} };
  }
  return { name, params: params && typeof params === "object" ? params : {} };
}

/**
 * What a tool call would do: {egress: bool, destinations: [{host, port, url, tool} | {channel}],
 * reads: [path]}. `egress` is true for calls that send data off the box even when no destination
 * can be named (then `destinations` holds {host: null}).
 */
export function toolEffects(toolName, rawParams, { cwd, browserHost } = {}) {
  const { name, params: p } = unwrap(String(toolName || ""), rawParams);
  const out = { tool: name, egress: false, destinations: [], reads: [] };
  const url = (u, tool) => {
    const hp = typeof u === "string" && u ? hostPort(u, "https") : null;
    out.destinations.push(hp ? { tool, ...hp } : { tool, host: null, port: null, url: typeof u === "string" ? u : null });
    out.egress = true;
  };
  if (EXEC_TOOLS.has(name)) {
    // exec/bash: the command; process write/send-keys: what is typed into a running exec
    const typed = ["write", "send-keys", "send", "paste", "submit"].includes(p.action)
      ? (p.data ?? p.text ?? p.input ?? (Array.isArray(p.keys) ? p.keys.join(" ") : p.keys)) : null;
    const cmd = p.command ?? p.cmd ?? p.script ?? typed;
    if (typeof cmd === "string") {
      const v = parseCommand(cmd, { cwd: p.workdir || p.cwd || cwd });
      out.reads.push(...v.reads);
      for (const c of v.contacts) out.destinations.push(c);
      out.egress = v.contacts.length > 0;
    }
  } else if (name === "web_fetch") {
    url(p.url ?? p.href, "web_fetch");
  } else if (name === "browser") {
    const u = p.targetUrl ?? p.url ?? p.href;
    if (typeof u === "string" && u) url(u, "browser");
    else if (browserHost) { out.destinations.push({ tool: "browser", ...browserHost, url: null }); out.egress = true; }
    else if (!["status", "start", "stop", "profiles", "tabs", "screenshot", "snapshot", "console"].includes(p.action)) {
      out.destinations.push({ tool: "browser", host: null, port: null, url: null });
      out.egress = true;
    }
    for (const k of ["path", "paths", "file", "files"]) {
      const v = p[k];
      for (const f of Array.isArray(v) ? v : (typeof v === "string" ? [v] : [])) out.reads.push(f);
    }
  } else if (name === "web_search") {
    out.destinations.push({ tool: "web_search", host: "web-search", port: null, url: null });
    out.egress = true;
  } else if (name === "message") {
    if (!["read", "list", "search", "react", "reactions", "pin", "unpin"].includes(String(p.action ?? "send"))) {
      out.destinations.push({ tool: "message", channel: String(p.channel || p.provider || "current") });
      out.egress = true;
      const media = p.media ?? p.attachments ?? p.path ?? p.filePath;
      for (const m of Array.isArray(media) ? media : (typeof media === "string" ? [media] : [])) {
        if (typeof m === "string" && !URL_RE.test(m)) out.reads.push(m);
      }
    }
  } else if (name === "sessions_send") {
    // Into another session, and out on whatever channel that session is on.
    out.destinations.push({ tool: "sessions_send", channel: "session" });
    out.egress = true;
  } else if (READ_TOOLS.has(name)) {
    const f = p.path ?? p.file_path ?? p.file;
    if (typeof f === "string") out.reads.push(f);
  }
  return out;
}

// ------------------------------------------------------------------------------ the gate

function absPath(p, cwd, home = process.env.HOME) {
  let s = String(p).trim().replace(/^file:\/\//, "").replace(/^(\$HOME|\$\{HOME\}|~)(?=\/|$)/, home || "~");
  if (!s.startsWith("/") && !s.startsWith("~") && cwd) s = path.join(cwd, s);
  return s.startsWith("/") ? path.normalize(s) : s;
}

function destText(d) {
  if (d.channel != null) return `channel:${d.channel}`;
  if (!d.host) return d.note ? `an unknown destination (${d.note})` : "an unknown destination";
  const h = d.host.includes(":") ? `[${d.host}]` : d.host;
  return d.port != null ? `${h}:${d.port}` : h;
}

/**
 * The gate. `decide(event, ctx)` returns null (the call contacts nothing) or a decision
 * {verdict: "allow"|"block", rule, reason, destinations, at (the destination that decided), taint}. `observe(event, ctx)` records
 * sensitive reads after a call ran. Never throws.
 */
export class Gate {
  constructor(policy, { log = () => {}, home } = {}) {
    this.p = policy;
    this.log = log;
    this.home = home;
    this.sessions = new Map(); // session -> {taint: [{path, toolCallId, traceId, spanId}], browserHost, loaded}
    if (policy.bad?.length) log(`clawtrace policy: ignoring allow entries that are not host patterns: ${JSON.stringify(policy.bad)}`);
  }

  state(ctx) {
    const key = ctx?.sessionId || ctx?.sessionKey || "nosession";
    let st = this.sessions.get(key);
    if (!st) {
      st = { taint: [], browserHost: null };
      if (this.p.statePath && this.p.strict) {
        for (const t of this.readTaint(key)) st.taint.push(t);
      }
      this.sessions.set(key, st);
      if (this.sessions.size > 1024) this.sessions.delete(this.sessions.keys().next().value);
    }
    return st;
  }

  readTaint(sid) {
    try {
      const fd = fs.openSync(this.p.statePath, "r");
      try {
        const size = fs.fstatSync(fd).size;
        const n = Math.min(size, 4 * 1024 * 1024);
        const buf = Buffer.alloc(n);
        fs.readSync(fd, buf, 0, n, size - n);
        return buf.toString("utf8").split("\n").flatMap((line) => {
          try {
            const t = JSON.parse(line);
            return t && t.session === sid ? [t] : []; // by session id: a /reset starts clean
          } catch { return []; }
        });
      } finally { fs.closeSync(fd); }
    } catch {
      return [];
    }
  }

  taint(st, entry) {
    if (st.taint.some((t) => t.path === entry.path)) return;
    st.taint.push(entry);
    if (this.p.statePath && this.p.strict) {
      try {
        fs.mkdirSync(path.dirname(this.p.statePath), { recursive: true });
        fs.appendFileSync(this.p.statePath, JSON.stringify(entry) + "\n", { mode: 0o600 });
      } catch (e) {
        this.log(`clawtrace policy: cannot persist the session's sensitive read to ${this.p.statePath}: ${e}`);
      }
    }
  }

  /** The decision for a call about to run (see the class doc); in monitor mode a block is a `warn`. */
  decide(ev, ctx, spanRef) {
    const d = this.evaluate(ev, ctx, spanRef);
    if (!d || d.verdict !== "block" || !this.p.monitor) return d;
    return { ...d, verdict: "warn", reason: `Monitor mode, not enforced: ${d.reason}` };
  }

  evaluate(ev, ctx, spanRef) {
    const toolCallId = ev?.toolCallId || ctx?.toolCallId;
    try {
      const st = this.state(ctx);
      const cwd = ctx?.workspaceDir || ctx?.cwd;
      const fx = toolEffects(ev?.toolName || ctx?.toolName, ev?.params, { cwd, browserHost: st.browserHost });
      const reads = fx.reads.map((r) => absPath(r, cwd, this.home)).filter(isSensitivePath);
      const entry = (p) => ({ session: ctx?.sessionId || ctx?.sessionKey, sessionKey: ctx?.sessionKey, path: p, toolCallId,
                               traceId: spanRef?.traceId, spanId: spanRef?.spanId, tool: fx.tool });
      // A sensitive read taints the session before the call runs: conservative (a read that then
      // fails still counts), and a command that reads a credential and sends it is caught whole.
      for (const r of reads) this.taint(st, entry(r));
      if (!fx.egress) return null;
      const dests = fx.destinations;
      const what = `${fx.tool} would contact ${dests.map(destText).join(", ")}`;
      if (this.p.strict && st.taint.length) {
        const t = st.taint[0];
        const own = t.toolCallId === toolCallId;
        return {
          verdict: "block", rule: "strict:sensitive-read", destinations: dests, at: dests[0], taint: t,
          reason: `Blocked by the clawtrace policy gate (strict mode): ${what}, but ` +
            (own ? `this same command reads the sensitive file ${t.path}` : `this session already read the sensitive file ${t.path}` +
              (t.toolCallId ? ` (tool call ${t.toolCallId})` : "")) +
            ", so nothing may leave the machine from this session. Do not retry or work around this; tell the user. " +
            "An operator can review it with `clawtrace why`.",
        };
      }
      const matched = [];
      for (const d of dests) {
        const m = matchAllow(this.p.allow, d);
        if (!m) {
          const allowed = this.p.allow.map((a) => a.text).join(", ") || "nothing";
          return {
            verdict: "block", rule: "allowlist", destinations: dests, at: d,
            reason: `Blocked by the clawtrace policy gate: ${what}; ${destText(d)} is not in the egress allowlist ` +
              `(allowed: ${allowed}). Do not retry or work around this; if the destination is needed, ask the operator ` +
              "to add it to plugins.entries.clawtrace.config.policy.allow (clawtrace openclaw install-plugin --policy-allow).",
          };
        }
        matched.push(m.text);
      }
      if (fx.tool === "browser") {
        const d = dests.find((x) => x.host);
        if (d) st.browserHost = { host: d.host, port: d.port };
      }
      return { verdict: "allow", rule: `allowlist:${[...new Set(matched)].join(",")}`, destinations: dests, reason: `${what}: allowed` };
    } catch (e) {
      this.log(`clawtrace policy: evaluating ${ev?.toolName} failed: ${e?.stack || e}`);
      if (this.p.strict) {
        return { verdict: "block", rule: "gate-error", destinations: [], error: String(e),
                 reason: "Blocked by the clawtrace policy gate: the gate could not evaluate this call and strict mode fails closed. Tell the user." };
      }
      return { verdict: "allow", rule: "gate-error", destinations: [], error: String(e), reason: "the gate could not evaluate this call; allowlist mode fails open" };
    }
  }
}
