/**
 * @module middleware/originCredential
 * Chooses the credential the origin receives (this is not client authentication: that is
 * `identifyUser`). `openai` (BYOK): the client's `Authorization` passes through untouched.
 * `codex`: the user's OAuth token from KV `oauth:{user}` goes as `X-Codex-Token` and the client's
 * `Authorization` is never forwarded.
 */
import { createMiddleware } from "hono/factory";
import { GatewayError } from "../errors";
import { readKv } from "../lib/kv";
import type { StageEnv } from "../types";
import type { IdentityVariables } from "./identifyUser";
import type { ConfigVariables } from "./loadConfig";

/** A header the gateway adds for the origin in place of the client's own credential. */
export interface OriginCredential {
  name: string;
  value: string;
}

/** Set by {@link originCredential}; null in `openai` mode (the client's own header goes). */
export type OriginCredentialVariables = {
  originCredential: OriginCredential | null;
};

export function originCredential() {
  return createMiddleware<StageEnv<ConfigVariables & IdentityVariables & OriginCredentialVariables>>(
    async function originCredential(c, next) {
      if (c.var.config.authMode === "openai") {
        c.set("originCredential", null);
        return next();
      }
      const { userId } = c.var.user;
      const token = (await readKv(c.env.GATEWAY_KV, `oauth:${userId}`))?.trim();
      if (!token) {
        throw new GatewayError(401, `No OAuth token is on file for user ${userId}; ask the facilitator.`, "no_oauth_token");
      }
      c.set("originCredential", { name: "X-Codex-Token", value: token });
      return next();
    },
  );
}
