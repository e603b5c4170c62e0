/**
 * @module middleware/identifyUser
 * Who is calling: the `X-User-ID` (or, with `ALLOW_ANONYMOUS`, an anonymous caller counted per
 * client IP) and, when `USER_KEY_SECRET` is set, the `X-User-Key` issued for it. Runs before the
 * limiter, so a request with a forged key is refused without spending another attendee's quota.
 * A key is checked against the user's current generation (a reissued key, README: "Event controls and the admin API") as the
 * controls' user directory gives it, and a revoked user is refused; the user's own Durable Object
 * confirms both in `rateLimit`, so an old key fails at once even where the directory is a second old.
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { GatewayError } from "../errors";
import { verifyUserKey } from "../lib/crypto";
import { checkUserId, claimedUserId } from "../lib/userId";
import type { StageEnv } from "../types";
import type { ControlsVariables } from "./eventControls";
import type { ConfigVariables } from "./loadConfig";

/** A caller the gateway accepts: its key (when keys are required) has been checked. */
export interface Identity {
  /** The user id that is logged and shown to the origin. */
  userId: string;
  /** The Durable Object name this request is counted under. */
  limiterKey: string;
  /** The key generation the presented key was verified against; null when keys are not required. */
  keyGeneration: number | null;
}

/** Set by {@link identifyUser}. */
export type IdentityVariables = {
  user: Identity;
};

/**
 * Withdraws an identity found not to be verified after all: the user's own Durable Object says
 * the key is of an older generation or the user is revoked (this isolate's directory was a second
 * old). The request is then a stranger's, never logged under the id it claimed.
 */
export function withdrawIdentity<V extends IdentityVariables>(c: Context<StageEnv<V>>): void {
  (c as unknown as Context<StageEnv<IdentityVariables>>).set("user", undefined as unknown as Identity);
}

/** The 401 of a missing, wrong, outdated (reissued) or revoked key. */
export function badKey(): GatewayError {
  return new GatewayError(401, "Missing or wrong X-User-Key for this X-User-ID.", "bad_user_key");
}

export function identifyUser() {
  return createMiddleware<StageEnv<ConfigVariables & ControlsVariables & IdentityVariables>>(async function identifyUser(c, next) {
    const config = c.var.config;
    const check = checkUserId(c.req.header("X-User-ID") ?? null);
    if (check.kind === "missing" && !config.allowAnonymous) {
      throw new GatewayError(400, "Missing X-User-ID header: send the user id you were given.", "missing_user");
    }
    if (check.kind === "invalid") {
      throw new GatewayError(400, "Invalid X-User-ID: use 1 to 64 characters from A-Z a-z 0-9 . _ @ -.", "invalid_user");
    }
    const entry = check.kind === "valid" ? c.var.controls.users[check.userId] : undefined;
    if (entry?.revoked) throw badKey();
    let keyGeneration: number | null = null;
    if (config.userKeySecret) {
      if (check.kind !== "valid") throw new GatewayError(401, "X-User-ID and X-User-Key are required.", "bad_user_key");
      const presented = c.req.header("X-User-Key") ?? "";
      keyGeneration = entry?.generation ?? 0;
      if (!presented || !(await verifyUserKey(config.userKeySecret, check.userId, presented, keyGeneration))) throw badKey();
    }
    const userId = claimedUserId(check, config.allowAnonymous);
    // Anonymous callers are counted per client IP, not in one shared bucket.
    const limiterKey =
      check.kind === "valid" ? userId : `~anonymous:${c.req.header("CF-Connecting-IP") ?? "unknown"}`;
    c.set("user", { userId, limiterKey, keyGeneration });
    await next();
  });
}
