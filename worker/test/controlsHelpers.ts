/**
 * Test helpers for the event controls: admin calls with the test token, a reset of every control
 * (the controls object is shared by the tests of a file), and the audit rows.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { controlsStub, forgetControls } from "../src/controls/cache";
import { ADMIN } from "./gateHelpers";
import { call, chatBody, userHeaders, type Vars } from "./helpers";

export { ADMIN };
export const VARS: Vars = { ADMIN_TOKEN: ADMIN };

/** One admin call; `body` is sent as JSON (a string is sent as it is). */
export async function admin(method: string, path: string, body?: unknown, vars: Vars = VARS) {
  const init: RequestInit = { method, headers: { Authorization: `Bearer ${ADMIN}`, "Content-Type": "application/json" } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  return call(path, init, vars);
}

/**
 * Empties the controls object (every control off, never changed: version 0, no user entries),
 * its published copy in D1 and the audit table.
 */
export async function resetControls(): Promise<void> {
  await runInDurableObject(controlsStub(env.EVENT_CONTROLS), (_instance, state) => {
    state.storage.sql.exec("DELETE FROM state; DELETE FROM users;");
  });
  forgetControls();
  await env.DB.batch([env.DB.prepare("DELETE FROM control_events"), env.DB.prepare("DELETE FROM control_state")]);
}

export interface ControlEventRow {
  id: number;
  created_at: string;
  action: string;
  target: string | null;
  detail: string | null;
  source: string | null;
}

export async function auditRows(): Promise<ControlEventRow[]> {
  return (await env.DB.prepare("SELECT * FROM control_events ORDER BY id").all<ControlEventRow>()).results;
}

/** One chat request from `user` through the gateway. */
export function chat(user: string, extra: Record<string, unknown> = {}, vars: Vars = VARS, headers: Record<string, string> = {}) {
  return call("/v1/chat/completions", { method: "POST", headers: userHeaders(user, headers), body: chatBody(extra) }, vars);
}
