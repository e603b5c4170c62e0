#!/usr/bin/env node
/**
 * CPU per request of the gateway Worker in workerd, for small and 4 MiB (MAX_BODY_BYTES) bodies,
 * against the Free plan's 10 ms. Reports figures; asserts nothing.
 *
 *   cd worker && node scripts/cpu-bench.mjs [--requests 200] [--big-requests 40] [--worker-dir DIR]
 *
 * How: the Worker runs in workerd through wrangler's `unstable_startWorker` (as `gateway-ops up`
 * runs it, inspector off) against an origin in this process on 127.0.0.1 that answers at once.
 * Inside workerd the clock stands still while code runs (a Spectre mitigation), so the Worker
 * cannot time itself: this script reads the CPU time (user + system, from /proc/<pid>/stat) of the
 * workerd process that runs the Worker before and after N sequential requests of each kind. That
 * counts everything that process does for a request — receiving and sending the 4 MiB over
 * loopback, miniflare's entry worker, the limiter's Durable Object, the D1 log write (wrangler's
 * own proxy in front runs in another process and is not counted) — so it is an upper bound on the
 * isolate's own CPU time, which is what Cloudflare bills. Two floors: `GET /health` (a route, no
 * Worker work), and the same 4 MiB sent as `application/octet-stream`, which the Worker reads and
 * forwards without inspecting: a JSON body's cost over it is the inspection's.
 *
 * Then the two ways of inspecting a 4 MiB body are compared directly in V8 (this Node), where the
 * clock does run: the byte walk and insertion (`src/lib/body.ts`) against the previous
 * `JSON.parse` + `JSON.stringify` (from git history, commit d550982).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { unstable_startWorker } from "wrangler";

const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "200" },
    "big-requests": { type: "string", default: "40" },
    // Another checkout's worker/ folder (e.g. an older commit via `git archive`) to measure instead.
    "worker-dir": { type: "string" },
  },
});
const N_SMALL = Number(args.requests);
const N_BIG = Number(args["big-requests"]);
const workerDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const TICK_MS = 1000 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim() || 100);
const MiB = 1024 * 1024;
const targetDir = path.resolve(args["worker-dir"] ?? workerDir);

// ---- bodies -------------------------------------------------------------------------------
const small = (stream) => JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 1, stream });
/** A body of exactly `size` bytes: one long user message (the common shape of a big request). */
function oneMessage(size, stream) {
  const shell = JSON.stringify({ model: "gpt-4o-mini", stream, messages: [{ role: "user", content: "" }] });
  return shell.replace('"content":""', `"content":"${"lorem ipsum ".repeat(Math.ceil(size / 12)).slice(0, size - shell.length)}"`);
}
/** A body of about `size` bytes made of many short messages (more structure to walk). */
function manyMessages(size, stream) {
  const message = { role: "user", content: "word ".repeat(30) };
  const count = Math.floor((size - 100) / (JSON.stringify(message).length + 1));
  return JSON.stringify({ model: "gpt-4o-mini", stream, messages: Array.from({ length: count }, () => message) });
}

// ---- the origin ---------------------------------------------------------------------------
const completion = JSON.stringify({ id: "c", choices: [{ message: { role: "assistant", content: "ok" } }], usage: { total_tokens: 3 } });
const events =
  ["He", "llo"].map((t) => `data: ${JSON.stringify({ choices: [{ delta: { content: t } }] })}\n\n`).join("") +
  `data: ${JSON.stringify({ choices: [], usage: { total_tokens: 3 } })}\n\ndata: [DONE]\n\n`;
const origin = http.createServer((req, res) => {
  let size = 0;
  let streamed = false;
  req.on("data", (chunk) => {
    if (size === 0) streamed = chunk.includes('"stream":true');
    size += chunk.length;
  });
  req.on("end", () => {
    if (streamed) {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.end(events);
    } else {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(completion);
    }
  });
});
await new Promise((resolve) => origin.listen(0, "127.0.0.1", resolve));
const originUrl = `http://127.0.0.1:${origin.address().port}`;

// ---- the Worker in workerd ----------------------------------------------------------------
const state = mkdtempSync(path.join(os.tmpdir(), "cpu-bench-"));
const wrangler = path.join(workerDir, "node_modules", ".bin", "wrangler");
const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "error" };
spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], { cwd: targetDir, env, stdio: "ignore" });
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";
const worker = await unstable_startWorker({
  config: path.join(targetDir, "wrangler.toml"),
  envFiles: [],
  bindings: {
    OPENCLAW_URL: { type: "secret_text", value: originUrl },
    RATE_LIMIT_PER_MINUTE: { type: "plain_text", value: "1000000" },
  },
  dev: { inspector: false, server: { hostname: "127.0.0.1", port: 0 }, persist: state, watch: false, liveReload: false, logLevel: "error" },
});
await worker.ready;
const gateway = (await worker.url).toString().replace(/\/$/, "");

/**
 * The workerd process that runs the Worker. `unstable_startWorker` starts two: first wrangler's
 * proxy (which only relays to the current version), then, on first use, the runtime with the
 * Worker, its KV, D1 and Durable Objects; the latter is the one started last.
 */
function workerRuntimePid() {
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      const name = stat.slice(stat.indexOf("(") + 1, close);
      if (name.startsWith("workerd") && Number(fields[1]) === process.pid) found.push({ pid: Number(entry), start: Number(fields[19]) });
    } catch {
      // the process ended while listed
    }
  }
  if (found.length < 2) throw new Error(`expected wrangler's proxy and the Worker's runtime, found ${found.length} workerd processes`);
  return found.sort((x, y) => x.start - y.start).at(-1).pid;
}
/** CPU time (ms, user + system, every thread) of a process so far. */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime
}

let user = 0;
async function send(method, pathname, body, contentType = "application/json") {
  const response = await fetch(gateway + pathname, {
    method,
    headers: body ? { "X-User-ID": `bench-${user++ % 50}`, "Content-Type": contentType } : {},
    body,
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${method} ${pathname}: ${response.status}`);
}

const scenarios = [
  ["GET /health (floor: routing, no Worker work)", "GET", "/health", null, N_SMALL],
  [`POST small (${small(false).length} B)`, "POST", "/v1/chat/completions", small(false), N_SMALL],
  [`POST small, stream (${small(true).length} B)`, "POST", "/v1/chat/completions", small(true), N_SMALL],
  ["POST 4 MiB as octet-stream (not inspected)", "POST", "/v1/chat/completions", oneMessage(4 * MiB, false), N_BIG, "application/octet-stream"],
  ["POST 4 MiB, one message", "POST", "/v1/chat/completions", oneMessage(4 * MiB, false), N_BIG],
  ["POST 4 MiB, one message, stream", "POST", "/v1/chat/completions", oneMessage(4 * MiB, true), N_BIG],
  ["POST 4 MiB, 22k messages, stream", "POST", "/v1/chat/completions", manyMessages(4 * MiB, true), N_BIG],
];

const rows = [];
let runtime = null;
try {
  for (const [name, method, pathname, body, n, contentType] of scenarios) {
    if (body && body.length > 4 * MiB) throw new Error(`${name}: ${body.length} bytes is over MAX_BODY_BYTES`);
    for (let i = 0; i < 5; i++) await send(method, pathname, body, contentType); // warm-up
    runtime ??= workerRuntimePid();
    const cpuBefore = cpuMs(runtime);
    const wallBefore = performance.now();
    for (let i = 0; i < n; i++) await send(method, pathname, body, contentType);
    rows.push({ name, bytes: body?.length ?? 0, n, cpu: (cpuMs(runtime) - cpuBefore) / n, wall: (performance.now() - wallBefore) / n });
  }
} finally {
  await worker.dispose().catch(() => {});
  origin.close();
  rmSync(state, { recursive: true, force: true });
}

// ---- the two inspections, directly in V8 --------------------------------------------------
async function bundle(source, dir) {
  const entry = path.join(dir, "body.ts");
  writeFileSync(entry, source);
  return load(entry);
}
/** Bundles a TypeScript module (and what it imports) for this Node, and imports it. */
async function load(entry) {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "node",
    write: false,
    logLevel: "error",
    nodePaths: [path.join(workerDir, "node_modules")],
  });
  return import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString("base64")}`);
}
const current = await load(path.join(workerDir, "src/lib/body.ts"));
let previous = null;
const scratch = mkdtempSync(path.join(os.tmpdir(), "cpu-bench-src-"));
try {
  const old = execFileSync("git", ["show", "d550982:worker/src/lib/body.ts"], { cwd: workerDir }).toString();
  const oldErrors = execFileSync("git", ["show", "d550982:worker/src/errors.ts"], { cwd: workerDir }).toString();
  writeFileSync(path.join(scratch, "errors.ts"), oldErrors);
  previous = await bundle(old.replace('from "../errors"', 'from "./errors"'), scratch);
} catch (error) {
  console.error(`(previous body.ts not available from git: ${error.message.split("\n")[0]})`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
function cpuPerCall(fn, input, n = 20) {
  for (let i = 0; i < 3; i++) fn(input);
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) fn(input);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / n;
}
const encoder = new TextEncoder();
const v8Rows = [
  ["4 MiB, one message, stream", encoder.encode(oneMessage(4 * MiB, true))],
  ["4 MiB, 22k messages, stream", encoder.encode(manyMessages(4 * MiB, true))],
  [`small, stream (${small(true).length} B)`, encoder.encode(small(true))],
].map(([name, bytes]) => ({
  name,
  now: cpuPerCall(current.inspectJsonBody, bytes),
  before: previous ? cpuPerCall(previous.inspectJsonBody, bytes) : NaN,
}));

// ---- report -------------------------------------------------------------------------------
const fmt = (x, w = 8, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "—").padStart(w);
const floor = rows[0].cpu;
console.log(`cpu-bench — Worker in ${path.relative(process.cwd(), targetDir) || "."} — ${new Date().toISOString().slice(0, 16)} UTC, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}, Node ${process.version}, workerd via wrangler unstable_startWorker`);
console.log(`CPU per request of the workerd process running the Worker (pid ${runtime}; user+system, sequential requests; an upper bound on the isolate's CPU):`);
console.log(`${"request".padEnd(40)} ${"bytes".padStart(9)} ${"n".padStart(5)} ${"CPU ms".padStart(8)} ${"over /health".padStart(13)} ${"wall ms".padStart(8)}`);
for (const r of rows) {
  console.log(`${r.name.padEnd(40)} ${String(r.bytes).padStart(9)} ${String(r.n).padStart(5)} ${fmt(r.cpu)} ${fmt(r.cpu - floor, 13)} ${fmt(r.wall)}`);
}
console.log(`(CPU is read in ${TICK_MS} ms ticks; Free plan limit: 10 ms CPU per request)`);
console.log("\nbody inspection alone, CPU ms per call in V8 (this Node): byte walk + insertion now, JSON.parse + JSON.stringify before (d550982):");
console.log(`${"body".padEnd(40)} ${"now".padStart(8)} ${"before".padStart(8)} ${"before/now".padStart(11)}`);
for (const r of v8Rows) console.log(`${r.name.padEnd(40)} ${fmt(r.now)} ${fmt(r.before)} ${fmt(r.before / r.now, 10, 1)}×`);
process.exit(0);
