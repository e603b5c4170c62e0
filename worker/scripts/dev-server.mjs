#!/usr/bin/env node
/**
 * Runs the gateway Worker locally for the local stack (`gateway-ops up`), through wrangler's
 * programmatic API with the devtools inspector off: measured on 2 cores it serves about twice
 * the requests/s of `wrangler dev`, whose inspector relays every KV/D1 call to node (see
 * bench/worker_bench.py). KV, D1 and Durable Objects persist under --persist exactly as
 * `wrangler dev --persist-to` would keep them.
 *
 *   node scripts/dev-server.mjs --port 8787 --persist ../.gateway
 *
 * Worker settings (OPENCLAW_URL, AUTH_MODE, …) are read from this process's environment.
 * Prints `ready <url>` once serving; SIGINT/SIGTERM dispose the runtime and exit.
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { unstable_startWorker } from "wrangler";

const SETTINGS = {
  OPENCLAW_URL: "secret_text",
  AUTH_MODE: "secret_text",
  USER_KEY_SECRET: "secret_text",
  IP_HASH_SALT: "secret_text",
  RATE_LIMIT_PER_MINUTE: "plain_text",
  ALLOW_ANONYMOUS: "plain_text",
  UPSTREAM_TIMEOUT_MS: "plain_text",
  UPSTREAM_IDLE_TIMEOUT_MS: "plain_text",
  STRANGER_FLUSH_MS: "plain_text",
  MAX_BODY_BYTES: "plain_text",
  ORIGIN_MAX_CONCURRENCY: "plain_text",
  ORIGIN_QUEUE_TIMEOUT_MS: "plain_text",
  ADMIN_TOKEN: "secret_text",
};

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    host: { type: "string", default: "127.0.0.1" },
    persist: { type: "string" },
  },
});
if (!values.persist) {
  console.error("dev-server: --persist DIR is required");
  process.exit(2);
}

const bindings = {};
for (const [name, type] of Object.entries(SETTINGS)) {
  if (process.env[name] !== undefined) bindings[name] = { type, value: process.env[name] };
}

const workerDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
let worker;
try {
  worker = await unstable_startWorker({
    config: path.join(workerDir, "wrangler.toml"),
    envFiles: [],
    bindings,
    dev: {
      inspector: false,
      server: { hostname: values.host, port: Number(values.port) },
      persist: path.resolve(values.persist),
      watch: false,
      liveReload: false,
      logLevel: "warn",
    },
  });
  await worker.ready;
} catch (error) {
  console.error(`dev-server: could not start the Worker: ${error?.message ?? error}`);
  process.exit(1);
}

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await worker.dispose().catch(() => {});
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

console.log(`ready http://${values.host}:${values.port}`);
