/**
 * @module admin/status
 * `GET /admin/status`: the origin pool as the gate sees it, per origin: requests in flight,
 * waiting, health and served in the last minute. With the gate on, this is the deployment's gate
 * object; with it off there is no shared state, so the numbers are this isolate's own (`scope`).
 * It also carries the event's controls, as `GET /admin/controls` shows them.
 *
 * @example
 * {"generated_at": "2026-11-30T09:00:00.000Z",
 *  "gate": {"enabled": true, "scope": "deployment", "waiting": 3, "queue_capacity": 160, "queue_timeout_ms": 10000},
 *  "origins": [{"origin": "0", "host": "mac-mini:18789", "max_concurrency": 4, "in_flight": 4,
 *               "waiting": 3, "healthy": true, "state": "up", "served_last_minute": 480}]}
 */
import type { Context } from "hono";
import { readConfig } from "../config";
import { readControlsNow } from "./controls";
import { localSnapshot } from "../gate/localPicker";
import { gateName } from "../gate/OriginGate";
import type { AppEnv } from "../types";

export async function statusHandler(c: Context<AppEnv>): Promise<Response> {
  const config = readConfig(c.env);
  const limits = config.originMaxConcurrency;
  const now = Date.now();
  const queue_timeout_ms = config.originQueueTimeoutMs;
  let gate: Record<string, unknown>;
  let origins: ReturnType<typeof localSnapshot>;
  if (limits) {
    const stub = c.env.ORIGIN_GATE.get(c.env.ORIGIN_GATE.idFromName(gateName(config.origins)));
    const status = await stub.status(limits);
    gate = { enabled: true, scope: "deployment", waiting: status.waiting, queue_capacity: status.queue_capacity, queue_timeout_ms };
    origins = status.origins;
  } else {
    gate = { enabled: false, scope: "isolate", waiting: 0, queue_capacity: 0, queue_timeout_ms };
    origins = localSnapshot(config.origins, now);
  }
  const controls = await readControlsNow(c.env);
  c.header("Cache-Control", "no-store");
  return c.json({
    generated_at: new Date(now).toISOString(),
    gate,
    controls,
    origins: origins.map((o, index) => ({
      origin: String(index),
      // The host only: a URL's user info, path or query may carry credentials.
      host: new URL(config.origins[index]).host,
      max_concurrency: limits?.[index] ?? null,
      ...o,
    })),
  });
}
