/**
 * @module gate/fairQueue
 * The gate's waiting line: one FIFO per user, served round-robin across users, so one user's
 * many waiting requests cannot crowd out the others. Given each user's recent service
 * (`serviceLedger`), the user who has had the least goes first, and round-robin order breaks
 * ties. Pure data structure (no clock, no I/O); the Durable Object decides when to take from it.
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
   * Takes the next waiter that `canTake` accepts (only the head of each user's line is
   * considered: a user's own requests stay in order). Among those users, the one with the lowest
   * `served` score goes first; equal scores go in round-robin order. The user served moves to the
   * end of the rotation.
   * @param served a user's recent service (lower goes first); without it, plain round-robin
   */
  take(canTake: (item: T) => boolean = () => true, served: (user: string) => number = () => 0): T | undefined {
    let chosen: string | undefined;
    let lowest = Infinity;
    for (const [user, line] of this.lines) {
      if (!canTake(line[0])) continue;
      const score = served(user);
      if (score < lowest) [chosen, lowest] = [user, score];
    }
    if (chosen === undefined) return undefined;
    const line = this.lines.get(chosen) as T[];
    const item = line.shift() as T;
    this.lines.delete(chosen);
    if (line.length > 0) this.lines.set(chosen, line);
    this.count--;
    return item;
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
