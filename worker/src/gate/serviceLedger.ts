/**
 * @module gate/serviceLedger
 * How much each user has been served lately, so the fair queue can serve first the waiting user
 * who has had the least. Plain round-robin gives every waiting user one turn per round, but it
 * forgets the past: a user whose script started first is served alone while the others have not
 * asked yet, and keeps that head start for the whole event. Ranking waiters by recent service
 * pays it back: the others go first until they have caught up, then the turns even out again.
 *
 * "Recent" is an exponentially decaying count (half-life {@link SERVICE_HALF_LIFE_MS}): O(1)
 * memory per user, no window bookkeeping, and a user served long ago ranks like a new one.
 * Pure, with the clock passed in.
 */

/** After this long, one grant counts half as much (the per-user limit counts per minute too). */
export const SERVICE_HALF_LIFE_MS = 60_000;
/** A score below this is forgotten (a user served once, about 5 half-lives ago). */
const FORGOTTEN = 0.05;
/** Forget in bulk once this many users are remembered. */
const PRUNE_AT = 1_000;

interface Entry {
  score: number;
  at: number;
}

export class ServiceLedger {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly halfLifeMs = SERVICE_HALF_LIFE_MS) {}

  /** The user's recent service at `nowMs`: each grant counts 1, halved every half-life since. */
  score(user: string, nowMs: number): number {
    const entry = this.entries.get(user);
    if (!entry) return 0;
    return entry.score * 0.5 ** (Math.max(0, nowMs - entry.at) / this.halfLifeMs);
  }

  /** Records one grant to `user`. */
  add(user: string, nowMs: number): void {
    this.entries.set(user, { score: this.score(user, nowMs) + 1, at: nowMs });
    if (this.entries.size >= PRUNE_AT) this.prune(nowMs);
  }

  /** Users remembered (for tests: the ledger stays small). */
  get size(): number {
    return this.entries.size;
  }

  /** Forgets users whose score has decayed to almost nothing. */
  prune(nowMs: number): void {
    for (const user of [...this.entries.keys()]) {
      if (this.score(user, nowMs) < FORGOTTEN) this.entries.delete(user);
    }
  }
}
