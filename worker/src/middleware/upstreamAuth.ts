/**
 * @module middleware/upstreamAuth
 * Chooses the credential the origin receives. `openai` (BYOK): the client's `Authorization` passes
 * through untouched. `codex`: the user's OAuth token from KV `oauth:{user}` goes as
 * `X-Codex-Token` and the client's `Authorization` is never forwarded.
 */
import { createMiddleware } from "hono/factory";
import { GatewayError } from "../errors";
import type { AppEnv } from "../types";

export function upstreamAuth() {
  return createMiddleware<AppEnv>(async function upstreamAuth(c, next) {
    if (c.var.config.authMode === "openai") {
      c.set("upstreamAuth", null);
      return next();
    }
    const { userId } = c.var.validated;
    const token = (await c.env.GATEWAY_KV.get(`oauth:${userId}`))?.trim();
    if (!token) {
      throw new GatewayError(401, `No OAuth token is on file for user ${userId}; ask the facilitator.`, "no_oauth_token");
    }
    c.set("upstreamAuth", { name: "X-Codex-Token", value: token });
    return next();
  });
}
