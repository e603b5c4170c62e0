/**
 * @module middleware/rateLimit
 * Admits at most the user's limit per UTC minute, counted exactly in that user's Durable Object,
 * and puts `X-RateLimit-*` headers on every response after it. Runs after `identifyUser`: only a
 * caller whose key was checked is counted. Sets no context variables. The limit is
 * `RATE_LIMIT_PER_MINUTE`, or the user's `tier:{user}` value in KV (`0` blocks the user).
 */
import { createMiddleware } from "hono/factory";
import { GatewayError } from "../errors";
import { readKv } from "../lib/kv";
import type { RateDecision } from "../limiter/window";
import { windowStartOf, WINDOW_MS } from "../limiter/window";
import type { StageEnv } from "../types";
import type { IdentityVariables } from "./identifyUser";
import type { ConfigVariables } from "./loadConfig";

/**
 * The limit in force for a user: a valid `tier:{user}` overrides the default. A malformed tier
 * is ignored (with a warning), so a typo cannot block or unblock anyone by accident.
 * @throws GatewayError 503 `kv_unavailable` when KV cannot be read
 */
export async function limitFor(kv: KVNamespace, userId: string, fallback: number): Promise<number> {
  const raw = await readKv(kv, `tier:${userId}`);
  if (raw === null) return fallback;
  const value = Number(raw.trim());
  if (raw.trim() !== "" && Number.isSafeInteger(value) && value >= 0) return value;
  console.warn(`ignoring malformed tier for ${userId}: ${JSON.stringify(raw.slice(0, 32))}`);
  return fallback;
}

/** The `X-RateLimit-*` headers for a decision (Reset in epoch seconds). */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  return {
    "X-RateLimit-Limit": String(decision.limit),
    "X-RateLimit-Remaining": String(decision.remaining),
    "X-RateLimit-Reset": String(Math.ceil(decision.resetAt / 1000)),
  };
}

export function rateLimit() {
  return createMiddleware<StageEnv<ConfigVariables & IdentityVariables>>(async function rateLimit(c, next) {
    const { limiterKey, userId } = c.var.user;
    const limit = await limitFor(c.env.GATEWAY_KV, userId, c.var.config.limitPerMinute);
    let decision: RateDecision;
    if (limit === 0) {
      decision = { allowed: false, limit: 0, remaining: 0, resetAt: windowStartOf(Date.now()) + WINDOW_MS };
      throw new GatewayError(403, "This user is blocked by the facilitator (limit 0).", "blocked", rateLimitHeaders(decision));
    }
    try {
      const stub = c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(limiterKey));
      decision = await stub.hit(limit);
    } catch (error) {
      console.error("rate limiter failed", String(error));
      throw new GatewayError(502, "The rate limiter is unavailable; try again shortly.", "limiter_unavailable");
    }
    const headers = rateLimitHeaders(decision);
    if (!decision.allowed) {
      const retryAfter = Math.max(1, Math.ceil((decision.resetAt - Date.now()) / 1000));
      throw new GatewayError(429, `Rate limit exceeded. ${limit} requests/minute.`, "rate_limited", {
        ...headers,
        "Retry-After": String(retryAfter),
      });
    }
    await next();
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  });
}
