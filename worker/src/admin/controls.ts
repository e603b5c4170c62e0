/**
 * @module admin/controls
 * `GET /admin/controls` and `PATCH /admin/controls` (README: "Event controls and the admin API"): the event's controls, and a
 * change to any subset of them. A PATCH is validated whole before anything changes (400 naming
 * the field), applied in the controls object, which publishes it to D1 for every isolate (they
 * see it within a second), put in this isolate's cache at once, and written to `control_events`,
 * one row per key that changed. When the publish fails the change is saved but not in force:
 * the call answers 502 saying so, and a retry or any `GET` here publishes it.
 */
import type { Context } from "hono";
import { controlsStub, primeControls } from "../controls/cache";
import type { PublishResult } from "../controls/EventControls";
import { parseControlsPatch, type Controls, type ControlsSnapshot } from "../controls/shape";
import { GatewayError } from "../errors";
import type { AppEnv } from "../types";
import { recordControlEvents, type ControlEvent } from "./audit";
import { adminJson } from "./jsonBody";

/** The 502 of an admin call whose state the controls object could not publish. */
export const UNPUBLISHED_MESSAGE =
  "The change is saved but not yet in force: the gateway could not publish its controls to D1. " +
  "Retry the same call (or GET /admin/controls) in a few seconds to put it in force.";

/**
 * The published state, primed in this isolate's cache.
 * @throws GatewayError 502 when the controls object could not publish it
 */
export function inForce(result: PublishResult): ControlsSnapshot {
  if (result.publish === "failed") throw new GatewayError(502, UNPUBLISHED_MESSAGE, "controls_unpublished");
  primeControls(result);
  return result.snapshot;
}

/**
 * Audits a change, then answers 502 when it is not in force. The audit comes first: the change is
 * saved either way, and a retry finds nothing left to change (so would write no row).
 */
export async function auditAndCheck(c: Context<AppEnv>, result: PublishResult, events: ControlEvent[]): Promise<ControlsSnapshot> {
  if (result.publish === "failed") {
    await recordControlEvents(c, events).catch((error) => console.error("admin: audit row not written", String(error)));
  } else {
    await recordControlEvents(c, events);
  }
  return inForce(result);
}

/**
 * The controls and the user directory, from the object itself (published first when D1's copy is
 * behind), so an admin read never shows a state that is not in force.
 * @throws GatewayError 502 when the controls object could not publish it
 */
export async function readSnapshotNow(env: Env): Promise<ControlsSnapshot> {
  return inForce(await controlsStub(env.EVENT_CONTROLS).ensurePublished());
}

/** The controls as the admin API shows them (see {@link readSnapshotNow}). */
export async function readControlsNow(env: Env): Promise<Controls> {
  return (await readSnapshotNow(env)).controls;
}

export async function getControls(c: Context<AppEnv>): Promise<Response> {
  c.header("Cache-Control", "no-store");
  return c.json(await readControlsNow(c.env));
}

export async function patchControls(c: Context<AppEnv>): Promise<Response> {
  const changes = parseControlsPatch(await adminJson(c));
  const result = await controlsStub(c.env.EVENT_CONTROLS).change(changes);
  const events = result.changed.map((key) => ({ action: key, target: null, detail: result.snapshot.controls[key] }));
  const snapshot = await auditAndCheck(c, result, events);
  c.header("Cache-Control", "no-store");
  return c.json(snapshot.controls);
}
