/**
 * @module handlers/healthHandler
 * `GET /health`: 200 while the Worker runs. During maintenance it also says so, with the
 * facilitator's message (the gateway itself is healthy; `/v1/*` answers 503 `maintenance`).
 * It reads the controls through the same per-isolate cache as `/v1/*`, so probes add no
 * Durable Object requests beyond one per isolate per second.
 */
import type { Context } from "hono";
import { currentControls } from "../controls/cache";
import { DEFAULT_MAINTENANCE_MESSAGE } from "../controls/shape";
import type { AppEnv } from "../types";

export async function healthHandler(c: Context<AppEnv>): Promise<Response> {
  const body: Record<string, unknown> = { status: "ok", gateway: "organized-gateway" };
  try {
    const { maintenance } = (await currentControls(c.env)).controls;
    if (maintenance.on) Object.assign(body, { maintenance: true, message: maintenance.message ?? DEFAULT_MAINTENANCE_MESSAGE });
  } catch (error) {
    // The Worker is up even when the controls cannot be read; /v1/* answers 502 then.
    console.error("health: event controls unavailable", String(error));
  }
  return c.json(body);
}
