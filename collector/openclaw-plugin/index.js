// clawtrace provenance capture for OpenClaw: plain ESM, Node standard library only.
//
// Registers OpenClaw's tool, model, message and session hooks and posts OTLP/HTTP JSON spans
// in clawtrace's conventions (docs/semconv.md) to a receiver (`clawtrace serve`, default
// http://127.0.0.1:4318/v1/traces):
//
//   llm_input / message_received  -> clawtrace.input.message (content: the prompt / message)
//   model_call_started/_ended     -> clawtrace.model.turn, with `consumed` links to the inputs
//                                    and tool results that were in its context
//   before_tool_call              -> clawtrace.tool.call (content: the arguments), a child of
//                                    the model turn that emitted it, plus effects read from
//                                    the arguments (process.exec, curl's net.egress/file.read,
//                                    file.write)
//   after_tool_call               -> clawtrace.tool.result (content: the result), a child of the
//                                    call, plus file.read / net.fetch for read / web_fetch
//   tool_result_persist           -> clawtrace.tool.result when after_tool_call did not fire
//   llm_output, agent_end,        -> openclaw.* spans (kept by clawtrace as raw spans)
//   session_start/_end
//
// Optionally (settings `policy`, off by default) a policy gate in before_tool_call blocks
// egress to hosts outside an allowlist, and in strict mode any egress once the session read a
// credential; each decision is a clawtrace.policy.decision span linked to the call (policy.js).
// In monitor mode it blocks nothing and records what it would have blocked as verdict `warn`.
//
// gen_ai.conversation.id is OpenClaw's sessionId and gen_ai.tool.call.id its toolCallId, the
// ids the transcript importer keys tool calls on, so live and imported evidence merge.
//
// Capture never blocks or breaks the agent: every hook is wrapped, returns nothing (except the
// gate's block result), and only queues.
// Batches are posted in the background with retries; a batch that cannot be delivered goes to
// a bounded spool file (JSON lines) that is re-sent when the receiver answers again, and at
// process exit whatever is still queued is spooled and one bounded (3 s) drain is attempted.

import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Gate, normalizePolicy, shellTokens } from "./policy.js";

const CONTEXT_CAP = 50; // a turn links at most this many of its session's latest inputs and results (as the importer)

export const PLUGIN_ID = "clawtrace";
export const VERSION = "0.1.0";
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SETTINGS_FILE = "clawtrace-plugin.json";

export const DEFAULTS = Object.freeze({
  endpoint: "http://127.0.0.1:4318/v1/traces",
  token: "",
  spoolPath: "",
  spoolMaxBytes: 16 * 1024 * 1024,
  maxContentBytes: 256 * 1024,
  flushMs: 200,
  maxBatch: 256,
  retries: 3,
  timeoutMs: 5000,
  policy: null, // the policy gate (policy.js); off unless set
});

// ------------------------------------------------------------------------------ settings

function readJson(p) {
  try {
    return JSON.parse(fs.readFileSync(p, "utf8"));
  } catch {
    return null;
  }
}

/** Settings: defaults < clawtrace-plugin.json next to this file < plugin config < environment. */
export function loadSettings(pluginConfig, env = process.env, dir = HERE) {
  const s = { ...DEFAULTS };
  for (const src of [readJson(path.join(dir, SETTINGS_FILE)), pluginConfig]) {
    if (src && typeof src === "object") {
      for (const k of Object.keys(DEFAULTS)) if (src[k] !== undefined && src[k] !== null) s[k] = src[k];
    }
  }
  if (env.CLAWTRACE_OTLP_ENDPOINT) s.endpoint = env.CLAWTRACE_OTLP_ENDPOINT;
  if (env.CLAWTRACE_OTLP_TOKEN) s.token = env.CLAWTRACE_OTLP_TOKEN;
  if (env.CLAWTRACE_PLUGIN_SPOOL) s.spoolPath = env.CLAWTRACE_PLUGIN_SPOOL;
  if (!s.spoolPath) s.spoolPath = path.join(dir, "spool", "spans.jsonl");
  return s;
}

// ------------------------------------------------------------------------------ OTLP JSON

const T0_NS = BigInt(Date.now()) * 1000000n - process.hrtime.bigint();
export const nowNs = () => T0_NS + process.hrtime.bigint();

const hex = (n) => randomBytes(n).toString("hex");
const sha = (s) => createHash("sha256").update(s).digest("hex");
const isHexId = (v, len) => typeof v === "string" && v.length === len && /^[0-9a-f]+$/i.test(v) && /[1-9a-f]/i.test(v);

function anyValue(v) {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (typeof v === "bigint") return { intValue: v.toString() };
  if (typeof v === "number") return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.filter((x) => x != null).map(anyValue) } };
  return { stringValue: JSON.stringify(v) };
}

export function attributes(obj) {
  const out = [];
  for (const [key, v] of Object.entries(obj || {})) {
    if (v === undefined || v === null || v === "") continue;
    out.push({ key, value: anyValue(v) });
  }
  return out;
}

export function envelope(spans) {
  return {
    resourceSpans: [{
      resource: { attributes: attributes({
        "service.name": "openclaw",
        "clawtrace.collector": `openclaw-plugin/${VERSION}`,
        // paths under it are keyed home-relative, as the importer (which may not know it) keys them
        "clawtrace.agent.home": process.env.HOME,
      }) },
      scopeSpans: [{ scope: { name: "clawtrace.openclaw-plugin", version: VERSION }, spans }],
    }],
  };
}

// ------------------------------------------------------------------------------ exporter

function post(endpoint, body, { token, timeoutMs }) {
  return new Promise((resolve) => {
    let url;
    try {
      url = new URL(endpoint);
    } catch {
      resolve({ ok: false, retry: false, error: `bad endpoint ${endpoint}` });
      return;
    }
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(body),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      timeout: timeoutMs,
    }, (res) => {
      res.resume();
      res.on("end", () => {
        const code = res.statusCode || 0;
        const ra = Number(res.headers["retry-after"]);
        resolve({
          ok: code >= 200 && code < 300,
          retry: code === 429 || code === 502 || code === 503 || code === 504 || code === 408,
          retryAfterMs: Number.isFinite(ra) ? Math.min(ra, 30) * 1000 : undefined,
          status: code,
        });
      });
      res.on("error", (e) => resolve({ ok: false, retry: true, error: String(e) }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ ok: false, retry: true, error: String(e) }));
    req.end(body);
  });
}

const sleep = (ms) => new Promise((r) => { const t = setTimeout(r, ms); t.unref?.(); });

export class Exporter {
  constructor(settings, log = () => {}) {
    this.s = settings;
    this.log = log;
    this.queue = [];
    this.inflight = new Set();
    this.chain = Promise.resolve();
    this.timer = null;
    this.stats = { sent: 0, spooled: 0, dropped: 0, failed: 0 };
    this.warned = false;
  }

  add(span) {
    this.queue.push(span);
    if (this.queue.length >= this.s.maxBatch) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => { this.timer = null; this.flush(); }, this.s.flushMs);
      this.timer.unref?.();
    }
  }

  /** Queue the current batch for sending; resolves when everything queued so far is settled. */
  flush() {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.queue.length) {
      const body = JSON.stringify(envelope(this.queue.splice(0)));
      this.inflight.add(body);
      this.chain = this.chain.then(() => this._deliver(body)).catch(() => {});
    }
    return this.chain;
  }

  async _deliver(body) {
    try {
      const ok = await this._send(body);
      if (ok) {
        this.stats.sent += 1;
        await this._drainSpool();
      } else {
        this._spool(body);
      }
    } finally {
      this.inflight.delete(body);
    }
  }

  async _send(body) {
    for (let attempt = 0; attempt <= this.s.retries; attempt++) {
      const r = await post(this.s.endpoint, body, this.s);
      if (r.ok) return true;
      this.stats.failed += 1;
      if (!this.warned) {
        this.warned = true;
        this.log(`clawtrace: cannot post spans to ${this.s.endpoint} (${r.status || r.error}); spooling to ${this.s.spoolPath}`);
      }
      if (!r.retry || attempt === this.s.retries) break;
      await sleep(r.retryAfterMs ?? 100 * 4 ** attempt);
    }
    return false;
  }

  _spool(body) {
    try {
      const p = this.s.spoolPath;
      fs.mkdirSync(path.dirname(p), { recursive: true });
      let size = 0;
      try { size = fs.statSync(p).size; } catch { /* none yet */ }
      if (size + body.length + 1 > this.s.spoolMaxBytes) {
        this.stats.dropped += 1;
        this.log(`clawtrace: spool ${p} is full (${size} B); dropped a batch of spans`);
        return;
      }
      fs.appendFileSync(p, body + "\n");
      this.stats.spooled += 1;
    } catch (e) {
      this.stats.dropped += 1;
      this.log(`clawtrace: cannot spool spans: ${e}`);
    }
  }

  async _drainSpool() {
    const r = await drainSpool(this.s);
    this.stats.sent += r.sent;
  }

  /** Synchronous, for process exit: spool what is queued or in flight, then one bounded drain. */
  exitFlush() {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.queue.length) this.inflight.add(JSON.stringify(envelope(this.queue.splice(0))));
    if (!this.inflight.size) return;
    for (const body of this.inflight) this._spool(body);
    this.inflight.clear();
    try {
      spawnSync(process.execPath, [path.join(HERE, "drain.js")], {
        env: { ...process.env, CLAWTRACE_OTLP_ENDPOINT: this.s.endpoint, CLAWTRACE_OTLP_TOKEN: this.s.token || "",
               CLAWTRACE_PLUGIN_SPOOL: this.s.spoolPath },
        stdio: "ignore", timeout: 3000,
      });
    } catch { /* the spool stays for the next run */ }
  }
}

/** Re-send a spool file's batches; what still fails is put back. Claims the file by renaming it. */
export async function drainSpool(s) {
  const p = s.spoolPath;
  const claimed = `${p}.${process.pid}.${hex(4)}.draining`;
  try {
    fs.renameSync(p, claimed);
  } catch {
    return { sent: 0, left: 0 };
  }
  let lines = [];
  try {
    lines = fs.readFileSync(claimed, "utf8").split("\n").filter(Boolean);
  } catch { /* gone */ }
  let sent = 0;
  const left = [];
  for (const line of lines) {
    if (left.length) { left.push(line); continue; } // receiver down again: keep the rest, in order
    const r = await post(s.endpoint, line, s);
    if (r.ok) sent += 1;
    else left.push(line);
  }
  try {
    if (left.length) fs.appendFileSync(p, left.join("\n") + "\n");
    fs.rmSync(claimed, { force: true });
  } catch { /* keep the claimed file rather than lose it */ }
  return { sent, left: left.length };
}

// ------------------------------------------------------------------------------ content

function clip(text, max) {
  if (text == null) return {};
  const s = typeof text === "string" ? text : JSON.stringify(text);
  const b = Buffer.from(s, "utf8");
  if (b.length <= max) return { "clawtrace.content.text": s };
  return {
    "clawtrace.content.text": b.subarray(0, max).toString("utf8"),
    "clawtrace.content.truncated": true,
    "clawtrace.content.size": b.length,
    "clawtrace.content.sha256": sha(b),
  };
}

/** The text of a tool result `{content:[{type:"text",text}], details}` or an error. */
export function resultText(result, error) {
  if (error) return typeof error === "string" ? error : (error.message || JSON.stringify(error));
  if (result == null) return "";
  if (typeof result === "string") return result;
  const c = result.content ?? result;
  if (typeof c === "string") return c;
  if (Array.isArray(c)) {
    const parts = c.map((p) => (p && typeof p === "object" ? (p.text ?? (p.type === "text" ? "" : "")) : String(p)));
    if (parts.some(Boolean)) return parts.join("");
  }
  return JSON.stringify(result);
}

// ------------------------------------------------------------------------------ commands

const CURL_DATA = new Set(["-d", "--data", "--data-binary", "--data-raw", "--data-ascii", "--data-urlencode", "--json"]);
const CURL_VALUE = new Set([...CURL_DATA, "-F", "--form", "--form-string", "-T", "--upload-file", "-X", "--request", "--url",
  "-o", "--output", "-H", "--header", "-u", "--user", "-A", "--user-agent", "-e", "--referer", "-b", "--cookie", "-c",
  "--cookie-jar", "-x", "--proxy", "-m", "--max-time", "--connect-timeout", "-w", "--write-out", "-K", "--config",
  "-E", "--cert", "--key", "--cacert", "-r", "--range", "--retry", "-U", "--proxy-user"]);

/** curl invocations in a command: [{url, method, files:[path], literal}] (what leaves the box). */
export function curlContacts(cmd) {
  // One tokenizer for the gate and the capture (policy.js): `;&|` runs and newlines end a
  // command; a redirection (`> out.txt`, `< in`) takes its target along, which is no URL.
  const segs = [[]];
  let redirect = false;
  for (const t of shellTokens(cmd)) {
    if (t === "\n" || /^[;&|]+$/.test(t)) { segs.push([]); redirect = false; continue; }
    if (/^[<>()]+$/.test(t)) { redirect = /[<>]/.test(t); continue; }
    if (redirect) { redirect = false; continue; }
    segs[segs.length - 1].push(t);
  }
  const out = [];
  for (let argv of segs) {
    while (argv.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[0]) || ["sudo", "env", "command", "exec", "nohup", "time"].includes(argv[0]))) argv = argv.slice(1);
    if (!argv.length || path.basename(argv[0]) !== "curl") continue;
    const urls = [], files = [], literal = [];
    let method = null, upload = false;
    for (let i = 1; i < argv.length; i++) {
      let o = argv[i], v = null;
      if (o.startsWith("--") && o.includes("=")) { v = o.slice(o.indexOf("=") + 1); o = o.slice(0, o.indexOf("=")); }
      else if (/^-[A-Za-z]./.test(o) && CURL_VALUE.has(o.slice(0, 2))) { v = o.slice(2); o = o.slice(0, 2); }
      else if (CURL_VALUE.has(o)) { v = argv[++i] ?? ""; }
      else { if (!o.startsWith("-") && /^(https?:\/\/|[\w.-]+\.[a-z]{2,}(:\d+)?(\/|$)|\d+\.\d+\.\d+\.\d+)/i.test(o)) urls.push(o); continue; }
      if (CURL_DATA.has(o)) {
        upload = true;
        if (v.startsWith("@")) files.push(v.slice(1)); else literal.push(v);
      } else if (o === "-F" || o === "--form") {
        upload = true;
        const m = /^[^=]*=[@<]([^;]+)/.exec(v);
        if (m) files.push(m[1]); else literal.push(v);
      } else if (o === "--form-string") { upload = true; literal.push(v); }
      else if (o === "-T" || o === "--upload-file") { upload = true; method = method || "PUT"; files.push(v); }
      else if (o === "-X" || o === "--request") method = v.toUpperCase();
      else if (o === "--url") urls.push(v);
    }
    if (upload && !method) method = "POST";
    for (const u of urls) out.push({ url: /^[a-z]+:\/\//i.test(u) ? u : `http://${u}`, method: method || "GET", files, literal: literal.join("&") || null, upload });
  }
  return out;
}

export function absPath(p, cwd, home = process.env.HOME) {
  let s = String(p).trim().replace(/^file:\/\//, "").replace(/^(\$HOME|\$\{HOME\}|~)(?=\/|$)/, home || "~");
  if (!s.startsWith("/") && !s.startsWith("~") && cwd) s = path.join(cwd, s);
  return s.startsWith("/") ? path.normalize(s) : s;
}

function readSmall(p, max) {
  try {
    const st = fs.statSync(p);
    if (!st.isFile() || st.size > max) return null;
    return fs.readFileSync(p, "utf8");
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------------------ the collector

/** Turns hook calls into spans. `emit(span)` gets each finished OTLP JSON span. */
export class Collector {
  constructor(emit, settings = DEFAULTS) {
    this.emit = emit;
    this.s = settings;
    this.sessions = new Map(); // sessionKey -> sessionId
    this.workspaces = new Map(); // sessionId or sessionKey -> workspaceDir (tool hooks lack it)
    this.contexts = new Map(); // sessionId -> the latest CONTEXT_CAP inputs and results (what a turn sees)
    this.runs = new Map(); // runId -> run state
    this.calls = new Map(); // toolCallId -> call state
  }

  sessionOf(ev, ctx) {
    const key = ctx?.sessionKey || ev?.sessionKey;
    const sid = ctx?.sessionId || ev?.sessionId || (key ? this.sessions.get(key) : undefined);
    if (key && sid) this.sessions.set(key, sid);
    return sid;
  }

  /** An input or tool result entered session `sid`: every later turn of it has it in context. */
  remember(r, sid, ref) {
    r.pending.push(ref);
    if (!sid) return;
    let c = this.contexts.get(sid);
    if (!c) {
      c = [];
      this.contexts.set(sid, c);
      if (this.contexts.size > 1024) this.contexts.delete(this.contexts.keys().next().value);
    }
    c.push(ref);
    if (c.length > CONTEXT_CAP) c.splice(0, c.length - CONTEXT_CAP);
  }

  /** The `consumed` links of a turn starting now: what is still in its session's context (a
   * model sees the whole conversation, as the importer has it), else what came since the
   * previous turn of the run. */
  inContext(r, ev, ctx) {
    const since = r.pending.splice(0);
    const sid = this.sessionOf(ev, ctx);
    const c = sid ? this.contexts.get(sid) : undefined;
    return c ? c.slice() : since;
  }

  run(runId, ctx) {
    const id = runId || ctx?.runId || "norun";
    let r = this.runs.get(id);
    if (!r) {
      const t = ctx?.trace?.traceId;
      r = { id, traceId: isHexId(t, 32) ? t.toLowerCase() : (runId ? sha(`openclaw-run:${runId}`).slice(0, 32) : hex(16)),
            turn: null, turns: new Map(), pending: [], usage: null, touched: Date.now() };
      this.runs.set(id, r);
      if (this.runs.size > 256) { // forget the oldest runs (long-lived Gateway)
        const old = [...this.runs.values()].sort((a, b) => a.touched - b.touched).slice(0, 64);
        for (const o of old) this.runs.delete(o.id);
      }
    }
    r.touched = Date.now();
    return r;
  }

  /** `ctx` with its session's workspaceDir: tool hooks do not carry it, agent hooks do. */
  withWorkspace(ev, ctx) {
    if (ctx?.workspaceDir) return ctx;
    const sid = this.sessionOf(ev, ctx);
    const key = ctx?.sessionKey || ev?.sessionKey;
    const ws = (sid && this.workspaces.get(sid)) || (key && this.workspaces.get(key));
    return ws ? { ...ctx, workspaceDir: ws } : ctx;
  }

  common(ev, ctx, runId) {
    const key = ctx?.sessionKey || ev?.sessionKey;
    if (ctx?.workspaceDir) {
      const sid = this.sessionOf(ev, ctx);
      if (sid) this.workspaces.set(sid, ctx.workspaceDir);
      if (key) this.workspaces.set(key, ctx.workspaceDir);
      if (this.workspaces.size > 4096) this.workspaces.delete(this.workspaces.keys().next().value);
    }
    let agent = ctx?.agentId;
    if (!agent && typeof key === "string" && key.startsWith("agent:")) agent = key.split(":")[1];
    return {
      "gen_ai.conversation.id": this.sessionOf(ev, ctx),
      "gen_ai.agent.id": agent,
      "clawtrace.run.id": runId || ctx?.runId || ev?.runId,
      "openclaw.session.key": key,
    };
  }

  span(name, { traceId, spanId = hex(8), parent, start, end, attrs, links, error }) {
    const sp = {
      traceId, spanId, name, kind: 1,
      startTimeUnixNano: String(start ?? nowNs()),
      endTimeUnixNano: String(end ?? start ?? nowNs()),
      attributes: attributes(attrs),
    };
    if (parent) sp.parentSpanId = parent;
    if (links?.length) {
      sp.links = links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: attributes({ "clawtrace.link.kind": l.kind || "consumed" }) }));
    }
    if (error) sp.status = { code: 2, message: String(error).slice(0, 500) };
    this.emit(sp);
    return sp;
  }

  // -- inputs

  llm_input(ev, ctx) {
    const r = this.run(ev.runId, ctx);
    const sp = this.span("clawtrace.input.message", {
      traceId: r.traceId,
      attrs: {
        ...this.common(ev, ctx, ev.runId),
        "clawtrace.message.sender": ctx?.senderId,
        "clawtrace.message.channel": ctx?.channel,
        "process.working_directory": ctx?.workspaceDir,
        "gen_ai.provider.name": ev.provider,
        "gen_ai.request.model": ev.model,
        "openclaw.prompt": true, // the run's prompt: keyed on the run, as the importer keys it
        ...clip(ev.prompt ?? "", this.s.maxContentBytes),
      },
    });
    this.remember(r, this.sessionOf(ev, ctx), { traceId: sp.traceId, spanId: sp.spanId });
  }

  message_received(ev, ctx) {
    const content = typeof ev.content === "string" ? ev.content : resultText(ev.content);
    const traceId = isHexId(ctx?.trace?.traceId, 32) ? ctx.trace.traceId : hex(16);
    this.span("clawtrace.input.message", {
      traceId,
      attrs: {
        ...this.common(ev, ctx),
        "clawtrace.message.sender": ev.senderId || ev.from,
        "clawtrace.message.channel": ctx?.channelId,
        "openclaw.message.id": ev.messageId,
        ...clip(content, this.s.maxContentBytes),
      },
    });
  }

  // -- model turns

  model_call_started(ev, ctx) {
    const r = this.run(ev.runId, ctx);
    const t = { spanId: hex(8), start: nowNs(), links: this.inContext(r, ev, ctx) };
    r.turn = t;
    if (ev.callId) r.turns.set(ev.callId, t);
  }

  model_call_ended(ev, ctx) {
    const r = this.run(ev.runId, ctx);
    const t = (ev.callId && r.turns.get(ev.callId)) || r.turn || { spanId: hex(8), start: nowNs(), links: this.inContext(r, ev, ctx) };
    if (ev.callId) r.turns.delete(ev.callId);
    r.turn = t;
    this.span("clawtrace.model.turn", {
      traceId: r.traceId, spanId: t.spanId, start: t.start, end: nowNs(), links: t.links,
      error: ev.outcome && !["ok", "success", "completed"].includes(String(ev.outcome)) ? ev.outcome : undefined,
      attrs: {
        ...this.common(ev, ctx, ev.runId),
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": ev.provider,
        "gen_ai.request.model": ev.model,
        "openclaw.model.call_id": ev.callId,
        "openclaw.model.api": ev.api,
        "openclaw.model.outcome": ev.outcome,
        "openclaw.model.request_bytes": ev.requestPayloadBytes,
        "openclaw.model.response_bytes": ev.responseStreamBytes,
        "openclaw.model.ttfb_ms": ev.timeToFirstByteMs,
      },
    });
  }

  llm_output(ev, ctx) {
    const r = this.run(ev.runId, ctx);
    r.usage = ev.usage || null;
    r.outputs = Array.isArray(ev.assistantTexts) ? ev.assistantTexts.length : undefined;
  }

  agent_end(ev, ctx) {
    const r = this.run(ev.runId, ctx);
    const u = r.usage || {};
    this.span("openclaw.agent.run", {
      traceId: r.traceId,
      start: ev.durationMs ? nowNs() - BigInt(Math.round(ev.durationMs)) * 1000000n : undefined,
      end: nowNs(),
      error: ev.success === false ? (ev.error || "failed") : undefined,
      attrs: {
        ...this.common(ev, ctx, ev.runId),
        "openclaw.run.success": ev.success,
        "openclaw.run.messages": Array.isArray(ev.messages) ? ev.messages.length : undefined,
        "gen_ai.usage.input_tokens": u.input ?? u.inputTokens ?? u.prompt_tokens,
        "gen_ai.usage.output_tokens": u.output ?? u.outputTokens ?? u.completion_tokens,
      },
    });
    this.runs.delete(r.id);
  }

  // -- tools

  /** The span ids the tool call `ev` will get (so a policy decision can point at it first). */
  reserveCall(ev, ctx) {
    const r = this.run(ev.runId, ctx);
    const id = ev.toolCallId || ctx?.toolCallId;
    const c = { traceId: r.traceId, spanId: hex(8), start: nowNs(), id };
    this.reserved = c;
    return c;
  }

  before_tool_call(ev, ctx, decision) {
    ctx = this.withWorkspace(ev, ctx);
    const id = ev.toolCallId || ctx?.toolCallId;
    const r = this.run(ev.runId, ctx);
    const params = ev.params ?? {};
    const common = this.common(ev, ctx, ev.runId);
    const res = this.reserved && this.reserved.id === id && this.reserved.traceId === r.traceId ? this.reserved : null;
    this.reserved = null;
    const c = { traceId: r.traceId, spanId: res?.spanId ?? hex(8), start: res?.start ?? nowNs(), runId: r.id,
                name: ev.toolName || ctx?.toolName, params, common, cwd: ctx?.workspaceDir, resultSent: false };
    if (id) this.calls.set(id, c);
    if (this.calls.size > 4096) this.calls.delete(this.calls.keys().next().value);
    let links;
    if (decision) {
      const d = this.decisionSpan(decision, c, id);
      links = [{ traceId: d.traceId, spanId: d.spanId, kind: "effect" }]; // decision -> call: why the call ran or not
      c.policy = { "clawtrace.policy.verdict": decision.verdict, "clawtrace.policy.rule": decision.rule };
      // A blocked call's effects are what it would have done; a warned one's what it did
      // against the policy: both carry the verdict, so `egress` can say so.
      if (decision.verdict === "block" || decision.verdict === "warn") c.marked = c.policy;
    }
    const attrs = {
      ...common,
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": c.name,
      "gen_ai.tool.call.id": id,
      "process.working_directory": ctx?.workspaceDir,
      ...(c.policy || {}),
      ...clip(JSON.stringify(params), this.s.maxContentBytes),
    };
    this.span("clawtrace.tool.call", { traceId: c.traceId, spanId: c.spanId, parent: r.turn?.spanId, start: c.start, attrs, links });
    this.argEffects(c, id);
  }

  /** A clawtrace.policy.decision span for the call `c` (emitted before the call's own span). */
  decisionSpan(decision, c, id) {
    const d = decision.at || decision.destinations?.[0] || {};
    const taint = decision.taint;
    // strict: point at the sensitive read (its file.read when this process saw the result,
    // else the call that read it), so `why` on the blocked call names the credential
    const from = taint && taint.toolCallId !== id ? (this.calls.get(taint.toolCallId)?.readSpan ?? taint) : null;
    return this.span("clawtrace.policy.decision", {
      traceId: c.traceId, start: c.start,
      links: from?.traceId && from?.spanId ? [{ traceId: from.traceId, spanId: from.spanId, kind: "consumed" }] : undefined,
      attrs: {
        ...c.common,
        "gen_ai.tool.name": c.name,
        "gen_ai.tool.call.id": id,
        "clawtrace.policy.verdict": decision.verdict,
        "clawtrace.policy.rule": decision.rule,
        "clawtrace.policy.reason": decision.reason,
        "clawtrace.summary": `policy ${decision.verdict} (${decision.rule}): ${c.name} to ` +
          (decision.destinations?.map((x) => (x.channel != null ? `channel:${x.channel}` : `${x.host ?? "?"}${x.port != null ? `:${x.port}` : ""}`)).join(", ") || "?"),
        "server.address": d.host ?? undefined,
        "server.port": d.port ?? undefined,
        "url.full": d.url ?? undefined,
        "openclaw.policy.sensitive_path": taint?.path,
        "openclaw.policy.error": decision.error,
      },
    });
  }

  effect(c, id, kind, attrs, { links, content } = {}) {
    return this.span(`clawtrace.${kind}`, {
      traceId: c.traceId, parent: c.spanId, links,
      attrs: { ...c.common, "gen_ai.tool.call.id": id, "gen_ai.tool.name": c.name,
               ...(content != null ? clip(content, this.s.maxContentBytes) : {}), ...(c.marked || {}), ...attrs },
    });
  }

  argEffects(c, id) {
    const p = c.params || {};
    const tool = String(c.name || "");
    if ((tool === "exec" || tool === "bash") && typeof p.command === "string") {
      const cwd = p.workdir || p.cwd || c.cwd;
      this.effect(c, id, "process.exec", { "process.command_line": p.command, "process.working_directory": cwd }, { content: p.command });
      for (const k of curlContacts(p.command)) {
        const reads = [];
        let body = "";
        for (const f of k.files) {
          const abs = absPath(f, cwd);
          const text = abs.startsWith("/") ? readSmall(abs, this.s.maxContentBytes) : null;
          if (text != null) body += text;
          reads.push(this.effect(c, id, "file.read", { "file.path": abs, "clawtrace.artifact.uri": abs.startsWith("/") ? `file://${abs}` : undefined }, { content: text }));
        }
        if (k.literal) body += k.literal;
        let u = null;
        try { u = new URL(k.url); } catch { continue; }
        const port = u.port ? Number(u.port) : (u.protocol === "https:" ? 443 : 80);
        this.effect(c, id, "net.egress", {
          "url.full": k.url, "server.address": u.hostname, "server.port": port, "http.request.method": k.method,
          "clawtrace.artifact.uri": `host:${u.hostname}:${port}`,
          "clawtrace.net.bytes_out": body ? Buffer.byteLength(body) : undefined,
          "openclaw.exec.tool": "curl",
        }, { content: body || null, links: reads.map((s) => ({ traceId: s.traceId, spanId: s.spanId, kind: "data_flow" })) });
      }
    } else if ((tool === "write" || tool === "edit") && typeof (p.path ?? p.file_path) === "string") {
      const abs = absPath(p.path ?? p.file_path, c.cwd);
      this.effect(c, id, "file.write", { "file.path": abs }, { content: p.content ?? p.newText ?? p.new_string ?? null });
    }
  }

  after_tool_call(ev, ctx) {
    const id = ev.toolCallId || ctx?.toolCallId;
    let c = id ? this.calls.get(id) : undefined;
    if (!c) { // no before_tool_call seen (plugin loaded mid-run): record the call now
      this.before_tool_call(ev, ctx);
      c = id ? this.calls.get(id) : undefined;
      if (!c) return;
    }
    c.resultSent = true;
    this.result(c, id, resultText(ev.result, ev.error), {
      isError: Boolean(ev.error) || ev.result?.isError === true,
      durationMs: ev.durationMs,
    });
    const tool = String(c.name || "");
    const text = resultText(ev.result, ev.error);
    if (!ev.error && tool === "read" && typeof (c.params.path ?? c.params.file_path) === "string") {
      c.readSpan = this.effect(c, id, "file.read", { "file.path": absPath(c.params.path ?? c.params.file_path, c.cwd) }, { content: text });
    } else if (!ev.error && tool === "web_fetch" && typeof c.params.url === "string") {
      this.effect(c, id, "net.fetch", { "url.full": c.params.url, "clawtrace.trust": "untrusted" }, { content: text });
    }
  }

  result(c, id, text, { isError, durationMs, synthetic } = {}) {
    const r = this.run(c.runId);
    const sp = this.span("clawtrace.tool.result", {
      traceId: c.traceId, parent: c.spanId,
      start: durationMs ? c.start + BigInt(Math.round(durationMs)) * 1000000n : nowNs(),
      attrs: {
        ...c.common,
        "gen_ai.tool.name": c.name,
        "gen_ai.tool.call.id": id,
        "clawtrace.tool.is_error": isError || undefined,
        "openclaw.tool.duration_ms": durationMs,
        "openclaw.tool.synthetic": synthetic || undefined,
        ...clip(text, this.s.maxContentBytes),
      },
    });
    this.remember(r, c.common["gen_ai.conversation.id"], { traceId: sp.traceId, spanId: sp.spanId });
  }

  tool_result_persist(ev, ctx) {
    const id = ev.toolCallId || ctx?.toolCallId;
    const c = id ? this.calls.get(id) : undefined;
    if (!c || c.resultSent) return;
    c.resultSent = true;
    const m = ev.message || {};
    this.result(c, id, resultText(m), { isError: m.isError === true, synthetic: ev.isSynthetic === true });
  }

  // -- sessions

  session_start(ev, ctx) {
    const sid = this.sessionOf(ev, ctx);
    this.span("openclaw.session.start", {
      traceId: hex(16),
      attrs: { ...this.common(ev, ctx), "gen_ai.conversation.id": sid, "openclaw.session.resumed_from": ev.resumedFrom },
    });
  }

  session_end(ev, ctx) {
    this.span("openclaw.session.end", {
      traceId: hex(16),
      attrs: { ...this.common(ev, ctx), "openclaw.session.reason": ev.reason, "openclaw.session.messages": ev.messageCount,
               "openclaw.session.next": ev.nextSessionId },
    });
  }

  /**
   * OpenClaw compacted a session: a summary the model wrote from the older messages replaced
   * them. Later turns still depend on what was summarised (a page's instruction lives on in
   * the summary), and the hook says neither what the summary holds nor (inside a run) what
   * was kept, so the context stays whole: the importer, which reads the summary from disk,
   * links the turns to it and it to what it replaced. A compaction that rotated the session
   * to a new id carries the context over from `previousSessionId`.
   */
  after_compaction(ev, ctx) {
    const sid = this.sessionOf(ev, ctx);
    const prev = typeof ev.previousSessionId === "string" ? ev.previousSessionId : undefined;
    if (!sid || !prev || prev === sid || this.contexts.has(sid)) return;
    const c = this.contexts.get(prev);
    if (!c) return;
    this.contexts.set(sid, c);
    this.contexts.delete(prev);
  }
}

export const HOOKS = [
  "message_received", "llm_input", "model_call_started", "model_call_ended", "before_tool_call", "after_tool_call",
  "tool_result_persist", "llm_output", "agent_end", "session_start", "session_end", "after_compaction",
];

/** Register every hook on `api`; returns {collector, exporter}. Exported for tests. */
export function register(api, settings) {
  const log = (msg) => {
    try { (api?.logger?.warn ?? api?.logger?.info ?? console.error).call(api?.logger, msg); } catch { /* never */ }
  };
  const s = settings || loadSettings(api?.pluginConfig);
  const exporter = new Exporter(s, log);
  const collector = new Collector((sp) => exporter.add(sp), s);
  const gate = makeGate(s, log);
  for (const hook of HOOKS) {
    try {
      api.on(hook, (event, ctx) => {
        if (hook === "before_tool_call" && gate) return gated(gate, collector, exporter, event || {}, ctx || {}, log);
        try {
          collector[hook](event || {}, ctx || {});
          if (hook === "agent_end" || hook === "session_end") exporter.flush();
        } catch (e) {
          log(`clawtrace: ${hook} hook failed: ${e?.stack || e}`);
        }
        return undefined; // observe only: never block, rewrite or delay the agent
      }, { priority: -100 });
    } catch (e) {
      log(`clawtrace: cannot register ${hook}: ${e}`);
    }
  }
  if (!register.exitHooked) {
    register.exitHooked = true;
    process.on("exit", () => { for (const x of register.exporters) { try { x.exitFlush(); } catch { /* never */ } } });
  }
  register.exporters.push(exporter);
  return { collector, exporter, gate };
}

/** The policy gate for settings `s`, or null when it is off (the default). */
export function makeGate(s, log) {
  let policy = null;
  try {
    policy = normalizePolicy(s.policy);
    if (policy && !policy.statePath) policy.statePath = path.join(path.dirname(s.spoolPath), "policy-taint.jsonl");
  } catch (e) {
    log(`clawtrace: bad policy settings ${JSON.stringify(s.policy)}: ${e}`);
    policy = { allow: [], bad: [], strict: true, statePath: "" }; // a broken gate config fails closed
  }
  if (!policy) return null;
  log(`clawtrace: policy gate on (${policy.strict ? "strict, " : ""}allow: ${policy.allow.map((a) => a.text).join(", ") || "nothing"})`);
  return new Gate(policy, { log });
}

/**
 * before_tool_call with the gate on: decide, record the decision and the call, and return
 * OpenClaw's block result when blocked. Recording never changes the verdict; a gate failure
 * is handled inside Gate.decide (strict fails closed, allowlist-only fails open).
 */
function gated(gate, collector, exporter, event, ctx, log) {
  let decision = null;
  let ref = null;
  try { ctx = collector.withWorkspace(event, ctx); } catch { /* relative paths stay relative */ }
  try { ref = collector.reserveCall(event, ctx); } catch { /* only the link is lost */ }
  try {
    decision = gate.decide(event, ctx, ref); // catches its own failures; this is a last resort
  } catch (e) {
    log(`clawtrace: policy gate failed: ${e?.stack || e}`);
    if (gate.p.strict && !gate.p.monitor) {
      return { block: true, blockReason: "Blocked by the clawtrace policy gate: the gate failed and strict mode fails closed." };
    }
  }
  try {
    collector.before_tool_call(event, ctx, decision);
    if (decision?.verdict === "block") exporter.flush();
  } catch (e) {
    log(`clawtrace: before_tool_call hook failed: ${e?.stack || e}`);
  }
  if (decision?.verdict === "block") return { block: true, blockReason: decision.reason };
  return undefined;
}
register.exporters = [];
register.exitHooked = false;

export default {
  id: PLUGIN_ID,
  name: "clawtrace",
  description: "Provenance capture: tool, model and message hooks as OTLP/HTTP JSON spans to clawtrace serve.",
  register(api) {
    register(api);
  },
};
