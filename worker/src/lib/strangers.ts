/**
 * @module strangers
 * Accounting for strangers' traffic without a D1 row each. A stranger is a request whose identity
 * was never verified: no or an invalid `X-User-ID`, a missing or wrong `X-User-Key`, an unknown
 * path. One row each would let a scanner spend the Free plan's daily D1 writes (and log activity
 * under any attendee's id); instead each isolate counts them per (UTC minute, error class,
 * status) in memory and writes the counts as one upsert per key, at most once per flush interval.
 *
 * Bound: per isolate, at most one flush per `STRANGER_FLUSH_MS` (default 20 s), each writing one
 * row per (minute, class, status) seen since the last flush — a handful, whatever the traffic.
 * The flush runs in the `waitUntil` of the request that opened the interval (≤ 25 s, inside the
 * 30 s Cloudflare allows after a response). A failed flush puts its counts back for the next one.
 */
import { sqliteTime } from "./accessLog";

/** Default and ceiling of the flush interval (ms): under the 30 s a `waitUntil` may run on. */
export const DEFAULT_FLUSH_MS = 20_000;
export const MAX_FLUSH_MS = 25_000;

/** Start of the UTC minute of `epochMs`, in `created_at`'s format (`2026-11-28 09:10:00.000`). */
export function minuteOf(epochMs: number): string {
  return sqliteTime(Math.floor(epochMs / 60_000) * 60_000);
}

/** The flush interval from `STRANGER_FLUSH_MS` (malformed or absent: the default; capped). */
export function flushDelayOf(raw: string | undefined): number {
  const value = Number(raw);
  if (raw === undefined || raw.trim() === "" || !Number.isFinite(value) || value < 0) return DEFAULT_FLUSH_MS;
  return Math.min(value, MAX_FLUSH_MS);
}

const UPSERT = `INSERT INTO stranger_counts (minute, error_class, status, requests) VALUES (?1, ?2, ?3, ?4)
  ON CONFLICT (minute, error_class, status) DO UPDATE SET requests = requests + excluded.requests`;

/** The counts of one isolate, and whether a flush is already on its way. */
export class StrangerTally {
  private counts = new Map<string, number>();
  private flushScheduled = false;

  /**
   * Counts one stranger's request.
   * @returns a flush to pass to `waitUntil` when this request opened a new interval, else null
   */
  count(db: D1Database, at: number, errorClass: string, status: number, delayMs: number): Promise<void> | null {
    const key = JSON.stringify([minuteOf(at), errorClass, status]);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (this.flushScheduled) return null;
    this.flushScheduled = true;
    return new Promise<void>((resolve) => setTimeout(resolve, delayMs)).then(() => this.flush(db));
  }

  /** Writes every pending count, one upsert per key, in one batch. */
  async flush(db: D1Database): Promise<void> {
    const pending = this.counts;
    this.counts = new Map();
    this.flushScheduled = false;
    if (pending.size === 0) return;
    try {
      await db.batch(
        [...pending].map(([key, n]) => {
          const [minute, errorClass, status] = JSON.parse(key) as [string, string, number];
          return db.prepare(UPSERT).bind(minute, errorClass, status, n);
        }),
      );
    } catch (error) {
      for (const [key, n] of pending) this.counts.set(key, (this.counts.get(key) ?? 0) + n);
      throw error;
    }
  }
}

/** This isolate's tally (module state lives as long as the isolate). */
export const strangers = new StrangerTally();
