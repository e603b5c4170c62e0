/**
 * @module admin/users
 * Per-user controls (README: "Event controls and the admin API"): `GET /admin/users` (the
 * directory), `PUT`/`DELETE /admin/users/{user}/tier`, `POST …/reissue` and `POST …/revoke`.
 * Each change goes first to the user's own Durable Object, which every request of that user
 * passes, so it holds from the next request on (an old key fails at once);
 * then to the controls object's user directory (published to D1 like the controls), from which
 * every isolate learns, within a second, which key generation to verify and that KV need not be
 * read. When that publish fails the call answers 502 (`admin/controls.ts`): the user's object
 * already holds the change, the directory catches up on a retry or a `GET /admin/controls`.
 * USER_KEY_SECRET is never used here: gateway_ops computes the new key from the generation this
 * answers.
 */
import type { Context } from "hono";
import { controlsStub } from "../controls/cache";
import { parseTier } from "../controls/shape";
import { GatewayError } from "../errors";
import { checkUserId } from "../lib/userId";
import type { AppEnv } from "../types";
import type { ControlEvent } from "./audit";
import { auditAndCheck, readSnapshotNow } from "./controls";
import { adminJson } from "./jsonBody";

/** The `{user}` path segment, checked like an `X-User-ID`. */
function userParam(c: Context<AppEnv>): string {
  const check = checkUserId(c.req.param("user") ?? null);
  if (check.kind !== "valid") throw new GatewayError(400, "user must be 1 to 64 characters from A-Z a-z 0-9 . _ @ -.", "invalid_user");
  return check.userId;
}

function userObject(env: Env, user: string) {
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(user));
}

/** Updates the controls object's directory, audits, and answers 502 when the directory is not published. */
async function directory(c: Context<AppEnv>, user: string, patch: Parameters<ReturnType<typeof controlsStub>["setUser"]>[1], event: ControlEvent) {
  await auditAndCheck(c, await controlsStub(c.env.EVENT_CONTROLS).setUser(user, patch), [event]);
}

/**
 * `GET /admin/users`: the controls object's user directory, `{"users": {"alice": {"limit": 0}, …}}`
 * (only users with an admin tier, a reissued key or a revocation), read as `GET /admin/controls`
 * reads the controls, so gateway_ops can list admin tiers beside KV's.
 */
export async function listUsers(c: Context<AppEnv>): Promise<Response> {
  const { users } = await readSnapshotNow(c.env);
  c.header("Cache-Control", "no-store");
  return c.json({ users });
}

export async function putTier(c: Context<AppEnv>): Promise<Response> {
  const user = userParam(c);
  const limit = parseTier(await adminJson(c));
  await userObject(c.env, user).setTier(limit);
  await directory(c, user, { limit }, { action: "tier", target: user, detail: { limit } });
  return c.json({ user, limit });
}

export async function deleteTier(c: Context<AppEnv>): Promise<Response> {
  const user = userParam(c);
  await userObject(c.env, user).setTier(null);
  await directory(c, user, { limit: null }, { action: "tier", target: user, detail: { limit: null } });
  return c.json({ user, limit: null });
}

export async function reissueKey(c: Context<AppEnv>): Promise<Response> {
  const user = userParam(c);
  const generation = await userObject(c.env, user).reissue();
  await directory(c, user, { generation, revoked: false }, { action: "reissue", target: user, detail: { generation } });
  return c.json({ user, generation });
}

export async function revokeKey(c: Context<AppEnv>): Promise<Response> {
  const user = userParam(c);
  await userObject(c.env, user).revoke();
  await directory(c, user, { revoked: true }, { action: "revoke", target: user, detail: { revoked: true } });
  return c.json({ user, revoked: true });
}
