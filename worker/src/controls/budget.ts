/**
 * @module controls/budget
 * The per-user token budget: which window a request falls in, when that window ends, and the
 * tokens the access log already holds for it from before the budget was set. Tokens spent after
 * the budget was set are added up in the user's own Durable Object (`RateLimiter.spend`), so the
 * check costs no D1 read per request: the access log is read once per user and window, to seed it.
 */
import type { BudgetCheck } from "../limiter/admit";
import type { ControlsSnapshot } from "./shape";

const HOUR_MS = 3_600_000;
/** `Retry-After` of an event budget: it does not end by itself, only when the facilitator changes it. */
export const EVENT_BUDGET_RETRY_S = 3_600;

export interface BudgetWindow extends BudgetCheck {
  /** Where the access log's share of this window begins (epoch ms; null: the whole log). */
  logFrom: number | null;
  /** When the budget was set: the access log is read up to here, the object counts from here. */
  since: number;
}

/** The budget window of a request at `nowMs`, or null without a budget. */
export function budgetWindow(snapshot: ControlsSnapshot, nowMs: number): BudgetWindow | null {
  const budget = snapshot.controls.budget;
  if (!budget) return null;
  const since = snapshot.budgetSince ?? nowMs;
  if (budget.per === "event") {
    return { tokens: budget.tokens, window: `${since}:event`, retryAfterS: EVENT_BUDGET_RETRY_S, logFrom: null, since };
  }
  const hourStart = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
  return {
    tokens: budget.tokens,
    window: `${since}:hour:${hourStart}`,
    retryAfterS: Math.max(1, Math.ceil((hourStart + HOUR_MS - nowMs) / 1000)),
    logFrom: hourStart,
    since,
  };
}

/** True when part of the window lies before the budget was set, so the access log must seed it. */
export function needsSeed(window: BudgetWindow): boolean {
  return window.logFrom === null || window.logFrom < window.since;
}

/** The tokens the access log holds for `user` in the window, before the budget was set. */
export async function tokensLogged(db: D1Database, user: string, window: BudgetWindow): Promise<number> {
  // julianday() compares the ISO text of older rows and the 'YYYY-MM-DD HH:MM:SS.sss' of newer ones alike.
  const row = await db
    .prepare(
      `SELECT COALESCE(SUM(tokens_est), 0) AS tokens FROM requests
       WHERE user_id = ?1 AND julianday(created_at) >= julianday(?2) AND julianday(created_at) < julianday(?3)`,
    )
    .bind(user, new Date(window.logFrom ?? 0).toISOString(), new Date(window.since).toISOString())
    .first<{ tokens: number }>();
  return row?.tokens ?? 0;
}
