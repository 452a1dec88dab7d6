// Re-send the plugin's spool once, then exit: run by the plugin at process exit (bounded by the
// caller's timeout) and usable by hand: node drain.js  (settings as for the plugin).
import { drainSpool, loadSettings } from "./index.js";

const s = loadSettings(null);
const r = await drainSpool({ ...s, retries: 0, timeoutMs: 2000 });
if (process.argv.includes("--verbose")) console.error(`clawtrace drain: sent ${r.sent}, left ${r.left} in ${s.spoolPath}`);
