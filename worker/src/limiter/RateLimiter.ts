/**
 * @module RateLimiter
 * One Durable Object per user (`idFromName(user)`) holds that user's count for the current UTC
 * minute. A Durable Object runs one call at a time and the SQLite storage API is synchronous, so
 * the read-decide-write in {@link RateLimiter.hit} cannot interleave: 200 simultaneous requests
 * admit exactly `limit`. A KV counter cannot promise that (eventually consistent, one write per
 * key per second).
 */
import { DurableObject } from "cloudflare:workers";
import { takeToken, type RateDecision, type WindowState } from "./window";

export class RateLimiter extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS rate_window (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         window_start INTEGER NOT NULL,
         count INTEGER NOT NULL
       )`,
    );
  }

  /**
   * Counts one request for this user.
   * @param limit requests per minute in force for this user
   */
  hit(limit: number): RateDecision {
    const sql = this.ctx.storage.sql;
    const row = sql.exec<{ window_start: number; count: number }>("SELECT window_start, count FROM rate_window").toArray()[0];
    const stored: WindowState | null = row ? { windowStart: row.window_start, count: row.count } : null;
    const { state, decision } = takeToken(stored, limit, Date.now());
    if (!stored || stored.windowStart !== state.windowStart || stored.count !== state.count) {
      sql.exec(
        "INSERT INTO rate_window (id, window_start, count) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET window_start = excluded.window_start, count = excluded.count",
        state.windowStart,
        state.count,
      );
    }
    return decision;
  }
}
