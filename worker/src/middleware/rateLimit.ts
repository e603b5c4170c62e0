/**
 * @module middleware/rateLimit
 * Admits at most the user's limit per UTC minute, counted exactly in that user's Durable Object,
 * and puts `X-RateLimit-*` headers on every response after it. Runs after `identifyUser`: only a
 * caller whose key was checked is counted. Sets no context variables.
 *
 * The same one call to the user's object also applies the per-user controls (README: "Event controls and the admin API"): an
 * admin tier (it wins), a revoked or reissued key (401 at once), and the token budget (429
 * `token_budget`); the tokens of each answered request are added to the budget afterwards, only
 * while a budget is set. The limit proposed to the object is the user's `tier:{user}` value in KV,
 * else the `limit_per_minute` control, else `RATE_LIMIT_PER_MINUTE` (`0` blocks the user).
 */
import { createMiddleware } from "hono/factory";
import { budgetWindow, needsSeed, tokensLogged, type BudgetWindow } from "../controls/budget";
import { GatewayError } from "../errors";
import type { OriginVariables } from "../handlers/proxyHandler";
import { readKv } from "../lib/kv";
import type { Admit } from "../limiter/admit";
import type { RateDecision } from "../limiter/window";
import { windowStartOf, WINDOW_MS } from "../limiter/window";
import type { StageEnv } from "../types";
import type { ControlsVariables } from "./eventControls";
import { badKey, withdrawIdentity, type IdentityVariables } from "./identifyUser";
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

function blocked(decision: RateDecision): GatewayError {
  return new GatewayError(403, "This user is blocked by the facilitator (limit 0).", "blocked", rateLimitHeaders(decision));
}

function budgetSpent(budget: BudgetWindow, per: "hour" | "event"): GatewayError {
  const until = per === "hour" ? "until the next hour" : "for the rest of the event";
  return new GatewayError(429, `Token budget spent: ${budget.tokens} tokens per user per ${per}; wait ${until} or ask the facilitator.`, "token_budget", {
    "Retry-After": String(budget.retryAfterS),
  });
}

type RateLimitEnv = StageEnv<ConfigVariables & ControlsVariables & IdentityVariables & Partial<OriginVariables>>;

export function rateLimit() {
  return createMiddleware<RateLimitEnv>(async function rateLimit(c, next) {
    const { limiterKey, userId, keyGeneration } = c.var.user;
    const snapshot = c.var.controls;
    const entry = limiterKey === userId ? snapshot.users[userId] : undefined;
    const globalLimit = snapshot.controls.limit_per_minute ?? c.var.config.limitPerMinute;
    // With an admin tier the user's object applies it and KV need not be read.
    const limit = entry?.limit !== undefined ? globalLimit : await limitFor(c.env.GATEWAY_KV, userId, globalLimit);
    if (limit === 0 && entry === undefined) {
      throw blocked({ allowed: false, limit: 0, remaining: 0, resetAt: windowStartOf(Date.now()) + WINDOW_MS });
    }
    const budget = budgetWindow(snapshot, Date.now());
    const stub = c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(limiterKey));
    let result: Admit;
    try {
      result = await stub.admit({ limit, keyGeneration, budget: budget && { tokens: budget.tokens, window: budget.window, retryAfterS: budget.retryAfterS } });
    } catch (error) {
      console.error("rate limiter failed", String(error));
      throw new GatewayError(502, "The rate limiter is unavailable; try again shortly.", "limiter_unavailable");
    }
    if (result.kind === "refused") {
      withdrawIdentity(c);
      throw badKey();
    }
    if (result.kind === "budget") throw budgetSpent(budget!, snapshot.controls.budget!.per);
    const { decision } = result;
    if (decision.limit === 0) throw blocked(decision);
    const headers = rateLimitHeaders(decision);
    if (!decision.allowed) {
      const retryAfter = Math.max(1, Math.ceil((decision.resetAt - Date.now()) / 1000));
      throw new GatewayError(429, `Rate limit exceeded. ${decision.limit} requests/minute.`, "rate_limited", {
        ...headers,
        "Retry-After": String(retryAfter),
      });
    }
    if (budget && !result.seeded && needsSeed(budget)) {
      c.executionCtx.waitUntil(
        tokensLogged(c.env.DB, userId, budget)
          .then((tokens) => stub.seed(budget.window, tokens))
          .catch((error) => console.error("token budget seed failed", String(error))),
      );
    }
    await next();
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
    const relayed = c.var.origin?.relayed;
    if (budget && relayed) {
      c.executionCtx.waitUntil(
        relayed
          .then(({ tokens }) => (tokens ? stub.spend(budget.window, tokens) : undefined))
          .catch((error) => console.error("token budget spend failed", String(error))),
      );
    }
  });
}
