/**
 * @module middleware/eventControls
 * Second stage of `/v1/*`: reads the event's controls (per-isolate cache of the controls object,
 * see `controls/cache.ts`) for the stages after it, and answers 503 `maintenance` with the
 * facilitator's message while maintenance is on, before anything else about the request is
 * looked at.
 */
import { createMiddleware } from "hono/factory";
import { currentControls } from "../controls/cache";
import { DEFAULT_MAINTENANCE_MESSAGE, type ControlsSnapshot } from "../controls/shape";
import { GatewayError } from "../errors";
import type { StageEnv } from "../types";

/** Set by {@link eventControls}. */
export type ControlsVariables = {
  controls: ControlsSnapshot;
};

/** Seconds a client is asked to wait during maintenance. */
export const MAINTENANCE_RETRY_AFTER_S = 60;

/** The 503 of a request that arrives during maintenance. */
export function maintenanceError(message: string | null): GatewayError {
  return new GatewayError(503, message ?? DEFAULT_MAINTENANCE_MESSAGE, "maintenance", {
    "Retry-After": String(MAINTENANCE_RETRY_AFTER_S),
  });
}

/**
 * @throws GatewayError 502 `controls_unavailable` when the controls cannot be read
 */
export async function readControls(env: Env): Promise<ControlsSnapshot> {
  try {
    return await currentControls(env);
  } catch (error) {
    console.error("event controls unavailable", String(error));
    throw new GatewayError(502, "The gateway's event controls are unavailable; try again shortly.", "controls_unavailable");
  }
}

export function eventControls() {
  return createMiddleware<StageEnv<ControlsVariables>>(async function eventControls(c, next) {
    const snapshot = await readControls(c.env);
    const { maintenance } = snapshot.controls;
    if (maintenance.on) throw maintenanceError(maintenance.message);
    c.set("controls", snapshot);
    await next();
  });
}
