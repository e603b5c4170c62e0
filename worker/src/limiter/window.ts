/**
 * @module window
 * Fixed-window arithmetic for "N requests per user per UTC minute", pure so it is tested apart
 * from the Durable Object that stores the state.
 */
export const WINDOW_MS = 60_000;

export interface WindowState {
  /** Start of the UTC minute this count belongs to, in epoch ms. */
  windowStart: number;
  /** Requests admitted in that minute. */
  count: number;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  /** Requests still admitted in this window after this one. */
  remaining: number;
  /** When the window resets, in epoch ms. */
  resetAt: number;
}

/** Start of the UTC minute containing `nowMs`. */
export function windowStartOf(nowMs: number): number {
  return Math.floor(nowMs / WINDOW_MS) * WINDOW_MS;
}

/**
 * Counts one request against `limit`. Rejected requests do not consume the window, so the count
 * never exceeds the limit and `remaining` never goes negative.
 * @param state the stored state, or null for a user never seen
 * @returns the new state to store and the decision
 */
export function takeToken(
  state: WindowState | null,
  limit: number,
  nowMs: number,
): { state: WindowState; decision: RateDecision } {
  const windowStart = windowStartOf(nowMs);
  const current = state && state.windowStart === windowStart ? state.count : 0;
  const allowed = current < limit;
  const count = allowed ? current + 1 : current;
  return {
    state: { windowStart, count },
    decision: { allowed, limit, remaining: Math.max(0, limit - count), resetAt: windowStart + WINDOW_MS },
  };
}
