/**
 * @module limiter/admit
 * What one user's Durable Object decides for a request, pure so it is tested apart from storage:
 * whether the key is still valid (revocation, key generation), the limit in force (an admin tier
 * wins over the limit the Worker proposes), the token budget, then the per-minute count.
 */
import { takeToken, windowStartOf, WINDOW_MS, type RateDecision, type WindowState } from "./window";

/** The per-user settings the admin API writes into the user's object. */
export interface UserSettings {
  /** Admin tier, or null: the Worker's proposed limit applies. */
  tier: number | null;
  /** Current key generation (0: the original key, HMAC of the user id). */
  generation: number;
  revoked: boolean;
}

export const DEFAULT_SETTINGS: UserSettings = { tier: null, generation: 0, revoked: false };

/** A token budget as one request sees it. */
export interface BudgetCheck {
  tokens: number;
  /** Which budget window the request falls in (a new budget or a new hour is a new window). */
  window: string;
  /** Seconds until the window ends (the `Retry-After` of a 429 `token_budget`). */
  retryAfterS: number;
}

export interface AdmitRequest {
  /** The limit without an admin tier: KV `tier:{user}`, else the global control, else the default. */
  limit: number;
  /** The key generation the Worker verified the presented key against; null when keys are off. */
  keyGeneration: number | null;
  budget: BudgetCheck | null;
}

export type Admit =
  | { kind: "refused"; reason: "revoked" | "stale_key" }
  | { kind: "budget"; used: number; tokens: number; retryAfterS: number }
  /** Counted (or not, when over the limit; `limit` 0 is a block). `seeded`: false when the budget
   * window has not yet been given the tokens the access log holds from before the budget. */
  | { kind: "rate"; decision: RateDecision; seeded: boolean };

/**
 * @param settings the user's stored settings
 * @param window the stored per-minute count, or null
 * @param spent the tokens spent in the request's budget window and whether it was seeded
 * @returns the decision and the per-minute state to store (null: unchanged)
 */
export function admit(
  settings: UserSettings,
  window: WindowState | null,
  spent: { used: number; seeded: boolean },
  request: AdmitRequest,
  nowMs: number,
): { admit: Admit; window: WindowState | null } {
  if (settings.revoked) return { admit: { kind: "refused", reason: "revoked" }, window: null };
  if (request.keyGeneration !== null && request.keyGeneration !== settings.generation) {
    return { admit: { kind: "refused", reason: "stale_key" }, window: null };
  }
  const limit = settings.tier ?? request.limit;
  if (limit === 0) {
    const resetAt = windowStartOf(nowMs) + WINDOW_MS;
    return { admit: { kind: "rate", decision: { allowed: false, limit: 0, remaining: 0, resetAt }, seeded: true }, window: null };
  }
  if (request.budget && spent.used >= request.budget.tokens) {
    const { tokens, retryAfterS } = request.budget;
    return { admit: { kind: "budget", used: spent.used, tokens, retryAfterS }, window: null };
  }
  const { state, decision } = takeToken(window, limit, nowMs);
  return { admit: { kind: "rate", decision, seeded: spent.seeded }, window: state };
}
