/**
 * @module RateLimiter
 * One Durable Object per user (`idFromName(user)`) holds that user's count for the current UTC
 * minute, and the per-user state the admin API sets: tier, key generation, revocation, and the
 * tokens spent in the current budget window. A Durable Object runs one call at a time and the
 * SQLite storage API is synchronous, so the read-decide-write in {@link RateLimiter.admit} cannot
 * interleave: 200 simultaneous requests admit exactly `limit`. A KV counter cannot promise that
 * (eventually consistent, one write per key per second). Keeping the per-user controls here
 * costs no extra Durable Object request: the object is called once per request anyway, and a
 * change (reissue, revoke, tier) holds for the very next request.
 */
import { DurableObject } from "cloudflare:workers";
import { admit, DEFAULT_SETTINGS, type Admit, type AdmitRequest, type UserSettings } from "./admit";
import type { WindowState } from "./window";

export class RateLimiter extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS rate_window (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         window_start INTEGER NOT NULL,
         count INTEGER NOT NULL
       );
       CREATE TABLE IF NOT EXISTS user_settings (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         tier INTEGER,
         generation INTEGER NOT NULL DEFAULT 0,
         revoked INTEGER NOT NULL DEFAULT 0
       );
       CREATE TABLE IF NOT EXISTS budget (
         window TEXT PRIMARY KEY,
         used INTEGER NOT NULL,
         seeded INTEGER NOT NULL DEFAULT 0
       );`,
    );
  }

  /** Decides one request: key still valid, limit (tier wins), token budget, per-minute count. */
  admit(request: AdmitRequest): Admit {
    const sql = this.ctx.storage.sql;
    const row = sql.exec<{ window_start: number; count: number }>("SELECT window_start, count FROM rate_window").toArray()[0];
    const stored: WindowState | null = row ? { windowStart: row.window_start, count: row.count } : null;
    const spentRow = request.budget
      ? sql.exec<{ used: number; seeded: number }>("SELECT used, seeded FROM budget WHERE window = ?", request.budget.window).toArray()[0]
      : undefined;
    const spent = { used: spentRow?.used ?? 0, seeded: spentRow ? spentRow.seeded === 1 : false };
    const result = admit(this.settings(), stored, spent, request, Date.now());
    const state = result.window;
    if (state && (!stored || stored.windowStart !== state.windowStart || stored.count !== state.count)) {
      sql.exec(
        "INSERT INTO rate_window (id, window_start, count) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET window_start = excluded.window_start, count = excluded.count",
        state.windowStart,
        state.count,
      );
    }
    return result.admit;
  }

  /** Adds the tokens of an answered request to its budget window (older windows are dropped). */
  spend(window: string, tokens: number): void {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM budget WHERE window != ?", window);
    sql.exec("INSERT INTO budget (window, used) VALUES (?, ?) ON CONFLICT(window) DO UPDATE SET used = used + excluded.used", window, tokens);
  }

  /** Adds, once per window, the tokens the access log holds from before the budget was set. */
  seed(window: string, tokens: number): void {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM budget WHERE window != ?", window);
    sql.exec(
      "INSERT INTO budget (window, used, seeded) VALUES (?, ?, 1) ON CONFLICT(window) DO UPDATE SET used = used + excluded.used, seeded = 1 WHERE seeded = 0",
      window,
      tokens,
    );
  }

  /** Admin tier: a limit for this user (0 blocks), or null to fall back to KV and the global limit. */
  setTier(limit: number | null): void {
    this.saveSettings({ ...this.settings(), tier: limit });
  }

  /** A new key generation: only its key is accepted from now on, and a revocation ends. */
  reissue(): number {
    const generation = this.settings().generation + 1;
    this.saveSettings({ ...this.settings(), generation, revoked: false });
    return generation;
  }

  /** Every key of this user fails from now on, until a reissue. */
  revoke(): void {
    this.saveSettings({ ...this.settings(), revoked: true });
  }

  settings(): UserSettings {
    const row = this.ctx.storage.sql
      .exec<{ tier: number | null; generation: number; revoked: number }>("SELECT tier, generation, revoked FROM user_settings")
      .toArray()[0];
    return row ? { tier: row.tier, generation: row.generation, revoked: row.revoked === 1 } : DEFAULT_SETTINGS;
  }

  private saveSettings(s: UserSettings): void {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO user_settings (id, tier, generation, revoked) VALUES (1, ?, ?, ?)",
      s.tier,
      s.generation,
      s.revoked ? 1 : 0,
    );
  }
}
