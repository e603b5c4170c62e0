/**
 * @module gate/fairQueue
 * The gate's waiting line: one FIFO per user, served round-robin across users, so one user's
 * many waiting requests cannot crowd out the others. Pure data structure (no clock, no I/O);
 * the Durable Object decides when to take from it.
 */
export class FairQueue<T> {
  /** Users in service order (a Map iterates in insertion order), each with their own FIFO. */
  private readonly lines = new Map<string, T[]>();
  private count = 0;

  /** Waiters in the queue, all users together. */
  get size(): number {
    return this.count;
  }

  /** Waiters per user, for status and for the fair-eviction rule. */
  waitingOf(user: string): number {
    return this.lines.get(user)?.length ?? 0;
  }

  /** Adds a waiter at the end of its user's line (a new user joins the end of the rotation). */
  push(user: string, item: T): void {
    const line = this.lines.get(user);
    if (line) line.push(item);
    else this.lines.set(user, [item]);
    this.count++;
  }

  /**
   * Takes the first waiter, in round-robin order of users, that `canTake` accepts (only the head of
   * each user's line is considered: a user's own requests stay in order). The user served moves
   * to the end of the rotation.
   */
  take(canTake: (item: T) => boolean = () => true): T | undefined {
    for (const [user, line] of this.lines) {
      if (!canTake(line[0])) continue;
      const item = line.shift() as T;
      this.lines.delete(user);
      if (line.length > 0) this.lines.set(user, line);
      this.count--;
      return item;
    }
    return undefined;
  }

  /** Removes one waiter (timed out, client gone); false when it was not waiting. */
  remove(user: string, item: T): boolean {
    const line = this.lines.get(user);
    const index = line ? line.indexOf(item) : -1;
    if (!line || index < 0) return false;
    line.splice(index, 1);
    if (line.length === 0) this.lines.delete(user);
    this.count--;
    return true;
  }

  /**
   * Fair eviction for a full queue: when another user holds more waiters than `user` would after
   * joining, that user's newest waiter gives up its place (so a full queue still ends up shared
   * evenly). Returns that waiter (already removed), or undefined when the newcomer should be
   * refused instead.
   */
  evictForNewcomer(user: string): T | undefined {
    const mine = this.waitingOf(user) + 1;
    let heaviest: string | undefined;
    let most = 0;
    for (const [other, line] of this.lines) {
      if (line.length > most) [heaviest, most] = [other, line.length];
    }
    if (heaviest === undefined || heaviest === user || most <= mine) return undefined;
    const line = this.lines.get(heaviest) as T[];
    const evicted = line.pop() as T;
    if (line.length === 0) this.lines.delete(heaviest);
    this.count--;
    return evicted;
  }

  /** Every waiter, in no particular order (for status and for resolving waiters on shutdown). */
  *items(): IterableIterator<T> {
    for (const line of this.lines.values()) yield* line;
  }
}
