/**
 * @module admin/controls
 * `GET /admin/controls` and `PATCH /admin/controls` (README: "Event controls and the admin API"): the event's controls, and a
 * change to any subset of them. A PATCH is validated whole before anything changes (400 naming
 * the field), applied in the controls object, put in this isolate's cache at once (the others
 * see it within a second), and written to `control_events`, one row per key that changed.
 */
import type { Context } from "hono";
import { controlsStub, primeControls } from "../controls/cache";
import { parseControlsPatch, type Controls } from "../controls/shape";
import type { AppEnv } from "../types";
import { recordControlEvents } from "./audit";
import { adminJson } from "./jsonBody";

/** The controls as the admin API shows them, read from the object itself (not the cache). */
export async function readControlsNow(env: Env): Promise<Controls> {
  const snapshot = await controlsStub(env.EVENT_CONTROLS).snapshot();
  primeControls(snapshot);
  return snapshot.controls;
}

export async function getControls(c: Context<AppEnv>): Promise<Response> {
  c.header("Cache-Control", "no-store");
  return c.json(await readControlsNow(c.env));
}

export async function patchControls(c: Context<AppEnv>): Promise<Response> {
  const changes = parseControlsPatch(await adminJson(c));
  const { snapshot, changed } = await controlsStub(c.env.EVENT_CONTROLS).change(changes);
  primeControls(snapshot);
  await recordControlEvents(
    c,
    changed.map((key) => ({ action: key, target: null, detail: snapshot.controls[key] })),
  );
  c.header("Cache-Control", "no-store");
  return c.json(snapshot.controls);
}


