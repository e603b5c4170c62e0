/**
 * @module middleware/eventControls
 * Second stage of `/v1/*`: reads the event's controls (per-isolate cache of the controls object,
 * see `controls/cache.ts`) for the stages after it. {@link maintenanceGate}, right after
 * `identifyUser`, answers 503 `maintenance` with the facilitator's message while maintenance is
 * on: after identification, so each attendee's refused requests are logged under their own id.
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
    c.set("controls", await readControls(c.env));
    await next();
  });
}

/** While maintenance is on, every request ends here. */
export function maintenanceGate() {
  return createMiddleware<StageEnv<ControlsVariables>>(async function maintenanceGate(c, next) {
    const { maintenance } = c.var.controls.controls;
    if (maintenance.on) throw maintenanceError(maintenance.message);
    await next();
  });
}
