/**
 * @module middleware/identifyUser
 * Who is calling: the `X-User-ID` (or, with `ALLOW_ANONYMOUS`, an anonymous caller counted per
 * client IP) and, when `USER_KEY_SECRET` is set, the `X-User-Key` issued for it. Runs before the
 * limiter, so a request with a forged key is refused without spending another attendee's quota.
 */
import { createMiddleware } from "hono/factory";
import { GatewayError } from "../errors";
import { verifyUserKey } from "../lib/crypto";
import { checkUserId, claimedUserId } from "../lib/userId";
import type { StageEnv } from "../types";
import type { ConfigVariables } from "./loadConfig";

/** A caller the gateway accepts: its key (when keys are required) has been checked. */
export interface Identity {
  /** The user id that is logged and shown to the origin. */
  userId: string;
  /** The Durable Object name this request is counted under. */
  limiterKey: string;
}

/** Set by {@link identifyUser}. */
export type IdentityVariables = {
  user: Identity;
};

export function identifyUser() {
  return createMiddleware<StageEnv<ConfigVariables & IdentityVariables>>(async function identifyUser(c, next) {
    const config = c.var.config;
    const check = checkUserId(c.req.header("X-User-ID") ?? null);
    if (check.kind === "missing" && !config.allowAnonymous) {
      throw new GatewayError(400, "Missing X-User-ID header: send the user id you were given.", "missing_user");
    }
    if (check.kind === "invalid") {
      throw new GatewayError(400, "Invalid X-User-ID: use 1 to 64 characters from A-Z a-z 0-9 . _ @ -.", "invalid_user");
    }
    if (config.userKeySecret) {
      if (check.kind !== "valid") throw new GatewayError(401, "X-User-ID and X-User-Key are required.", "bad_user_key");
      const presented = c.req.header("X-User-Key") ?? "";
      if (!presented || !(await verifyUserKey(config.userKeySecret, check.userId, presented))) {
        throw new GatewayError(401, "Missing or wrong X-User-Key for this X-User-ID.", "bad_user_key");
      }
    }
    const userId = claimedUserId(check, config.allowAnonymous);
    // Anonymous callers are counted per client IP, not in one shared bucket.
    const limiterKey =
      check.kind === "valid" ? userId : `~anonymous:${c.req.header("CF-Connecting-IP") ?? "unknown"}`;
    c.set("user", { userId, limiterKey });
    await next();
  });
}
